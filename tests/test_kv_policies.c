/* test_kv_policies.c — the KV eviction policies (streaming, h2o, h2o-head, snapkv, snapkv-head;
 * kv_cache.h):
 *   - the selection kernels against plain references: top-k by quickselect vs rank counting
 *     (random scores with many ties, random fixed slots), SnapKV's pooling vs a padded sum;
 *   - each policy inside a real session (tiny llama, budget < prompt): after every forward the
 *     positions left in each layer are exactly those a plain reference selects from the same
 *     inputs (the weights the forward produced, the positions held), i.e. the rule of the paper
 *     written as a mask: StreamingLLM = 4 sinks + the newest; H2O = newest budget/2 + the highest
 *     attention accumulated since each token arrived; SnapKV = the observation window + the best
 *     pooled window attention at the end of a prompt, then generated tokens over prompt ones;
 *     h2o-head and snapkv-head = the same per key/value head, checked by the content of each
 *     head's slots; with one key/value head each is its layer-wise policy bitwise; sliding-window
 *     layers and a q8 cache whose heads are not whole blocks refuse them;
 *   - with budget >= context every policy is bitwise the dense session (prompt + decode);
 *   - sessions go on past their budget (and past a small n_ctx) without failing;
 *   - bad names and budgets are refused with messages naming them.
 * (That attention over a cache with evicted slots equals attention with a plain mask is
 * test_kv_cache.c's test_evicted_kernel.) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "xfmr.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 11);
}

static void test_select_kernels(void) {
    size_t mismatches = 0, cases = 0;
    for (int it = 0; it < 400; it++) {
        const size_t n = 1 + rnd() % 300, k = rnd() % (n + 3);
        float *s = malloc(n * sizeof *s);
        unsigned char *fixed = malloc(n), *a = malloc(n), *b = malloc(n);
        size_t *scratch = malloc(n * sizeof *scratch);
        const int levels = 1 + (int)(rnd() % 8); /* few levels: many ties */
        for (size_t i = 0; i < n; i++) {
            s[i] = (float)(rnd() % (uint32_t)levels) * 0.25f;
            fixed[i] = rnd() % 5 == 0;
        }
        if (it % 7 == 0) s[rnd() % n] = NAN;
        const size_t ka = xf_kv_select_top(s, it % 3 ? fixed : NULL, n, k, a, scratch);
        const size_t kb = xf_kv_select_top_ref(s, it % 3 ? fixed : NULL, n, k, b);
        mismatches += ka != kb || memcmp(a, b, n) != 0;
        cases++;
        free(s), free(fixed), free(a), free(b), free(scratch);
    }
    CHECK_MSG(mismatches == 0, "top-k selection differs from the reference in %zu of %zu cases", mismatches, cases);
    /* pooling: out[j] = sum of raw over [j-2, j+2] in range / 5 */
    float raw[37], out[37];
    for (size_t i = 0; i < 37; i++) raw[i] = (float)(rnd() % 1000) / 997.0f;
    xf_snapkv_pool(raw, 37, 5, out);
    double worst = 0;
    for (size_t j = 0; j < 37; j++) {
        double pad[41] = {0}, a = 0;
        for (size_t i = 0; i < 37; i++) pad[i + 2] = raw[i];
        for (size_t i = j; i < j + 5; i++) a += pad[i];
        worst = fmax(worst, fabs(out[j] - a / 5.0));
    }
    CHECK_MSG(worst < 1e-6, "pooling error %.3g", worst);
    unsigned char keep[10] = {0};
    xf_kv_mark_sinks_recent(10, 3, 2, keep);
    CHECK(keep[0] && keep[2] && !keep[3] && !keep[7] && keep[8] && keep[9]);
}

/* ---------------------------------------------------------------- policies in a session */

#define MAXPOS 4096
#define XH 4 /* most key/value heads of the tiny models checked per head */

/* A wrapper policy: snapshots each layer before the real policy's hook, recomputes the expected
 * selection with the references, and compares the positions left. */
typedef struct {
    const xf_kv_policy *inner;
    void *inner_state;
    float *acc[64];   /* h2o: accumulated attention per layer, by position */
    float *pooled[64]; /* snapkv: score per layer by position (inf: generated / not chosen yet) */
    /* the per-head policies, per layer and key/value head: the token (position) each slot holds,
     * and its score by position */
    int32_t *tok[64][XH];
    float *score_h[64][XH];
    size_t checks, bad;
} wrap_state;
static wrap_state g_w;

/* The positions layer L must keep, by the reference rule, from the snapshot (pos, n, w). */
static void expect(wrap_state *w, const xf_kv_cache *c, size_t l, const int32_t *pos, size_t n, const float *wsum,
                   size_t n_new, int prefill, unsigned char *keep) {
    const size_t B = c->budget;
    memset(keep, 1, n);
    const char *name = w->inner->name;
    if (!strcmp(name, "streaming")) {
        if (n <= B) return;
        for (size_t i = 0; i < n; i++) keep[i] = i < 4 || i >= n - (B - 4);
    } else if (!strcmp(name, "h2o")) {
        for (size_t i = 0; i < n; i++) {
            if (i >= n - n_new) w->acc[l][pos[i]] = 0; /* arrived in this forward */
            w->acc[l][pos[i]] += wsum[i];
        }
        if (n <= B) return;
        float *s = malloc(n * sizeof *s);
        unsigned char *fixed = calloc(n, 1);
        for (size_t i = 0; i < n; i++) s[i] = w->acc[l][pos[i]], fixed[i] = i >= n - B / 2;
        xf_kv_select_top_ref(s, fixed, n, B - B / 2, keep);
        free(s), free(fixed);
    } else { /* snapkv */
        for (size_t i = n - n_new; i < n; i++) w->pooled[l][pos[i]] = INFINITY;
        float *s = malloc(n * sizeof *s);
        unsigned char *fixed = calloc(n, 1);
        size_t win = 0;
        if (prefill && !c->n_pending && n > B) { /* end of a prompt */
            win = n_new < 32 ? n_new : 32;
            const size_t pre = n - win;
            for (size_t j = 0; j < pre; j++) { /* average pool of 5, zero padded, in double */
                double a = 0;
                for (size_t i = j >= 2 ? j - 2 : 0; i <= j + 2 && i < pre; i++) a += wsum[i];
                w->pooled[l][pos[j]] = (float)(a / 5.0);
            }
        }
        if (n > B && !(prefill && c->n_pending)) { /* nothing goes while a prompt is read */
            const size_t sinks = prefill ? 0 : 4; /* a decode step keeps the first 4 slots */
            for (size_t i = 0; i < n; i++) s[i] = w->pooled[l][pos[i]], fixed[i] = i >= n - win || i < sinks;
            xf_kv_select_top_ref(s, fixed, n, B - win - sinks, keep);
        }
        free(s), free(fixed);
    }
}

/* The per-head policies: each key/value head's selection by the reference rule, its query heads'
 * weights summed (snapkv-head: the window's, pooled, top-k at the end of a prompt; h2o-head:
 * accumulated since each token arrived, the newest B / 2 plus the top B - B / 2), then the
 * policy's, compared by content: after it, slot o of head g holds exactly the key and value
 * columns of the o-th slot the reference keeps for g. */
static xf_status w_hook_heads(wrap_state *w, xf_kv_cache *c, size_t n_new, int prefill) {
    const size_t B = c->budget, L_n = c->n_layers;
    const int h2o = !strcmp(w->inner->name, "h2o-head");
    unsigned char **keep = calloc(L_n, sizeof *keep);
    float **kv = calloc(L_n, sizeof *kv);
    size_t *n = calloc(L_n, sizeof *n);
    for (size_t l = 0; l < L_n; l++) {
        const xf_kv_layer *L = &c->layers[l];
        const size_t H = L->n_kv_heads, N = L->n, D = L->kv_dim;
        n[l] = N;
        keep[l] = malloc(H * N + 1);
        kv[l] = malloc(2 * N * D * sizeof(float) + 1);
        memcpy(kv[l], L->k, N * D * sizeof(float)); /* an f32 cache */
        memcpy(kv[l] + N * D, L->v, N * D * sizeof(float));
        float *ws = calloc(N + 1, sizeof *ws), *sc = malloc((N + 1) * sizeof *sc);
        unsigned char *fixed = calloc(N + 1, 1);
        for (size_t g = 0; g < H; g++) {
            float *score = w->score_h[l][g]; /* by position */
            for (size_t i = N - n_new; i < N; i++) /* arrivals: h2o scores from 0, snapkv's are not chosen yet */
                w->tok[l][g][i] = L->pos[i], score[L->pos[i]] = h2o ? 0.0f : INFINITY;
            size_t h0, h1, win = 0;
            xf_kv_group(L, g, &h0, &h1);
            memset(ws, 0, N * sizeof *ws);
            for (size_t h = h0; L->want_w && h < h1; h++)
                for (size_t j = 0; j < N; j++) ws[j] += L->w[h * L->cap + j];
            memset(keep[l] + g * N, 1, N);
            if (h2o) {
                for (size_t i = 0; i < N; i++) score[w->tok[l][g][i]] += ws[i];
                if (N <= B) continue;
                for (size_t i = 0; i < N; i++) sc[i] = score[w->tok[l][g][i]], fixed[i] = i >= N - B / 2;
                xf_kv_select_top_ref(sc, fixed, N, B - B / 2, keep[l] + g * N);
                continue;
            }
            if (prefill && !c->n_pending && N > B) { /* end of a prompt: pool of 5, zero padded, in double */
                win = n_new < 32 ? n_new : 32;
                for (size_t j = 0; j < N - win; j++) {
                    double a = 0;
                    for (size_t i = j >= 2 ? j - 2 : 0; i <= j + 2 && i < N - win; i++) a += ws[i];
                    score[w->tok[l][g][j]] = (float)(a / 5.0);
                }
            }
            if (N > B && !(prefill && c->n_pending)) {
                const size_t sinks = prefill ? 0 : 4;
                for (size_t i = 0; i < N; i++) sc[i] = score[w->tok[l][g][i]], fixed[i] = i >= N - win || i < sinks;
                xf_kv_select_top_ref(sc, fixed, N, B - win - sinks, keep[l] + g * N);
            }
        }
        free(ws), free(sc), free(fixed);
    }
    xf_status st = prefill ? w->inner->after_prefill(w->inner_state, c, n_new) : w->inner->after_step(w->inner_state, c);
    for (size_t l = 0; l < L_n && !st; l++) {
        const xf_kv_layer *L = &c->layers[l];
        const size_t H = L->n_kv_heads, N = n[l], D = L->kv_dim, dh = L->head_dim;
        int ok = 1;
        for (size_t g = 0; g < H; g++) {
            size_t o = 0;
            for (size_t i = 0; i < N; i++) {
                if (!keep[l][g * N + i]) continue;
                ok &= o < L->n && !memcmp((const float *)L->k + o * D + g * dh, kv[l] + i * D + g * dh, dh * sizeof(float)) &&
                      !memcmp((const float *)L->v + o * D + g * dh, kv[l] + N * D + i * D + g * dh, dh * sizeof(float));
                w->tok[l][g][o++] = w->tok[l][g][i];
            }
            ok &= o == L->n;
        }
        w->checks++;
        if (!ok && w->bad++ < 3)
            fprintf(stderr, "%s layer %zu: the heads' slots differ from the reference\n", w->inner->name, l);
    }
    for (size_t l = 0; l < L_n; l++) free(keep[l]), free(kv[l]);
    free(keep), free(kv), free(n);
    return st;
}

static xf_status w_hook(wrap_state *w, xf_kv_cache *c, size_t n_new, int prefill) {
    if (strstr(w->inner->name, "-head")) return w_hook_heads(w, c, n_new, prefill);
    const size_t L_n = c->n_layers;
    int32_t **pos = malloc(L_n * sizeof *pos);
    unsigned char **keep = malloc(L_n * sizeof *keep);
    size_t *n = malloc(L_n * sizeof *n);
    for (size_t l = 0; l < L_n; l++) {
        const xf_kv_layer *L = &c->layers[l];
        n[l] = L->n;
        pos[l] = malloc(L->n * sizeof **pos);
        memcpy(pos[l], L->pos, L->n * sizeof **pos);
        float *ws = calloc(L->n ? L->n : 1, sizeof *ws);
        for (size_t h = 0; L->want_w && h < L->n_heads; h++)
            for (size_t j = 0; j < L->n; j++) ws[j] += L->w[h * L->cap + j];
        keep[l] = malloc(L->n ? L->n : 1);
        expect(w, c, l, pos[l], L->n, ws, n_new, prefill, keep[l]);
        free(ws);
    }
    xf_status st = prefill ? w->inner->after_prefill(w->inner_state, c, n_new) : w->inner->after_step(w->inner_state, c);
    for (size_t l = 0; l < L_n && !st; l++) {
        const xf_kv_layer *L = &c->layers[l];
        size_t k = 0, ok = 1;
        for (size_t i = 0; i < n[l]; i++)
            if (keep[l][i]) ok &= k < L->n && L->pos[k++] == pos[l][i];
        ok &= k == L->n;
        w->checks++;
        if (!ok && w->bad++ < 3)
            fprintf(stderr, "%s layer %zu: kept %zu slots, the reference %zu (n_past %zu)\n", w->inner->name, l, L->n,
                    k, c->n_past);
    }
    for (size_t l = 0; l < L_n; l++) free(pos[l]), free(keep[l]);
    free(pos), free(keep), free(n);
    return st;
}
static xf_status w_prefill(void *s, xf_kv_cache *c, size_t n_new) { return w_hook(s, c, n_new, 1); }
static xf_status w_step(void *s, xf_kv_cache *c) { return w_hook(s, c, 1, 0); }
static xf_status w_full(void *s, xf_kv_cache *c, size_t need) {
    wrap_state *w = s;
    return w->inner->on_full(w->inner_state, c, need);
}

static xf_model *tiny(const char *name) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), name);
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.rope_scaling = "linear", p.rope_factor = 16; /* 2048 positions: long enough for several chunks */
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(dir, &p, &m) == XF_OK, "%s: %s", name, xf_errmsg());
    return m;
}

/* Prompt of n_prompt tokens then n_gen greedy steps; logits of every step into lg[n_gen + 1][V]. */
static int run(xf_model *m, const xf_session_params *sp, size_t n_prompt, size_t n_gen, float *lg,
               const xf_kv_policy *wrap) {
    xf_session *s = NULL;
    if (xf_session_create_ex(m, sp, &s) != XF_OK) {
        CHECK_MSG(0, "session: %s", xf_errmsg());
        return -1;
    }
    static xf_kv_policy wp;
    if (wrap) { /* swap the wrapper in around the session's own policy state */
        xf_kv_cache *c = xf_session_cache(s);
        memset(&g_w, 0, sizeof g_w);
        g_w.inner = wrap;
        g_w.inner_state = c->policy_state;
        for (size_t l = 0; l < c->n_layers && l < 64; l++) {
            g_w.acc[l] = calloc(MAXPOS, sizeof(float));
            g_w.pooled[l] = malloc(MAXPOS * sizeof(float));
            for (size_t i = 0; i < MAXPOS; i++) g_w.pooled[l][i] = INFINITY;
            for (size_t g = 0; g < XH; g++) {
                g_w.tok[l][g] = calloc(MAXPOS, sizeof(int32_t));
                g_w.score_h[l][g] = malloc(MAXPOS * sizeof(float));
                for (size_t i = 0; i < MAXPOS; i++) g_w.score_h[l][g][i] = INFINITY;
            }
        }
        wp = (xf_kv_policy){wrap->name, 1, NULL, w_prefill, w_step, w_full, NULL};
        c->policy = &wp;
        c->policy_state = &g_w;
    }
    const size_t V = xf_model_vocab_size(m);
    int32_t *ids = malloc(n_prompt * sizeof *ids);
    for (size_t i = 0; i < n_prompt; i++) ids[i] = (int32_t)((i * 37 + 11) % V);
    int rc = xf_session_eval(s, ids, n_prompt, lg) == XF_OK ? 0 : -1;
    CHECK_MSG(!rc, "prompt: %s", xf_errmsg());
    for (size_t t = 0; t < n_gen && !rc; t++) {
        const float *row = lg + t * V;
        int32_t best = 0;
        for (size_t v = 1; v < V; v++) best = row[v] > row[best] ? (int32_t)v : best;
        rc = xf_session_eval(s, &best, 1, lg + (t + 1) * V) == XF_OK ? 0 : -1;
        CHECK_MSG(!rc, "step %zu: %s", t, xf_errmsg());
    }
    if (wrap) { /* restore the real policy so that the session frees its state */
        xf_kv_cache *c = xf_session_cache(s);
        c->policy = wrap;
        c->policy_state = g_w.inner_state;
        for (size_t l = 0; l < 64; l++) {
            free(g_w.acc[l]), free(g_w.pooled[l]);
            for (size_t g = 0; g < XH; g++) free(g_w.tok[l][g]), free(g_w.score_h[l][g]);
        }
    }
    free(ids);
    xf_session_free(s);
    return rc;
}

static void test_policies(void) {
    xf_model *m = tiny("llama");
    if (!m) return;
    const size_t V = xf_model_vocab_size(m), P = 600, G = 40;
    float *dense = malloc((G + 1) * V * sizeof *dense), *got = malloc((G + 1) * V * sizeof *got);
    xf_session_params sp = xf_session_default_params();
    if (run(m, &sp, P, G, dense, NULL)) goto done;
    const xf_kv_policy *pols[] = {&xf_kv_streaming, &xf_kv_h2o, &xf_kv_h2o_head, &xf_kv_snapkv, &xf_kv_snapkv_head};
    for (size_t k = 0; k < sizeof pols / sizeof pols[0]; k++) {
        /* budget >= context: bitwise the dense session */
        sp.kv_policy = pols[k]->name, sp.kv_budget = P + G + 10;
        if (run(m, &sp, P, G, got, NULL) == 0)
            CHECK_MSG(memcmp(got, dense, (G + 1) * V * sizeof *got) == 0, "%s with budget >= context is not dense",
                      pols[k]->name);
        /* budgets below the prompt: the selection of the reference after every forward */
        static const size_t budgets[] = {40, 100, 300};
        for (size_t b = 0; b < 3; b++) {
            sp.kv_budget = budgets[b];
            if (run(m, &sp, P, G, got, pols[k])) continue;
            CHECK_MSG(g_w.bad == 0, "%s budget %zu: %zu of %zu selections differ from the reference", pols[k]->name,
                      budgets[b], g_w.bad, g_w.checks);
            CHECK(g_w.checks > 0);
            double d = 0;
            for (size_t i = 0; i < V; i++) d = fmax(d, fabs(got[G * V + i] - dense[G * V + i]));
            printf("%-9s budget %3zu: %zu selections checked; last logits max |diff| vs dense %.3g\n", pols[k]->name,
                   budgets[b], g_w.checks, d);
        }
        /* past a small n_ctx: the policy makes room as the cache fills */
        sp.kv_budget = 40, sp.n_ctx = 64;
        xf_session *s = NULL;
        CHECK(xf_session_create_ex(m, &sp, &s) == XF_OK);
        int32_t ids[200];
        for (int i = 0; i < 200; i++) ids[i] = (i * 13 + 5) % 320;
        if (s) {
            CHECK_MSG(xf_session_eval(s, ids, 50, got) == XF_OK, "%s: %s", pols[k]->name, xf_errmsg());
            int ok = 1;
            for (int i = 50; i < 200 && ok; i++) ok = xf_session_eval(s, &ids[i], 1, got) == XF_OK;
            CHECK_MSG(ok, "%s: generation past n_ctx stopped: %s", pols[k]->name, xf_errmsg());
            CHECK(xf_session_n_past(s) == 200 && xf_session_cache(s)->layers[0].n <= 40);
        }
        xf_session_free(s);
        sp.n_ctx = 0;
    }
done:
    free(dense), free(got);
    xf_model_free(m);
}

static void test_errors(void) {
    xf_model *m = tiny("llama");
    if (!m) return;
    xf_session *s = NULL;
    xf_session_params sp = xf_session_default_params();
    sp.kv_policy = "lru";
    CHECK(xf_session_create_ex(m, &sp, &s) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "lru") &&
          strstr(xf_errmsg(), "snapkv"));
    sp.kv_policy = "h2o";
    CHECK(xf_session_create_ex(m, &sp, &s) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "kv_budget"));
    sp.kv_policy = "snapkv", sp.kv_budget = 16;
    CHECK(xf_session_create_ex(m, &sp, &s) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "16"));
    sp.kv_policy = "streaming", sp.kv_budget = 4;
    CHECK(xf_session_create_ex(m, &sp, &s) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "sink"));
    sp.kv_policy = "keep-all", sp.kv_budget = 0;
    CHECK(xf_session_create_ex(m, &sp, &s) == XF_OK);
    xf_session_free(s);
    xf_model_free(m);
}

/* The per-head policies: with one key/value head snapkv-head is snapkv and h2o-head is h2o,
 * bitwise (tiny qwen2: 4 query heads, 1 kv head); a model with sliding-window layers (tiny
 * mistral) and a q8 cache whose heads are not whole blocks are refused. */
static void test_per_head(void) {
    static const char *const pairs[][2] = {{"snapkv", "snapkv-head"}, {"h2o", "h2o-head"}};
    xf_model *m = tiny("qwen2");
    if (!m) return;
    const size_t V = xf_model_vocab_size(m), P = 600, G = 40;
    float *a = malloc((G + 1) * V * sizeof *a), *b = malloc((G + 1) * V * sizeof *b);
    xf_session_params sp = xf_session_default_params();
    static const size_t budgets[] = {40, 100, 300};
    for (size_t p = 0; p < 2; p++)
        for (size_t k = 0; k < 3; k++) {
            sp.kv_budget = budgets[k];
            sp.kv_policy = pairs[p][0];
            if (run(m, &sp, P, G, a, NULL)) break;
            sp.kv_policy = pairs[p][1];
            if (run(m, &sp, P, G, b, NULL)) break;
            CHECK_MSG(memcmp(a, b, (G + 1) * V * sizeof *a) == 0, "one kv head, budget %zu: %s != %s", budgets[k],
                      pairs[p][1], pairs[p][0]);
        }
    free(a), free(b);
    xf_model_free(m);
    for (size_t p = 0; p < 2; p++) {
        m = tiny("mistral");
        if (!m) return;
        xf_session *s = NULL;
        sp.kv_policy = pairs[p][1], sp.kv_budget = 100, sp.kv_type = XF_KV_F32;
        CHECK_MSG(xf_session_create_ex(m, &sp, &s) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "sliding") &&
                      strstr(xf_errmsg(), pairs[p][1]),
                  "%s", xf_errmsg());
        xf_session_free(s);
        xf_model_free(m);
        m = tiny("llama"); /* heads of 16 values: not whole q8 blocks of 32 */
        if (!m) return;
        s = NULL;
        sp.kv_type = XF_KV_Q8;
        CHECK_MSG(xf_session_create_ex(m, &sp, &s) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "q8 blocks"), "%s",
                  xf_errmsg());
        xf_session_free(s);
        xf_model_free(m);
    }
}

int main(void) {
    test_select_kernels();
    test_policies();
    test_per_head();
    test_errors();
    return xf_t_report();
}
