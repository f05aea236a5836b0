/* encode.c — xf_tokenize: UTF-8 repair, added-token split, normalization, pre-tokenization,
 * the model (WordPiece, BPE or Unigram), "longest_first" truncation and the post-processor template; vocabulary lookups. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

static xf_status encode_piece(const xf_tokenizer *tok, const char *s, size_t len, int at_start, char *scratch,
                              xf_tok_buf *norm, xf_tok_buf *splits, xf_tok_buf *words, xf_tok_buf *wtext,
                              xf_tok_ids *out) {
    xf_status st = xf_tok_normalize(tok, s, len, norm);
    if (st) return st;
    if ((st = xf_added_split(tok, &tok->trie_norm, norm->data, norm->len, splits))) return st;
    size_t n = splits->len / sizeof(xf_split);
    for (size_t i = 0; i < n; i++) {
        xf_split sp;
        memcpy(&sp, splits->data + i * sizeof sp, sizeof sp);
        if (sp.token >= 0) {
            if ((st = xf_ids_push(out, tok->added[sp.token].id))) return st;
            continue;
        }
        const char *p = norm->data + sp.start;
        if ((st = xf_tok_pretokenize_at(tok, p, sp.end - sp.start, at_start && sp.start == 0, wtext, words)))
            return st;
        size_t nw = words->len / (2 * sizeof(size_t));
        for (size_t w = 0; w < nw; w++) {
            size_t ab[2];
            memcpy(ab, words->data + w * sizeof ab, sizeof ab);
            const char *word = wtext->data + ab[0];
            if (tok->model == XF_MODEL_BPE) st = xf_bpe(tok, word, ab[1] - ab[0], out);
            else if (tok->model == XF_MODEL_UNIGRAM) st = xf_unigram(tok, word, ab[1] - ab[0], out);
            else st = xf_wordpiece(tok, word, ab[1] - ab[0], scratch, out);
            if (st) return st;
        }
    }
    return XF_OK;
}

xf_status xf_tok_encode_ids(const xf_tokenizer *tok, const char *text, size_t len, xf_tok_ids *out) {
    xf_tok_buf clean = {0}, raw_splits = {0}, norm = {0}, splits = {0}, words = {0}, wtext = {0};
    char *scratch = xf_malloc(tok->prefix_len + tok->max_key_len + 1);
    if (!scratch) return xf_error(XF_ERR_NOMEM, "xf_tokenize: out of memory");
    xf_status st = xf_utf8_sanitize(text, len, &clean);
    if (!st) st = xf_added_split(tok, &tok->trie_raw, clean.data, clean.len, &raw_splits);
    size_t n = st ? 0 : raw_splits.len / sizeof(xf_split);
    for (size_t i = 0; i < n && !st; i++) {
        xf_split sp;
        memcpy(&sp, raw_splits.data + i * sizeof sp, sizeof sp);
        if (sp.token >= 0) st = xf_ids_push(out, tok->added[sp.token].id);
        else st = encode_piece(tok, clean.data + sp.start, sp.end - sp.start, sp.start == 0, scratch, &norm, &splits, &words,
                                    &wtext, out);
    }
    free(scratch);
    xf_buf_free(&clean);
    xf_buf_free(&raw_splits);
    xf_buf_free(&norm);
    xf_buf_free(&splits);
    xf_buf_free(&words);
    xf_buf_free(&wtext);
    return st;
}

size_t xf_tok_num_special(const xf_tokenizer *tok, int pair) {
    return pair ? tok->added_pair : tok->added_single;
}

/* tokenizers' truncate_encodings with LongestFirst, right direction, stride 0, applied with
 * max_length minus the post-processor's special tokens. */
static void truncate_lengths(size_t *na, size_t *nb, int has_pair, size_t budget) {
    if (budget == 0) {
        *na = *nb = 0;
        return;
    }
    if (*na + *nb <= budget) return;
    if (!has_pair) {
        *na = budget;
        return;
    }
    size_t n1 = *na, n2 = *nb;
    int swap = n1 > n2;
    if (swap) {
        size_t t = n1;
        n1 = n2;
        n2 = t;
    }
    if (n1 > budget) n2 = n1;
    else n2 = n1 > budget - n1 ? n1 : budget - n1;
    if (n1 + n2 > budget) {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
    }
    if (swap) {
        size_t t = n1;
        n1 = n2;
        n2 = t;
    }
    if (n1 < *na) *na = n1;
    if (n2 < *nb) *nb = n2;
}

static void put(xf_encoding *e, const int32_t *ids, size_t n, int32_t type_id) {
    for (size_t i = 0; i < n; i++) {
        e->ids[e->n] = ids[i];
        e->type_ids[e->n++] = type_id;
    }
}

xf_status xf_tokenize(const xf_tokenizer *tok, const char *text, size_t len, const char *pair,
                      size_t pair_len, size_t max_length, xf_encoding *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!tok || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenize: tokenizer or output is NULL");
    if (!text && len) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenize: text is NULL");
    if (!text) text = "";
    int has_pair = pair != NULL;
    xf_tok_ids a = {0}, b = {0};
    xf_status st = xf_tok_encode_ids(tok, text, len, &a);
    if (!st && has_pair) st = xf_tok_encode_ids(tok, pair, pair_len, &b);
    if (st) goto done;

    size_t na = a.len, nb = b.len;
    if (max_length > 0) {
        /* Note: tokenizers computes max_length - n_special in usize and, when max_length is
         * smaller than the special tokens, wraps around and does not truncate at all; here the
         * sequences are then emptied instead (the result still holds the special tokens). */
        size_t ns = xf_tok_num_special(tok, has_pair);
        truncate_lengths(&na, &nb, has_pair, max_length > ns ? max_length - ns : 0);
    }
    out->truncated = na < a.len || nb < b.len;

    size_t total = na + nb;
    if (tok->post == XF_POST_BERT) total += has_pair ? 3 : 2;
    if (tok->post == XF_POST_TEMPLATE) {
        const xf_tpl_piece *p = has_pair ? tok->tpl_pair : tok->tpl_single;
        size_t np = has_pair ? tok->n_tpl_pair : tok->n_tpl_single;
        total = 0;
        for (size_t i = 0; i < np; i++) total += p[i].is_seq ? (p[i].seq ? nb : na) : p[i].n_ids;
    }
    out->ids = xf_calloc(total ? total : 1, sizeof(int32_t));
    out->type_ids = xf_calloc(total ? total : 1, sizeof(int32_t));
    if (!out->ids || !out->type_ids) {
        st = xf_error(XF_ERR_NOMEM, "xf_tokenize: out of memory for %zu tokens", total);
        goto done;
    }
    switch (tok->post) {
    case XF_POST_NONE:
        put(out, a.data, na, 0);
        put(out, b.data, nb, 1);
        break;
    case XF_POST_BERT:
        put(out, &tok->bert_cls, 1, 0);
        put(out, a.data, na, 0);
        put(out, &tok->bert_sep, 1, 0);
        if (has_pair) {
            put(out, b.data, nb, 1);
            put(out, &tok->bert_sep, 1, 1);
        }
        break;
    case XF_POST_TEMPLATE: {
        const xf_tpl_piece *p = has_pair ? tok->tpl_pair : tok->tpl_single;
        size_t np = has_pair ? tok->n_tpl_pair : tok->n_tpl_single;
        for (size_t i = 0; i < np; i++) {
            if (!p[i].is_seq) put(out, p[i].ids, p[i].n_ids, p[i].type_id);
            else if (p[i].seq == 0) put(out, a.data, na, p[i].type_id);
            else put(out, b.data, nb, p[i].type_id);
        }
        break;
    }
    }
done:
    xf_ids_free(&a);
    xf_ids_free(&b);
    if (st) xf_encoding_free(out);
    return st;
}

void xf_encoding_free(xf_encoding *enc) {
    if (!enc) return;
    free(enc->ids);
    free(enc->type_ids);
    memset(enc, 0, sizeof *enc);
}

size_t xf_tokenizer_vocab_size(const xf_tokenizer *tok) { return tok ? tok->vocab_size : 0; }

int32_t xf_tokenizer_token_to_id(const xf_tokenizer *tok, const char *token) {
    int32_t id;
    if (!tok || !token) return -1;
    size_t n = strlen(token);
    if (xf_strmap_get(&tok->added_map, token, n, &id)) return id;
    if (xf_strmap_get(&tok->vocab, token, n, &id)) return id;
    return -1;
}

const char *xf_tokenizer_id_to_token(const xf_tokenizer *tok, int32_t id) {
    if (!tok || id < 0) return NULL;
    size_t lo = 0, hi = tok->n_rev;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tok->rev_ids[mid] < id) lo = mid + 1;
        else if (tok->rev_ids[mid] > id) hi = mid;
        else return tok->rev_toks[mid];
    }
    return NULL;
}
