/* bench_step_batch.c — CPU time of one batched decode step (xf_session_step_batch) of R sessions
 * against R lone steps, per row: what continuous batching in `xfmr serve` can gain per token
 * (docs/SERVE.md); prompts of 8-64 tokens alone; 8 prompts of 40 tokens alone and as one
 * xf_session_eval_batch. Each session is prefilled with a short prompt, then steps are timed with the
 * process CPU clock (robust on a shared machine) and the wall clock.
 * usage: bench_step_batch MODEL [--threads N] [--rows 1,2,4,8] [--steps S] [--weights stored|int8] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xfmr.h"

static double clk(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [--threads N] [--rows 1,2,4,8] [--steps S] [--weights stored|int8]\n", argv[0]);
        return 2;
    }
    int threads = 1, steps = 16;
    const char *rows = "1,2,4,8", *weights = "stored";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rows")) rows = argv[i + 1];
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--weights")) weights = argv[i + 1];
    }
    xf_model_params mp = xf_model_default_params();
    mp.n_threads = (size_t)threads;
    if (!strcmp(weights, "int8")) mp.weights = XF_WEIGHTS_INT8;
    xf_model *m;
    if (xf_model_load(argv[1], &mp, &m) != XF_OK) {
        fprintf(stderr, "%s\n", xf_errmsg());
        return 1;
    }
    size_t vocab = xf_model_vocab_size(m);
    const int32_t prompt[8] = {1, 504, 3458, 282, 253, 1789, 30, 198};
    char *rl = strdup(rows);
    printf("threads %d weights %s steps %d\n", threads, weights, steps);
    for (char *tok = strtok(rl, ","); tok; tok = strtok(NULL, ",")) {
        size_t R = (size_t)atoi(tok);
        xf_session **ss = calloc(R, sizeof *ss);
        int32_t *ids = calloc(R, sizeof *ids);
        float *logits = malloc(R * vocab * sizeof *logits);
        for (size_t r = 0; r < R; r++) {
            if (xf_session_create(m, 512, &ss[r]) != XF_OK || xf_session_eval(ss[r], prompt, 8, NULL) != XF_OK) {
                fprintf(stderr, "%s\n", xf_errmsg());
                return 1;
            }
            ids[r] = (int32_t)(100 + r);
        }
        xf_session_step_batch(ss, R, ids, logits); /* warm */
        double c0 = clk(CLOCK_PROCESS_CPUTIME_ID), w0 = clk(CLOCK_MONOTONIC);
        for (int s = 0; s < steps; s++)
            if (xf_session_step_batch(ss, R, ids, logits) != XF_OK) {
                fprintf(stderr, "%s\n", xf_errmsg());
                return 1;
            }
        double c = (clk(CLOCK_PROCESS_CPUTIME_ID) - c0) / steps, w = (clk(CLOCK_MONOTONIC) - w0) / steps;
        printf("rows %2zu: step %.2f ms CPU (%.2f ms/row), %.2f ms wall (%.1f tokens/s)\n", R, 1e3 * c,
               1e3 * c / (double)R, 1e3 * w, (double)R / w);
        for (size_t r = 0; r < R; r++) xf_session_free(ss[r]);
        free(ss);
        free(ids);
        free(logits);
    }
    free(rl);
    /* Prefill: one prompt of N tokens (xf_session_eval, the GEMM path past the GEMV row limit). */
    for (size_t N = 8; N <= 64; N *= 2) {
        int32_t *p = malloc(N * sizeof *p);
        for (size_t i = 0; i < N; i++) p[i] = (int32_t)(200 + 7 * i);
        xf_session *s;
        double cs = 0;
        for (int rep = 0; rep < 3; rep++) {
            if (xf_session_create(m, 512, &s) != XF_OK) return 1;
            double c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
            xf_session_eval(s, p, N, NULL);
            cs += clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
            xf_session_free(s);
        }
        printf("prefill %2zu tokens: %.2f ms CPU (%.2f ms/token)\n", N, 1e3 * cs / 3, 1e3 * cs / 3 / (double)N);
        free(p);
    }
    /* Prompts admitted together: 8 prompts of 40 tokens alone, then as one xf_session_eval_batch. */
    {
        enum { NP = 8, LP = 40 };
        xf_session *ps[NP];
        int32_t *ids = malloc(NP * LP * sizeof *ids);
        size_t lens[NP];
        for (size_t i = 0; i < NP * LP; i++) ids[i] = (int32_t)(300 + 11 * i % 5000);
        for (size_t i = 0; i < NP; i++) lens[i] = LP;
        double alone = 0, batch = 0;
        for (int rep = 0; rep < 2; rep++) {
            for (size_t i = 0; i < NP; i++)
                if (xf_session_create(m, 512, &ps[i]) != XF_OK) return 1;
            double c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
            for (size_t i = 0; i < NP; i++) xf_session_eval(ps[i], ids + i * LP, LP, NULL);
            double c1 = clk(CLOCK_PROCESS_CPUTIME_ID);
            for (size_t i = 0; i < NP; i++) xf_session_reset(ps[i]);
            double c2 = clk(CLOCK_PROCESS_CPUTIME_ID);
            if (xf_session_eval_batch(ps, NP, ids, lens, NULL) != XF_OK) return 1;
            double c3 = clk(CLOCK_PROCESS_CPUTIME_ID);
            alone += c1 - c0, batch += c3 - c2;
            for (size_t i = 0; i < NP; i++) xf_session_free(ps[i]);
        }
        printf("%d prompts of %d tokens: %.1f ms CPU alone, %.1f ms as one batch (x%.2f)\n", NP, LP, 1e3 * alone / 2,
               1e3 * batch / 2, alone / batch);
        free(ids);
    }
    xf_model_free(m);
    return 0;
}
