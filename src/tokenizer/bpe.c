/* bpe.c — the BPE model of tokenizers (no dropout): a word becomes one symbol per char (with
 * continuing-subword prefix / end-of-word suffix, byte fallback <0xXX>, unk / fuse_unk), then
 * pairs are merged lowest rank first (ties: leftmost) with a binary heap over a linked list —
 * O(n log n) per word, the exact order of tokenizers' Word::merge_all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

typedef struct sym {
    int32_t id;
    int32_t prev, next; /* -1 = none */
    int alive;
} sym;

typedef struct merge {
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
} merge;

typedef struct bpe_ctx {
    sym *s;
    size_t n, cap;
    merge *h;
    size_t hn, hcap;
} bpe_ctx;

static int before(const merge *a, const merge *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static xf_status heap_push(bpe_ctx *c, merge m) {
    if (c->hn == c->hcap) {
        size_t nc = c->hcap ? 2 * c->hcap : 64;
        merge *p = xf_realloc(c->h, nc * sizeof *p);
        if (!p) return xf_error(XF_ERR_NOMEM, "BPE: out of memory");
        c->h = p;
        c->hcap = nc;
    }
    size_t i = c->hn++;
    while (i > 0 && before(&m, &c->h[(i - 1) / 2])) {
        c->h[i] = c->h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    c->h[i] = m;
    return XF_OK;
}

static merge heap_pop(bpe_ctx *c) {
    merge top = c->h[0], last = c->h[--c->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const merge *best = &last;
        if (l < c->hn && before(&c->h[l], best)) m = l, best = &c->h[l];
        if (r < c->hn && before(&c->h[r], best)) m = r;
        if (m == i) break;
        c->h[i] = c->h[m];
        i = m;
    }
    if (c->hn) c->h[i] = last;
    return top;
}

static xf_status add_sym(bpe_ctx *c, int32_t id) {
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 64;
        sym *p = xf_realloc(c->s, nc * sizeof *p);
        if (!p) return xf_error(XF_ERR_NOMEM, "BPE: out of memory");
        c->s = p;
        c->cap = nc;
    }
    c->s[c->n] = (sym){id, (int32_t)c->n - 1, -1, 1};
    if (c->n) c->s[c->n - 1].next = (int32_t)c->n;
    c->n++;
    return XF_OK;
}

/* rank and new id of the pair (a, b), or 0 */
static int find_merge(const xf_tokenizer *tok, int32_t a, int32_t b, uint32_t *rank, int32_t *new_id) {
    int32_t key[2] = {a, b}, r;
    if (!xf_strmap_get(&tok->merges, (const char *)key, sizeof key, &r)) return 0;
    *rank = (uint32_t)r;
    *new_id = tok->merge_new[r];
    return 1;
}

static xf_status push_pair(const xf_tokenizer *tok, bpe_ctx *c, size_t pos) {
    uint32_t rank;
    int32_t nid;
    int32_t nx = c->s[pos].next;
    if (nx < 0 || !find_merge(tok, c->s[pos].id, c->s[nx].id, &rank, &nid)) return XF_OK;
    return heap_push(c, (merge){rank, (uint32_t)pos, nid});
}

static xf_status unk_id(const xf_tokenizer *tok, int32_t *id) {
    if (tok->unk_id >= 0) return *id = tok->unk_id, XF_OK;
    return xf_error(XF_ERR_FORMAT, "%s: model.unk_token \"%s\" is not in model.vocab", tok->path, tok->unk_token);
}

/* tokenizers' BPE::merge_word, before merging: the initial symbols. */
static xf_status initial_symbols(const xf_tokenizer *tok, const char *w, size_t len, bpe_ctx *c) {
    size_t i = 0, cap = tok->prefix_len + 4 + tok->suffix_len;
    char *s = xf_malloc(cap + 1);
    if (!s) return xf_error(XF_ERR_NOMEM, "BPE: out of memory");
    int pending_unk = 0; /* an unk symbol waiting (fused with the next unknown char if fuse_unk) */
    xf_status st = XF_OK;
    while (i < len && !st) {
        size_t at = i, n = 0;
        (void)xf_utf8_next(w, len, &i);
        if (at > 0) memcpy(s, tok->prefix, tok->prefix_len), n = tok->prefix_len;
        memcpy(s + n, w + at, i - at);
        n += i - at;
        if (i == len) memcpy(s + n, tok->suffix, tok->suffix_len), n += tok->suffix_len;
        int32_t id;
        if (xf_strmap_get(&tok->vocab, s, n, &id)) {
            int32_t u = -1;
            if (pending_unk && ((st = unk_id(tok, &u)) || (st = add_sym(c, u)))) break;
            pending_unk = 0;
            st = add_sym(c, id);
            continue;
        }
        if (tok->byte_fallback) {
            int32_t ids[64];
            size_t k = 0;
            for (; k < n && k < 64; k++) {
                char code[8];
                snprintf(code, sizeof code, "<0x%02X>", (unsigned char)s[k]);
                if (!xf_strmap_get(&tok->vocab, code, 6, &ids[k])) break;
            }
            if (k == n) {
                for (size_t q = 0; q < n && !st; q++) st = add_sym(c, ids[q]);
                continue; /* note: a pending unk stays pending, as in tokenizers */
            }
        }
        if (!tok->unk_token) continue; /* no unk: the char is dropped */
        if (pending_unk && !tok->fuse_unk) {
            int32_t u = -1;
            if (!(st = unk_id(tok, &u))) st = add_sym(c, u);
        }
        pending_unk = 1;
    }
    if (!st && pending_unk) {
        int32_t u = -1;
        if (!(st = unk_id(tok, &u))) st = add_sym(c, u);
    }
    free(s);
    return st;
}

xf_status xf_bpe(const xf_tokenizer *tok, const char *w, size_t len, xf_tok_ids *out) {
    if (len == 0) return XF_OK;
    int32_t id;
    if (tok->ignore_merges && xf_strmap_get(&tok->vocab, w, len, &id)) return xf_ids_push(out, id);
    bpe_ctx c = {0};
    xf_status st = initial_symbols(tok, w, len, &c);
    if (!st && c.n > (size_t)INT32_MAX) st = xf_error(XF_ERR_RANGE, "BPE: word too long");
    for (size_t p = 0; p + 1 < c.n && !st; p++) st = push_pair(tok, &c, p);
    while (c.hn && !st) {
        merge top = heap_pop(&c);
        sym *cur = &c.s[top.pos];
        if (!cur->alive || cur->next < 0) continue;
        sym *right = &c.s[cur->next];
        uint32_t rank;
        int32_t nid;
        /* an expired entry: the pair there no longer merges into the same token */
        if (!find_merge(tok, cur->id, right->id, &rank, &nid) || nid != top.new_id) continue;
        cur->id = top.new_id;
        right->alive = 0;
        cur->next = right->next;
        if (right->next >= 0) c.s[right->next].prev = (int32_t)top.pos;
        if (cur->prev >= 0) st = push_pair(tok, &c, (size_t)cur->prev);
        if (!st) st = push_pair(tok, &c, top.pos);
    }
    for (size_t p = 0; p < c.n && !st; p++)
        if (c.s[p].alive) st = xf_ids_push(out, c.s[p].id);
    free(c.s);
    free(c.h);
    return st;
}
