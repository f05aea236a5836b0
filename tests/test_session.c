/* test_session.c — KV-cache sessions of the tiny decoders (tests/data/tiny): the attention kernel
 * with a sliding window against its reference; a whole-prompt prefill and token-by-token decoding
 * against the full causal forward of xf_model_logits (<= 1e-5 x max |logit| of the row); prompts split into
 * chunks, and 1 vs 2 threads, bitwise identical; reset; the error paths. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "xfmr.h"

static const char *const k_models[] = {"llama", "llama_rope_linear", "llama3_rope", "qwen2", "mistral", "gpt2"};

static uint32_t rng = 12345u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

/* Sliding-window attention (the kernel over a whole sequence) against its reference, and the
 * window's span: with window W, query i's output equals full attention over keys (i - W, i] alone;
 * the tanh GELU against libm. (The kernel itself: test_attention.c.) */
static void test_window_kernels(void) {
    const size_t L = 40, dh = 16, ld = 2 * dh, wins[] = {0, 1, 5, 16, 39, 40, 100};
    float *Q = malloc(L * ld * 4), *K = malloc(L * ld * 4), *V = malloc(L * ld * 4), *O = malloc(L * ld * 4),
          *R = malloc(L * ld * 4), *scr = malloc(xf_attention_scratch(1, dh) * 4), sub[dh];
    for (size_t i = 0; i < L * ld; i++) Q[i] = 2 * frand(), K[i] = 2 * frand(), V[i] = frand();
    for (size_t w = 0; w < sizeof wins / sizeof wins[0]; w++) {
        size_t W = wins[w];
        xf_attn_problem p = {.Q = Q, .K = K, .V = V, .O = O, .ldq = ld, .ldk = ld, .ldv = ld, .ldo = ld, .n_q = L,
                             .n_k = L, .dh = dh, .group = 1, .scale = 0.25f, .causal = 1, .window = W};
        for (size_t q0 = 0; q0 < L; q0 += xf_attention_qblock(1))
            xf_attention(&p, 1, 0, 1, q0, q0 + xf_attention_qblock(1) < L ? q0 + xf_attention_qblock(1) : L, scr);
        p.O = R;
        xf_attention_ref(&p, 1, 0, 1, 0, L);
        double e = 0, e2 = 0;
        for (size_t i = 0; i < L; i++) {
            size_t lo = W && i + 1 > W ? i + 1 - W : 0;
            xf_attention_cached_ref(Q + i * ld + dh, K + lo * ld + dh, ld, V + lo * ld + dh, ld, i + 1 - lo, dh, 0.25f,
                                    sub);
            for (size_t d = 0; d < dh; d++) {
                e = fmax(e, fabs((double)O[i * ld + dh + d] - R[i * ld + dh + d]));
                e2 = fmax(e2, fabs((double)R[i * ld + dh + d] - sub[d]));
            }
        }
        CHECK_MSG(e < 1e-5 && e2 < 1e-6, "window %zu: kernel vs ref %.3g, ref vs span %.3g", W, e, e2);
    }
    free(Q), free(K), free(V), free(O), free(R), free(scr);
    float x[203], y[203];
    for (size_t i = 0; i < 203; i++) x[i] = y[i] = (float)i * 0.1f - 10.0f + frand();
    x[0] = y[0] = -100.0f, x[1] = y[1] = 100.0f, x[2] = y[2] = 0.0f;
    xf_gelu_tanh(x, 203);
    xf_gelu_tanh_ref(y, 203);
    double e = 0;
    for (size_t i = 0; i < 203; i++) e = fmax(e, fabs((double)x[i] - y[i]) / fmax(1.0, fabs(y[i])));
    CHECK_MSG(e < 1e-6 && x[0] == 0.0f && x[1] == 100.0f && x[2] == 0.0f, "gelu_tanh: error %.3g", e);
}

/* max |a - b| / max |b| over one row */
static double rel_err(const float *a, const float *b, size_t n) {
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(b[i]));
        double d = fabs((double)a[i] - b[i]);
        md = d > md || d != d ? d : md;
    }
    return md / mx;
}

static void check_model(const char *name) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), name);
    xf_model *m1 = NULL, *m2 = NULL;
    xf_model_params p = xf_model_default_params();
    p.n_threads = 1;
    CHECK_MSG(xf_model_load(dir, &p, &m1) == XF_OK, "%s: %s", name, xf_errmsg());
    p.n_threads = 2;
    CHECK_MSG(xf_model_load(dir, &p, &m2) == XF_OK, "%s: %s", name, xf_errmsg());
    if (!m1 || !m2) {
        xf_model_free(m1), xf_model_free(m2);
        return;
    }
    const size_t V = xf_model_vocab_size(m1), N = 70;
    int32_t ids[128];
    for (size_t i = 0; i < 128; i++) ids[i] = (int32_t)((i * 7919u + 13u * (uint32_t)strlen(name)) % V);
    float *full = malloc(N * V * 4), *a = malloc(V * 4), *b = malloc(V * 4), *steps = malloc(N * V * 4);
    CHECK(xf_model_logits(m1, ids, N, full) == XF_OK);

    xf_session *s1 = NULL, *s2 = NULL;
    CHECK_MSG(xf_session_create(m1, 0, &s1) == XF_OK, "%s: %s", name, xf_errmsg());
    CHECK_MSG(xf_session_create(m2, 100, &s2) == XF_OK, "%s: %s", name, xf_errmsg());
    if (!s1 || !s2) goto done;
    CHECK(xf_session_n_ctx(s1) == 128 && xf_session_n_ctx(s2) == 100);

    /* whole prompt in one prefill */
    CHECK(xf_session_eval(s1, ids, N, a) == XF_OK && xf_session_n_past(s1) == N);
    double e = rel_err(a, full + (N - 1) * V, V);
    CHECK_MSG(e <= 1e-5, "%s prefill: relative error %.3g", name, e);

    /* token by token: every row of the full forward */
    xf_session_reset(s1);
    CHECK(xf_session_n_past(s1) == 0);
    double worst = 0;
    for (size_t t = 0; t < N; t++) {
        CHECK(xf_session_eval(s1, ids + t, 1, steps + t * V) == XF_OK);
        double r = rel_err(steps + t * V, full + t * V, V);
        worst = r > worst || r != r ? r : worst;
    }
    CHECK_MSG(worst <= 1e-5, "%s decode: worst relative error %.3g", name, worst);
    /* a decode step (one row: the GEMV's dot order) equals the prefill's last row within rounding */
    e = rel_err(steps + (N - 1) * V, a, V);
    CHECK_MSG(e <= 1e-5, "%s decode vs prefill: relative error %.3g", name, e);

    /* two chunks (and 2 threads) == one chunk, bitwise */
    CHECK(xf_session_eval(s2, ids, 29, NULL) == XF_OK);
    CHECK(xf_session_eval(s2, ids + 29, N - 29, b) == XF_OK && xf_session_n_past(s2) == N);
    CHECK_MSG(memcmp(a, b, V * 4) == 0, "%s: 2 chunks / 2 threads differ from 1 chunk / 1 thread", name);
    xf_session_reset(s2);
    CHECK(xf_session_eval(s2, ids, 17, steps) == XF_OK);
    /* 17-token prefill on 2 threads == step 17 on 1 thread, within rounding */
    e = rel_err(steps, steps + 16 * V, V);
    CHECK_MSG(e <= 1e-5, "%s 17-token prefill vs step 17: relative error %.3g", name, e);

    /* overflow of n_ctx: s2 holds 17 of 100 */
    CHECK(xf_session_eval(s2, ids, 84, b) == XF_ERR_RANGE && strstr(xf_errmsg(), "17") &&
          strstr(xf_errmsg(), "84") && strstr(xf_errmsg(), "100"));
    CHECK(xf_session_n_past(s2) == 17);
    CHECK(xf_session_eval(s2, ids, 83, b) == XF_OK && xf_session_n_past(s2) == 100);
    CHECK(xf_session_eval(s2, ids, 1, b) == XF_ERR_RANGE);
    /* bad ids, empty, NULL */
    xf_session_reset(s1);
    int32_t bad[2] = {1, (int32_t)V};
    CHECK(xf_session_eval(s1, bad, 2, b) == XF_ERR_RANGE && strstr(xf_errmsg(), "320"));
    CHECK(xf_session_n_past(s1) == 0);
    CHECK(xf_session_eval(s1, ids, 0, b) == XF_ERR_INVALID_ARG);
    CHECK(xf_session_eval(NULL, ids, 1, b) == XF_ERR_INVALID_ARG);
    /* n_ctx above max_position_embeddings */
    xf_session *s3 = (xf_session *)1;
    CHECK(xf_session_create(m1, 129, &s3) == XF_ERR_RANGE && s3 == NULL && strstr(xf_errmsg(), "129"));
    CHECK(xf_session_create(m1, SIZE_MAX, &s3) == XF_ERR_RANGE && s3 == NULL);
    printf("%-18s prefill rel err %.3g, decode worst rel err %.3g\n", name, e, worst);
done:
    xf_session_free(s1);
    xf_session_free(s2);
    free(full), free(a), free(b), free(steps);
    xf_model_free(m1);
    xf_model_free(m2);
}

/* ref_greedy.txt (scripts/make_tiny_models.py): "<prompt ids> | <generated ids>" lines from
 * transformers' greedy generate; the session + a temperature-0 sampler must reproduce them. */
static size_t parse_ids(const char *q, int32_t *out) {
    size_t n = 0;
    char *end;
    for (long v; n < 64 && (v = strtol(q, &end, 10), end != q); q = end) out[n++] = (int32_t)v;
    return n;
}

static void check_greedy(const char *name) {
    char dir[4200], path[4300], line[4096];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), name);
    snprintf(path, sizeof path, "%s/ref_greedy.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot read %s", path);
    if (!f) return;
    xf_model *m = NULL;
    xf_session *s = NULL;
    xf_sampler *smp = NULL;
    xf_sampler_params sp = xf_sampler_default_params();
    sp.temperature = 0;
    CHECK(xf_model_load(dir, NULL, &m) == XF_OK);
    CHECK(m && xf_session_create(m, 64, &s) == XF_OK);
    CHECK(m && xf_sampler_create(&sp, xf_model_vocab_size(m), &smp) == XF_OK);
    int lines = 0;
    while (s && smp && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        int32_t prompt[64], want[64], hist[128];
        size_t np = 0, nw = 0;
        char *bar = strchr(line, '|');
        CHECK(bar != NULL);
        if (!bar) break;
        *bar = 0;
        np = parse_ids(line, prompt);
        nw = parse_ids(bar + 1, want);
        CHECK(np > 0 && nw > 0);
        float *logits = malloc(xf_model_vocab_size(m) * sizeof *logits);
        xf_session_reset(s);
        memcpy(hist, prompt, np * sizeof *hist);
        size_t nh = np, match = 0;
        CHECK(xf_session_eval(s, prompt, np, logits) == XF_OK);
        for (size_t k = 0; k < nw; k++) {
            int32_t t = -1;
            CHECK(xf_sampler_sample(smp, logits, hist, nh, &t) == XF_OK);
            if (t != want[k]) break;
            match++;
            hist[nh++] = t;
            if (k + 1 < nw) CHECK(xf_session_eval(s, &t, 1, logits) == XF_OK);
        }
        CHECK_MSG(match == nw, "%s prompt %d: greedy tokens match transformers for %zu of %zu", name, lines, match, nw);
        free(logits);
        lines++;
    }
    CHECK_MSG(lines == 2, "%s: %d golden lines", name, lines);
    fclose(f);
    xf_sampler_free(smp);
    xf_session_free(s);
    xf_model_free(m);
}

static void check_bert(void) {
    const char *dir = xf_t_model_dir();
    if (!dir) return;
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(dir, NULL, &m) == XF_OK, "%s", xf_errmsg());
    if (!m) return;
    xf_session *s = NULL;
    CHECK(xf_session_create(m, 16, &s) == XF_ERR_UNSUPPORTED && s == NULL && strstr(xf_errmsg(), "bert"));
    xf_model_free(m);
}

int main(void) {
    test_window_kernels();
    for (size_t i = 0; i < sizeof k_models / sizeof k_models[0]; i++) {
        check_model(k_models[i]);
        check_greedy(k_models[i]);
    }
    check_bert();
    xf_session_free(NULL);
    xf_session_reset(NULL);
    CHECK(xf_session_n_past(NULL) == 0);
    CHECK(xf_session_create(NULL, 0, NULL) == XF_ERR_INVALID_ARG);
    return xf_t_report();
}
