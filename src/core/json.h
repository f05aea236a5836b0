/* json.h — cJSON loading and typed field access with messages that name the file and field. */
#ifndef XF_CORE_JSON_H
#define XF_CORE_JSON_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "xfmr.h"

/* Parse a JSON file (bounded size). On a syntax error the message gives file, line and column. */
xf_status xf_json_load(const char *path, cJSON **out);
/* Parse a JSON buffer; `what` names it in messages. */
xf_status xf_json_parse(const char *what, const char *buf, size_t len, cJSON **out);

/* Typed field getters. `file` is used in messages ("config.json: field "hidden_size" ...").
 * *_opt variants leave *out untouched and return XF_OK when the field is absent or null;
 * the plain variants return XF_ERR_NOT_FOUND. A present field of the wrong type or outside
 * [lo, hi] is XF_ERR_FORMAT / XF_ERR_RANGE. */
xf_status xf_json_int(const char *file, const cJSON *obj, const char *field, int64_t lo, int64_t hi,
                      int64_t *out);
xf_status xf_json_int_opt(const char *file, const cJSON *obj, const char *field, int64_t lo,
                          int64_t hi, int64_t *out);
xf_status xf_json_num_opt(const char *file, const cJSON *obj, const char *field, double lo,
                          double hi, double *out);
xf_status xf_json_bool_opt(const char *file, const cJSON *obj, const char *field, int *out);
/* String getters return a pointer into the cJSON tree. */
xf_status xf_json_str(const char *file, const cJSON *obj, const char *field, const char **out);
xf_status xf_json_str_opt(const char *file, const cJSON *obj, const char *field, const char **out);

#endif
