/* rope_scaling.c — the rotary variants that stretch a model past its trained context (rope.h),
 * one table entry each, as transformers' modeling_rope_utils.py computes them:
 *   linear   Chen et al., "Extending Context Window of Large Language Models via Positional
 *            Interpolation" (2023): positions / factor;
 *   llama3   Meta's Llama 3.1 per-frequency scaling (low_freq_factor, high_freq_factor);
 *   ntk      bloc97's "NTK-aware scaled RoPE" (2023): a larger base, high frequencies barely
 *            changed, low ones interpolated;
 *   dynamic  emozilla's "Dynamically Scaled RoPE" (2023): NTK with the base stretched for the
 *            current sequence length, plain within the trained length;
 *   yarn     Peng et al., "YaRN: Efficient Context Window Extension of Large Language Models"
 *            (2023), eq. 17-21: interpolation for wavelengths longer than the context,
 *            extrapolation for short ones, a linear ramp between, and attention temperature
 *            sqrt(1/t) = 0.1 ln(s) + 1 applied to cos and sin.
 * CLEX (Chen et al. 2024) learns its scaling with a neural ODE: not training-free, not here. */
#include <math.h>
#include <string.h>

#include "kernels/rope.h"

static void linear(const xf_rope_params *p, double *f) {
    for (size_t i = 0; i < p->head_dim / 2; i++) f[i] /= p->factor;
}

static void llama3(const xf_rope_params *p, double *f) {
    const double two_pi = 6.283185307179586476925286766559;
    const double low_wl = p->original_max_position / p->low_freq_factor;
    const double high_wl = p->original_max_position / p->high_freq_factor;
    for (size_t i = 0; i < p->head_dim / 2; i++) {
        const double wl = two_pi / f[i];
        if (wl > low_wl) {
            f[i] /= p->factor; /* low frequencies: fully scaled */
        } else if (wl >= high_wl) { /* medium: blend */
            double smooth = (p->original_max_position / wl - p->low_freq_factor) /
                            (p->high_freq_factor - p->low_freq_factor);
            f[i] = (1.0 - smooth) * f[i] / p->factor + smooth * f[i];
        } /* high frequencies: unchanged */
    }
}

/* inv_freq of base theta' = theta * m^(dh / (dh - 2)). */
static void rebase(const xf_rope_params *p, double m, double *f) {
    const double d = (double)p->head_dim, base = p->theta * pow(m, d / (d - 2.0));
    for (size_t i = 0; i < p->head_dim / 2; i++) f[i] = 1.0 / pow(base, (double)(2 * i) / d);
}

static void ntk(const xf_rope_params *p, double *f) { rebase(p, p->factor, f); }

static void dynamic(const xf_rope_params *p, double *f) {
    const double L0 = p->original_max_position, L = p->seq_len > L0 ? p->seq_len : L0;
    if (L > L0) rebase(p, p->factor * L / L0 - (p->factor - 1.0), f);
}

/* The dimension (of dh) whose wavelength makes `rot` turns over the context L0. */
static double yarn_dim(double rot, const xf_rope_params *p) {
    const double two_pi = 6.283185307179586476925286766559;
    return (double)p->head_dim * log(p->original_max_position / (rot * two_pi)) / (2.0 * log(p->theta));
}

static void yarn(const xf_rope_params *p, double *f) {
    const double fast = p->beta_fast > 0 ? p->beta_fast : 32.0, slow = p->beta_slow > 0 ? p->beta_slow : 1.0;
    double lo = yarn_dim(fast, p), hi = yarn_dim(slow, p);
    if (!p->no_truncate) lo = floor(lo), hi = ceil(hi);
    lo = lo > 0 ? lo : 0;
    hi = hi < (double)p->head_dim - 1 ? hi : (double)p->head_dim - 1;
    if (hi == lo) hi += 0.001; /* as transformers: no division by zero */
    for (size_t i = 0; i < p->head_dim / 2; i++) {
        double ramp = ((double)i - lo) / (hi - lo);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        const double extra = 1.0 - ramp; /* weight of extrapolation (the plain frequency) */
        f[i] = f[i] / p->factor * (1.0 - extra) + f[i] * extra;
    }
}

static const xf_rope_variant k_variants[] = {
    {"default", XF_ROPE_PLAIN, NULL},  {"linear", XF_ROPE_LINEAR, linear},    {"llama3", XF_ROPE_LLAMA3, llama3},
    {"ntk", XF_ROPE_NTK, ntk},         {"dynamic", XF_ROPE_DYNAMIC, dynamic}, {"yarn", XF_ROPE_YARN, yarn},
};
#define N_VARIANTS (sizeof k_variants / sizeof k_variants[0])

const xf_rope_variant *xf_rope_variant_of(xf_rope_kind kind) {
    for (size_t i = 0; i < N_VARIANTS; i++)
        if (k_variants[i].kind == kind) return &k_variants[i];
    return NULL;
}

const xf_rope_variant *xf_rope_variant_named(const char *name) {
    for (size_t i = 0; name && i < N_VARIANTS; i++)
        if (strcmp(k_variants[i].name, name) == 0) return &k_variants[i];
    return NULL;
}

const char *xf_rope_variant_names(void) { return "default, linear, llama3, ntk, dynamic, yarn"; }

static double mscale(double factor, double m) { return factor <= 1.0 ? 1.0 : 0.1 * m * log(factor) + 1.0; }

double xf_rope_attention_factor(const xf_rope_params *p) {
    if (p->kind != XF_ROPE_YARN) return 1.0;
    if (p->attention_factor > 0) return p->attention_factor;
    if (p->mscale > 0 && p->mscale_all_dim > 0) return mscale(p->factor, p->mscale) / mscale(p->factor, p->mscale_all_dim);
    return mscale(p->factor, 1.0);
}
