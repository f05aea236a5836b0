/* fuzz_tokenize.c — libFuzzer harness: tokenizer encode/decode on arbitrary bytes with real
 * tokenizers (loaded once): WordPiece + BertNormalizer (tests/data/tiny/llama), SentencePiece
 * BPE with byte fallback (spm_tokenizer.json, and its Metaspace variant), byte-level BPE
 * (smollm2_tokenizer.json), a GGUF SentencePiece tokenizer (spm_tokenizer.gguf), Unigram with a
 * precompiled charsmap (unigram_small_tokenizer.json) and a GGUF "t5" Unigram vocabulary
 * (unigram_tokenizer.gguf). Byte 0 picks the tokenizer and options; the rest is split at "\n--\n" into text and pair.
 * The same bytes, read as little-endian 32-bit ids (any value), are decoded in one go and
 * through the streaming decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "xfmr.h"

#define N_TOK 7
static xf_tokenizer *g_tok[N_TOK];

static void load_all(void) {
    static const char *const json[] = {"tests/data/tiny/llama/tokenizer.json", "tests/data/spm_tokenizer.json",
                                       "tests/data/spm_meta_tokenizer.json", "tests/data/smollm2_tokenizer.json",
                                       NULL, "tests/data/unigram_small_tokenizer.json"};
    for (int i = 0; i < 6; i++)
        if (json[i] && xf_tokenizer_load(fz_src(json[i]), &g_tok[i]) != XF_OK) abort();
    if (xf_tokenizer_load_gguf(fz_src("tests/data/spm_tokenizer.gguf"), &g_tok[4]) != XF_OK) abort();
    if (xf_tokenizer_load_gguf(fz_src("tests/data/unigram_tokenizer.gguf"), &g_tok[6]) != XF_OK) abort();
}

/* Loading the seven tokenizers takes seconds under ASan on a busy machine: done here, outside
 * libFuzzer's per-input timeout, rather than on the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    load_all();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_tok[0]) load_all();
    if (size < 1) return 0;
    const xf_tokenizer *tok = g_tok[data[0] % N_TOK];
    int skip = (data[0] >> 3) & 1;
    size_t max_len = (data[0] >> 4) & 1 ? (size_t)(data[0] >> 5) : 0;
    data++, size--;
    const uint8_t *a, *b;
    size_t na, nb;
    int parts = fz_split2(data, size, &a, &na, &b, &nb);
    xf_encoding enc;
    if (xf_tokenize(tok, (const char *)a, na, parts == 2 ? (const char *)b : NULL, nb, max_len, &enc) == XF_OK) {
        char *out = NULL;
        if (xf_detokenize(tok, enc.ids, enc.n, skip, &out, NULL) != XF_OK) __builtin_trap();
        free(out);
        xf_encoding_free(&enc);
    }
    /* The raw bytes as ids: out-of-range ids must be refused, never read. */
    size_t n_ids = size / 4;
    int32_t *ids = malloc((n_ids ? n_ids : 1) * sizeof *ids);
    if (!ids) return 0;
    size_t v = xf_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < n_ids; i++) {
        uint32_t u;
        memcpy(&u, data + 4 * i, 4);
        /* Mostly valid ids (so decoding gets exercised), sometimes anything. */
        ids[i] = (u & 0x80000000u) ? (int32_t)u : (int32_t)(u % (v + 2));
    }
    char *out = NULL;
    if (xf_detokenize(tok, ids, n_ids, skip, &out, NULL) == XF_OK) free(out);
    xf_detok_stream *s = NULL;
    if (xf_detok_stream_create(tok, skip, &s) == XF_OK) {
        const char *t;
        for (size_t i = 0; i < n_ids; i++)
            if (xf_detok_stream_push(s, ids[i], &t, NULL) != XF_OK) break;
        (void)xf_detok_stream_flush(s, &t, NULL);
        xf_detok_stream_free(s);
    }
    free(ids);
    return 0;
}
