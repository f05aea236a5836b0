/* bench_attn.c — the attention step alone: one layer's causal self-attention over a whole prompt
 * of N tokens (all heads), dense against block-sparse prefill (model/attn_blocksparse.c) and
 * vertical-slash prefill (model/attn_vslash.c) at a few densities, on one thread, in one process.
 * The sparse times include the selection (reported also on its own); "read" is the share of key
 * blocks (block-sparse) or of causal (query, key) pairs (vertical-slash) attended. Random queries and keys: the selection picks arbitrary blocks, and
 * the cost depends only on how many it picks, which the density fixes. Prints one JSON line per
 * (length, variant) with the median CPU seconds of R runs and the ratio to dense of that length.
 *
 * usage: bench_attn [--lengths 8192,32768] [--densities 0.2,0.1] [--runs R]
 *                   [--heads 9 --kv-heads 3 --head-dim 64]   (SmolLM2-135M's shape by default) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "kernels/attention.h"
#include "model/attn_blocksparse.h"
#include "model/attn_vslash.h"

static float *rand_floats(size_t n, unsigned *seed) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        v[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return v;
}

/* One pass of attention over every query of p, kv head by kv head, in the kernel's row blocks. */
static void attend_all(const xf_attn_problem *p, size_t n_kv, float *scratch) {
    const size_t qb = xf_attention_qblock(p->group);
    for (size_t g = 0; g < n_kv; g++)
        for (size_t q0 = 0; q0 < p->n_q; q0 += qb)
            xf_attention(p, g, 0, p->group, q0, q0 + qb < p->n_q ? q0 + qb : p->n_q, scratch);
}

static size_t parse_list(const char *s, double *out, size_t max) {
    size_t n = 0;
    while (*s && n < max) {
        char *end;
        out[n++] = strtod(s, &end);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s) break;
    }
    return n;
}

int main(int argc, char **argv) {
    double lengths[16] = {8192, 32768}, dens[16] = {0.2, 0.1};
    size_t n_len = 2, n_dens = 2;
    long runs = 3, heads = 9, kv_heads = 3, dh = 64;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--lengths")) n_len = parse_list(argv[++i], lengths, 16);
        else if (i + 1 < argc && !strcmp(argv[i], "--densities")) n_dens = parse_list(argv[++i], dens, 16);
        else if (i + 1 < argc && !strcmp(argv[i], "--runs")) runs = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--heads")) heads = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--kv-heads")) kv_heads = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--head-dim")) dh = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--lengths N,...] [--densities D,...] [--runs R] [--heads H --kv-heads G "
                            "--head-dim D]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 99 || heads < 1 || kv_heads < 1 || heads % kv_heads || dh < 1 || dh > 512) {
        fprintf(stderr, "bench_attn: bad --runs / --heads / --kv-heads / --head-dim\n");
        return 2;
    }
    const size_t group = (size_t)(heads / kv_heads), qd = (size_t)(heads * dh), kvd = (size_t)(kv_heads * dh);
    float *scratch = malloc(xf_attention_scratch(group, (size_t)dh) * sizeof *scratch);
    for (size_t li = 0; li < n_len; li++) {
        const size_t n = (size_t)lengths[li];
        unsigned seed = 7;
        float *Q = rand_floats(n * qd, &seed), *K = rand_floats(n * kvd, &seed), *V = rand_floats(n * kvd, &seed);
        float *O = malloc(n * qd * sizeof *O);
        if (!Q || !K || !V || !O || !scratch) {
            fprintf(stderr, "bench_attn: out of memory at %zu tokens\n", n);
            return 1;
        }
        xf_attn_problem p = {.Q = Q, .K = K, .V = V, .O = O, .ldq = qd, .ldk = kvd, .ldv = kvd, .ldo = qd,
                             .n_q = n, .n_k = n, .dh = (size_t)dh, .group = group, .scale = 0.125f, .causal = 1};
        double dense = 0;
        for (size_t v = 0; v <= 2 * n_dens; v++) {
            const double d = v ? dens[(v - 1) / 2] : 0.0;
            const int vs = v && v % 2 == 0; /* 0: dense or block-sparse, 1: vertical-slash */
            double t[99], ts[99], share = 1.0;
            for (long r = 0; r < runs; r++) {
                double c0 = bench_cpu(), c1;
                if (vs) {
                    xf_vslash sel;
                    if (xf_vslash_select(&p, (size_t)kv_heads, (float)d, &sel)) return 1;
                    c1 = bench_cpu();
                    share = xf_vslash_attend(NULL, &p, (size_t)kv_heads, &sel);
                    xf_vslash_free(&sel);
                    if (share < 0) return 1;
                    t[r] = bench_cpu() - c0, ts[r] = c1 - c0;
                    continue;
                }
                unsigned char *mask = v ? xf_block_sparse_select(&p, (size_t)kv_heads, (size_t)heads, (float)d) : NULL;
                c1 = bench_cpu();
                p.kblocks = mask, p.kblocks_ld = (n + 63) / 64, p.kblocks_nqt = (n + 63) / 64;
                attend_all(&p, (size_t)kv_heads, scratch);
                t[r] = bench_cpu() - c0, ts[r] = c1 - c0;
                size_t read = 0, total = 0;
                for (size_t g = 0; mask && g < (size_t)kv_heads; g++)
                    for (size_t qt = 0; qt < p.kblocks_nqt; qt++)
                        for (size_t b = 0; b <= qt; b++) read += mask[(g * p.kblocks_nqt + qt) * p.kblocks_ld + b], total++;
                if (mask) share = (double)read / (double)total;
                free(mask);
                p.kblocks = NULL;
            }
            const double med = bench_median(t, (int)runs), sel = bench_median(ts, (int)runs);
            if (!v) dense = med;
            printf("{\"tokens\": %zu, \"variant\": \"%s\", \"density\": %.3f, \"read\": %.4f, \"cpu_s\": %.4f, "
                   "\"select_s\": %.4f, \"speedup\": %.3f}\n",
                   n, !v ? "dense" : vs ? "vertical-slash" : "block-sparse", v ? d : 1.0, share, med, v ? sel : 0.0,
                   dense / med);
            fflush(stdout);
        }
        free(Q), free(K), free(V), free(O);
    }
    free(scratch);
    return 0;
}
