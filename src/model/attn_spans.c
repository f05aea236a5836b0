/* attn_spans.c — mixed attention spans (MASFormer, Zhang et al., 2023, applied training-free):
 * full causal attention in chosen layers and a sliding window of the last W positions in every
 * other, set on a loaded decoder's plan (xf_model_params.attn_window / attn_full_layers). A
 * windowed layer's attention skips the key blocks outside its window (kernels/attention.c), so its
 * cost stops growing with the context; its KV cache still holds every token (the window masks by
 * position). A layer that already has a narrower window (Mistral's sliding_window) keeps it.
 * With sinks > 0 a window keeps the first `sinks` positions visible as well: StreamingLLM (Xiao et
 * al., "Efficient Streaming Language Models with Attention Sinks", ICLR 2024) found that models
 * park attention on the first tokens, and that a plain window fails once those leave it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/model.h"

/* "0,5,29" (layer indices; -1 = the last layer, -2 the one before, ...) into full[] flags. */
static xf_status parse_layers(const char *list, size_t n_layers, unsigned char *full) {
    const char *p = list;
    while (*p) {
        char *end;
        const long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v >= (long)n_layers || v < -(long)n_layers)
            return xf_error(XF_ERR_INVALID_ARG, "attn_full_layers \"%.60s\": expected layer indices from %ld to %zu "
                            "(or negative from the end) separated by commas", list, -(long)n_layers, n_layers - 1);
        full[v < 0 ? (size_t)((long)n_layers + v) : (size_t)v] = 1;
        p = *end ? end + 1 : end;
    }
    return XF_OK;
}

xf_status xf_model_attn_spans(xf_model *m, size_t window, const char *full_layers, size_t sinks) {
    if (!window) {
        if (full_layers && *full_layers)
            return xf_error(XF_ERR_INVALID_ARG, "attn_full_layers \"%.60s\" is given without attn_window", full_layers);
        if (sinks) return xf_error(XF_ERR_INVALID_ARG, "attn_sinks %zu is given without attn_window", sinks);
        return XF_OK;
    }
    if (sinks >= window)
        return xf_error(XF_ERR_INVALID_ARG, "attn_sinks %zu: must be fewer than the attn_window of %zu positions", sinks,
                        window);
    xf_plan *P = &m->plan;
    if (!P->n_layers || !P->layers[0].attn.causal)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: attn_window applies to decoders (causal attention); model_type \"%s\" "
                        "attends both ways", m->path, m->arch->name);
    unsigned char *full = calloc(P->n_layers, 1);
    if (!full) return xf_error(XF_ERR_NOMEM, "out of memory");
    xf_status st = full_layers ? parse_layers(full_layers, P->n_layers, full) : XF_OK;
    for (size_t l = 0; !st && l < P->n_layers; l++) {
        xf_attn_plan *a = &P->layers[l].attn;
        if (!full[l] && (!a->window || window < a->window)) a->window = window, a->sinks = sinks;
    }
    free(full);
    return st;
}

xf_status xf_model_probsparse(xf_model *m, float factor, int exact) {
    if (factor == 0.0f) {
        if (exact) return xf_error(XF_ERR_INVALID_ARG, "probsparse_exact is given without probsparse_factor");
        return XF_OK;
    }
    if (!(factor > 0.0f) || !isfinite(factor) || factor > 1000.0f)
        return xf_error(XF_ERR_INVALID_ARG, "probsparse_factor %g: must be a number in (0, 1000] (0 = dense attention)",
                        (double)factor);
    if (exact != 0 && exact != 1) return xf_error(XF_ERR_INVALID_ARG, "probsparse_exact %d: must be 0 or 1", exact);
    for (size_t l = 0; l < m->plan.n_layers; l++) {
        xf_attn_plan *a = &m->plan.layers[l].attn;
        if (!a->window) a->probsparse = factor, a->probsparse_exact = exact;
    }
    return XF_OK;
}
