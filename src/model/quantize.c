/* quantize.c — load-time weight conversion requested by xf_model_params.weights: linear-layer
 * weights held as F32 become per-channel int8 (kernels/gemm_i8.h), packed for the micro-kernels,
 * in one buffer owned by the weight set. GGUF block-quantized weights are left as they are. */
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "kernels/gemm_i8.h"
#include "model/model.h"

xf_status xf_model_prepare_linear(xf_model *m, xf_weight *w) {
    if (m->weight_format != XF_WEIGHTS_INT8 || w->fmt != XF_WF_F32 || !w->data) return XF_OK;
    if (w->cols > XF_I8_MAX_K)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor \"%s\" has %zu inputs; int8 weights support at most %d",
                        m->path, w->name, w->cols, XF_I8_MAX_K);
    size_t packed = xf_i8_packed_bytes(w->rows, w->cols), extra, bytes;
    if (!xf_mul_ok(w->rows, sizeof(float), &extra) || packed + extra < packed)
        return xf_error(XF_ERR_NOMEM, "int8 copy of tensor \"%s\" overflows", w->name);
    bytes = packed + extra;
    int8_t *buf = xf_aligned_alloc(bytes);
    if (!buf) return xf_error(XF_ERR_NOMEM, "cannot allocate %zu bytes for the int8 copy of tensor \"%s\"", bytes, w->name);
    xf_status st = xf_weight_set_adopt(m->ws, buf);
    if (st) {
        free(buf);
        return st;
    }
    float *scale = (float *)(buf + packed);
    xf_i8_quantize_pack(w->data, w->cols, w->rows, w->cols, (uint8_t *)buf, scale);
    w->fmt = XF_WF_I8;
    w->data = buf;
    w->scale = scale;
    w->row_bytes = (w->cols + 3) & ~(size_t)3;
    return XF_OK;
}
