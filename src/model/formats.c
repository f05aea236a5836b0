/* formats.c — the weight-format table of formats.h: one entry per format, its products, its rows
 * read back as floats and, for the formats made at load, its packing. */
#include "model/formats.h"

#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/gguf.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_i8.h"
#include "kernels/matmul.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qgemv_r16.h"
#include "kernels/qmatmul.h"
#include "kernels/sparse24.h"

/* Room for a new buffer of n bytes, adopted by the weight set. */
/* A converted weight's memory: the set's, in huge pages where it can (the products stream it). */
static xf_status new_buffer(xf_weight_set *ws, const xf_weight *w, size_t bytes, void **out) {
    void *buf = xf_weight_set_alloc(ws, bytes, w->name);
    if (!buf) return XF_ERR_NOMEM;
    *out = buf;
    return XF_OK;
}

static size_t no_scratch(const xf_weight *w) {
    (void)w;
    return 0;
}

/* ---------------------------------------------------------------- f32: row-major floats */

static void f32_mm(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, float *Y) {
    xf_matmul_f32_nt(pool, X, w->cols, (const float *)w->data, w->cols, bias, Y, w->rows, T, w->rows, w->cols);
}

static void f32_rows(const xf_weight *w, size_t r0, size_t r1, float *out) {
    const float *src = (const float *)w->data + r0 * w->cols;
    for (size_t i = 0; i < (r1 - r0) * w->cols; i++) out[i] = src[i];
}

/* mm_as of the float GEMM: every element is computed the same way whatever the row count. */
static void f32_as(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, size_t path_t,
                   float *Y) {
    (void)path_t;
    f32_mm(pool, w, bias, X, T, Y);
}

const xf_format xf_fmt_f32 = {"f32", XF_GGML_F32, XF_GGML_F32, SIZE_MAX, f32_mm, f32_mm, f32_rows, no_scratch, NULL, f32_as, NULL};

/* ---------------------------------------------------------------- f32p: GEMM panels */

static void f32p_mm(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, float *Y) {
    xf_matmul_f32_packed(pool, (xf_gemm_isa)w->isa, X, w->cols, w->data, bias, Y, w->rows, T, w->rows, w->cols);
}

static void f32p_rows(const xf_weight *w, size_t r0, size_t r1, float *out) {
    xf_gemm_unpack_rows((xf_gemm_isa)w->isa, w->data, w->cols, r0, r1, out);
}

/* F32 weights packed once into the GEMM's panels (decode and prefill then share one kernel and
 * skip the per-call packing). */
static xf_status f32p_pack(xf_weight_set *ws, xf_weight *w) {
    xf_gemm_isa isa = xf_gemm_isa_best();
    size_t n = xf_gemm_packed_floats(isa, w->rows, w->cols), bytes;
    void *buf = NULL;
    if (!xf_mul_ok(n, sizeof(float), &bytes)) return xf_error(XF_ERR_NOMEM, "packed copy of tensor \"%s\" overflows", w->name);
    xf_status st = new_buffer(ws, w, bytes, &buf);
    if (st) return st;
    xf_gemm_pack(isa, w->data, w->cols, w->rows, w->cols, buf);
    xf_weight_release(ws, w);
    w->fmt = &xf_fmt_f32p;
    w->data = buf;
    w->isa = (int)isa;
    return XF_OK;
}

static void f32p_as(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, size_t path_t,
                    float *Y) {
    (void)path_t; /* as f32_as */
    f32p_mm(pool, w, bias, X, T, Y);
}

const xf_format xf_fmt_f32p = {"f32p", -1, XF_GGML_F32, SIZE_MAX, f32p_mm, f32p_mm, f32p_rows, no_scratch, f32p_pack, f32p_as, NULL};

/* ---------------------------------------------------------------- i8: int8 per channel */

static void i8_mm(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, float *Y) {
    xf_matmul_i8(pool, X, w->cols, T, w->data, w->scale, bias, Y, w->rows, w->rows, w->cols);
}

static size_t i8_scratch(const xf_weight *w) { return xf_i8_scratch_bytes(w->cols); }

static void i8_rows(const xf_weight *w, size_t r0, size_t r1, float *out) {
    xf_i8_unpack_rows(w->data, w->scale, w->cols, r0, r1, out);
}

static xf_status i8_pack(xf_weight_set *ws, xf_weight *w) {
    if (w->cols > XF_I8_MAX_K)
        return xf_error(XF_ERR_UNSUPPORTED, "tensor \"%s\" has %zu inputs; int8 weights support at most %d", w->name,
                        w->cols, XF_I8_MAX_K);
    size_t packed = xf_i8_packed_bytes(w->rows, w->cols), extra, bytes;
    if (!xf_mul_ok(w->rows, sizeof(float), &extra) || packed + extra < packed)
        return xf_error(XF_ERR_NOMEM, "int8 copy of tensor \"%s\" overflows", w->name);
    bytes = packed + extra;
    void *buf = NULL;
    xf_status st = new_buffer(ws, w, bytes, &buf);
    if (st) return st;
    float *scale = (float *)((uint8_t *)buf + packed);
    xf_i8_quantize_pack(w->data, w->cols, w->rows, w->cols, buf, scale);
    xf_weight_release(ws, w);
    w->fmt = &xf_fmt_i8;
    w->data = buf;
    w->scale = scale;
    w->row_bytes = (w->cols + 3) & ~(size_t)3;
    return XF_OK;
}

const xf_format xf_fmt_i8 = {"i8", -1, XF_GGML_F32, SIZE_MAX, i8_mm, i8_mm, i8_rows, i8_scratch, i8_pack, NULL, NULL};

/* ---------------------------------------------------------------- bf16: bfloat16 panels */

static void bf16_mm(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, float *Y) {
    xf_matmul_bf16(pool, X, w->cols, T, w->data, bias, Y, w->rows, w->rows, w->cols);
}

static size_t bf16_scratch(const xf_weight *w) { return xf_bf16_scratch_bytes(w->cols); }

static void bf16_rows(const xf_weight *w, size_t r0, size_t r1, float *out) {
    xf_bf16_unpack_rows(w->data, w->cols, r0, r1, out);
}

static xf_status bf16_pack(xf_weight_set *ws, xf_weight *w) {
    void *buf = NULL;
    xf_status st = new_buffer(ws, w, xf_bf16_packed_bytes(w->rows, w->cols), &buf);
    if (st) return st;
    xf_bf16_pack(w->data, w->cols, w->rows, w->cols, buf);
    xf_weight_release(ws, w);
    w->fmt = &xf_fmt_bf16;
    w->data = buf;
    return XF_OK;
}

const xf_format xf_fmt_bf16 = {"bf16", -1, XF_GGML_F32, SIZE_MAX, bf16_mm, bf16_mm, bf16_rows, bf16_scratch, bf16_pack, NULL, NULL};

/* ---------------------------------------------------------------- s24: 2:4 sparse, f32 values */

static void s24_mm(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, float *Y) {
    xf_s24_matmul(pool, w->data, w->rows, w->cols, bias, X, w->cols, T, Y, w->rows);
}

static void s24_rows(const xf_weight *w, size_t r0, size_t r1, float *out) {
    xf_s24_decompress_rows(w->data, w->rows, w->cols, r0, r1, out);
}

float *xf_weight_dense_copy(const xf_weight *w) {
    size_t n;
    float *d = NULL;
    if (!xf_mul_ok(w->rows, w->cols * sizeof(float), &n) || !(d = xf_aligned_alloc(n ? n : 1))) {
        xf_error(XF_ERR_NOMEM, "cannot allocate a float copy of tensor \"%s\"", w->name);
        return NULL;
    }
    w->fmt->dequant_rows(w, 0, w->rows, d);
    return d;
}

xf_status xf_format_f32p_from(xf_weight_set *ws, xf_weight *w, const float *dense) {
    xf_weight f = *w;
    f.fmt = &xf_fmt_f32;
    f.data = dense;
    f.act_q8 = 0;
    f.row_bytes = w->cols * sizeof(float);
    xf_status st = xf_format_convert(ws, &f, &xf_fmt_f32p);
    if (!st) *w = f;
    return st;
}

/* s24 (q = 0), s24q8 (q = 8) or s24q4 (q = 4) from w (any format reading back as floats). */
static xf_status s24_make(xf_weight_set *ws, xf_weight *w, const float *s, int q) {
    if (w->cols % 4 != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "tensor \"%s\" has %zu inputs: 2:4 sparsity needs a multiple of 4", w->name,
                        w->cols);
    if (q == 4 && w->cols % 32 != 0)
        return xf_error(XF_ERR_UNSUPPORTED,
                        "tensor \"%s\" has %zu inputs: 2:4 with 4-bit values needs a multiple of 32 (a scale per 16 values)",
                        w->name, w->cols);
    const size_t bytes = xf_s24_bytes(w->rows, w->cols);
    const size_t qbytes = q == 8 ? xf_s24q8_bytes(w->rows, w->cols) : q == 4 ? xf_s24q4_bytes(w->rows, w->cols) : bytes;
    if (!bytes || !qbytes) return xf_error(XF_ERR_NOMEM, "2:4 copy of tensor \"%s\" overflows", w->name);
    float *dense = NULL; /* any other format reads back as floats (GGUF blocks, packed panels) */
    if (w->fmt != &xf_fmt_f32 && !(dense = xf_weight_dense_copy(w))) return XF_ERR_NOMEM;
    uint8_t *tmp = q ? xf_aligned_alloc(bytes) : NULL;
    void *buf = NULL;
    xf_status st = q && !tmp ? xf_error(XF_ERR_NOMEM, "cannot allocate %zu bytes for tensor \"%s\"", bytes, w->name)
                             : new_buffer(ws, w, qbytes, &buf);
    if (!st) {
        xf_s24_compress(dense ? dense : (const float *)w->data, w->cols, w->rows, w->cols, s, q ? tmp : buf);
        if (q == 8) xf_s24q8_from_s24(tmp, w->rows, w->cols, buf);
        if (q == 4) xf_s24q4_from_s24(tmp, w->rows, w->cols, buf);
        if (!dense) xf_weight_release(ws, w); /* f32 pages of a file mapping */
        w->fmt = q == 8 ? &xf_fmt_s24q8 : q == 4 ? &xf_fmt_s24q4 : &xf_fmt_s24;
        w->data = buf;
        w->row_bytes = 0;
        w->act_q8 = 0;
    }
    free(dense);
    free(tmp);
    return st;
}

xf_status xf_format_s24_make(xf_weight_set *ws, xf_weight *w, const float *s) { return s24_make(ws, w, s, 0); }
xf_status xf_format_s24q8_make(xf_weight_set *ws, xf_weight *w, const float *s) { return s24_make(ws, w, s, 8); }
xf_status xf_format_s24q4_make(xf_weight_set *ws, xf_weight *w, const float *s) { return s24_make(ws, w, s, 4); }

static xf_status s24_pack(xf_weight_set *ws, xf_weight *w) { return xf_format_s24_make(ws, w, NULL); }

static size_t s24_scratch(const xf_weight *w) { return xf_s24_scratch(w->cols); }

const xf_format xf_fmt_s24 = {"s24", -1, XF_GGML_S24, SIZE_MAX, s24_mm, s24_mm, s24_rows, s24_scratch, s24_pack, NULL, NULL};

/* ---------------------------------------------------------------- s24q8: 2:4 sparse, int8 values */

static void s24q8_mm(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, float *Y) {
    xf_s24q8_matmul(pool, w->data, w->rows, w->cols, bias, X, w->cols, T, Y, w->rows);
}

static void s24q8_rows(const xf_weight *w, size_t r0, size_t r1, float *out) {
    xf_s24q8_decompress_rows(w->data, w->rows, w->cols, r0, r1, out);
}

static xf_status s24q8_pack(xf_weight_set *ws, xf_weight *w) { return xf_format_s24q8_make(ws, w, NULL); }

const xf_format xf_fmt_s24q8 = {"s24q8", -1, XF_GGML_S24Q8, SIZE_MAX, s24q8_mm, s24q8_mm, s24q8_rows, s24_scratch, s24q8_pack, NULL, NULL};

/* ---------------------------------------------------------------- s24q4: 2:4 sparse, 4-bit values */

static void s24q4_mm(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, float *Y) {
    xf_s24q4_matmul(pool, w->data, w->rows, w->cols, bias, X, w->cols, T, Y, w->rows);
}

static void s24q4_rows(const xf_weight *w, size_t r0, size_t r1, float *out) {
    xf_s24q4_decompress_rows(w->data, w->rows, w->cols, r0, r1, out);
}

static xf_status s24q4_pack(xf_weight_set *ws, xf_weight *w) { return xf_format_s24q4_make(ws, w, NULL); }

const xf_format xf_fmt_s24q4 = {"s24q4", -1, XF_GGML_S24Q4, SIZE_MAX, s24q4_mm, s24q4_mm, s24q4_rows, s24_scratch, s24q4_pack, NULL, NULL};

/* ---------------------------------------------------------------- GGUF blocks */

/* The GGUF block type of a block format (the r16 ones: the type their blocks save as). */
static int blk_type(const xf_weight *w) { return w->fmt->save_type; }

/* T rows through activations quantized to 8 bits (qgemv_q8.h), any T: the repacked layout's driver,
 * or the file layout's GEMV on chunks of its limit — each activation row is quantized per 32 on its
 * own, so the result is what one product of all rows would give. */
static void ggml_q8(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, float *Y) {
    if (w->fmt->block_rows) {
        xf_r16_matmul(pool, blk_type(w), w->data, bias, X, w->cols, Y, w->rows, T, w->rows, w->cols, 1);
        return;
    }
    size_t step = xf_qmatmul_max_t(blk_type(w), 1);
    if (!step) step = 1;
    for (size_t t0 = 0; t0 < T; t0 += step)
        xf_qmatmul_q8(pool, blk_type(w), w->data, w->row_bytes, bias, X + t0 * w->cols, w->cols, Y + t0 * w->rows, w->rows,
                      T - t0 < step ? T - t0 : step, w->rows, w->cols);
}

/* T rows with float activations, the path chosen for path_t rows (xf_qmatmul_as); the repacked
 * layout (only ever made with act_q8, so only asked here above the int8 GEMV's limit, which is
 * above the float GEMV's) always takes the GEMM path, bitwise xf_qmatmul's. */
static void ggml_float(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, size_t path_t,
                       float *Y) {
    if (w->fmt->block_rows)
        xf_r16_matmul(pool, blk_type(w), w->data, bias, X, w->cols, Y, w->rows, T, w->rows, w->cols, 0);
    else
        xf_qmatmul_as(pool, blk_type(w), w->data, w->row_bytes, bias, X, w->cols, Y, w->rows, T, path_t, w->rows, w->cols);
}

/* 1 when a product of more rows than the int8 GEMV's limit runs the int8 GEMM of the K types
 * (`--weights int8`, the file's layout: qgemv_q8.h's xf_qgemm_q8, each row on its own). */
static int ggml_q8_gemm(const xf_weight *w) { return w->act_q8 == 1 && !w->fmt->block_rows && xf_qgemm_q8_has(blk_type(w)); }

/* 1 when a product computed as one of path_t rows quantizes its activations: act_q8 1 up to the
 * int8 GEMV's limit (at most XF_QMM_GEMV_MAX_T), XF_WEIGHTS_A8 (act_q8 2) at every length. */
static int ggml_takes_q8(const xf_weight *w, size_t path_t) {
    return (w->act_q8 && path_t <= xf_qmatmul_max_t(blk_type(w), 1)) || w->act_q8 == 2;
}

/* mm_as: the choices for a product of path_t rows (their GEMV, int8 GEMV, int8 GEMM and float GEMM
 * compute each row on its own: tests/test_session_prefix.c checks it through the model).
 * XF_WEIGHTS_A8 (act_q8 2): every length through the int8-activation GEMV. */
static void ggml_as(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, size_t path_t,
                    float *Y) {
    if (path_t < T) path_t = T;
    if (ggml_takes_q8(w, path_t)) ggml_q8(pool, w, bias, X, T, Y);
    else if (ggml_q8_gemm(w))
        xf_qgemm_q8(pool, blk_type(w), w->data, w->row_bytes, bias, X, w->cols, Y, w->rows, T, w->rows, w->cols);
    else ggml_float(pool, w, bias, X, T, path_t, Y);
}

/* Both entries (gemv and mm) take every T (gemv_max_t XF_QMM_GEMV_MAX_T, the largest per-type
 * limit): the kernels pick their path per type and T (xf_qmatmul_max_t). */
static void ggml_gemv(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, float *Y) {
    ggml_as(pool, w, bias, X, T, T, Y);
}

/* int8 / bf16 panels of the same format and inputs: one preparation of the rows for all. */
static int panel_many(xf_pool *pool, size_t n, const xf_weight *const *w, const float *const *bias, const float *X,
                      size_t T, float *const *Y) {
    xf_panel_op ops[4];
    for (size_t i = 0; i < n; i++) {
        if (!w[i]->data || w[i]->fmt != w[0]->fmt || w[i]->cols != w[0]->cols) return 0;
        ops[i] = (xf_panel_op){w[i]->data, w[i]->scale, bias[i], Y[i], w[i]->rows, w[i]->rows};
    }
    if (w[0]->fmt == &xf_fmt_i8) xf_matmul_i8_many(pool, n, ops, X, w[0]->cols, T, w[0]->cols);
    else xf_matmul_bf16_many(pool, n, ops, X, w[0]->cols, T, w[0]->cols);
    return 1;
}

/* s24q8 / s24q4 weights of the same format and inputs: one quantization, one pass over the pool. */
static int s24i_many(xf_pool *pool, size_t n, const xf_weight *const *w, const float *const *bias, const float *X,
                     size_t T, float *const *Y) {
    xf_s24i_op ops[4];
    for (size_t i = 0; i < n; i++) {
        if (!w[i]->data || w[i]->fmt != w[0]->fmt || w[i]->cols != w[0]->cols) return 0;
        ops[i] = (xf_s24i_op){w[i]->data, w[i]->rows, bias[i], Y[i], w[i]->rows};
    }
    return xf_s24i_matmul_many(pool, w[0]->fmt == &xf_fmt_s24q8 ? 8 : 4, n, ops, X, w[0]->cols, T, w[0]->cols);
}

int xf_format_many(xf_pool *pool, size_t n, const xf_weight *const *w, const float *const *bias, const float *X,
                   size_t T, size_t path_t, float *const *Y) {
    if (n < 2 || n > 4) return 0;
    if (w[0]->fmt == &xf_fmt_i8 || w[0]->fmt == &xf_fmt_bf16) return panel_many(pool, n, w, bias, X, T, Y);
    if (w[0]->fmt == &xf_fmt_s24q8 || w[0]->fmt == &xf_fmt_s24q4) return s24i_many(pool, n, w, bias, X, T, Y);
    xf_r16_op ops[4];
    for (size_t i = 0; i < n; i++) {
        if (!w[i]->data || !w[i]->fmt->block_rows || w[i]->cols != w[0]->cols || !ggml_takes_q8(w[i], T > path_t ? T : path_t))
            return 0;
        ops[i] = (xf_r16_op){blk_type(w[i]), w[i]->data, bias[i], Y[i], w[i]->rows, w[i]->rows};
    }
    xf_r16_matmul_many(pool, n, ops, X, w[0]->cols, T, w[0]->cols);
    return 1;
}

static void ggml_rows(const xf_weight *w, size_t r0, size_t r1, float *out) {
    if (w->fmt->block_rows) xf_r16_dequant_rows(blk_type(w), w->data, w->cols, r0, r1, out);
    else xf_qdequant_rows(blk_type(w), w->data, w->row_bytes, r0, r1, w->cols, out);
}

static size_t ggml_scratch(const xf_weight *w) {
    if (w->fmt->block_rows) return xf_r16_scratch(blk_type(w), w->cols);
    const size_t f = xf_qmatmul_scratch(w->cols), q = ggml_q8_gemm(w) ? xf_qgemm_q8_scratch(w->cols) : 0;
    return f > q ? f : q;
}

static void r16_blocks(const xf_weight *w, size_t r0, size_t r1, void *out) {
    xf_r16_unpack_rows(blk_type(w), w->data, w->cols, r0, r1, out);
}

#define GGML_ENTRY(T) \
    {#T, XF_GGML_##T, XF_GGML_##T, XF_QMM_GEMV_MAX_T, ggml_gemv, ggml_gemv, ggml_rows, ggml_scratch, NULL, ggml_as, NULL}
static const xf_format k_ggml[] = {GGML_ENTRY(Q8_0), GGML_ENTRY(Q4_0), GGML_ENTRY(Q4_1), GGML_ENTRY(Q5_0),
                                   GGML_ENTRY(Q5_1), GGML_ENTRY(Q2_K), GGML_ENTRY(Q3_K), GGML_ENTRY(Q4_K),
                                   GGML_ENTRY(Q5_K), GGML_ENTRY(Q6_K), GGML_ENTRY(MXFP4), GGML_ENTRY(FP4S),
                                   GGML_ENTRY(FP8S)};
#define N_GGML (sizeof k_ggml / sizeof k_ggml[0])
/* the repacked layouts: no GGUF type of their own (-1), saved as their blocks' */
#define R16_ENTRY(T) \
    {#T "r16", -1, XF_GGML_##T, XF_QMM_GEMV_MAX_T, ggml_gemv, ggml_gemv, ggml_rows, ggml_scratch, NULL, ggml_as, r16_blocks}
static const xf_format k_r16[] = {R16_ENTRY(Q8_0), R16_ENTRY(Q4_0), R16_ENTRY(Q4_1), R16_ENTRY(Q5_0), R16_ENTRY(Q5_1)};
#define N_R16 (sizeof k_r16 / sizeof k_r16[0])

const xf_format *xf_format_r16(int ggml_type) {
    for (size_t i = 0; i < N_R16; i++)
        if (k_r16[i].save_type == ggml_type) return &k_r16[i];
    return NULL;
}

const xf_format *xf_format_ggml(int ggml_type) {
    for (size_t i = 0; i < N_GGML; i++)
        if (k_ggml[i].ggml_type == ggml_type && xf_qmatmul_has(ggml_type)) return &k_ggml[i];
    return NULL;
}

/* ---------------------------------------------------------------- lookups */

const xf_format *xf_format_by_name(const char *name) {
    static const xf_format *const own[] = {&xf_fmt_f32, &xf_fmt_f32p, &xf_fmt_i8, &xf_fmt_bf16, &xf_fmt_s24, &xf_fmt_s24q8, &xf_fmt_s24q4};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcasecmp(own[i]->name, name)) return own[i];
    for (size_t i = 0; i < N_GGML; i++)
        if (!strcasecmp(k_ggml[i].name, name)) return &k_ggml[i];
    for (size_t i = 0; i < N_R16; i++)
        if (!strcasecmp(k_r16[i].name, name)) return &k_r16[i];
    return NULL;
}

xf_status xf_format_convert(xf_weight_set *ws, xf_weight *w, const xf_format *fmt) {
    if (w->fmt == fmt || !w->data) return XF_OK;
    if (w->fmt != &xf_fmt_f32 || !fmt->pack)
        return xf_error(XF_ERR_UNSUPPORTED, "tensor \"%s\": cannot convert format %s to %s", w->name, w->fmt->name,
                        fmt->name);
    return fmt->pack(ws, w);
}

size_t xf_weight_bytes(const xf_weight *w) {
    if (w->fmt == &xf_fmt_f32p) return xf_gemm_packed_floats((xf_gemm_isa)w->isa, w->rows, w->cols) * sizeof(float);
    if (w->fmt == &xf_fmt_i8) return xf_i8_packed_bytes(w->rows, w->cols) + w->rows * sizeof(float);
    if (w->fmt == &xf_fmt_bf16) return xf_bf16_packed_bytes(w->rows, w->cols);
    if (w->fmt == &xf_fmt_f32) return w->rows * w->cols * sizeof(float);
    if (w->fmt == &xf_fmt_s24) return xf_s24_bytes(w->rows, w->cols);
    if (w->fmt == &xf_fmt_s24q8) return xf_s24q8_bytes(w->rows, w->cols);
    if (w->fmt == &xf_fmt_s24q4) return xf_s24q4_bytes(w->rows, w->cols);
    return w->rows * w->row_bytes;
}
