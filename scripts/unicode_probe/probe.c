#include <stdio.h>
#include <string.h>
#include "tokenizer/tokenizer.h"
static void h(const xf_tok_buf *b) {
    if (!b->len) { printf("-"); return; }
    for (size_t i = 0; i < b->len;) { uint32_t c = xf_utf8_next(b->data, b->len, &i); printf(i < b->len ? "%X." : "%X", c); }
}
int main(void) {
    xf_tokenizer t; memset(&t, 0, sizeof t);
    xf_norm_step s[3]; memset(s, 0, sizeof s);
    s[0].kind = s[1].kind = s[2].kind = XF_NORM_BERT;
    s[0].clean_text = 1; s[1].strip_accents = 1; s[2].lowercase = 1;
    xf_pretok_kind pk = XF_PRETOK_BERT; t.pretok = &pk; t.n_pretok = 1; t.n_norm = 1;
    xf_tok_buf o = {0}, w = {0};
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        char in[8]; size_t n = xf_utf8_encode(cp, in);
        printf("%X ", cp);
        for (int k = 0; k < 3; k++) { t.norm = &s[k]; xf_tok_normalize(&t, in, n, &o); h(&o); printf(" "); }
        char in2[8] = "a"; size_t n2 = 1 + xf_utf8_encode(cp, in2 + 1); in2[n2++] = 'a';
        xf_tok_pretokenize(&t, in2, n2, &w);
        printf("%zu\n", w.len / (2 * sizeof(size_t)));
    }
    return 0;
}
