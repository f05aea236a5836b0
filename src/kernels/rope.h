/* rope.h — rotary position embeddings as Hugging Face llama applies them ("rotate_half"
 * convention: dimension i of a head is paired with i + dh/2, not with its neighbour).
 *
 *   inv_freq[i] = theta^(-2i/dh), i < dh/2, computed in double, then changed by the variant
 *   (rope_scaling.c, one table entry each; transformers' modeling_rope_utils.py is the reference):
 *     linear:  inv_freq / factor (the same as positions / factor);
 *     llama3:  low frequencies / factor, high ones kept, a smooth blend in between;
 *     ntk:     NTK-aware base change theta' = theta * factor^(dh / (dh - 2));
 *     dynamic: NTK with the base stretched for the current sequence length L > L0:
 *              theta' = theta * (factor L / L0 - (factor - 1))^(dh / (dh - 2));
 *     yarn:    a per-frequency blend of interpolation (inv_freq / factor) and extrapolation
 *              with a linear ramp between beta_fast and beta_slow rotations over L0, and an
 *              attention factor (0.1 ln(factor) + 1 by default) that multiplies cos and sin.
 *   then divided by freq_factors[i] when given (GGUF rope_freqs.weight).
 *   angle(p, i) = p * inv_freq[i];  for each head, with c = af cos, s = af sin of angle(p, i)
 *   (af = the attention factor, 1 except for yarn):
 *     y[i]        = x[i] c - x[i + dh/2] s
 *     y[i + dh/2] = x[i + dh/2] c + x[i] s                                              */
#ifndef XF_KERNELS_ROPE_H
#define XF_KERNELS_ROPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum xf_rope_kind {
    XF_ROPE_PLAIN = 0,
    XF_ROPE_LINEAR,
    XF_ROPE_LLAMA3,
    XF_ROPE_NTK,
    XF_ROPE_DYNAMIC,
    XF_ROPE_YARN
} xf_rope_kind;

typedef struct xf_rope_params {
    size_t head_dim; /* even */
    double theta;
    xf_rope_kind kind;
    double factor;                          /* every variant but plain */
    double low_freq_factor, high_freq_factor; /* llama3 */
    double original_max_position;           /* llama3, yarn: pre-training context; dynamic: L0 */
    double beta_fast, beta_slow;            /* yarn: ramp bounds in rotations (0: 32 and 1) */
    double attention_factor;                /* yarn: multiplies cos and sin; 0 = from factor, mscale */
    double mscale, mscale_all_dim;          /* yarn: attention factor get_mscale(f, mscale) /
                                               get_mscale(f, mscale_all_dim) when both are set */
    int no_truncate;                        /* yarn: 1 = transformers' truncate=false */
    double seq_len;                         /* dynamic: sequence length L (<= L0: the plain base) */
    const float *freq_factors;              /* [head_dim / 2] divisors of inv_freq, or NULL */
} xf_rope_params;

/* A rotary variant: its name (config.json rope_type, GGUF rope.scaling.type, --rope-scaling) and
 * how it changes the plain inverse frequencies in place. */
typedef struct xf_rope_variant {
    const char *name;
    xf_rope_kind kind;
    void (*adjust)(const xf_rope_params *p, double *inv_freq);
} xf_rope_variant;

/* The variant of a kind, or of a name (NULL when unknown). */
const xf_rope_variant *xf_rope_variant_of(xf_rope_kind kind);
const xf_rope_variant *xf_rope_variant_named(const char *name);
/* "default, linear, ..." : the names, for messages. */
const char *xf_rope_variant_names(void);

/* inv_freq[head_dim / 2] of the variant, in double. */
void xf_rope_inv_freq(const xf_rope_params *p, double *inv_freq);
/* The factor cos and sin are multiplied by (YaRN's attention temperature; 1 for the others). */
double xf_rope_attention_factor(const xf_rope_params *p);
/* cos / sin tables [n_pos, head_dim / 2]: entry (p, i) = af cos / sin(p * inv_freq[i]) (double,
 * rounded to float). */
void xf_rope_tables(const xf_rope_params *p, size_t n_pos, float *cos_t, float *sin_t);
/* The same for given positions: row t of the tables for position pos[t], t < n. */
void xf_rope_rows_at(const xf_rope_params *p, const int32_t *pos, size_t n, float *cos_t, float *sin_t);
/* Rotate n_heads heads of head_dim columns in one row x (in place) at the position whose table
 * rows are cos_r / sin_r ([head_dim / 2] each). */
void xf_rope_row(float *x, size_t n_heads, size_t head_dim, const float *cos_r, const float *sin_r);
/* Scalar reference: the angle computed from xf_rope_inv_freq at position pos, all in double. */
void xf_rope_row_ref(float *x, size_t n_heads, const xf_rope_params *p, size_t pos);

#endif
