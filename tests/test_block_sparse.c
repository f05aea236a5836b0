/* test_block_sparse.c — block-sparse prefill attention (model/attn_blocksparse.c, the kernel's
 * kblocks mask):
 *   - the kernel with a per-tile block selection equals attention in double over the selected
 *     blocks' keys only, and xf_attention_ref with the same selection, for queries that start
 *     mid-block (a chunk of a prompt after a cache) and cross tiles, in calls of any row range;
 *   - the selection: the first block, a tile's own blocks and the 3 before always, exactly
 *     ceil(density x visible) blocks (or the fixed ones), the others the best by a double-precision
 *     ranking of the mean-query . mean-key scores, and a planted block found;
 *   - a tiny llama: density 1 is bitwise dense, a small density changes a long prompt's logits
 *     (finite), a short prompt is untouched (xf_t_check_sparse_prefill); bad densities and encoders are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/attention.h"
#include "model/attn_blocksparse.h"
#include "xfmr.h"

enum { DH = 16, NKV = 2, GROUP = 3 };

/* Causal attention of query position qp over the keys j <= qp whose block its tile reads (sel:
 * the tile's row of the mask), in double. */
static void ref_row(const float *q, const float *K, const float *V, size_t ld, size_t qp, const unsigned char *sel,
                    float scale, double *out) {
    unsigned char *vis = malloc(qp + 1);
    for (size_t j = 0; j <= qp; j++) vis[j] = sel[j / 64];
    xf_t_attention_masked(q, K, V, ld, qp + 1, DH, scale, vis, out);
    free(vis);
}

static void test_kernel(void) {
    const size_t pos0 = 100, nq = 230, nk = pos0 + nq, ld = NKV * DH, ldq = NKV * GROUP * DH;
    const size_t nqt = (nq + 63) / 64, nkb = (nk + 63) / 64;
    float *K = xf_t_randv(nk * ld, 2.0f), *V = xf_t_randv(nk * ld, 1.0f), *Q = xf_t_randv(nq * ldq, 2.0f);
    float *O = calloc(nq * ldq, 4), *R = calloc(nq * ldq, 4), *scr = malloc(xf_attention_scratch(GROUP, DH) * 4);
    unsigned char *mask = malloc(NKV * nqt * nkb);
    for (size_t i = 0; i < NKV * nqt * nkb; i++) mask[i] = (unsigned char)((i * 7 + i / 5) % 3 != 0);
    for (size_t g = 0; g < NKV; g++) /* each tile keeps the block of its first query */
        for (size_t t = 0; t < nqt; t++) mask[(g * nqt + t) * nkb + (pos0 + 64 * t) / 64] = 1;
    xf_attn_problem p = {.Q = Q, .K = K, .V = V, .O = O, .ldq = ldq, .ldk = ld, .ldv = ld, .ldo = ldq, .n_q = nq,
                         .q_pos0 = pos0, .n_k = nk, .dh = DH, .group = GROUP, .scale = 0.25f, .causal = 1,
                         .kblocks = mask, .kblocks_ld = nkb, .kblocks_nqt = nqt};
    /* the first query of each tile must see its own key: the block of pos0 + 64t is kept */
    static const size_t steps[] = {21, 7, 13}; /* at most xf_attention_qblock(3); runs cross tiles */
    for (size_t si = 0; si < 3; si++) {
        memset(O, 0, nq * ldq * 4);
        const size_t qb = steps[si];
        for (size_t g = 0; g < NKV; g++)
            for (size_t q0 = 0; q0 < nq; q0 += qb)
                xf_attention(&p, g, 0, GROUP, q0, q0 + qb < nq ? q0 + qb : nq, scr);
        double worst = 0;
        for (size_t g = 0; g < NKV; g++)
            for (size_t t = 0; t < nq; t++)
                for (size_t h = g * GROUP; h < (g + 1) * GROUP; h++) {
                    double r[DH], num = 0, den = 0;
                    const float *o = O + t * ldq + h * DH;
                    ref_row(Q + t * ldq + h * DH, K + g * DH, V + g * DH, ld, pos0 + t,
                            mask + (g * nqt + t / 64) * nkb, 0.25f, r);
                    for (size_t k = 0; k < DH; k++) num += (o[k] - r[k]) * (o[k] - r[k]), den += r[k] * r[k];
                    worst = fmax(worst, sqrt(num / den));
                }
        CHECK_MSG(worst < 1e-5, "block-sparse kernel (rows of %zu positions) vs masked double: %.3g", qb, worst);
    }
    p.O = R;
    for (size_t g = 0; g < NKV; g++) xf_attention_ref(&p, g, 0, GROUP, 0, nq);
    CHECK_MSG(xf_t_nerr(O, R, nq * ldq) < 1e-5, "block-sparse kernel vs xf_attention_ref: %.3g", xf_t_nerr(O, R, nq * ldq));
    free(K), free(V), free(Q), free(O), free(R), free(scr), free(mask);
}

static void test_selection(void) {
    const size_t pos0 = 300, nq = 500, nk = pos0 + nq, ld = NKV * DH, ldq = NKV * GROUP * DH;
    const size_t nqt = (nq + 63) / 64, nkb = (nk + 63) / 64;
    float *K = xf_t_randv(nk * ld, 1.0f), *Q = xf_t_randv(nq * ldq, 1.0f);
    /* plant: block 3's keys of kv head 1 line up with the queries of tile 5, head 4 (of kv head 1) */
    for (size_t j = 3 * 64; j < 4 * 64; j++)
        for (size_t k = 0; k < DH; k++) K[j * ld + DH + k] = 0.5f * (float)((k % 3) + 1);
    for (size_t t = 5 * 64; t < 6 * 64; t++)
        for (size_t k = 0; k < DH; k++) Q[t * ldq + 4 * DH + k] = 0.5f * (float)((k % 3) + 1);
    xf_attn_problem p = {.Q = Q, .K = K, .ldq = ldq, .ldk = ld, .n_q = nq, .q_pos0 = pos0, .n_k = nk, .dh = DH,
                         .group = GROUP, .scale = 0.25f, .causal = 1};
    CHECK(xf_block_sparse_applies(&p, 0.25f) && !xf_block_sparse_applies(&p, 1.0f));
    static const float dens[] = {0.25f, 0.05f, 0.6f, 0.45f};
    for (size_t di = 0; di < 4; di++) {
        unsigned char *mask = xf_block_sparse_select(&p, NKV, NKV * GROUP, dens[di]);
        CHECK(mask != NULL);
        if (!mask) continue;
        /* tile 5 sees 11 blocks, 6 fixed (0, 6..10): at 0.6 it reads one more, the planted one */
        if (dens[di] >= 0.6f)
            CHECK_MSG(mask[(1 * nqt + 5) * nkb + 3], "density %.2f: the planted block 3 is not read by tile 5", dens[di]);
        for (size_t g = 0; g < NKV; g++)
            for (size_t t = 0; t < nqt; t++) {
                const unsigned char *m = mask + (g * nqt + t) * nkb;
                const size_t last = t * 64 + 63 < nq ? t * 64 + 63 : nq - 1, vis = (pos0 + last) / 64 + 1,
                             own = (pos0 + t * 64) / 64;
                CHECK(xf_block_sparse_visible(&p, t) == vis);
                size_t n_on = 0, n_fixed = 0;
                double best_off = -INFINITY, worst_on = INFINITY;
                for (size_t b = 0; b < nkb; b++) {
                    n_on += m[b];
                    if (b >= vis) {
                        CHECK_MSG(!m[b], "tile %zu reads block %zu it cannot see", t, b);
                        continue;
                    }
                    if (b == 0 || b + 3 >= own) {
                        n_fixed++;
                        CHECK_MSG(m[b], "tile %zu: fixed block %zu not read", t, b);
                        continue;
                    }
                    double best = -INFINITY; /* the mean query . mean key, best head of the group */
                    for (size_t h = g * GROUP; h < (g + 1) * GROUP; h++) {
                        double s = 0;
                        for (size_t k = 0; k < DH; k++) {
                            double qm = 0, km = 0;
                            for (size_t i = t * 64; i <= last; i++) qm += Q[i * ldq + h * DH + k];
                            for (size_t j = b * 64; j < b * 64 + 64; j++) km += K[j * ld + g * DH + k];
                            s += qm / (double)(last + 1 - t * 64) * km / 64.0;
                        }
                        best = fmax(best, s);
                    }
                    if (m[b]) worst_on = fmin(worst_on, best);
                    else best_off = fmax(best_off, best);
                }
                const size_t want = (size_t)ceil(dens[di] * (double)vis);
                CHECK_MSG(n_on == (want > n_fixed ? want : n_fixed), "density %.2f tile %zu: %zu blocks of %zu (%zu fixed)",
                          dens[di], t, n_on, vis, n_fixed);
                CHECK_MSG(worst_on >= best_off - 1e-4, "tile %zu: a block of score %.6g left for one of %.6g", t, best_off,
                          worst_on);
            }
        free(mask);
    }
    free(K), free(Q);
}

/* The tiny llama stretched to 512 positions (linear RoPE x4). */
static xf_model *tiny_llama(float density, xf_status *st) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/llama", xf_t_src("tests/data/tiny"));
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.rope_scaling = "linear", p.rope_factor = 4.0;
    p.attn_block_density = density;
    xf_model *m = NULL;
    *st = xf_model_load(dir, &p, &m);
    return m;
}

static void test_model(void) {
    xf_status st;
    xf_model *dense = tiny_llama(0.0f, &st), *one = tiny_llama(1.0f, &st), *sparse = tiny_llama(0.2f, &st);
    CHECK_MSG(dense && one && sparse, "tiny llama: %s", xf_errmsg());
    if (!dense || !one || !sparse) goto out;
    xf_t_check_sparse_prefill(dense, one, sparse, 0, "block-sparse");
out:
    xf_model_free(dense), xf_model_free(one), xf_model_free(sparse);
    CHECK(tiny_llama(1.5f, &st) == NULL && st == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "attn_block_density 1.5"));
    CHECK(tiny_llama(NAN, &st) == NULL && st == XF_ERR_INVALID_ARG);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bert", xf_t_src("tests/data/tiny"));
    xf_model_params p = xf_model_default_params();
    p.attn_block_density = 0.5f;
    xf_model *m = NULL;
    CHECK(xf_model_load(dir, &p, &m) == XF_ERR_UNSUPPORTED && m == NULL);
    CHECK_MSG(strstr(xf_errmsg(), "decoders") != NULL, "message: %s", xf_errmsg());
}

int main(void) {
    test_kernel();
    test_selection();
    test_model();
    return xf_t_report();
}
