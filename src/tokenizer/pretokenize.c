/* pretokenize.c — pre-tokenizers (BertPreTokenizer, Whitespace, WhitespaceSplit; ByteLevel,
 * Split and Digits live in pretok_regex.c): split a normalized string into words, step by step,
 * each step writing its words' bytes to a new text. */
#include <string.h>

#include "tokenizer/tokenizer.h"

/* Copy the word s[a, b) to text and its range to out (empty words are dropped, as tokenizers). */
static xf_status emit_to(const char *s, xf_tok_buf *text, xf_tok_buf *out, size_t a, size_t b) {
    if (a >= b) return XF_OK;
    size_t r[2] = {text->len, text->len + (b - a)};
    xf_status st = xf_buf_append(text, s + a, b - a);
    return st ? st : xf_buf_append(out, r, sizeof r);
}
#define emit(out, a, b) emit_to(s, text, out, a, b)

/* Split s[a, b) with one pre-tokenizer into (text, out). */
static xf_status split(xf_pretok_kind kind, const char *s, size_t a, size_t b, xf_tok_buf *text,
                       xf_tok_buf *out) {
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
        default: /* XF_PRETOK_WHITESPACE */ {
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

static xf_status step(const xf_pretok_step *k, const char *s, size_t a, size_t b, int at_start,
                      xf_tok_buf *text, xf_tok_buf *out) {
    if (k->kind == XF_PRETOK_METASPACE) return xf_pretok_metaspace(k, s + a, b - a, at_start, text, out);
    if (k->kind >= XF_PRETOK_BYTELEVEL) {
        if (a >= b) return XF_OK;
        return xf_pretok_regex_step(k, s + a, b - a, text, out);
    }
    return split(k->kind, s, a, b, text, out);
}

xf_status xf_tok_pretokenize(const xf_tokenizer *tok, const char *s, size_t len, xf_tok_buf *text,
                             xf_tok_buf *out) {
    return xf_tok_pretokenize_at(tok, s, len, 1, text, out);
}

xf_status xf_tok_pretokenize_at(const xf_tokenizer *tok, const char *s, size_t len, int at_start,
                                xf_tok_buf *text, xf_tok_buf *out) {
    out->len = text->len = 0;
    if (!tok->n_pretok) return emit(out, 0, len);
    xf_status st = step(&tok->pretok[0], s, 0, len, at_start, text, out);
    xf_tok_buf t2 = {0}, r2 = {0};
    for (size_t k = 1; k < tok->n_pretok && !st; k++) {
        t2.len = r2.len = 0;
        size_t n = out->len / (2 * sizeof(size_t));
        for (size_t r = 0; r < n && !st; r++) {
            size_t ab[2];
            memcpy(ab, out->data + r * sizeof ab, sizeof ab);
            st = step(&tok->pretok[k], text->data, ab[0], ab[1], at_start && ab[0] == 0, &t2, &r2);
        }
        xf_tok_buf t = *out;
        *out = r2;
        r2 = t;
        t = *text;
        *text = t2;
        t2 = t;
    }
    xf_buf_free(&t2);
    xf_buf_free(&r2);
    return st;
}
