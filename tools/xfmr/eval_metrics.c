/* eval_metrics.c — the metric functions of `xfmr eval`: exact top-k selection, MRR@k, nDCG@k and
 * recall@k with sentence-transformers' definitions, a dot product, and the KL divergence and
 * top-1 agreement of two logit rows. Pure functions (tests/test_eval_metrics.c checks them
 * against hand-computed cases). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "eval.h"

/* a ranks before b: higher score, or equal score and lower index. */
static int before(const float *s, size_t a, size_t b) {
    return s[a] > s[b] || (s[a] == s[b] && a < b);
}

void eval_topk(const float *scores, size_t n, size_t k, size_t *idx) {
    if (k > n) k = n;
    if (k == 0) return;
    /* Insertion into a sorted list of k: O(n k), fine for the k = 10 .. 100 of retrieval. */
    size_t have = 0;
    for (size_t j = 0; j < n; j++) {
        if (have == k && !before(scores, j, idx[k - 1])) continue;
        size_t pos = have < k ? have++ : k - 1;
        while (pos > 0 && before(scores, j, idx[pos - 1])) {
            idx[pos] = idx[pos - 1];
            pos--;
        }
        idx[pos] = j;
    }
}

static int is_rel(size_t id, const size_t *rel, size_t n_rel) {
    for (size_t r = 0; r < n_rel; r++)
        if (rel[r] == id) return 1;
    return 0;
}

double eval_mrr_at_k(const size_t *ranked, size_t n_ranked, const size_t *rel, size_t n_rel,
                     size_t k) {
    for (size_t i = 0; i < n_ranked && i < k; i++)
        if (is_rel(ranked[i], rel, n_rel)) return 1.0 / (double)(i + 1);
    return 0.0;
}

double eval_ndcg_at_k(const size_t *ranked, size_t n_ranked, const size_t *rel, size_t n_rel,
                      size_t k) {
    double dcg = 0, idcg = 0;
    for (size_t i = 0; i < n_ranked && i < k; i++)
        if (is_rel(ranked[i], rel, n_rel)) dcg += 1.0 / log2((double)i + 2.0);
    for (size_t i = 0; i < n_rel && i < k; i++) idcg += 1.0 / log2((double)i + 2.0);
    return idcg > 0 ? dcg / idcg : 0.0;
}

double eval_recall_at_k(const size_t *ranked, size_t n_ranked, const size_t *rel, size_t n_rel,
                        size_t k) {
    size_t hits = 0;
    for (size_t i = 0; i < n_ranked && i < k; i++) hits += (size_t)is_rel(ranked[i], rel, n_rel);
    return n_rel ? (double)hits / (double)n_rel : 0.0;
}

float eval_dot(const float *a, const float *b, size_t n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) s[l] += a[i + l] * b[i + l];
    for (; i < n; i++) s[0] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

size_t eval_argmax(const float *v, size_t n) {
    size_t best = 0;
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] == v[i] && (!found || v[i] > v[best])) {
            best = i;
            found = 1;
        }
    return best;
}

/* max and log-sum-exp of the finite entries; returns 0 when there is none. */
static int log_norm(const float *x, size_t n, double *mx, double *lse) {
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && x[i] > m) m = x[i];
    if (m == -INFINITY) return 0;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) s += exp((double)x[i] - m);
    *mx = m;
    *lse = m + log(s);
    return 1;
}

double eval_kl_logits(const float *ref, const float *model, size_t n, int *same_top1) {
    if (same_top1) *same_top1 = eval_argmax(ref, n) == eval_argmax(model, n);
    double mr, lr, mm, lm;
    if (!log_norm(ref, n, &mr, &lr) || !log_norm(model, n, &mm, &lm)) return NAN;
    double kl = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(ref[i])) continue; /* p = 0: no contribution */
        double lp = (double)ref[i] - lr;
        double lq = isfinite(model[i]) ? (double)model[i] - lm : -INFINITY;
        kl += exp(lp) * (lp - lq);
    }
    return kl < 0 && kl > -1e-12 ? 0 : kl; /* rounding can leave -1e-17 for equal rows */
}

static int by_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int eval_ratio_ci(const double *a, const double *b, size_t n, size_t resamples, double level, double *lo,
                  double *hi) {
    *lo = *hi = NAN;
    double *r = n && resamples >= 2 ? malloc(resamples * sizeof *r) : NULL;
    if (!r) return n && resamples >= 2 ? -1 : 0;
    uint64_t s = 0x9e3779b97f4a7c15u; /* fixed seed: the same data gives the same interval */
    size_t kept = 0;
    for (size_t k = 0; k < resamples; k++) {
        double sa = 0, sb = 0;
        for (size_t i = 0; i < n; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
            const size_t j = (size_t)((s >> 11) % n);  /* modulo bias < n / 2^53: negligible */
            sa += a[j], sb += b[j];
        }
        if (sb != 0) r[kept++] = sa / sb;
    }
    if (kept >= 2) {
        qsort(r, kept, sizeof *r, by_double);
        const double t = (1 - level) / 2 * (double)(kept - 1);
        const size_t i0 = (size_t)floor(t), i1 = (size_t)ceil((double)(kept - 1) - t);
        *lo = r[i0], *hi = r[i1];
    }
    free(r);
    return 0;
}
