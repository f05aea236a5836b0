/* formats.h — the weight formats of linear layers, as a table (one entry per format, as ggml's type
 * traits): how a weight's bytes are laid out, how it is made from float rows at load, how it is
 * multiplied (GEMV for a few activation rows, GEMM for many), how its rows read back as floats
 * and what GGUF type it saves as. Every xf_weight points at its entry, chosen per tensor, so one
 * layer may be int8 while the next stays float; a new format is one kernel file plus one entry.
 *
 *   f32    row-major float32 [rows, cols] (vectors, embeddings, weights used unpacked)
 *   f32p   float32 packed in panels for the GEMM micro-kernels (kernels/matmul.h): the default
 *          for float linear weights
 *   i8     int8 per output channel, packed for kernels/gemm_i8.h, activations quantized per 64
 *   bf16   bfloat16 packed for kernels/gemm_bf16.h, activations rounded to bf16, fp32 sums
 *   s24    2:4 sparse: the two kept float32 values of every four inputs plus 2-bit indices
 *          (kernels/sparse24.h), products read the compressed form
 *   s24q8  2:4 sparse with int8 kept values and a float scale per row (kernels/sparse24.h)
 *   s24q4  2:4 sparse with 4-bit kept values and a half scale per 16 values (kernels/sparse24.h)
 *   Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K
 *          GGUF blocks as in the file (kernels/qmatmul.h), float activations or, with the
 *          weight's act_q8 flag, activations quantized to 8 bits as ggml does per type
 *          (Q8_0 / Q8_1 per 32, Q8_K per 256: kernels/qgemv_q8.h)
 *   Q8_0r16 Q4_0r16 Q4_1r16 Q5_0r16 Q5_1r16
 *          the same blocks repacked 16 rows at a time at load (kernels/qgemv_r16.h) for weights with
 *          act_q8 on CPUs with AVX-512 VNNI: the same products bitwise, 16 rows per vpdpbusd; saved
 *          as the file's blocks (block_rows) */
#ifndef XF_MODEL_FORMATS_H
#define XF_MODEL_FORMATS_H

#include <stddef.h>

#include "core/threadpool.h"
#include "model/weights.h"

typedef void (*xf_matmul_fn)(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T,
                             float *Y);

typedef struct xf_format {
    const char *name;
    int ggml_type;     /* the GGUF type its rows are stored as (XF_GGML_*), -1 for xfmr layouts */
    int save_type;     /* the GGUF type it is saved as (its own, or F32 after unpacking rows; the 2:4
                        * formats their compressed types S24 / S24Q8 / S24Q4, or F32 / F16 rows with
                        * their zeros for XF_SAVE_DENSE / XF_SAVE_F16) */
    size_t gemv_max_t; /* products of at most this many activation rows use gemv */
    xf_matmul_fn gemv; /* Y[T, rows] = X[T, cols] W^T + bias */
    xf_matmul_fn gemm;
    /* rows [r0, r1) as floats into out [(r1 - r0), cols] */
    void (*dequant_rows)(const xf_weight *w, size_t r0, size_t r1, float *out);
    /* per-thread pool scratch bytes the products need (xf_pool_reserve at load) */
    size_t (*scratch)(const xf_weight *w);
    /* make the format from a row-major f32 weight (the new buffer owned by ws, the file pages
     * behind the old one released); NULL: the format is not made from floats here */
    xf_status (*pack)(xf_weight_set *ws, xf_weight *w);
    /* The product of T rows as one of path_t >= T rows computes them: every choice between paths
     * (GEMV or GEMM, float or int8 activations, which round differently) made for path_t rows;
     * each row's result is independent of the other rows on every path. NULL: not known to hold
     * (xf_linear_as then runs the product of T rows). */
    void (*mm_as)(xf_pool *pool, const xf_weight *w, const float *bias, const float *X, size_t T, size_t path_t,
                  float *Y);
    /* Formats holding GGUF blocks in a layout of their own (the r16 ones): rows [r0, r1) as the
     * blocks of save_type, into out ((r1 - r0) * row_bytes bytes); NULL for the others. */
    void (*block_rows)(const xf_weight *w, size_t r0, size_t r1, void *out);
} xf_format;

extern const xf_format xf_fmt_f32, xf_fmt_f32p, xf_fmt_i8, xf_fmt_bf16, xf_fmt_s24, xf_fmt_s24q8, xf_fmt_s24q4;

/* Make w 2:4 sparse (s24) from any format that reads back as floats: in every group of 4 inputs
 * of a row keep the 2 of largest |w| * s[k] (s NULL: magnitude; activation norms: Wanda).
 * w->cols not a multiple of 4 is XF_ERR_UNSUPPORTED naming the tensor. */
xf_status xf_format_s24_make(xf_weight_set *ws, xf_weight *w, const float *s);
/* The same with the kept values quantized to int8, one scale per row (s24q8). */
xf_status xf_format_s24q8_make(xf_weight_set *ws, xf_weight *w, const float *s);
/* With 4-bit kept values, a half scale per 16 (s24q4; inputs a multiple of 32). */
xf_status xf_format_s24q4_make(xf_weight_set *ws, xf_weight *w, const float *s);

/* The entry of the GGUF block type ggml_type, NULL if xfmr has no kernels for it. */
const xf_format *xf_format_ggml(int ggml_type);
/* The repacked entry (Q8_0r16 ...) of the GGUF block type ggml_type, NULL if none. */
const xf_format *xf_format_r16(int ggml_type);
/* The products of n (2 .. 4) weights on the same rows X [T, cols] as xf_linear_as(path_t) gives them,
 * in one pass over the pool, when each is a repacked layout (r16) whose product quantizes its
 * activations, or all are int8 (or all bf16) panels, with the same inputs: the activations
 * quantized (rounded) once; returns 1 (Y[i] = X w[i]^T + bias[i] bitwise as one by one), else 0
 * having done nothing. */
int xf_format_many(xf_pool *pool, size_t n, const xf_weight *const *w, const float *const *bias, const float *X,
                       size_t T, size_t path_t, float *const *Y);
/* The entry named name ("f32", "i8", "Q4_K", ...; case-insensitive), NULL if none. */
const xf_format *xf_format_by_name(const char *name);
/* Convert w (an f32 weight) to fmt with fmt->pack; a no-op when w already has that format. */
xf_status xf_format_convert(xf_weight_set *ws, xf_weight *w, const xf_format *fmt);

/* All rows of w (any format) as a new row-major float32 copy (free() it), or NULL with an error
 * naming the tensor. */
float *xf_weight_dense_copy(const xf_weight *w);
/* Make w float32 panels (f32p) holding the rows `dense` [w->rows, w->cols] (copied). */
xf_status xf_format_f32p_from(xf_weight_set *ws, xf_weight *w, const float *dense);

/* Bytes the weight's data occupies. */
size_t xf_weight_bytes(const xf_weight *w);

#endif
