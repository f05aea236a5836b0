#include <stdio.h>
#include <string.h>
#include <utf8proc.h>
#include "tokenizer/tokenizer.h"
int main(int argc, char **argv) {
    if (argc > 1) { printf("utf8proc %s unicode %s\n", utf8proc_version(), utf8proc_unicode_version()); return 0; }
    xf_tokenizer t; memset(&t, 0, sizeof t);
    xf_pretok_kind pk = XF_PRETOK_WHITESPACE; t.pretok = &pk; t.n_pretok = 1;
    xf_tok_buf w = {0};
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        char in[8] = "a"; size_t n = 1 + xf_utf8_encode(cp, in + 1); in[n++] = '!';
        xf_tok_pretokenize(&t, in, n, &w);
        printf("%X ", cp);
        size_t k = w.len / (2 * sizeof(size_t));
        for (size_t i = 0; i < k; i++) {
            size_t ab[2]; memcpy(ab, w.data + i * sizeof ab, sizeof ab);
            /* python offsets are in chars */
            size_t ca = xf_utf8_count(in, ab[0]), cb = xf_utf8_count(in, ab[1]);
            printf(i ? "|%zu-%zu" : "%zu-%zu", ca, cb);
        }
        printf("\n");
    }
    return 0;
}
