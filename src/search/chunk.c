/* chunk.c — blocks to chunks within the model's token limit (see chunk.h): DOM-aware packing
 * under heading paths, and the fixed-size token-window baseline. Oversized text is cut at word
 * boundaries using per-word token counts; every chunk's final embedding text is counted again
 * with the real tokenizer and shortened if the per-word estimate fell short. */
#include "search/chunk.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_WORD_BYTES 64 /* longer runs without spaces are cut (base64, minified code) */

/* The word separators of the chunker: the word count without a tokenizer uses the same set, so a
 * chunk cut at N words counts N words again. */
static int is_space(char ch) { return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v'; }

xf_status xf_count_tokens(const xf_tokenizer *tok, const char *s, size_t len, size_t *n) {
    if (!tok) {
        size_t w = 0;
        for (size_t i = 0; i < len; i++)
            if (!is_space(s[i]) && (i == 0 || is_space(s[i - 1]))) w++;
        *n = w;
        return XF_OK;
    }
    xf_encoding enc;
    xf_status st = xf_tokenize(tok, s, len, NULL, 0, 0, &enc);
    if (st) return st;
    *n = enc.n;
    xf_encoding_free(&enc);
    return XF_OK;
}

void xf_chunks_free(xf_chunks *c) {
    xf_doc_free(&c->store);
    free(c->v);
    memset(c, 0, sizeof *c);
}

xf_status xf_chunk_embed_text(const xf_chunks *c, size_t i, xf_tok_buf *buf) {
    const xf_chunk *k = &c->v[i];
    buf->len = 0;
    xf_status st = XF_OK;
    if (k->path.len) {
        st = xf_buf_append(buf, xf_doc_str(&c->store, k->path), k->path.len);
        if (!st) st = xf_buf_append(buf, "\n", 1);
    }
    if (!st) st = xf_buf_append(buf, xf_doc_str(&c->store, k->text), k->text.len);
    if (!st) st = xf_buf_reserve(buf, 1);
    if (!st) buf->data[buf->len] = '\0';
    return st;
}

typedef struct word {
    size_t off, len;  /* in the text being cut */
    size_t ntok;      /* tokens of the word (with the space before it) */
    uint32_t line0, line1;
    xf_span anchor;   /* of the block it came from (doc arena) */
} word;

/* Token counts of words seen before in this document (natural text repeats its words: one
 * tokenizer call per distinct word instead of per word). Open addressing, cleared when full. */
#define CACHE_SLOTS 65536
typedef struct wcache {
    uint64_t *hash;  /* 0 = empty */
    uint32_t *count;
    size_t used;
} wcache;

typedef struct ck {
    const xf_doc *d;
    wcache cache;
    const xf_chunk_cfg *cfg;
    xf_chunks *out;
    size_t n_special;
    xf_tok_buf text; /* text being cut into windows, or packed blocks */
    xf_tok_buf tmp;
    word *w;
    size_t nw, capw;
} ck;

static xf_status count(ck *c, const char *s, size_t len, size_t *n) {
    size_t t;
    xf_status st = xf_count_tokens(c->cfg->tok, s, len, &t);
    if (st) return st;
    *n = t > c->n_special ? t - c->n_special : 0;
    return XF_OK;
}

static uint64_t fnv1a(const char *s, size_t n, int space) {
    uint64_t h = 1469598103934665603ull;
    if (space) h = (h ^ ' ') * 1099511628211ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h | 1; /* never 0 */
}

/* Tokens of word s[0..n), preceded by a space when `space` (as in running text). */
static xf_status word_tokens(ck *c, const char *s, size_t n, int space, size_t *nt) {
    wcache *w = &c->cache;
    if (!w->hash) {
        w->hash = calloc(CACHE_SLOTS, sizeof *w->hash);
        w->count = malloc(CACHE_SLOTS * sizeof *w->count);
        if (!w->hash || !w->count) return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    uint64_t h = fnv1a(s, n, space);
    size_t slot = (size_t)(h % CACHE_SLOTS);
    while (w->hash[slot] && w->hash[slot] != h) slot = (slot + 1) % CACHE_SLOTS;
    if (w->hash[slot] == h) { /* a 64-bit hash collision would only shift a window's estimate */
        *nt = w->count[slot];
        return XF_OK;
    }
    c->tmp.len = 0;
    xf_status st = space ? xf_buf_append(&c->tmp, " ", 1) : XF_OK;
    if (!st) st = xf_buf_append(&c->tmp, s, n);
    if (!st) st = count(c, c->tmp.data, c->tmp.len, nt);
    if (st) return st;
    if (w->used >= CACHE_SLOTS / 2) { /* keep probes short */
        memset(w->hash, 0, CACHE_SLOTS * sizeof *w->hash);
        w->used = 0;
        slot = (size_t)(h % CACHE_SLOTS);
    }
    w->hash[slot] = h;
    w->count[slot] = (uint32_t)*nt;
    w->used++;
    return XF_OK;
}

/* Words of c->text[from..len) appended to c->w, with token counts. */
static xf_status add_words(ck *c, size_t from, uint32_t line0, uint32_t line1, xf_span anchor) {
    const char *s = c->text.data;
    size_t len = c->text.len, i = from, prev_end = from;
    while (i < len) {
        while (i < len && is_space(s[i])) i++;
        if (i >= len) break;
        size_t j = i;
        while (j < len && !is_space(s[j]) && j - i < MAX_WORD_BYTES) j++;
        while (j < len && j > i && ((unsigned char)s[j] & 0xC0) == 0x80) j--; /* UTF-8 boundary */
        if (j == i) j = i + 1;
        if (c->nw == c->capw) {
            size_t cap = c->capw ? 2 * c->capw : 256;
            word *v = realloc(c->w, cap * sizeof *v);
            if (!v) return xf_error(XF_ERR_NOMEM, "out of memory for %zu words", cap);
            c->w = v;
            c->capw = cap;
        }
        size_t nt = 0;
        xf_status st = word_tokens(c, s + i, j - i, i > prev_end, &nt);
        if (st) return st;
        c->w[c->nw++] = (word){i, j - i, nt, line0, line1, anchor};
        prev_end = i = j;
    }
    return XF_OK;
}

static xf_status push_chunk(ck *c, const char *text, size_t len, xf_span path, xf_span anchor,
                            uint32_t line0, uint32_t line1) {
    xf_chunks *o = c->out;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        xf_chunk *v = realloc(o->v, cap * sizeof *v);
        if (!v) return xf_error(XF_ERR_NOMEM, "out of memory for %zu chunks", cap);
        o->v = v;
        o->cap = cap;
    }
    xf_chunk k = {.line0 = line0, .line1 = line1 < line0 ? line0 : line1};
    xf_status st = xf_doc_put(&o->store, text, len, 0, &k.text);
    if (!st) st = xf_doc_put(&o->store, xf_doc_str(c->d, path), path.len, 0, &k.path);
    if (!st) st = xf_doc_put(&o->store, xf_doc_str(c->d, anchor), anchor.len, 0, &k.anchor);
    if (st) return st;
    if (k.text.len) o->v[o->n++] = k;
    return XF_OK;
}

/* Tokens of "path\n" (0 for an empty path), specials excluded. */
static xf_status path_tokens(ck *c, xf_span path, size_t *n) {
    *n = 0;
    if (!path.len) return XF_OK;
    c->tmp.len = 0;
    xf_status st = xf_buf_append(&c->tmp, xf_doc_str(c->d, path), path.len);
    if (!st) st = xf_buf_append(&c->tmp, "\n", 1);
    return st ? st : count(c, c->tmp.data, c->tmp.len, n);
}

/* Does "path\n" + text fit max_tokens with the real tokenizer? */
static xf_status fits(ck *c, xf_span path, const char *text, size_t len, int *ok) {
    c->tmp.len = 0;
    xf_status st = XF_OK;
    if (path.len) {
        st = xf_buf_append(&c->tmp, xf_doc_str(c->d, path), path.len);
        if (!st) st = xf_buf_append(&c->tmp, "\n", 1);
    }
    if (!st) st = xf_buf_append(&c->tmp, text, len);
    size_t n = 0;
    if (!st) st = xf_count_tokens(c->cfg->tok, c->tmp.data, c->tmp.len, &n);
    *ok = n <= c->cfg->max_tokens;
    return st;
}

/* Cut words w[0..nw) of c->text into windows of at most `budget` tokens, consecutive windows
 * sharing about `overlap` tokens, and push them as chunks under path. */
static xf_status windows(ck *c, size_t budget, size_t overlap, xf_span path) {
    const char *s = c->text.data;
    size_t a = 0;
    if (budget < 1) budget = 1;
    while (a < c->nw) {
        size_t b = a, sum = 0;
        while (b < c->nw && (b == a || sum + c->w[b].ntok <= budget)) sum += c->w[b++].ntok;
        for (;;) { /* the estimate may be short for byte-level BPE: shrink until it fits */
            size_t off = c->w[a].off, end = c->w[b - 1].off + c->w[b - 1].len;
            int ok = 1;
            xf_status st = c->cfg->tok ? fits(c, path, s + off, end - off, &ok) : XF_OK;
            if (st) return st;
            if (ok) {
                uint32_t l0 = c->w[a].line0, l1 = c->w[b - 1].line1;
                if ((st = push_chunk(c, s + off, end - off, path, c->w[a].anchor, l0, l1))) return st;
                break;
            }
            if (b == a + 1) { /* one word over the limit: its longest prefix that fits */
                size_t lo = 0, hi = end - off; /* fits(lo) is true (empty), fits(hi) false */
                while (hi - lo > 1) {
                    size_t mid = lo + (hi - lo) / 2;
                    if ((st = fits(c, path, s + off, mid, &ok))) return st;
                    if (ok) lo = mid;
                    else hi = mid;
                }
                while (lo > 0 && ((unsigned char)s[off + lo] & 0xC0) == 0x80) lo--; /* whole characters */
                if (lo == 0) /* not even one character fits: keep it whole rather than loop */
                    for (lo = 1; off + lo < end && ((unsigned char)s[off + lo] & 0xC0) == 0x80;) lo++;
                if ((st = push_chunk(c, s + off, lo, path, c->w[a].anchor, c->w[a].line0, c->w[a].line1))) return st;
                if (lo < end - off) {
                    c->w[a].off += lo, c->w[a].len -= lo;
                    if ((st = count(c, s + c->w[a].off, c->w[a].len, &c->w[a].ntok))) return st;
                    b = a; /* the rest of the word starts the next window */
                }
                break;
            }
            b--;
        }
        if (b == a) continue;
        if (b >= c->nw) break;
        size_t next = b, back = 0; /* step back over `overlap` tokens, but always move forward */
        while (next > a + 1 && back + c->w[next - 1].ntok <= overlap) back += c->w[--next].ntok;
        a = next;
    }
    return XF_OK;
}

/* Close the group of blocks [first, end): their texts joined by newlines, under path. */
static xf_status close_group(ck *c, size_t first, size_t end, xf_span path, size_t budget) {
    const xf_doc *d = c->d;
    xf_status st = XF_OK;
    c->text.len = 0;
    uint32_t l0 = d->v[first].line0, l1 = 0;
    for (size_t k = first; k < end && !st; k++) {
        const xf_block *g = &d->v[k];
        if (g->kind == XF_BLOCK_HEADING) continue;
        if (c->text.len) st = xf_buf_append(&c->text, "\n", 1);
        if (!st) st = xf_buf_append(&c->text, xf_doc_str(d, g->text), g->text.len);
        if (g->line1 > l1) l1 = g->line1;
    }
    int ok = 1;
    if (!st && c->cfg->tok) st = fits(c, path, c->text.data, c->text.len, &ok);
    if (!st && ok) return push_chunk(c, c->text.data, c->text.len, path, d->v[first].anchor, l0, l1);
    if (!st) { /* the per-block estimate fell short: cut the group at words */
        c->nw = 0;
        st = add_words(c, 0, l0, l1, d->v[first].anchor);
        if (!st) st = windows(c, budget, 0, path);
    }
    return st;
}

/* DOM-aware: the blocks of one section (same heading path, definition terms aside) packed up to
 * the budget, definitions kept with their terms. */
static xf_status pack_dom(ck *c) {
    const xf_doc *d = c->d;
    size_t max = c->cfg->max_tokens > c->n_special ? c->cfg->max_tokens - c->n_special : 1;
    xf_status st = XF_OK;
    size_t first = 0, nb = 0, sum = 0, budget = 0; /* the open group: nb blocks from first */
    xf_span path = {0, 0};
    for (size_t i = 0; i <= d->n && !st; i++) {
        const xf_block *b = i < d->n ? &d->v[i] : NULL;
        if (b && b->kind == XF_BLOCK_HEADING) continue;
        size_t bt = 0;
        if (b && (st = count(c, xf_doc_str(d, b->text), b->text.len, &bt))) break;
        int same = b && nb && b->section.len == path.len &&
                   !memcmp(xf_doc_str(d, b->section), xf_doc_str(d, path), path.len);
        if (nb && (!same || sum + bt + 1 > budget)) {
            size_t end = i;
            if (same) /* full: terms at its end move on with their definitions */
                while (end - 1 > first && d->v[end - 1].kind == XF_BLOCK_TERM) end--;
            st = close_group(c, first, end, path, budget);
            nb = 0;
            if (end < i) {
                i = end - 1; /* the loop goes on from the moved terms */
                continue;
            }
        }
        if (!b || st) continue;
        if (!nb) {
            path = b->section;
            size_t pt;
            if ((st = path_tokens(c, path, &pt))) break;
            if (pt > max / 2) path.len = 0; /* a path longer than half the limit is left out */
            budget = max - (path.len ? pt : 0);
            first = i;
            sum = 0;
        }
        if (bt > budget) { /* a block too long on its own: windows of it */
            c->text.len = 0;
            c->nw = 0;
            st = xf_buf_append(&c->text, xf_doc_str(d, b->text), b->text.len);
            if (!st) st = add_words(c, 0, b->line0, b->line1, b->anchor);
            if (!st) st = windows(c, budget, 0, path);
            continue;
        }
        sum += bt + (nb ? 1 : 0);
        nb++;
    }
    return st;
}

/* Fixed windows over the whole text of the document. */
static xf_status pack_fixed(ck *c) {
    const xf_doc *d = c->d;
    xf_status st = XF_OK;
    c->text.len = 0;
    c->nw = 0;
    for (size_t i = 0; i < d->n && !st; i++) {
        const xf_block *b = &d->v[i];
        size_t from = c->text.len;
        if (from) st = xf_buf_append(&c->text, "\n", 1);
        if (!st) st = xf_buf_append(&c->text, xf_doc_str(d, b->text), b->text.len);
        if (!st) st = add_words(c, from, b->line0, b->line1, b->anchor);
    }
    size_t max = c->cfg->max_tokens > c->n_special ? c->cfg->max_tokens - c->n_special : 1;
    size_t overlap = c->cfg->overlap < max / 2 ? c->cfg->overlap : max / 2;
    return st ? st : windows(c, max, overlap, (xf_span){0, 0});
}

xf_status xf_chunk_doc(const xf_doc *d, const xf_chunk_cfg *cfg, xf_chunks *out) {
    out->n = 0;
    out->store.arena.len = 0;
    if (cfg->max_tokens < 1) return xf_error(XF_ERR_INVALID_ARG, "chunk size must be at least 1 token");
    ck c = {.d = d, .cfg = cfg, .out = out};
    xf_status st = cfg->tok ? xf_count_tokens(cfg->tok, "", 0, &c.n_special) : XF_OK;
    if (!st && cfg->max_tokens <= c.n_special + 1)
        st = xf_error(XF_ERR_INVALID_ARG, "chunk size of %zu tokens leaves no room for text (%zu special tokens)",
                      cfg->max_tokens, c.n_special);
    if (!st) st = cfg->mode == XF_CHUNK_FIXED ? pack_fixed(&c) : pack_dom(&c);
    xf_buf_free(&c.text);
    xf_buf_free(&c.tmp);
    free(c.w);
    free(c.cache.hash);
    free(c.cache.count);
    return st;
}
