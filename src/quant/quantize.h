/* quantize.h — float rows to GGUF / ggml block formats, written byte-for-byte as ggml's reference
 * quantizers (ggml-quants.c quantize_row_*_ref, which llama-quantize uses when no importance
 * matrix is given) so that the blocks equal what llama.cpp writes for the same floats:
 *
 *   quant_legacy.c  Q8_0, Q4_0, Q4_1, Q5_0, Q5_1   (32 weights per block, one or two half scales)
 *   quant_k.c       Q4_K, Q5_K, Q6_K               (256-weight super-blocks, 6/8-bit sub-scales)
 *   quant_mxfp4.c   MXFP4                          (32 E2M1 values with one E8M0 scale)
 *   quant_fp4s.c    FP4S, xfmr's own               (searched FP4: format + scale per 32)
 *   quant_fp8s.c    FP8S, xfmr's own               (E4M3 / E5M2 + scale per 32)
 *
 * Layouts are documented in kernels/quants.h, which decodes them. The code computes in float32 in
 * ggml's order and is compiled without FMA contraction (-ffp-contract=off), as the `gguf` Python
 * package's numpy quantizers compute; tests/test_quantize.c checks the results against goldens
 * those produced (scripts/make_quantize_goldens.py).
 *
 * x holds n finite floats, n a multiple of the type's block size; out receives n / block_size
 * blocks. Inputs are not checked here (the callers check finiteness and sizes). */
#ifndef XF_QUANT_QUANTIZE_H
#define XF_QUANT_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

typedef void (*xf_quantize_fn)(const float *x, void *out, size_t n);

void xf_quantize_q8_0_ref(const float *x, void *out, size_t n);
void xf_quantize_q4_0_ref(const float *x, void *out, size_t n);
void xf_quantize_q4_1_ref(const float *x, void *out, size_t n);
void xf_quantize_q5_0_ref(const float *x, void *out, size_t n);
void xf_quantize_q5_1_ref(const float *x, void *out, size_t n);
void xf_quantize_q4_k_ref(const float *x, void *out, size_t n);
void xf_quantize_q5_k_ref(const float *x, void *out, size_t n);
void xf_quantize_q6_k_ref(const float *x, void *out, size_t n);
void xf_quantize_mxfp4_ref(const float *x, void *out, size_t n);

/* Q4_0 blocks with each block's scale searched (clipping ratio, least-squares refit) to minimise
 * sum_j imp[j] (x[j] - w[j])^2 — imp[j] the calibration inputs' sum of squares for element j —
 * never above round-to-nearest's error (quant_search.c). */
void xf_quantize_q4_0_searched(const float *x, const double *imp, void *out, size_t n);
/* The 32 INT4 codes q (value q - 8, round to nearest, clamped) of x at scale d, and their error
 * sum_j w[j] (x[j] - d (q[j] - 8))^2 (quant_search.c; FP4S's INT4 format shares it). */
double xf_q4_codes_err(const float *x, const double *w, float d, uint8_t *q);

/* FP4S blocks (xfmr's searched FP4, kernels/quants.h): per block of 32, the 4-bit format (E2M1,
 * E1M2, E3M0, INT4) and the E8M6 scale of least sum_j imp[j] (x[j] - w[j])^2 (imp NULL: all 1),
 * never above MXFP4's round-to-nearest block's error (quant_fp4s.c). xf_quantize_fp4s: imp NULL. */
void xf_quantize_fp4s_searched(const float *x, const double *imp, void *out, size_t n);
void xf_quantize_fp4s(const float *x, void *out, size_t n);
/* FP8S blocks (kernels/quants.h): per block of 32 the format (E4M3, E5M2) and E8M6 scale of least
 * weighted error, as FP4S (quant_fp8s.c). */
void xf_quantize_fp8s_searched(const float *x, const double *imp, void *out, size_t n);
void xf_quantize_fp8s(const float *x, void *out, size_t n);
/* The per-element weights of a block search, imp[j] (NULL: 1) plus 1e-6 of their mean; returns the
 * largest magnitude of the block x[32]. */
float xf_block_weights(const float *x, const double *imp, double w[32]);
/* The unsigned E8M6 scale of FP4S / FP8S: d > 0 rounded to the nearest value (as the 14 bits
 * stored; 0 for d <= 0 or below the grid, the largest finite value above it), and back. */
uint32_t xf_e8m6_of(float d);
float xf_e8m6_val(uint32_t s);

/* The quantizer of ggml type id t, or NULL when xfmr cannot write it. */
xf_quantize_fn xf_quantizer(int t);

/* The types xf_quantizer knows, as a comma-separated list of ggml names ("Q8_0, Q4_0, ..."), for
 * error messages and help. */
const char *xf_quantize_type_list(void);

/* The ggml type id of a name xfmr can quantize to (case-insensitive), or -1. */
int xf_quantize_type_by_name(const char *name);

/* ggml's rounding helper: the nearest integer to fval (ties to even) for |fval| <= 4194303. */
static inline int xf_nearest_int(float fval) {
    float val = fval + 12582912.f;
    int32_t i;
    __builtin_memcpy(&i, &val, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

#endif
