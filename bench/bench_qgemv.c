/* bench_qgemv.c — the one-row (decode) GEMV of GGUF quantized weights, per type: the hand-written
 * kernel of qgemv_avx2.c (AVX2 or AVX-512VL, as xf_qgemv picks) against qmatmul.c's generic GEMV
 * (xf_qgemv_decode), and the int8-activation GEMV of --weights int8 (qgemv_q8.c, best ISA, the
 * activations quantized once outside the timing), on weights that stay in cache (N x K small) and on weights streamed from memory
 * (a set of matrices larger than the last-level cache, visited in turn). Single thread; prints one
 * JSON object with, per type and case, ns per call (median of R runs, CPU time of the process) and
 * the weight bytes per ns (GB/s).
 *
 * --crossover: instead, per type and number of activation rows T = 1..32, the time per call of the
 * three multi-row paths on the streamed matrices (the products of a batched decode step): the
 * float GEMV (xf_qgemv, passes of 4 rows), the dequantize + fp32 GEMM path (xf_qgemm) and the
 * int8-activation GEMV (xf_qgemv_q8_isa, the activations' quantization included); one JSON object
 * per line: {"type", "T", "gemv_ns", "gemm_ns", "int8_ns"}. Used to set each path's row limit
 * (XF_QMM_GEMV_MAX_T, XF_QMM_Q8_MAX_T in qmatmul.h).
 *
 * --shapes NxK,... [--threads T]: instead, per type and shape, the one-row int8-activation product
 * through the threaded driver xf_qmatmul_q8 (activation quantization and the pool's fork-join
 * included), on copies of the N x K matrix enough for 384 MB, visited in turn (weights from
 * memory, as in a decode step); one JSON object per line with wall and CPU ns per call and the
 * weight GB/s by wall time. Qwen2.5-1.5B's shapes: 1536x1536 (q, o), 256x1536 (k, v),
 * 8960x1536 (gate, up), 1536x8960 (down).
 *
 * --s24 NxK,...: instead, per shape, the one-row product of 2:4 weights with int8 kept values
 * (s24q8, xf_s24i_range on the best ISA: `--sparsity 2:4 --weights int8`) against the same shape
 * dense in Q8_0 repacked for the int8 decode (xf_r16_gemv_isa: `--weights int8` on a Q8_0 GGUF),
 * each on copies of the matrix enough for 256 MB visited in turn, activations quantized outside
 * the timing, single thread, the two kernels' runs interleaved; one JSON object per shape with ns
 * per call (medians of CPU time), weight bytes, GB/s and the time ratio dense / 2:4. SmolLM2's
 * shapes: 576x576 (q, o), 192x576 (k, v), 1536x576 (gate, up), 576x1536 (down), 49152x576 (head).
 * With --hot: one copy of each, 2000 calls per run (weights in cache: what the kernels' instructions
 * cost, apart from memory).
 *
 * --gemm NxK,... [--prompt T] [--threads T]: instead, per K type and shape, the prefill product of
 * `--weights int8` (xf_qgemm_q8_isa: T activation rows, 512 by default, quantized inside the call)
 * on every int8 ISA the CPU runs (AVX2, AVX-VNNI, AVX-512 VNNI; the results are the same bits), one
 * matrix (the weights stay in the caches as a prefill's do); one JSON object per line with wall
 * ns per call (median) and GMAC/s (N K T / wall; best_: of the fastest call, for a shared machine). Qwen2.5-1.5B's FFN: 8960x1536, 1536x8960.
 *
 * usage: bench_qgemv [--types Q4_K,Q6_K,...] [--runs R] [--crossover] [--shapes NxK,... [--threads T]]
 *                    [--s24 NxK,... [--hot]] [--gemm NxK,... [--prompt T] [--threads T]] */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "io/gguf.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qmatmul.h"
#include "kernels/quants.h"
#include "kernels/qgemv_r16.h"
#include "kernels/sparse24.h"

#include "bench_util.h"

static uint64_t g_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return (uint32_t)(g_state >> 16);
}

/* Random blocks with small finite half scales at the type's half fields (as test_qmatmul does). */
static void fill(const xf_quant_traits *q, uint8_t *W, size_t n_blocks) {
    int halves[2] = {-1, -1};
    switch (q->ggml_type) {
    case XF_GGML_Q4_1: case XF_GGML_Q5_1: case XF_GGML_Q4_K: case XF_GGML_Q5_K: halves[0] = 0, halves[1] = 2; break;
    case XF_GGML_Q2_K: halves[0] = 80, halves[1] = 82; break;
    case XF_GGML_Q3_K: halves[0] = 108; break;
    case XF_GGML_Q6_K: halves[0] = 208; break;
    default: halves[0] = 0; break;
    }
    for (size_t i = 0; i < n_blocks * q->type_size; i++) W[i] = (uint8_t)rnd();
    for (size_t b = 0; b < n_blocks; b++)
        for (int h = 0; h < 2; h++)
            if (halves[h] >= 0) {
                uint16_t v = (uint16_t)(0x2000 + rnd() % 0x1000); /* ~2^-7 .. 2^-6 */
                memcpy(W + b * q->type_size + halves[h], &v, 2);
            }
}

static const xf_quant_traits *type_named(const char *name) {
    for (int id = 0; id < 32; id++) {
        const xf_quant_traits *c = xf_quant_traits_of(id);
        if (c && !strcmp(c->name, name) && xf_qmatmul_has(id)) return c;
    }
    fprintf(stderr, "bench_qgemv: unknown type %s\n", name);
    return NULL;
}

/* --crossover (see the top): 1536 x 576 and 576 x 1536 matrices (SmolLM2's FFN; 1536 x 768 for
 * the K types, whose K is a multiple of 256), 16 of each,
 * visited in turn so the weights come from memory as in a decode step. */
static int run_crossover(const char *types, int runs) {
    enum { MAXT = 32, NM = 16 };
    size_t shapes[2][2] = {{1536, 576}, {576, 1536}}; /* N, K */
    float *X = malloc(MAXT * 1536 * sizeof *X), *Y = malloc(MAXT * 1536 * sizeof *Y);
    float *scratch = xf_aligned_alloc(xf_qmatmul_scratch(1536));
    void *act = malloc(xf_q8act_bytes(MAXT, 1536));
    double *t = malloc((size_t)runs * sizeof *t);
    for (size_t k = 0; k < MAXT * 1536; k++) X[k] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
    const xf_i8_isa i8 = xf_i8_isa_best();
    char list[256];
    snprintf(list, sizeof list, "%s", types);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        const xf_quant_traits *q = type_named(name);
        if (!q) return 2;
        uint8_t *W[2];
        size_t rb[2];
        shapes[0][1] = q->block_size == 256 ? 768 : 576; /* K types: K a multiple of 256 */
        for (int s = 0; s < 2; s++) {
            rb[s] = shapes[s][1] / q->block_size * q->type_size;
            W[s] = xf_aligned_alloc(NM * shapes[s][0] * rb[s]);
            fill(q, W[s], NM * shapes[s][0] * shapes[s][1] / q->block_size);
        }
        for (size_t T = 1; T <= MAXT; T++) {
            double ns[3];
            for (int path = 0; path < 3; path++) {
                for (int r = 0; r < runs; r++) {
                    const double c0 = bench_cpu();
                    for (int i = 0; i < 2 * NM; i++) {
                        const int s = i % 2;
                        const size_t N = shapes[s][0], K = shapes[s][1];
                        const uint8_t *Wi = W[s] + (size_t)(i / 2) * N * rb[s];
                        if (path == 0) xf_qgemv(q->ggml_type, Wi, rb[s], NULL, X, K, Y, N, T, 0, N, K);
                        else if (path == 1) xf_qgemm(q->ggml_type, Wi, rb[s], NULL, X, K, Y, N, T, 0, N, K, scratch);
                        else {
                            xf_q8act_quantize(q->ggml_type, X, K, T, K, act);
                            xf_qgemv_q8_isa(i8, q->ggml_type, Wi, rb[s], NULL, act, T, Y, N, 0, N, K);
                        }
                    }
                    t[r] = (bench_cpu() - c0) / (2 * NM);
                }
                ns[path] = bench_median(t, runs) * 1e9;
            }
            printf("{\"type\": \"%s\", \"T\": %zu, \"gemv_ns\": %.0f, \"gemm_ns\": %.0f, \"int8_ns\": %.0f}\n", q->name, T,
                   ns[0], ns[1], ns[2]);
            fflush(stdout);
        }
        for (int s = 0; s < 2; s++) free(W[s]);
    }
    free(X), free(Y), free(act), free(t);
    free(scratch);
    return 0;
}

/* bytes of anonymous memory in transparent huge pages where the kernel gives them (--huge). */
static void *bench_huge_alloc(size_t bytes) {
    bytes = (bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

/* --shapes (see the top). */
static int run_shapes(const char *types, const char *shapes, int runs, int threads, int huge) {
    xf_pool *pool = NULL;
    if (xf_pool_create(threads, &pool) || xf_pool_reserve(pool, xf_q8act_bytes(1, 1 << 16))) return 2;
    double *tw = malloc((size_t)runs * sizeof *tw), *tc = malloc((size_t)runs * sizeof *tc);
    char list[256], sl[256];
    snprintf(list, sizeof list, "%s", types);
    char *s1 = NULL, *s2 = NULL;
    for (char *name = strtok_r(list, ",", &s1); name; name = strtok_r(NULL, ",", &s1)) {
        const xf_quant_traits *q = type_named(name);
        if (!q) return 2;
        snprintf(sl, sizeof sl, "%s", shapes);
        for (char *tok = strtok_r(sl, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2)) {
            size_t N = 0, K = 0;
            if (sscanf(tok, "%zux%zu", &N, &K) != 2 || !N || !K || K % q->block_size) {
                fprintf(stderr, "bench_qgemv: bad shape %s for %s\n", tok, q->name);
                return 2;
            }
            const size_t rb = K / q->block_size * q->type_size, bytes = N * rb;
            const size_t n_mats = (384u << 20) / bytes + 1;
            uint8_t *W = huge ? bench_huge_alloc(n_mats * bytes) : xf_aligned_alloc(n_mats * bytes);
            float *X = malloc(K * sizeof *X), *Y = malloc(N * sizeof *Y);
            if (!W || !X || !Y) return 2;
            fill(q, W, n_mats * N * K / q->block_size);
            for (size_t k = 0; k < K; k++) X[k] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
            const int calls = (int)n_mats;
            for (int r = 0; r < runs; r++) {
                const double w0 = bench_now(), c0 = bench_cpu();
                for (int i = 0; i < calls; i++)
                    xf_qmatmul_q8(pool, q->ggml_type, W + (size_t)i * bytes, rb, NULL, X, K, Y, N, 1, N, K);
                tw[r] = (bench_now() - w0) / calls, tc[r] = (bench_cpu() - c0) / calls;
            }
            const double w = bench_median(tw, runs), c = bench_median(tc, runs);
            printf("{\"type\": \"%s\", \"N\": %zu, \"K\": %zu, \"threads\": %d, \"wall_ns\": %.0f, \"cpu_ns\": %.0f, "
                   "\"GB_per_s\": %.2f, \"GB_per_cpu_s\": %.2f}\n",
                   q->name, N, K, threads, w * 1e9, c * 1e9, (double)bytes / w / 1e9, (double)bytes * threads / c / 1e9);
            fflush(stdout);
            if (huge) munmap(W, (n_mats * bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1));
            else free(W);
            free(X), free(Y);
        }
    }
    free(tw), free(tc);
    xf_pool_free(pool);
    return 0;
}

/* --gemm (see the top). */
static int run_gemm(const char *types, const char *shapes, int runs, int threads, size_t T) {
    xf_pool *pool = NULL;
    if (xf_pool_create(threads, &pool)) return 2;
    double *tw = malloc((size_t)runs * sizeof *tw);
    char list[256], sl[256];
    snprintf(list, sizeof list, "%s", types);
    char *s1 = NULL, *s2 = NULL;
    for (char *name = strtok_r(list, ",", &s1); name; name = strtok_r(NULL, ",", &s1)) {
        const xf_quant_traits *q = type_named(name);
        if (!q) return 2;
        if (!xf_qgemm_q8_has(q->ggml_type)) {
            fprintf(stderr, "bench_qgemv: --gemm: %s has no int8 GEMM (the K types do)\n", q->name);
            return 2;
        }
        snprintf(sl, sizeof sl, "%s", shapes);
        for (char *tok = strtok_r(sl, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2)) {
            size_t N = 0, K = 0;
            if (sscanf(tok, "%zux%zu", &N, &K) != 2 || !N || !K || K % 256 || N > 65536 || K > 65536) {
                fprintf(stderr, "bench_qgemv: --gemm: bad shape %s (NxK, K a multiple of 256)\n", tok);
                return 2;
            }
            const size_t rb = K / 256 * q->type_size;
            uint8_t *W = xf_aligned_alloc(N * rb);
            float *X = malloc(T * K * sizeof *X), *Y = malloc(T * N * sizeof *Y);
            if (!W || !X || !Y || xf_pool_reserve(pool, xf_qgemm_q8_scratch(K))) return 2;
            fill(q, W, N * K / 256);
            for (size_t k = 0; k < T * K; k++) X[k] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
            for (int isa = XF_I8_AVX2; isa <= XF_I8_VNNI; isa++) {
                if (!xf_i8_isa_supported((xf_i8_isa)isa)) continue;
                for (int r = 0; r < runs; r++) {
                    const double w0 = bench_now();
                    xf_qgemm_q8_isa(pool, (xf_i8_isa)isa, q->ggml_type, W, rb, NULL, X, K, Y, N, T, N, K);
                    tw[r] = bench_now() - w0;
                }
                const double w = bench_median(tw, runs);
                double best = tw[0];
                for (int r = 1; r < runs; r++) best = tw[r] < best ? tw[r] : best;
                printf("{\"type\": \"%s\", \"N\": %zu, \"K\": %zu, \"T\": %zu, \"threads\": %d, \"isa\": \"%s\", "
                       "\"wall_ns\": %.0f, \"GMAC_per_s\": %.1f, \"best_GMAC_per_s\": %.1f}\n",
                       q->name, N, K, T, threads, xf_i8_isa_name((xf_i8_isa)isa), w * 1e9, (double)N * K * T / w / 1e9,
                       (double)N * K * T / best / 1e9);
                fflush(stdout);
            }
            free(W), free(X), free(Y);
        }
    }
    free(tw);
    xf_pool_free(pool);
    return 0;
}

static const char *ALL = "Q8_0,Q4_0,Q4_1,Q5_0,Q5_1,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K";

/* --s24 (see the top). */
static int run_s24(const char *shape_list, int runs, int hot) {
    char list[512];
    snprintf(list, sizeof list, "%s", shape_list);
    const int simd = xf_r16_simd();
    const xf_s24i_isa isa = xf_s24i_best();
    double *ts = malloc((size_t)runs * sizeof *ts), *td = malloc((size_t)runs * sizeof *td);
    for (char *sh = strtok(list, ","); sh; sh = strtok(NULL, ",")) {
        size_t N = 0, K = 0;
        if (sscanf(sh, "%zux%zu", &N, &K) != 2 || !N || !K || N % 16 || K % 32 || N > 65536 || K > 16384) {
            fprintf(stderr, "bench_qgemv: --s24 shape %s: want NxK, N a multiple of 16, K of 32\n", sh);
            return 2;
        }
        const size_t sb = xf_s24q8_bytes(N, K), db = N * (K / 32) * 34;
        const size_t ns = hot ? 1 : (256u << 20) / sb + 1, nd = hot ? 1 : (256u << 20) / db + 1;
        uint8_t *S = xf_aligned_alloc(ns * sb), *D = xf_aligned_alloc(nd * db);
        float *W = malloc(N * K * sizeof *W), *X = malloc(K * sizeof *X), *Y = malloc(N * sizeof *Y);
        uint8_t *s24 = xf_aligned_alloc(xf_s24_bytes(N, K));
        void *sact = xf_aligned_alloc(xf_s24i_act_bytes(1, K) + 64), *dact = xf_aligned_alloc(xf_q8act_bytes(1, K) + 64);
        int32_t *corr = malloc(K / 4 * sizeof *corr);
        if (!S || !D || !W || !X || !Y || !s24 || !sact || !dact || !corr) return 1;
        for (size_t i = 0; i < N * K; i++) W[i] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
        for (size_t k = 0; k < K; k++) X[k] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
        xf_s24_compress(W, K, N, K, NULL, s24);
        xf_s24q8_from_s24(s24, N, K, S);
        for (size_t i = 1; i < ns; i++) memcpy(S + i * sb, S, sb);
        fill(xf_quant_traits_of(XF_GGML_Q8_0), D, N * (K / 32));
        if (xf_r16_pack(XF_GGML_Q8_0, D, N, K, D)) return 1;
        for (size_t i = 1; i < nd; i++) memcpy(D + i * db, D, db);
        xf_s24i_act_quantize(isa, X, K, 1, K, sact);
        xf_q8act_quantize(XF_GGML_Q8_0, X, K, 1, K, dact);
        xf_r16_corr(XF_GGML_Q8_0, dact, 1, K, corr);
        const int calls = hot ? 2000 : (int)(ns > nd ? ns : nd) * 2;
        for (int r = 0; r < runs; r++) {
            double c0 = bench_cpu();
            for (int i = 0; i < calls; i++) xf_s24i_range(isa, 8, S + (size_t)(i % (int)ns) * sb, N, K, NULL, sact, 1, Y, N, 0, N);
            ts[r] = (bench_cpu() - c0) / calls;
            c0 = bench_cpu();
            for (int i = 0; i < calls; i++)
                xf_r16_gemv_isa(simd, XF_GGML_Q8_0, D + (size_t)(i % (int)nd) * db, NULL, dact, corr, 1, Y, N, 0, N / 16, K);
            td[r] = (bench_cpu() - c0) / calls;
        }
        const double ms = bench_median(ts, runs), md = bench_median(td, runs);
        printf("{\"shape\": \"%zux%zu\", \"s24q8_ns\": %.0f, \"s24q8_bytes\": %zu, \"s24q8_GB_per_s\": %.2f, \"q8_0_r16_ns\": %.0f, "
               "\"q8_0_bytes\": %zu, \"q8_0_GB_per_s\": %.2f, \"dense_over_s24\": %.3f, \"bytes_ratio\": %.3f}\n",
               N, K, ms * 1e9, sb, sb / ms / 1e9, md * 1e9, db, db / md / 1e9, md / ms, (double)db / sb);
        fflush(stdout);
        free(S), free(D), free(s24), free(sact), free(dact);
        free(W), free(X), free(Y), free(corr);
    }
    free(ts), free(td);
    return 0;
}

int main(int argc, char **argv) {
    const char *types = ALL;
    int runs = 5, crossover = 0, threads = 1, huge = 0, hot = 0;
    const char *shapes = NULL, *s24 = NULL, *gemm = NULL;
    long prompt = 512;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--crossover")) crossover = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--types")) types = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--runs")) runs = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--shapes")) shapes = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--huge")) huge = 1;
        else if (!strcmp(argv[i], "--hot")) hot = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--s24")) s24 = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--gemm")) gemm = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--prompt")) prompt = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--types Q4_K,...] [--runs R] [--crossover] [--shapes NxK,... [--threads T]] [--s24 NxK,... [--hot]]\n"
                            "       [--gemm NxK,... [--prompt T] [--threads T]]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 100) return 2;
    if (crossover) return run_crossover(types, runs);
    if (s24) return run_s24(s24, runs, hot);
    if (gemm) {
        if (prompt < 1 || prompt > 8192) return 2;
        return run_gemm(types == ALL ? "Q4_K,Q5_K,Q6_K" : types, gemm, runs, threads < 1 ? 1 : threads, (size_t)prompt);
    }
    if (shapes) return run_shapes(types, shapes, runs, threads < 1 ? 1 : threads, huge);
    /* cached: one 576 x 1536 matrix; streamed: 24 matrices of 1536 x 1536 (~24 x 1.3-2.8 MB) */
    const size_t N_c = 576, K = 1536, N_s = 1536, n_mats = 24;
    float *X = malloc(K * sizeof *X), *Y = malloc(N_s * sizeof *Y);
    for (size_t k = 0; k < K; k++) X[k] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
    void *act = malloc(xf_q8act_bytes(1, K));
    const xf_i8_isa i8 = xf_i8_isa_best();
    double *t = malloc((size_t)runs * sizeof *t);
    printf("{\"K\": %zu, \"cached_N\": %zu, \"streamed_N\": %zu, \"streamed_matrices\": %zu, \"results\": [", K, N_c, N_s,
           n_mats);
    int first = 1;
    char list[256];
    snprintf(list, sizeof list, "%s", types);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        const xf_quant_traits *q = NULL;
        for (int id = 0; id < 32 && !q; id++) {
            const xf_quant_traits *c = xf_quant_traits_of(id);
            if (c && !strcmp(c->name, name) && xf_qmatmul_has(id)) q = c;
        }
        if (!q) {
            fprintf(stderr, "bench_qgemv: unknown type %s\n", name);
            return 2;
        }
        const size_t rb = K / q->block_size * q->type_size;
        uint8_t *W = xf_aligned_alloc(n_mats * N_s * rb);
        fill(q, W, n_mats * N_s * K / q->block_size);
        xf_q8act_quantize(q->ggml_type, X, K, 1, K, act); /* the type's activation format */
        for (int kind = 0; kind < 3; kind++) {     /* 0: hand-written (xf_qgemv), 1: generic, 2: int8 */
            for (int stream = 0; stream < 2; stream++) {
                const size_t N = stream ? N_s : N_c;
                const int calls = stream ? 4 * (int)n_mats : 400;
                for (int r = 0; r < runs; r++) {
                    const double c0 = bench_cpu();
                    for (int i = 0; i < calls; i++) {
                        const uint8_t *Wi = W + (stream ? (size_t)(i % (int)n_mats) * N_s * rb : 0);
                        if (kind == 0) xf_qgemv(q->ggml_type, Wi, rb, NULL, X, K, Y, N, 1, 0, N, K);
                        else if (kind == 1) xf_qgemv_decode(q->ggml_type, 0, Wi, rb, NULL, X, K, Y, N, 1, 0, N, K);
                        else xf_qgemv_q8_isa(i8, q->ggml_type, Wi, rb, NULL, act, 1, Y, N, 0, N, K);
                    }
                    t[r] = (bench_cpu() - c0) / calls;
                }
                const double med = bench_median(t, runs);
                printf("%s{\"type\": \"%s\", \"kernel\": \"%s\", \"weights\": \"%s\", \"ns_per_call\": %.0f, \"GB_per_s\": %.2f}",
                       first ? "" : ", ", q->name, kind == 2 ? "int8" : kind ? "generic" : "xf_qgemv",
                       stream ? "streamed" : "cached", med * 1e9,
                       (double)(N * rb) / med / 1e9);
                first = 0;
                fflush(stdout);
            }
        }
        free(W);
    }
    printf("]}\n");
    free(X), free(Y), free(t), free(act);
    return 0;
}
