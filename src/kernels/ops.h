/* ops.h — element-wise and row-wise fp32 operations of the Transformer blocks. Rows are
 * contiguous vectors of length n; functions with `rows` process that many rows of stride n. */
#ifndef XF_KERNELS_OPS_H
#define XF_KERNELS_OPS_H

#include <stddef.h>
#include <stdint.h>

/* y = LayerNorm(x) * gamma + beta, per row (biased variance, as PyTorch); beta NULL: no bias. x and y
 * may alias. */
void xf_layernorm(const float *x, float *y, const float *gamma, const float *beta, size_t rows,
                  size_t n, float eps);
/* y = x / sqrt(mean(x^2) + eps) * gamma, per row (RMSNorm as HF llama; statistics in double).
 * x and y may alias. _ref: the same entirely in double. */
void xf_layernorm_ref(const float *x, float *y, const float *gamma, const float *beta, size_t rows,
                      size_t n, float eps);
void xf_rmsnorm(const float *x, float *y, const float *gamma, size_t rows, size_t n, float eps);
void xf_rmsnorm_ref(const float *x, float *y, const float *gamma, size_t rows, size_t n, float eps);
/* g = SiLU(g) * u = g / (1 + e^-g) * u, per element (the gated FFN). _ref: libm expf. */
void xf_silu_mul(float *g, const float *u, size_t count);
void xf_silu_mul_ref(float *g, const float *u, size_t count);
/* Greedy sampling's scan of the logits: NaNs of x[0..n) become -inf, and *best is the first index of
 * the largest element (0 when all are -inf or n is 0): a vector max, then the first index equal to
 * it; _ref: the same as one scalar loop (x[i] > x[best]). */
void xf_argmax_nan(float *x, size_t n, size_t *best);
void xf_argmax_nan_ref(float *x, size_t n, size_t *best);
/* x = x + r, per element (the residual add). */
void xf_add_inplace(float *x, const float *r, size_t count);
/* x = GELU(x) in the erf form 0.5 x (1 + erf(x / sqrt 2)) (not the tanh approximation); erf from
 * a polynomial with absolute error <= 1.5e-7. _ref: the same with libm erff. */
void xf_gelu_erf(float *x, size_t count);
void xf_gelu_erf_ref(float *x, size_t count);
/* x = GELU(x) in the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GPT-2's
 * "gelu_new", PyTorch's approximate="tanh"), computed as x / (1 + e^(-2u)). _ref: libm tanhf. */
void xf_gelu_tanh(float *x, size_t count);
void xf_gelu_tanh_ref(float *x, size_t count);
/* dst[i] = src[i] for n IEEE halves (exact): F16C's vcvtph2ps at the AVX2 level (which requires
 * F16C), else core/dtype.h's xf_f16_to_f32 — the same floats (signalling NaNs come back quiet
 * from F16C). */
void xf_f16_to_f32_row(const uint16_t *src, size_t n, float *dst);
/* n KIVI 4-bit blocks (model/kv_quant.c's q4 cache: an IEEE-half scale s and minimum m, then 16
 * bytes, value i in the low nibble of byte i / 2 when i is even, the high one when odd), each
 * as 32 floats x = m + s q (a multiply, then an add, each rounded): AVX2 + F16C vectors at the
 * AVX2 level, else the plain loop — the same floats. */
void xf_q4kivi_to_f32(const uint8_t *blk, size_t n, float *dst);
/* x = x / max(||x||_2, eps), as torch.nn.functional.normalize. */
void xf_l2_normalize(float *x, size_t n, float eps);

#endif
