/* ops.c — scalar fp32 row operations (LayerNorm, GELU, softmax, residual add, L2 norm).
 * Statistics accumulate in double: the reference (PyTorch) is close to exact here. */
#include "kernels/ops.h"

#include <math.h>

void xf_layernorm(const float *x, float *y, const float *gamma, const float *beta, size_t rows,
                  size_t n, float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double mean = 0.0, var = 0.0;
        for (size_t i = 0; i < n; i++) mean += xr[i];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++) {
            double d = xr[i] - mean;
            var += d * d;
        }
        var /= (double)n;
        float inv = (float)(1.0 / sqrt(var + (double)eps)), m = (float)mean;
        for (size_t i = 0; i < n; i++) yr[i] = (xr[i] - m) * inv * gamma[i] + beta[i];
    }
}

void xf_add_inplace(float *x, const float *r, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] += r[i];
}

void xf_gelu_erf(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void xf_softmax_row(float *x, size_t n) {
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}

void xf_l2_normalize(float *x, size_t n, float eps) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double norm = sqrt(ss);
    float inv = (float)(1.0 / (norm > eps ? norm : eps));
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}
