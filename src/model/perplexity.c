/* perplexity.c — xf_perplexity (xfmr.h, "text generation helpers"): the strided sliding-window
 * perplexity of the Hugging Face guide "Perplexity of fixed-length models", one full causal
 * forward (xf_model_logits) per window, log-softmax in double. */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/model.h"

/* -log softmax(row)[target] in double. */
static double token_nll(const float *row, size_t V, int32_t target) {
    double mx = -INFINITY;
    for (size_t v = 0; v < V; v++)
        if ((double)row[v] > mx) mx = row[v];
    double sum = 0;
    for (size_t v = 0; v < V; v++) sum += exp((double)row[v] - mx);
    return mx + log(sum) - (double)row[target];
}

/* Windows the loop below runs over n tokens. */
static size_t n_windows(size_t n, size_t window, size_t stride) {
    size_t k = 0;
    for (size_t begin = 0; begin < n; begin += stride) {
        k++;
        if (window >= n - begin) break;
    }
    return k;
}

xf_status xf_perplexity(xf_model *m, const int32_t *ids, size_t n, size_t window, size_t stride, double *ppl,
                        double *nll_sum, size_t *n_scored) {
    return xf_perplexity_progress(m, ids, n, window, stride, ppl, nll_sum, n_scored, NULL, NULL);
}

xf_status xf_perplexity_progress(xf_model *m, const int32_t *ids, size_t n, size_t window, size_t stride,
                                 double *ppl, double *nll_sum, size_t *n_scored, xf_progress_fn progress,
                                 void *user) {
    if (!m || !ids || !ppl) return xf_error(XF_ERR_INVALID_ARG, "xf_perplexity: NULL %s", !m ? "model" : !ids ? "ids" : "ppl");
    if (window < 2) return xf_error(XF_ERR_INVALID_ARG, "xf_perplexity: window %zu: must be at least 2", window);
    if (stride < 1 || stride > window)
        return xf_error(XF_ERR_INVALID_ARG, "xf_perplexity: stride %zu: must be from 1 to the window (%zu)", stride, window);
    if (n < 2) return xf_error(XF_ERR_INVALID_ARG, "xf_perplexity: %zu tokens: need at least 2", n);
    if (!m->plan.lm_head.w.data)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: model_type \"%s\" has no language-model head; perplexity needs a decoder",
                        m->path, m->arch->name);
    const size_t V = m->cfg.vocab_size, L_max = window < n ? window : n;
    if (L_max > m->cfg.max_position_embeddings)
        return xf_error(XF_ERR_RANGE, "xf_perplexity: window of %zu tokens exceeds the model's max_position_embeddings %zu",
                        L_max, m->cfg.max_position_embeddings);
    size_t floats;
    if (!xf_mul_ok(L_max, V, &floats) || floats > SIZE_MAX / sizeof(float))
        return xf_error(XF_ERR_RANGE, "xf_perplexity: window of %zu tokens x %zu logits overflows", L_max, V);
    float *logits = xf_malloc(floats * sizeof(float));
    if (!logits) return xf_error(XF_ERR_NOMEM, "xf_perplexity: cannot allocate %zu logits", floats);
    double sum = 0;
    size_t total = 0, prev_end = 0, done = 0, todo = progress ? n_windows(n, window, stride) : 0;
    xf_status st = XF_OK;
    for (size_t begin = 0; begin < n; begin += stride) {
        size_t end = window < n - begin ? begin + window : n, L = end - begin, trg_len = end - prev_end;
        /* Labels of the first L - trg_len tokens are ignored; after HF's shift the predictions
         * of tokens max(L - trg_len, 1) .. L - 1 from the rows before them are scored. */
        size_t first = L - trg_len > 1 ? L - trg_len : 1;
        if (first < L) {
            if ((st = xf_model_logits(m, ids + begin, L, logits)) != XF_OK) break;
            double w_sum = 0;
            for (size_t t = first; t < L; t++) w_sum += token_nll(logits + (t - 1) * V, V, ids[begin + t]);
            const double mean = w_sum / (double)(L - first);
            const size_t weight = trg_len - 1; /* the guide: valid labels minus the batch size */
            sum += mean * (double)weight;
            total += weight;
        }
        prev_end = end;
        if (progress) progress(user, ++done, todo);
        if (end == n) break;
    }
    free(logits);
    if (st != XF_OK) return st;
    if (nll_sum) *nll_sum = sum;
    if (n_scored) *n_scored = total;
    *ppl = total ? exp(sum / (double)total) : NAN;
    return XF_OK;
}
