/* test_adaptive.c — token pruning and early exit (model/adaptive.c, docs/ADAPTIVE.md):
 *   - the attention-received kernel (GEMM tiles + vector softmax) = the scalar reference
 *     xf_attention_weights within 1e-5, for odd key counts, grouped heads and small tiles, and
 *     for the masked problems of KV-cache policies (causal chunks, windows with sinks, positions,
 *     biases, key blocks, half and tiled keys), bitwise the same at any block of rows;
 *   - tiny BERT: a keep-all schedule (the scores computed, nothing dropped) = dense bitwise; the
 *     scores the forward pass hands the hook = the reference on the layer's own Q and K; pruning
 *     inside the loop = choosing the same tokens by hand, dropping them (xf_fwd_keep_tokens),
 *     running the last layer from there and pooling (pruned tokens in or out of the mean), bitwise;
 *   - token dropping (pruned tokens rejoin for the last layer): keep-all = dense bitwise, two
 *     layers = nothing pruned, the token-layer count, no early exit with it;
 *   - token merging = merging by hand (cosines, bipartite matching, size-weighted means, layer 1
 *     with log-size key biases, every token pooled with its row) bitwise; keep-all = dense; on
 *     MiniLM (SKIP without it) = a PyTorch implementation of the rule (goldens), batch = alone;
 *   - all-MiniLM-L6-v2 (SKIP, exit 77, without it): early exit = per text, the full-depth
 *     embeddings cut at the first layer whose consecutive pooled cosine passes, bitwise, and the
 *     mean depth; threshold > 1 = dense; the calibrated threshold keeps every calibration text at
 *     the target cosine; bad parameters are errors naming the value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/json.h"
#include "harness.h"
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "model/forward.h"
#include "model/layers.h"
#include "model/model.h"
#include "xfmr.h"

static uint32_t rng = 12345u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

/* ---------------------------------------------------------------- kernel vs reference */

static void check_kernel(size_t n, size_t dh, size_t n_kv, size_t group, size_t tile_rows) {
    const size_t qd = n_kv * group * dh, kvd = n_kv * dh;
    float *Q = malloc(n * qd * sizeof *Q), *K = malloc(n * kvd * sizeof *K), *V = malloc(n * kvd * sizeof *V);
    float *got = calloc(group * n, sizeof *got), *want = calloc(group * n, sizeof *want);
    float *tile = malloc((tile_rows * n + 1) * sizeof *tile);
    for (size_t i = 0; i < n * qd; i++) Q[i] = 2.0f * frand();
    for (size_t i = 0; i < n * kvd; i++) K[i] = 2.0f * frand(), V[i] = frand();
    xf_attn_problem p = {.Q = Q, .K = K, .V = V, .ldq = qd, .ldk = kvd, .ldv = kvd, .n_q = n, .n_k = n, .dh = dh,
                         .group = group, .scale = 1.0f / sqrtf((float)dh)};
    double worst = 0;
    for (size_t g = 0; g < n_kv; g++) {
        memset(got, 0, group * n * sizeof *got);
        memset(want, 0, group * n * sizeof *want);
        xf_attention_received(&p, g, 0, group, 0, n, got, n, tile, tile_rows * n);
        xf_attention_weights(&p, g, 0, group, 0, n, want, n);
        for (size_t i = 0; i < group * n; i++) {
            double e = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
            worst = e > worst ? e : worst;
        }
    }
    CHECK_MSG(worst < 1e-5, "n=%zu dh=%zu group=%zu tile=%zu: attention received off by %g", n, dh, group, tile_rows, worst);
    free(Q), free(K), free(V), free(got), free(want), free(tile);
}

/* Masked problems as the KV-cache policies hand them (attention.h: any mask, bias or key storage):
 * a causal prompt chunk after n_k - n_q cached keys, a window with sinks, cache slots at shuffled
 * positions, a key bias, block-sparse key blocks, keys as halves and through a kv_tile reader.
 * The sums = xf_attention_weights within 1e-5, and bitwise the same at every block size (1 row or
 * all of them: each head adds its rows in order). */
enum { MK_CAUSAL, MK_WINDOW, MK_POS, MK_BIAS, MK_BLOCKS, MK_F16, MK_TILE, MK_N };
static const char *const k_mask_names[MK_N] = {"causal", "window+sinks", "positions", "bias", "key blocks", "f16", "kv_tile"};

static void tile_from_floats(const void *ctx, int values, size_t j0, size_t nk, size_t col, size_t dh, size_t dp,
                             float *dst) {
    const xf_attn_problem *src = ctx; /* the float problem: K / V rows of ldk floats */
    const float *M = values ? src->V : src->K;
    for (size_t j = 0; j < nk; j++) {
        memcpy(dst + j * dp, M + (j0 + j) * src->ldk + col, dh * sizeof *dst);
        for (size_t d = dh; d < dp; d++) dst[j * dp + d] = 0.0f;
    }
}

static void check_masked(int kind, size_t n_k, size_t n_q, size_t dh, size_t n_kv, size_t group) {
    const size_t qd = n_kv * group * dh, kvd = n_kv * dh, nh = n_kv * group;
    float *Q = malloc(n_q * qd * sizeof *Q), *K = malloc(n_k * kvd * sizeof *K), *V = malloc(n_k * kvd * sizeof *V);
    float *bias = malloc(n_k * sizeof *bias), *want = calloc(nh * n_k, sizeof *want);
    float *got1 = calloc(nh * n_k, sizeof *got1), *gotall = calloc(nh * n_k, sizeof *gotall);
    uint16_t *Kh = malloc(n_k * kvd * sizeof *Kh);
    int32_t *kpos = malloc(n_k * sizeof *kpos), *qpos = malloc(n_q * sizeof *qpos);
    const size_t nqt = (n_q + XF_ATTN_KEYS - 1) / XF_ATTN_KEYS, nkb = (n_k + XF_ATTN_KEYS - 1) / XF_ATTN_KEYS;
    unsigned char *blocks = malloc(n_kv * nqt * nkb);
    for (size_t i = 0; i < n_q * qd; i++) Q[i] = 2.0f * frand();
    for (size_t i = 0; i < n_k * kvd; i++) K[i] = 2.0f * frand(), V[i] = frand();
    for (size_t i = 0; i < n_k * kvd; i++) Kh[i] = xf_f32_to_f16(K[i]);
    for (size_t j = 0; j < n_k; j++) bias[j] = 0.5f * frand();
    for (size_t j = 0; j < n_k; j++) kpos[j] = (int32_t)(3 * j); /* a cache that kept every third token, */
    for (size_t j = 0; j + 1 < n_k; j += 2) {                     /* pairs of slots swapped */
        const int32_t x = kpos[j];
        kpos[j] = kpos[j + 1], kpos[j + 1] = x;
    }
    for (size_t t = 0; t < n_q; t++) qpos[t] = (int32_t)(3 * (n_k - n_q) + 2 * t);
    for (size_t g = 0; g < n_kv; g++) /* each query tile: its own block and every other one */
        for (size_t qt = 0; qt < nqt; qt++)
            for (size_t b = 0; b < nkb; b++)
                blocks[(g * nqt + qt) * nkb + b] = b == (n_k - n_q + qt * XF_ATTN_KEYS) / XF_ATTN_KEYS || (b + g) % 2;
    xf_attn_problem f = {.Q = Q, .K = K, .V = V, .ldq = qd, .ldk = kvd, .ldv = kvd, .n_q = n_q, .n_k = n_k,
                         .q_pos0 = n_k - n_q, .dh = dh, .group = group, .scale = 1.0f / sqrtf((float)dh), .causal = 1};
    xf_attn_problem p = f;
    if (kind == MK_WINDOW) p.window = n_q / 2 + 3, p.sinks = 4;
    if (kind == MK_POS) p.k_pos = kpos, p.q_pos = qpos, p.window = 2 * n_q, p.sinks = 2;
    if (kind == MK_BIAS) p.k_bias = bias;
    if (kind == MK_BLOCKS) p.kblocks = blocks, p.kblocks_ld = nkb, p.kblocks_nqt = nqt;
    if (kind == MK_F16) { /* the reference reads the same halves */
        p.K = Kh, p.kv_f16 = 1;
        for (size_t i = 0; i < n_k * kvd; i++) V[i] = 0.0f;
    }
    if (kind == MK_TILE) p.kv_tile = tile_from_floats, p.kv_ctx = &f;
    const size_t one = xf_attention_received_scratch(&p, group, 1), all = xf_attention_received_scratch(&p, group, n_q);
    float *scratch = malloc(all * sizeof *scratch);
    double worst = 0;
    for (size_t g = 0; g < n_kv; g++) {
        xf_attention_weights(&p, g, 0, group, 0, n_q, want + g * group * n_k, n_k);
        xf_attention_received(&p, g, 0, group, 0, n_q, got1 + g * group * n_k, n_k, scratch, one);
        xf_attention_received(&p, g, 0, group, 0, n_q, gotall + g * group * n_k, n_k, scratch, all);
    }
    for (size_t i = 0; i < nh * n_k; i++) {
        const double e = fabs((double)gotall[i] - want[i]) / (1.0 + fabs(want[i]));
        worst = e > worst ? e : worst;
    }
    CHECK_MSG(worst < 1e-5, "%s, n_k=%zu n_q=%zu group=%zu: attention received off by %g", k_mask_names[kind], n_k, n_q,
              group, worst);
    CHECK_MSG(!memcmp(got1, gotall, nh * n_k * sizeof *got1), "%s: sums differ between 1-row and %zu-row blocks",
              k_mask_names[kind], n_q);
    free(Q), free(K), free(V), free(bias), free(want), free(got1), free(gotall), free(Kh), free(kpos), free(qpos);
    free(blocks), free(scratch);
}

/* ---------------------------------------------------------------- tiny BERT */

#define TH 32
enum { S0 = 9, S1 = 6, TT = S0 + S1 };
static const int32_t k_ids[TT] = {2, 40, 41, 42, 43, 44, 45, 46, 3, 2, 50, 51, 52, 53, 3};

typedef struct {
    size_t stop_after;
} stop_ctx;

static xf_status stop_hook(void *ctx, xf_fwd *f, size_t layer, int *stop) {
    (void)f;
    *stop = layer == ((stop_ctx *)ctx)->stop_after;
    return XF_OK;
}

typedef struct {
    float acc[TT];
    int seen;
} acc_ctx;

static xf_status acc_hook(void *ctx, xf_fwd *f, size_t layer, int *stop) {
    acc_ctx *a = ctx;
    if (layer == 0 && f->acc) memcpy(a->acc, f->acc, sizeof a->acc), a->seen = 1;
    *stop = 0;
    return XF_OK;
}

static void embed_tiny(xf_model *m, float *out) {
    int32_t types[TT] = {0};
    xf_encoding enc[2] = {{(int32_t *)k_ids, types, S0, 0}, {(int32_t *)k_ids + S0, types, S1, 0}};
    CHECK(xf_embed_encodings(m, enc, 2, 0, out) == XF_OK);
}

/* Mean (then L2, as the model's layout says) of the chosen rows of R [TT, TH] per text. */
static void pool_rows(const xf_model *m, const float *R, const unsigned char *use, float *out) {
    for (size_t s = 0; s < 2; s++) {
        const size_t b = s ? S0 : 0, e = s ? TT : S0;
        size_t n = 0;
        for (size_t t = b; t < e; t++) n += use[t];
        for (size_t i = 0; i < TH; i++) {
            float sum = 0;
            for (size_t t = b; t < e; t++)
                if (use[t]) sum += R[t * TH + i];
            out[s * TH + i] = sum / (float)n;
        }
        if (m->layout.normalize) xf_l2_normalize(out + s * TH, TH, 1e-12f);
    }
}

static void tiny_merge_checks(xf_model *m, const float *dense);

static void tiny_checks(void) {
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(xf_t_src("tests/data/tiny/bert"), NULL, &m) == XF_OK, "%s", xf_errmsg());
    if (!m) return;
    CHECK(m->plan.n_layers == 2 && m->plan.hidden == TH);
    float dense[2 * TH], got[2 * TH];
    embed_tiny(m, dense);

    /* keep-all: 0.99 of 9 or 6 tokens rounds up to all of them; the scores are computed */
    xf_adaptive_params p = xf_adaptive_default_params();
    const float all[1] = {0.99f};
    p.keep_schedule = all, p.n_keep_schedule = 1, p.keep_min = 1;
    CHECK(xf_model_set_adaptive(m, &p) == XF_OK && m->hook_want_acc && m->hook_want_acc[0]);
    embed_tiny(m, got);
    CHECK_MSG(!memcmp(dense, got, sizeof got), "a keep-all schedule changes the embeddings");
    p = xf_adaptive_default_params();
    p.exit_cosine = 1.5f; /* off */
    CHECK(xf_model_set_adaptive(m, &p) == XF_OK && m->adaptive == NULL);
    embed_tiny(m, got);
    CHECK(!memcmp(dense, got, sizeof got));

    /* the scores handed to the hook = the reference on layer 0's Q and K */
    const size_t H = TH;
    float X0[TT * TH], Y[TT * TH];
    int32_t pos[TT], types[TT] = {0};
    size_t off[3] = {0, S0, TT};
    for (size_t t = 0; t < TT; t++) pos[t] = (int32_t)(t < S0 ? t : t - S0);
    xf_embed_rows(&m->plan.tok_emb, k_ids, TT, X0);
    xf_embed_add(&m->plan.pos_emb, pos, TT, X0);
    xf_embed_add(&m->plan.type_emb, types, TT, X0);
    xf_add_norm(m->pool, &m->plan.emb_norm, X0, NULL, TT);
    xf_fwd_ws ws = {0};
    CHECK(xf_fwd_reserve(m, &ws, TT, 2) == XF_OK);
    xf_fwd f0 = {.n_seq = 2, .off = off, .pos = pos, .ids = k_ids, .type_ids = types, .X = X0};
    const xf_attn_plan *A = &m->plan.layers[0].attn;
    float *scratch = ws.buf + 2 * TT * H;
    xf_attention_layer(m->pool, A, &f0, 0, X0, Y, ws.probs, scratch);
    float ref[TT] = {0}, w[64 * TT];
    for (size_t s = 0; s < 2; s++)
        for (size_t g = 0; g < A->n_kv_heads; g++) {
            const size_t gs = A->n_heads / A->n_kv_heads, L = off[s + 1] - off[s];
            memset(w, 0, sizeof w);
            xf_attention_weights(&ws.probs[s], g, 0, gs, 0, L, w, L);
            for (size_t h = 0; h < gs; h++)
                for (size_t j = 0; j < L; j++) ref[off[s] + j] += w[h * L + j] / (float)A->n_heads;
        }
    acc_ctx ac = {{0}, 0};
    static const unsigned char want0[2] = {1, 0};
    m->hook = acc_hook, m->hook_ctx = &ac, m->hook_want_acc = want0;
    embed_tiny(m, got);
    m->hook = NULL, m->hook_want_acc = NULL;
    CHECK(ac.seen);
    double worst = 0;
    for (size_t t = 0; t < TT; t++) worst = fmax(worst, fabs(ac.acc[t] - ref[t]) / (1.0 + ref[t]));
    CHECK_MSG(worst < 1e-5, "scores in the loop differ from the reference by %g", worst);
    CHECK_MSG(!memcmp(dense, got, sizeof got), "computing the scores changes the embeddings");

    /* pruning in the loop = by hand: keep 0.5 -> 5 of 9, 3 of 6 tokens (first, last, special
     * [CLS]=2 / [SEP]=3 always), the others by reference score */
    unsigned char keep[TT];
    for (size_t s = 0; s < 2; s++) {
        const size_t b = off[s], e = off[s + 1], L = e - b, n_keep = (L + 1) / 2;
        size_t kept = 0;
        for (size_t t = b; t < e; t++) kept += keep[t] = t == b || t + 1 == e || k_ids[t] == 2 || k_ids[t] == 3;
        while (kept < n_keep) { /* the best remaining score, earlier token on ties */
            size_t best = e;
            for (size_t t = b; t < e; t++)
                if (!keep[t] && (best == e || ref[t] > ref[best])) best = t;
            float second = -1;
            for (size_t t = b; t < e; t++)
                if (!keep[t] && t != best && ref[t] > second) second = ref[t];
            if (kept + 1 == n_keep) CHECK_MSG(ref[best] - second > 1e-4f, "scores too close to test the choice");
            keep[best] = 1, kept++;
        }
    }
    stop_ctx s0 = {0};
    float A0[TT * TH], F[TT * TH], R[TT * TH];
    memcpy(A0, X0, sizeof A0); /* layer 0 from the embeddings: run it through the loop */
    size_t offB[3] = {0, S0, TT};
    int32_t posB[TT];
    memcpy(posB, pos, sizeof posB);
    xf_fwd fa = {.n_seq = 2, .off = offB, .pos = posB, .ids = k_ids, .type_ids = types, .X = A0, .hook = stop_hook, .hook_ctx = &s0};
    CHECK(xf_forward(m, &fa, &ws) == XF_OK);
    memcpy(F, A0, sizeof F);
    xf_fwd fb = {.n_seq = 2, .off = offB, .pos = posB, .ids = k_ids, .X = F, .first_layer = 1};
    CHECK(xf_fwd_keep_tokens(&fb, TH, keep) == XF_OK);
    CHECK(xf_forward(m, &fb, &ws) == XF_OK);
    for (size_t t = 0, k = 0; t < TT; t++) /* original order: kept rows final, pruned rows after layer 0 */
        memcpy(R + t * TH, keep[t] ? F + (k++) * TH : A0 + t * TH, TH * sizeof *R);
    static const unsigned char every[TT] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    float want[2 * TH];
    for (int pool_pruned = 1; pool_pruned >= 0; pool_pruned--) {
        pool_rows(m, R, pool_pruned ? every : keep, want);
        p = xf_adaptive_default_params();
        p.keep = 0.5f, p.pool_pruned = pool_pruned, p.keep_min = 1;
        CHECK(xf_model_set_adaptive(m, &p) == XF_OK);
        embed_tiny(m, got);
        CHECK_MSG(!memcmp(want, got, sizeof got), "pruning in the loop (pool_pruned %d) differs from pruning by hand", pool_pruned);
        xf_adaptive_stats st = xf_adaptive_stats_init();
        CHECK(xf_model_adaptive_stats(m, &st, 1) == XF_OK && st.n_texts == 2 && st.mean_layers == 2.0);
        CHECK_MSG(st.token_layers == TT + 5 + 3 && st.token_layers_dense == 2 * TT, "token-layers %llu of %llu",
                  (unsigned long long)st.token_layers, (unsigned long long)st.token_layers_dense);
    }
    /* token dropping on two layers: pruned tokens would rejoin before the last layer, so nothing is pruned */
    p = xf_adaptive_default_params();
    p.keep = 0.5f, p.pool_pruned = 2, p.keep_min = 1;
    CHECK(xf_model_set_adaptive(m, &p) == XF_OK);
    embed_tiny(m, got);
    CHECK_MSG(!memcmp(dense, got, sizeof got), "token dropping on a two-layer model changed the embeddings");
    tiny_merge_checks(m, dense);
    xf_fwd_ws_free(&ws);
    xf_model_free(m);
}

/* Token merging after layer 0 of the tiny model, by hand: schedule 0.7 takes text 0 from 9 rows
 * to 7 (2 of its 3 free sources: rows 2, 4, 6; destinations 1, 3, 5, 7) and text 1 from 6 to 5
 * (1 of rows 2, 4 into 1 or 3): cosines, best destinations, best-matched sources, size-weighted
 * means, layer 1 with log(size) key biases, every token pooled with its row's state = the hook's
 * embeddings, bitwise; then keep-all = dense, the token-layer count and the bad combinations. */
static void tiny_merge_checks(xf_model *m, const float *dense) {
    const size_t H = TH;
    float X0[TT * TH], got[2 * TH], want[2 * TH];
    int32_t pos[TT], types[TT] = {0};
    size_t off[3] = {0, S0, TT};
    for (size_t t = 0; t < TT; t++) pos[t] = (int32_t)(t < S0 ? t : t - S0);
    xf_fwd_ws ws = {0};
    CHECK(xf_fwd_reserve(m, &ws, TT, 2) == XF_OK);
    stop_ctx s0 = {0};
    xf_fwd fa = {.n_seq = 2, .off = off, .pos = pos, .ids = k_ids, .type_ids = types, .X = X0, .hook = stop_hook, .hook_ctx = &s0};
    CHECK(xf_forward(m, &fa, &ws) == XF_OK); /* X0: layer 0's output */
    unsigned char keep[TT];
    size_t into[TT];
    float size[TT];
    memset(keep, 1, sizeof keep);
    for (size_t t = 0; t < TT; t++) into[t] = t, size[t] = 1.0f;
    const size_t merges[2] = {2, 1};
    for (size_t s = 0; s < 2; s++) {
        const size_t b = off[s], e = off[s + 1];
        double best[TT];
        for (size_t i = b + 2; i + 1 < e; i += 2) { /* free sources: even rows but the first and last */
            double top = -2, second = -2;
            for (size_t j = b + 1; j + 1 < e; j += 2) {
                double xy = 0, xx = 0, yy = 0;
                for (size_t k = 0; k < H; k++)
                    xy += (double)X0[i * H + k] * X0[j * H + k], xx += (double)X0[i * H + k] * X0[i * H + k],
                        yy += (double)X0[j * H + k] * X0[j * H + k];
                const double c = xy / sqrt(xx * yy);
                if (c > top) second = top, top = c, into[i] = j;
                else if (c > second) second = c;
            }
            CHECK_MSG(top - second > 1e-4, "row %zu: destinations too close to test the choice", i);
            best[i] = top;
        }
        for (size_t n = 0; n < merges[s]; n++) {
            size_t pick = e;
            for (size_t i = b + 2; i + 1 < e; i += 2)
                if (keep[i] && (pick == e || best[i] > best[pick])) pick = i;
            keep[pick] = 0;
        }
        double lo_merged = 2, hi_kept = -2; /* the choice must not be a near tie */
        for (size_t i = b + 2; i + 1 < e; i += 2)
            if (keep[i]) hi_kept = fmax(hi_kept, best[i]);
            else lo_merged = fmin(lo_merged, best[i]);
        CHECK_MSG(lo_merged - hi_kept > 1e-4, "text %zu: sources too close to test the choice", s);
    }
    float M[TT * TH];
    memcpy(M, X0, sizeof M);
    for (size_t t = 0; t < TT; t++) /* sums in row order */
        if (!keep[t]) {
            for (size_t k = 0; k < H; k++) M[into[t] * H + k] += X0[t * H + k];
            size[into[t]] += 1.0f;
        }
    for (size_t t = 0; t < TT; t++)
        if (size[t] > 1.0f)
            for (size_t k = 0; k < H; k++) M[t * H + k] *= 1.0f / size[t];
    float F[TT * TH], bias[TT];
    size_t offB[3] = {0, S0, TT}, row[TT];
    int32_t posB[TT];
    memcpy(posB, pos, sizeof posB);
    memcpy(F, M, sizeof F);
    xf_fwd fb = {.n_seq = 2, .off = offB, .pos = posB, .ids = k_ids, .X = F, .first_layer = 1};
    CHECK(xf_fwd_keep_tokens(&fb, TH, keep) == XF_OK);
    CHECK(offB[1] == 7 && offB[2] == 12);
    for (size_t t = 0, w = 0; t < TT; t++)
        if (keep[t]) bias[w] = logf(size[t]), row[t] = w++;
    for (size_t t = 0; t < TT; t++)
        if (!keep[t]) row[t] = row[into[t]];
    fb.k_bias = bias;
    CHECK(xf_forward(m, &fb, &ws) == XF_OK);
    float R[TT * TH];
    for (size_t t = 0; t < TT; t++) memcpy(R + t * H, F + row[t] * H, H * sizeof *R);
    static const unsigned char every[TT] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    pool_rows(m, R, every, want);
    xf_adaptive_params p = xf_adaptive_default_params();
    const float sched[1] = {0.7f}, all[1] = {0.99f};
    p.keep_schedule = sched, p.n_keep_schedule = 1, p.keep_min = 1, p.merge = 1;
    CHECK(xf_model_set_adaptive(m, &p) == XF_OK && !m->hook_want_acc);
    embed_tiny(m, got);
    CHECK_MSG(!memcmp(want, got, sizeof got), "token merging in the loop differs from merging by hand");
    xf_adaptive_stats st = xf_adaptive_stats_init();
    CHECK(xf_model_adaptive_stats(m, &st, 1) == XF_OK);
    CHECK_MSG(st.token_layers == TT + 12 && st.token_layers_dense == 2 * TT, "merging: token-layers %llu of %llu",
              (unsigned long long)st.token_layers, (unsigned long long)st.token_layers_dense);
    p.keep_schedule = all; /* 0.99 of 9 or 6 rounds up to all of them: nothing merges */
    CHECK(xf_model_set_adaptive(m, &p) == XF_OK);
    embed_tiny(m, got);
    CHECK_MSG(!memcmp(dense, got, sizeof got), "a keep-all merging schedule changes the embeddings");
    p.exit_cosine = 0.9f;
    CHECK(xf_model_set_adaptive(m, &p) == XF_ERR_UNSUPPORTED);
    p.exit_cosine = 2.0f, p.pool_pruned = 0;
    CHECK(xf_model_set_adaptive(m, &p) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "pool_pruned 0"));
    p.pool_pruned = 1, p.merge = 2;
    CHECK(xf_model_set_adaptive(m, &p) == XF_ERR_RANGE && strstr(xf_errmsg(), "merge 2"));
    CHECK(xf_model_set_adaptive(m, NULL) == XF_OK);
    xf_fwd_ws_free(&ws);
}

/* ---------------------------------------------------------------- MiniLM: early exit */

static const char *const k_texts[] = {
    "The quick brown fox jumps over the lazy dog.",
    "A library for reading and writing compressed archives in several formats, with a command-line tool.",
    "hello",
    "Debian package of a small utility that prints the current weather for a city in the terminal, "
    "using a free web service, with colours and Unicode symbols.",
    "GNU C compiler",
    "Transformers are neural networks built from attention layers; encoders turn text into vectors.",
};
#define NT (sizeof k_texts / sizeof k_texts[0])

static void minilm_checks(const char *dir) {
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(dir, NULL, &m) == XF_OK, "%s", xf_errmsg());
    if (!m) return;
    const size_t L = m->plan.n_layers, D = xf_model_embedding_dim(m);
    float *cut = malloc(NT * L * D * sizeof *cut), *dense = malloc(NT * D * sizeof *dense), *got = malloc(NT * D * sizeof *got);
    CHECK(xf_embed(m, k_texts, NT, 0, dense, NULL) == XF_OK);
    for (size_t l = 0; l < L; l++) { /* each text cut after layer l, alone */
        stop_ctx sc = {l};
        m->hook = stop_hook, m->hook_ctx = &sc;
        for (size_t i = 0; i < NT; i++) CHECK(xf_embed(m, k_texts + i, 1, 0, cut + (i * L + l) * D, NULL) == XF_OK);
    }
    m->hook = NULL;
    CHECK(!memcmp(cut + (0 * L + L - 1) * D, dense, D * sizeof *dense));
    double cons[NT][16], sorted[NT * 16];
    size_t ns = 0;
    for (size_t i = 0; i < NT; i++)
        for (size_t l = 1; l + 1 < L; l++)
            sorted[ns++] = cons[i][l] = xf_cosine(cut + (i * L + l - 1) * D, cut + (i * L + l) * D, D);
    for (size_t a = 0; a < ns; a++) /* sort, to pick thresholds between observed cosines */
        for (size_t b = a + 1; b < ns; b++)
            if (sorted[b] < sorted[a]) {
                double t = sorted[a];
                sorted[a] = sorted[b], sorted[b] = t;
            }
    xf_adaptive_params p = xf_adaptive_default_params();
    for (size_t q = 1; q <= 3; q++) {
        const size_t k = q * ns / 4;
        if (sorted[k] - sorted[k - 1] < 1e-4) continue; /* too close to call */
        const float th = (float)(0.5 * (sorted[k] + sorted[k - 1]));
        double depth = 0;
        for (size_t i = 0; i < NT; i++) {
            size_t e = L - 1;
            for (size_t l = 1; l + 1 < L && e == L - 1; l++)
                if (cons[i][l] >= th) e = l;
            memcpy(dense + i * D, cut + (i * L + e) * D, D * sizeof *dense);
            depth += (double)(e + 1);
        }
        p.exit_cosine = th;
        CHECK(xf_model_set_adaptive(m, &p) == XF_OK);
        CHECK(xf_embed(m, k_texts, NT, 0, got, NULL) == XF_OK);
        CHECK_MSG(!memcmp(dense, got, NT * D * sizeof *got), "early exit at %g differs from cutting each text by hand", th);
        xf_adaptive_stats st = xf_adaptive_stats_init();
        CHECK(xf_model_adaptive_stats(m, &st, 1) == XF_OK && st.n_texts == NT);
        CHECK_MSG(fabs(st.mean_layers - depth / NT) < 1e-12, "mean depth %g, by hand %g", st.mean_layers, depth / NT);
    }
    /* token dropping (pool_pruned 2): a keep-all schedule = dense bitwise; pruning runs the first
     * and last layers on every token and fewer in between */
    size_t total = 0;
    for (size_t i = 0; i < NT; i++) {
        xf_encoding e;
        CHECK(xf_tokenize(xf_model_tokenizer(m), k_texts[i], strlen(k_texts[i]), NULL, 0, 0, &e) == XF_OK);
        total += e.n;
        xf_encoding_free(&e);
    }
    static const float keep_all[5] = {0.99f, 0.99f, 0.99f, 0.99f, 0.99f};
    p = xf_adaptive_default_params();
    p.pool_pruned = 2, p.keep_min = 1, p.keep_schedule = keep_all, p.n_keep_schedule = L - 1;
    CHECK(xf_model_set_adaptive(m, &p) == XF_OK);
    CHECK(xf_embed(m, k_texts, NT, 0, got, NULL) == XF_OK);
    for (size_t i = 0; i < NT; i++) CHECK(!memcmp(cut + (i * L + L - 1) * D, got + i * D, D * sizeof *got));
    p.keep_schedule = NULL, p.keep = 0.3f;
    CHECK(xf_model_set_adaptive(m, &p) == XF_OK && !m->hook_want_acc[L - 2] && m->hook_want_acc[0]);
    CHECK(xf_embed(m, k_texts, NT, 0, got, NULL) == XF_OK);
    xf_adaptive_stats rs = xf_adaptive_stats_init();
    CHECK(xf_model_adaptive_stats(m, &rs, 1) == XF_OK);
    CHECK_MSG(rs.token_layers_dense == total * L && rs.token_layers < total * L && rs.token_layers > 2 * total,
              "token dropping ran %llu token-layers of %llu (%zu tokens)", (unsigned long long)rs.token_layers,
              (unsigned long long)rs.token_layers_dense, total);
    p.exit_cosine = 0.9f;
    CHECK(xf_model_set_adaptive(m, &p) == XF_ERR_UNSUPPORTED);
    p = xf_adaptive_default_params();
    p.pool_pruned = 3;
    CHECK(xf_model_set_adaptive(m, &p) == XF_ERR_RANGE);
    p = xf_adaptive_default_params();

    /* threshold above 1: off, dense; calibrated: every calibration text at the target */
    p.exit_cosine = 1.01f;
    CHECK(xf_model_set_adaptive(m, &p) == XF_OK && !m->adaptive);
    CHECK(xf_embed(m, k_texts, NT, 0, got, NULL) == XF_OK);
    CHECK(!memcmp(cut + (L - 1) * D, got, D * sizeof *got));
    float th = 0;
    CHECK(xf_model_calibrate_exit(m, k_texts, NT, 0.98f, &th) == XF_OK && th > 0);
    CHECK(xf_embed(m, k_texts, NT, 0, got, NULL) == XF_OK);
    for (size_t i = 0; i < NT; i++) {
        const float c = xf_cosine(got + i * D, cut + (i * L + L - 1) * D, D);
        CHECK_MSG(c >= 0.98f, "text %zu: cosine %g to full depth after calibrating for 0.98 (threshold %g)", i, c, th);
    }
    /* bad parameters */
    static const float up[5] = {1, 0.5f, 0.6f, 0.4f, 0.3f}, short_[2] = {0.5f, 0.5f};
    xf_adaptive_params b = xf_adaptive_default_params();
    b.keep = 0.0f;
    CHECK(xf_model_set_adaptive(m, &b) == XF_ERR_RANGE && strstr(xf_errmsg(), "keep 0"));
    b.keep = 1.5f;
    CHECK(xf_model_set_adaptive(m, &b) == XF_ERR_RANGE);
    b.keep = NAN;
    CHECK(xf_model_set_adaptive(m, &b) == XF_ERR_RANGE);
    b = xf_adaptive_default_params();
    b.keep_schedule = up, b.n_keep_schedule = 5;
    CHECK(xf_model_set_adaptive(m, &b) == XF_ERR_RANGE && strstr(xf_errmsg(), "only fall"));
    b.keep_schedule = short_, b.n_keep_schedule = 2;
    CHECK(xf_model_set_adaptive(m, &b) == XF_ERR_RANGE && strstr(xf_errmsg(), "needs 5"));
    b = xf_adaptive_default_params();
    b.exit_cosine = 0.0f;
    CHECK(xf_model_set_adaptive(m, &b) == XF_ERR_RANGE);
    b = xf_adaptive_default_params();
    b.exit_min_layers = 7;
    CHECK(xf_model_set_adaptive(m, &b) == XF_ERR_RANGE);
    b = xf_adaptive_default_params();
    b.struct_size = 8;
    CHECK(xf_model_set_adaptive(m, &b) == XF_ERR_INVALID_ARG);
    CHECK(xf_model_calibrate_exit(m, k_texts, 0, 0.9f, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_model_calibrate_exit(m, k_texts, NT, 1.5f, NULL) == XF_ERR_RANGE);
    free(cut), free(dense), free(got);
    xf_model_free(m);
}

/* Token merging on MiniLM = the plain PyTorch implementation of the same rule
 * (scripts/make_merge_goldens.py: corpus lines whose merge decisions are clear by 1e-3), cosine
 * >= 0.99999 at each keep share; the lines packed in one batch = each alone, bitwise. */
static void minilm_merge_golden(xf_model *m) {
    static const float shares[2] = {0.3f, 0.1f}; /* the script's SETTINGS */
    cJSON *meta = NULL;
    size_t len = 0, n_lines = 0, n_g = 0;
    CHECK_MSG(xf_json_load(xf_t_src("tests/data/merge/minilm_merge_meta.json"), &meta) == XF_OK, "%s", xf_errmsg());
    char *buf = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &len);
    xf_t_span *lines = buf ? xf_t_split_lines(buf, len, &n_lines) : NULL;
    float *gold = (float *)xf_t_slurp(xf_t_src("tests/data/merge/minilm_merge_emb.f32"), &n_g);
    const cJSON *used = meta ? cJSON_GetObjectItem(meta, "lines") : NULL;
    const size_t n = cJSON_IsArray(used) ? (size_t)cJSON_GetArraySize(used) : 0, D = 384;
    CHECK_MSG(lines && gold && n && n_g == 2 * n * D * sizeof *gold, "merge goldens do not match (%zu texts, %zu bytes)", n, n_g);
    if (lines && gold && n && n_g == 2 * n * D * sizeof *gold) {
        const char **texts = malloc(n * sizeof *texts);
        size_t *lens = malloc(n * sizeof *lens);
        float *emb = malloc(n * D * sizeof *emb), one[384];
        for (size_t i = 0; i < n; i++) {
            const size_t ln = (size_t)cJSON_GetArrayItem(used, (int)i)->valuedouble;
            CHECK(ln < n_lines);
            texts[i] = lines[ln < n_lines ? ln : 0].p, lens[i] = lines[ln < n_lines ? ln : 0].n;
        }
        for (size_t k = 0; k < 2; k++) {
            xf_adaptive_params p = xf_adaptive_default_params();
            p.keep = shares[k], p.merge = 1;
            CHECK(xf_model_set_adaptive(m, &p) == XF_OK);
            CHECK_MSG(xf_embed_n(m, texts, lens, n, 32, emb, NULL) == XF_OK, "%s", xf_errmsg());
            double worst = 1, far = 0;
            size_t bad = 0, alone_differs = 0;
            for (size_t i = 0; i < n; i++) {
                const float *want = gold + (k * n + i) * D;
                const double c = xf_cosine(emb + i * D, want, D);
                worst = fmin(worst, c), bad += c < 0.99999;
                for (size_t d = 0; d < D; d++) far = fmax(far, fabs(emb[i * D + d] - want[d]));
                CHECK(xf_embed_n(m, texts + i, lens + i, 1, 1, one, NULL) == XF_OK);
                alone_differs += memcmp(one, emb + i * D, sizeof one) != 0;
            }
            xf_adaptive_stats st = xf_adaptive_stats_init();
            CHECK(xf_model_adaptive_stats(m, &st, 1) == XF_OK);
            printf("token merging keep %.1f: %zu texts, min cosine %.7f, max |diff| %.2e to PyTorch; %.1f%% of the token-layers\n",
                   (double)shares[k], n, worst, far, 100.0 * (double)st.token_layers / (double)st.token_layers_dense);
            CHECK_MSG(bad == 0, "keep %g: %zu of %zu texts below cosine 0.99999 to the PyTorch merge (min %.7f)",
                      (double)shares[k], bad, n, worst);
            CHECK_MSG(alone_differs == 0, "keep %g: %zu texts merged alone differ from the batch", (double)shares[k], alone_differs);
            CHECK(st.token_layers < st.token_layers_dense);
        }
        free(texts), free(lens), free(emb);
    }
    CHECK(xf_model_set_adaptive(m, NULL) == XF_OK);
    cJSON_Delete(meta);
    free(lines), free(buf), free(gold);
}

int main(void) {
    check_kernel(1, 32, 1, 1, 4);
    check_kernel(7, 32, 2, 2, 3);
    check_kernel(37, 20, 1, 4, 64);
    check_kernel(130, 32, 3, 1, 16);
    check_kernel(67, 64, 1, 2, 0); /* no tile memory: the reference path */
    for (int kind = 0; kind < MK_N; kind++) {
        check_masked(kind, 300, 70, 32, 2, 3); /* a chunk of 70 queries after 230 cached keys */
        check_masked(kind, 513, 1, 24, 3, 2);  /* a decode step */
    }
    tiny_checks();
    xf_model *dec = NULL;
    if (xf_model_load(xf_t_src("tests/data/tiny/llama"), NULL, &dec) == XF_OK) {
        xf_adaptive_params p = xf_adaptive_default_params();
        CHECK(xf_model_set_adaptive(dec, &p) == XF_ERR_UNSUPPORTED);
        xf_model_free(dec);
    }
    const char *dir = xf_t_model_dir();
    if (!dir) {
        xf_t_report();
        return xf_t_failed ? 1 : 77;
    }
    minilm_checks(dir);
    xf_model *mm = NULL;
    CHECK_MSG(xf_model_load(dir, NULL, &mm) == XF_OK, "%s", xf_errmsg());
    if (mm) minilm_merge_golden(mm);
    xf_model_free(mm);
    return xf_t_report();
}
