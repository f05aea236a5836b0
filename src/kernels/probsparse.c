/* probsparse.c — ProbSparse attention (probsparse.h): the sparsity measurement, the top-u queries
 * through the dense attention kernel, the (cumulative) mean of V for the others. */
#include "kernels/probsparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t xf_probsparse_top(float factor, size_t L) {
    if (L <= 1 || !(factor > 0.0f)) return L;
    const double u = ceil((double)factor * ceil(log((double)L)));
    return u >= (double)L ? L : (size_t)u;
}

int xf_probsparse_applies(const xf_attn_problem *p) {
    return p->n_q == p->n_k && p->q_pos0 == 0 && !p->k_pos && !p->q_pos && !p->window && !p->kv_f16 && !p->kv_tile &&
           !p->kblocks && !p->h_off;
}

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

size_t xf_probsparse_scratch(size_t L, size_t dh) {
    /* attention scratch, gathered Q and O rows, M + index pairs (4 floats each), key/query positions */
    return up16(xf_attention_scratch(1, dh)) + 2 * up16(L * dh) + up16(4 * L) + 2 * up16(L) + up16(L / 4 + 1);
}

/* M(q_i) in double: max - mean of the scaled scores over the sample (or every visible key). */
static double measure(const xf_attn_problem *p, const float *q, const float *K, size_t i, size_t n_sample, int exact) {
    const size_t n_vis = p->causal ? i + 1 : p->n_k, n = exact ? n_vis : n_sample;
    double mx = -INFINITY, sum = 0.0;
    for (size_t r = 0; r < n; r++) {
        const size_t j = exact ? r : xf_probsparse_key(i, r, n_vis);
        const float *k = K + j * p->ldk;
        double s = 0.0;
        for (size_t d = 0; d < p->dh; d++) s += (double)q[d] * (double)k[d];
        s *= (double)p->scale;
        mx = s > mx ? s : mx;
        sum += s;
    }
    return mx - sum / (double)n;
}

typedef struct {
    double m;
    size_t i;
} ranked;

static int by_m_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->m != y->m) return x->m > y->m ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int by_i(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The lazy rows: O row i = mean of V rows 0..i (causal) or of all rows. */
static void lazy_rows(const xf_attn_problem *p, const float *V, float *O, const unsigned char *active, double *acc) {
    const size_t L = p->n_k, dh = p->dh;
    memset(acc, 0, dh * sizeof *acc);
    if (!p->causal)
        for (size_t j = 0; j < L; j++)
            for (size_t d = 0; d < dh; d++) acc[d] += V[j * p->ldv + d];
    for (size_t i = 0; i < L; i++) {
        if (p->causal)
            for (size_t d = 0; d < dh; d++) acc[d] += V[i * p->ldv + d];
        if (active[i]) continue;
        const double n = p->causal ? (double)(i + 1) : (double)L;
        for (size_t d = 0; d < dh; d++) O[i * p->ldo + d] = (float)(acc[d] / n);
    }
}

void xf_probsparse_head(const xf_attn_problem *p, size_t kv_head, size_t h, float factor, int exact, float *scratch) {
    const size_t L = p->n_q, dh = p->dh, qh = kv_head * p->group + h, u = xf_probsparse_top(factor, L);
    const float *Q = p->Q + qh * dh, *K = (const float *)p->K + kv_head * dh, *V = (const float *)p->V + kv_head * dh;
    float *O = p->O + qh * dh;
    float *att = scratch, *Qg = att + up16(xf_attention_scratch(1, dh)), *Og = Qg + up16(L * dh);
    ranked *rk = (ranked *)(Og + up16(L * dh));
    int32_t *kpos = (int32_t *)((float *)rk + up16(4 * L)), *qpos = kpos + up16(L);
    for (size_t i = 0; i < L; i++) rk[i] = (ranked){measure(p, Q + i * p->ldq, K, i, u, exact), i};
    qsort(rk, L, sizeof *rk, by_m_desc);
    qsort(rk, u, sizeof *rk, by_i); /* the active queries in position order */
    unsigned char *active = (unsigned char *)(qpos + up16(L));
    memset(active, 0, L);
    for (size_t a = 0; a < u; a++) {
        active[rk[a].i] = 1;
        memcpy(Qg + a * dh, Q + rk[a].i * p->ldq, dh * sizeof *Qg);
        qpos[a] = (int32_t)rk[a].i;
    }
    /* the active rows as a problem of their own: one head, keys and values of kv_head */
    xf_attn_problem s = *p;
    s.Q = Qg, s.O = Og, s.ldq = s.ldo = dh, s.n_q = u, s.K = K, s.V = V, s.group = 1;
    if (p->causal) {
        for (size_t j = 0; j < L; j++) kpos[j] = (int32_t)j;
        s.k_pos = kpos, s.q_pos = qpos;
    }
    const size_t qb = xf_attention_qblock(1);
    for (size_t q0 = 0; q0 < u; q0 += qb) xf_attention(&s, 0, 0, 1, q0, q0 + qb < u ? q0 + qb : u, att);
    for (size_t a = 0; a < u; a++) memcpy(O + rk[a].i * p->ldo, Og + a * dh, dh * sizeof *O);
    lazy_rows(p, V, O, active, (double *)Qg); /* Qg is free again: dh doubles fit in L * dh floats */
}

void xf_probsparse_head_ref(const xf_attn_problem *p, size_t kv_head, size_t h, float factor, int exact) {
    const size_t L = p->n_q, dh = p->dh, qh = kv_head * p->group + h, u = xf_probsparse_top(factor, L);
    const float *Q = p->Q + qh * dh, *K = (const float *)p->K + kv_head * dh, *V = (const float *)p->V + kv_head * dh;
    float *O = p->O + qh * dh;
    double *M = malloc(L * sizeof *M), *w = malloc(L * sizeof *w), *acc = malloc(dh * sizeof *acc);
    unsigned char *active = malloc(L);
    if (!M || !w || !acc || !active) goto done;
    for (size_t i = 0; i < L; i++) M[i] = measure(p, Q + i * p->ldq, K, i, u, exact);
    for (size_t i = 0; i < L; i++) { /* the mask: fewer than u queries rank above query i */
        size_t above = 0;
        for (size_t j = 0; j < L; j++) above += M[j] > M[i] || (M[j] == M[i] && j < i);
        active[i] = above < u;
    }
    for (size_t i = 0; i < L; i++) {
        if (!active[i]) continue;
        const size_t n_vis = p->causal ? i + 1 : L;
        double mx = -INFINITY, z = 0.0;
        for (size_t j = 0; j < n_vis; j++) {
            double s = 0.0;
            for (size_t d = 0; d < dh; d++) s += (double)Q[i * p->ldq + d] * (double)K[j * p->ldk + d];
            w[j] = s * (double)p->scale;
            mx = w[j] > mx ? w[j] : mx;
        }
        for (size_t j = 0; j < n_vis; j++) z += w[j] = exp(w[j] - mx);
        for (size_t d = 0; d < dh; d++) {
            double o = 0.0;
            for (size_t j = 0; j < n_vis; j++) o += w[j] * (double)V[j * p->ldv + d];
            O[i * p->ldo + d] = (float)(o / z);
        }
    }
    lazy_rows(p, V, O, active, acc);
done:
    free(M), free(w), free(acc), free(active);
}
