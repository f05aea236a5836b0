/* rope.c — rotary position embeddings (see rope.h). The tables are built once per model (or per
 * forward, for dynamic NTK past the trained length); applying them is a multiply-add per element.
 * The variants' frequency changes live in rope_scaling.c. */
#include "kernels/rope.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/simd.h"

void xf_rope_inv_freq(const xf_rope_params *p, double *inv_freq) {
    const size_t half = p->head_dim / 2;
    for (size_t i = 0; i < half; i++) inv_freq[i] = 1.0 / pow(p->theta, (double)(2 * i) / (double)p->head_dim);
    const xf_rope_variant *v = xf_rope_variant_of(p->kind);
    if (v && v->adjust) v->adjust(p, inv_freq);
    for (size_t i = 0; p->freq_factors && i < half; i++) inv_freq[i] /= (double)p->freq_factors[i];
}

/* Rows of the tables for positions pos[t] (pos NULL: t itself), t < n. */
static void fill_rows(const xf_rope_params *p, const int32_t *pos, size_t n, float *cos_t, float *sin_t) {
    const size_t half = p->head_dim / 2;
    const double af = xf_rope_attention_factor(p);
    double inv[4096];
    double *f = half <= 4096 ? inv : malloc(half * sizeof *f);
    if (!f) return; /* head_dim > 8192 is refused before this is called */
    xf_rope_inv_freq(p, f);
    for (size_t t = 0; t < n; t++) {
        const double at = pos ? (double)pos[t] : (double)t;
        for (size_t i = 0; i < half; i++) {
            double a = at * f[i];
            cos_t[t * half + i] = (float)(af * cos(a));
            sin_t[t * half + i] = (float)(af * sin(a));
        }
    }
    if (f != inv) free(f);
}

void xf_rope_tables(const xf_rope_params *p, size_t n_pos, float *cos_t, float *sin_t) {
    fill_rows(p, NULL, n_pos, cos_t, sin_t);
}

void xf_rope_rows_at(const xf_rope_params *p, const int32_t *pos, size_t n, float *cos_t, float *sin_t) {
    fill_rows(p, pos, n, cos_t, sin_t);
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
    const double af = xf_rope_attention_factor(p);
    double *f = malloc((half ? half : 1) * sizeof *f);
    if (!f) return;
    xf_rope_inv_freq(p, f);
    for (size_t h = 0; h < n_heads; h++) {
        float *a = x + h * p->head_dim, *b = a + half;
        for (size_t i = 0; i < half; i++) {
            double c = af * cos((double)pos * f[i]), s = af * sin((double)pos * f[i]);
            double x0 = a[i], x1 = b[i];
            a[i] = (float)(x0 * c - x1 * s);
            b[i] = (float)(x1 * c + x0 * s);
        }
    }
    free(f);
}
