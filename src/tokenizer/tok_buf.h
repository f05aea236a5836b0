/* tok_buf.h — growable byte and int32 buffers used by the tokenizer pipeline. */
#ifndef XF_TOKENIZER_TOK_BUF_H
#define XF_TOKENIZER_TOK_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"

typedef struct xf_tok_buf {
    char *data;
    size_t len, cap;
} xf_tok_buf;

typedef struct xf_tok_ids {
    int32_t *data;
    size_t len, cap;
} xf_tok_ids;

/* Make room for `extra` more bytes; XF_ERR_NOMEM (with a message) on failure. */
xf_status xf_buf_reserve(xf_tok_buf *b, size_t extra);
xf_status xf_buf_append(xf_tok_buf *b, const void *p, size_t n);
void xf_buf_free(xf_tok_buf *b);

xf_status xf_ids_push(xf_tok_ids *v, int32_t id);
xf_status xf_ids_append(xf_tok_ids *v, const int32_t *p, size_t n);
void xf_ids_free(xf_tok_ids *v);

#endif
