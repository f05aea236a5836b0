/* test_determinism.c — what README and docs/DECISIONS.md claim: outputs are bitwise identical
 * across runs, fresh loads and thread counts (1..4 threads, each compared with 1 by memcmp):
 *   embed: the tiny BERT (tests/data/tiny/bert) twice in one model, after a fresh load, with 1..4
 *     threads, and against its transformers reference embeddings (ref_emb.txt, cosine >= 0.99999);
 *   logits: xf_model_logits of the tiny llama, gpt2, qwen2 and quantized llama GGUF, twice, after
 *     a fresh load and with 1..4 threads;
 *   generate: a session + sampler (temperature 0.9, top_k, top_p, penalties, fixed seed) gives
 *     the same tokens and bitwise the same logits at every step: twice, after a fresh load and
 *     with 1..4 threads. Stored and int8 linear weights both (int8 recorded as a skip when the
 *     model does not support it). Batch splits are checked by test_embed_golden (batched vs one
 *     by one, bitwise) and prompt chunking by test_session. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "xfmr.h"

#define MAX_T 4
#define N_GEN 12

static xf_model *load(const char *rel, int threads, xf_weight_format w) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = threads;
    p.weights = w;
    xf_model *m = NULL;
    xf_status st = xf_model_load(xf_t_src(rel), &p, &m);
    if (st == XF_ERR_UNSUPPORTED && w != XF_WEIGHTS_AS_STORED) return NULL;
    CHECK_MSG(st == XF_OK, "%s (%d threads): %s", rel, threads, xf_errmsg());
    return m;
}

static double max_rel_diff(const float *a, const float *b, size_t n) {
    double mx = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs((double)a[i]));
        d = fmax(d, fabs((double)a[i] - b[i]));
    }
    return mx > 0 ? d / mx : d;
}

static const char *const k_texts[] = {"hello world", "The quick brown fox jumps over the lazy dog.", "a", "Zebra? 42!"};
#define N_TEXTS 4

static void embed_all(xf_model *m, float *out) {
    xf_status st = xf_embed(m, k_texts, N_TEXTS, 3, out, NULL);
    CHECK_MSG(st == XF_OK, "embed: %s", xf_errmsg());
}

static void test_embed(void) {
    float ref[N_TEXTS * 32], first[N_TEXTS * 32], got[N_TEXTS * 32];
    size_t len;
    char *txt = xf_t_slurp(xf_t_src("tests/data/tiny/bert/ref_emb.txt"), &len);
    CHECK(txt != NULL);
    if (!txt) return;
    size_t nl;
    xf_t_span *lines = xf_t_split_lines(txt, len, &nl);
    CHECK(nl == N_TEXTS);
    for (size_t i = 0; i < nl && i < N_TEXTS; i++) {
        char *tab = memchr(lines[i].p, '\t', lines[i].n);
        char *p = tab + 1;
        for (int d = 0; d < 32; d++) ref[i * 32 + d] = strtof(p, &p);
    }
    free(lines);
    free(txt);
    for (int threads = 1; threads <= MAX_T; threads++) {
        xf_model *m = load("tests/data/tiny/bert", threads, XF_WEIGHTS_AS_STORED);
        if (!m) continue;
        CHECK(xf_model_embedding_dim(m) == 32);
        embed_all(m, got);
        float again[N_TEXTS * 32];
        embed_all(m, again);
        CHECK_MSG(!memcmp(got, again, sizeof got), "embed twice (%d threads) is not bitwise identical", threads);
        xf_model_free(m);
        if (threads == 1) {
            memcpy(first, got, sizeof got);
            for (int i = 0; i < N_TEXTS; i++) {
                float c = xf_cosine(got + 32 * i, ref + 32 * i, 32);
                CHECK_MSG(c >= 0.99999f, "tiny bert text %d: cosine %.7f with the transformers reference", i, c);
            }
            /* A fresh load: the same bits. */
            m = load("tests/data/tiny/bert", 1, XF_WEIGHTS_AS_STORED);
            if (m) {
                embed_all(m, again);
                CHECK_MSG(!memcmp(first, again, sizeof got), "embed after a fresh load is not bitwise identical");
                xf_model_free(m);
            }
        } else {
            CHECK_MSG(!memcmp(first, got, sizeof got), "embed, %d threads vs 1: not bitwise identical (relative "
                      "difference %.3g)", threads, max_rel_diff(first, got, N_TEXTS * 32));
        }
    }
}

/* Generate N_GEN tokens from a fixed prompt; logits of every step into lg[N_GEN * V]. */
static int generate(xf_model *m, int32_t *toks, float *lg) {
    const size_t V = xf_model_vocab_size(m);
    xf_session *s = NULL;
    xf_sampler *smp = NULL;
    xf_sampler_params sp = xf_sampler_default_params();
    sp.temperature = 0.9f, sp.top_k = 40, sp.top_p = 0.95f, sp.repetition_penalty = 1.1f;
    sp.frequency_penalty = 0.1f, sp.seed = 1234;
    int ok = xf_session_create(m, 64, &s) == XF_OK && xf_sampler_create(&sp, V, &smp) == XF_OK;
    int32_t hist[64] = {2, 17, 99, 5, 250, 31, 7};
    size_t n = 7;
    float *cur = malloc(V * sizeof *cur);
    ok = ok && cur && xf_session_eval(s, hist, n, cur) == XF_OK;
    for (int k = 0; ok && k < N_GEN; k++) {
        memcpy(lg + k * V, cur, V * sizeof *cur);
        ok = xf_sampler_sample(smp, cur, hist, n, &hist[n]) == XF_OK && xf_session_eval(s, &hist[n], 1, cur) == XF_OK;
        toks[k] = hist[n++];
    }
    CHECK_MSG(ok, "generate: %s", xf_errmsg());
    free(cur);
    xf_sampler_free(smp);
    xf_session_free(s);
    return ok;
}

static void test_decoder(const char *name, xf_weight_format w) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/tiny/%s", name);
    const char *wname = w == XF_WEIGHTS_INT8 ? "int8" : "stored";
    int32_t t1[N_GEN], t2[N_GEN], ids[9] = {2, 17, 99, 5, 250, 31, 7, 8, 9};
    float *l1 = NULL, *l2 = NULL, *f1 = NULL, *f2 = NULL;
    size_t V = 0;
    for (int threads = 1; threads <= MAX_T; threads++) {
        xf_model *m = load(rel, threads, w);
        if (!m) {
            if (threads == 1) xf_t_skip("%s (%s weights): not supported", name, wname);
            break;
        }
        if (!l1) {
            V = xf_model_vocab_size(m);
            l1 = malloc(N_GEN * V * 4), l2 = malloc(N_GEN * V * 4), f1 = malloc(9 * V * 4), f2 = malloc(9 * V * 4);
            if (!l1 || !l2 || !f1 || !f2) abort();
        }
        float *lg = threads == 1 ? l1 : l2;
        int32_t *tk = threads == 1 ? t1 : t2;
        float *fw = threads == 1 ? f1 : f2;
        if (generate(m, tk, lg)) {
            int32_t again[N_GEN];
            float *lg2 = malloc(N_GEN * V * 4);
            if (!lg2) abort();
            generate(m, again, lg2);
            CHECK_MSG(!memcmp(tk, again, sizeof again) && !memcmp(lg, lg2, N_GEN * V * 4),
                      "%s (%s, %d threads): generating twice differs", name, wname, threads);
            free(lg2);
        }
        CHECK_MSG(xf_model_logits(m, ids, 9, fw) == XF_OK, "%s logits: %s", name, xf_errmsg());
        float *fw2 = malloc(9 * V * 4);
        if (!fw2) abort();
        CHECK(xf_model_logits(m, ids, 9, fw2) == XF_OK);
        CHECK_MSG(!memcmp(fw, fw2, 9 * V * 4), "%s (%s, %d threads): logits twice differ", name, wname, threads);
        free(fw2);
        xf_model_free(m);
        if (threads > 1) {
            CHECK_MSG(!memcmp(f1, f2, 9 * V * 4), "%s (%s) logits, %d threads vs 1: not bitwise identical (relative "
                      "difference %.3g)", name, wname, threads, max_rel_diff(f1, f2, 9 * V));
            CHECK_MSG(!memcmp(t1, t2, sizeof t1), "%s (%s): %d threads sampled other tokens than 1 thread", name, wname,
                      threads);
            CHECK_MSG(!memcmp(l1, l2, N_GEN * V * 4), "%s (%s) generation logits, %d threads vs 1: not bitwise identical "
                      "(relative difference %.3g)", name, wname, threads, max_rel_diff(l1, l2, N_GEN * V));
        }
    }
    /* A fresh load, 1 thread: the same tokens as the first run. */
    xf_model *m = l1 ? load(rel, 1, w) : NULL;
    if (m) {
        int32_t again[N_GEN];
        float *lg2 = malloc(N_GEN * V * 4);
        if (lg2 && generate(m, again, lg2))
            CHECK_MSG(!memcmp(t1, again, sizeof again) && !memcmp(l1, lg2, N_GEN * V * 4),
                      "%s (%s): generation after a fresh load differs", name, wname);
        free(lg2);
        xf_model_free(m);
    }
    free(l1), free(l2), free(f1), free(f2);
}

int main(void) {
    test_embed();
    test_decoder("llama", XF_WEIGHTS_AS_STORED);
    test_decoder("gpt2", XF_WEIGHTS_AS_STORED);
    test_decoder("qwen2", XF_WEIGHTS_AS_STORED);
    test_decoder("llama_q.gguf", XF_WEIGHTS_AS_STORED);
    test_decoder("llama", XF_WEIGHTS_INT8);
    return xf_t_report();
}
