/* tok_json.c — typed tokenizer.json field access shared by the loaders, and the vocabulary. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tokenizer/tok_json.h"

/* "<file>: <field>: <message>" */
xf_status xf_tj_err(const xf_tokenizer *tok, xf_status st, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xf_error(st, "%s: %s: %s", tok->path, field, msg);
}

const cJSON *xf_tj_get(const cJSON *obj, const char *name) {
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    return v && !cJSON_IsNull(v) ? v : NULL;
}

xf_status xf_tj_get_bool(const xf_tokenizer *tok, const cJSON *obj, const char *where,
                          const char *name, int *out) {
    const cJSON *v = xf_tj_get(obj, name);
    if (!v) return XF_OK;
    if (!cJSON_IsBool(v)) return xf_tj_err(tok, XF_ERR_FORMAT, where, "field \"%s\" must be true or false", name);
    *out = cJSON_IsTrue(v);
    return XF_OK;
}

xf_status xf_tj_get_str(const xf_tokenizer *tok, const cJSON *obj, const char *where,
                         const char *name, int required, const char **out) {
    const cJSON *v = xf_tj_get(obj, name);
    if (!v) return required ? xf_tj_err(tok, XF_ERR_NOT_FOUND, where, "required field \"%s\" is missing", name) : XF_OK;
    if (!cJSON_IsString(v)) return xf_tj_err(tok, XF_ERR_FORMAT, where, "field \"%s\" must be a string", name);
    *out = v->valuestring;
    return XF_OK;
}

/* An integer JSON value in [0, hi]. */
xf_status xf_tj_get_uint(const xf_tokenizer *tok, const cJSON *v, const char *where, double hi,
                          int64_t *out) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return xf_tj_err(tok, XF_ERR_FORMAT, where, "must be a non-negative integer");
    double d = v->valuedouble;
    if (d < 0 || d > hi) return xf_tj_err(tok, XF_ERR_RANGE, where, "value %.0f is outside [0, %.0f]", d, hi);
    if (d != floor(d)) return xf_tj_err(tok, XF_ERR_FORMAT, where, "must be an integer, got %g", d);
    *out = (int64_t)d;
    return XF_OK;
}

xf_status xf_tj_get_type(const xf_tokenizer *tok, const cJSON *obj, const char *where, const char **type) {
    char f[160];
    snprintf(f, sizeof f, "%s.type", where);
    const cJSON *v = xf_tj_get(obj, "type");
    if (!v) return xf_tj_err(tok, XF_ERR_NOT_FOUND, f, "missing");
    if (!cJSON_IsString(v)) return xf_tj_err(tok, XF_ERR_FORMAT, f, "must be a string");
    *type = v->valuestring;
    return XF_OK;
}

xf_status xf_tj_load_vocab(xf_tokenizer *tok, const cJSON *m) {
    xf_status st;
    const cJSON *vocab = xf_tj_get(m, "vocab");
    if (!vocab) return xf_tj_err(tok, XF_ERR_NOT_FOUND, "model", "required field \"vocab\" is missing");
    if (!cJSON_IsObject(vocab)) return xf_tj_err(tok, XF_ERR_FORMAT, "model.vocab", "must be an object (token -> id)");
    size_t n = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (++n > XF_TOK_MAX_VOCAB)
            return xf_tj_err(tok, XF_ERR_RANGE, "model.vocab", "more than %d entries", XF_TOK_MAX_VOCAB);
        char where[128];
        snprintf(where, sizeof where, "model.vocab[\"%.60s\"]", e->string ? e->string : "");
        int64_t id;
        if ((st = xf_tj_get_uint(tok, e, where, XF_TOK_MAX_ID, &id))) return st;
        const char *key = e->string ? e->string : "";
        size_t klen = strlen(key);
        if ((st = xf_strmap_put(&tok->vocab, key, klen, (int32_t)id))) return xf_error_wrap(st, "%s", tok->path);
        if (klen > tok->max_key_len) tok->max_key_len = klen;
    }
    return XF_OK;
}
