/* fuzz_tokenizer_json.c — libFuzzer harness: arbitrary bytes as tokenizer.json. Loads it
 * (model WordPiece / BPE, vocab, merges, added tokens, normalizers, pre-tokenizers with their
 * regexes, post-processor, decoders) and, when it loads, encodes a fixed mixed-script text and
 * a pair, decodes the ids and streams them back through the incremental decoder. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "xfmr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write("tokenizer.json", data, size);
    xf_tokenizer *tok = NULL;
    if (xf_tokenizer_load(path, &tok) != XF_OK) return 0;
    static const char text[] = "Hello, World! don't  stop\t123 4567 \xc3\xa9t\xc3\xa9 "
                               "\xe4\xbd\xa0\xe5\xa5\xbd [CLS] <s> \xf0\x9f\x98\x80 \xff";
    xf_encoding enc;
    if (xf_tokenize(tok, text, sizeof text - 1, "a pair", 6, 32, &enc) == XF_OK) {
        char *out = NULL;
        if (xf_detokenize(tok, enc.ids, enc.n, 1, &out, NULL) == XF_OK) free(out);
        xf_detok_stream *s = NULL;
        if (xf_detok_stream_create(tok, 0, &s) == XF_OK) {
            const char *t;
            for (size_t i = 0; i < enc.n; i++)
                if (xf_detok_stream_push(s, enc.ids[i], &t, NULL) != XF_OK) break;
            (void)xf_detok_stream_flush(s, &t, NULL);
            xf_detok_stream_free(s);
        }
        xf_encoding_free(&enc);
    }
    size_t v = xf_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < v && i < 16; i++) {
        const char *t = xf_tokenizer_id_to_token(tok, (int32_t)i);
        if (t) (void)xf_tokenizer_token_to_id(tok, t);
    }
    xf_tokenizer_free(tok);
    return 0;
}
