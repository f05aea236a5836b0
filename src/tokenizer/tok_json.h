/* tok_json.h — typed tokenizer.json field access shared by the loaders (tokenizer_json.c,
 * bpe_json.c): messages "<file>: <field>: <message>". */
#ifndef XF_TOKENIZER_TOK_JSON_H
#define XF_TOKENIZER_TOK_JSON_H

#include <stdint.h>

#include "core/error.h"
#include "core/json.h"
#include "core/limits.h"
#include "tokenizer/tokenizer.h"

#define XF_TOK_MAX_VOCAB XF_MAX_VOCAB /* core/limits.h */
#define XF_TOK_MAX_ID 2147483647.0

xf_status xf_tj_err(const xf_tokenizer *tok, xf_status st, const char *field, const char *fmt, ...)
    XF_PRINTF(4, 5);
/* Member `name` of obj, NULL when absent or JSON null. */
const cJSON *xf_tj_get(const cJSON *obj, const char *name);
xf_status xf_tj_get_bool(const xf_tokenizer *tok, const cJSON *obj, const char *where,
                         const char *name, int *out);
xf_status xf_tj_get_str(const xf_tokenizer *tok, const cJSON *obj, const char *where,
                        const char *name, int required, const char **out);
/* An integer JSON value in [0, hi]. */
xf_status xf_tj_get_uint(const xf_tokenizer *tok, const cJSON *v, const char *where, double hi,
                         int64_t *out);
xf_status xf_tj_get_type(const xf_tokenizer *tok, const cJSON *obj, const char *where,
                         const char **type);
/* model.vocab (token -> id) into tok->vocab, tracking max_key_len. */
xf_status xf_tj_load_vocab(xf_tokenizer *tok, const cJSON *m);

#endif
