/* test_quest.c — Quest's sparse decode attention (model/kv_quest.c, kernels/attention.c blocks):
 *   - the kernel with a block selection equals full attention in double over the selected blocks'
 *     keys only (and xf_attention_ref with the same selection), by index and by cache position;
 *   - the page bound is an upper bound of q . k for every key of the page;
 *   - the cache's page bounds equal the min / max of the keys the cache holds (f32, q8, q4 sealed
 *     groups), incrementally, across growth, and after slots are removed (rebuilt);
 *   - the selection: the first (sinks) and the newest page always, a planted key's page found, the others equal to a
 *     brute-force ranking of the bounds in double;
 *   - a tiny llama session: a budget that selects every page is bitwise dense, a small one
 *     differs; every cache type and an evicting policy run with it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/attention.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "xfmr.h"

/* Attention of one query head over the keys j < n with sel[j] != 0, in double. */
static void masked_ref(const float *q, const float *K, const float *V, size_t ld, size_t n, size_t dh, float scale,
                       const unsigned char *sel, double *out) {
    double mx = -INFINITY, sum = 0, *s = malloc(n * sizeof *s);
    for (size_t j = 0; j < n; j++) {
        s[j] = -INFINITY;
        if (!sel[j]) continue;
        double d = 0;
        for (size_t k = 0; k < dh; k++) d += (double)q[k] * K[j * ld + k];
        s[j] = d * scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    for (size_t k = 0; k < dh; k++) out[k] = 0;
    for (size_t j = 0; j < n; j++) {
        if (s[j] == -INFINITY) continue;
        const double e = exp(s[j] - mx);
        sum += e;
        for (size_t k = 0; k < dh; k++) out[k] += e * V[j * ld + k];
    }
    for (size_t k = 0; k < dh; k++) out[k] /= sum;
    free(s);
}

static void test_kernel_blocks(void) {
    const size_t n = 300, dh = 24, n_kv = 2, group = 3, ld = n_kv * dh, ldq = n_kv * group * dh, nb = 5;
    float *K = xf_t_randv(n * ld, 2.0f), *V = xf_t_randv(n * ld, 1.0f), *Q = xf_t_randv(ldq, 2.0f);
    float *O = calloc(ldq, 4), *R = calloc(ldq, 4), *scr = malloc(xf_attention_scratch(group, dh) * 4);
    const unsigned char blocks[2 * 5] = {1, 0, 0, 1, 1, /* kv head 1: */ 0, 1, 0, 0, 1};
    int32_t pos[300];
    for (size_t j = 0; j < n; j++) pos[j] = (int32_t)j;
    const int32_t qpos = (int32_t)(n - 1);
    for (int by_pos = 0; by_pos < 2; by_pos++) {
        xf_attn_problem p = {.Q = Q, .K = K, .V = V, .O = O, .ldq = ldq, .ldk = ld, .ldv = ld, .ldo = ldq, .n_q = 1,
                             .q_pos0 = n - 1, .n_k = n, .dh = dh, .group = group, .scale = 0.2f, .causal = 1,
                             .blocks = blocks, .blocks_ld = nb};
        if (by_pos) p.k_pos = pos, p.q_pos = &qpos;
        for (size_t g = 0; g < n_kv; g++) xf_attention(&p, g, 0, group, 0, 1, scr);
        double worst = 0;
        for (size_t g = 0; g < n_kv; g++) {
            unsigned char sel[300];
            for (size_t j = 0; j < n; j++) sel[j] = blocks[g * nb + j / XF_ATTN_KEYS];
            for (size_t h = g * group; h < (g + 1) * group; h++) {
                double r[24], num = 0, den = 0;
                masked_ref(Q + h * dh, K + g * dh, V + g * dh, ld, n, dh, 0.2f, sel, r);
                for (size_t k = 0; k < dh; k++) num += (O[h * dh + k] - r[k]) * (O[h * dh + k] - r[k]), den += r[k] * r[k];
                worst = fmax(worst, sqrt(num / den));
            }
        }
        CHECK_MSG(worst < 1e-5, "block-selected attention (by position %d): normalized error %.3g vs masked double", by_pos,
                  worst);
        p.O = R;
        for (size_t g = 0; g < n_kv; g++) xf_attention_ref(&p, g, 0, group, 0, 1);
        CHECK_MSG(xf_t_nerr(O, R, ldq) < 1e-5, "block-selected attention vs xf_attention_ref: %.3g", xf_t_nerr(O, R, ldq));
    }
    free(K), free(V), free(Q), free(O), free(R), free(scr);
}

static void test_bound(void) {
    const size_t dh = 40;
    for (int trial = 0; trial < 200; trial++) {
        float *q = xf_t_randv(dh, 3.0f), *k = xf_t_randv(8 * dh, 2.0f), mn[40], mx[40];
        for (size_t c = 0; c < dh; c++) {
            mn[c] = mx[c] = k[c];
            for (size_t j = 1; j < 8; j++) mn[c] = fminf(mn[c], k[j * dh + c]), mx[c] = fmaxf(mx[c], k[j * dh + c]);
        }
        const float b = xf_quest_bound(q, mn, mx, dh);
        for (size_t j = 0; j < 8; j++) {
            double s = 0;
            for (size_t c = 0; c < dh; c++) s += (double)q[c] * k[j * dh + c];
            CHECK_MSG(b >= s - 1e-4 * fabs(s), "bound %.6g below the score %.6g of key %zu", b, s, j);
        }
        free(q), free(k);
    }
}

/* A one-layer plan with 4 query heads over 2 key/value heads of 16. */
static xf_plan one_layer(xf_layer *L) {
    memset(L, 0, sizeof *L);
    L->attn = (xf_attn_plan){.n_heads = 4, .n_kv_heads = 2, .head_dim = 16, .causal = 1};
    return (xf_plan){.n_layers = 1, .layers = L, .hidden = 64};
}

/* The layer's bounds of page b equal the min / max over its keys as the cache returns them. */
static int bounds_exact(const xf_kv_layer *C, size_t upto) {
    float row[32];
    for (size_t b = 0; b * XF_QUEST_PAGE < upto; b++)
        for (size_t c = 0; c < C->kv_dim; c++) {
            float mn = INFINITY, mx = -INFINITY;
            for (size_t j = b * XF_QUEST_PAGE; j < upto && j < (b + 1) * XF_QUEST_PAGE; j++) {
                xf_kv_row(C, 0, j, row);
                mn = fminf(mn, row[c]), mx = fmaxf(mx, row[c]);
            }
            if (C->page_min[b * C->kv_dim + c] != mn || C->page_max[b * C->kv_dim + c] != mx) return 0;
        }
    return 1;
}

static void test_cache_bounds_and_selection(void) {
    xf_layer lay;
    xf_plan P = one_layer(&lay);
    const size_t d = 32, n = 700;
    float *K = xf_t_randv(n * d, 1.0f), *V = xf_t_randv(n * d, 1.0f);
    int32_t pos[700];
    for (size_t j = 0; j < n; j++) pos[j] = (int32_t)j;
    for (size_t k = 16; k < 32; k++) K[(5 * 64 + 9) * d + k] *= 6.0f; /* a key that stands out, kv head 1 */
    for (int type = XF_KV_F32; type <= XF_KV_Q4; type++) {
        xf_kv_cache c;
        CHECK(xf_kv_init(&c, &P, 1024, 64, type, NULL, 0) == XF_OK);
        CHECK(xf_kv_quest_init(&c, &P, 128) == XF_OK);
        xf_kv_layer *C = &c.layers[0];
        for (size_t done = 0; done < n;) { /* chunks across growth of the cache */
            const size_t m = done < 100 ? 37 : 251, take = done + m > n ? n - done : m;
            CHECK(xf_kv_reserve(&c, take) == XF_OK);
            xf_kv_append(C, K + done * d, V + done * d, d, pos + done, take);
            done += take;
            xf_quest_fold(C);
            const size_t upto = type == XF_KV_Q4 ? C->nq : C->n;
            CHECK_MSG(C->bounds_n == upto && bounds_exact(C, upto), "type %d: page bounds after %zu slots", type, done);
        }
        /* a query that points at a planted key of page 5 for kv head 1 (query heads 2, 3) */
        float q[64];
        for (size_t i = 0; i < 64; i++) q[i] = 0.01f * (float)((int)(i % 7) - 3);
        float planted[32];
        xf_kv_row(C, 0, 5 * 64 + 9, planted);
        for (size_t k = 0; k < 16; k++) q[2 * 16 + k] = planted[16 + k];
        xf_quest_select(C, &lay.attn, q, 192);
        const size_t pages = (n + 63) / 64;
        const unsigned char *on1 = C->page_on + C->pages_cap;
        CHECK_MSG(on1[0] && on1[pages - 1] && on1[5],
                  "kv head 1: the first page (%d), the newest (%d) or the planted key's page 5 (%d) not read", on1[0],
                  on1[pages - 1], on1[5]);
        /* every head: the fixed pages plus the best others by a double-precision ranking */
        for (size_t g = 0; g < 2; g++) {
            const unsigned char *on = C->page_on + g * C->pages_cap;
            const size_t full = (type == XF_KV_Q4 ? C->nq : C->n) / 64;
            size_t n_on = 0, n_fixed = 0;
            double best_off = -INFINITY, worst_on = INFINITY;
            for (size_t b = 0; b < pages; b++) {
                const int fixed = b >= full || b + 1 == pages || b == 0;
                n_fixed += fixed;
                n_on += on[b];
                if (fixed) {
                    CHECK_MSG(on[b], "kv head %zu: newest page %zu not read", g, b);
                    continue;
                }
                double bound = -INFINITY;
                for (size_t h = 2 * g; h < 2 * g + 2; h++) {
                    double s = 0;
                    for (size_t k = 0; k < 16; k++) {
                        const double a = (double)q[h * 16 + k] * C->page_min[b * d + g * 16 + k],
                                     e = (double)q[h * 16 + k] * C->page_max[b * d + g * 16 + k];
                        s += a > e ? a : e;
                    }
                    bound = fmax(bound, s);
                }
                if (on[b]) worst_on = fmin(worst_on, bound);
                else best_off = fmax(best_off, bound);
            }
            CHECK_MSG(n_on == (n_fixed > 3 ? n_fixed : 3), "kv head %zu: %zu pages read for a budget of 3 (%zu fixed)", g,
                      n_on, n_fixed);
            CHECK_MSG(worst_on >= best_off - 1e-5, "kv head %zu: a page of bound %.6g left for one of %.6g", g, best_off,
                      worst_on);
        }
        if (type != XF_KV_Q4) { /* removal (eviction): bounds rebuilt from the remaining slots */
            unsigned char *keep = malloc(n);
            for (size_t j = 0; j < n; j++) keep[j] = j % 3 != 1;
            xf_kv_keep(C, keep);
            CHECK(C->bounds_n == 0);
            xf_quest_fold(C);
            CHECK_MSG(bounds_exact(C, C->n), "type %d: page bounds after removing slots", type);
            free(keep);
        }
        xf_kv_free(&c);
    }
    free(K), free(V);
}

/* The tiny llama stretched to 512 positions (linear RoPE x4), so that a session spans 4 pages. */
static xf_model *tiny_llama(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/llama", xf_t_src("tests/data/tiny"));
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.rope_scaling = "linear", p.rope_factor = 4.0;
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(dir, &p, &m) == XF_OK, "tiny llama: %s", xf_errmsg());
    return m;
}

/* Logits of decode steps ids[prompt..n) after a prefill of ids[0..prompt), with a Quest budget. */
static xf_status run(xf_model *m, const int32_t *ids, size_t prompt, size_t n, xf_session_params sp, float *out) {
    const size_t V = xf_model_vocab_size(m);
    xf_session *s = NULL;
    xf_status st = xf_session_create_ex(m, &sp, &s);
    if (!st) st = xf_session_eval(s, ids, prompt, NULL);
    for (size_t t = prompt; !st && t < n; t++) st = xf_session_eval(s, ids + t, 1, out + (t - prompt) * V);
    xf_session_free(s);
    return st;
}

static void test_sessions(void) {
    xf_model *m = tiny_llama();
    if (!m) return;
    /* decode steps see 181..200 slots: 3 pages up to 192, then 4 */
    enum { N = 200, PROMPT = 180, ALL3 = 12 };
    const size_t V = xf_model_vocab_size(m), rows = (N - PROMPT) * V;
    int32_t ids[N];
    for (size_t i = 0; i < N; i++) ids[i] = (int32_t)((i * 11 + 5) % V);
    float *dense = malloc(rows * 4), *q3 = malloc(rows * 4), *few = malloc(rows * 4);
    xf_session_params sp = xf_session_default_params();
    sp.n_ctx = 256;
    CHECK(run(m, ids, PROMPT, N, sp, dense) == XF_OK);
    sp.quest_budget = 180; /* 3 pages: all of them while there are 3 */
    CHECK_MSG(run(m, ids, PROMPT, N, sp, q3) == XF_OK, "quest 180: %s", xf_errmsg());
    CHECK_MSG(memcmp(dense, q3, ALL3 * V * 4) == 0, "a Quest budget covering every page is not the dense session");
    sp.quest_budget = 1; /* the first and the newest page, always read: 2 of 3 or 4 */
    CHECK_MSG(run(m, ids, PROMPT, N, sp, few) == XF_OK, "quest 1: %s", xf_errmsg());
    double diff = 0;
    for (size_t i = 0; i < rows; i++) {
        CHECK(isfinite(few[i]));
        diff = fmax(diff, fabs(few[i] - dense[i]));
    }
    CHECK_MSG(diff > 1e-3, "reading two pages of three or four changes nothing (%.3g)", diff);
    for (int type = XF_KV_F16; type <= XF_KV_Q4; type++) {
        sp.kv_type = (xf_kv_type)type;
        CHECK_MSG(run(m, ids, PROMPT, N, sp, few) == XF_OK, "quest with kv_type %d: %s", type, xf_errmsg());
    }
    sp.kv_type = XF_KV_F32, sp.kv_policy = "streaming", sp.kv_budget = 150;
    CHECK_MSG(run(m, ids, PROMPT, N, sp, few) == XF_OK, "quest with the streaming policy: %s", xf_errmsg());
    for (size_t i = 0; i < rows; i++) CHECK(isfinite(few[i]));
    free(dense), free(q3), free(few);
    xf_model_free(m);
}

int main(void) {
    test_kernel_blocks();
    test_bound();
    test_cache_bounds_and_selection();
    test_sessions();
    return xf_t_report();
}
