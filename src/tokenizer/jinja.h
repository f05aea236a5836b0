/* jinja.h — a small Jinja engine for chat templates (internal; see docs/CHAT.md).
 *
 * It renders the subset of Jinja2 that Hugging Face chat templates use, the way transformers'
 * apply_chat_template does: an ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks,
 * the loopcontrols extension ({% break %}, {% continue %}), {% generation %} blocks, the globals
 * raise_exception / strftime_now / namespace / dict / range, and tojson as json.dumps(x,
 * ensure_ascii=False). Values follow Python's semantics (str(), repr(), comparisons, slicing by
 * code point). A construct outside the subset is a compile error naming it with its line and
 * column; untrusted templates are bounded in nesting depth, steps, memory and output size.
 *
 * Files: jinja_lex.c (text -> tokens), jinja_parse.c (tokens -> tree), jinja_value.c (values,
 * arena, JSON in and out, str/repr), jinja_eval.c (statements and expressions),
 * jinja_builtins.c (filters, tests, methods, global functions). */
#ifndef XF_TOKENIZER_JINJA_H
#define XF_TOKENIZER_JINJA_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"

typedef struct xf_jinja xf_jinja; /* a compiled template */

/* Bounds on one render (0 = the default in brackets). */
typedef struct xf_jinja_limits {
    size_t max_output; /* bytes of output [16 MiB] */
    size_t max_memory; /* bytes of values made while rendering [256 MiB] */
    uint64_t max_steps; /* expression/statement evaluations [10 million] */
} xf_jinja_limits;

/* Compile a template. XF_ERR_UNSUPPORTED (syntax outside the subset: the message names the
 * construct, "line L, column C") or XF_ERR_INVALID_ARG (malformed Jinja). */
xf_status xf_jinja_compile(const char *text, size_t len, xf_jinja **out);
void xf_jinja_free(xf_jinja *t);

/* What a render sees, as transformers passes it to a chat template. */
typedef struct xf_jinja_input {
    const char *messages_json; /* JSON array of message objects -> `messages`, normalised as
                                  transformers does (keys whose value is null dropped; reasoning
                                  under reasoning_content/thinking/reasoning copied to
                                  "thinking" and "reasoning_content"); NULL: undefined */
    const char *vars_json;     /* JSON object of more variables (tools, documents, enable_thinking,
                                  ...); `tools` and `documents` are none when absent; or NULL */
    const char *const *strvars; /* name/value string pairs (bos_token, ...); a NULL value leaves
                                   the name undefined; vars_json wins on a clash */
    size_t n_strvars;
    int add_generation_prompt; /* 0/1, or -1: not passed */
    int64_t now_utc;           /* >= 0: the instant strftime_now() formats (UTC); < 0: now, local */
} xf_jinja_input;

/* Render. XF_ERR_INVALID_ARG for raise_exception() (message "chat template error: MSG"), for
 * errors of the template at run time (type errors, undefined values used: the message has the
 * position) and for malformed JSON input; XF_ERR_RANGE when a limit is hit; XF_ERR_UNSUPPORTED
 * for a feature outside the subset met at run time; XF_ERR_NOMEM. *out is NUL-terminated, free
 * with free(). */
xf_status xf_jinja_render(const xf_jinja *t, const xf_jinja_input *in, const xf_jinja_limits *lim,
                          char **out, size_t *out_len);

#endif
