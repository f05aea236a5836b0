/* rope.h — rotary position embeddings as Hugging Face llama applies them ("rotate_half"
 * convention: dimension i of a head is paired with i + dh/2, not with its neighbour).
 *
 *   inv_freq[i] = theta^(-2i/dh), i < dh/2, computed in double, then scaled by the variant:
 *     linear: inv_freq / factor (the same as positions / factor);
 *     llama3: transformers' _compute_llama3_parameters (low frequencies / factor, high ones
 *             kept, a smooth blend in between).
 *   angle(p, i) = p * inv_freq[i];  for each head, with c = cos, s = sin of angle(p, i):
 *     y[i]        = x[i] c - x[i + dh/2] s
 *     y[i + dh/2] = x[i + dh/2] c + x[i] s                                              */
#ifndef XF_KERNELS_ROPE_H
#define XF_KERNELS_ROPE_H

#include <stddef.h>

typedef enum xf_rope_kind { XF_ROPE_PLAIN = 0, XF_ROPE_LINEAR, XF_ROPE_LLAMA3 } xf_rope_kind;

typedef struct xf_rope_params {
    size_t head_dim; /* even */
    double theta;
    xf_rope_kind kind;
    double factor;                       /* linear, llama3 */
    double low_freq_factor, high_freq_factor, original_max_position; /* llama3 */
} xf_rope_params;

/* inv_freq[head_dim / 2] of the variant, in double. */
void xf_rope_inv_freq(const xf_rope_params *p, double *inv_freq);
/* cos / sin tables [n_pos, head_dim / 2]: entry (p, i) = cos / sin(p * inv_freq[i]) (double,
 * rounded to float). */
void xf_rope_tables(const xf_rope_params *p, size_t n_pos, float *cos_t, float *sin_t);
/* Rotate n_heads heads of head_dim columns in one row x (in place) at the position whose table
 * rows are cos_r / sin_r ([head_dim / 2] each). */
void xf_rope_row(float *x, size_t n_heads, size_t head_dim, const float *cos_r, const float *sin_r);
/* Scalar reference: the angle computed from xf_rope_inv_freq at position pos, all in double. */
void xf_rope_row_ref(float *x, size_t n_heads, const xf_rope_params *p, size_t pos);

#endif
