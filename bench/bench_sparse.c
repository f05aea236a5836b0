/* bench_sparse.c — speed of 2:4 sparse weights against the same model dense, in one process, the
 * variants' runs interleaved (dense, 2:4, dense, 2:4, ...) so that a shared machine's load falls
 * on both alike. Both variants have float32 values: the dense one --weights f32 (GGUF blocks
 * dequantized at load), the sparse one --sparsity 2:4 by magnitude (speed does not depend on the
 * mask). Prints one JSON line per variant with medians of wall and CPU-time (process CPU seconds,
 * all threads) throughput.
 *
 *   decoder: per run, a session reset, then G decode steps of one token each (greedy), from an
 *            empty cache, as bench_decode; also a prefill of P tokens
 *   encoder: per run, xf_embed of the texts of FILE (one per line) in batches of 32
 *
 * --values q8: 8-bit values instead — the model as stored (a Q8_0 GGUF: float activations), the
 * same with --weights int8 (GGUF blocks with activations quantized per 32, integer dots) and
 * --sparsity 2:4 --weights int8 (s24q8: int8 kept values, a scale per row). --values q4: the same
 * with the third variant --sparsity 2:4 --weights int4 (s24q4: 4-bit kept values, a scale per 16;
 * give it a Q4_0 GGUF so that the dense variants are 4-bit too).
 *
 * --sparse-head: one more variant, the last 2:4 one with its LM head 2:4 too (sparse_head; a tied
 * head untied), in the same interleaved runs.
 *
 * usage: bench_sparse MODEL [--threads N] [--gen G] [--prompt P] [--runs R] [--text FILE] [--values q8|q4] [--sparse-head] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "xfmr.h"

static int fail(const char *what) {
    fprintf(stderr, "bench_sparse: %s: %s\n", what, xf_errmsg());
    return 1;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap + 1);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += k) == cap) {
            char *nb = realloc(buf, (cap *= 2) + 1);
            if (!nb) free(buf);
            buf = nb;
        }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

#define NV 4
static const char *k_names_f32[NV] = {"dense f32", "2:4 f32", "2:4 f32, 2:4 head", ""},
                  *k_names_q8[NV] = {"dense as stored", "dense int8 acts", "2:4 int8 values", "2:4 int8 values, 2:4 head"},
                  *k_names_q4[NV] = {"dense as stored", "dense int8 acts", "2:4 int4 values", "2:4 int4 values, 2:4 head"};

int main(int argc, char **argv) {
    const char *path = NULL, *text_path = "tests/data/corpus.txt";
    long threads = 1, n_gen = 64, n_prompt = 128, runs = 7;
    int q8 = 0, head = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--threads")) threads = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--gen")) n_gen = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--prompt")) n_prompt = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--runs")) runs = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--text")) text_path = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--values") && !strcmp(argv[i + 1], "q8")) q8 = 1, i++;
        else if (i + 1 < argc && !strcmp(argv[i], "--values") && !strcmp(argv[i + 1], "q4")) q8 = 2, i++;
        else if (!strcmp(argv[i], "--sparse-head")) head = 1;
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else {
            fprintf(stderr, "usage: %s MODEL [--threads N] [--gen G] [--prompt P] [--runs R] [--text FILE]\n", argv[0]);
            return 2;
        }
    }
    if (!path || threads < 0 || n_gen < 1 || n_prompt < 1 || runs < 1 || runs > 100) {
        fprintf(stderr, "usage: %s MODEL [--threads N] [--gen G] [--prompt P] [--runs R] [--text FILE]\n", argv[0]);
        return 2;
    }
    xf_model *m[NV] = {0};
    const int nv = (q8 ? 3 : 2) + head, s24 = q8 ? 2 : 1; /* variants s24.. are 2:4 */
    const char *const *k_names = q8 == 2 ? k_names_q4 : q8 ? k_names_q8 : k_names_f32;
    for (int v = 0; v < nv; v++) {
        xf_model_params mp = xf_model_default_params();
        mp.n_threads = (int)threads;
        mp.weights = q8 ? (v ? XF_WEIGHTS_INT8 : XF_WEIGHTS_AS_STORED) : XF_WEIGHTS_F32;
        if (v >= s24) mp.sparsity = XF_SPARSITY_2_4;
        if (v > s24) mp.sparse_head = 1;
        if (v >= 2 && q8 == 2) mp.weights = XF_WEIGHTS_INT4;
        if (xf_model_load(path, &mp, &m[v]) != XF_OK) return fail(path);
    }
    char *text = read_file(text_path);
    if (!text) return 1;
    xf_model_info info = xf_model_info_init();
    if (xf_model_get_info(m[0], &info) != XF_OK) return fail("info");
    double wall[NV][100], cpu[NV][100], pwall[NV][100];
    const char *unit = info.is_decoder ? "decode tokens/s" : "texts/s";
    double work = 0;
    if (info.is_decoder) {
        xf_encoding enc;
        if (xf_tokenize(xf_model_tokenizer(m[0]), text, strlen(text), NULL, 0, 0, &enc) != XF_OK || enc.n == 0)
            return fail(text_path);
        int32_t *ids = malloc((size_t)n_prompt * sizeof *ids);
        float *logits = malloc(info.vocab_size * sizeof *logits);
        for (long i = 0; i < n_prompt; i++) ids[i] = enc.ids[(size_t)i % enc.n];
        xf_encoding_free(&enc);
        xf_session *s[NV];
        for (int v = 0; v < nv; v++)
            if (xf_session_create(m[v], (size_t)(n_gen > n_prompt ? n_gen : n_prompt) + 8, &s[v]) != XF_OK)
                return fail("session");
        work = (double)n_gen;
        for (long r = -1; r < runs; r++) /* r = -1: warm-up */
            for (int v = 0; v < nv; v++) {
                xf_session_reset(s[v]);
                double t0 = bench_now();
                if (xf_session_eval(s[v], ids, (size_t)n_prompt, logits) != XF_OK) return fail("prefill");
                double pw = bench_now() - t0;
                xf_session_reset(s[v]);
                int32_t next = ids[0];
                double w0 = bench_now(), c0 = bench_cpu();
                for (long g = 0; g < n_gen; g++) {
                    if (xf_session_eval(s[v], &next, 1, logits) != XF_OK) return fail("decode");
                    size_t best = 0;
                    for (size_t i = 1; i < info.vocab_size; i++)
                        if (logits[i] > logits[best]) best = i;
                    next = (int32_t)best;
                }
                if (r >= 0) {
                    wall[v][r] = bench_now() - w0;
                    cpu[v][r] = bench_cpu() - c0;
                    pwall[v][r] = pw;
                }
            }
        for (int v = 0; v < nv; v++) xf_session_free(s[v]);
        free(ids), free(logits);
    } else {
        /* one text per line */
        size_t n = 0, cap = 0;
        const char **lines = NULL;
        for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n")) {
            if (n == cap) lines = realloc(lines, (cap = cap ? 2 * cap : 256) * sizeof *lines);
            lines[n++] = p;
        }
        float *out = malloc(n * info.hidden * sizeof *out);
        work = (double)n;
        for (long r = -1; r < runs; r++)
            for (int v = 0; v < nv; v++) {
                double w0 = bench_now(), c0 = bench_cpu();
                if (xf_embed(m[v], lines, n, 32, out, NULL) != XF_OK) return fail("embed");
                if (r >= 0) {
                    wall[v][r] = bench_now() - w0;
                    cpu[v][r] = bench_cpu() - c0;
                    pwall[v][r] = 0;
                }
            }
        free(lines), free(out);
    }
    for (int v = 0; v < nv; v++) {
        xf_model_info in = xf_model_info_init();
        xf_model_get_info(m[v], &in);
        const double w = bench_median(wall[v], (int)runs), c = bench_median(cpu[v], (int)runs), p = bench_median(pwall[v], (int)runs);
        printf("{\"variant\": \"%s\", \"threads\": %ld, \"runs\": %ld, \"unit\": \"%s\", \"wall\": %.2f, \"cpu\": %.2f",
               k_names[v], threads, runs, unit, work / w, work / c);
        if (info.is_decoder) printf(", \"prefill_tok_s\": %.1f, \"prompt\": %ld", (double)n_prompt / p, n_prompt);
        printf("}\n");
    }
    for (int v = 0; v < nv; v++) xf_model_free(m[v]);
    free(text);
    return 0;
}
