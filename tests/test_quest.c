/* test_quest.c — Quest's sparse decode attention (model/kv_quest.c):
 *   - the attention kernel over the gathered pages equals attention in double over the selected
 *     pages' keys only, for every cache type and page size; with every page selected the gathered
 *     problem gives the dense result bit for bit;
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
    const size_t P = C->page;
    for (size_t b = 0; b * P < upto; b++)
        for (size_t c = 0; c < C->kv_dim; c++) {
            float mn = INFINITY, mx = -INFINITY;
            for (size_t j = b * P; j < upto && j < (b + 1) * P; j++) {
                xf_kv_row(C, 0, j, row);
                mn = fminf(mn, row[c]), mx = fmaxf(mx, row[c]);
            }
            if (C->page_min[b * C->kv_dim + c] != mn || C->page_max[b * C->kv_dim + c] != mx) return 0;
        }
    return 1;
}

/* A cache of one layer (one_layer's shapes) of the given type and Quest page, holding the n keys
 * and values K, V ([n, 32]) appended in chunks across growth, bounds folded and checked. */
static void fill(xf_kv_cache *c, xf_plan *P, int type, size_t page, size_t budget, const float *K, const float *V,
                 size_t n) {
    const size_t d = 32;
    int32_t *pos = malloc(n * sizeof *pos);
    for (size_t j = 0; j < n; j++) pos[j] = (int32_t)j;
    CHECK(xf_kv_init(c, P, 1024, 64, type, NULL, 0) == XF_OK);
    CHECK(xf_kv_quest_init(c, P, budget, page) == XF_OK);
    xf_kv_layer *C = &c->layers[0];
    for (size_t done = 0; done < n;) { /* chunks across growth of the cache */
        const size_t m = done < 100 ? 37 : 251, take = done + m > n ? n - done : m;
        CHECK(xf_kv_reserve(c, take) == XF_OK);
        xf_kv_append(C, K + done * d, V + done * d, d, pos + done, take);
        done += take;
        xf_quest_fold(C);
        const size_t upto = type == XF_KV_Q4 ? C->nq : C->n;
        CHECK_MSG(C->bounds_n == upto && bounds_exact(C, upto), "type %d, page %zu: page bounds after %zu slots", type,
                  page, done);
    }
    free(pos);
}

static void test_cache_bounds_and_selection(void) {
    xf_layer lay;
    xf_plan P = one_layer(&lay);
    const size_t d = 32, n = 700, planted_slot = 5 * 64 + 9;
    float *K = xf_t_randv(n * d, 1.0f), *V = xf_t_randv(n * d, 1.0f);
    for (size_t k = 16; k < 32; k++) K[planted_slot * d + k] *= 6.0f; /* a key that stands out, kv head 1 */
    static const size_t pages_tried[] = {64, 16, 7};
    for (size_t pi = 0; pi < 3; pi++)
        for (int type = XF_KV_F32; type <= XF_KV_Q4; type++) {
            const size_t page = pages_tried[pi], budget = 6 * page;
            xf_kv_cache c;
            fill(&c, &P, type, page, 128, K, V, n);
            xf_kv_layer *C = &c.layers[0];
            /* a query that points at the planted key for kv head 1 (query heads 2, 3) */
            float q[64];
            for (size_t i = 0; i < 64; i++) q[i] = 0.01f * (float)((int)(i % 7) - 3);
            float planted[32];
            xf_kv_row(C, 0, planted_slot, planted);
            for (size_t k = 0; k < 16; k++) q[2 * 16 + k] = planted[16 + k];
            const size_t n_sel = xf_quest_select(C, &lay.attn, q, budget);
            const size_t pages = (n + page - 1) / page;
            const unsigned char *on1 = C->page_on + C->pages_cap;
            CHECK_MSG(on1[0] && on1[pages - 1] && on1[planted_slot / page],
                      "page %zu, kv head 1: the first page (%d), the newest (%d) or the planted key's page (%d) not read",
                      page, on1[0], on1[pages - 1], on1[planted_slot / page]);
            /* every head: the fixed pages plus the best others by a double-precision ranking */
            for (size_t g = 0; g < 2; g++) {
                const unsigned char *on = C->page_on + g * C->pages_cap;
                const size_t full = (type == XF_KV_Q4 ? C->nq : C->n) / page;
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
                CHECK_MSG(n_on == (n_fixed > 6 ? n_fixed : 6) && n_on == n_sel,
                          "page %zu, kv head %zu: %zu pages read (%zu returned) for a budget of 6 (%zu fixed)", page, g,
                          n_on, n_sel, n_fixed);
                CHECK_MSG(worst_on >= best_off - 1e-5, "kv head %zu: a page of bound %.6g left for one of %.6g", g,
                          best_off, worst_on);
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

/* The attention of a decode query over the gathered pages: equal to attention in double over the
 * selected slots of the cache (as the cache returns them), for each type and page size; with
 * every page selected, bitwise the kernel over the whole cache. */
static void test_gather(void) {
    xf_layer lay;
    xf_plan P = one_layer(&lay);
    const xf_attn_plan *a = &lay.attn;
    const size_t d = 32, dh = 16, n = 613, qd = 64;
    float *K = xf_t_randv(n * d, 1.0f), *V = xf_t_randv(n * d, 1.0f), *q = xf_t_randv(qd, 3.0f);
    float *O = calloc(qd, 4), *D = calloc(qd, 4), *scr = malloc(xf_attention_scratch(2, dh) * 4);
    float *Kc = malloc(n * d * 4), *Vc = malloc(n * d * 4);
    static const size_t pages_tried[] = {16, 64, 5};
    for (size_t pi = 0; pi < 3; pi++)
        for (int type = XF_KV_F32; type <= XF_KV_Q4; type++) {
            const size_t page = pages_tried[pi], budget = 100;
            xf_kv_cache c;
            fill(&c, &P, type, page, budget, K, V, n);
            xf_kv_layer *C = &c.layers[0];
            for (size_t j = 0; j < n; j++) xf_kv_row(C, 0, j, Kc + j * d), xf_kv_row(C, 1, j, Vc + j * d);
            xf_attn_problem p = {.Q = q, .O = O, .ldq = qd, .ldo = qd, .n_q = 1, .dh = dh, .group = 2, .scale = 0.25f,
                                 .causal = 1, .ldk = d, .ldv = d, .K = c.quest_k, .V = c.quest_v};
            const size_t n_sel = xf_quest_select(C, a, q, budget);
            const size_t rows = xf_quest_gather(C, 2, c.quest_k, c.quest_v, c.quest_rows);
            CHECK_MSG(rows > 0 && rows < n && rows <= n_sel * page, "page %zu type %d: %zu rows gathered for %zu pages",
                      page, type, rows, n_sel);
            p.n_k = rows, p.q_pos0 = rows - 1;
            for (size_t g = 0; g < 2; g++) xf_attention(&p, g, 0, 2, 0, 1, scr);
            double worst = 0;
            unsigned char *sel = malloc(n);
            for (size_t g = 0; g < 2; g++) {
                for (size_t j = 0; j < n; j++) sel[j] = C->page_on[g * C->pages_cap + j / page];
                for (size_t h = 2 * g; h < 2 * g + 2; h++) {
                    double r[16], num = 0, den = 0;
                    xf_t_attention_masked(q + h * dh, Kc + g * dh, Vc + g * dh, d, n, dh, 0.25f, sel, r);
                    for (size_t k = 0; k < dh; k++)
                        num += (O[h * dh + k] - r[k]) * (O[h * dh + k] - r[k]), den += r[k] * r[k];
                    worst = fmax(worst, sqrt(num / den));
                }
            }
            CHECK_MSG(worst < 1e-5, "page %zu type %d: gathered attention vs masked double: normalized error %.3g", page,
                      type, worst);
            /* the policies' attention weights: gathered, then scattered back to their slots */
            float *gw = calloc(4 * rows, 4), *w = calloc(4 * n, 4);
            for (size_t g = 0; g < 2; g++) xf_attention_weights(&p, g, 0, 2, 0, 1, gw + 2 * g * rows, rows);
            xf_quest_scatter(C, a, gw, rows, w, n);
            double werr = 0;
            for (size_t h = 0; h < 4; h++) {
                const size_t g = h / 2;
                double mx = -INFINITY, sum = 0, *sc = malloc(n * sizeof *sc);
                for (size_t j = 0; j < n; j++) {
                    double d2 = 0;
                    for (size_t k = 0; k < dh; k++) d2 += (double)q[h * dh + k] * Kc[j * d + g * dh + k];
                    sc[j] = C->page_on[g * C->pages_cap + j / page] ? d2 * 0.25 : -INFINITY;
                    mx = fmax(mx, sc[j]);
                }
                for (size_t j = 0; j < n; j++) sum += sc[j] == -INFINITY ? 0 : exp(sc[j] - mx);
                for (size_t j = 0; j < n; j++)
                    werr = fmax(werr, fabs(w[h * n + j] - (sc[j] == -INFINITY ? 0 : exp(sc[j] - mx) / sum)));
                free(sc);
            }
            CHECK_MSG(werr < 1e-6, "page %zu type %d: scattered attention weights off by %.3g", page, type, werr);
            free(gw), free(w);
            /* every page on: the gathered block is the cache; the same kernel gives the same bits */
            memset(C->page_on, 1, 2 * C->pages_cap);
            CHECK(xf_quest_gather(C, 2, c.quest_k, c.quest_v, c.quest_rows) == 0); /* more rows than room: refused */
            float *gk = malloc(n * d * 4), *gv = malloc(n * d * 4);
            CHECK(xf_quest_gather(C, 2, gk, gv, n + page) == n);
            p.K = gk, p.V = gv, p.n_k = n, p.q_pos0 = n - 1;
            for (size_t g = 0; g < 2; g++) xf_attention(&p, g, 0, 2, 0, 1, scr);
            xf_attn_problem dp = p;
            dp.O = D, dp.K = C->k, dp.V = C->v, dp.kv_f16 = type == XF_KV_F16;
            if (type == XF_KV_Q8 || type == XF_KV_Q4) dp.kv_tile = xf_kv_tile, dp.kv_ctx = C;
            for (size_t g = 0; g < 2; g++) xf_attention(&dp, g, 0, 2, 0, 1, scr);
            CHECK_MSG(memcmp(O, D, qd * 4) == 0, "page %zu type %d: every page gathered is not the dense result", page,
                      type);
            free(gk), free(gv), free(sel);
            xf_kv_free(&c);
        }
    free(K), free(V), free(q), free(O), free(D), free(scr), free(Kc), free(Vc);
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
    sp.quest_budget = 180, sp.quest_page = 64; /* 3 pages: all of them while there are 3 */
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
    sp.quest_budget = 48, sp.quest_page = 0; /* pages of 16: 3 of 12-13, gathered */
    CHECK_MSG(run(m, ids, PROMPT, N, sp, few) == XF_OK, "quest 48 in pages of 16: %s", xf_errmsg());
    diff = 0;
    for (size_t i = 0; i < rows; i++) {
        CHECK(isfinite(few[i]));
        diff = fmax(diff, fabs(few[i] - dense[i]));
    }
    CHECK_MSG(diff > 1e-3, "reading 3 pages of 16 of 12 changes nothing (%.3g)", diff);
    sp.quest_page = 2000;
    CHECK(run(m, ids, PROMPT, N, sp, few) == XF_ERR_INVALID_ARG);
    CHECK_MSG(strstr(xf_errmsg(), "quest_page 2000") != NULL, "message: %s", xf_errmsg());
    sp.quest_page = 0;
    for (int type = XF_KV_F16; type <= XF_KV_Q4; type++) {
        sp.kv_type = (xf_kv_type)type;
        CHECK_MSG(run(m, ids, PROMPT, N, sp, few) == XF_OK, "quest with kv_type %d: %s", type, xf_errmsg());
    }
    sp.kv_type = XF_KV_F32, sp.kv_policy = "streaming", sp.kv_budget = 150;
    CHECK_MSG(run(m, ids, PROMPT, N, sp, few) == XF_OK, "quest with the streaming policy: %s", xf_errmsg());
    for (size_t i = 0; i < rows; i++) CHECK(isfinite(few[i]));
    /* h2o reads the weights of the gathered rows, scattered back to their slots; the per-head
     * policies leave different tokens in a slot of two heads, which Quest pages per head */
    static const char *const scored[] = {"h2o", "h2o-head", "snapkv-head"};
    for (size_t k = 0; k < 3; k++) {
        sp.kv_policy = scored[k];
        CHECK_MSG(run(m, ids, PROMPT, N, sp, few) == XF_OK, "quest with the %s policy: %s", scored[k], xf_errmsg());
        for (size_t i = 0; i < rows; i++) CHECK(isfinite(few[i]));
    }
    free(dense), free(q3), free(few);
    xf_model_free(m);
}

int main(void) {
    test_bound();
    test_cache_bounds_and_selection();
    test_gather();
    test_sessions();
    return xf_t_report();
}
