/* test_attention.c — the tiled online-softmax attention kernel (kernels/attention.h): against its
 * scalar reference by normalized error over odd lengths, head dims (odd ones too), bidirectional /
 * causal / sliding-window masks, grouped-query ratios and query offsets (sessions), per-key
 * biases (= keys repeated, for a bias of log n); bitwise
 * independence of a row's result from the block, head chunk and task that compute it, and from
 * the ISA level (AVX-512's 16-wide tiles against the AVX2 copy); and
 * xf_mha (layers.c) bitwise identical for 1 vs 2 threads and for a sequence alone vs packed in a
 * batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/attention.h"
#include "kernels/cpu.h"
#include "model/formats.h"
#include "model/forward.h"

/* The whole problem with the kernel: every kv head, query blocks of qb positions (<= the kernel's
 * limit), heads in chunks of hc. */
static void run_all(const xf_attn_problem *p, size_t n_kv, size_t qb, size_t hc, float *scratch) {
    for (size_t q0 = 0; q0 < p->n_q; q0 += qb)
        for (size_t g = 0; g < n_kv; g++)
            for (size_t h0 = 0; h0 < p->group; h0 += hc)
                xf_attention(p, g, h0, h0 + hc < p->group ? h0 + hc : p->group, q0, q0 + qb < p->n_q ? q0 + qb : p->n_q,
                             scratch);
}

typedef struct {
    xf_attn_problem p;
    size_t n_kv;
    float *Q, *K, *V, *O, *R;
} problem;

static problem make(size_t n_q, size_t p0, size_t dh, size_t group, size_t n_kv, int causal, size_t window) {
    problem P = {.n_kv = n_kv};
    const size_t n_k = causal ? p0 + n_q : n_q + p0, ldq = group * n_kv * dh, ldk = n_kv * dh + 3;
    P.Q = xf_t_randv(n_q * ldq, 2.0f), P.K = xf_t_randv(n_k * ldk, 2.0f), P.V = xf_t_randv(n_k * ldk, 1.0f);
    P.O = calloc(n_q * ldq, sizeof(float)), P.R = calloc(n_q * ldq, sizeof(float));
    P.p = (xf_attn_problem){.Q = P.Q, .K = P.K, .V = P.V, .O = P.O, .ldq = ldq, .ldk = ldk, .ldv = ldk, .ldo = ldq,
                            .n_q = n_q, .q_pos0 = p0, .n_k = n_k, .dh = dh, .group = group,
                            .scale = 1.0f / sqrtf((float)dh), .causal = causal, .window = window};
    return P;
}

static void drop(problem *P) { free(P->Q), free(P->K), free(P->V), free(P->O), free(P->R); }

/* Every combination (stride 1) or every stride-th one. */
static void test_vs_ref(size_t stride) {
    size_t n = 0;
    const size_t lens[] = {1, 3, 17, 100, 257}, dims[] = {32, 64, 80, 128, 7, 33}, groups[] = {1, 3, 4};
    /* windows with attention sinks: inside the first key block, and spanning two blocks (70) */
    const struct { int causal; size_t window, p0, sinks; } masks[] = {
        {0, 0, 0, 0}, {1, 0, 0, 0}, {1, 5, 0, 0}, {1, 64, 0, 0}, {1, 0, 70, 0}, {1, 33, 130, 0},
        {1, 5, 0, 2}, {1, 9, 130, 4}, {1, 10, 60, 70}, {0, 5, 0, 0}, {0, 40, 0, 0}};
    for (size_t a = 0; a < sizeof lens / sizeof *lens; a++)
        for (size_t b = 0; b < sizeof dims / sizeof *dims; b++)
            for (size_t c = 0; c < sizeof groups / sizeof *groups; c++)
                for (size_t m = 0; m < sizeof masks / sizeof *masks; m++) {
                    if (n++ % stride) continue;
                    const size_t L = lens[a], dh = dims[b], group = groups[c], n_kv = c == 1 ? 1 : 2;
                    problem P = make(L, masks[m].p0, dh, group, n_kv, masks[m].causal, masks[m].window);
                    P.p.sinks = masks[m].sinks;
                    float *scr = malloc(xf_attention_scratch(group, dh) * sizeof(float));
                    run_all(&P.p, n_kv, xf_attention_qblock(group), group, scr);
                    P.p.O = P.R;
                    for (size_t g = 0; g < n_kv; g++) xf_attention_ref(&P.p, g, 0, group, 0, L);
                    double e = xf_t_nerr(P.O, P.R, L * P.p.ldq);
                    CHECK_MSG(e < 1e-5, "L=%zu dh=%zu group=%zu causal=%d window=%zu p0=%zu sinks=%zu: normalized error %.3g",
                              L, dh, group, masks[m].causal, masks[m].window, masks[m].p0, masks[m].sinks, e);
                    free(scr);
                    drop(&P);
                }
}

/* Per-key biases (token merging's proportional attention): the kernel = its reference with the
 * bias, and a bias of log n_j = the reference on keys whose row j is there n_j times. */
static void test_key_bias(void) {
    const size_t lens[] = {1, 17, 100, 257}, dims[] = {32, 33};
    const struct { int causal; size_t window; } masks[] = {{0, 0}, {0, 40}, {1, 0}, {1, 9}};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 2; b++)
            for (size_t m = 0; m < 4; m++) {
                const size_t L = lens[a], dh = dims[b], group = m % 2 ? 3 : 1, n_kv = 2;
                problem P = make(L, 0, dh, group, n_kv, masks[m].causal, masks[m].window);
                size_t *reps = malloc(L * sizeof *reps), n2 = 0;
                float *bias = malloc(L * sizeof *bias);
                for (size_t j = 0; j < L; j++) reps[j] = 1 + (j * 7 + a) % 4, n2 += reps[j], bias[j] = logf((float)reps[j]);
                P.p.k_bias = bias;
                float *scr = malloc(xf_attention_scratch(group, dh) * sizeof(float));
                run_all(&P.p, n_kv, xf_attention_qblock(group), group, scr);
                P.p.O = P.R;
                for (size_t g = 0; g < n_kv; g++) xf_attention_ref(&P.p, g, 0, group, 0, L);
                double e = xf_t_nerr(P.O, P.R, L * P.p.ldq);
                CHECK_MSG(e < 1e-5, "key bias L=%zu dh=%zu causal=%d window=%zu: normalized error %.3g", L, dh,
                          masks[m].causal, masks[m].window, e);
                if (!masks[m].causal && !masks[m].window) { /* duplicated keys, no bias */
                    const size_t ldk = P.p.ldk;
                    float *K2 = malloc(n2 * ldk * sizeof *K2), *V2 = malloc(n2 * ldk * sizeof *V2);
                    for (size_t j = 0, w = 0; j < L; j++)
                        for (size_t r = 0; r < reps[j]; r++, w++) {
                            memcpy(K2 + w * ldk, (const float *)P.p.K + j * ldk, ldk * sizeof *K2);
                            memcpy(V2 + w * ldk, (const float *)P.p.V + j * ldk, ldk * sizeof *V2);
                        }
                    xf_attn_problem d = P.p;
                    d.K = K2, d.V = V2, d.n_k = n2, d.k_bias = NULL;
                    for (size_t g = 0; g < n_kv; g++) xf_attention_ref(&d, g, 0, group, 0, L);
                    e = xf_t_nerr(P.O, P.R, L * P.p.ldq);
                    CHECK_MSG(e < 1e-5, "key bias log n L=%zu dh=%zu: %.3g from n copies of each key", L, dh, e);
                    free(K2), free(V2);
                }
                free(scr), free(reps), free(bias);
                drop(&P);
            }
}

/* The AVX-512 level's 16-wide products (kernels/attention_avx512.c) give the AVX2 copy's bits:
 * the same FMA chains per score and per output, only wider registers. */
static void test_levels_bitwise(void) {
    if (xf_isa_cpu_level() < XF_ISA_AVX512) {
        printf("attention: no AVX-512 on this CPU, its 16-wide tiles not compared\n");
        return;
    }
    const size_t lens[] = {1, 5, 17, 100, 257}, dims[] = {32, 64, 80, 128, 7, 33, 40, 200};
    int n = 0;
    for (size_t a = 0; a < sizeof lens / sizeof *lens; a++)
        for (size_t b = 0; b < sizeof dims / sizeof *dims; b++)
            for (int causal = 0; causal < 2; causal++) {
                const size_t L = lens[a], dh = dims[b], group = b % 2 ? 3 : 1, n_kv = 2, p0 = causal ? 40 : 0;
                problem P = make(L, p0, dh, group, n_kv, causal, 0);
                float *scr = malloc(xf_attention_scratch(group, dh) * sizeof(float));
                run_all(&P.p, n_kv, xf_attention_qblock(group), group, scr);
                xf_isa_cap(XF_ISA_AVX2);
                P.p.O = P.R;
                run_all(&P.p, n_kv, xf_attention_qblock(group), group, scr);
                xf_isa_cap(XF_ISA_AVX512);
                CHECK_MSG(memcmp(P.O, P.R, L * P.p.ldq * sizeof(float)) == 0,
                          "attention L=%zu dh=%zu group=%zu causal=%d: AVX-512 and AVX2 levels differ", L, dh, group, causal);
                n++;
                free(scr);
                drop(&P);
            }
    printf("attention: %d problems bitwise equal at the AVX-512 and AVX2 levels\n", n);
}

/* A row's result must not depend on its block: whole blocks, one position at a time, one head at a
 * time, and odd block sizes all give the same bits. */
static void test_blocking_bitwise(void) {
    const struct { size_t L, dh, group, p0, window; int causal; size_t sinks; } cases[] = {
        {150, 64, 3, 0, 0, 1, 0}, {130, 32, 1, 0, 0, 0, 0}, {77, 80, 4, 200, 50, 1, 0}, {200, 33, 2, 0, 70, 1, 0},
        {200, 33, 2, 0, 20, 1, 4}, {77, 80, 4, 200, 50, 1, 66}, {200, 32, 2, 0, 9, 0, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const size_t group = cases[c].group, dh = cases[c].dh, L = cases[c].L;
        problem P = make(L, cases[c].p0, dh, group, 2, cases[c].causal, cases[c].window);
        P.p.sinks = cases[c].sinks;
        float *scr = malloc(xf_attention_scratch(group, dh) * sizeof(float));
        const size_t qb = xf_attention_qblock(group), n = L * P.p.ldq;
        run_all(&P.p, 2, qb, group, scr);
        const size_t splits[][2] = {{1, group}, {qb, 1}, {1, 1}, {qb > 7 ? 7 : 1, group > 1 ? group - 1 : 1}};
        for (size_t s = 0; s < sizeof splits / sizeof *splits; s++) {
            P.p.O = P.R;
            memset(P.R, 0, n * sizeof(float));
            run_all(&P.p, 2, splits[s][0], splits[s][1], scr);
            CHECK_MSG(memcmp(P.O, P.R, n * sizeof(float)) == 0, "case %zu: blocks of %zu positions x %zu heads differ", c,
                      splits[s][0], splits[s][1]);
            P.p.O = P.O;
        }
        /* a session's chunk: the last rows as queries at offset, against the same keys */
        if (cases[c].causal) {
            const size_t cut = L / 3;
            xf_attn_problem q = P.p;
            q.Q += cut * q.ldq, q.O = P.R + cut * q.ldo, q.n_q = L - cut, q.q_pos0 += cut;
            run_all(&q, 2, qb, group, scr);
            CHECK_MSG(memcmp(P.O + cut * q.ldo, P.R + cut * q.ldo, (L - cut) * q.ldo * sizeof(float)) == 0,
                      "case %zu: a chunk at offset %zu differs from the whole", c, cut);
        }
        free(scr);
        drop(&P);
    }
}

/* A bidirectional window over key positions (tokens dropped from an encoder batch): positions
 * 0, 1, 2, ... give the index mask's result; gapped positions match the reference. */
static void test_window_positions(void) {
    const size_t L = 150, dh = 32, group = 2, W = 9;
    problem P = make(L, 0, dh, group, 2, 0, W);
    int32_t *pos = malloc(L * sizeof *pos);
    float *scr = malloc(xf_attention_scratch(group, dh) * sizeof(float));
    run_all(&P.p, 2, xf_attention_qblock(group), group, scr);
    for (size_t j = 0; j < L; j++) pos[j] = (int32_t)j;
    P.p.k_pos = P.p.q_pos = pos, P.p.O = P.R;
    run_all(&P.p, 2, xf_attention_qblock(group), group, scr);
    double e = xf_t_nerr(P.O, P.R, L * P.p.ldq);
    CHECK_MSG(e < 1e-6, "bidirectional window by positions 0..L-1 vs by index: normalized error %.3g", e);
    for (size_t j = 0; j < L; j++) pos[j] = (int32_t)(j + j / 3); /* every third position dropped */
    P.p.O = P.O;
    run_all(&P.p, 2, xf_attention_qblock(group), group, scr);
    P.p.O = P.R;
    for (size_t g = 0; g < 2; g++) xf_attention_ref(&P.p, g, 0, group, 0, L);
    e = xf_t_nerr(P.O, P.R, L * P.p.ldq);
    CHECK_MSG(e < 1e-5, "bidirectional window by gapped positions: normalized error %.3g", e);
    free(pos), free(scr);
    drop(&P);
}

static void test_cached(void) {
    const size_t dims[] = {8, 16, 64, 100}, lens[] = {1, 2, 7, 33, 130, 300};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 6; b++) {
            const size_t dh = dims[a], n = lens[b], ld = dh * 3;
            float *K = xf_t_randv(n * ld, 3.0f), *V = xf_t_randv(n * ld, 1.0f), *q = xf_t_randv(dh, 3.0f), o[100], r[100];
            float *scr = malloc(xf_attention_scratch(1, dh) * sizeof(float));
            xf_attention_cached(q, K + dh, ld, V + dh, ld, n, dh, 1.0f / sqrtf((float)dh), o, scr);
            xf_attention_cached_ref(q, K + dh, ld, V + dh, ld, n, dh, 1.0f / sqrtf((float)dh), r);
            double e = xf_t_nerr(o, r, dh);
            CHECK_MSG(e < 1e-5, "cached dh=%zu n=%zu: normalized error %.3g", dh, n, e);
            free(K), free(V), free(q), free(scr);
        }
}

/* The attention sublayer (forward.c: projections, attention per sequence, output projection) over
 * a packed batch with random projections: 1 vs 2 threads and each sequence alone vs in the batch
 * give identical bits; also with query-head groups of different sizes. */
static void test_mha_bitwise(xf_pool *p1, xf_pool *p2) {
    const size_t H = 48, lens[] = {5, 1, 70, 17, 130};
    const size_t n_seq = sizeof lens / sizeof *lens;
    size_t off[6] = {0};
    for (size_t s = 0; s < n_seq; s++) off[s + 1] = off[s] + lens[s];
    const size_t T = off[n_seq];
    static size_t uneven[] = {0, 1, 3, 6}; /* 6 query heads over 3 kv heads as 1 + 2 + 3 */
    const struct { size_t heads, kv, dh; int causal; size_t window; size_t *q_off; } cfgs[] = {
        {4, 4, 12, 0, 0, NULL}, {6, 2, 8, 1, 0, NULL}, {3, 1, 16, 1, 9, NULL}, {2, 2, 24, 1, 0, NULL},
        {6, 3, 8, 1, 0, uneven}};
    int32_t pos[512];
    for (size_t s = 0; s < n_seq; s++)
        for (size_t t = off[s]; t < off[s + 1]; t++) pos[t] = (int32_t)(t - off[s]);
    for (size_t c = 0; c < sizeof cfgs / sizeof *cfgs; c++) {
        xf_attn_plan a = {.n_heads = cfgs[c].heads, .head_dim = cfgs[c].dh, .n_kv_heads = cfgs[c].kv,
                          .causal = cfgs[c].causal, .window = cfgs[c].window, .q_off = cfgs[c].q_off,
                          .scale = 1.0f / sqrtf((float)cfgs[c].dh)};
        const size_t inner = a.n_heads * a.head_dim, kvd = a.n_kv_heads * a.head_dim;
        float *Wq = xf_t_randv(inner * H, 0.5f), *Wk = xf_t_randv(kvd * H, 0.5f), *Wv = xf_t_randv(kvd * H, 0.5f),
              *Wo = xf_t_randv(H * inner, 0.5f), *X = xf_t_randv(T * H, 1.0f);
        a.q.w = (xf_weight){.fmt = &xf_fmt_f32, .rows = inner, .cols = H, .data = Wq};
        a.k.w = (xf_weight){.fmt = &xf_fmt_f32, .rows = kvd, .cols = H, .data = Wk};
        a.v.w = (xf_weight){.fmt = &xf_fmt_f32, .rows = kvd, .cols = H, .data = Wv};
        a.o.w = (xf_weight){.fmt = &xf_fmt_f32, .rows = H, .cols = inner, .data = Wo};
        float *Y1 = malloc(T * H * 4), *Y2 = malloc(T * H * 4), *Ys = malloc(T * H * 4);
        float *scr = malloc(xf_attention_layer_scratch(&a, T, 2) * sizeof(float));
        xf_attn_problem probs[8];
        xf_fwd f = {.n_seq = n_seq, .off = off, .pos = pos};
        xf_attention_layer(p1, &a, &f, 0, X, Y1, probs, scr);
        xf_attention_layer(p2, &a, &f, 0, X, Y2, probs, scr);
        CHECK_MSG(memcmp(Y1, Y2, T * H * 4) == 0, "mha config %zu: 1 vs 2 threads differ", c);
        for (size_t s = 0; s < n_seq; s++) {
            size_t o1[2] = {0, lens[s]};
            xf_fwd one = {.n_seq = 1, .off = o1, .pos = pos + off[s]};
            xf_attention_layer(p2, &a, &one, 0, X + off[s] * H, Ys + off[s] * H, probs, scr);
        }
        CHECK_MSG(memcmp(Y1, Ys, T * H * 4) == 0, "mha config %zu: sequences alone differ from the batch", c);
        free(Wq), free(Wk), free(Wv), free(Wo), free(X), free(Y1), free(Y2), free(Ys), free(scr);
    }
}

int main(void) {
    xf_pool *p1 = NULL, *p2 = NULL;
    CHECK(xf_pool_create(1, &p1) == XF_OK);
    CHECK(xf_pool_create(2, &p2) == XF_OK);
    test_vs_ref(1);
    test_key_bias();
    /* the kernel's AVX2 and baseline copies (kernels/cpu.h), on a third of the cases */
    for (int l = xf_isa_cpu_level() - 1; l >= XF_ISA_SCALAR; l--) {
        xf_isa_cap((xf_isa_level_t)l);
        test_vs_ref(3);
        test_key_bias();
    }
    xf_isa_cap(XF_ISA_AVX512);
    test_levels_bitwise();
    test_blocking_bitwise();
    test_window_positions();
    test_cached();
    test_mha_bitwise(p1, p2);
    xf_pool_free(p1);
    xf_pool_free(p2);
    return xf_t_report();
}
