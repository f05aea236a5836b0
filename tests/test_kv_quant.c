/* test_kv_quant.c — the quantized KV caches (model/kv_quant.c, XF_KV_Q8 / XF_KV_Q4):
 *   - formats: a q8 block reproduces each value within half its scale step (plus 127 times the
 *     half rounding of the scale), a q4 block within
 *     half of (max - min) / 15 (plus the half-precision rounding of the stored scale and minimum),
 *     a block of equal values exactly; rows whose width is not a multiple of 32 (a partial block);
 *   - the cache: a q4 layer keeps the newest slots float32 (bitwise) until a group of 32 is
 *     complete, then keys per channel and values per token; q8 slots are rows;
 *   - kernel: attention reading a quantized layer through its tile reader equals, bitwise, the
 *     float attention over the same cache dequantized (xf_kv_row) — causal, grouped query heads,
 *     a head size that is not a multiple of 8 — and the scalar reference (xf_attention_ref) reads
 *     the same values (normalized error < 1e-6);
 *   - model (tiny llama): q8 / q4 sessions stay close to F32 (q8 within 2 %, q4 within 15 % of the
 *     largest logit); q8 results do not depend on how the prompt is split into chunks (bitwise);
 *     memory per slot is 8.5 / 5 bits a value; q4 with an evicting policy is refused by name. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "harness.h"
#include "kernels/attention.h"
#include "model/kv_cache.h"
#include "xfmr.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static float half_of(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return xf_f16_to_f32(h);
}

/* (Amplitudes keep the half scales normal: below ~0.008 a q8 block's scale is a subnormal half and
 * loses precision, as llama.cpp's Q8_0 does.) */
static void test_formats(void) {
    float x[40];
    uint8_t q[2 * XF_KV_Q8_BYTES];
    int q8_ok = 1, q4_ok = 1;
    for (int trial = 0; trial < 200; trial++) {
        const float amp = trial % 3 == 0 ? 0.02f : trial % 3 == 1 ? 1.0f : 300.0f;
        for (int i = 0; i < 40; i++) x[i] = amp * frand() + (trial % 5 == 0 ? 2.0f * amp : 0.0f);
        xf_kv_q8_row(x, 40, q); /* a block of 32 and a partial one of 8 */
        xf_kv_layer L = {.kv_dim = 40, .type = XF_KV_Q8, .k = q, .v = q, .n = 1};
        float y[40];
        xf_kv_row(&L, 0, 0, y);
        for (int i = 0; i < 40; i++) {
            const float d = half_of(q + (i / 32) * XF_KV_Q8_BYTES);
            /* q = round(x / d) with d unrounded, as llama.cpp; d is stored as a half */
            if (fabsf(y[i] - x[i]) > 0.57f * d) q8_ok = 0;
        }
        uint8_t b[XF_KV_Q4_BYTES];
        xf_kv_q4_block(x, 1, 32, b);
        float lo = x[0], hi = x[0];
        for (int i = 0; i < 32; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
        const float s = half_of(b), m = half_of(b + 2);
        for (int i = 0; i < 32; i++) {
            const float v = m + s * (float)((b[4 + i / 2] >> (4 * (i & 1))) & 15);
            /* the half-rounded minimum may shift the grid by ~1e-3 relative of the range's values */
            if (fabsf(v - x[i]) > 0.5f * s * 1.001f + 2e-3f * fmaxf(fabsf(lo), fabsf(hi))) q4_ok = 0;
        }
    }
    CHECK_MSG(q8_ok, "a q8 value is off by more than half its scale step (+ the half rounding of the scale)");
    CHECK_MSG(q4_ok, "a q4 value is off by more than half its step (max - min) / 15");
    for (int i = 0; i < 32; i++) x[i] = 0.75f;
    uint8_t b[XF_KV_Q4_BYTES];
    xf_kv_q4_block(x, 1, 32, b);
    CHECK_MSG(half_of(b) == 0.0f && half_of(b + 2) == 0.75f, "a constant q4 block is not exact");
    CHECK(strcmp(xf_kv_type_name(XF_KV_Q4), "q4") == 0 && xf_kv_type_name(7) == NULL);
    CHECK(xf_kv_row_bytes(XF_KV_Q8, 64) == 68 && xf_kv_row_bytes(XF_KV_Q4, 40) == 40 && xf_kv_row_bytes(XF_KV_F32, 3) == 12);
}

/* A layer of `type` filled with n random slots (positions 0..n-1), appended in chunks of `chunk`. */
static int fill_layer(xf_kv_layer *L, int type, size_t kv_dim, size_t n, size_t chunk, float **Kout, float **Vout) {
    memset(L, 0, sizeof *L);
    L->kv_dim = kv_dim, L->n_heads = 1, L->type = type, L->in_order = 1, L->cap = n;
    const size_t row = xf_kv_row_bytes(type, kv_dim), groups = (n + 31) / 32;
    L->k = calloc(type == XF_KV_Q4 ? groups * kv_dim * XF_KV_Q4_BYTES : n * row, 1);
    L->v = calloc(type == XF_KV_Q4 ? groups * 32 * row : n * row, 1);
    L->pos = malloc(n * sizeof *L->pos);
    if (type == XF_KV_Q4) L->rk = malloc(32 * kv_dim * 4), L->rv = malloc(32 * kv_dim * 4);
    float *K = malloc(n * kv_dim * 4), *V = malloc(n * kv_dim * 4);
    int32_t *pos = malloc(n * sizeof *pos);
    for (size_t i = 0; i < n * kv_dim; i++) K[i] = frand() * (1.0f + (i % kv_dim == 3) * 8.0f), V[i] = frand();
    for (size_t i = 0; i < n; i++) pos[i] = (int32_t)i;
    for (size_t i = 0; i < n; i += chunk)
        xf_kv_append(L, K + i * kv_dim, V + i * kv_dim, kv_dim, pos + i, n - i < chunk ? n - i : chunk);
    free(pos);
    *Kout = K, *Vout = V;
    return L->k && L->v && L->pos;
}

static void free_layer(xf_kv_layer *L) { free(L->k), free(L->v), free(L->pos), free(L->rk), free(L->rv); }

static void test_q4_residual(void) {
    xf_kv_layer L;
    float *K, *V;
    const size_t d = 24;
    if (!fill_layer(&L, XF_KV_Q4, d, 77, 5, &K, &V)) return;
    CHECK_MSG(L.n == 77 && L.nq == 64, "77 slots: %zu held, %zu quantized (64 expected)", L.n, L.nq);
    float row[24];
    int resid_exact = 1, quant_close = 1, quant_exact = 1;
    for (size_t j = 0; j < 77; j++)
        for (int values = 0; values < 2; values++) {
            xf_kv_row(&L, values, j, row);
            const float *src = (values ? V : K) + j * d;
            for (size_t c = 0; c < d; c++) {
                if (j >= 64 && row[c] != src[c]) resid_exact = 0;
                if (j < 64 && fabsf(row[c] - src[c]) > (values ? 0.08f : 0.7f)) quant_close = 0;
                if (j < 64 && row[c] != src[c]) quant_exact = 0;
            }
        }
    CHECK_MSG(resid_exact, "q4: the residual slots are not kept exactly");
    CHECK_MSG(quant_close && !quant_exact, "q4: quantized slots are not within a 4-bit step of the originals");
    free(K), free(V), free_layer(&L);
}

/* Attention through the tile reader == float attention over the dequantized cache (bitwise);
 * dh = 64: the whole-block readers (q8: the GGUF Q8_0 dequantizer), dh = 20: the value-by-value ones. */
static void test_kernel(int type, size_t dh) {
    const size_t n_kv = 2, group = 3, kvd = n_kv * dh, n = 150, nq = 6, ldq = n_kv * group * dh;
    xf_kv_layer L;
    float *K, *V;
    if (!fill_layer(&L, type, kvd, n, 13, &K, &V)) return;
    float *Kd = malloc(n * kvd * 4), *Vd = malloc(n * kvd * 4), *Q = malloc(nq * ldq * 4);
    for (size_t j = 0; j < n; j++) xf_kv_row(&L, 0, j, Kd + j * kvd), xf_kv_row(&L, 1, j, Vd + j * kvd);
    int same = 1; /* whole tiles (q8 at dh % 32 == 0: the block reader) == one value at a time */
    for (int values = 0; values < 2; values++)
        for (size_t j = 0; j < n; j++)
            for (size_t c = 0; c < kvd; c++) {
                float x;
                xf_kv_tile(&L, values, j, 1, c, 1, 1, &x);
                same &= memcmp(&x, (values ? Vd : Kd) + j * kvd + c, sizeof x) == 0;
            }
    CHECK_MSG(same, "%s, dh %zu: the tile reader's rows differ from its values read one at a time", xf_kv_type_name(type), dh);
    for (size_t i = 0; i < nq * ldq; i++) Q[i] = frand();
    float *Oq = calloc(nq * ldq, 4), *Of = calloc(nq * ldq, 4), *scr = malloc(xf_attention_scratch(group, dh) * 4);
    xf_attn_problem pq = {.Q = Q, .O = Oq, .ldq = ldq, .ldo = ldq, .n_q = nq, .q_pos0 = n - nq, .n_k = n, .dh = dh,
                          .group = group, .scale = 0.2f, .causal = 1, .kv_tile = xf_kv_tile, .kv_ctx = &L};
    xf_attn_problem pf = pq;
    pf.kv_tile = NULL, pf.kv_ctx = NULL, pf.K = Kd, pf.V = Vd, pf.ldk = pf.ldv = kvd, pf.O = Of;
    for (size_t g = 0; g < n_kv; g++) {
        xf_attention(&pq, g, 0, group, 0, nq, scr);
        xf_attention(&pf, g, 0, group, 0, nq, scr);
    }
    CHECK_MSG(memcmp(Oq, Of, nq * ldq * 4) == 0, "%s, dh %zu: attention through the tile reader differs from the "
              "dequantized cache's", xf_kv_type_name(type), dh);
    pq.O = Of;
    for (size_t g = 0; g < n_kv; g++) xf_attention_ref(&pq, g, 0, group, 0, nq);
    double num = 0, den = 0;
    for (size_t i = 0; i < nq * ldq; i++) num += (Oq[i] - Of[i]) * (double)(Oq[i] - Of[i]), den += Of[i] * (double)Of[i];
    const double worst = sqrt(num / den);
    CHECK_MSG(worst < 1e-6, "%s: kernel vs scalar reference on the quantized cache: %.3g", xf_kv_type_name(type), worst);
    float acc[3 * 150] = {0};
    xf_attention_weights(&pq, 1, 0, group, nq - 1, nq, acc, n);
    double sum = 0;
    for (size_t j = 0; j < n; j++) sum += acc[j];
    CHECK_MSG(fabs(sum - 1.0) < 1e-5, "%s: attention weights over the quantized cache sum to %.7f", xf_kv_type_name(type), sum);
    free(K), free(V), free(Kd), free(Vd), free(Q), free(Oq), free(Of), free(scr), free_layer(&L);
}

static double max_rel(const float *a, const float *b, size_t n) {
    double mx = 0, d = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(b[i])), d = fmax(d, fabs(a[i] - b[i]));
    return d / (mx > 0 ? mx : 1);
}

static void test_model(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/llama", xf_t_src("tests/data/tiny"));
    xf_model_params mp = xf_model_default_params();
    mp.n_threads = 2;
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(dir, &mp, &m) == XF_OK, "tiny llama: %s", xf_errmsg());
    if (!m) return;
    const size_t V = xf_model_vocab_size(m), T = 100;
    int32_t ids[100];
    for (size_t i = 0; i < T; i++) ids[i] = (int32_t)((i * 13 + 5) % V);
    float *ref = malloc(V * 4), *a = malloc(V * 4), *b = malloc(V * 4);
    xf_session_params p = xf_session_default_params();
    p.n_ctx = 128;
    xf_session *s = NULL, *s2 = NULL;
    CHECK(xf_session_create_ex(m, &p, &s) == XF_OK && xf_session_eval(s, ids, T, ref) == XF_OK);
    const size_t f32_bytes = xf_session_kv_bytes(s);
    xf_session_free(s), s = NULL;
    const double bound[] = {0, 0, 0.02, 0.15};
    for (int type = XF_KV_Q8; type <= XF_KV_Q4; type++) {
        p.kv_type = (xf_kv_type)type;
        CHECK(xf_session_create_ex(m, &p, &s) == XF_OK && xf_session_create_ex(m, &p, &s2) == XF_OK);
        if (!s || !s2) break;
        CHECK(xf_session_eval(s, ids, T, a) == XF_OK);
        const double e = max_rel(a, ref, V);
        CHECK_MSG(e < bound[type] && e > 0, "%s cache: logits differ from F32 by %.3g (relative; bound %.2f)",
                  xf_kv_type_name(type), e, bound[type]);
        /* the same prompt in chunks of 1, 7 and the rest */
        int ok = 1;
        for (size_t i = 0; i < T && ok;) {
            const size_t c = i < 10 ? 1 : i < 52 ? 7 : T - i;
            ok = xf_session_eval(s2, ids + i, c, b) == XF_OK;
            i += c;
        }
        CHECK(ok);
        if (type == XF_KV_Q8)
            CHECK_MSG(memcmp(a, b, V * 4) == 0, "q8: a prompt in chunks gives other logits than in one piece");
        else
            CHECK_MSG(max_rel(a, b, V) < bound[type], "q4: chunked prompt differs by %.3g", max_rel(a, b, V));
        /* bytes: 128 slots x 2 layers x 32 kv values x (K + V) at 34/32 or 20/32 bytes, + positions
         * (and q4's float residual of 32 slots) */
        const size_t kv = type == XF_KV_Q8 ? 34 : 20, expect = 128 * 2 * (2 * kv + 4) + (type == XF_KV_Q4) * 2 * 2 * 32 * 32 * 4;
        CHECK_MSG(xf_session_kv_bytes(s) == expect, "%s: %zu bytes held (%zu expected; F32 %zu)", xf_kv_type_name(type),
                  xf_session_kv_bytes(s), expect, f32_bytes);
        xf_session_free(s), xf_session_free(s2), s = s2 = NULL;
    }
    p.kv_type = XF_KV_Q4, p.kv_policy = "h2o", p.kv_budget = 64;
    CHECK(xf_session_create_ex(m, &p, &s) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "h2o") && s == NULL);
    p.kv_type = (xf_kv_type)9, p.kv_policy = NULL;
    CHECK(xf_session_create_ex(m, &p, &s) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "kv_type 9"));
    free(ref), free(a), free(b);
    xf_model_free(m);
}

int main(void) {
    test_formats();
    test_q4_residual();
    test_kernel(XF_KV_Q8, 20);
    test_kernel(XF_KV_Q8, 64);
    test_kernel(XF_KV_Q4, 20);
    test_kernel(XF_KV_Q4, 64);
    test_kernel(XF_KV_F16, 20);
    test_model();
    return xf_t_report();
}
