/* tokenizer_json.c — loading a Hugging Face tokenizer.json (WordPiece model, BERT-style
 * normalizer / pre-tokenizer / post-processor, added tokens) into an xf_tokenizer, with every
 * field checked; xf_tokenizer_free. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tok_json.h"

#define XF_TOK_MAX_ADDED 1000000
#define XF_TOK_MAX_DEPTH 16

/* ------------------------------------------------------------------ model */

static xf_status load_model(xf_tokenizer *tok, const cJSON *root) {
    const cJSON *m = xf_tj_get(root, "model");
    if (!m) return xf_tj_err(tok, XF_ERR_NOT_FOUND, "model", "required section is missing");
    if (!cJSON_IsObject(m)) return xf_tj_err(tok, XF_ERR_FORMAT, "model", "must be an object");
    const cJSON *t = xf_tj_get(m, "type");
    if (t) {
        if (!cJSON_IsString(t)) return xf_tj_err(tok, XF_ERR_FORMAT, "model.type", "must be a string");
        if (!strcmp(t->valuestring, "BPE")) return xf_tj_load_bpe(tok, m);
        if (!strcmp(t->valuestring, "Unigram")) return xf_tj_load_unigram(tok, m);
        if (strcmp(t->valuestring, "WordPiece") != 0)
            return xf_tj_err(tok, XF_ERR_UNSUPPORTED, "model.type",
                             "model type \"%s\" is not supported (WordPiece, BPE, Unigram)", t->valuestring);
    } else if (!xf_tj_get(m, "continuing_subword_prefix") || !xf_tj_get(m, "max_input_chars_per_word")) {
        return xf_tj_err(tok, XF_ERR_UNSUPPORTED, "model.type", "missing, and the model does not look like WordPiece");
    }
    const char *unk, *prefix;
    xf_status st;
    if ((st = xf_tj_get_str(tok, m, "model", "unk_token", 1, &unk))) return st;
    if ((st = xf_tj_get_str(tok, m, "model", "continuing_subword_prefix", 1, &prefix))) return st;
    const cJSON *mx = xf_tj_get(m, "max_input_chars_per_word");
    if (!mx) return xf_tj_err(tok, XF_ERR_NOT_FOUND, "model", "required field \"max_input_chars_per_word\" is missing");
    int64_t maxc;
    if ((st = xf_tj_get_uint(tok, mx, "model.max_input_chars_per_word", 9007199254740992.0, &maxc))) return st;
    tok->max_input_chars_per_word = (size_t)maxc;
    if (!(tok->unk_token = xf_strdup(unk)) || !(tok->prefix = xf_strdup(prefix)))
        return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    tok->prefix_len = strlen(prefix);

    if ((st = xf_tj_load_vocab(tok, m))) return st;
    int32_t uid;
    tok->unk_id = xf_strmap_get(&tok->vocab, unk, strlen(unk), &uid) ? uid : -1;
    return XF_OK;
}

/* ------------------------------------------------------------- normalizer */

static xf_status add_norm(xf_tokenizer *tok, xf_norm_step s) {
    xf_norm_step *n = xf_realloc(tok->norm, (tok->n_norm + 1) * sizeof *n);
    if (!n) return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    tok->norm = n;
    n[tok->n_norm++] = s;
    return XF_OK;
}

/* Replace with {"Regex": pattern}: compiled with PCRE2, content kept as UTF-8. */
static xf_status load_replace_re(xf_tokenizer *tok, const cJSON *re, const char *content, const char *where) {
    xf_norm_step s;
    char err[256];
    memset(&s, 0, sizeof s);
    s.kind = XF_NORM_REPLACE_RE;
    if (!cJSON_IsString(re)) return xf_tj_err(tok, XF_ERR_FORMAT, where, "Regex must be a string");
    if (!(s.re = xf_regex_compile(re->valuestring, strlen(re->valuestring), 0, err, sizeof err)))
        return xf_tj_err(tok, XF_ERR_FORMAT, where, "%s", err);
    s.content_len = strlen(content);
    xf_status st = (s.content = xf_strdup(content)) ? add_norm(tok, s) : xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    if (st) xf_norm_step_free(&s);
    return st;
}

/* Precompiled: a base64 SentencePiece precompiled_charsmap (empty or null: no-op). */
static xf_status load_precompiled(xf_tokenizer *tok, const cJSON *j, const char *where) {
    const char *b64 = NULL;
    char f[200];
    xf_status st = xf_tj_get_str(tok, j, where, "precompiled_charsmap", 0, &b64);
    if (st || !b64 || !*b64) return st;
    snprintf(f, sizeof f, "%s: %s.precompiled_charsmap", tok->path, where);
    uint8_t *blob;
    size_t len;
    if ((st = xf_base64_decode(b64, &blob, &len))) return xf_error_wrap(st, "%s", f);
    xf_norm_step s;
    memset(&s, 0, sizeof s);
    s.kind = XF_NORM_PRECOMPILED;
    st = xf_precompiled_init(&s, blob, len, f);
    free(blob);
    if (!st) st = add_norm(tok, s);
    if (st) xf_norm_step_free(&s);
    return st;
}

static xf_status load_norm(xf_tokenizer *tok, const cJSON *j, const char *where, int depth) {
    const char *type;
    xf_status st;
    if (!cJSON_IsObject(j)) return xf_tj_err(tok, XF_ERR_FORMAT, where, "must be an object");
    if (depth > XF_TOK_MAX_DEPTH) return xf_tj_err(tok, XF_ERR_RANGE, where, "nested too deeply");
    if ((st = xf_tj_get_type(tok, j, where, &type))) return st;
    xf_norm_step s;
    memset(&s, 0, sizeof s);
    if (!strcmp(type, "BertNormalizer")) {
        int strip = -1;
        s.kind = XF_NORM_BERT;
        s.clean_text = s.handle_chinese_chars = s.lowercase = 1;
        if ((st = xf_tj_get_bool(tok, j, where, "clean_text", &s.clean_text)) ||
            (st = xf_tj_get_bool(tok, j, where, "handle_chinese_chars", &s.handle_chinese_chars)) ||
            (st = xf_tj_get_bool(tok, j, where, "strip_accents", &strip)) ||
            (st = xf_tj_get_bool(tok, j, where, "lowercase", &s.lowercase)))
            return st;
        s.strip_accents = strip < 0 ? s.lowercase : strip; /* null: follow lowercase */
        return add_norm(tok, s);
    }
    static const struct { const char *name; xf_norm_kind kind; } simple[] = {
        {"Lowercase", XF_NORM_LOWERCASE}, {"StripAccents", XF_NORM_STRIP_ACCENTS},
        {"NFD", XF_NORM_NFD}, {"NFKD", XF_NORM_NFKD}, {"NFC", XF_NORM_NFC}, {"NFKC", XF_NORM_NFKC}};
    for (size_t k = 0; k < sizeof simple / sizeof simple[0]; k++) {
        if (!strcmp(type, simple[k].name)) {
            s.kind = simple[k].kind;
            return add_norm(tok, s);
        }
    }
    if (!strcmp(type, "Precompiled")) return load_precompiled(tok, j, where);
    if (!strcmp(type, "Strip")) {
        s.kind = XF_NORM_STRIP;
        s.strip_left = s.strip_right = 1;
        if ((st = xf_tj_get_bool(tok, j, where, "strip_left", &s.strip_left)) ||
            (st = xf_tj_get_bool(tok, j, where, "strip_right", &s.strip_right)))
            return st;
        return add_norm(tok, s);
    }
    if (!strcmp(type, "Prepend") || !strcmp(type, "Replace")) {
        const char *str, *pat = NULL;
        char f[160];
        int rep = !strcmp(type, "Replace");
        s.kind = rep ? XF_NORM_REPLACE : XF_NORM_PREPEND;
        if ((st = xf_tj_get_str(tok, j, where, rep ? "content" : "prepend", 1, &str))) return st;
        if (rep) {
            const cJSON *p = xf_tj_get(j, "pattern"), *lit = xf_tj_get(p, "String");
            snprintf(f, sizeof f, "%s.pattern", where);
            if (!p) return xf_tj_err(tok, XF_ERR_NOT_FOUND, f, "missing");
            const cJSON *re = xf_tj_get(p, "Regex");
            if (re) return load_replace_re(tok, re, str, f);
            if (!lit || !cJSON_IsString(lit) || !*lit->valuestring)
                return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be {\"String\": \"<non-empty>\"}");
            pat = lit->valuestring;
        }
        xf_tok_ids a = {0}, b = {0};
        size_t n = strlen(str), i = 0;
        while (i < n && !st) st = xf_ids_push(&a, (int32_t)xf_utf8_next(str, n, &i));
        n = pat ? strlen(pat) : 0, i = 0;
        while (i < n && !st) st = xf_ids_push(&b, (int32_t)xf_utf8_next(pat, n, &i));
        s.str = a.data, s.str_len = a.len, s.pat = b.data, s.pat_len = b.len;
        if (!st) st = add_norm(tok, s);
        if (st) {
            xf_ids_free(&a);
            xf_ids_free(&b);
        }
        return st;
    }
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = xf_tj_get(j, "normalizers");
        char f[160];
        snprintf(f, sizeof f, "%s.normalizers", where);
        if (!arr) return xf_tj_err(tok, XF_ERR_NOT_FOUND, f, "missing");
        if (!cJSON_IsArray(arr)) return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be an array");
        size_t i = 0;
        for (const cJSON *e = arr->child; e; e = e->next, i++) {
            snprintf(f, sizeof f, "%s.normalizers[%zu]", where, i);
            if ((st = load_norm(tok, e, f, depth + 1))) return st;
        }
        return XF_OK;
    }
    char f[160];
    snprintf(f, sizeof f, "%s.type", where);
    return xf_tj_err(tok, XF_ERR_UNSUPPORTED, f, "normalizer type \"%s\" is not supported", type);
}

/* ---------------------------------------------------------- pre-tokenizer */

static xf_status add_pretok(xf_tokenizer *tok, xf_pretok_step k) {
    xf_pretok_step *n = xf_realloc(tok->pretok, (tok->n_pretok + 1) * sizeof *n);
    if (!n) {
        xf_regex_free(k.re);
        return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    }
    tok->pretok = n;
    n[tok->n_pretok++] = k;
    return XF_OK;
}

static xf_status load_pretok(xf_tokenizer *tok, const cJSON *j, const char *where, int depth) {
    const char *type;
    xf_status st;
    if (!cJSON_IsObject(j)) return xf_tj_err(tok, XF_ERR_FORMAT, where, "must be an object");
    if (depth > XF_TOK_MAX_DEPTH) return xf_tj_err(tok, XF_ERR_RANGE, where, "nested too deeply");
    if ((st = xf_tj_get_type(tok, j, where, &type))) return st;
    xf_pretok_step step = {0};
    if (!strcmp(type, "BertPreTokenizer")) return step.kind = XF_PRETOK_BERT, add_pretok(tok, step);
    if (!strcmp(type, "Whitespace")) return step.kind = XF_PRETOK_WHITESPACE, add_pretok(tok, step);
    if (!strcmp(type, "WhitespaceSplit")) return step.kind = XF_PRETOK_WHITESPACE_SPLIT, add_pretok(tok, step);
    if (xf_tj_is_regex_pretok(type)) {
        if ((st = xf_tj_load_regex_pretok(tok, j, where, type, &step))) return st;
        return add_pretok(tok, step);
    }
    char f[160];
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = xf_tj_get(j, "pretokenizers");
        snprintf(f, sizeof f, "%s.pretokenizers", where);
        if (!arr) return xf_tj_err(tok, XF_ERR_NOT_FOUND, f, "missing");
        if (!cJSON_IsArray(arr)) return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be an array");
        size_t i = 0;
        for (const cJSON *e = arr->child; e; e = e->next, i++) {
            snprintf(f, sizeof f, "%s.pretokenizers[%zu]", where, i);
            if ((st = load_pretok(tok, e, f, depth + 1))) return st;
        }
        return XF_OK;
    }
    snprintf(f, sizeof f, "%s.type", where);
    return xf_tj_err(tok, XF_ERR_UNSUPPORTED, f, "pre-tokenizer type \"%s\" is not supported", type);
}

/* --------------------------------------------------------- post-processor */

static xf_status load_bert_post(xf_tokenizer *tok, const cJSON *j, const char *name, int32_t *id) {
    char f[64];
    snprintf(f, sizeof f, "post_processor.%s", name);
    const cJSON *v = xf_tj_get(j, name);
    if (!v) return xf_tj_err(tok, XF_ERR_NOT_FOUND, f, "missing");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsString(v->child))
        return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be [\"token\", id]");
    int64_t x;
    xf_status st = xf_tj_get_uint(tok, v->child->next, f, XF_TOK_MAX_ID, &x);
    *id = (int32_t)x;
    return st;
}

/* Parse one template; with ids == NULL only count the special ids (into *n_ids). */
static xf_status load_template(xf_tokenizer *tok, const cJSON *j, const char *name, int is_pair,
                               xf_tpl_piece **out, size_t *n_out, int32_t *ids, size_t *n_ids) {
    char f[160];
    snprintf(f, sizeof f, "post_processor.%s", name);
    const cJSON *arr = xf_tj_get(j, name);
    if (!arr) return xf_tj_err(tok, XF_ERR_NOT_FOUND, f, "missing");
    if (!cJSON_IsArray(arr)) return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be an array");
    const cJSON *specials = xf_tj_get(j, "special_tokens");
    if (specials && !cJSON_IsObject(specials))
        return xf_tj_err(tok, XF_ERR_FORMAT, "post_processor.special_tokens", "must be an object");
    size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
    xf_tpl_piece *p = NULL;
    if (ids) {
        p = xf_calloc(n ? n : 1, sizeof *p);
        if (!p) return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
        *out = p;
        *n_out = n;
    }
    xf_status st;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        snprintf(f, sizeof f, "post_processor.%s[%zu]", name, i);
        const cJSON *body = NULL;
        int is_seq = 0;
        if (cJSON_IsObject(e) && (body = xf_tj_get(e, "Sequence"))) is_seq = 1;
        else if (cJSON_IsObject(e)) body = xf_tj_get(e, "SpecialToken");
        if (!body || !cJSON_IsObject(body))
            return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be {\"Sequence\": {...}} or {\"SpecialToken\": {...}}");
        const char *id;
        int64_t type_id = 0;
        if ((st = xf_tj_get_str(tok, body, f, "id", 1, &id))) return st;
        const cJSON *tv = xf_tj_get(body, "type_id");
        if (tv) {
            char g[200];
            snprintf(g, sizeof g, "%s.type_id", f);
            if ((st = xf_tj_get_uint(tok, tv, g, XF_TOK_MAX_ID, &type_id))) return st;
        }
        if (is_seq) {
            int seq = !strcmp(id, "A") ? 0 : !strcmp(id, "B") ? 1 : -1;
            if (seq < 0) return xf_tj_err(tok, XF_ERR_FORMAT, f, "sequence id must be \"A\" or \"B\", got \"%s\"", id);
            if (seq == 1 && !is_pair) return xf_tj_err(tok, XF_ERR_FORMAT, f, "the single template cannot use sequence B");
            if (p) {
                p[i].is_seq = 1;
                p[i].seq = seq;
                p[i].type_id = (int32_t)type_id;
            }
            continue;
        }
        const cJSON *sp = xf_tj_get(specials, id);
        if (!sp || !cJSON_IsObject(sp))
            return xf_tj_err(tok, XF_ERR_FORMAT, f, "special token \"%s\" is not in post_processor.special_tokens", id);
        const cJSON *sids = xf_tj_get(sp, "ids");
        char g[200];
        snprintf(g, sizeof g, "post_processor.special_tokens[\"%.60s\"].ids", id);
        if (!sids || !cJSON_IsArray(sids)) return xf_tj_err(tok, XF_ERR_FORMAT, g, "must be an array of ids");
        size_t k = 0;
        if (p) {
            p[i].type_id = (int32_t)type_id;
            p[i].ids = ids + *n_ids;
        }
        for (const cJSON *x = sids->child; x; x = x->next, k++) {
            int64_t v;
            if ((st = xf_tj_get_uint(tok, x, g, XF_TOK_MAX_ID, &v))) return st;
            if (ids) ids[*n_ids] = (int32_t)v;
            ++*n_ids;
        }
        if (p) p[i].n_ids = k;
    }
    return XF_OK;
}

static size_t count_special(const xf_tpl_piece *p, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += p[i].is_seq ? 0 : p[i].n_ids;
    return c;
}

static xf_status load_post(xf_tokenizer *tok, const cJSON *j, int depth) {
    const char *type;
    xf_status st;
    if (!cJSON_IsObject(j)) return xf_tj_err(tok, XF_ERR_FORMAT, "post_processor", "must be an object");
    if ((st = xf_tj_get_type(tok, j, "post_processor", &type))) return st;
    if (!strcmp(type, "ByteLevel")) return XF_OK; /* only trims offsets: no-op for ids */
    if (!strcmp(type, "Sequence") && depth == 0) {
        /* Llama-3 style: [ByteLevel, TemplateProcessing]; one id-changing processor at most */
        const cJSON *arr = xf_tj_get(j, "processors");
        if (!arr || !cJSON_IsArray(arr))
            return xf_tj_err(tok, XF_ERR_FORMAT, "post_processor.processors", "must be an array");
        for (const cJSON *e = arr->child; e; e = e->next) {
            if (tok->post != XF_POST_NONE && !(cJSON_IsObject(e) && xf_tj_get(e, "type") &&
                                                cJSON_IsString(xf_tj_get(e, "type")) &&
                                                !strcmp(xf_tj_get(e, "type")->valuestring, "ByteLevel")))
                return xf_tj_err(tok, XF_ERR_UNSUPPORTED, "post_processor.processors",
                                 "more than one id-changing processor");
            if ((st = load_post(tok, e, depth + 1))) return st;
        }
        return XF_OK;
    }
    if (!strcmp(type, "BertProcessing")) {
        tok->post = XF_POST_BERT;
        tok->added_single = 2;
        tok->added_pair = 3;
        if ((st = load_bert_post(tok, j, "cls", &tok->bert_cls))) return st;
        return load_bert_post(tok, j, "sep", &tok->bert_sep);
    }
    if (!strcmp(type, "TemplateProcessing")) {
        size_t total = 0;
        if ((st = load_template(tok, j, "single", 0, NULL, NULL, NULL, &total)) ||
            (st = load_template(tok, j, "pair", 1, NULL, NULL, NULL, &total)))
            return st;
        tok->tpl_ids = xf_calloc(total ? total : 1, sizeof(int32_t));
        if (!tok->tpl_ids) return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
        size_t used = 0;
        if ((st = load_template(tok, j, "single", 0, &tok->tpl_single, &tok->n_tpl_single, tok->tpl_ids, &used)) ||
            (st = load_template(tok, j, "pair", 1, &tok->tpl_pair, &tok->n_tpl_pair, tok->tpl_ids, &used)))
            return st;
        tok->post = XF_POST_TEMPLATE;
        tok->added_single = count_special(tok->tpl_single, tok->n_tpl_single);
        tok->added_pair = count_special(tok->tpl_pair, tok->n_tpl_pair);
        return XF_OK;
    }
    return xf_tj_err(tok, XF_ERR_UNSUPPORTED, "post_processor.type", "post-processor type \"%s\" is not supported", type);
}

/* ---------------------------------------------------------- added tokens */

static int same_props(const xf_added_token *a, const xf_added_token *b) {
    return a->single_word == b->single_word && a->lstrip == b->lstrip && a->rstrip == b->rstrip &&
           a->normalized == b->normalized && a->special == b->special;
}

/* As tokenizers' AddedVocabulary::add_tokens during deserialization: an added token takes the
 * id its content already has (added map, then model vocabulary), else the next free id counted
 * from the model's vocabulary size; the "id" written in the file is not used. */
static xf_status load_added(xf_tokenizer *tok, const cJSON *root) {
    const cJSON *arr = xf_tj_get(root, "added_tokens");
    if (!arr) return XF_OK;
    if (!cJSON_IsArray(arr)) return xf_tj_err(tok, XF_ERR_FORMAT, "added_tokens", "must be an array");
    int n = cJSON_GetArraySize(arr);
    if (n > XF_TOK_MAX_ADDED) return xf_tj_err(tok, XF_ERR_RANGE, "added_tokens", "more than %d entries", XF_TOK_MAX_ADDED);
    tok->added = xf_calloc((size_t)n + 1, sizeof *tok->added);
    if (!tok->added) return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    xf_strmap by_id = {0}; /* 4-byte id -> index into tok->added */
    int64_t next_id = (int64_t)tok->vocab.n;
    xf_status st = XF_OK;
    size_t i = 0;
    xf_tok_buf norm = {0};
    for (const cJSON *e = arr->child; e && !st; e = e->next, i++) {
        char f[64];
        snprintf(f, sizeof f, "added_tokens[%zu]", i);
        if (!cJSON_IsObject(e)) {
            st = xf_tj_err(tok, XF_ERR_FORMAT, f, "must be an object");
            break;
        }
        xf_added_token t;
        memset(&t, 0, sizeof t);
        const char *content;
        const cJSON *idv = xf_tj_get(e, "id");
        int64_t file_id;
        char g[80];
        snprintf(g, sizeof g, "%s.id", f);
        if (!idv) st = xf_tj_err(tok, XF_ERR_NOT_FOUND, g, "missing");
        else st = xf_tj_get_uint(tok, idv, g, 4294967295.0, &file_id);
        if (st || (st = xf_tj_get_str(tok, e, f, "content", 1, &content))) break;
        t.normalized = 1;
        if ((st = xf_tj_get_bool(tok, e, f, "single_word", &t.single_word)) ||
            (st = xf_tj_get_bool(tok, e, f, "lstrip", &t.lstrip)) || (st = xf_tj_get_bool(tok, e, f, "rstrip", &t.rstrip)) ||
            (st = xf_tj_get_bool(tok, e, f, "special", &t.special)) ||
            (st = xf_tj_get_bool(tok, e, f, "normalized", &t.normalized)))
            break;
        size_t clen = strlen(content);
        if (clen == 0) continue;
        int32_t id, idx;
        if (xf_strmap_get(&tok->added_map, content, clen, &id)) {
            if (xf_strmap_get(&by_id, (const char *)&id, sizeof id, &idx) && same_props(&tok->added[idx], &t))
                continue;
        } else if (!xf_strmap_get(&tok->vocab, content, clen, &id)) {
            if (next_id > (int64_t)XF_TOK_MAX_ID) {
                st = xf_tj_err(tok, XF_ERR_RANGE, f, "too many tokens");
                break;
            }
            id = (int32_t)next_id++;
        }
        t.id = id;
        t.len = clen;
        if (!(t.content = xf_strdup(content))) {
            st = xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
            break;
        }
        if (t.normalized && tok->n_norm) {
            if ((st = xf_tok_normalize(tok, content, clen, &norm))) {
                free(t.content);
                break;
            }
            t.pattern = xf_malloc(norm.len + 1);
            if (t.pattern) memcpy(t.pattern, norm.data, norm.len + 1);
            t.pattern_len = norm.len;
        } else {
            t.pattern = xf_strdup(content);
            t.pattern_len = clen;
        }
        if (!t.pattern) {
            free(t.content);
            st = xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
            break;
        }
        if ((st = xf_strmap_put(&tok->added_map, content, clen, id))) {
            free(t.content);
            free(t.pattern);
            break;
        }
        if (xf_strmap_get(&by_id, (const char *)&id, sizeof id, &idx)) {
            free(tok->added[idx].content);
            free(tok->added[idx].pattern);
            tok->added[idx] = t; /* same id: the later token replaces the earlier one */
        } else {
            idx = (int32_t)tok->n_added;
            tok->added[tok->n_added++] = t;
            if ((st = xf_strmap_put(&by_id, (const char *)&id, sizeof id, idx))) break;
        }
    }
    xf_strmap_free(&by_id);
    xf_buf_free(&norm);
    if (st) return st;
    for (size_t k = 0; k < tok->n_added; k++) {
        const xf_added_token *t = &tok->added[k];
        xf_trie *trie = t->normalized ? &tok->trie_norm : &tok->trie_raw;
        if ((st = xf_trie_add(trie, t->pattern, t->pattern_len, (int32_t)k))) return st;
    }
    return XF_OK;
}

/* ------------------------------------------------------------ reverse map */

typedef struct rev_ent {
    int32_t id;
    int prio; /* 1 for added tokens: they win over the model's token of the same id */
    const char *tok;
    int special;
} rev_ent;

static int rev_cmp(const void *a, const void *b) {
    const rev_ent *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return y->prio - x->prio;
}

xf_status xf_tok_build_reverse(xf_tokenizer *tok) {
    size_t n = tok->vocab.n + tok->n_added, k = 0;
    rev_ent *e = xf_calloc(n ? n : 1, sizeof *e);
    if (!e) return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    for (size_t s = 0; s < tok->vocab.cap; s++) {
        const xf_strmap_slot *sl = &tok->vocab.slots[s];
        if (sl->hash) e[k++] = (rev_ent){sl->val, 0, xf_strmap_key(&tok->vocab, sl), 0};
    }
    for (size_t a = 0; a < tok->n_added; a++)
        e[k++] = (rev_ent){tok->added[a].id, 1, tok->added[a].content, tok->added[a].special};
    qsort(e, k, sizeof *e, rev_cmp);
    tok->rev_ids = xf_calloc(k ? k : 1, sizeof *tok->rev_ids);
    tok->rev_toks = xf_calloc(k ? k : 1, sizeof *tok->rev_toks);
    tok->rev_special = xf_calloc(k ? k : 1, 1);
    if (!tok->rev_ids || !tok->rev_toks || !tok->rev_special) {
        free(e);
        return xf_error(XF_ERR_NOMEM, "%s: out of memory", tok->path);
    }
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m && tok->rev_ids[m - 1] == e[i].id) continue; /* first (highest priority) wins */
        tok->rev_ids[m] = e[i].id;
        tok->rev_special[m] = (uint8_t)(e[i].special != 0);
        tok->rev_toks[m++] = e[i].tok;
    }
    tok->n_rev = m;
    tok->vocab_size = m ? (size_t)tok->rev_ids[m - 1] + 1 : 0;
    free(e);
    return XF_OK;
}

/* ------------------------------------------------------------------ load */

static xf_status load_all(xf_tokenizer *tok, const cJSON *root) {
    xf_status st;
    if (!cJSON_IsObject(root)) return xf_error(XF_ERR_FORMAT, "%s: top level must be a JSON object", tok->path);
    const cJSON *ver = xf_tj_get(root, "version");
    if (ver && (!cJSON_IsString(ver) || strcmp(ver->valuestring, "1.0") != 0))
        return xf_tj_err(tok, XF_ERR_UNSUPPORTED, "version", "unknown tokenizer.json version (expected \"1.0\")");
    if ((st = load_model(tok, root))) return st;
    const cJSON *j;
    if ((j = xf_tj_get(root, "normalizer")) && (st = load_norm(tok, j, "normalizer", 0))) return st;
    if ((j = xf_tj_get(root, "pre_tokenizer")) && (st = load_pretok(tok, j, "pre_tokenizer", 0))) return st;
    if ((j = xf_tj_get(root, "post_processor")) && (st = load_post(tok, j, 0))) return st;
    if ((j = xf_tj_get(root, "decoder")) && (st = xf_tj_load_decoder(tok, j))) return st;
    if ((st = load_added(tok, root))) return st;
    return xf_tok_build_reverse(tok);
}

xf_status xf_tokenizer_load(const char *path, xf_tokenizer **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path || !*path) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_load: path is NULL or empty");
    char *file = xf_is_dir(path) ? xf_path_join(path, "tokenizer.json") : xf_strdup(path);
    if (!file) return xf_error(XF_ERR_NOMEM, "xf_tokenizer_load: out of memory");
    if (!xf_is_file(file)) {
        xf_status st = xf_error(XF_ERR_NOT_FOUND, "%s: no such file", file);
        free(file);
        return st;
    }
    cJSON *root;
    xf_status st = xf_json_load(file, &root);
    if (st) {
        free(file);
        return st;
    }
    xf_tokenizer *tok = xf_calloc(1, sizeof *tok);
    if (!tok) {
        cJSON_Delete(root);
        free(file);
        return xf_error(XF_ERR_NOMEM, "%s: out of memory", path);
    }
    tok->path = file;
    tok->unk_id = -1;
    st = load_all(tok, root);
    cJSON_Delete(root);
    if (st) {
        xf_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return XF_OK;
}

void xf_tokenizer_free(xf_tokenizer *tok) {
    if (!tok) return;
    xf_strmap_free(&tok->vocab);
    xf_strmap_free(&tok->added_map);
    for (size_t i = 0; i < tok->n_added; i++) {
        free(tok->added[i].content);
        free(tok->added[i].pattern);
    }
    free(tok->added);
    xf_trie_free(&tok->trie_raw);
    xf_trie_free(&tok->trie_norm);
    for (size_t i = 0; i < tok->n_norm; i++) xf_norm_step_free(&tok->norm[i]);
    free(tok->norm);
    for (size_t i = 0; i < tok->n_pretok; i++) xf_regex_free(tok->pretok[i].re);
    free(tok->pretok);
    xf_bpe_free(tok);
    xf_unigram_free(tok);
    xf_decoder_free(tok);
    free(tok->tok_strings);
    free(tok->tpl_single);
    free(tok->tpl_pair);
    free(tok->tpl_ids);
    free(tok->rev_ids);
    free(tok->rev_toks);
    free(tok->unk_token);
    free(tok->prefix);
    free(tok->path);
    free(tok);
}
