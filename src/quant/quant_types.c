/* quant_types.c — which ggml types xfmr can write (quantize.h). */
#include <strings.h>

#include "io/gguf.h"
#include "quant/quantize.h"

static const struct {
    const char *name;
    int type;
    xf_quantize_fn fn;
} k_types[] = {
    {"Q8_0", XF_GGML_Q8_0, xf_quantize_q8_0_ref}, {"Q4_0", XF_GGML_Q4_0, xf_quantize_q4_0_ref},
    {"Q4_1", XF_GGML_Q4_1, xf_quantize_q4_1_ref}, {"Q5_0", XF_GGML_Q5_0, xf_quantize_q5_0_ref},
    {"Q5_1", XF_GGML_Q5_1, xf_quantize_q5_1_ref}, {"Q4_K", XF_GGML_Q4_K, xf_quantize_q4_k_ref},
    {"Q5_K", XF_GGML_Q5_K, xf_quantize_q5_k_ref}, {"Q6_K", XF_GGML_Q6_K, xf_quantize_q6_k_ref},
    {"MXFP4", XF_GGML_MXFP4, xf_quantize_mxfp4_ref}, {"FP4S", XF_GGML_FP4S, xf_quantize_fp4s},
    {"FP8S", XF_GGML_FP8S, xf_quantize_fp8s},
};
#define N_TYPES (sizeof k_types / sizeof k_types[0])

xf_quantize_fn xf_quantizer(int t) {
    for (size_t i = 0; i < N_TYPES; i++)
        if (k_types[i].type == t) return k_types[i].fn;
    return NULL;
}

const char *xf_quantize_type_list(void) { return "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, MXFP4, FP4S, FP8S"; }

int xf_quantize_type_by_name(const char *name) {
    for (size_t i = 0; name && i < N_TYPES; i++)
        if (!strcasecmp(k_types[i].name, name)) return k_types[i].type;
    return -1;
}
