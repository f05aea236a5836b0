/* tok_export.h — a loaded tokenizer written as GGUF tokenizer.ggml.* metadata (tok_export.c), the
 * way llama.cpp's convert_hf_to_gguf.py writes the same tokenizer, so that llama.cpp and xfmr's
 * GGUF tokenizer (tok_gguf.c) read it back. */
#ifndef XF_TOKENIZER_TOK_EXPORT_H
#define XF_TOKENIZER_TOK_EXPORT_H

#include <stdint.h>

#include "xfmr.h"

struct xf_gguf_writer;

/* What the model knows about its tokenizer beyond tokenizer.json. */
typedef struct xf_tok_export_info {
    int32_t eos_id;            /* the model's end-of-sequence id (xf_model_eos_id), -1: none */
    const char *chat_template; /* tokenizer.chat_template, NULL: none */
} xf_tok_export_info;

/* Set the tokenizer.ggml.* keys (and tokenizer.chat_template) of tok on w:
 *   WordPiece    -> model "bert": llama.cpp's phantom-space spelling ("word" -> "▁word",
 *                   "##piece" -> "piece", control tokens as they are), [CLS]/[SEP]/[PAD]/[MASK]
 *                   ids, add_bos / add_eos for "[CLS] A [SEP]", normalizer.lowercase;
 *   byte-level BPE -> model "gpt2": tokens, merges, the pre-tokenizer's llama.cpp name;
 *   SentencePiece-style BPE (byte fallback, "▁" for spaces) -> model "llama": scores that rank
 *                   each token by the first merge that makes it.
 * Token types: special added tokens CONTROL, other added tokens USER_DEFINED, <0xNN> byte tokens
 * of "llama" BYTE, ids without a token "[PADn]" UNUSED (as llama.cpp's converter does).
 * XF_ERR_UNSUPPORTED, naming what, for a tokenizer GGUF cannot describe (e.g. a normalizer or
 * pre-tokenizer llama.cpp has no name for). */
xf_status xf_tokenizer_export_gguf(const xf_tokenizer *tok, const xf_tok_export_info *info, struct xf_gguf_writer *w);

#endif
