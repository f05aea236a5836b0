/* quantize.c — load-time layout of linear-layer weights, as xf_model_params.weights asks: F32
 * weights are packed into the fp32 GEMM's panels, or quantized to per-channel int8
 * (kernels/gemm_i8.h) packed for its micro-kernels; either copy is owned by the weight set and the
 * file pages behind the original are released. GGUF block-quantized weights stay as they are. */
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "kernels/gemm_i8.h"
#include "kernels/matmul.h"
#include "kernels/qgemv_q8.h"
#include "model/model.h"

/* F32 weights packed once into the GEMM's panels (decode and prefill then share one kernel and
 * skip the per-call packing). */
static xf_status pack_f32(xf_model *m, xf_weight *w) {
    xf_gemm_isa isa = xf_gemm_isa_best();
    size_t n = xf_gemm_packed_floats(isa, w->rows, w->cols), bytes;
    if (!xf_mul_ok(n, sizeof(float), &bytes)) return xf_error(XF_ERR_NOMEM, "packed copy of tensor \"%s\" overflows", w->name);
    float *buf = xf_aligned_alloc(bytes);
    if (!buf) return xf_error(XF_ERR_NOMEM, "cannot allocate %zu bytes to pack tensor \"%s\"", bytes, w->name);
    xf_status st = xf_weight_set_adopt(m->ws, buf);
    if (st) {
        free(buf);
        return st;
    }
    xf_gemm_pack(isa, w->data, w->cols, w->rows, w->cols, buf);
    xf_weight_release(m->ws, w);
    w->fmt = XF_WF_F32P;
    w->data = buf;
    w->isa = (int)isa;
    return XF_OK;
}

xf_status xf_model_prepare_linear(xf_model *m, xf_weight *w) {
    if (w->fmt == XF_WF_GGML && m->weight_format == XF_WEIGHTS_INT8 && xf_qgemv_q8_has((int)w->qtype) &&
        w->cols % XF_Q8A_BLOCK == 0)
        w->act_q8 = 1; /* GGUF blocks stay as they are; int8 compute quantizes the activations */
    if (w->fmt != XF_WF_F32 || !w->data) return XF_OK;
    if (m->weight_format == XF_WEIGHTS_AS_STORED) return pack_f32(m, w);
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
    xf_weight_release(m->ws, w);
    w->fmt = XF_WF_I8;
    w->data = buf;
    w->scale = scale;
    w->row_bytes = (w->cols + 3) & ~(size_t)3;
    return XF_OK;
}
