/* dot.c — xf_dot_rows: the scores of an exact vector search, one query against a matrix of stored
 * rows, with its scalar reference. Memory-bound for large matrices: 4 independent accumulators
 * keep the loads streaming; the same source is compiled per ISA level by XF_DISPATCH_VOID. */
#include "kernels/dot.h"

#include "kernels/simd.h"

XF_INLINE float dot_one(const float *a, const float *q, size_t dim) {
    xf_v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    size_t k = 0;
    for (; k + 32 <= dim; k += 32) {
        s0 += xf_v8_load(a + k) * xf_v8_load(q + k);
        s1 += xf_v8_load(a + k + 8) * xf_v8_load(q + k + 8);
        s2 += xf_v8_load(a + k + 16) * xf_v8_load(q + k + 16);
        s3 += xf_v8_load(a + k + 24) * xf_v8_load(q + k + 24);
    }
    for (; k + 8 <= dim; k += 8) s0 += xf_v8_load(a + k) * xf_v8_load(q + k);
    float s = xf_v8_hsum((s0 + s1) + (s2 + s3));
    for (; k < dim; k++) s += a[k] * q[k];
    return s;
}

XF_INLINE void xf_dot_rows_body(const float *M, size_t rows, size_t dim, const float *q, float *out) {
    for (size_t r = 0; r < rows; r++) out[r] = dot_one(M + r * dim, q, dim);
}
XF_DISPATCH_VOID(xf_dot_rows, (const float *M, size_t rows, size_t dim, const float *q, float *out),
                 (M, rows, dim, q, out), )

void xf_dot_rows_ref(const float *M, size_t rows, size_t dim, const float *q, float *out) {
    for (size_t r = 0; r < rows; r++) {
        double s = 0;
        for (size_t k = 0; k < dim; k++) s += (double)M[r * dim + k] * (double)q[k];
        out[r] = (float)s;
    }
}
