/* test_sampling.c — xf_sampler: greedy, each filter on hand-made logits, penalties against
 * hand-computed values, seeded determinism, empirical frequencies against softmax (chi-square
 * with a generous bound and fixed seeds: cannot flake), invalid parameters. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "xfmr.h"

static xf_sampler *make(xf_sampler_params p, size_t V) {
    xf_sampler *s = NULL;
    xf_status st = xf_sampler_create(&p, V, &s);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    return s;
}

/* Draw n tokens from fixed logits; counts[V]. */
static void draw(xf_sampler *s, const float *logits, size_t V, size_t n, size_t *counts) {
    float *l = malloc(V * sizeof *l);
    int ok = 1;
    memset(counts, 0, V * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        memcpy(l, logits, V * sizeof *l);
        int32_t t = -1;
        ok &= xf_sampler_sample(s, l, NULL, 0, &t) == XF_OK && t >= 0 && (size_t)t < V;
        if (t >= 0 && (size_t)t < V) counts[t]++;
    }
    CHECK(ok);
    free(l);
}

static void test_defaults_and_greedy(void) {
    xf_sampler_params d = xf_sampler_default_params();
    CHECK(d.temperature == 1.0f && d.top_k == 0 && d.top_p == 1.0f && d.min_p == 0.0f &&
          d.repetition_penalty == 1.0f && d.presence_penalty == 0.0f && d.frequency_penalty == 0.0f);
    d.temperature = 0;
    xf_sampler *s = make(d, 5);
    float l[5] = {1, 3, -2, 3, 2};
    int32_t t = -1;
    CHECK(xf_sampler_sample(s, l, NULL, 0, &t) == XF_OK && t == 1); /* lowest id on ties */
    float n[5] = {NAN, -1, NAN, 0.5f, -INFINITY};
    CHECK(xf_sampler_sample(s, n, NULL, 0, &t) == XF_OK && t == 3); /* NaN is -inf */
    float all[5] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    CHECK(xf_sampler_sample(s, all, NULL, 0, &t) == XF_OK && t == 0);
    xf_sampler_free(s);
    /* defaults: params NULL */
    CHECK(xf_sampler_create(NULL, 5, &s) == XF_OK);
    float one[5] = {-INFINITY, -INFINITY, 0, -INFINITY, -INFINITY};
    CHECK(xf_sampler_sample(s, one, NULL, 0, &t) == XF_OK && t == 2);
    xf_sampler_free(s);
}

static void test_filters(void) {
    const size_t V = 5, N = 4000;
    /* probabilities 0.5, 0.3, 0.15, 0.05 and an impossible token */
    const float l[5] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f), -INFINITY};
    size_t c[5];
    xf_sampler_params p = xf_sampler_default_params();
    p.seed = 7;
    struct {
        int top_k;
        float top_p, min_p;
        int keep; /* tokens 0 .. keep-1 must appear, the others never */
    } cases[] = {{0, 1, 0, 4}, {2, 1, 0, 2}, {3, 1, 0, 3}, {1, 1, 0, 1}, {10, 1, 0, 4},
                 {0, 0.45f, 0, 1}, {0, 0.75f, 0, 2}, {0, 0.9f, 0, 3}, {0, 0.99f, 0, 4},
                 {0, 1, 0.25f, 3}, {0, 1, 0.5f, 2}, {0, 1, 0.9f, 1}, {3, 0.75f, 0.9f, 1}, {3, 0.9f, 0.5f, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        p.top_k = cases[k].top_k;
        p.top_p = cases[k].top_p;
        p.min_p = cases[k].min_p;
        xf_sampler *s = make(p, V);
        if (!s) continue;
        draw(s, l, V, N, c);
        for (int i = 0; i < 5; i++)
            CHECK_MSG(i < cases[k].keep ? c[i] > 0 : c[i] == 0, "case %zu (top_k %d top_p %g min_p %g): token %d drawn %zu times",
                      k, cases[k].top_k, cases[k].top_p, cases[k].min_p, i, c[i]);
        /* renormalised: token 0 has 0.5 / (mass kept) */
        double kept = 0;
        for (int i = 0; i < cases[k].keep; i++) kept += (double[]){0.5, 0.3, 0.15, 0.05}[i];
        double f0 = (double)c[0] / N, want = 0.5 / kept;
        CHECK_MSG(fabs(f0 - want) < 0.04, "case %zu: token 0 frequency %.3f, expected %.3f", k, f0, want);
        xf_sampler_free(s);
    }
}

static void test_penalties(void) {
    xf_sampler_params p = xf_sampler_default_params();
    p.temperature = 0;
    p.repetition_penalty = 2.0f;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.25f;
    xf_sampler *s = make(p, 5);
    float l[5] = {2, -2, 1, 0.5f, 0.75f};
    const int32_t hist[4] = {0, 1, 0, 3};
    int32_t t = -1;
    CHECK(xf_sampler_sample(s, l, hist, 4, &t) == XF_OK);
    /* 0: 2/2 - 0.5 - 0.25*2 = 0;  1: -2*2 - 0.5 - 0.25 = -4.75;  2: 1;  3: 0.5/2 - 0.75 = -0.5;  4: 0.75 */
    const float want[5] = {0.0f, -4.75f, 1.0f, -0.5f, 0.75f};
    for (int i = 0; i < 5; i++) CHECK_MSG(fabsf(l[i] - want[i]) < 1e-6f, "logit %d: %g, expected %g", i, l[i], want[i]);
    CHECK(t == 2);
    /* the counts are forgotten between calls: the same call gives the same result */
    float l2[5] = {2, -2, 1, 0.5f, 0.75f};
    CHECK(xf_sampler_sample(s, l2, hist, 4, &t) == XF_OK && memcmp(l, l2, sizeof l) == 0);
    /* repetition only: HF semantics */
    xf_sampler_free(s);
    p.presence_penalty = p.frequency_penalty = 0;
    p.repetition_penalty = 1.5f;
    s = make(p, 5);
    float l3[5] = {3, -3, 1, 0.5f, 0.75f};
    const int32_t h3[2] = {0, 1};
    CHECK(xf_sampler_sample(s, l3, h3, 2, &t) == XF_OK && l3[0] == 2.0f && l3[1] == -4.5f && t == 0);
    /* negative presence penalty raises seen tokens */
    xf_sampler_free(s);
    p.repetition_penalty = 1;
    p.presence_penalty = -3;
    s = make(p, 5);
    float l4[5] = {0, 1, 2, 0, 0};
    const int32_t h4[1] = {4};
    CHECK(xf_sampler_sample(s, l4, h4, 1, &t) == XF_OK && t == 4 && l4[4] == 3.0f);
    int32_t badh[1] = {5};
    CHECK(xf_sampler_sample(s, l4, badh, 1, &t) == XF_ERR_RANGE && strstr(xf_errmsg(), "5"));
    CHECK(xf_sampler_sample(s, l4, NULL, 1, &t) == XF_ERR_INVALID_ARG);
    xf_sampler_free(s);
}

static void test_determinism(void) {
    const size_t V = 50;
    float base[50];
    for (size_t i = 0; i < V; i++) base[i] = (float)sin((double)i * 1.7) * 2;
    xf_sampler_params p = xf_sampler_default_params();
    p.seed = 1234;
    p.top_p = 0.95f;
    p.temperature = 0.8f;
    xf_sampler *a = make(p, V), *b = make(p, V);
    p.seed = 1235;
    xf_sampler *c = make(p, V);
    int same = 1, differ = 0;
    for (int k = 0; k < 200; k++) {
        float la[50], lb[50], lc[50];
        memcpy(la, base, sizeof la), memcpy(lb, base, sizeof lb), memcpy(lc, base, sizeof lc);
        int32_t ta, tb, tc;
        xf_sampler_sample(a, la, NULL, 0, &ta);
        xf_sampler_sample(b, lb, NULL, 0, &tb);
        xf_sampler_sample(c, lc, NULL, 0, &tc);
        same &= ta == tb;
        differ |= ta != tc;
    }
    CHECK(same);
    CHECK(differ);
    xf_sampler_free(a), xf_sampler_free(b), xf_sampler_free(c);
}

/* Pearson chi-square of counts against softmax(l / T); 9 degrees of freedom: mean 9, and
 * P(X > 45) < 1e-6. The seeds are fixed, so this is deterministic anyway. */
static void test_frequencies(void) {
    const size_t V = 10, N = 200000;
    const float l[10] = {0.3f, -1.2f, 2.0f, 0.0f, 1.1f, -0.4f, 0.9f, -2.5f, 1.6f, 0.2f};
    const float temps[3] = {1.0f, 0.5f, 2.0f};
    for (int k = 0; k < 3; k++) {
        xf_sampler_params p = xf_sampler_default_params();
        p.temperature = temps[k];
        p.seed = 42 + (uint64_t)k;
        xf_sampler *s = make(p, V);
        if (!s) continue;
        size_t c[10];
        draw(s, l, V, N, c);
        double z = 0, chi = 0;
        for (size_t i = 0; i < V; i++) z += exp(l[i] / temps[k]);
        for (size_t i = 0; i < V; i++) {
            double e = N * exp(l[i] / temps[k]) / z;
            chi += (c[i] - e) * (c[i] - e) / e;
        }
        CHECK_MSG(chi < 45.0, "temperature %g: chi-square %.2f over 9 dof", temps[k], chi);
        printf("temperature %.1f: chi-square %.2f (9 dof)\n", temps[k], chi);
        xf_sampler_free(s);
    }
}

static void test_invalid(void) {
    struct {
        const char *name, *value;
        xf_sampler_params p;
    } cases[8];
    xf_sampler_params d = xf_sampler_default_params();
    for (int i = 0; i < 8; i++) cases[i].p = d;
    cases[0].name = "temperature", cases[0].value = "-1", cases[0].p.temperature = -1;
    cases[1].name = "top_p", cases[1].value = "0", cases[1].p.top_p = 0;
    cases[2].name = "top_p", cases[2].value = "1.5", cases[2].p.top_p = 1.5f;
    cases[3].name = "min_p", cases[3].value = "1", cases[3].p.min_p = 1;
    cases[4].name = "min_p", cases[4].value = "-0.5", cases[4].p.min_p = -0.5f;
    cases[5].name = "top_k", cases[5].value = "-3", cases[5].p.top_k = -3;
    cases[6].name = "repetition_penalty", cases[6].value = "0", cases[6].p.repetition_penalty = 0;
    cases[7].name = "repetition_penalty", cases[7].value = "-2", cases[7].p.repetition_penalty = -2;
    for (int i = 0; i < 8; i++) {
        xf_sampler *s = (xf_sampler *)1;
        xf_status st = xf_sampler_create(&cases[i].p, 10, &s);
        CHECK_MSG(st == XF_ERR_INVALID_ARG && s == NULL && strstr(xf_errmsg(), cases[i].name) &&
                      strstr(xf_errmsg(), cases[i].value),
                  "case %d: status %d, message \"%s\"", i, st, xf_errmsg());
    }
    xf_sampler_params p = d;
    xf_sampler *s = NULL;
    p.temperature = NAN;
    CHECK(xf_sampler_create(&p, 10, &s) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "temperature"));
    p = d, p.presence_penalty = INFINITY;
    CHECK(xf_sampler_create(&p, 10, &s) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "presence_penalty"));
    p = d, p.frequency_penalty = NAN;
    CHECK(xf_sampler_create(&p, 10, &s) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "frequency_penalty"));
    CHECK(xf_sampler_create(&d, 0, &s) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "vocab_size"));
    CHECK(xf_sampler_create(&d, 10, NULL) == XF_ERR_INVALID_ARG);
    /* boundaries that are valid */
    p = d, p.top_p = 1, p.min_p = 0, p.temperature = 0, p.top_k = 0;
    CHECK(xf_sampler_create(&p, 10, &s) == XF_OK);
    int32_t t;
    CHECK(xf_sampler_sample(s, NULL, NULL, 0, &t) == XF_ERR_INVALID_ARG);
    xf_sampler_free(s);
    xf_sampler_free(NULL);
}

int main(void) {
    test_defaults_and_greedy();
    test_filters();
    test_penalties();
    test_determinism();
    test_frequencies();
    test_invalid();
    return xf_t_report();
}
