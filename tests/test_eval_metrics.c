/* test_eval_metrics.c — the metric functions of `xfmr eval` (tools/xfmr/eval_metrics.c) against
 * hand-computed cases: top-k order and ties, MRR@k / nDCG@k / recall@k with one and several
 * relevant docs (sentence-transformers' definitions), the dot product, arg max and the KL
 * divergence of two logit rows, the paired bootstrap interval of a ratio of sums. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "harness.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) <= 1e-12 * (1 + fabs((double)(b))))

static void test_topk(void) {
    const float s[7] = {0.1f, 0.9f, -0.5f, 0.9f, 0.3f, 0.95f, 0.3f};
    size_t idx[7];
    eval_topk(s, 7, 4, idx);
    /* 0.95 (5), then the tie 0.9 by index (1, 3), then the tie 0.3 by index (4 before 6) */
    CHECK(idx[0] == 5 && idx[1] == 1 && idx[2] == 3 && idx[3] == 4);
    eval_topk(s, 7, 7, idx);
    const size_t all[7] = {5, 1, 3, 4, 6, 0, 2};
    CHECK(!memcmp(idx, all, sizeof all));
    eval_topk(s, 7, 1, idx);
    CHECK(idx[0] == 5);
    size_t big[3];
    eval_topk(s, 2, 3, big); /* k > n is clamped to n */
    CHECK(big[0] == 1 && big[1] == 0);
    /* a larger random case against a full sort */
    enum { N = 1000, K = 10 };
    float *r = malloc(N * sizeof *r);
    size_t top[K];
    for (size_t i = 0; i < N; i++) r[i] = (float)(xf_t_rand32() % 200) / 7.0f; /* many ties */
    eval_topk(r, N, K, top);
    int ok = 1;
    for (size_t i = 0; i < K; i++) {
        size_t ahead = 0; /* docs that rank before top[i]: must be exactly i */
        for (size_t j = 0; j < N; j++)
            ahead += r[j] > r[top[i]] || (r[j] == r[top[i]] && j < top[i]);
        ok &= ahead == i;
    }
    CHECK(ok);
    free(r);
}

static void test_ranking_metrics(void) {
    const size_t ranked[10] = {7, 3, 9, 1, 0, 2, 4, 5, 6, 8};
    size_t rel = 9; /* rank 3 */
    CHECK(NEAR(eval_mrr_at_k(ranked, 10, &rel, 1, 10), 1.0 / 3));
    CHECK(NEAR(eval_ndcg_at_k(ranked, 10, &rel, 1, 10), 1.0 / log2(4.0))); /* 0.5 */
    CHECK(eval_recall_at_k(ranked, 10, &rel, 1, 1) == 0.0);
    CHECK(eval_recall_at_k(ranked, 10, &rel, 1, 3) == 1.0);
    CHECK(eval_mrr_at_k(ranked, 10, &rel, 1, 2) == 0.0); /* outside the top 2 */
    CHECK(eval_ndcg_at_k(ranked, 10, &rel, 1, 2) == 0.0);
    rel = 7; /* rank 1 */
    CHECK(eval_mrr_at_k(ranked, 10, &rel, 1, 10) == 1.0);
    CHECK(eval_ndcg_at_k(ranked, 10, &rel, 1, 10) == 1.0);
    CHECK(eval_recall_at_k(ranked, 10, &rel, 1, 1) == 1.0);
    rel = 42; /* not retrieved */
    CHECK(eval_mrr_at_k(ranked, 10, &rel, 1, 10) == 0.0 && eval_ndcg_at_k(ranked, 10, &rel, 1, 10) == 0.0);
    /* two relevant docs at ranks 2 and 4:
     * DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3); recall@3 = 1/2; MRR = 1/2 */
    const size_t two[2] = {3, 1};
    double dcg = 1 / log2(3.0) + 1 / log2(5.0), idcg = 1 + 1 / log2(3.0);
    CHECK(NEAR(eval_ndcg_at_k(ranked, 10, two, 2, 10), dcg / idcg));
    CHECK(NEAR(eval_mrr_at_k(ranked, 10, two, 2, 10), 0.5));
    CHECK(NEAR(eval_recall_at_k(ranked, 10, two, 2, 3), 0.5));
    CHECK(NEAR(eval_recall_at_k(ranked, 10, two, 2, 4), 1.0));
    /* more relevant docs than k: IDCG counts only k of them */
    const size_t many[4] = {7, 3, 9, 1};
    CHECK(NEAR(eval_ndcg_at_k(ranked, 10, many, 4, 2), 1.0));
    /* mean over three queries, as the evaluator averages: ranks 1, 3 and none -> MRR (1 + 1/3) / 3 */
    size_t q_rel[3] = {7, 9, 42};
    double mrr = 0;
    for (int q = 0; q < 3; q++) mrr += eval_mrr_at_k(ranked, 10, &q_rel[q], 1, 10);
    CHECK(NEAR(mrr / 3, (1 + 1.0 / 3) / 3));
}

static void test_dot_argmax(void) {
    float a[19], b[19];
    double ref = 0;
    for (int i = 0; i < 19; i++) {
        a[i] = (float)(i - 9) * 0.5f;
        b[i] = (float)(i % 5) - 2.0f;
        ref += (double)a[i] * b[i];
    }
    CHECK(fabs(eval_dot(a, b, 19) - ref) < 1e-5);
    CHECK(eval_dot(a, b, 0) == 0.0f);
    const float v[5] = {1, 4, NAN, 4, -2};
    CHECK(eval_argmax(v, 5) == 1); /* lowest index on a tie; NaN never wins */
    const float w[3] = {NAN, -1, -3};
    CHECK(eval_argmax(w, 3) == 1);
}

static void test_kl(void) {
    /* p = softmax(0, ln 2, ln 2... ) hand-made: ref logits log(p), model logits log(q) */
    const float p[3] = {logf(0.5f), logf(0.25f), logf(0.25f)};
    const float q[3] = {logf(0.25f), logf(0.5f), logf(0.25f)};
    int same = -1;
    /* KL(p || q) = 0.5 ln 2 + 0.25 ln 0.5 + 0 = 0.25 ln 2 */
    CHECK(fabs(eval_kl_logits(p, q, 3, &same) - 0.25 * log(2.0)) < 1e-7);
    CHECK(same == 0);
    /* a shift of all logits changes nothing */
    const float p2[3] = {logf(0.5f) + 7, logf(0.25f) + 7, logf(0.25f) + 7};
    CHECK(eval_kl_logits(p2, p, 3, &same) < 1e-12 && same == 1);
    CHECK(eval_kl_logits(p, p, 3, NULL) == 0.0);
    /* -inf in the reference contributes nothing; -inf in the model where p > 0 is infinite */
    const float pi[3] = {0, 0, -INFINITY}, qi[3] = {0, -INFINITY, 0};
    CHECK(fabs(eval_kl_logits(pi, pi, 3, NULL)) < 1e-12);
    CHECK(isinf(eval_kl_logits(pi, qi, 3, NULL)));
    const float none[2] = {NAN, -INFINITY};
    CHECK(isnan(eval_kl_logits(none, p, 2, NULL)));
}

static void test_ratio_ci(void) {
    enum { N = 2000 };
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), lo, hi;
    /* b per query in {0, 0.5, 1}; a = b: every resample's ratio is 1; a = 2b: 2 */
    for (size_t i = 0; i < N; i++) b[i] = (double)(xf_t_rand32() % 3) / 2, a[i] = b[i];
    CHECK(eval_ratio_ci(a, b, N, 500, 0.95, &lo, &hi) == 0 && lo == 1 && hi == 1);
    for (size_t i = 0; i < N; i++) a[i] = 2 * b[i];
    CHECK(eval_ratio_ci(a, b, N, 500, 0.95, &lo, &hi) == 0 && NEAR(lo, 2) && NEAR(hi, 2));
    /* a differs from b on some queries: the interval holds the ratio, is deterministic, and its
     * width agrees with the delta method's 2 x 1.96 x SE of sum(a) / sum(b) within 15 % */
    for (size_t i = 0; i < N; i++) a[i] = xf_t_rand32() % 4 ? b[i] : (double)(xf_t_rand32() % 3) / 2;
    double sa = 0, sb = 0;
    for (size_t i = 0; i < N; i++) sa += a[i], sb += b[i];
    const double R = sa / sb, mb = sb / N;
    double v = 0; /* variance of a_i - R b_i */
    for (size_t i = 0; i < N; i++) v += (a[i] - R * b[i]) * (a[i] - R * b[i]);
    const double se = sqrt(v / (N - 1) / N) / mb;
    double lo2, hi2;
    CHECK(eval_ratio_ci(a, b, N, 2000, 0.95, &lo, &hi) == 0 && lo < R && R < hi);
    CHECK(eval_ratio_ci(a, b, N, 2000, 0.95, &lo2, &hi2) == 0 && lo2 == lo && hi2 == hi);
    CHECK(fabs((hi - lo) / (2 * 1.96 * se) - 1) < 0.15);
    /* nothing to resample: NAN */
    CHECK(eval_ratio_ci(a, b, 0, 100, 0.95, &lo, &hi) == 0 && isnan(lo) && isnan(hi));
    for (size_t i = 0; i < N; i++) b[i] = 0;
    CHECK(eval_ratio_ci(a, b, N, 100, 0.95, &lo, &hi) == 0 && isnan(lo) && isnan(hi));
    free(a);
    free(b);
}

int main(void) {
    test_topk();
    test_ratio_ci();
    test_ranking_metrics();
    test_dot_argmax();
    test_kl();
    return xf_t_report();
}
