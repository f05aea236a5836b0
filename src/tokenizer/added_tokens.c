/* added_tokens.c — matching of tokenizer.json "added_tokens" in a text: a byte trie with
 * leftmost-longest search and tokenizers' single_word / lstrip / rstrip rules. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

static xf_status new_node(xf_trie *t, uint8_t byte, uint32_t *idx) {
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64, bytes;
        if (!xf_mul_ok(nc, sizeof(xf_trie_node), &bytes) || nc > UINT32_MAX)
            return xf_error(XF_ERR_NOMEM, "tokenizer: added-token trie too large");
        xf_trie_node *nn = xf_realloc(t->nodes, bytes);
        if (!nn) return xf_error(XF_ERR_NOMEM, "tokenizer: out of memory for the added-token trie");
        t->nodes = nn;
        t->cap = nc;
    }
    xf_trie_node *n = &t->nodes[t->n];
    n->first_child = n->next_sibling = 0;
    n->token = -1;
    n->byte = byte;
    *idx = (uint32_t)t->n++;
    return XF_OK;
}

static uint32_t child(const xf_trie *t, uint32_t node, uint8_t byte) {
    if (node == 0) return t->root[byte];
    for (uint32_t c = t->nodes[node].first_child; c; c = t->nodes[c].next_sibling)
        if (t->nodes[c].byte == byte) return c;
    return 0;
}

xf_status xf_trie_add(xf_trie *t, const char *pat, size_t len, int32_t token) {
    xf_status st;
    uint32_t node = 0;
    if (len == 0) return XF_OK; /* an empty pattern never matches */
    if (t->n == 0 && (st = new_node(t, 0, &node))) return st;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)pat[i];
        uint32_t c = child(t, node, b);
        if (!c) {
            if ((st = new_node(t, b, &c))) return st;
            if (node == 0) {
                t->root[b] = c;
            } else {
                t->nodes[c].next_sibling = t->nodes[node].first_child;
                t->nodes[node].first_child = c;
            }
        }
        node = c;
    }
    t->nodes[node].token = token;
    return XF_OK;
}

void xf_trie_free(xf_trie *t) {
    free(t->nodes);
    memset(t, 0, sizeof *t);
}

/* Longest pattern starting at s[i]: its length (0 if none) and token. */
static size_t longest_at(const xf_trie *t, const char *s, size_t len, size_t i, int32_t *token) {
    size_t best = 0;
    uint32_t node = 0;
    for (size_t k = i; k < len; k++) {
        node = child(t, node, (uint8_t)s[k]);
        if (!node) break;
        if (t->nodes[node].token >= 0) {
            best = k + 1 - i;
            *token = t->nodes[node].token;
        }
    }
    return best;
}

/* Code point that ends at s[end) (end > 0). */
static uint32_t prev_char(const char *s, size_t end) {
    size_t a = end - 1;
    while (a > 0 && ((unsigned char)s[a] & 0xC0) == 0x80) a--;
    return xf_utf8_next(s, end, &a);
}

static xf_status push_split(xf_tok_buf *out, size_t a, size_t b, int32_t token) {
    xf_split sp = {a, b, token};
    return xf_buf_append(out, &sp, sizeof sp);
}

xf_status xf_added_split(const xf_tokenizer *tok, const xf_trie *trie, const char *s, size_t len,
                         xf_tok_buf *out) {
    out->len = 0;
    if (trie->n == 0 || len == 0) return push_split(out, 0, len, -1);
    xf_status st;
    size_t start_offset = 0, pos = 0;
    while (pos < len) {
        size_t start = pos, mlen = 0;
        int32_t ti = -1;
        for (; start < len; start++) {
            if (!trie->root[(uint8_t)s[start]]) continue;
            if ((mlen = longest_at(trie, s, len, start, &ti))) break;
        }
        if (!mlen) break;
        size_t stop = start + mlen;
        pos = stop; /* the match iterator resumes after the raw match */
        const xf_added_token *at = &tok->added[ti];
        if (at->single_word) {
            int start_space = start == 0 || !xf_uc_is_word(prev_char(s, start));
            size_t j = stop;
            int stop_space = stop == len || !xf_uc_is_word(xf_utf8_next(s, len, &j));
            if (!start_space || !stop_space) continue;
        }
        if (at->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t a = ns - 1;
                while (a > 0 && ((unsigned char)s[a] & 0xC0) == 0x80) a--;
                size_t j = a;
                if (!xf_uc_is_whitespace(xf_utf8_next(s, len, &j))) break;
                ns = a;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (at->rstrip) {
            while (stop < len) {
                size_t j = stop;
                if (!xf_uc_is_whitespace(xf_utf8_next(s, len, &j))) break;
                stop = j;
            }
        }
        if (start_offset < start && (st = push_split(out, start_offset, start, -1))) return st;
        if ((st = push_split(out, start, stop, ti))) return st;
        start_offset = stop;
    }
    if (start_offset < len && (st = push_split(out, start_offset, len, -1))) return st;
    return XF_OK;
}
