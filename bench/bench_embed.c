/* bench_embed.c — times xf_embed over a text file (one text per line) and prints JSON:
 * {"texts": N, "tokens": T, "weights": "fp32"|"int8", "batch": B, "seconds": [run1, ...],
 *  "median_s": s, "texts_per_s": r, "mean_latency_ms": per text, "peak_rss_bytes": ru_maxrss,
 *  "cpu_seconds": [...], "median_cpu_s": s}: the process's CPU time per run too, which at 1 thread is
 * what the run would take alone on a shared, oversubscribed machine.
 * Model loading and tokenizer setup are excluded; tokenization is included (as in
 * sentence-transformers' encode()). BATCH 1 means one xf_embed call per text (the latency case);
 * otherwise one call over all texts with that batch size. WEIGHTS (default fp32) sets
 * xf_model_params.weights: fp32 = XF_WEIGHTS_AS_STORED, int8 = XF_WEIGHTS_INT8, bf16 =
 * XF_WEIGHTS_BF16.
 *
 * usage: bench_embed MODEL_DIR FILE THREADS BATCH RUNS [fp32|int8|bf16] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "xfmr.h"

#include "bench_util.h"

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: %s MODEL_DIR FILE THREADS BATCH RUNS [fp32|int8|bf16]\n", argv[0]);
        return 2;
    }
    const char *wname = argc == 7 ? argv[6] : "fp32";
    if (strcmp(wname, "fp32") != 0 && strcmp(wname, "int8") != 0 && strcmp(wname, "bf16") != 0) {
        fprintf(stderr, "WEIGHTS must be fp32, int8 or bf16, got \"%s\"\n", wname);
        return 2;
    }
    int threads = atoi(argv[3]), batch = atoi(argv[4]), runs = atoi(argv[5]);
    if (runs < 1 || runs > 100 || batch < 1 || threads < 0) {
        fprintf(stderr, "bad THREADS/BATCH/RUNS\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    size_t cap = 1024, n = 0;
    char **lines = malloc(cap * sizeof *lines), *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (n == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    xf_model_params p = xf_model_default_params();
    p.n_threads = threads;
    p.weights = strcmp(wname, "int8") == 0   ? XF_WEIGHTS_INT8
                : strcmp(wname, "bf16") == 0 ? XF_WEIGHTS_BF16
                                             : XF_WEIGHTS_AS_STORED;
    xf_model *m;
    if (xf_model_load(argv[1], &p, &m) != XF_OK) {
        fprintf(stderr, "error: %s\n", xf_errmsg());
        return 1;
    }
    size_t dim = xf_model_embedding_dim(m);
    float *out = malloc(n * dim * sizeof *out);
    double *secs = malloc(runs * sizeof *secs), *cpus = malloc(runs * sizeof *cpus);
    xf_embed_stats stats = {0};
    xf_embed(m, (const char *const *)lines, n < 64 ? n : 64, (size_t)batch, out, NULL); /* warm-up */
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now(), c0 = bench_cpu();
        size_t n_tokens = 0;
        if (batch == 1) { /* one call per text */
            for (size_t i = 0; i < n; i++) {
                if (xf_embed(m, (const char *const *)&lines[i], 1, 1, out + i * dim, &stats) != XF_OK) {
                    fprintf(stderr, "error: %s\n", xf_errmsg());
                    return 1;
                }
                n_tokens += stats.n_tokens;
            }
        } else {
            if (xf_embed(m, (const char *const *)lines, n, (size_t)batch, out, &stats) != XF_OK) {
                fprintf(stderr, "error: %s\n", xf_errmsg());
                return 1;
            }
            n_tokens = stats.n_tokens;
        }
        secs[r] = bench_now() - t0;
        cpus[r] = bench_cpu() - c0;
        stats.n_tokens = n_tokens;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"texts\": %zu, \"tokens\": %zu, \"weights\": \"%s\", \"threads\": %d, \"batch\": %d, \"seconds\": [",
           n, stats.n_tokens, wname, threads, batch);
    for (int r = 0; r < runs; r++) printf("%s%.4f", r ? ", " : "", secs[r]);
    double med = bench_median(secs, runs);
    printf("], \"median_s\": %.4f, \"texts_per_s\": %.2f, \"mean_latency_ms\": %.4f, \"peak_rss_bytes\": %lld, "
           "\"cpu_seconds\": [",
           med, n / med, 1e3 * med / n, (long long)ru.ru_maxrss * 1024LL);
    for (int r = 0; r < runs; r++) printf("%s%.4f", r ? ", " : "", cpus[r]);
    printf("], \"median_cpu_s\": %.4f}\n", bench_median(cpus, runs));
    for (size_t i = 0; i < n; i++) free(lines[i]);
    free(lines), free(out), free(secs), free(cpus);
    xf_model_free(m);
    return 0;
}
