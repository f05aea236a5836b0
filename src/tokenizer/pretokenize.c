/* pretokenize.c — pre-tokenizers (BertPreTokenizer, Whitespace, WhitespaceSplit): split a
 * normalized string into words, as byte ranges. */
#include <string.h>

#include "tokenizer/tokenizer.h"

static xf_status emit(xf_tok_buf *out, size_t a, size_t b) {
    if (a >= b) return XF_OK; /* tokenizers drops empty splits */
    size_t r[2] = {a, b};
    return xf_buf_append(out, r, sizeof r);
}

/* Split s[a, b) with one pre-tokenizer into out. */
static xf_status split(xf_pretok_kind kind, const char *s, size_t a, size_t b, xf_tok_buf *out) {
    xf_status st = XF_OK;
    size_t start = a, i = a;
    int cls_prev = -1; /* Whitespace: 0 word, 1 other */
    while (i < b && !st) {
        size_t at = i;
        uint32_t c = xf_utf8_next(s, b, &i);
        switch (kind) {
        case XF_PRETOK_BERT:
            if (xf_uc_is_whitespace(c)) {
                st = emit(out, start, at);
                start = i;
            } else if (xf_uc_is_bert_punct(c)) {
                if (!(st = emit(out, start, at))) st = emit(out, at, i);
                start = i;
            }
            break;
        case XF_PRETOK_WHITESPACE_SPLIT:
            if (xf_uc_is_whitespace(c)) {
                st = emit(out, start, at);
                start = i;
            }
            break;
        case XF_PRETOK_WHITESPACE: {
            /* \w+|[^\w\s]+ : maximal runs of word chars or of other non-space chars */
            int cls = xf_uc_is_word(c) ? 0 : xf_uc_is_whitespace(c) ? 2 : 1;
            if (cls != cls_prev) {
                if (cls_prev == 0 || cls_prev == 1) st = emit(out, start, at);
                start = at;
            }
            cls_prev = cls;
            break;
        }
        }
    }
    if (st) return st;
    if (kind == XF_PRETOK_WHITESPACE && cls_prev == 2) return XF_OK;
    return emit(out, start, b);
}

xf_status xf_tok_pretokenize(const xf_tokenizer *tok, const char *s, size_t len, xf_tok_buf *out) {
    out->len = 0;
    if (!tok->n_pretok) return emit(out, 0, len);
    xf_status st = split(tok->pretok[0], s, 0, len, out);
    xf_tok_buf tmp = {0};
    for (size_t k = 1; k < tok->n_pretok && !st; k++) {
        tmp.len = 0;
        size_t n = out->len / (2 * sizeof(size_t));
        for (size_t r = 0; r < n && !st; r++) {
            size_t ab[2];
            memcpy(ab, out->data + r * sizeof ab, sizeof ab);
            st = split(tok->pretok[k], s, ab[0], ab[1], &tmp);
        }
        xf_tok_buf t = *out;
        *out = tmp;
        tmp = t;
    }
    xf_buf_free(&tmp);
    return st;
}
