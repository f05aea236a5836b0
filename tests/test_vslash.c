/* test_vslash.c — vertical-slash prefill attention (model/attn_vslash.c):
 *   - the gathered kernel equals attention in double over the keys the plain mask
 *     (xf_vslash_reads) lets each query read, for a chunk of queries that starts mid-tile after
 *     cached keys, with unequal groups (h_off) and a head size not a multiple of 8, single-threaded
 *     and on a pool of 2; the share of pairs read is the mask's;
 *   - the selection: the sinks and the local diagonals always, exactly the budgeted columns, the
 *     others the best by a double-precision estimate from the last 64 queries; the diagonals cover
 *     at least (and at most 63 past) their budget; planted column and diagonal found;
 *   - a tiny llama: density 1 is bitwise dense, a small density changes a long prompt's logits
 *     (finite), a short prompt is untouched; bad densities, block-sparse together, encoders refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/attention.h"
#include "model/attn_vslash.h"
#include "xfmr.h"

enum { DH = 20, NKV = 2, NH = 5 };
static const size_t h_off[NKV + 1] = {0, 3, 5}; /* groups of 3 and 2 */

static void test_kernel(xf_pool *pool, size_t nq, float density) {
    const size_t pos0 = 100, nk = pos0 + nq, ld = NKV * DH, ldq = NH * DH;
    float *K = xf_t_randv(nk * ld, 2.0f), *V = xf_t_randv(nk * ld, 1.0f), *Q = xf_t_randv(nq * ldq, 2.0f);
    float *O = calloc(nq * ldq, 4);
    xf_attn_problem p = {.Q = Q, .K = K, .V = V, .O = O, .ldq = ldq, .ldk = ld, .ldv = ld, .ldo = ldq, .n_q = nq,
                         .q_pos0 = pos0, .n_k = nk, .dh = DH, .group = 3, .h_off = h_off, .scale = 0.25f,
                         .causal = 1};
    CHECK(xf_vslash_applies(&p, density) && !xf_vslash_applies(&p, 1.0f));
    xf_vslash v;
    CHECK(xf_vslash_select(&p, NKV, density, &v) == 0);
    const double share = xf_vslash_attend(pool, &p, NKV, &v);
    double worst = 0, read = 0, pairs = 0;
    unsigned char *vis = malloc(nk);
    for (size_t g = 0; g < NKV; g++)
        for (size_t t = 0; t < nq; t++) {
            size_t n_vis = 0;
            for (size_t j = 0; j < nk; j++) n_vis += vis[j] = (unsigned char)xf_vslash_reads(&v, &p, g, t, j);
            for (size_t h = h_off[g]; h < h_off[g + 1]; h++) {
                double r[DH], num = 0, den = 0;
                const float *o = O + t * ldq + h * DH;
                xf_t_attention_masked(Q + t * ldq + h * DH, K + g * DH, V + g * DH, ld, nk, DH, 0.25, vis, r);
                for (size_t k = 0; k < DH; k++) num += (o[k] - r[k]) * (o[k] - r[k]), den += r[k] * r[k];
                worst = fmax(worst, sqrt(num / den));
                read += (double)n_vis, pairs += (double)(pos0 + t + 1);
            }
        }
    CHECK_MSG(worst < 1e-5, "vertical-slash kernel (density %.2f, %d threads) vs masked double: %.3g", density,
              pool ? xf_pool_size(pool) : 1, worst);
    CHECK_MSG(fabs(share - read / pairs) < 1e-12 && (density > 0.5f || share < 0.8), "share read %.6f, the mask's %.6f",
              share, read / pairs);
    CHECK(density < 0.5f || share == 1.0);
    if (share == 1.0) { /* every key read: the gathered tiles give the dense kernel's result bit for bit */
        float *D = calloc(nq * ldq, 4), *scr = malloc(xf_attention_scratch(3, DH) * 4);
        xf_attn_problem d = p;
        d.O = D;
        for (size_t g = 0; g < NKV; g++)
            for (size_t q0 = 0; q0 < nq; q0 += xf_attention_qblock(3))
                xf_attention(&d, g, 0, h_off[g + 1] - h_off[g], q0,
                             q0 + xf_attention_qblock(3) < nq ? q0 + xf_attention_qblock(3) : nq, scr);
        CHECK_MSG(memcmp(D, O, nq * ldq * 4) == 0, "all keys gathered is not bitwise dense (%.3g)", xf_t_nerr(O, D, nq * ldq));
        free(D), free(scr);
    }
    xf_vslash_free(&v);
    free(vis), free(K), free(V), free(Q), free(O);
}

static void test_selection(void) {
    const size_t pos0 = 300, nq = 500, nk = pos0 + nq, ld = NKV * DH, ldq = NH * DH;
    float *K = xf_t_randv(nk * ld, 0.5f), *Q = xf_t_randv(nq * ldq, 0.5f);
    /* plant: key 200 of kv head 1 lines up with every query of head 4; for kv head 0, the keys
     * 500 before each query line up with it (a diagonal at offset 500) */
    for (size_t k = 0; k < DH; k++) K[200 * ld + DH + k] = 1.5f * (float)((k % 3) + 1);
    for (size_t t = 0; t < nq; t++)
        for (size_t k = 0; k < DH; k++) Q[t * ldq + 4 * DH + k] = 0.5f * (float)((k % 3) + 1);
    for (size_t t = 200; t < nq; t++) /* query at pos0 + t, key at pos0 + t - 500 */
        for (size_t k = 0; k < DH; k++) K[(pos0 + t - 500) * ld + k] = 3.0f * Q[t * ldq + k];
    xf_attn_problem p = {.Q = Q, .K = K, .ldq = ldq, .ldk = ld, .n_q = nq, .q_pos0 = pos0, .n_k = nk, .dh = DH,
                         .group = 3, .h_off = h_off, .scale = 0.25f, .causal = 1};
    static const float dens[] = {0.05f, 0.2f, 0.45f};
    for (size_t di = 0; di < 3; di++) {
        xf_vslash v;
        CHECK(xf_vslash_select(&p, NKV, dens[di], &v) == 0);
        const size_t B = (size_t)ceil(dens[di] * (double)nk), bv = B / 2, bs = B - bv;
        CHECK_MSG(v.cols[1 * nk + 200], "density %.2f: the planted column 200 is not read", dens[di]);
        for (size_t g = 0; g < NKV; g++) {
            /* the estimate in double: last 64 queries, their group's heads */
            double *cs = calloc(nk, sizeof *cs), *ds = calloc(nk, sizeof *ds), *s = malloc(nk * sizeof *s);
            for (size_t h = h_off[g]; h < h_off[g + 1]; h++)
                for (size_t i = nq - 64; i < nq; i++) {
                    const size_t qp = pos0 + i;
                    double mx = -INFINITY, sum = 0;
                    for (size_t j = 0; j <= qp; j++) {
                        double d = 0;
                        for (size_t k = 0; k < DH; k++) d += (double)Q[i * ldq + h * DH + k] * K[j * ld + g * DH + k];
                        s[j] = 0.25 * d, mx = fmax(mx, s[j]);
                    }
                    for (size_t j = 0; j <= qp; j++) sum += s[j] = exp(s[j] - mx);
                    for (size_t j = 0; j <= qp; j++) cs[j] += s[j] / sum, ds[qp - j] += s[j] / sum;
                }
            size_t n_cols = 0;
            double worst_on = INFINITY, best_off = -INFINITY;
            for (size_t j = 0; j < nk; j++) {
                const int on = v.cols[g * nk + j];
                if (j < XF_VSLASH_SINKS) {
                    CHECK_MSG(on, "sink %zu not read", j);
                    continue;
                }
                n_cols += (size_t)on;
                if (on) worst_on = fmin(worst_on, cs[j]);
                else best_off = fmax(best_off, cs[j]);
            }
            CHECK_MSG(n_cols == bv, "density %.2f head %zu: %zu columns, budget %zu", dens[di], g, n_cols, bv);
            CHECK_MSG(worst_on >= best_off - 1e-5, "a column of weight %.6g left for one of %.6g", best_off, worst_on);
            const unsigned char *dg = v.diag + g * v.span;
            size_t extra = 0;
            for (size_t d = 0; d < v.span; d++) {
                if (d < XF_VSLASH_LOCAL + 63) CHECK_MSG(dg[d], "local diagonal %zu not read", d);
                else extra += dg[d];
            }
            CHECK_MSG(extra >= (bs < nk - XF_VSLASH_LOCAL ? bs : 0) && extra < bs + 64,
                      "density %.2f head %zu: diagonals cover %zu offsets, budget %zu", dens[di], g, extra, bs);
            /* the top diagonal by the double estimate is read */
            size_t top = XF_VSLASH_LOCAL;
            for (size_t o = XF_VSLASH_LOCAL; o < nk; o++)
                if (ds[o] > ds[top]) top = o;
            CHECK_MSG(dg[top + 63] && dg[top], "density %.2f head %zu: the best diagonal %zu is not read", dens[di], g, top);
            if (g == 0) CHECK_MSG(top == 500, "the planted diagonal 500 is not the best (%zu)", top);
            free(cs), free(ds), free(s);
        }
        xf_vslash_free(&v);
    }
    free(K), free(Q);
}

/* The tiny llama stretched to 512 positions (linear RoPE x4). */
static xf_model *tiny_llama(float density, float block, xf_status *st) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/llama", xf_t_src("tests/data/tiny"));
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.rope_scaling = "linear", p.rope_factor = 4.0;
    p.attn_vslash_density = density;
    p.attn_block_density = block;
    xf_model *m = NULL;
    *st = xf_model_load(dir, &p, &m);
    return m;
}

static void test_model(void) {
    xf_status st;
    xf_model *dense = tiny_llama(0.0f, 0.0f, &st), *one = tiny_llama(1.0f, 0.0f, &st),
             *sparse = tiny_llama(0.1f, 0.0f, &st);
    CHECK_MSG(dense && one && sparse, "tiny llama: %s", xf_errmsg());
    if (!dense || !one || !sparse) goto out;
    xf_t_check_sparse_prefill(dense, one, sparse, 1, "vertical-slash");
out:
    xf_model_free(dense), xf_model_free(one), xf_model_free(sparse);
    CHECK(tiny_llama(1.5f, 0.0f, &st) == NULL && st == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "attn_vslash_density 1.5"));
    CHECK(tiny_llama(NAN, 0.0f, &st) == NULL && st == XF_ERR_INVALID_ARG);
    CHECK(tiny_llama(0.2f, 0.2f, &st) == NULL && st == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "one sparse prefill"));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bert", xf_t_src("tests/data/tiny"));
    xf_model_params p = xf_model_default_params();
    p.attn_vslash_density = 0.5f;
    xf_model *m = NULL;
    CHECK(xf_model_load(dir, &p, &m) == XF_ERR_UNSUPPORTED && m == NULL);
    CHECK_MSG(strstr(xf_errmsg(), "decoders") != NULL, "message: %s", xf_errmsg());
}

int main(void) {
    xf_pool *pool = NULL;
    CHECK(xf_pool_create(2, &pool) == XF_OK);
    test_kernel(NULL, 900, 0.3f);
    test_kernel(pool, 900, 0.1f);
    test_kernel(pool, 230, 0.6f); /* reads every key */
    xf_pool_free(pool);
    test_selection();
    test_model();
    return xf_t_report();
}
