/* test_attn_spans.c — mixed attention spans (model/attn_spans.c; xf_model_params.attn_window,
 * attn_full_layers):
 *   - the plan: listed layers (negative indices from the end) keep full attention, the others get
 *     the window; Mistral's own narrower window is kept;
 *   - a window at least as long as the sequence, or every layer listed, is bitwise the dense model;
 *   - a windowed model gives the same logits through a session fed one token at a time (the KV
 *     cache, masked by position) as through the whole-sequence forward, and they differ from dense;
 *     the tiny Mistral (sliding_window 16, checked against transformers by test_model) with
 *     attn_window 16 is bitwise the model as its config says;
 *   - bad input: a list without a window, an index past the layers, an encoder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/model.h"
#include "xfmr.h"

static xf_model *load(const char *name, size_t window, const char *full, xf_status want) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), name);
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.attn_window = window;
    p.attn_full_layers = full;
    xf_model *m = NULL;
    const xf_status st = xf_model_load(dir, &p, &m);
    CHECK_MSG(st == want, "%s window %zu full \"%s\": status %d (%s), expected %d", name, window, full ? full : "",
              (int)st, xf_errmsg(), (int)want);
    return m;
}

static float *logits(xf_model *m, const int32_t *ids, size_t n) {
    float *out = malloc(n * xf_model_vocab_size(m) * sizeof *out);
    CHECK_MSG(xf_model_logits(m, ids, n, out) == XF_OK, "logits: %s", xf_errmsg());
    return out;
}

int main(void) {
    enum { T = 100 };
    int32_t ids[T];
    xf_model *dense = load("llama", 0, NULL, XF_OK);
    if (!dense) return xf_t_report();
    const size_t V = xf_model_vocab_size(dense);
    for (size_t i = 0; i < T; i++) ids[i] = (int32_t)((i * 7 + 3) % V);
    float *ld = logits(dense, ids, T);

    xf_model *wide = load("llama", 128, NULL, XF_OK), *all_full = load("llama", 8, "0,-1", XF_OK);
    xf_model *mixed = load("llama", 8, "-2", XF_OK); /* layer 0 of 2 full, layer 1 windowed */
    if (wide && all_full && mixed) {
        CHECK(all_full->plan.layers[0].attn.window == 0 && all_full->plan.layers[1].attn.window == 0);
        CHECK(mixed->plan.layers[0].attn.window == 0 && mixed->plan.layers[1].attn.window == 8);
        float *lw = logits(wide, ids, T), *lf = logits(all_full, ids, T), *lm = logits(mixed, ids, T);
        CHECK_MSG(memcmp(lw, ld, T * V * 4) == 0, "a window longer than the sequence changes the logits");
        CHECK_MSG(memcmp(lf, ld, T * V * 4) == 0, "every layer full: not the dense model");
        CHECK_MSG(memcmp(lm, ld, 8 * V * 4) == 0, "the first 8 positions (inside the window) differ from dense");
        double diff = 0;
        for (size_t i = 8 * V; i < T * V; i++) diff = fmax(diff, fabs(lm[i] - ld[i]));
        CHECK_MSG(diff > 1e-3, "a window of 8 over 100 tokens changes nothing (%.3g)", diff);
        /* the cache path: one token at a time */
        xf_session *s = NULL;
        CHECK(xf_session_create(mixed, T, &s) == XF_OK);
        float *row = malloc(V * 4);
        double worst = 0, mx = 0;
        for (size_t t = 0; s && t < T; t++) {
            CHECK(xf_session_eval(s, ids + t, 1, row) == XF_OK);
            for (size_t v = 0; v < V; v++) {
                worst = fmax(worst, fabs(row[v] - lm[t * V + v]));
                mx = fmax(mx, fabs(lm[t * V + v]));
            }
        }
        CHECK_MSG(worst <= 1e-5 * mx, "windowed session vs whole-sequence forward: %.3g (max |logit| %.3g)", worst, mx);
        xf_session_free(s);
        free(row), free(lw), free(lf), free(lm);
    }
    xf_model_free(wide), xf_model_free(all_full), xf_model_free(mixed);

    xf_model *mis = load("mistral", 0, NULL, XF_OK), *mis16 = load("mistral", 16, NULL, XF_OK),
             *mis64 = load("mistral", 64, NULL, XF_OK);
    if (mis && mis16 && mis64) {
        CHECK(mis->plan.layers[0].attn.window == 16 && mis64->plan.layers[0].attn.window == 16);
        float *a = logits(mis, ids, T), *b = logits(mis16, ids, T);
        CHECK_MSG(memcmp(a, b, T * V * 4) == 0, "mistral with attn_window = its sliding_window is not the same model");
        free(a), free(b);
    }
    xf_model_free(mis), xf_model_free(mis16), xf_model_free(mis64);

    xf_model *bad = load("llama", 0, "0", XF_ERR_INVALID_ARG);
    CHECK(strstr(xf_errmsg(), "without attn_window") != NULL);
    xf_model_free(bad);
    bad = load("llama", 8, "0,2", XF_ERR_INVALID_ARG);
    CHECK(strstr(xf_errmsg(), "\"0,2\"") != NULL);
    xf_model_free(bad);
    bad = load("llama", 8, "0,,1", XF_ERR_INVALID_ARG);
    xf_model_free(bad);
    bad = load("bert", 8, NULL, XF_ERR_UNSUPPORTED);
    CHECK(strstr(xf_errmsg(), "decoders") != NULL);
    xf_model_free(bad);
    free(ld);
    xf_model_free(dense);
    return xf_t_report();
}
