/* json.c — cJSON loading with located syntax errors and typed, range-checked field access. */
#include "core/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"

xf_status xf_json_parse(const char *what, const char *buf, size_t len, cJSON **out) {
    *out = NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (j) { /* only whitespace may follow the value */
        while (end && end < buf + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
        if (end && end < buf + len && *end != '\0') {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    if (!j) {
        if (!end || end < buf || end > buf + len) end = buf;
        size_t line = 1, col = 1;
        for (const char *p = buf; p < end; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return xf_error(XF_ERR_FORMAT, "%s: malformed JSON near line %zu, column %zu", what, line, col);
    }
    *out = j;
    return XF_OK;
}

xf_status xf_json_load(const char *path, cJSON **out) {
    char *buf;
    size_t len;
    *out = NULL;
    xf_status st = xf_read_file(path, XF_READ_FILE_MAX, &buf, &len);
    if (st) return st;
    st = xf_json_parse(path, buf, len, out);
    free(buf);
    return st;
}

static const cJSON *field_of(const cJSON *obj, const char *field) {
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, field) : NULL;
    return (v && !cJSON_IsNull(v)) ? v : NULL;
}

static xf_status get_num(const char *file, const cJSON *obj, const char *field, int required,
                         const cJSON **v) {
    *v = field_of(obj, field);
    if (!*v) return required ? xf_error(XF_ERR_NOT_FOUND, "%s: required field \"%s\" is missing", file, field) : XF_OK;
    if (!cJSON_IsNumber(*v) || !isfinite((*v)->valuedouble))
        return xf_error(XF_ERR_FORMAT, "%s: field \"%s\" must be a number", file, field);
    return XF_OK;
}

static xf_status int_field(const char *file, const cJSON *obj, const char *field, int64_t lo,
                           int64_t hi, int64_t *out, int required) {
    const cJSON *v;
    xf_status st = get_num(file, obj, field, required, &v);
    if (st || !v) return st;
    double d = v->valuedouble;
    if (d != floor(d)) return xf_error(XF_ERR_FORMAT, "%s: field \"%s\" must be an integer, got %g", file, field, d);
    if (d < (double)lo || d > (double)hi)
        return xf_error(XF_ERR_RANGE, "%s: field \"%s\" = %g is outside [%lld, %lld]", file, field, d,
                        (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return XF_OK;
}

xf_status xf_json_int(const char *file, const cJSON *obj, const char *field, int64_t lo, int64_t hi,
                      int64_t *out) {
    return int_field(file, obj, field, lo, hi, out, 1);
}

xf_status xf_json_int_opt(const char *file, const cJSON *obj, const char *field, int64_t lo,
                          int64_t hi, int64_t *out) {
    return int_field(file, obj, field, lo, hi, out, 0);
}

xf_status xf_json_num_opt(const char *file, const cJSON *obj, const char *field, double lo,
                          double hi, double *out) {
    const cJSON *v;
    xf_status st = get_num(file, obj, field, 0, &v);
    if (st || !v) return st;
    if (v->valuedouble < lo || v->valuedouble > hi)
        return xf_error(XF_ERR_RANGE, "%s: field \"%s\" = %g is outside [%g, %g]", file, field, v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return XF_OK;
}

xf_status xf_json_bool_opt(const char *file, const cJSON *obj, const char *field, int *out) {
    const cJSON *v = field_of(obj, field);
    if (!v) return XF_OK;
    if (!cJSON_IsBool(v)) return xf_error(XF_ERR_FORMAT, "%s: field \"%s\" must be true or false", file, field);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return XF_OK;
}

static xf_status str_field(const char *file, const cJSON *obj, const char *field, const char **out,
                           int required) {
    const cJSON *v = field_of(obj, field);
    if (!v) return required ? xf_error(XF_ERR_NOT_FOUND, "%s: required field \"%s\" is missing", file, field) : XF_OK;
    if (!cJSON_IsString(v)) return xf_error(XF_ERR_FORMAT, "%s: field \"%s\" must be a string", file, field);
    *out = v->valuestring;
    return XF_OK;
}

xf_status xf_json_str(const char *file, const cJSON *obj, const char *field, const char **out) {
    return str_field(file, obj, field, out, 1);
}

xf_status xf_json_str_opt(const char *file, const cJSON *obj, const char *field, const char **out) {
    return str_field(file, obj, field, out, 0);
}
