/* tok_gguf.c — a tokenizer from GGUF metadata (tokenizer.ggml.*), built as the equivalent
 * Hugging Face tokenizer.json would be (transformers' GGUF converter, llama.cpp's names):
 *   model "gpt2":   byte-level BPE from tokens + merges; tokenizer.ggml.pre selects the
 *                   pre-tokenizer chain (gguf_pre.c); control / user-defined tokens are added tokens.
 *   model "gemma4": SentencePiece-style BPE from tokens + merges over raw UTF-8 (▁ for spaces).
 *   model "llama":  SentencePiece BPE: merges derived from tokens + scores (every split of a token
 *                   into two tokens, ranked by the token's score), byte fallback, Prepend("▁") +
 *                   Replace(" ", "▁") normalizer, Replace/ByteFallback/Fuse/Strip decoder.
 *   model "bert":   WordPiece; llama.cpp's "▁word" / "piece" spelling turned back into "word" /
 *                   "##piece"; BertNormalizer, BertPreTokenizer, [CLS] A [SEP].
 * bos / eos ids and add_bos_token / add_eos_token become the post-processor template.
 * Every count, id and string is checked; messages name the file and the key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/gguf.h"
#include "tokenizer/gguf_pre.h"
#include "tokenizer/tok_json.h"
#include "tokenizer/tokenizer.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct gctx {
    xf_tokenizer *tok;
    const xf_gguf *g;
    const char *file;
    size_t n;          /* tokens */
    size_t *off;       /* token i = tok->tok_strings + off[i], len[i] bytes */
    uint32_t *len;
    int32_t *type;     /* token types (TT_NORMAL when the key is absent) */
    float *score;      /* llama only */
} gctx;

static xf_status nomem(const gctx *c) { return xf_error(XF_ERR_NOMEM, "%s: out of memory", c->file); }

static xf_status gerr(const gctx *c, xf_status st, const char *key, const char *fmt, const char *a, long long x) {
    char msg[300];
    snprintf(msg, sizeof msg, fmt, a, x);
    return xf_error(st, "%s: %s: %s", c->file, key, msg);
}

static const char *tstr(const gctx *c, size_t i) { return c->tok->tok_strings + c->off[i]; }

static int valid_utf8(const char *s, size_t n) {
    xf_tok_buf t = {0};
    int ok = !xf_utf8_sanitize(s, n, &t) && t.len == n && (n == 0 || !memcmp(t.data, s, n));
    xf_buf_free(&t);
    return ok && !memchr(s, '\0', n);
}

static xf_status load_tokens(gctx *c) {
    const xf_gguf_arr *a;
    xf_status st = xf_gguf_get_arr(c->g, "tokenizer.ggml.tokens", &a);
    if (st) return st;
    if (xf_gguf_arr_type(a) != XF_GGUF_STRING)
        return gerr(c, XF_ERR_FORMAT, "tokenizer.ggml.tokens", "must be an array of strings, not of %s",
                    xf_gguf_type_name(xf_gguf_arr_type(a)), 0);
    uint64_t n = xf_gguf_arr_count(a);
    if (n == 0 || n > XF_TOK_MAX_VOCAB)
        return xf_error(XF_ERR_RANGE, "%s: tokenizer.ggml.tokens: %llu tokens (must be 1 to %d)", c->file,
                        (unsigned long long)n, XF_TOK_MAX_VOCAB);
    c->n = (size_t)n;
    if (!(c->off = xf_calloc(c->n, sizeof *c->off)) || !(c->len = xf_calloc(c->n, sizeof *c->len)))
        return nomem(c);
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++) {
        const char *s;
        size_t l;
        if ((st = xf_gguf_arr_str(a, i, &s, &l))) return st;
        if (l > 65536 || !valid_utf8(s, l)) {
            char key[64];
            snprintf(key, sizeof key, "tokenizer.ggml.tokens[%zu]", i);
            return gerr(c, XF_ERR_FORMAT, key, "%stoken of %lld bytes is longer than 64 KiB, not UTF-8, or has a NUL",
                        "", (long long)l);
        }
        c->off[i] = total;
        c->len[i] = (uint32_t)l;
        total += l + 1;
    }
    if (!(c->tok->tok_strings = xf_malloc(total))) return nomem(c);
    for (size_t i = 0; i < c->n; i++) {
        const char *s;
        size_t l;
        (void)xf_gguf_arr_str(a, i, &s, &l);
        char *d = c->tok->tok_strings + c->off[i];
        if (l) memcpy(d, s, l);
        d[l] = '\0';
        if ((st = xf_strmap_put(&c->tok->vocab, d, l, (int32_t)i))) return xf_error_wrap(st, "%s", c->file);
        if (l > c->tok->max_key_len) c->tok->max_key_len = l;
    }
    return XF_OK;
}

/* An optional per-token numeric array: absent = *present 0; count must match the tokens. */
static xf_status per_token(gctx *c, const char *key, int want_float, void *out, int *present) {
    const xf_gguf_arr *a;
    *present = 0;
    if (xf_gguf_find(c->g, key) < 0) return XF_OK;
    xf_status st = xf_gguf_get_arr(c->g, key, &a);
    if (st) return st;
    xf_gguf_type t = xf_gguf_arr_type(a);
    int ok = want_float ? t == XF_GGUF_FLOAT32 : (t == XF_GGUF_INT32 || t == XF_GGUF_UINT32);
    if (!ok)
        return xf_error(XF_ERR_FORMAT, "%s: %s: must be an array of %s, not of %s", c->file, key,
                        want_float ? "float32" : "int32", xf_gguf_type_name(t));
    if (xf_gguf_arr_count(a) != c->n)
        return xf_error(XF_ERR_FORMAT, "%s: %s: %llu entries for %zu tokens in tokenizer.ggml.tokens", c->file, key,
                        (unsigned long long)xf_gguf_arr_count(a), c->n);
    memcpy(out, xf_gguf_arr_data(a), c->n * 4);
    *present = 1;
    return XF_OK;
}

/* Optional token id key: *id stays -1 when absent. */
static xf_status opt_id(gctx *c, const char *key, int32_t *id) {
    uint64_t v;
    *id = -1;
    if (xf_gguf_find(c->g, key) < 0) return XF_OK;
    xf_status st = xf_gguf_get_uint(c->g, key, &v);
    if (st) return st;
    if (v >= c->n)
        return xf_error(XF_ERR_RANGE, "%s: %s: id %llu is not below the vocabulary size %zu", c->file, key,
                        (unsigned long long)v, c->n);
    *id = (int32_t)v;
    return XF_OK;
}

static xf_status opt_bool(gctx *c, const char *key, int *v) {
    if (xf_gguf_find(c->g, key) < 0) return XF_OK;
    return xf_gguf_get_bool(c->g, key, v);
}

static xf_status add_added(gctx *c) {
    xf_tokenizer *tok = c->tok;
    size_t m = 0;
    for (size_t i = 0; i < c->n; i++) m += c->type[i] == TT_CONTROL || c->type[i] == TT_USER || c->type[i] == TT_UNKNOWN;
    if (!(tok->added = xf_calloc(m + 1, sizeof *tok->added))) return nomem(c);
    xf_status st;
    for (size_t i = 0; i < c->n; i++) {
        int t = c->type[i];
        if ((t != TT_CONTROL && t != TT_USER && t != TT_UNKNOWN) || c->len[i] == 0) continue;
        xf_added_token *a = &tok->added[tok->n_added];
        a->content = xf_strdup(tstr(c, i));
        a->pattern = xf_strdup(tstr(c, i));
        if (!a->content || !a->pattern) {
            free(a->content);
            free(a->pattern);
            a->content = a->pattern = NULL;
            return nomem(c);
        }
        a->len = a->pattern_len = c->len[i];
        a->id = (int32_t)i;
        a->special = t != TT_USER;
        tok->n_added++;
        if ((st = xf_strmap_put(&tok->added_map, a->content, a->len, a->id))) return st;
        if ((st = xf_trie_add(&tok->trie_raw, a->pattern, a->pattern_len, (int32_t)(tok->n_added - 1)))) return st;
    }
    return XF_OK;
}

static xf_status merge_alloc(gctx *c, size_t n) {
    if (!(c->tok->merge_new = xf_calloc(n ? n : 1, sizeof *c->tok->merge_new))) return nomem(c);
    c->tok->n_merges = n;
    return XF_OK;
}

static xf_status put_merge(gctx *c, size_t r, int32_t l, int32_t rr, int32_t nid, int keep_first) {
    int32_t key[2] = {l, rr}, old;
    if (keep_first && xf_strmap_get(&c->tok->merges, (const char *)key, sizeof key, &old)) return XF_OK;
    xf_status st = xf_strmap_put(&c->tok->merges, (const char *)key, sizeof key, (int32_t)r);
    if (!st) c->tok->merge_new[r] = nid;
    return st;
}

static xf_status load_merges(gctx *c) {
    const xf_gguf_arr *a;
    xf_status st = xf_gguf_get_arr(c->g, "tokenizer.ggml.merges", &a);
    if (st) return st;
    if (xf_gguf_arr_type(a) != XF_GGUF_STRING)
        return xf_error(XF_ERR_FORMAT, "%s: tokenizer.ggml.merges: must be an array of strings", c->file);
    uint64_t n = xf_gguf_arr_count(a);
    if (n > XF_TOK_MAX_VOCAB)
        return xf_error(XF_ERR_RANGE, "%s: tokenizer.ggml.merges: %llu merges (at most %d)", c->file,
                        (unsigned long long)n, XF_TOK_MAX_VOCAB);
    if ((st = merge_alloc(c, (size_t)n))) return st;
    char *buf = NULL;
    size_t cap = 0;
    for (size_t r = 0; r < n && !st; r++) {
        const char *s, *sp;
        size_t l;
        int32_t ids[3];
        if ((st = xf_gguf_arr_str(a, r, &s, &l))) break;
        if (l + 1 > cap) {
            char *p = xf_realloc(buf, l + 1);
            if (!p) {
                st = nomem(c);
                break;
            }
            buf = p;
            cap = l + 1;
        }
        if (l) memcpy(buf, s, l);
        buf[l] = '\0';
        sp = memchr(buf, ' ', l);
        size_t na = sp ? (size_t)(sp - buf) : 0, nb = sp ? l - na - 1 : 0;
        if (!sp || memchr(buf, '\0', l)) {
            st = xf_error(XF_ERR_FORMAT, "%s: tokenizer.ggml.merges[%zu]: \"%.80s\" is not \"left right\"", c->file, r, buf);
            break;
        }
        const char *parts[2] = {buf, sp + 1};
        size_t lens[2] = {na, nb};
        for (int k = 0; k < 2 && !st; k++)
            if (!xf_strmap_get(&c->tok->vocab, parts[k], lens[k], &ids[k]))
                st = xf_error(XF_ERR_FORMAT, "%s: tokenizer.ggml.merges[%zu]: token \"%.*s\" is not in tokenizer.ggml.tokens",
                              c->file, r, (int)(lens[k] > 80 ? 80 : lens[k]), parts[k]);
        if (st) break;
        memmove(buf + na, sp + 1, nb); /* "left right" -> "leftright" */
        if (!xf_strmap_get(&c->tok->vocab, buf, na + nb, &ids[2])) {
            st = xf_error(XF_ERR_FORMAT, "%s: tokenizer.ggml.merges[%zu]: merged token \"%.*s\" is not in tokenizer.ggml.tokens",
                          c->file, r, (int)(na + nb > 80 ? 80 : na + nb), buf);
            break;
        }
        st = put_merge(c, r, ids[0], ids[1], ids[2], 0);
    }
    free(buf);
    return st;
}

/* SentencePiece BPE merges from scores, as transformers' GGUF converter: every split of a token
 * into two vocabulary tokens is a merge; merges ranked by the merged token's score (highest
 * first), then vocabulary order, then the parts' scores (highest first). */
typedef struct cand {
    float score, sl, sr;
    int32_t t, l, r;
    uint32_t at;
} cand;

static int cand_cmp(const void *x, const void *y) {
    const cand *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    if (a->sl != b->sl) return a->sl > b->sl ? -1 : 1;
    if (a->sr != b->sr) return a->sr > b->sr ? -1 : 1;
    return a->at < b->at ? -1 : a->at > b->at;
}

static xf_status derive_merges(gctx *c) {
    cand *v = NULL;
    size_t n = 0, cap = 0;
    xf_status st = XF_OK;
    for (size_t t = 0; t < c->n && !st; t++) {
        if (c->type[t] == TT_CONTROL || c->type[t] == TT_UNKNOWN || c->type[t] == TT_BYTE) continue;
        const char *s = tstr(c, t);
        size_t len = c->len[t], i = 0;
        if (len) (void)xf_utf8_next(s, len, &i);
        while (i < len && !st) {
            int32_t l, r;
            if (xf_strmap_get(&c->tok->vocab, s, i, &l) && xf_strmap_get(&c->tok->vocab, s + i, len - i, &r)) {
                if (n == cap) {
                    size_t nc = cap ? 2 * cap : 1024;
                    cand *p = xf_realloc(v, nc * sizeof *p);
                    if (!p) {
                        st = nomem(c);
                        break;
                    }
                    v = p;
                    cap = nc;
                }
                v[n++] = (cand){c->score[t], c->score[l], c->score[r], (int32_t)t, l, r, (uint32_t)i};
            }
            (void)xf_utf8_next(s, len, &i);
        }
    }
    if (!st && n > XF_TOK_MAX_VOCAB)
        st = xf_error(XF_ERR_RANGE, "%s: tokenizer.ggml.tokens: %zu derived merges (at most %d)", c->file, n, XF_TOK_MAX_VOCAB);
    if (!st) qsort(v, n, sizeof *v, cand_cmp);
    if (!st) st = merge_alloc(c, n);
    for (size_t k = 0; k < n && !st; k++) st = put_merge(c, k, v[k].l, v[k].r, v[k].t, 1);
    free(v);
    return st;
}

static xf_status add_pretok(gctx *c, xf_pretok_step s) {
    xf_tokenizer *tok = c->tok;
    xf_pretok_step *p = xf_realloc(tok->pretok, (tok->n_pretok + 1) * sizeof *p);
    if (!p) {
        xf_regex_free(s.re);
        return nomem(c);
    }
    tok->pretok = p;
    p[tok->n_pretok++] = s;
    return XF_OK;
}

static xf_status regex_step(gctx *c, const char *pat, int bytelevel, xf_pretok_step *s) {
    char err[256];
    memset(s, 0, sizeof *s);
    s->kind = bytelevel ? XF_PRETOK_BYTELEVEL : XF_PRETOK_SPLIT;
    s->use_regex = bytelevel;
    s->behavior = XF_SPLIT_ISOLATED;
    if (!(s->re = xf_regex_compile(pat, strlen(pat), 0, err, sizeof err)))
        return xf_error(XF_ERR_FORMAT, "%s: tokenizer.ggml.pre: %s", c->file, err);
    return XF_OK;
}

static xf_status simple_step(gctx *c, xf_pretok_kind kind, int arg) {
    xf_pretok_step s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.individual_digits = s.use_regex = arg;
    if (kind == XF_PRETOK_BYTELEVEL && arg) {
        xf_status st = regex_step(c, xf_gpt2_pattern, 1, &s);
        if (st) return st;
    }
    return add_pretok(c, s);
}

/* Append a normalizer step (on failure the step's own memory is the caller's). */
static xf_status add_norm_step(gctx *c, xf_norm_step s) {
    xf_norm_step *p = xf_realloc(c->tok->norm, (c->tok->n_norm + 1) * sizeof *p);
    if (!p) return nomem(c);
    c->tok->norm = p;
    p[c->tok->n_norm++] = s;
    return XF_OK;
}

static xf_status add_norm_nfc(gctx *c) {
    xf_norm_step s;
    memset(&s, 0, sizeof s);
    s.kind = XF_NORM_NFC;
    return add_norm_step(c, s);
}

static xf_status pretok_chain(gctx *c, const xf_gguf_pre *e);

/* tokenizer.ggml.pre -> the pre-tokenizer chain of gguf_pre.c's table (absent = "default");
 * *flags receives the entry's XF_PRE_* flags. */
static xf_status gpt2_pretok(gctx *c, unsigned *flags) {
    const char *pre = "default";
    size_t plen = 7;
    xf_status st;
    if (xf_gguf_find(c->g, "tokenizer.ggml.pre") >= 0 &&
        (st = xf_gguf_get_str(c->g, "tokenizer.ggml.pre", &pre, &plen)))
        return st;
    const xf_gguf_pre *e = xf_gguf_pre_find(pre, plen);
    if (!e)
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s: tokenizer.ggml.pre: pre-tokenizer \"%.*s\" is not one llama.cpp knows "
                        "(docs/TOKENIZER.md lists the supported names)", c->file, (int)(plen > 60 ? 60 : plen), pre);
    *flags = e->flags;
    return pretok_chain(c, e);
}

/* The pre-tokenizer steps (and NFC normalizer) of a table entry. */
static xf_status pretok_chain(gctx *c, const xf_gguf_pre *e) {
    xf_status st;
    if ((e->flags & XF_PRE_NFC) && (st = add_norm_nfc(c))) return st;
    int bytelevel = 0;
    for (const char *const *p = e->steps; *p; p++) {
        xf_pretok_step s;
        switch (**p) {
        case 'S':
            if ((st = regex_step(c, *p + 1, 0, &s)) || (st = add_pretok(c, s))) return st;
            break;
        case 'P': /* tokenizers' Punctuation (contiguous): \p{P} or ASCII punctuation, one char a match */
            if ((st = regex_step(c, xf_punct_pattern, 0, &s))) return st;
            s.behavior = XF_SPLIT_CONTIGUOUS;
            if ((st = add_pretok(c, s))) return st;
            break;
        case 'D': case 'd':
            if ((st = simple_step(c, XF_PRETOK_DIGITS, **p == 'D'))) return st;
            break;
        case 'B':
            bytelevel = 1;
            if ((st = simple_step(c, XF_PRETOK_BYTELEVEL, 1))) return st;
            break;
        default: /* 'W' */
            if ((st = simple_step(c, XF_PRETOK_WHITESPACE_SPLIT, 0))) return st;
            break;
        }
    }
    if (bytelevel || (e->flags & XF_PRE_RAW)) return XF_OK;
    return simple_step(c, XF_PRETOK_BYTELEVEL, 0); /* bytes -> chars only */
}

static xf_status add_dec(gctx *c, xf_dec_kind k, const char *a, const char *b, size_t start) {
    xf_tokenizer *tok = c->tok;
    xf_dec_step *p = xf_realloc(tok->dec, (tok->n_dec + 1) * sizeof *p);
    if (!p) return nomem(c);
    tok->dec = p;
    xf_dec_step s;
    memset(&s, 0, sizeof s);
    s.kind = k;
    s.start = start;
    if ((a && !(s.a = xf_strdup(a))) || (b && !(s.b = xf_strdup(b)))) {
        free(s.a);
        return nomem(c);
    }
    s.a_len = a ? strlen(a) : 0;
    s.b_len = b ? strlen(b) : 0;
    p[tok->n_dec++] = s;
    return XF_OK;
}

static xf_status add_norm_cp(gctx *c, xf_norm_kind k, uint32_t pat, uint32_t str) {
    xf_tokenizer *tok = c->tok;
    xf_norm_step *p = xf_realloc(tok->norm, (tok->n_norm + 1) * sizeof *p);
    if (!p) return nomem(c);
    tok->norm = p;
    xf_norm_step s;
    memset(&s, 0, sizeof s);
    s.kind = k;
    s.str = xf_malloc(sizeof(int32_t));
    s.pat = k == XF_NORM_REPLACE ? xf_malloc(sizeof(int32_t)) : NULL;
    if (!s.str || (k == XF_NORM_REPLACE && !s.pat)) {
        free(s.str);
        free(s.pat);
        return nomem(c);
    }
    s.str[0] = (int32_t)str;
    s.str_len = 1;
    if (s.pat) s.pat[0] = (int32_t)pat, s.pat_len = 1;
    p[tok->n_norm++] = s;
    return XF_OK;
}

static xf_status build_template(gctx *c, int32_t bos, int32_t eos, int add_bos, int add_eos) {
    xf_tokenizer *tok = c->tok;
    if (add_bos && bos < 0)
        return xf_error(XF_ERR_NOT_FOUND, "%s: tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is missing", c->file);
    if (add_eos && eos < 0)
        return xf_error(XF_ERR_NOT_FOUND, "%s: tokenizer.ggml.add_eos_token is true but tokenizer.ggml.eos_token_id is missing", c->file);
    if (!add_bos && !add_eos) return XF_OK;
    if (!(tok->tpl_ids = xf_calloc(2, sizeof(int32_t))) || !(tok->tpl_single = xf_calloc(3, sizeof(xf_tpl_piece))) ||
        !(tok->tpl_pair = xf_calloc(6, sizeof(xf_tpl_piece))))
        return nomem(c);
    tok->tpl_ids[0] = bos;
    tok->tpl_ids[1] = eos;
    for (int seq = 0; seq < 2; seq++) {
        xf_tpl_piece *v = seq ? tok->tpl_pair : tok->tpl_single;
        size_t *n = seq ? &tok->n_tpl_pair : &tok->n_tpl_single;
        for (int part = 0; part <= seq; part++) {
            if (add_bos) v[(*n)++] = (xf_tpl_piece){0, 0, part, &tok->tpl_ids[0], 1};
            v[(*n)++] = (xf_tpl_piece){1, part, part, NULL, 0};
            if (add_eos) v[(*n)++] = (xf_tpl_piece){0, 0, part, &tok->tpl_ids[1], 1};
        }
    }
    tok->post = XF_POST_TEMPLATE;
    tok->added_single = (size_t)(add_bos + add_eos);
    tok->added_pair = 2 * tok->added_single;
    return XF_OK;
}

static xf_status build_rev(gctx *c) {
    xf_tokenizer *tok = c->tok;
    if (!(tok->rev_ids = xf_calloc(c->n, sizeof *tok->rev_ids)) || !(tok->rev_toks = xf_calloc(c->n, sizeof *tok->rev_toks)) ||
        !(tok->rev_special = xf_calloc(c->n, 1)))
        return nomem(c);
    for (size_t i = 0; i < c->n; i++) {
        tok->rev_ids[i] = (int32_t)i;
        tok->rev_toks[i] = tstr(c, i);
        tok->rev_special[i] = c->type[i] == TT_CONTROL || c->type[i] == TT_UNKNOWN;
    }
    tok->n_rev = tok->vocab_size = c->n;
    return XF_OK;
}

/* BERT vocabularies are stored by llama.cpp with a phantom space: "▁word" for a word start,
 * "piece" for a "##piece" continuation, control tokens as they are. Spell them back. */
static xf_status respell_wordpiece(gctx *c) {
    xf_tokenizer *tok = c->tok;
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++) total += c->len[i] + 3;
    char *s = xf_malloc(total ? total : 1);
    if (!s) return nomem(c);
    xf_strmap_free(&tok->vocab);
    memset(&tok->vocab, 0, sizeof tok->vocab);
    tok->max_key_len = 0;
    size_t at = 0;
    xf_status st = XF_OK;
    for (size_t i = 0; i < c->n && !st; i++) {
        const char *t = tstr(c, i);
        size_t l = c->len[i], off = at;
        if (c->type[i] != TT_CONTROL && l >= 3 && !memcmp(t, "\xE2\x96\x81", 3)) {
            memcpy(s + at, t + 3, l - 3), at += l - 3;
        } else {
            if (c->type[i] != TT_CONTROL) memcpy(s + at, "##", 2), at += 2;
            memcpy(s + at, t, l), at += l;
        }
        s[at++] = '\0';
        c->off[i] = off;
        c->len[i] = (uint32_t)(at - 1 - off);
        int32_t old;
        if (!xf_strmap_get(&tok->vocab, s + off, c->len[i], &old)) st = xf_strmap_put(&tok->vocab, s + off, c->len[i], (int32_t)i);
        if (c->len[i] > tok->max_key_len) tok->max_key_len = c->len[i];
    }
    free(tok->tok_strings);
    tok->tok_strings = s;
    return st ? xf_error_wrap(st, "%s", c->file) : XF_OK;
}

/* model "bert": WordPiece as the BERT tokenizer.json it came from (BertNormalizer, lowercase
 * unless tokenizer.ggml.normalizer.lowercase says otherwise; BertPreTokenizer; [CLS] A [SEP]). */
static xf_status load_bert(gctx *c, int32_t unk) {
    xf_tokenizer *tok = c->tok;
    xf_status st;
    int lower = 1, strip = -1;
    if ((st = respell_wordpiece(c)) || (st = opt_bool(c, "tokenizer.ggml.normalizer.lowercase", &lower)) ||
        (st = opt_bool(c, "tokenizer.ggml.normalizer.strip_accents", &strip)))
        return st;
    tok->model = XF_MODEL_WORDPIECE;
    tok->max_input_chars_per_word = 100;
    free(tok->prefix);
    if (!(tok->prefix = xf_strdup("##"))) return nomem(c);
    tok->prefix_len = 2;
    if (unk < 0 && !xf_strmap_get(&tok->vocab, "[UNK]", 5, &unk)) unk = -1;
    tok->unk_id = unk;
    if (!(tok->unk_token = xf_strdup(unk >= 0 ? tstr(c, (size_t)unk) : "[UNK]"))) return nomem(c);
    xf_norm_step *n = xf_calloc(1, sizeof *n);
    if (!n) return nomem(c);
    n->kind = XF_NORM_BERT;
    n->clean_text = n->handle_chinese_chars = 1;
    n->lowercase = lower;
    n->strip_accents = strip < 0 ? lower : strip;
    tok->norm = n;
    tok->n_norm = 1;
    xf_pretok_step p;
    memset(&p, 0, sizeof p);
    p.kind = XF_PRETOK_BERT;
    if ((st = add_pretok(c, p)) || (st = add_dec(c, XF_DEC_WORDPIECE, "##", NULL, 0))) return st;
    tok->dec[tok->n_dec - 1].cleanup = 1;
    int32_t cls, sep;
    if ((st = opt_id(c, "tokenizer.ggml.cls_token_id", &cls)) || (st = opt_id(c, "tokenizer.ggml.seperator_token_id", &sep)))
        return st;
    if (cls < 0 && (st = opt_id(c, "tokenizer.ggml.bos_token_id", &cls))) return st;
    if (cls >= 0 && sep >= 0) {
        tok->post = XF_POST_BERT;
        tok->bert_cls = cls;
        tok->bert_sep = sep;
        tok->added_single = 2;
        tok->added_pair = 3;
    }
    return XF_OK;
}

/* model "llama": SentencePiece BPE, merges derived from the scores. */
static xf_status load_spm_bpe(gctx *c, int32_t unk, int add_space) {
    xf_tokenizer *tok = c->tok;
    xf_status st;
    int have;
    if (!(c->score = xf_calloc(c->n, sizeof *c->score))) return nomem(c);
    if ((st = per_token(c, "tokenizer.ggml.scores", 1, c->score, &have))) return st;
    if (!have) return xf_error(XF_ERR_NOT_FOUND, "%s: tokenizer.ggml.scores: required for model \"llama\"", c->file);
    for (size_t i = 0; i < c->n; i++)
        if (!isfinite(c->score[i]))
            return xf_error(XF_ERR_FORMAT, "%s: tokenizer.ggml.scores[%zu]: not a finite number", c->file, i);
    if ((st = derive_merges(c))) return st;
    tok->fuse_unk = 1;
    if (unk < 0) unk = xf_strmap_get(&tok->vocab, "<unk>", 5, &unk) ? unk : -1;
    if (unk >= 0) {
        if (!(tok->unk_token = xf_strdup(tstr(c, (size_t)unk)))) return nomem(c);
        tok->unk_id = unk;
    }
    if ((add_space && (st = add_norm_cp(c, XF_NORM_PREPEND, 0, 0x2581))) || (st = add_norm_cp(c, XF_NORM_REPLACE, ' ', 0x2581)))
        return st;
    return XF_OK;
}

/* The decoder of SentencePiece-style vocabularies: ▁ -> ' ', <0xNN> bytes, joined, and (when a
 * space was prepended) the first space stripped. */
static xf_status spm_decoder(gctx *c, int strip_first) {
    xf_status st;
    if ((st = add_dec(c, XF_DEC_REPLACE, "\xE2\x96\x81", " ", 0)) || (st = add_dec(c, XF_DEC_BYTEFALLBACK, NULL, NULL, 0)) ||
        (st = add_dec(c, XF_DEC_FUSE, NULL, NULL, 0)))
        return st;
    return strip_first ? add_dec(c, XF_DEC_STRIP, " ", NULL, 1) : XF_OK;
}

/* model "t5": Unigram as transformers' SentencePiece converter builds it: normalizer
 * [Precompiled(tokenizer.ggml.precompiled_charsmap)] + (remove_extra_whitespaces:) Strip(right) +
 * Replace(/ {2,}/, "▁"); Metaspace pre-tokenizer (prepend "▁" when add_space_prefix); scores
 * as the pieces' log probabilities; unk = unknown_token_id (default 2); <0xNN> byte fallback
 * when the vocabulary has byte tokens; the Metaspace decoder. */
static xf_status load_t5(gctx *c, int32_t unk, int add_space) {
    xf_tokenizer *tok = c->tok;
    xf_status st;
    int have, extra_ws = 0;
    if (!(c->score = xf_calloc(c->n, sizeof *c->score))) return nomem(c);
    if ((st = per_token(c, "tokenizer.ggml.scores", 1, c->score, &have))) return st;
    if (!have) return xf_error(XF_ERR_NOT_FOUND, "%s: tokenizer.ggml.scores: required for model \"t5\"", c->file);
    double *sc = xf_malloc(c->n * sizeof *sc);
    if (!sc) return nomem(c);
    for (size_t i = 0; i < c->n && !st; i++) {
        if (!isfinite(c->score[i]))
            st = xf_error(XF_ERR_FORMAT, "%s: tokenizer.ggml.scores[%zu]: not a finite number", c->file, i);
        sc[i] = c->score[i];
        if (c->type[i] == TT_BYTE) tok->byte_fallback = 1;
    }
    if (unk < 0 && c->n > 2) unk = 2;
    tok->unk_id = unk;
    if (!st && unk >= 0 && !(tok->unk_token = xf_strdup(tstr(c, (size_t)unk)))) st = nomem(c);
    if (!st) st = xf_unigram_init(tok, sc, c->n);
    free(sc);
    if (st || (st = opt_bool(c, "tokenizer.ggml.remove_extra_whitespaces", &extra_ws))) return st;
    xf_norm_step n;
    char where[300];
    snprintf(where, sizeof where, "%s: tokenizer.ggml.precompiled_charsmap", c->file);
    if (xf_gguf_find(c->g, "tokenizer.ggml.precompiled_charsmap") >= 0) {
        const xf_gguf_arr *a;
        if ((st = xf_gguf_get_arr(c->g, "tokenizer.ggml.precompiled_charsmap", &a))) return st;
        if (xf_gguf_arr_type(a) != XF_GGUF_UINT8 && xf_gguf_arr_type(a) != XF_GGUF_INT8)
            return xf_error(XF_ERR_FORMAT, "%s: must be an array of uint8 or int8", where);
        memset(&n, 0, sizeof n);
        n.kind = XF_NORM_PRECOMPILED;
        if ((st = xf_precompiled_init(&n, xf_gguf_arr_data(a), (size_t)xf_gguf_arr_count(a), where))) return st;
        if ((st = add_norm_step(c, n))) {
            xf_norm_step_free(&n);
            return st;
        }
    }
    if (extra_ws) {
        char err[256];
        memset(&n, 0, sizeof n);
        n.kind = XF_NORM_STRIP;
        n.strip_right = 1;
        if ((st = add_norm_step(c, n))) return st;
        memset(&n, 0, sizeof n);
        n.kind = XF_NORM_REPLACE_RE;
        if (!(n.re = xf_regex_compile(" {2,}", 5, 0, err, sizeof err))) return xf_error(XF_ERR_FORMAT, "%s", err);
        n.content_len = 3;
        if (!(n.content = xf_strdup("\xE2\x96\x81")) || (st = add_norm_step(c, n))) {
            xf_norm_step_free(&n);
            return st ? st : nomem(c);
        }
    }
    xf_pretok_step p;
    char err[256];
    memset(&p, 0, sizeof p);
    p.kind = XF_PRETOK_METASPACE;
    memcpy(p.rep, "\xE2\x96\x81", 4);
    p.prepend = add_space ? 2 : 0;
    if (!(p.re = xf_regex_compile(p.rep, 3, 1, err, sizeof err))) return xf_error(XF_ERR_FORMAT, "%s", err);
    if ((st = add_pretok(c, p)) || (st = add_dec(c, XF_DEC_METASPACE, "\xE2\x96\x81", NULL, 0))) return st;
    tok->dec[tok->n_dec - 1].prepend_never = !add_space;
    return XF_OK;
}

enum { M_GPT2, M_LLAMA, M_BERT, M_GEMMA4, M_T5 };

static xf_status from_gguf(gctx *c) {
    xf_tokenizer *tok = c->tok;
    const char *model;
    size_t mlen;
    xf_status st = xf_gguf_get_str(c->g, "tokenizer.ggml.model", &model, &mlen);
    if (st) return st;
    static const char *const names[] = {"gpt2", "llama", "bert", "gemma4", "t5"};
    int m = 0;
    while (m < 5 && !(strlen(names[m]) == mlen && !memcmp(model, names[m], mlen))) m++;
    if (m == 5)
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s: tokenizer.ggml.model: tokenizer model \"%.*s\" is not supported (gpt2, llama, bert, gemma4, t5)",
                        c->file, (int)(mlen > 60 ? 60 : mlen), model);
    tok->model = XF_MODEL_BPE;
    if ((st = load_tokens(c))) return st;
    int have;
    if (!(c->type = xf_calloc(c->n, sizeof *c->type))) return nomem(c);
    if ((st = per_token(c, "tokenizer.ggml.token_type", 0, c->type, &have))) return st;
    if (!have)
        for (size_t i = 0; i < c->n; i++) c->type[i] = TT_NORMAL;
    if (!(tok->prefix = xf_strdup("")) || !(tok->suffix = xf_strdup(""))) return nomem(c);
    int32_t bos, eos, unk;
    int add_bos = m == M_LLAMA, add_eos = 0, add_space = m == M_LLAMA;
    unsigned pre = 0;
    if ((st = opt_id(c, "tokenizer.ggml.bos_token_id", &bos)) || (st = opt_id(c, "tokenizer.ggml.eos_token_id", &eos)) ||
        (st = opt_id(c, "tokenizer.ggml.unknown_token_id", &unk)))
        return st;
    if (m == M_GPT2 && (st = gpt2_pretok(c, &pre))) return st;
    const xf_gguf_pre *gemma4 = xf_gguf_pre_find("gemma4", 6);
    if (m == M_GEMMA4 && (st = pretok_chain(c, gemma4))) return st;
    if (m == M_GEMMA4) pre = gemma4->flags;
    /* llama.cpp's defaults, where the file has the token: BOS for some pre-tokenizers, EOS for t5 */
    if ((pre & XF_PRE_ADD_BOS) && bos >= 0) add_bos = 1;
    if (m == M_T5 && eos >= 0) add_eos = 1;
    if ((st = opt_bool(c, "tokenizer.ggml.add_bos_token", &add_bos)) ||
        (st = opt_bool(c, "tokenizer.ggml.add_eos_token", &add_eos)) ||
        (st = opt_bool(c, "tokenizer.ggml.add_space_prefix", &add_space)))
        return st;
    if (m == M_GEMMA4) add_bos = 0; /* as transformers reads a Gemma 4 GGUF: its chat template writes <bos> */
    tok->ignore_merges = (pre & XF_PRE_IGNORE_MERGES) != 0;
    if (m == M_GPT2 || m == M_GEMMA4) {
        if ((st = load_merges(c))) return st;
        if (pre & XF_PRE_ESCAPE_SPACES) {
            if ((add_space && (st = add_norm_cp(c, XF_NORM_PREPEND, 0, 0x2581))) ||
                (st = add_norm_cp(c, XF_NORM_REPLACE, ' ', 0x2581)))
                return st;
        }
        if (pre & XF_PRE_RAW) { /* as transformers' GemmaTokenizer: byte fallback, <unk> fused */
            tok->byte_fallback = tok->fuse_unk = 1;
            if (unk < 0 && !xf_strmap_get(&tok->vocab, "<unk>", 5, &unk)) unk = -1;
            if (unk >= 0 && !(tok->unk_token = xf_strdup(tstr(c, (size_t)unk)))) return nomem(c);
            tok->unk_id = unk;
            st = spm_decoder(c, add_space && (pre & XF_PRE_ESCAPE_SPACES));
        } else {
            st = add_dec(c, XF_DEC_BYTELEVEL, NULL, NULL, 0);
        }
    } else if (m == M_LLAMA) {
        tok->byte_fallback = 1;
        if (!(st = load_spm_bpe(c, unk, add_space))) st = spm_decoder(c, 1);
    } else if (m == M_T5) {
        st = load_t5(c, unk, add_space);
    } else {
        st = load_bert(c, unk);
    }
    if (st) return st;
    tok->has_decoder = 1;
    if ((st = add_added(c))) return st;
    if (m != M_BERT && (st = build_template(c, bos, eos, add_bos, add_eos))) return st;
    return build_rev(c);
}

xf_status xf_tokenizer_from_gguf(const xf_gguf *g, xf_tokenizer **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_from_gguf: out is NULL");
    *out = NULL;
    if (!g) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_from_gguf: gguf is NULL");
    xf_tokenizer *tok = xf_calloc(1, sizeof *tok);
    if (!tok) return xf_error(XF_ERR_NOMEM, "xf_tokenizer_from_gguf: out of memory");
    tok->unk_id = -1;
    gctx c = {0};
    c.tok = tok;
    c.g = g;
    xf_status st = XF_OK;
    if (!(tok->path = xf_strdup(xf_gguf_path(g) ? xf_gguf_path(g) : "(gguf)"))) st = xf_error(XF_ERR_NOMEM, "out of memory");
    c.file = tok->path;
    if (!st) st = from_gguf(&c);
    free(c.off);
    free(c.len);
    free(c.type);
    free(c.score);
    if (st) {
        xf_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return XF_OK;
}

xf_status xf_tokenizer_load_gguf(const char *path, xf_tokenizer **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_load_gguf: out is NULL");
    *out = NULL;
    if (!path || !*path) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_load_gguf: path is NULL or empty");
    xf_gguf *g = NULL;
    xf_status st = xf_gguf_open(path, &g);
    if (st) return st;
    st = xf_tokenizer_from_gguf(g, out);
    xf_gguf_close(g);
    return st;
}
