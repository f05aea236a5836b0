/* test_kv_cache.c — KV caches that methods edit (model/kv_cache.h, kernels/attention.h):
 *   - kernel: attention over a cache whose slots were evicted (compacted, masked by position)
 *     equals full attention over the original keys with exactly those keys masked out (a plain
 *     double-precision reference in this file), also with F16 slots, a sliding window and query
 *     groups of different sizes; the attention weights a policy asks for sum to 1 per query and
 *     match the reference's; the same with slots evicted per key/value head (xf_kv_keep_heads);
 *   - model (tiny llama): after slots are evicted, later tokens keep their positions (their keys,
 *     after RoPE, are bitwise those of a session that evicted nothing) and their logits equal a
 *     session where the same keys are masked out instead of removed; the cache grows with the
 *     tokens held (not n_ctx up front); F16 caches stay close to F32; a policy that evicts when full
 *     keeps a session generating past its n_ctx. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "harness.h"
#include "kernels/attention.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "xfmr.h"

/* ---------------------------------------------------------------- kernel */

/* Full attention in double over n keys for query position qp (keys at positions 0..n-1), keys
 * with keep[j] == 0 masked out, causal (and window W if > 0, with positions < S always seen). */
static void masked_ref(const float *q, const float *K, const float *V, size_t ld, size_t n, size_t dh, float scale,
                       const unsigned char *keep, size_t qp, size_t W, size_t S, double *out) {
    unsigned char *vis = malloc(n);
    for (size_t j = 0; j < n; j++) vis[j] = keep[j] && j <= qp && !(W && j + W <= qp && j >= S);
    xf_t_attention_masked(q, K, V, ld, n, dh, scale, vis, out);
    free(vis);
}

/* The largest normalized error, over the nq newest queries (positions n - nq ..) and every query
 * head, of attention outputs O against masked_ref over the original keys; key/value head g's mask is
 * keep + g * keep_ld (keep_ld 0: one mask for all). */
static double worst_vs_masked(const float *O, const float *Q, const float *K, const float *V, size_t ld, size_t n,
                              size_t dh, size_t nq, size_t n_kv, const size_t *h_off, const unsigned char *keep,
                              size_t keep_ld, size_t W, size_t S) {
    const size_t ldq = h_off[n_kv] * dh;
    double worst = 0;
    for (size_t t = 0; t < nq; t++)
        for (size_t g = 0; g < n_kv; g++)
            for (size_t h = h_off[g]; h < h_off[g + 1]; h++) {
                double r[16], num = 0, den = 0;
                masked_ref(Q + t * ldq + h * dh, K + g * dh, V + g * dh, ld, n, dh, 0.25f, keep + g * keep_ld,
                           n - nq + t, W, S, r);
                for (size_t k = 0; k < dh; k++) {
                    num += (O[t * ldq + h * dh + k] - r[k]) * (O[t * ldq + h * dh + k] - r[k]);
                    den += r[k] * r[k];
                }
                worst = fmax(worst, sqrt(num / den));
            }
    return worst;
}

static void test_evicted_kernel(void) {
    const size_t n = 300, dh = 16, n_kv = 2, ld = n_kv * dh, nq = 5;
    static const size_t h_off[] = {0, 1, 4}; /* kv head 0 serves 1 query head, kv head 1 serves 3 */
    const size_t n_heads = 4, ldq = n_heads * dh;
    for (int f16 = 0; f16 < 2; f16++)
        for (int c = 0; c < 3; c++) { /* full, a window of 100, the window with 8 sinks */
            const size_t W = c ? 100 : 0, S = c == 2 ? 8 : 0;
            float *K = xf_t_randv(n * ld, 2.0f), *V = xf_t_randv(n * ld, 1.0f), *Q = xf_t_randv(nq * ldq, 2.0f);
            unsigned char keep[300];
            for (size_t j = 0; j < n; j++) keep[j] = (j % 7 != 3 && j % 11 != 5) || j >= n - nq;
            if (f16) /* the reference sees the rounded values the F16 cache holds */
                for (size_t i = 0; i < n * ld; i++) {
                    K[i] = xf_f16_to_f32(xf_f32_to_f16(K[i]));
                    V[i] = xf_f16_to_f32(xf_f32_to_f16(V[i]));
                }
            /* the compacted cache: kept slots, in order, with their positions */
            void *Kc = malloc(n * ld * 4), *Vc = malloc(n * ld * 4);
            int32_t pos[300], qpos[5];
            size_t m = 0;
            for (size_t j = 0; j < n; j++) {
                if (!keep[j]) continue;
                for (size_t k = 0; k < ld; k++) {
                    if (f16) {
                        ((uint16_t *)Kc)[m * ld + k] = xf_f32_to_f16(K[j * ld + k]);
                        ((uint16_t *)Vc)[m * ld + k] = xf_f32_to_f16(V[j * ld + k]);
                    } else {
                        ((float *)Kc)[m * ld + k] = K[j * ld + k];
                        ((float *)Vc)[m * ld + k] = V[j * ld + k];
                    }
                }
                pos[m++] = (int32_t)j;
            }
            for (size_t t = 0; t < nq; t++) qpos[t] = (int32_t)(n - nq + t);
            float *O = calloc(nq * ldq, 4), *scr = malloc(xf_attention_scratch(3, dh) * 4);
            xf_attn_problem p = {.Q = Q, .K = Kc, .V = Vc, .O = O, .ldq = ldq, .ldk = ld, .ldv = ld, .ldo = ldq,
                                 .n_q = nq, .n_k = m, .dh = dh, .group = 3, .scale = 0.25f, .causal = 1, .window = W,
                                 .h_off = h_off, .k_pos = pos, .q_pos = qpos, .kv_f16 = f16, .sinks = S};
            for (size_t g = 0; g < n_kv; g++) xf_attention(&p, g, 0, h_off[g + 1] - h_off[g], 0, nq, scr);
            const double worst = worst_vs_masked(O, Q, K, V, ld, n, dh, nq, n_kv, h_off, keep, 0, W, S);
            CHECK_MSG(worst < 1e-5, "evicted cache (f16 %d, window %zu, sinks %zu): normalized error %.3g vs masked full "
                      "attention", f16, W, S, worst);
            /* the weights a policy reads: each query's row sums to 1, and match the reference's */
            float *acc = calloc(n_heads * m, 4);
            for (size_t g = 0; g < n_kv; g++)
                xf_attention_weights(&p, g, 0, h_off[g + 1] - h_off[g], nq - 1, nq, acc + h_off[g] * m, m);
            for (size_t h = 0; h < n_heads; h++) {
                double sum = 0;
                for (size_t j = 0; j < m; j++) sum += acc[h * m + j];
                CHECK_MSG(fabs(sum - 1.0) < 1e-5, "attention weights of head %zu sum to %.8f", h, sum);
            }
            free(K), free(V), free(Q), free(Kc), free(Vc), free(O), free(scr), free(acc);
        }
}

/* Per-head eviction (xf_kv_keep_heads, the snapkv-head policy's move): each key/value head keeps
 * its own 200 of the first 295 slots plus the newest 5 (the queries'), F32 and F16 rows; attention
 * of the newest 5 queries over the compacted cache (masked by the slots' positions, which are head
 * 0's tokens') equals, for every query head, attention over the original keys with exactly its
 * key/value head's dropped keys masked out. */
static void test_keep_heads(void) {
    const size_t n = 300, dh = 16, n_kv = 2, ld = n_kv * dh, nq = 5, m = 200, n_heads = 4, ldq = n_heads * dh;
    static const size_t h_off[] = {0, 1, 4};
    for (int f16 = 0; f16 < 2; f16++) {
        float *K = xf_t_randv(n * ld, 2.0f), *V = xf_t_randv(n * ld, 1.0f), *Q = xf_t_randv(nq * ldq, 2.0f);
        if (f16)
            for (size_t i = 0; i < n * ld; i++) {
                K[i] = xf_f16_to_f32(xf_f32_to_f16(K[i]));
                V[i] = xf_f16_to_f32(xf_f32_to_f16(V[i]));
            }
        xf_kv_layer L = {.kv_dim = ld, .n_heads = n_heads, .n_kv_heads = n_kv, .q_off = h_off, .head_dim = dh,
                         .type = f16 ? XF_KV_F16 : XF_KV_F32, .cap = n, .in_order = 1};
        L.k = malloc(n * ld * 4), L.v = malloc(n * ld * 4), L.pos = malloc(n * sizeof *L.pos);
        int32_t pos[300], qpos[5];
        for (size_t j = 0; j < n; j++) pos[j] = (int32_t)j;
        xf_kv_append(&L, K, V, ld, pos, n);
        unsigned char keep[2 * 300];
        memset(keep, 0, sizeof keep);
        for (size_t g = 0; g < n_kv; g++) { /* m of the first n - nq, a different draw per head */
            size_t idx[300];
            for (size_t j = 0; j < n - nq; j++) idx[j] = j;
            for (size_t j = 0; j < n - nq; j++) {
                const size_t r = j + (size_t)xf_t_rand32() % (n - nq - j), t = idx[j];
                idx[j] = idx[r], idx[r] = t;
            }
            for (size_t j = 0; j < m; j++) keep[g * n + idx[j]] = 1;
            for (size_t j = n - nq; j < n; j++) keep[g * n + j] = 1;
        }
        xf_kv_keep_heads(&L, keep, n);
        CHECK(L.n == m + nq && !L.in_order);
        for (size_t t = 0; t < nq; t++) qpos[t] = (int32_t)(n - nq + t);
        float *O = calloc(nq * ldq, 4), *scr = malloc(xf_attention_scratch(3, dh) * 4);
        xf_attn_problem p = {.Q = Q, .K = L.k, .V = L.v, .O = O, .ldq = ldq, .ldk = ld, .ldv = ld, .ldo = ldq,
                             .n_q = nq, .n_k = L.n, .dh = dh, .group = 3, .scale = 0.25f, .causal = 1,
                             .h_off = h_off, .k_pos = L.pos, .q_pos = qpos, .kv_f16 = f16};
        for (size_t g = 0; g < n_kv; g++) xf_attention(&p, g, 0, h_off[g + 1] - h_off[g], 0, nq, scr);
        const double worst = worst_vs_masked(O, Q, K, V, ld, n, dh, nq, n_kv, h_off, keep, n, 0, 0);
        CHECK_MSG(worst < 1e-5, "per-head eviction (f16 %d): normalized error %.3g vs per-head masked attention", f16,
                  worst);
        free(K), free(V), free(Q), free(O), free(scr), free(L.k), free(L.v), free(L.pos);
    }
}

/* ---------------------------------------------------------------- model */

static xf_model *tiny(const char *name, int threads) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), name);
    xf_model_params p = xf_model_default_params();
    p.n_threads = threads;
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(dir, &p, &m) == XF_OK, "%s: %s", name, xf_errmsg());
    return m;
}

static double max_rel(const float *a, const float *b, size_t n) {
    double mx = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(b[i]));
        d = fmax(d, fabs(a[i] - b[i]));
    }
    return d / (mx > 0 ? mx : 1);
}

/* Evict every third slot of the prompt (not the first) in every layer; in `masked`, mark the same
 * slots invisible instead (a position after every query), keeping them in place. */
static void evict(xf_kv_cache *c, size_t n_prompt, int masked) {
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        unsigned char keep[256];
        for (size_t i = 0; i < L->n; i++) keep[i] = !(i < n_prompt && i % 3 == 1);
        if (!masked) {
            xf_kv_keep(L, keep);
            continue;
        }
        for (size_t i = 0; i < L->n; i++)
            if (!keep[i]) L->pos[i] = INT32_MAX;
        L->in_order = 0;
    }
}

static void test_session_eviction(const char *name) {
    xf_model *m = tiny(name, 2);
    if (!m) return;
    const size_t V = xf_model_vocab_size(m), P = 40, S = 12;
    int32_t ids[64];
    for (size_t i = 0; i < P + S; i++) ids[i] = (int32_t)((i * 37 + 11) % V);
    xf_session *a = NULL, *b = NULL, *full = NULL;
    CHECK(xf_session_create(m, 0, &a) == XF_OK && xf_session_create(m, 0, &b) == XF_OK &&
          xf_session_create(m, 0, &full) == XF_OK);
    if (!a || !b || !full) goto done;
    float *la = malloc(V * 4), *lb = malloc(V * 4), *lf = malloc(V * 4);
    CHECK(xf_session_eval(a, ids, P, la) == XF_OK && xf_session_eval(b, ids, P, lb) == XF_OK &&
          xf_session_eval(full, ids, P, lf) == XF_OK);
    xf_kv_cache *ca = xf_session_cache(a), *cb = xf_session_cache(b), *cf = xf_session_cache(full);
    evict(ca, P, 0);
    evict(cb, P, 1);
    CHECK_MSG(ca->layers[0].n < P && !ca->layers[0].in_order, "eviction left %zu of %zu slots", ca->layers[0].n, P);
    double worst = 0;
    int keys_same = 1, pos_ok = 1;
    for (size_t k = 0; k < S; k++) {
        CHECK(xf_session_eval(a, ids + P + k, 1, la) == XF_OK && xf_session_eval(b, ids + P + k, 1, lb) == XF_OK &&
              xf_session_eval(full, ids + P + k, 1, lf) == XF_OK);
        worst = fmax(worst, max_rel(la, lb, V));
        /* the new token's first-layer key (its embedding projected, then rotated at its position)
         * and every layer's recorded position */
        const xf_kv_layer *A0 = &ca->layers[0], *F0 = &cf->layers[0];
        keys_same &= !memcmp((float *)A0->k + (A0->n - 1) * A0->kv_dim, (float *)F0->k + (F0->n - 1) * F0->kv_dim,
                             A0->kv_dim * 4);
        for (size_t l = 0; l < ca->n_layers; l++) pos_ok &= ca->layers[l].pos[ca->layers[l].n - 1] == (int32_t)(P + k);
    }
    CHECK_MSG(worst < 1e-5, "%s: logits after eviction differ from the masked session by %.3g (relative)", name, worst);
    CHECK_MSG(keys_same, "%s: keys of tokens after eviction differ from a full session's (positions shifted?)", name);
    CHECK_MSG(pos_ok, "%s: slots after eviction do not record the tokens' positions", name);
    CHECK(xf_session_n_past(a) == P + S);
    free(la), free(lb), free(lf);
done:
    xf_session_free(a), xf_session_free(b), xf_session_free(full);
    xf_model_free(m);
}

/* Memory follows the tokens held; F16 slots halve it and stay close to F32. */
static void test_growth_f16(void) {
    xf_model *m = tiny("llama", 1);
    if (!m) return;
    const size_t V = xf_model_vocab_size(m);
    xf_session_params p = xf_session_default_params();
    p.n_ctx = 128;
    p.n_ctx_reserve = 8;
    xf_session *s32 = NULL, *s16 = NULL;
    CHECK(xf_session_create_ex(m, &p, &s32) == XF_OK);
    p.kv_type = XF_KV_F16;
    CHECK(xf_session_create_ex(m, &p, &s16) == XF_OK);
    if (!s32 || !s16) goto done;
    /* per slot and layer: 2 kv heads x 16 dims x (K + V) x 4 bytes + a 4-byte position = 260 in
     * F32, 132 in F16; 2 layers */
    const size_t start = xf_session_kv_bytes(s32);
    CHECK_MSG(start == 8 * 260 * 2, "8 reserved slots take %zu bytes", start);
    int32_t ids[100];
    for (size_t i = 0; i < 100; i++) ids[i] = (int32_t)((i * 13 + 5) % V);
    float *a = malloc(V * 4), *b = malloc(V * 4);
    CHECK(xf_session_eval(s32, ids, 20, a) == XF_OK && xf_session_eval(s16, ids, 20, b) == XF_OK);
    CHECK_MSG(xf_session_kv_bytes(s32) == 32 * 260 * 2 && xf_session_kv_bytes(s16) == 32 * 132 * 2,
              "20 tokens: %zu / %zu bytes (32 slots expected)", xf_session_kv_bytes(s32), xf_session_kv_bytes(s16));
    CHECK_MSG(max_rel(a, b, V) < 1e-2, "F16 cache logits differ from F32 by %.3g (relative)", max_rel(a, b, V));
    CHECK(xf_session_eval(s32, ids + 20, 80, a) == XF_OK);
    CHECK_MSG(xf_session_kv_bytes(s32) == 128 * 260 * 2, "100 tokens of 128: %zu bytes", xf_session_kv_bytes(s32));
    CHECK(xf_session_eval(s32, ids, 29, a) == XF_ERR_RANGE && xf_session_n_past(s32) == 100);
    free(a), free(b);
done:
    xf_session_free(s32), xf_session_free(s16);
    xf_model_free(m);
}

/* A policy that keeps the first 4 slots and drops the oldest others when full: a session of 32
 * slots generates 100 tokens. */
static xf_status sink_full(void *st, xf_kv_cache *c, size_t need) {
    (void)st;
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        unsigned char keep[64];
        size_t drop = L->n + need - c->max_slots;
        for (size_t i = 0; i < L->n; i++) keep[i] = i < 4 || i >= 4 + drop;
        xf_kv_keep(L, keep);
    }
    return XF_OK;
}
static const xf_kv_policy sink_policy = {"test-sink", 1, NULL, NULL, NULL, sink_full, NULL};

/* Sessions a and b end with caches of the same size (the bytes a made it to, for the message). */
static void same_cache(xf_session *a, xf_session *b, const char *what) {
    CHECK_MSG(xf_session_kv_bytes(a) == xf_session_kv_bytes(b), "%s: %zu KV bytes against %zu", what,
              xf_session_kv_bytes(a), xf_session_kv_bytes(b));
}

/* An evicting policy's cache is sized to its budget + the tokens of one forward (rounded up to 16
 * slots), not to the next power of two: H2O with a budget of 70 decoding 120 tokens ends with the
 * 80 slots of a session made with them up front (doubling: 128); SnapKV, which holds its whole
 * prompt until the end, gives the memory back once it compressed it — a 100-token prompt at a
 * budget of 40 ends with the 48 slots of a session that never held more (before: 128). */
static void test_evicting_growth(void) {
    xf_model *m = tiny("llama", 1);
    if (!m) return;
    xf_session_params sp = xf_session_default_params();
    sp.kv_policy = "h2o", sp.kv_budget = 70, sp.kv_type = XF_KV_Q8;
    xf_session *a = NULL, *b = NULL;
    sp.n_ctx_reserve = 8;
    int ok = xf_session_create_ex(m, &sp, &a) == XF_OK;
    sp.n_ctx_reserve = 80;
    ok = ok && xf_session_create_ex(m, &sp, &b) == XF_OK;
    const size_t b0 = xf_session_kv_bytes(b);
    for (int32_t t = 0; ok && t < 120; t++) {
        const int32_t id = (t * 7 + 3) % 50;
        ok = xf_session_eval(a, &id, 1, NULL) == XF_OK && xf_session_eval(b, &id, 1, NULL) == XF_OK;
    }
    CHECK_MSG(ok, "%s", xf_errmsg());
    CHECK_MSG(xf_session_kv_bytes(b) == b0, "h2o: a session made with 80 slots grew to %zu bytes", xf_session_kv_bytes(b));
    same_cache(a, b, "h2o 70, grown from 8 slots, against 80 slots up front");
    xf_session_free(a), xf_session_free(b);
    sp = xf_session_default_params();
    sp.kv_policy = "snapkv", sp.kv_budget = 40, sp.n_ctx_reserve = 8;
    ok = xf_session_create_ex(m, &sp, &a) == XF_OK;
    sp.n_ctx_reserve = 48;
    ok = ok && xf_session_create_ex(m, &sp, &b) == XF_OK;
    int32_t ids[100];
    for (int32_t t = 0; t < 100; t++) ids[t] = (t * 11 + 5) % 50;
    ok = ok && xf_session_eval(a, ids, 100, NULL) == XF_OK && xf_session_eval(b, ids, 33, NULL) == XF_OK;
    for (int32_t t = 0; ok && t < 20; t++)
        ok = xf_session_eval(a, &ids[t], 1, NULL) == XF_OK && xf_session_eval(b, &ids[t], 1, NULL) == XF_OK;
    CHECK_MSG(ok, "%s", xf_errmsg());
    same_cache(a, b, "snapkv 40 after a 100-token prompt, against a session that held 53 tokens");
    xf_session_free(a), xf_session_free(b);
    xf_model_free(m);
}

static void test_policy_full(void) {
    xf_model *m = tiny("qwen2", 1);
    if (!m) return;
    xf_session *s = NULL;
    CHECK(xf_session_create(m, 32, &s) == XF_OK);
    if (!s) {
        xf_model_free(m);
        return;
    }
    xf_kv_cache *c = xf_session_cache(s);
    c->policy = &sink_policy;
    const size_t V = xf_model_vocab_size(m);
    float *lg = malloc(V * 4);
    int32_t id = 7;
    int ok = 1;
    for (size_t k = 0; k < 100 && ok; k++) {
        ok = xf_session_eval(s, &id, 1, lg) == XF_OK;
        id = (int32_t)((id * 31 + 3) % V);
    }
    CHECK_MSG(ok, "generation with an evicting policy stopped: %s", xf_errmsg());
    CHECK(xf_session_n_past(s) == 100 && c->layers[0].n == 32 && c->layers[0].pos[3] == 3 &&
          c->layers[0].pos[31] == 99);
    free(lg);
    xf_session_free(s);
    xf_model_free(m);
}

/* Batched steps of several sessions = each session stepped alone: bitwise with float weights,
 * within rounding with GGUF blocks past the 4-row GEMV. */
static void test_step_batch(const char *name, int exact) {
    xf_model *m = tiny(name, 2);
    if (!m) return;
    enum { N = 6, STEPS = 5 };
    const size_t V = xf_model_vocab_size(m);
    xf_session *a[N] = {0}, *b[N] = {0};
    int32_t prompt[20];
    float *la = malloc(N * V * 4), *lb = malloc(N * V * 4);
    int ok = 1;
    for (size_t i = 0; i < N && ok; i++) {
        ok = xf_session_create(m, 0, &a[i]) == XF_OK && xf_session_create(m, 0, &b[i]) == XF_OK;
        const size_t P = 3 + 2 * i;
        for (size_t k = 0; k < P; k++) prompt[k] = (int32_t)((k * 17 + i * 5 + 1) % V);
        ok = ok && xf_session_eval(a[i], prompt, P, NULL) == XF_OK && xf_session_eval(b[i], prompt, P, NULL) == XF_OK;
    }
    CHECK_MSG(ok, "%s: sessions: %s", name, xf_errmsg());
    double worst = 0;
    int same = 1;
    for (size_t s = 0; ok && s < STEPS; s++) {
        int32_t ids[N];
        for (size_t i = 0; i < N; i++) ids[i] = (int32_t)((s * 31 + i * 7 + 2) % V);
        CHECK(xf_session_step_batch(a, N, ids, la) == XF_OK);
        for (size_t i = 0; i < N; i++) {
            CHECK(xf_session_eval(b[i], &ids[i], 1, lb + i * V) == XF_OK);
            worst = fmax(worst, max_rel(la + i * V, lb + i * V, V));
        }
        same &= !memcmp(la, lb, N * V * 4);
    }
    if (exact) CHECK_MSG(same, "%s: batched steps differ from single steps", name);
    CHECK_MSG(worst < 1e-4, "%s: batched steps differ from single steps by %.3g (relative)", name, worst);
    for (size_t i = 0; ok && i < N; i++) CHECK(xf_session_n_past(a[i]) == xf_session_n_past(b[i]));
    xf_session *dup[2] = {a[0], a[0]};
    int32_t two[2] = {1, 2};
    CHECK(xf_session_step_batch(dup, 2, two, NULL) == XF_ERR_INVALID_ARG);
    for (size_t i = 0; i < N; i++) xf_session_free(a[i]), xf_session_free(b[i]);
    free(la), free(lb);
    xf_model_free(m);
}

/* Prompts of several sessions at once = each prompt alone, bitwise: the cache (the next steps'
 * logits) and the last logits, for float and GGUF block weights; a short prompt (alone inside) and
 * bad input that changes no session. */
static void test_eval_batch(const char *name) {
    xf_model *m = tiny(name, 2);
    if (!m) return;
    enum { N = 4 };
    static const size_t lens[N] = {40, 5, 50, 33}; /* llama_q.gguf: 64 positions */
    const size_t V = xf_model_vocab_size(m);
    xf_session *a[N] = {0}, *b[N] = {0};
    int32_t ids[200];
    size_t at = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < lens[i]; k++, at++) ids[at] = (int32_t)((k * 13 + i * 7 + 1) % V);
    float *la = malloc(N * V * 4), *lb = malloc(N * V * 4);
    int ok = 1;
    for (size_t i = 0; i < N && ok; i++) ok = xf_session_create(m, 0, &a[i]) == XF_OK && xf_session_create(m, 0, &b[i]) == XF_OK;
    CHECK_MSG(ok && xf_session_eval_batch(a, N, ids, lens, la) == XF_OK, "%s: %s", name, xf_errmsg());
    at = 0;
    for (size_t i = 0; i < N && ok; at += lens[i], i++) {
        CHECK(xf_session_eval(b[i], ids + at, lens[i], lb + i * V) == XF_OK);
        CHECK(xf_session_n_past(a[i]) == lens[i]);
    }
    CHECK_MSG(!memcmp(la, lb, N * V * 4), "%s: batched prompts' logits differ from lone ones", name);
    for (size_t step = 0; step < 2; step++) {
        int32_t next[N];
        for (size_t i = 0; i < N; i++) next[i] = (int32_t)((step * 5 + i * 3 + 2) % V);
        for (size_t i = 0; i < N; i++) {
            CHECK(xf_session_eval(a[i], &next[i], 1, la + i * V) == XF_OK);
            CHECK(xf_session_eval(b[i], &next[i], 1, lb + i * V) == XF_OK);
        }
        CHECK_MSG(!memcmp(la, lb, N * V * 4), "%s: steps after batched prompts differ", name);
    }
    int32_t bad[3] = {1, (int32_t)V, 2};
    size_t blens[2] = {2, 1};
    CHECK(xf_session_eval_batch(b, 2, bad, blens, NULL) == XF_ERR_RANGE && xf_session_n_past(b[0]) == lens[0] + 2);
    xf_session *dup[2] = {a[0], a[0]};
    CHECK(xf_session_eval_batch(dup, 2, ids, blens, NULL) == XF_ERR_INVALID_ARG);
    for (size_t i = 0; i < N; i++) xf_session_free(a[i]), xf_session_free(b[i]);
    free(la), free(lb);
    xf_model_free(m);
}

/* The server's path with every KV setting (continuous batching: prompts through
 * xf_session_eval_batch and xf_session_eval_rest_batch, then xf_session_step_batch) = each
 * session alone (xf_session_eval), bitwise: the policies' scores, selections and evictions, the
 * quantized caches and Quest are per session inside a batched forward. Prompts longer than the
 * budget, and steps past it. Float weights (bitwise products). */
static void test_batch_kv_settings(void) {
    xf_model *m = tiny("llama", 2);
    if (!m) return;
    enum { N = 4, STEPS = 40 }; /* session 1 (5 tokens) passes every budget too */
    static const size_t lens[N] = {40, 5, 50, 33}; /* snapkv's budget is above its window of 32 */
    static const struct {
        const char *policy;
        size_t budget;
        xf_kv_type type;
        size_t quest;
    } set[] = {{NULL, 0, XF_KV_F16, 0},         {NULL, 0, XF_KV_Q8, 0},        {NULL, 0, XF_KV_Q4, 0},
               {"streaming", 24, XF_KV_F32, 0}, {"h2o", 24, XF_KV_F32, 0},     {"h2o-head", 24, XF_KV_F32, 0},
               {"snapkv", 36, XF_KV_F32, 0},    {"snapkv-head", 36, XF_KV_F16, 0}, {"h2o", 36, XF_KV_Q8, 0},
               {NULL, 0, XF_KV_F32, 16}};
    const size_t V = xf_model_vocab_size(m);
    int32_t ids[200];
    size_t at = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < lens[i]; k++, at++) ids[at] = (int32_t)((k * 13 + i * 7 + 1) % V);
    float *la = malloc(N * V * 4), *lb = malloc(N * V * 4), *lr = malloc(N * V * 4);
    for (size_t c = 0; c < sizeof set / sizeof set[0]; c++) {
        xf_session_params sp = xf_session_default_params();
        sp.kv_policy = set[c].policy, sp.kv_budget = set[c].budget, sp.kv_type = set[c].type;
        sp.quest_budget = set[c].quest, sp.quest_page = set[c].quest ? 4 : 0;
        const char *what = set[c].policy ? set[c].policy : set[c].quest ? "quest" : "keep-all";
        xf_session *a[N] = {0}, *b[N] = {0}, *r[N] = {0};
        int ok = 1;
        for (size_t i = 0; i < N && ok; i++)
            ok = xf_session_create_ex(m, &sp, &a[i]) == XF_OK && xf_session_create_ex(m, &sp, &b[i]) == XF_OK &&
                 xf_session_create_ex(m, &sp, &r[i]) == XF_OK;
        CHECK_MSG(ok && xf_session_eval_batch(a, N, ids, lens, la) == XF_OK &&
                      xf_session_eval_rest_batch(r, N, ids, lens, lr) == XF_OK,
                  "%s: %s", what, xf_errmsg());
        at = 0;
        for (size_t i = 0; i < N && ok; at += lens[i], i++) CHECK(xf_session_eval(b[i], ids + at, lens[i], lb + i * V) == XF_OK);
        int same = ok && !memcmp(la, lb, N * V * 4) && !memcmp(lr, lb, N * V * 4);
        for (size_t s = 0; ok && same && s < STEPS; s++) {
            int32_t next[N];
            for (size_t i = 0; i < N; i++) next[i] = (int32_t)((s * 31 + i * 7 + 2) % V);
            CHECK(xf_session_step_batch(a, N, next, la) == XF_OK && xf_session_step_batch(r, N, next, lr) == XF_OK);
            for (size_t i = 0; i < N; i++) CHECK(xf_session_eval(b[i], &next[i], 1, lb + i * V) == XF_OK);
            same = !memcmp(la, lb, N * V * 4) && !memcmp(lr, lb, N * V * 4);
        }
        CHECK_MSG(same, "%s (type %d, budget %zu): batched prompts and steps differ from lone ones", what,
                  (int)set[c].type, set[c].budget);
        for (size_t i = 0; ok && i < N; i++)
            CHECK_MSG(xf_session_kv_bytes(a[i]) == xf_session_kv_bytes(b[i]), "%s: cache sizes differ", what);
        for (size_t i = 0; i < N; i++) xf_session_free(a[i]), xf_session_free(b[i]), xf_session_free(r[i]);
    }
    free(la), free(lb), free(lr);
    xf_model_free(m);
}

int main(void) {
    test_evicted_kernel();
    test_keep_heads();
    test_session_eviction("llama");
    test_session_eviction("qwen2");
    test_session_eviction("mistral");
    test_growth_f16();
    test_policy_full();
    test_step_batch("llama", 1);
    test_step_batch("gpt2", 1);
    test_step_batch("llama_q.gguf", 0);
    test_eval_batch("llama");
    test_eval_batch("gpt2");
    test_eval_batch("llama_q.gguf");
    test_batch_kv_settings();
    test_evicting_growth();
    return xf_t_report();
}
