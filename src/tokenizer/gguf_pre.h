/* gguf_pre.h — the table of GGUF tokenizer.ggml.pre names (gguf_pre.c). */
#ifndef XF_TOKENIZER_GGUF_PRE_H
#define XF_TOKENIZER_GGUF_PRE_H

#include <stddef.h>

enum {
    XF_PRE_IGNORE_MERGES = 1, /* a word that is a token is that token (Llama 3's ignore_merges) */
    XF_PRE_ADD_BOS = 2,       /* llama.cpp adds BOS unless the file says otherwise */
    XF_PRE_NFC = 4,           /* an NFC normalizer first (Qwen2's tokenizer.json) */
    XF_PRE_RAW = 8,           /* raw UTF-8 vocabulary: no ByteLevel step, <0xNN> byte tokens */
    XF_PRE_ESCAPE_SPACES = 16 /* ' ' -> U+2581 before pre-tokenizing (SentencePiece-style BPE) */
};

typedef struct xf_gguf_pre {
    const char *names;        /* space-separated names */
    const char *const *steps; /* "S<regex>", "D", "d", "P", "B", "W"; NULL-terminated */
    unsigned flags;
} xf_gguf_pre;

/* The entry for a tokenizer.ggml.pre name, or NULL. */
const xf_gguf_pre *xf_gguf_pre_find(const char *name, size_t len);
/* Entry i of the table, NULL past its end. */
const xf_gguf_pre *xf_gguf_pre_at(size_t i);

#endif
