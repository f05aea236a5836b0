/* decode.c — ids back to text as Hugging Face tokenizers' Tokenizer::decode does (decoders
 * ByteLevel, WordPiece, Metaspace, Replace, ByteFallback, Fuse, Strip and Sequence of them), and
 * a streaming decoder that only emits complete UTF-8 characters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tokenizer.h"

#define XF_DEC_MAX_DEPTH 16

/* ------------------------------------------------------------------ loading */

static xf_status nomem(void) { return xf_error(XF_ERR_NOMEM, "decoder: out of memory"); }

static xf_status add_dec(xf_tokenizer *tok, xf_dec_step s) {
    xf_dec_step *n = xf_realloc(tok->dec, (tok->n_dec + 1) * sizeof *n);
    if (!n) {
        free(s.a);
        free(s.b);
        return nomem();
    }
    tok->dec = n;
    n[tok->n_dec++] = s;
    return XF_OK;
}

static xf_status dup_str(const char *v, char **out, size_t *len) {
    if (!(*out = xf_strdup(v))) return nomem();
    *len = strlen(v);
    return XF_OK;
}

/* A single Unicode char (as tokenizers requires for Metaspace replacement / Strip content). */
static int one_char(const char *s) {
    size_t n = strlen(s), i = 0;
    if (!n) return 0;
    (void)xf_utf8_next(s, n, &i);
    return i == n;
}

static xf_status unsupported(xf_tokenizer *tok, const char *where, const char *type) {
    if (tok->dec_unsupported) return XF_OK;
    char msg[300];
    snprintf(msg, sizeof msg, "%s: %s: decoder type \"%.80s\" is not supported", tok->path, where, type);
    if (!(tok->dec_unsupported = xf_strdup(msg))) return nomem();
    return XF_OK;
}

static xf_status load_dec(xf_tokenizer *tok, const cJSON *j, const char *where, int depth) {
    const char *type;
    xf_status st;
    if (!cJSON_IsObject(j)) return xf_tj_err(tok, XF_ERR_FORMAT, where, "must be an object");
    if (depth > XF_DEC_MAX_DEPTH) return xf_tj_err(tok, XF_ERR_RANGE, where, "nested too deeply");
    if ((st = xf_tj_get_type(tok, j, where, &type))) return st;
    xf_dec_step s;
    memset(&s, 0, sizeof s);
    char f[200];
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = xf_tj_get(j, "decoders");
        snprintf(f, sizeof f, "%s.decoders", where);
        if (!arr) return xf_tj_err(tok, XF_ERR_NOT_FOUND, f, "missing");
        if (!cJSON_IsArray(arr)) return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be an array");
        size_t i = 0;
        for (const cJSON *e = arr->child; e; e = e->next, i++) {
            snprintf(f, sizeof f, "%s.decoders[%zu]", where, i);
            if ((st = load_dec(tok, e, f, depth + 1))) return st;
        }
        return XF_OK;
    }
    if (!strcmp(type, "ByteLevel")) return s.kind = XF_DEC_BYTELEVEL, add_dec(tok, s);
    if (!strcmp(type, "ByteFallback")) return s.kind = XF_DEC_BYTEFALLBACK, add_dec(tok, s);
    if (!strcmp(type, "Fuse")) return s.kind = XF_DEC_FUSE, add_dec(tok, s);
    if (!strcmp(type, "WordPiece")) {
        const char *prefix = "##";
        s.kind = XF_DEC_WORDPIECE;
        s.cleanup = 1;
        if ((st = xf_tj_get_str(tok, j, where, "prefix", 0, &prefix)) ||
            (st = xf_tj_get_bool(tok, j, where, "cleanup", &s.cleanup)) || (st = dup_str(prefix, &s.a, &s.a_len)))
            return st;
        return add_dec(tok, s);
    }
    if (!strcmp(type, "Metaspace")) {
        const char *rep = "\xE2\x96\x81", *scheme = NULL;
        int add_prefix = 1;
        s.kind = XF_DEC_METASPACE;
        if ((st = xf_tj_get_str(tok, j, where, "replacement", 0, &rep)) ||
            (st = xf_tj_get_str(tok, j, where, "prepend_scheme", 0, &scheme)) ||
            (st = xf_tj_get_bool(tok, j, where, "add_prefix_space", &add_prefix)))
            return st;
        snprintf(f, sizeof f, "%s.replacement", where);
        if (!one_char(rep)) return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be one character");
        if (scheme) {
            snprintf(f, sizeof f, "%s.prepend_scheme", where);
            if (strcmp(scheme, "first") && strcmp(scheme, "always") && strcmp(scheme, "never"))
                return xf_tj_err(tok, XF_ERR_FORMAT, f, "unknown value \"%.40s\" (first, always, never)", scheme);
            s.prepend_never = !strcmp(scheme, "never");
        } else {
            s.prepend_never = !add_prefix;
        }
        if ((st = dup_str(rep, &s.a, &s.a_len))) return st;
        return add_dec(tok, s);
    }
    if (!strcmp(type, "Replace")) {
        const cJSON *p = xf_tj_get(j, "pattern"), *lit = xf_tj_get(p, "String");
        const char *content;
        snprintf(f, sizeof f, "%s.pattern", where);
        if (!p) return xf_tj_err(tok, XF_ERR_NOT_FOUND, f, "missing");
        if (xf_tj_get(p, "Regex")) return unsupported(tok, f, "Replace with a Regex pattern");
        if (!lit || !cJSON_IsString(lit) || !*lit->valuestring)
            return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be {\"String\": \"<non-empty>\"}");
        if ((st = xf_tj_get_str(tok, j, where, "content", 1, &content))) return st;
        s.kind = XF_DEC_REPLACE;
        if ((st = dup_str(lit->valuestring, &s.a, &s.a_len)) || (st = dup_str(content, &s.b, &s.b_len))) {
            free(s.a);
            return st;
        }
        return add_dec(tok, s);
    }
    if (!strcmp(type, "Strip")) {
        const char *content = " ";
        int64_t v;
        s.kind = XF_DEC_STRIP;
        if ((st = xf_tj_get_str(tok, j, where, "content", 0, &content))) return st;
        snprintf(f, sizeof f, "%s.content", where);
        if (!one_char(content)) return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be one character");
        const char *names[2] = {"start", "stop"};
        for (int k = 0; k < 2; k++) {
            const cJSON *x = xf_tj_get(j, names[k]);
            snprintf(f, sizeof f, "%s.%s", where, names[k]);
            v = 0;
            if (x && (st = xf_tj_get_uint(tok, x, f, 1e9, &v))) return st;
            if (k == 0) s.start = (size_t)v;
            else s.stop = (size_t)v;
        }
        if ((st = dup_str(content, &s.a, &s.a_len))) return st;
        return add_dec(tok, s);
    }
    return unsupported(tok, where, type);
}

xf_status xf_tj_load_decoder(xf_tokenizer *tok, const cJSON *j) {
    tok->has_decoder = 1;
    return load_dec(tok, j, "decoder", 0);
}

void xf_decoder_free(xf_tokenizer *tok) {
    for (size_t i = 0; i < tok->n_dec; i++) {
        free(tok->dec[i].a);
        free(tok->dec[i].b);
    }
    free(tok->dec);
    free(tok->dec_unsupported);
    free(tok->rev_special);
}

/* ----------------------------------------------------------- token lists */

/* A list of byte strings: token i is text[ends[i-1], ends[i]). */
typedef struct tlist {
    xf_tok_buf text;
    size_t *ends;
    size_t n, cap;
} tlist;

static xf_status tl_end(tlist *l) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 64;
        size_t *p = xf_realloc(l->ends, nc * sizeof *p);
        if (!p) return nomem();
        l->ends = p;
        l->cap = nc;
    }
    l->ends[l->n++] = l->text.len;
    return XF_OK;
}

static xf_status tl_push(tlist *l, const char *s, size_t n) {
    xf_status st = xf_buf_append(&l->text, s, n);
    return st ? st : tl_end(l);
}

static void tl_get(const tlist *l, size_t i, const char **s, size_t *n) {
    size_t a = i ? l->ends[i - 1] : 0;
    *s = l->text.data + a;
    *n = l->ends[i] - a;
}

static void tl_reset(tlist *l) { l->text.len = l->n = 0; }

static void tl_free(tlist *l) {
    xf_buf_free(&l->text);
    free(l->ends);
    memset(l, 0, sizeof *l);
}

/* ------------------------------------------------------------------ steps */

/* GPT-2's bytes_to_unicode, reversed: code point (< 324) -> byte, or -1. */
static void init_unbyte(int16_t t[324]) {
    for (int i = 0; i < 324; i++) t[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        t[keep ? b : 256 + n++] = (int16_t)b;
    }
}

static xf_status step_bytelevel(const tlist *in, tlist *out, int raw) {
    int16_t g_unbyte[324];
    init_unbyte(g_unbyte);
    xf_tok_buf bytes = {0}, tmp = {0};
    xf_status st = XF_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *s;
        size_t n, j = 0, mark = bytes.len;
        tl_get(in, i, &s, &n);
        int ok = 1;
        while (j < n && ok && !st) {
            size_t at = j;
            uint32_t c = xf_utf8_next(s, n, &j);
            if (j <= at) j = at + 1;
            if (c < 324 && g_unbyte[c] >= 0) {
                char b = (char)g_unbyte[c];
                st = xf_buf_append(&bytes, &b, 1);
            } else {
                ok = 0;
            }
        }
        if (!ok && !st) {
            bytes.len = mark; /* a char outside the map: the token's own bytes */
            st = xf_buf_append(&bytes, s, n);
        }
    }
    if (!st) {
        if (raw) st = tl_push(out, bytes.data ? bytes.data : "", bytes.len);
        else if (!(st = xf_utf8_sanitize(bytes.data ? bytes.data : "", bytes.len, &tmp)))
            st = tl_push(out, tmp.data ? tmp.data : "", tmp.len);
    }
    xf_buf_free(&bytes);
    xf_buf_free(&tmp);
    return st;
}

/* Rust str::replace: every non-overlapping occurrence of pat, left to right. */
static xf_status replace_into(xf_tok_buf *b, const char *s, size_t n, const char *pat, size_t pn,
                              const char *rep, size_t rn) {
    size_t i = 0, start = 0;
    xf_status st = XF_OK;
    while (pn && i + pn <= n && !st) {
        if (!memcmp(s + i, pat, pn)) {
            if (!(st = xf_buf_append(b, s + start, i - start))) st = xf_buf_append(b, rep, rn);
            i += pn;
            start = i;
        } else {
            i++;
        }
    }
    return st ? st : xf_buf_append(b, s + start, n - start);
}

static const char *const cleanup_pairs[][2] = {
    {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
    {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};

static xf_status step_wordpiece(const xf_dec_step *d, const tlist *in, tlist *out) {
    xf_tok_buf a = {0}, b = {0};
    xf_status st = XF_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *s;
        size_t n;
        tl_get(in, i, &s, &n);
        a.len = 0;
        if (i != 0) {
            if (n >= d->a_len && !memcmp(s, d->a, d->a_len)) s += d->a_len, n -= d->a_len;
            else st = xf_buf_append(&a, " ", 1);
        }
        if (!st) st = xf_buf_append(&a, s, n);
        for (size_t k = 0; d->cleanup && k < sizeof cleanup_pairs / sizeof cleanup_pairs[0] && !st; k++) {
            b.len = 0;
            const char *p = cleanup_pairs[k][0], *r = cleanup_pairs[k][1];
            st = replace_into(&b, a.data ? a.data : "", a.len, p, strlen(p), r, strlen(r));
            xf_tok_buf t = a;
            a = b;
            b = t;
        }
        if (!st) st = tl_push(out, a.data ? a.data : "", a.len);
    }
    xf_buf_free(&a);
    xf_buf_free(&b);
    return st;
}

static xf_status step_metaspace(const xf_dec_step *d, const tlist *in, tlist *out) {
    xf_status st = XF_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *s;
        size_t n;
        tl_get(in, i, &s, &n);
        const char *rep = (i == 0 && !d->prepend_never) ? "" : " ";
        st = replace_into(&out->text, s, n, d->a, d->a_len, rep, strlen(rep));
        if (!st) st = tl_end(out);
    }
    return st;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xNN>" -> NN (u8::from_str_radix on the two chars), or -1. */
static int byte_token(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int h = hexval(s[3]), l = hexval(s[4]);
    if (s[3] == '+' && l >= 0) return l;
    return h >= 0 && l >= 0 ? h * 16 + l : -1;
}

static int valid_utf8(const char *s, size_t n) {
    xf_tok_buf t = {0};
    int ok = !xf_utf8_sanitize(s, n, &t) && t.len == n && (n == 0 || !memcmp(t.data, s, n));
    xf_buf_free(&t);
    return ok;
}

static xf_status flush_bytes(tlist *out, xf_tok_buf *pend, int raw) {
    xf_status st = XF_OK;
    if (!pend->len) return XF_OK;
    if (raw || valid_utf8(pend->data, pend->len)) st = tl_push(out, pend->data, pend->len);
    else
        for (size_t k = 0; k < pend->len && !st; k++) st = tl_push(out, "\xEF\xBF\xBD", 3);
    pend->len = 0;
    return st;
}

static xf_status step_bytefallback(const tlist *in, tlist *out, int raw) {
    xf_tok_buf pend = {0};
    xf_status st = XF_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *s;
        size_t n;
        tl_get(in, i, &s, &n);
        int b = byte_token(s, n);
        if (b >= 0) {
            char c = (char)b;
            st = xf_buf_append(&pend, &c, 1);
            continue;
        }
        if (!(st = flush_bytes(out, &pend, raw))) st = tl_push(out, s, n);
    }
    if (!st) st = flush_bytes(out, &pend, raw);
    xf_buf_free(&pend);
    return st;
}

static xf_status step_strip(const xf_dec_step *d, const tlist *in, tlist *out) {
    xf_status st = XF_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *s;
        size_t n;
        tl_get(in, i, &s, &n);
        size_t a = 0, b = n;
        for (size_t k = 0; k < d->start && a + d->a_len <= b && !memcmp(s + a, d->a, d->a_len); k++) a += d->a_len;
        for (size_t k = 0; k < d->stop && b >= a + d->a_len && !memcmp(s + b - d->a_len, d->a, d->a_len); k++)
            b -= d->a_len;
        st = tl_push(out, s + a, b - a);
    }
    return st;
}

static xf_status run_step(const xf_dec_step *d, const tlist *in, tlist *out, int raw) {
    tl_reset(out);
    switch (d->kind) {
    case XF_DEC_BYTELEVEL:
        return step_bytelevel(in, out, raw);
    case XF_DEC_WORDPIECE:
        return step_wordpiece(d, in, out);
    case XF_DEC_METASPACE:
        return step_metaspace(d, in, out);
    case XF_DEC_REPLACE: {
        xf_status st = XF_OK;
        for (size_t i = 0; i < in->n && !st; i++) {
            const char *s;
            size_t n;
            tl_get(in, i, &s, &n);
            if (!(st = replace_into(&out->text, s, n, d->a, d->a_len, d->b, d->b_len))) st = tl_end(out);
        }
        return st;
    }
    case XF_DEC_BYTEFALLBACK:
        return step_bytefallback(in, out, raw);
    case XF_DEC_FUSE:
        return tl_push(out, in->text.data ? in->text.data : "", in->text.len);
    case XF_DEC_STRIP:
        return step_strip(d, in, out);
    }
    return xf_error(XF_ERR_UNSUPPORTED, "decoder: unknown step");
}

/* Special flag of the token of id (rev map entry), and its string; NULL if unknown. */
static const char *id_token(const xf_tokenizer *tok, int32_t id, int *special) {
    size_t lo = 0, hi = tok->n_rev;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tok->rev_ids[mid] < id) lo = mid + 1;
        else if (tok->rev_ids[mid] > id) hi = mid;
        else {
            *special = tok->rev_special ? tok->rev_special[mid] : 0;
            return tok->rev_toks[mid];
        }
    }
    return NULL;
}

int xf_tokenizer_is_special(const xf_tokenizer *tok, int32_t id) {
    int special = 0;
    return tok && id_token(tok, id, &special) && special;
}

/* Decode ids to bytes (appended to out). raw = 1: no UTF-8 repair anywhere (ByteLevel bytes
 * and ByteFallback runs kept as they are), so that decoding is prefix-stable for streaming. */
static xf_status decode_ids(const xf_tokenizer *tok, const int32_t *ids, size_t n, int skip_special, int raw,
                            xf_tok_buf *out) {
    if (tok->dec_unsupported) return xf_error(XF_ERR_UNSUPPORTED, "%s", tok->dec_unsupported);
    tlist a = {0}, b = {0};
    xf_status st = XF_OK;
    for (size_t i = 0; i < n && !st; i++) {
        int special = 0;
        const char *t = id_token(tok, ids[i], &special);
        if (!t) {
            st = xf_error(XF_ERR_RANGE, "xf_detokenize: id %ld (position %zu) is not in the vocabulary of %s",
                          (long)ids[i], i, tok->path ? tok->path : "the tokenizer");
            break;
        }
        if (skip_special && special) continue;
        st = tl_push(&a, t, strlen(t));
    }
    if (!tok->has_decoder) {
        for (size_t i = 0; i < a.n && !st; i++) {
            const char *s;
            size_t len;
            tl_get(&a, i, &s, &len);
            if (i) st = xf_buf_append(out, " ", 1);
            if (!st) st = xf_buf_append(out, s, len);
        }
    } else {
        for (size_t k = 0; k < tok->n_dec && !st; k++) {
            st = run_step(&tok->dec[k], &a, &b, raw);
            tlist t = a;
            a = b;
            b = t;
        }
        if (!st) st = xf_buf_append(out, a.text.data ? a.text.data : "", a.text.len);
    }
    tl_free(&a);
    tl_free(&b);
    return st;
}

xf_status xf_detokenize(const xf_tokenizer *tok, const int32_t *ids, size_t n, int skip_special, char **out,
                        size_t *len) {
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!tok || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_detokenize: tokenizer or out is NULL");
    if (!ids && n) return xf_error(XF_ERR_INVALID_ARG, "xf_detokenize: ids is NULL");
    xf_tok_buf raw = {0}, clean = {0};
    xf_status st = decode_ids(tok, ids, n, skip_special, 0, &raw);
    /* tokens from a GGUF file need not be valid UTF-8: the result always is */
    if (!st) st = xf_utf8_sanitize(raw.data ? raw.data : "", raw.len, &clean);
    if (!st) st = xf_buf_reserve(&clean, 1);
    xf_buf_free(&raw);
    if (st) {
        xf_buf_free(&clean);
        return st;
    }
    clean.data[clean.len] = '\0';
    *out = clean.data;
    if (len) *len = clean.len;
    return XF_OK;
}

/* --------------------------------------------------------------- streaming */

struct xf_detok_stream {
    const xf_tokenizer *tok;
    int skip_special;
    xf_tok_ids win;    /* ids decoded together: context token(s) + pending ones */
    size_t emitted;    /* bytes of the raw decoding of win already returned */
    xf_tok_buf dec;    /* scratch: raw decoding of win */
    xf_tok_buf text;   /* the last returned text */
};

xf_status xf_detok_stream_create(const xf_tokenizer *tok, int skip_special, xf_detok_stream **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_detok_stream_create: out is NULL");
    *out = NULL;
    if (!tok) return xf_error(XF_ERR_INVALID_ARG, "xf_detok_stream_create: tokenizer is NULL");
    if (tok->dec_unsupported) return xf_error(XF_ERR_UNSUPPORTED, "%s", tok->dec_unsupported);
    xf_detok_stream *s = xf_calloc(1, sizeof *s);
    if (!s) return nomem();
    s->tok = tok;
    s->skip_special = skip_special;
    *out = s;
    return XF_OK;
}

/* Length of s without a trailing incomplete (but so far valid) UTF-8 sequence. */
static size_t complete_prefix(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t b = p[n - k];
        if ((b & 0xC0) == 0x80) continue; /* continuation byte: look further back */
        size_t need = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
        if (need <= k) return n; /* complete, ASCII or invalid: nothing to wait for */
        if (k >= 2) {
            uint8_t c = p[n - k + 1], lo = 0x80, hi = 0xBF;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
            if (c < lo || c > hi) return n; /* can never complete */
        }
        return n - k;
    }
    return n;
}

static xf_status stream_emit(xf_detok_stream *s, size_t end, const char **text, size_t *len) {
    xf_status st = XF_OK;
    s->text.len = 0;
    if (end > s->emitted) st = xf_utf8_sanitize(s->dec.data + s->emitted, end - s->emitted, &s->text);
    if (!st) st = xf_buf_reserve(&s->text, 1);
    if (st) return st;
    s->text.data[s->text.len] = '\0';
    if (end > s->emitted) s->emitted = end;
    *text = s->text.data;
    if (len) *len = s->text.len;
    return XF_OK;
}

xf_status xf_detok_stream_push(xf_detok_stream *s, int32_t id, const char **text, size_t *len) {
    if (text) *text = "";
    if (len) *len = 0;
    if (!s || !text) return xf_error(XF_ERR_INVALID_ARG, "xf_detok_stream_push: stream or text is NULL");
    const xf_tokenizer *tok = s->tok;
    int special = 0;
    if (!id_token(tok, id, &special))
        return xf_error(XF_ERR_RANGE, "xf_detok_stream_push: id %ld is not in the vocabulary of %s", (long)id,
                        tok->path ? tok->path : "the tokenizer");
    if (s->skip_special && special) return XF_OK; /* changes nothing */
    xf_status st = xf_ids_push(&s->win, id);
    if (st) return st;
    s->dec.len = 0;
    if ((st = decode_ids(tok, s->win.data, s->win.len, s->skip_special, 1, &s->dec))) return st;
    size_t end = complete_prefix(s->dec.data ? s->dec.data : "", s->dec.len);
    if (end < s->emitted) end = s->emitted; /* not prefix-stable (e.g. Strip stop): never re-emit */
    if ((st = stream_emit(s, end, text, len))) return st;
    if (end == s->dec.len && s->win.len > 1) {
        /* nothing pending: keep only the last token as context (leading-space rules) */
        s->win.data[0] = s->win.data[s->win.len - 1];
        s->win.len = 1;
        xf_tok_buf d = {0};
        st = decode_ids(tok, s->win.data, 1, s->skip_special, 1, &d);
        s->emitted = d.len;
        xf_buf_free(&d);
    }
    return st;
}

xf_status xf_detok_stream_flush(xf_detok_stream *s, const char **text, size_t *len) {
    if (text) *text = "";
    if (len) *len = 0;
    if (!s || !text) return xf_error(XF_ERR_INVALID_ARG, "xf_detok_stream_flush: stream or text is NULL");
    s->dec.len = 0;
    xf_status st = decode_ids(s->tok, s->win.data, s->win.len, s->skip_special, 1, &s->dec);
    if (!st) st = stream_emit(s, s->dec.len, text, len);
    s->win.len = 0;
    s->emitted = 0;
    return st;
}

void xf_detok_stream_free(xf_detok_stream *s) {
    if (!s) return;
    xf_ids_free(&s->win);
    xf_buf_free(&s->dec);
    xf_buf_free(&s->text);
    free(s);
}
