/* rope.c — rotary position embeddings (see rope.h). The tables are built once per model; applying
 * them is a multiply-add per element. */
#include "kernels/rope.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/simd.h"

void xf_rope_inv_freq(const xf_rope_params *p, double *inv_freq) {
    const size_t half = p->head_dim / 2;
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i < half; i++) {
        double f = 1.0 / pow(p->theta, (double)(2 * i) / (double)p->head_dim);
        if (p->kind == XF_ROPE_LINEAR) {
            f /= p->factor;
        } else if (p->kind == XF_ROPE_LLAMA3) {
            const double low_wl = p->original_max_position / p->low_freq_factor;
            const double high_wl = p->original_max_position / p->high_freq_factor;
            const double wl = two_pi / f;
            if (wl > low_wl) {
                f /= p->factor; /* low frequencies: fully scaled */
            } else if (wl >= high_wl) { /* medium: blend */
                double smooth = (p->original_max_position / wl - p->low_freq_factor) /
                                (p->high_freq_factor - p->low_freq_factor);
                f = (1.0 - smooth) * f / p->factor + smooth * f;
            } /* high frequencies: unchanged */
        }
        inv_freq[i] = f;
    }
}

void xf_rope_tables(const xf_rope_params *p, size_t n_pos, float *cos_t, float *sin_t) {
    const size_t half = p->head_dim / 2;
    double inv[4096];
    double *f = half <= 4096 ? inv : malloc(half * sizeof *f);
    if (!f) return; /* head_dim > 8192 is refused before this is called */
    xf_rope_inv_freq(p, f);
    for (size_t pos = 0; pos < n_pos; pos++)
        for (size_t i = 0; i < half; i++) {
            double a = (double)pos * f[i];
            cos_t[pos * half + i] = (float)cos(a);
            sin_t[pos * half + i] = (float)sin(a);
        }
    if (f != inv) free(f);
}

XF_INLINE void xf_rope_row_body(float *x, size_t n_heads, size_t head_dim, const float *cos_r, const float *sin_r) {
    const size_t half = head_dim / 2;
    for (size_t h = 0; h < n_heads; h++) {
        float *a = x + h * head_dim, *b = a + half;
        for (size_t i = 0; i < half; i++) {
            float x0 = a[i], x1 = b[i];
            a[i] = x0 * cos_r[i] - x1 * sin_r[i];
            b[i] = x1 * cos_r[i] + x0 * sin_r[i];
        }
    }
}
XF_DISPATCH_VOID(xf_rope_row,
                 (float *x, size_t n_heads, size_t head_dim, const float *cos_r, const float *sin_r),
                 (x, n_heads, head_dim, cos_r, sin_r), )

void xf_rope_row_ref(float *x, size_t n_heads, const xf_rope_params *p, size_t pos) {
    const size_t half = p->head_dim / 2;
    double *f = malloc((half ? half : 1) * sizeof *f);
    if (!f) return;
    xf_rope_inv_freq(p, f);
    for (size_t h = 0; h < n_heads; h++) {
        float *a = x + h * p->head_dim, *b = a + half;
        for (size_t i = 0; i < half; i++) {
            double c = cos((double)pos * f[i]), s = sin((double)pos * f[i]);
            double x0 = a[i], x1 = b[i];
            a[i] = (float)(x0 * c - x1 * s);
            b[i] = (float)(x1 * c + x0 * s);
        }
    }
    free(f);
}
