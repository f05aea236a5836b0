/* test_probsparse.c — ProbSparse attention (kernels/probsparse.c, xf_model_params.probsparse_*):
 *   - the kernel against its plain double reference (the same sampled or exact measurement, the
 *     selection as a mask, attention and means in double): bidirectional and causal, sampled and
 *     exact, several lengths, head sizes and grouped heads, within 1e-5; the active rows are
 *     bitwise what dense attention gives those rows, the lazy rows the (cumulative) mean of V;
 *   - the number of active queries u = ceil(c * ceil(ln L)), capped at L;
 *   - models: a factor with u >= L is bitwise the dense model (tiny BERT embeddings, tiny llama
 *     logits and a session's prefill); a small factor changes them (finite); the session's prefill
 *     of a whole prompt agrees with the whole-sequence forward; ModernBERT's local layers stay dense;
 *   - bad input: a negative, NaN or huge factor, probsparse_exact without a factor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"
#include "kernels/probsparse.h"
#include "model/model.h"
#include "xfmr.h"

static void test_top(void) {
    CHECK(xf_probsparse_top(5.0f, 1) == 1);
    CHECK(xf_probsparse_top(5.0f, 10) == 10);        /* 5 * ceil(2.30) = 15 >= 10 */
    CHECK(xf_probsparse_top(5.0f, 512) == 35);       /* 5 * ceil(6.24) */
    CHECK(xf_probsparse_top(1.0f, 100) == 5);        /* ceil(4.61) */
    CHECK(xf_probsparse_top(0.5f, 100) == 3);        /* ceil(2.5) */
    CHECK(xf_probsparse_top(1000.0f, 4096) == 4096);
}

/* One problem of L tokens, n_kv kv heads of `group` query heads, head size dh. */
static void check_kernel(size_t L, size_t dh, size_t n_kv, size_t group, int causal, float factor, int exact) {
    const size_t qd = n_kv * group * dh, kvd = n_kv * dh;
    float *Q = xf_t_randv(L * qd, 1.5f), *K = xf_t_randv(L * kvd, 1.5f), *V = xf_t_randv(L * kvd, 1.0f);
    float *O = calloc(L * qd, sizeof *O), *R = calloc(L * qd, sizeof *R), *D = calloc(L * qd, sizeof *D);
    xf_attn_problem p = {.Q = Q, .K = K, .V = V, .O = O, .ldq = qd, .ldk = kvd, .ldv = kvd, .ldo = qd, .n_q = L,
                         .n_k = L, .dh = dh, .group = group, .scale = 1.0f / sqrtf((float)dh), .causal = causal};
    CHECK(xf_probsparse_applies(&p));
    float *scratch = xf_aligned_alloc(xf_probsparse_scratch(L, dh) * sizeof(float));
    float *att = xf_aligned_alloc(xf_attention_scratch(group, dh) * sizeof(float));
    xf_attn_problem r = p, d = p;
    r.O = R, d.O = D;
    for (size_t g = 0; g < n_kv; g++) {
        for (size_t h = 0; h < group; h++) {
            xf_probsparse_head(&p, g, h, factor, exact, scratch);
            xf_probsparse_head_ref(&r, g, h, factor, exact);
        }
        const size_t qb = xf_attention_qblock(group);
        for (size_t q0 = 0; q0 < L; q0 += qb) xf_attention(&d, g, 0, group, q0, q0 + qb < L ? q0 + qb : L, att);
    }
    /* vs the reference; count rows equal to dense (active) and check the rest are means */
    const size_t u = xf_probsparse_top(factor, L);
    double worst = 0;
    size_t n_dense = 0, n_bad = 0;
    for (size_t t = 0; t < L; t++)
        for (size_t h = 0; h < n_kv * group; h++) {
            const float *o = O + t * qd + h * dh, *rr = R + t * qd + h * dh, *dd = D + t * qd + h * dh;
            for (size_t i = 0; i < dh; i++) worst = fmax(worst, fabs((double)o[i] - rr[i]));
            if (!memcmp(o, dd, dh * sizeof *o)) {
                n_dense++;
                continue;
            }
            const size_t g = h / group, n = causal ? t + 1 : L; /* a lazy row: the mean of V */
            for (size_t i = 0; i < dh; i++) {
                double m = 0;
                for (size_t j = 0; j < n; j++) m += V[j * kvd + g * dh + i];
                n_bad += fabs(m / (double)n - o[i]) > 1e-5;
            }
        }
    CHECK_MSG(worst < 1e-5, "L %zu dh %zu kv %zu group %zu causal %d c %g exact %d: max |kernel - ref| %.3g", L, dh, n_kv,
              group, causal, (double)factor, exact, worst);
    /* every head has u active rows (a lazy row may equal dense only by accident: L small) */
    CHECK_MSG(n_dense >= u * n_kv * group && n_bad == 0, "L %zu: %zu rows equal dense (u %zu x %zu heads), %zu not means",
              L, n_dense, u, n_kv * group, n_bad);
    free(Q), free(K), free(V), free(O), free(R), free(D), free(scratch), free(att);
}

static xf_model *load(const char *name, float factor, int exact, xf_status want) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.probsparse_factor = factor;
    p.probsparse_exact = exact;
    xf_model *m = NULL;
    const xf_status st = xf_model_load(xf_t_src(name), &p, &m);
    CHECK_MSG(st == want, "%s factor %g exact %d: status %d (%s), expected %d", name, (double)factor, exact, (int)st,
              xf_errmsg(), (int)want);
    return m;
}

static float *embed(xf_model *m, const char *const *texts, size_t n) {
    float *out = malloc(n * xf_model_embedding_dim(m) * sizeof *out);
    CHECK_MSG(xf_embed(m, texts, n, 0, out, NULL) == XF_OK, "embed: %s", xf_errmsg());
    return out;
}

static void test_bert(void) {
    static const char *texts[] = {
        "a short one",
        "the quick brown fox jumps over the lazy dog and then runs far away into the woods where nobody can find "
        "it again until the next morning when the sun rises over the hills and the birds start singing",
        "hello world, this text is long enough for the tiny model to have more queries than the factor keeps"};
    const size_t n = 3;
    xf_model *d = load("tests/data/tiny/bert", 0, 0, XF_OK), *big = load("tests/data/tiny/bert", 1000, 0, XF_OK);
    xf_model *s = load("tests/data/tiny/bert", 0.5f, 0, XF_OK), *e = load("tests/data/tiny/bert", 0.5f, 1, XF_OK);
    if (!d || !big || !s || !e) goto out;
    const size_t H = xf_model_embedding_dim(d);
    float *a = embed(d, texts, n), *b = embed(big, texts, n), *c = embed(s, texts, n), *x = embed(e, texts, n);
    CHECK_MSG(!memcmp(a, b, n * H * sizeof *a), "u >= L is not bitwise dense");
    double diff = 0, diffx = 0;
    int finite = 1;
    for (size_t i = 0; i < n * H; i++) {
        diff = fmax(diff, fabs(a[i] - c[i]));
        diffx = fmax(diffx, fabs(a[i] - x[i]));
        finite &= isfinite(c[i]) && isfinite(x[i]);
    }
    CHECK_MSG(finite && diff > 1e-4 && diffx > 1e-4, "factor 0.5 changes long texts: sampled %.3g exact %.3g", diff, diffx);
    /* batched = one at a time */
    float *one = malloc(H * sizeof *one);
    for (size_t i = 0; i < n; i++) {
        CHECK(xf_embed(s, texts + i, 1, 0, one, NULL) == XF_OK);
        CHECK_MSG(!memcmp(one, c + i * H, H * sizeof *one), "text %zu: batched differs from alone", i);
    }
    printf("tiny bert: factor 0.5 vs dense max |diff| %.3g (sampled), %.3g (exact)\n", diff, diffx);
    free(one), free(a), free(b), free(c), free(x);
out:
    xf_model_free(d), xf_model_free(big), xf_model_free(s), xf_model_free(e);
}

static void test_llama(void) {
    xf_model *d = load("tests/data/tiny/llama", 0, 0, XF_OK), *big = load("tests/data/tiny/llama", 1000, 0, XF_OK);
    xf_model *s = load("tests/data/tiny/llama", 0.5f, 0, XF_OK);
    if (!d || !big || !s) goto out;
    enum { T = 60 };
    int32_t ids[T];
    for (size_t t = 0; t < T; t++) ids[t] = (int32_t)(3 + (t * 37) % 200);
    const size_t V = xf_model_vocab_size(d);
    float *a = malloc(T * V * 4), *b = malloc(T * V * 4), *c = malloc(T * V * 4), *last = malloc(V * 4);
    CHECK(xf_model_logits(d, ids, T, a) == XF_OK && xf_model_logits(big, ids, T, b) == XF_OK &&
          xf_model_logits(s, ids, T, c) == XF_OK);
    CHECK_MSG(!memcmp(a, b, T * V * 4), "decoder: u >= L is not bitwise dense");
    double diff = 0;
    for (size_t i = 0; i < T * V; i++) diff = fmax(diff, fabs(a[i] - c[i]));
    CHECK_MSG(diff > 1e-4 && isfinite(diff), "decoder: factor 0.5 changes nothing (%.3g)", diff);
    /* a session's prefill of the whole prompt: the same kernel on the cache */
    xf_session *ss = NULL;
    CHECK(xf_session_create(s, T, &ss) == XF_OK);
    if (ss && xf_session_eval(ss, ids, T, last) == XF_OK) {
        double w = 0;
        for (size_t v = 0; v < V; v++) w = fmax(w, fabs(last[v] - c[(T - 1) * V + v]));
        CHECK_MSG(w < 1e-5, "session prefill vs forward: %.3g", w);
    }
    xf_session_free(ss);
    printf("tiny llama: factor 0.5 vs dense max |logit diff| %.3g\n", diff);
    free(a), free(b), free(c), free(last);
out:
    xf_model_free(d), xf_model_free(big), xf_model_free(s);
}

static void test_modernbert(void) {
    xf_model *m = load("tests/data/tiny/modernbert", 0.5f, 0, XF_OK);
    if (!m) return;
    for (size_t l = 0; l < m->plan.n_layers; l++) { /* local layers keep their window, dense */
        const xf_attn_plan *a = &m->plan.layers[l].attn;
        CHECK_MSG(a->window ? a->probsparse == 0.0f : a->probsparse == 0.5f, "layer %zu", l);
    }
    xf_model_free(m);
}

int main(void) {
    test_top();
    for (int causal = 0; causal <= 1; causal++)
        for (int exact = 0; exact <= 1; exact++) {
            check_kernel(37, 16, 1, 1, causal, 1.0f, exact);
            check_kernel(100, 32, 2, 2, causal, 2.0f, exact);
            check_kernel(200, 24, 1, 3, causal, 1.0f, exact);
            check_kernel(130, 8, 3, 1, causal, 5.0f, exact);
        }
    test_bert();
    test_llama();
    test_modernbert();
    xf_model_free(load("tests/data/tiny/bert", -1.0f, 0, XF_ERR_INVALID_ARG));
    xf_model_free(load("tests/data/tiny/bert", NAN, 0, XF_ERR_INVALID_ARG));
    xf_model_free(load("tests/data/tiny/bert", 1e6f, 0, XF_ERR_INVALID_ARG));
    xf_model_free(load("tests/data/tiny/bert", 0, 1, XF_ERR_INVALID_ARG));
    xf_model_free(load("tests/data/tiny/bert", 2.0f, 2, XF_ERR_INVALID_ARG));
    return xf_t_report();
}
