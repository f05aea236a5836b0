/* dot.h — dot products of one query vector with many stored rows (exact vector search). */
#ifndef XF_KERNELS_DOT_H
#define XF_KERNELS_DOT_H

#include <stddef.h>

/* out[r] = sum_k M[r * dim + k] * q[k] for r < rows. SIMD (AVX-512 / AVX2+FMA / baseline,
 * picked at load time); the sum runs in 8 lanes of 4 interleaved accumulators, then a fixed
 * horizontal order, so every ISA gives results within float rounding of the reference. */
void xf_dot_rows(const float *M, size_t rows, size_t dim, const float *q, float *out);
/* Plain scalar reference (sums in double, rounded once). */
void xf_dot_rows_ref(const float *M, size_t rows, size_t dim, const float *q, float *out);

#endif
