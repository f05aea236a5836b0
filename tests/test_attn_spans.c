/* test_attn_spans.c — mixed attention spans (model/attn_spans.c; xf_model_params.attn_window,
 * attn_full_layers):
 *   - the plan: listed layers (negative indices from the end) keep full attention, the others get
 *     the window; Mistral's own narrower window is kept;
 *   - a window at least as long as the sequence, or every layer listed, is bitwise the dense model;
 *   - a windowed model gives the same logits through a session fed one token at a time (the KV
 *     cache, masked by position) as through the whole-sequence forward, and they differ from dense;
 *     the tiny Mistral (sliding_window 16, checked against transformers by test_model) with
 *     attn_window 16 is bitwise the model as its config says;
 *   - attention sinks (attn_sinks): the positions within window + sinks are bitwise dense, later
 *     ones differ from both the plain window and dense, and the session path agrees (1e-5);
 *   - Qwen2's use_sliding_window: windows from layer_types, or from max_window_layers without it;
 *   - bad input: a list without a window, an index past the layers, an encoder, sinks without a
 *     window or as many as the window. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "model/model.h"
#include "xfmr.h"

static xf_model *load_sinks(const char *name, size_t window, const char *full, size_t sinks, xf_status want) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), name);
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.attn_window = window;
    p.attn_full_layers = full;
    p.attn_sinks = sinks;
    xf_model *m = NULL;
    const xf_status st = xf_model_load(dir, &p, &m);
    CHECK_MSG(st == want, "%s window %zu full \"%s\": status %d (%s), expected %d", name, window, full ? full : "",
              (int)st, xf_errmsg(), (int)want);
    return m;
}

static xf_model *load(const char *name, size_t window, const char *full, xf_status want) {
    return load_sinks(name, window, full, 0, want);
}

/* Max |a - b| over one token at a time through a session vs the whole-sequence logits ref. */
static double session_vs(xf_model *m, const int32_t *ids, size_t T, const float *ref, double *mx) {
    const size_t V = xf_model_vocab_size(m);
    xf_session *s = NULL;
    CHECK(xf_session_create(m, T, &s) == XF_OK);
    float *row = malloc(V * 4);
    double worst = 0;
    *mx = 0;
    for (size_t t = 0; s && t < T; t++) {
        CHECK(xf_session_eval(s, ids + t, 1, row) == XF_OK);
        for (size_t v = 0; v < V; v++) {
            worst = fmax(worst, fabs(row[v] - ref[t * V + v]));
            *mx = fmax(*mx, fabs(ref[t * V + v]));
        }
    }
    xf_session_free(s);
    free(row);
    return worst;
}

static float *logits(xf_model *m, const int32_t *ids, size_t n) {
    float *out = malloc(n * xf_model_vocab_size(m) * sizeof *out);
    CHECK_MSG(xf_model_logits(m, ids, n, out) == XF_OK, "logits: %s", xf_errmsg());
    return out;
}

/* A copy of tiny/qwen2_swa in the test's output folder whose config.json has no layer_types and
 * max_window_layers = mwl (the weights and tokenizer are links): the windows then come from
 * max_window_layers, as transformers derives them. */
static const char *qwen2_without_layer_types(int mwl) {
    char src[4096], dir[4096], path[4200];
    snprintf(src, sizeof src, "%s/qwen2_swa", xf_t_src("tests/data/tiny"));
    snprintf(dir, sizeof dir, "%s", xf_t_out(mwl ? "qwen2_mwl1" : "qwen2_mwl0"));
    mkdir(dir, 0755);
    const char *links[] = {"model.safetensors", "tokenizer.json"};
    for (int i = 0; i < 2; i++) {
        char target[4200];
        snprintf(target, sizeof target, "%s/%s", src, links[i]);
        snprintf(path, sizeof path, "%s/%s", dir, links[i]);
        unlink(path);
        CHECK(symlink(target, path) == 0);
    }
    snprintf(path, sizeof path, "%s/config.json", src);
    size_t n = 0;
    char *cfg = xf_t_slurp(path, &n);
    if (cfg && (cfg = realloc(cfg, n + 1))) cfg[n] = '\0'; /* slurp does not terminate */
    char *lt = cfg ? strstr(cfg, "\"layer_types\"") : NULL, *end = lt ? strchr(lt, ']') : NULL;
    char *mw = cfg ? strstr(cfg, "\"max_window_layers\": 1") : NULL;
    CHECK_MSG(lt && end && end[1] == ',' && mw, "tiny/qwen2_swa/config.json has no layer_types list or max_window_layers 1");
    if (!lt || !end || !mw) return free(cfg), NULL;
    mw[strlen("\"max_window_layers\": ")] = (char)('0' + mwl);
    const size_t cut = (size_t)(end + 2 - lt);
    memmove(lt, end + 2, n - (size_t)(end + 2 - cfg));
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f && fwrite(cfg, 1, n - cut, f) == n - cut && fclose(f) == 0);
    free(cfg);
    static char out[4096];
    snprintf(out, sizeof out, "%s", dir);
    return out;
}

/* Qwen2's use_sliding_window (tiny/qwen2_swa: window 16 in layer 1, matched to transformers by
 * test_decoder): the windows come from layer_types, or from max_window_layers without it. */
static void test_qwen2_sliding(const int32_t *ids, size_t T) {
    xf_model *q = load("qwen2_swa", 0, NULL, XF_OK);
    if (!q) return;
    CHECK(q->plan.layers[0].attn.window == 0 && q->plan.layers[1].attn.window == 16);
    const size_t V = xf_model_vocab_size(q);
    float *a = logits(q, ids, T);
    for (int mwl = 1; mwl >= 0; mwl--) {
        const char *dir = qwen2_without_layer_types(mwl);
        xf_model_params p = xf_model_default_params();
        p.n_threads = 2;
        xf_model *d = NULL;
        CHECK_MSG(dir && xf_model_load(dir, &p, &d) == XF_OK, "qwen2 without layer_types: %s", xf_errmsg());
        if (!d) continue;
        CHECK(d->plan.layers[0].attn.window == (mwl ? 0u : 16u) && d->plan.layers[1].attn.window == 16);
        if (mwl) {
            float *b = logits(d, ids, T);
            CHECK_MSG(memcmp(a, b, T * V * 4) == 0, "qwen2: max_window_layers 1 is not the model layer_types gives");
            free(b);
        }
        xf_model_free(d);
    }
    free(a);
    xf_model_free(q);
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
        double mx, worst = session_vs(mixed, ids, T, lm, &mx);
        CHECK_MSG(worst <= 1e-5 * mx, "windowed session vs whole-sequence forward: %.3g (max |logit| %.3g)", worst, mx);

        /* attention sinks: window 8 + the first 4 positions; positions <= 11 still see every key */
        xf_model *sunk = load_sinks("llama", 8, "-2", 4, XF_OK);
        if (sunk) {
            CHECK(sunk->plan.layers[0].attn.sinks == 0 && sunk->plan.layers[1].attn.sinks == 4);
            float *ls = logits(sunk, ids, T);
            CHECK_MSG(memcmp(ls, ld, 12 * V * 4) == 0, "sinks: the first 12 positions (window + sinks) differ from dense");
            double d_win = 0, d_dense = 0;
            for (size_t i = 12 * V; i < T * V; i++) {
                d_win = fmax(d_win, fabs(ls[i] - lm[i]));
                d_dense = fmax(d_dense, fabs(ls[i] - ld[i]));
            }
            CHECK_MSG(d_win > 1e-3 && d_dense > 1e-3, "sinks change nothing (%.3g vs the plain window, %.3g vs dense)",
                      d_win, d_dense);
            worst = session_vs(sunk, ids, T, ls, &mx);
            CHECK_MSG(worst <= 1e-5 * mx, "window + sinks: session vs whole-sequence forward: %.3g (max |logit| %.3g)",
                      worst, mx);
            free(ls);
        }
        xf_model_free(sunk);
        free(lw), free(lf), free(lm);
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

    test_qwen2_sliding(ids, T);

    xf_model *bad = load("llama", 0, "0", XF_ERR_INVALID_ARG);
    CHECK(strstr(xf_errmsg(), "without attn_window") != NULL);
    xf_model_free(bad);
    bad = load("llama", 8, "0,2", XF_ERR_INVALID_ARG);
    CHECK(strstr(xf_errmsg(), "\"0,2\"") != NULL);
    xf_model_free(bad);
    bad = load("llama", 8, "0,,1", XF_ERR_INVALID_ARG);
    xf_model_free(bad);
    bad = load_sinks("llama", 0, NULL, 4, XF_ERR_INVALID_ARG);
    CHECK(strstr(xf_errmsg(), "attn_sinks 4") != NULL);
    xf_model_free(bad);
    bad = load_sinks("llama", 8, NULL, 8, XF_ERR_INVALID_ARG);
    CHECK(strstr(xf_errmsg(), "fewer than") != NULL);
    xf_model_free(bad);
    bad = load("bert", 8, NULL, XF_ERR_UNSUPPORTED);
    CHECK(strstr(xf_errmsg(), "decoders") != NULL);
    xf_model_free(bad);
    free(ld);
    xf_model_free(dense);
    return xf_t_report();
}
