/* chat_template.h — internal side of the chat templates (public API in xfmr.h, "chat templates").
 *
 * A model's own template text is compiled by the Jinja engine (jinja.h) and rendered as
 * transformers' apply_chat_template(tokenize=False) renders it. The built-in named formats
 * (--chat-template NAME) are rendered by hand-written C that reproduces those models' templates. */
#ifndef XF_TOKENIZER_CHAT_TEMPLATE_H
#define XF_TOKENIZER_CHAT_TEMPLATE_H

#include <stddef.h>

#include "xfmr.h"

typedef enum xf_chat_kind {
    XF_CHAT_CHATML = 0, /* <|im_start|>role\n...<|im_end|>\n (SmolLM2, Qwen2, ...) */
    XF_CHAT_LLAMA3,     /* <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    XF_CHAT_LLAMA2,     /* <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s> */
    XF_CHAT_MISTRAL,    /* <s>[INST] ... [/INST]...</s> (Mistral-7B-Instruct v0.1/v0.2) */
    XF_CHAT_ZEPHYR,     /* <|system|>\n...</s>\n<|user|>\n...</s>\n<|assistant|>\n */
    XF_CHAT_JINJA       /* the model's own template, rendered by the Jinja engine */
} xf_chat_kind;

/* Python's str.strip() on UTF-8 bytes (the Jinja `trim` filter and `.strip()`): the span of
 * s[0..len) without leading/trailing code points for which str.isspace() is true. */
void xf_chat_py_strip(const char *s, size_t len, size_t *start, size_t *end);

/* The kind of a template handle. */
xf_chat_kind xf_chat_template_kind(const xf_chat_template *tmpl);

#endif
