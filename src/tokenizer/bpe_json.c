/* bpe_json.c — loading the "BPE" model (vocab, merges in both formats, byte_fallback,
 * ignore_merges, prefix/suffix, unk/fuse_unk) and the ByteLevel / Split / Digits pre-tokenizers
 * of a tokenizer.json; freeing the BPE parts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/tok_json.h"

static xf_status nomem(const xf_tokenizer *tok) { return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path); }

/* Optional string field that may also be null; "" when absent. */
static xf_status opt_str(xf_tokenizer *tok, const cJSON *m, const char *name, char **out, size_t *len) {
    const char *v = "";
    xf_status st = xf_tj_get_str(tok, m, "model", name, 0, &v);
    if (st) return st;
    if (!(*out = xf_strdup(v))) return nomem(tok);
    if (len) *len = strlen(v);
    return XF_OK;
}

static xf_status vocab_id(xf_tokenizer *tok, const char *where, const char *t, size_t n, int32_t *id) {
    if (xf_strmap_get(&tok->vocab, t, n, id)) return XF_OK;
    return xf_tj_err(tok, XF_ERR_FORMAT, where, "token \"%.*s\" is not in model.vocab", (int)(n > 80 ? 80 : n), t);
}

/* One merge (a, b) of rank r, as tokenizers' BPE builder: both parts and a + b (b without the
 * continuing-subword prefix) must be in the vocabulary; a later duplicate overwrites the rank. */
static xf_status add_merge(xf_tokenizer *tok, size_t r, const char *a, size_t na, const char *b, size_t nb,
                           char **scratch, size_t *scap) {
    char where[64];
    snprintf(where, sizeof where, "model.merges[%zu]", r);
    int32_t ids[2], nid;
    xf_status st;
    if ((st = vocab_id(tok, where, a, na, &ids[0])) || (st = vocab_id(tok, where, b, nb, &ids[1]))) return st;
    size_t skip = tok->prefix_len && nb >= tok->prefix_len && !memcmp(b, tok->prefix, tok->prefix_len)
                      ? tok->prefix_len : 0;
    if (na + nb + 1 > *scap) {
        char *p = xf_realloc(*scratch, na + nb + 1);
        if (!p) return nomem(tok);
        *scratch = p;
        *scap = na + nb + 1;
    }
    memcpy(*scratch, a, na);
    memcpy(*scratch + na, b + skip, nb - skip);
    if ((st = vocab_id(tok, where, *scratch, na + nb - skip, &nid))) return st;
    if ((st = xf_strmap_put(&tok->merges, (const char *)ids, sizeof ids, (int32_t)r))) return st;
    tok->merge_new[r] = nid;
    return XF_OK;
}

static xf_status load_merges(xf_tokenizer *tok, const cJSON *m) {
    const cJSON *arr = xf_tj_get(m, "merges");
    if (!arr) return xf_tj_err(tok, XF_ERR_NOT_FOUND, "model", "required field \"merges\" is missing");
    if (!cJSON_IsArray(arr)) return xf_tj_err(tok, XF_ERR_FORMAT, "model.merges", "must be an array");
    size_t n = (size_t)cJSON_GetArraySize(arr), r = 0, scap = 0;
    if (n > XF_TOK_MAX_VOCAB) return xf_tj_err(tok, XF_ERR_RANGE, "model.merges", "more than %d entries", XF_TOK_MAX_VOCAB);
    if (!(tok->merge_new = xf_calloc(n ? n : 1, sizeof *tok->merge_new))) return nomem(tok);
    tok->n_merges = n;
    char *scratch = NULL;
    xf_status st = XF_OK;
    for (const cJSON *e = arr->child; e && !st; e = e->next, r++) {
        char where[64];
        snprintf(where, sizeof where, "model.merges[%zu]", r);
        if (cJSON_IsString(e)) {
            const char *s = e->valuestring, *sp = strchr(s, ' ');
            if (!sp) st = xf_tj_err(tok, XF_ERR_FORMAT, where, "\"%.80s\" is not \"left right\"", s);
            else st = add_merge(tok, r, s, (size_t)(sp - s), sp + 1, strlen(sp + 1), &scratch, &scap);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) {
            const char *a = e->child->valuestring, *b = e->child->next->valuestring;
            st = add_merge(tok, r, a, strlen(a), b, strlen(b), &scratch, &scap);
        } else {
            st = xf_tj_err(tok, XF_ERR_FORMAT, where, "must be \"left right\" or [\"left\", \"right\"]");
        }
    }
    free(scratch);
    return st;
}

xf_status xf_tj_load_bpe(xf_tokenizer *tok, const cJSON *m) {
    xf_status st;
    tok->model = XF_MODEL_BPE;
    const cJSON *d = xf_tj_get(m, "dropout");
    if (d) return xf_tj_err(tok, XF_ERR_UNSUPPORTED, "model.dropout", "BPE dropout is not supported (must be null)");
    const char *unk = NULL;
    if ((st = xf_tj_get_str(tok, m, "model", "unk_token", 0, &unk))) return st;
    if (unk && !(tok->unk_token = xf_strdup(unk))) return nomem(tok);
    if ((st = opt_str(tok, m, "continuing_subword_prefix", &tok->prefix, &tok->prefix_len)) ||
        (st = opt_str(tok, m, "end_of_word_suffix", &tok->suffix, &tok->suffix_len)) ||
        (st = xf_tj_get_bool(tok, m, "model", "fuse_unk", &tok->fuse_unk)) ||
        (st = xf_tj_get_bool(tok, m, "model", "byte_fallback", &tok->byte_fallback)) ||
        (st = xf_tj_get_bool(tok, m, "model", "ignore_merges", &tok->ignore_merges)))
        return st;
    if ((st = xf_tj_load_vocab(tok, m))) return st;
    int32_t uid;
    tok->unk_id = unk && xf_strmap_get(&tok->vocab, unk, strlen(unk), &uid) ? uid : -1;
    return load_merges(tok, m);
}

void xf_bpe_free(xf_tokenizer *tok) {
    xf_strmap_free(&tok->merges);
    free(tok->merge_new);
    free(tok->suffix);
}

/* ------------------------------------------- ByteLevel / Split / Digits */

int xf_tj_is_regex_pretok(const char *type) {
    return !strcmp(type, "ByteLevel") || !strcmp(type, "Split") || !strcmp(type, "Digits") ||
           !strcmp(type, "Metaspace") || !strcmp(type, "Punctuation");
}

static xf_status compile(xf_tokenizer *tok, const char *where, const char *pat, size_t len, int literal,
                         void **out) {
    char err[256];
    *out = xf_regex_compile(pat, len, literal, err, sizeof err);
    if (!*out) return xf_tj_err(tok, XF_ERR_FORMAT, where, "%s", err);
    return XF_OK;
}

xf_status xf_tj_load_regex_pretok(xf_tokenizer *tok, const cJSON *j, const char *where,
                                  const char *type, xf_pretok_step *out) {
    xf_status st;
    char f[200];
    memset(out, 0, sizeof *out);
    if (!strcmp(type, "ByteLevel")) {
        out->kind = XF_PRETOK_BYTELEVEL;
        out->add_prefix_space = out->use_regex = 1;
        if ((st = xf_tj_get_bool(tok, j, where, "add_prefix_space", &out->add_prefix_space)) ||
            (st = xf_tj_get_bool(tok, j, where, "use_regex", &out->use_regex)))
            return st;
        if (!out->use_regex) return XF_OK;
        return compile(tok, where, xf_gpt2_pattern, strlen(xf_gpt2_pattern), 0, &out->re);
    }
    if (!strcmp(type, "Metaspace")) {
        const char *rep = "\xE2\x96\x81", *scheme = NULL;
        int add_prefix = 1, split = 1;
        out->kind = XF_PRETOK_METASPACE;
        if ((st = xf_tj_get_str(tok, j, where, "replacement", 0, &rep)) ||
            (st = xf_tj_get_str(tok, j, where, "prepend_scheme", 0, &scheme)) ||
            (st = xf_tj_get_bool(tok, j, where, "add_prefix_space", &add_prefix)) ||
            (st = xf_tj_get_bool(tok, j, where, "split", &split)))
            return st;
        size_t rl = strlen(rep), i = 0;
        if (rl) (void)xf_utf8_next(rep, rl, &i);
        snprintf(f, sizeof f, "%s.replacement", where);
        if (!rl || i != rl || rl >= sizeof out->rep) return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be one character");
        memcpy(out->rep, rep, rl + 1);
        if (scheme) {
            snprintf(f, sizeof f, "%s.prepend_scheme", where);
            if (!strcmp(scheme, "never")) out->prepend = 0;
            else if (!strcmp(scheme, "first")) out->prepend = 1;
            else if (!strcmp(scheme, "always")) out->prepend = 2;
            else return xf_tj_err(tok, XF_ERR_FORMAT, f, "unknown value \"%.40s\" (first, always, never)", scheme);
        } else {
            out->prepend = add_prefix ? 2 : 0;
        }
        if (!split) return XF_OK;
        return compile(tok, where, rep, rl, 1, &out->re);
    }
    if (!strcmp(type, "Digits")) {
        out->kind = XF_PRETOK_DIGITS;
        return xf_tj_get_bool(tok, j, where, "individual_digits", &out->individual_digits);
    }
    out->kind = XF_PRETOK_SPLIT;
    int punct = !strcmp(type, "Punctuation");
    if (!punct && (st = xf_tj_get_bool(tok, j, where, "invert", &out->invert))) return st;
    const char *beh = "Isolated"; /* Punctuation's default */
    if ((st = xf_tj_get_str(tok, j, where, "behavior", !punct, &beh))) return st;
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    size_t k = 0;
    while (k < 5 && strcmp(beh, names[k])) k++;
    snprintf(f, sizeof f, "%s.behavior", where);
    if (k == 5) return xf_tj_err(tok, XF_ERR_FORMAT, f, "unknown behavior \"%.60s\"", beh);
    out->behavior = (xf_split_behavior)k;
    if (punct) return compile(tok, where, xf_punct_pattern, strlen(xf_punct_pattern), 0, &out->re);
    const cJSON *p = xf_tj_get(j, "pattern"), *re = xf_tj_get(p, "Regex"), *lit = xf_tj_get(p, "String");
    snprintf(f, sizeof f, "%s.pattern", where);
    if (!p) return xf_tj_err(tok, XF_ERR_NOT_FOUND, f, "missing");
    if (re && cJSON_IsString(re)) return compile(tok, f, re->valuestring, strlen(re->valuestring), 0, &out->re);
    if (lit && cJSON_IsString(lit)) return compile(tok, f, lit->valuestring, strlen(lit->valuestring), 1, &out->re);
    return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be {\"Regex\": \"...\"} or {\"String\": \"...\"}");
}
