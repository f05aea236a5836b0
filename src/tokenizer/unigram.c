/* unigram.c — the Unigram model of tokenizers (SentencePiece's unigram language model): a word
 * is split into the pieces whose scores (log probabilities) sum highest, found by Viterbi over a
 * byte trie of the pieces, exactly as tokenizers' Unigram::encode_optimized does it: positions
 * left to right, each piece starting there considered shortest first and kept only if strictly
 * better; a character that starts no single-character piece is unknown with score
 * (lowest score - 10); runs of unknowns are fused into one; an unknown string becomes its
 * <0xNN> byte tokens when byte_fallback is on and they all exist, else the unk id.
 * Also the "Unigram" model section of a tokenizer.json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/tok_json.h"

#define UNK_PENALTY 10.0

typedef struct node {
    double score;
    size_t start; /* SIZE_MAX: not reached yet */
    int32_t id;
} node;

xf_status xf_unigram_init(xf_tokenizer *tok, const double *scores, size_t n) {
    tok->model = XF_MODEL_UNIGRAM;
    tok->fuse_unk = 1;
    if (!(tok->uni_score = xf_malloc((n ? n : 1) * sizeof *tok->uni_score)))
        return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    double lo = INFINITY;
    for (size_t i = 0; i < n; i++) {
        tok->uni_score[i] = scores[i];
        if (scores[i] < lo) lo = scores[i];
    }
    tok->n_uni = n;
    tok->uni_unk_score = (n ? lo : 0.0) - UNK_PENALTY;
    xf_status st = XF_OK;
    for (size_t s = 0; s < tok->vocab.cap && !st; s++) {
        const xf_strmap_slot *sl = &tok->vocab.slots[s];
        if (sl->hash) st = xf_trie_add(&tok->uni_trie, xf_strmap_key(&tok->vocab, sl), sl->len, sl->val);
    }
    return st;
}

void xf_unigram_free(xf_tokenizer *tok) {
    free(tok->uni_score);
    xf_trie_free(&tok->uni_trie);
}

static uint32_t trie_child(const xf_trie *t, uint32_t nd, uint8_t b) {
    if (nd == 0) return t->n ? t->root[b] : 0;
    for (uint32_t c = t->nodes[nd].first_child; c; c = t->nodes[c].next_sibling)
        if (t->nodes[c].byte == b) return c;
    return 0;
}

/* The unknown string w[a, b): its byte tokens (byte_fallback) or the unk id. */
static xf_status push_unknown(const xf_tokenizer *tok, const char *w, size_t a, size_t b, xf_tok_ids *out) {
    int32_t id;
    if (xf_strmap_get(&tok->vocab, w + a, b - a, &id)) return xf_ids_push(out, id);
    if (tok->byte_fallback) {
        size_t k = a, at = out->len;
        for (; k < b; k++) {
            char code[8];
            snprintf(code, sizeof code, "<0x%02X>", (unsigned char)w[k]);
            if (!xf_strmap_get(&tok->vocab, code, 6, &id)) break;
            xf_status st = xf_ids_push(out, id);
            if (st) return st;
        }
        if (k == b) return XF_OK;
        out->len = at;
    }
    if (tok->unk_id < 0) return xf_error(XF_ERR_FORMAT, "%s: Unigram: a character has no piece and there is no unk_id", tok->path);
    return xf_ids_push(out, tok->unk_id);
}

xf_status xf_unigram(const xf_tokenizer *tok, const char *w, size_t len, xf_tok_ids *out) {
    if (len == 0) return XF_OK;
    node *best = xf_malloc((len + 1) * sizeof *best);
    size_t *path = xf_malloc((len + 1) * sizeof *path);
    xf_status st = XF_OK;
    if (!best || !path) {
        free(best);
        free(path);
        return xf_error(XF_ERR_NOMEM, "Unigram: out of memory for a word of %zu bytes", len);
    }
    for (size_t i = 0; i <= len; i++) best[i] = (node){0.0, SIZE_MAX, -1};
    for (size_t at = 0; at < len;) {
        double here = best[at].score;
        size_t next = at;
        (void)xf_utf8_next(w, len, &next);
        int single = 0;
        uint32_t nd = 0;
        for (size_t k = at; k < len; k++) {
            if (!(nd = trie_child(&tok->uni_trie, nd, (uint8_t)w[k]))) break;
            int32_t id = tok->uni_trie.nodes[nd].token;
            if (id < 0 || (size_t)id >= tok->n_uni) continue;
            double cand = here + tok->uni_score[id];
            node *t = &best[k + 1];
            if (t->start == SIZE_MAX || cand > t->score) *t = (node){cand, at, id};
            if (k + 1 == next) single = 1;
        }
        if (!single) {
            double cand = here + tok->uni_unk_score;
            node *t = &best[next];
            if (t->start == SIZE_MAX || cand > t->score) *t = (node){cand, at, tok->unk_id};
        }
        at = next;
    }
    /* best path, back to front, then emitted front to back with unknown runs fused */
    size_t n = 0;
    for (size_t end = len; end > 0; end = best[end].start) path[n++] = end;
    size_t start = 0, unk_from = SIZE_MAX;
    for (size_t k = n; k-- > 0 && !st;) {
        size_t end = path[k];
        int unk = tok->unk_id >= 0 && best[end].id == tok->unk_id;
        if (unk) {
            if (unk_from == SIZE_MAX) unk_from = start;
        } else {
            if (unk_from != SIZE_MAX) st = push_unknown(tok, w, unk_from, start, out);
            unk_from = SIZE_MAX;
            if (!st) st = best[end].id >= 0 ? xf_ids_push(out, best[end].id) : push_unknown(tok, w, start, end, out);
        }
        start = end;
    }
    if (!st && unk_from != SIZE_MAX) st = push_unknown(tok, w, unk_from, len, out);
    free(best);
    free(path);
    return st;
}

/* ------------------------------------------------------- tokenizer.json */

xf_status xf_tj_load_unigram(xf_tokenizer *tok, const cJSON *m) {
    const cJSON *v = xf_tj_get(m, "vocab"), *u = xf_tj_get(m, "unk_id");
    xf_status st;
    if (!v) return xf_tj_err(tok, XF_ERR_NOT_FOUND, "model", "required field \"vocab\" is missing");
    if (!cJSON_IsArray(v)) return xf_tj_err(tok, XF_ERR_FORMAT, "model.vocab", "must be an array of [piece, score]");
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    if (n > XF_TOK_MAX_VOCAB) return xf_tj_err(tok, XF_ERR_RANGE, "model.vocab", "more than %d entries", XF_TOK_MAX_VOCAB);
    if ((st = xf_tj_get_bool(tok, m, "model", "byte_fallback", &tok->byte_fallback))) return st;
    if (u) {
        int64_t x;
        if ((st = xf_tj_get_uint(tok, u, "model.unk_id", XF_TOK_MAX_ID, &x))) return st;
        if ((size_t)x >= n) return xf_tj_err(tok, XF_ERR_RANGE, "model.unk_id", "%lld is not below the %zu pieces", (long long)x, n);
        tok->unk_id = (int32_t)x;
    }
    double *sc = xf_malloc((n ? n : 1) * sizeof *sc);
    if (!sc) return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    st = XF_OK;
    for (const cJSON *e = v->child; e && !st; e = e->next, i++) {
        char f[64];
        snprintf(f, sizeof f, "model.vocab[%zu]", i);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(e->child) || !cJSON_IsNumber(e->child->next) ||
            !isfinite(e->child->next->valuedouble)) {
            st = xf_tj_err(tok, XF_ERR_FORMAT, f, "must be [\"piece\", finite score]");
            break;
        }
        const char *p = e->child->valuestring;
        size_t l = strlen(p);
        sc[i] = e->child->next->valuedouble;
        if ((st = xf_strmap_put(&tok->vocab, p, l, (int32_t)i))) break; /* a repeated piece: the last id, as tokenizers */
        if (l > tok->max_key_len) tok->max_key_len = l;
    }
    if (!st && tok->unk_id >= 0 &&
        !(tok->unk_token = xf_strdup(cJSON_GetArrayItem(v, (int)tok->unk_id)->child->valuestring)))
        st = xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    if (!st) st = xf_unigram_init(tok, sc, n);
    free(sc);
    return st;
}
