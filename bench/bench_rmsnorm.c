/* bench_rmsnorm.c — the Pre-LN -> Pre-RMSNorm rewrite (xf_model_compress "rmsnorm",
 * src/compress/rmsnorm.c) on a GPT-2-style model: how far its logits are from the original's
 * (largest |difference| / largest |logit|, whole-sequence logits of P tokens), and its speed against
 * the original in one process, runs interleaved (LN, RMS, LN, RMS, ...) so that a shared machine's
 * load falls on both alike, which goes first alternating per run (in one process the second model's
 * decode ran ~15 % faster in an A/A test, BENCH_RMSNORM_AA=1: both Pre-LN): whole-sequence logits of P tokens (prefill) and G decode steps of a
 * session. Prints one JSON line per variant with medians of wall and process-CPU throughput.
 *
 * --dump PREFIX writes the two variants' logits [P, vocab] as raw float32 to PREFIX.ln.f32 and
 * PREFIX.rms.f32 (ids: (t x 7919 + 13) mod vocab), for a float64 reference to judge both against.
 *
 * usage: bench_rmsnorm MODEL [--threads N] [--prompt P] [--gen G] [--runs R] [--dump PREFIX] */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "xfmr.h"

static int fail(const char *what) {
    fprintf(stderr, "bench_rmsnorm: %s: %s\n", what, xf_errmsg());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_rmsnorm MODEL [--threads N] [--prompt P] [--gen G] [--runs R]\n");
        return 2;
    }
    int threads = 1, P = 256, G = 32, runs = 5;
    const char *dump = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prompt")) P = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--gen")) G = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dump")) dump = argv[i + 1];
        else {
            fprintf(stderr, "bench_rmsnorm: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (P < 1 || G < 1 || runs < 1 || runs > 99) return fprintf(stderr, "bench_rmsnorm: bad counts\n"), 2;
    xf_model_params mp = xf_model_default_params();
    mp.n_threads = threads;
    xf_model *m[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        if (xf_model_load(argv[1], &mp, &m[k])) return fail(argv[1]);
    xf_compress_params cp = xf_compress_default_params();
    cp.methods = "rmsnorm";
    if (getenv("BENCH_RMSNORM_AA")) cp.methods = NULL; /* A/A: both variants Pre-LN (noise check) */
    /* BENCH_RMSNORM_SWAP=1: the first model loaded is the rewritten one (the per-model effect of
     * the A/A test then falls on the other side; average both orders) */
    const int rms = getenv("BENCH_RMSNORM_SWAP") ? 0 : 1;
    if (cp.methods && xf_model_compress(m[rms], &cp)) return fail("rmsnorm");
    const size_t V = xf_model_vocab_size(m[0]);
    int32_t *ids = malloc((size_t)P * sizeof *ids);
    float *lg[2] = {malloc((size_t)P * V * sizeof(float)), malloc((size_t)P * V * sizeof(float))};
    if (!ids || !lg[0] || !lg[1]) return fprintf(stderr, "out of memory\n"), 1;
    for (int t = 0; t < P; t++) ids[t] = (int32_t)((t * 7919 + 13) % (int)V);
    for (int k = 0; k < 2; k++)
        if (xf_model_logits(m[k], ids, (size_t)P, lg[k])) return fail("logits");
    double worst = 0, big = 0;
    for (size_t i = 0; i < (size_t)P * V; i++) {
        worst = fmax(worst, fabs((double)lg[0][i] - lg[1][i]));
        big = fmax(big, fabs((double)lg[0][i]));
    }
    for (int k = 0; dump && k < 2; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s.%s.f32", dump, k ? "rms" : "ln");
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(lg[k], sizeof(float), (size_t)P * V, f) != (size_t)P * V) return perror(path), 1;
        fclose(f);
    }
    printf("{\"max_abs_diff\": %.3g, \"max_abs_logit\": %.4g, \"relative\": %.3g}\n", worst, big, worst / big);
    double pw[2][99], pc[2][99], dw[2][99], dc[2][99];
    for (int r = 0; r < runs; r++)
        for (int i = 0; i < 2; i++) {
            const int k = r % 2 ? 1 - i : i; /* which goes first alternates: the order itself shows in decode */
            double w0 = bench_now(), c0 = bench_cpu();
            if (xf_model_logits(m[k], ids, (size_t)P, lg[k])) return fail("logits");
            pw[k][r] = P / (bench_now() - w0), pc[k][r] = P / (bench_cpu() - c0);
            xf_session *s = NULL;
            if (xf_session_create(m[k], (size_t)G + 1, &s)) return fail("session");
            w0 = bench_now(), c0 = bench_cpu();
            for (int g = 0; g < G; g++)
                if (xf_session_eval(s, ids + g, 1, lg[k])) return fail("step");
            dw[k][r] = G / (bench_now() - w0), dc[k][r] = G / (bench_cpu() - c0);
            xf_session_free(s);
        }
    const char *names[2] = {"pre-ln", "pre-ln"};
    if (cp.methods) names[rms] = "pre-rmsnorm";
    for (int k = 0; k < 2; k++)
        printf("{\"variant\": \"%s\", \"model\": %d, \"threads\": %d, \"prefill_tok_s_wall\": %.1f, \"prefill_tok_s_cpu\": %.1f, "
               "\"decode_tok_s_wall\": %.2f, \"decode_tok_s_cpu\": %.2f, \"prompt\": %d, \"gen\": %d, \"runs\": %d}\n",
               names[k], k, threads, bench_median(pw[k], runs), bench_median(pc[k], runs), bench_median(dw[k], runs),
               bench_median(dc[k], runs), P, G, runs);
    free(ids), free(lg[0]), free(lg[1]);
    xf_model_free(m[0]), xf_model_free(m[1]);
    return 0;
}
