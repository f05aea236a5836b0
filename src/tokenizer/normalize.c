/* normalize.c — the normalizers of tokenizer.json (BertNormalizer, Lowercase, StripAccents,
 * NFD/NFKD/NFC/NFKC, Strip, Prepend, Replace) over code point arrays, in tokenizers' order of
 * operations; Precompiled and regex Replace run on UTF-8 in precompiled.c. */
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

typedef xf_tok_ids cps; /* code points, stored as int32 */

static xf_status push(cps *v, uint32_t c) { return xf_ids_push(v, (int32_t)c); }

static int ccc(uint32_t c) {
    return utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
}

/* Canonical ordering: stable sort of every run of non-starters by combining class. A stable
 * counting sort for long runs keeps this linear (utf8proc's own ordering is quadratic). */
static xf_status canonical_order(cps *v) {
    int32_t *d = v->data;
    size_t n = v->len, i = 0;
    xf_tok_ids tmp = {0};
    xf_status st = XF_OK;
    while (i < n) {
        if (ccc((uint32_t)d[i]) == 0) {
            i++;
            continue;
        }
        size_t a = i;
        while (i < n && ccc((uint32_t)d[i]) != 0) i++;
        size_t len = i - a;
        if (len < 2) continue;
        if (len <= 32) {
            for (size_t k = a + 1; k < i; k++) {
                int32_t x = d[k];
                int cx = ccc((uint32_t)x);
                size_t j = k;
                while (j > a && ccc((uint32_t)d[j - 1]) > cx) {
                    d[j] = d[j - 1];
                    j--;
                }
                d[j] = x;
            }
        } else {
            size_t count[257] = {0};
            tmp.len = 0;
            if ((st = xf_ids_append(&tmp, d + a, len))) break;
            for (size_t k = 0; k < len; k++) count[ccc((uint32_t)tmp.data[k]) + 1]++;
            for (int c = 1; c <= 256; c++) count[c] += count[c - 1];
            for (size_t k = 0; k < len; k++) d[a + count[ccc((uint32_t)tmp.data[k])]++] = tmp.data[k];
        }
    }
    xf_ids_free(&tmp);
    return st;
}

static xf_status decompose(const cps *in, int compat, cps *out) {
    utf8proc_int32_t buf[32];
    utf8proc_option_t opt = (utf8proc_option_t)(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
    out->len = 0;
    xf_status st;
    for (size_t i = 0; i < in->len; i++) {
        int bc = 0;
        if (xf_uc_no_decompose((uint32_t)in->data[i])) {
            if ((st = push(out, (uint32_t)in->data[i]))) return st;
            continue;
        }
        utf8proc_ssize_t k = utf8proc_decompose_char(in->data[i], buf, 32, opt, &bc);
        if (k < 0 || k > 32) {
            if ((st = push(out, (uint32_t)in->data[i]))) return st;
            continue;
        }
        if ((st = xf_ids_append(out, buf, (size_t)k))) return st;
    }
    return canonical_order(out);
}

static xf_status compose(cps *v) {
    if (!v->len) return XF_OK;
    utf8proc_ssize_t r = utf8proc_normalize_utf32(v->data, (utf8proc_ssize_t)v->len,
                                                  (utf8proc_option_t)(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
    if (r < 0) return xf_error(XF_ERR_FORMAT, "tokenizer: normalization failed: %s", utf8proc_errmsg(r));
    v->len = (size_t)r;
    return XF_OK;
}

static xf_status bert(const xf_norm_step *s, const cps *in, cps *out, cps *tmp) {
    xf_status st;
    out->len = 0;
    for (size_t i = 0; i < in->len; i++) {
        uint32_t c = (uint32_t)in->data[i];
        if (s->clean_text) {
            if (c == 0 || c == 0xFFFD || xf_uc_is_bert_control(c)) continue;
            if (xf_uc_is_bert_whitespace(c)) c = ' ';
        }
        if (s->handle_chinese_chars && xf_uc_is_chinese(c)) {
            if ((st = push(out, ' ')) || (st = push(out, c)) || (st = push(out, ' '))) return st;
        } else if ((st = push(out, c))) {
            return st;
        }
    }
    if (s->strip_accents) {
        if ((st = decompose(out, 0, tmp))) return st;
        out->len = 0;
        for (size_t i = 0; i < tmp->len; i++)
            if (!xf_uc_is_mark_nonspacing((uint32_t)tmp->data[i]) && (st = xf_ids_push(out, tmp->data[i])))
                return st;
    }
    if (s->lowercase) {
        tmp->len = 0;
        for (size_t i = 0; i < out->len; i++) {
            uint32_t lc[3];
            int k = xf_uc_lowercase((uint32_t)out->data[i], lc);
            for (int j = 0; j < k; j++)
                if ((st = push(tmp, lc[j]))) return st;
        }
        cps t = *out;
        *out = *tmp;
        *tmp = t;
    }
    return XF_OK;
}

/* A step that works on UTF-8 (precompiled.c): code points -> UTF-8 -> step -> code points. */
static xf_status utf8_step(const xf_norm_step *s, const cps *in, cps *out) {
    xf_tok_buf a = {0}, b = {0};
    xf_status st = xf_buf_reserve(&a, in->len * 4 + 1);
    for (size_t i = 0; i < in->len && !st; i++) a.len += xf_utf8_encode((uint32_t)in->data[i], a.data + a.len);
    if (!st) st = xf_norm_utf8_step(s, a.data, a.len, &b);
    for (size_t i = 0; i < b.len && !st;) st = push(out, xf_utf8_next(b.data, b.len, &i));
    xf_buf_free(&a);
    xf_buf_free(&b);
    return st;
}

static xf_status step(const xf_norm_step *s, const cps *in, cps *out, cps *tmp) {
    xf_status st = XF_OK;
    out->len = 0;
    switch (s->kind) {
    case XF_NORM_PRECOMPILED:
    case XF_NORM_REPLACE_RE:
        return utf8_step(s, in, out);
    case XF_NORM_BERT:
        return bert(s, in, out, tmp);
    case XF_NORM_LOWERCASE:
        for (size_t i = 0; i < in->len && !st; i++) {
            uint32_t lc[3];
            int k = xf_uc_lowercase((uint32_t)in->data[i], lc);
            for (int j = 0; j < k && !st; j++) st = push(out, lc[j]);
        }
        return st;
    case XF_NORM_STRIP_ACCENTS: /* unicode-normalization's is_combining_mark: M* */
        for (size_t i = 0; i < in->len && !st; i++) {
            utf8proc_category_t c = utf8proc_category(in->data[i]);
            if (c != UTF8PROC_CATEGORY_MN && c != UTF8PROC_CATEGORY_MC && c != UTF8PROC_CATEGORY_ME)
                st = xf_ids_push(out, in->data[i]);
        }
        return st;
    case XF_NORM_NFD:
    case XF_NORM_NFKD:
        return decompose(in, s->kind == XF_NORM_NFKD, out);
    case XF_NORM_NFC:
    case XF_NORM_NFKC:
        if ((st = decompose(in, s->kind == XF_NORM_NFKC, out))) return st;
        return compose(out);
    case XF_NORM_STRIP: {
        size_t a = 0, b = in->len;
        if (s->strip_left)
            while (a < b && xf_uc_is_whitespace((uint32_t)in->data[a])) a++;
        if (s->strip_right)
            while (b > a && xf_uc_is_whitespace((uint32_t)in->data[b - 1])) b--;
        return xf_ids_append(out, in->data + a, b - a);
    }
    case XF_NORM_PREPEND: /* tokenizers' Prepend: only a non-empty text */
        if (in->len && (st = xf_ids_append(out, s->str, s->str_len))) return st;
        return xf_ids_append(out, in->data, in->len);
    case XF_NORM_REPLACE: { /* literal pattern: every non-overlapping match, left to right */
        size_t i = 0, start = 0;
        while (s->pat_len && i + s->pat_len <= in->len && !st) {
            if (!memcmp(in->data + i, s->pat, s->pat_len * sizeof(int32_t))) {
                if (!(st = xf_ids_append(out, in->data + start, i - start)))
                    st = xf_ids_append(out, s->str, s->str_len);
                i += s->pat_len;
                start = i;
            } else {
                i++;
            }
        }
        return st ? st : xf_ids_append(out, in->data + start, in->len - start);
    }
    }
    return xf_error(XF_ERR_UNSUPPORTED, "tokenizer: unknown normalizer step");
}

xf_status xf_tok_normalize(const xf_tokenizer *tok, const char *s, size_t len, xf_tok_buf *out) {
    out->len = 0;
    if (!tok->n_norm) return xf_buf_append(out, s, len);
    cps a = {0}, b = {0}, tmp = {0};
    xf_status st = XF_OK;
    for (size_t i = 0; i < len && !st;) st = push(&a, xf_utf8_next(s, len, &i));
    /* Every step maps an empty text to an empty one; stopping there also keeps the steps from
     * doing arithmetic on a NULL buffer. */
    for (size_t k = 0; k < tok->n_norm && !st && a.len; k++) {
        st = step(&tok->norm[k], &a, &b, &tmp);
        cps t = a;
        a = b;
        b = t;
    }
    if (!st) st = xf_buf_reserve(out, a.len * 4);
    if (!st) {
        for (size_t i = 0; i < a.len; i++) out->len += xf_utf8_encode((uint32_t)a.data[i], out->data + out->len);
        out->data[out->len] = '\0';
    }
    xf_ids_free(&a);
    xf_ids_free(&b);
    xf_ids_free(&tmp);
    return st;
}
