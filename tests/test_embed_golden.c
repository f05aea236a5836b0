/* test_embed_golden.c — all-MiniLM-L6-v2 embeddings of the golden corpus against
 * sentence-transformers (tests/data/minilm_emb.f32, made by scripts/make_goldens.py): cosine
 * >= 0.99999 and max |diff| <= 1e-4 on every line, batched and one by one, 1 and 2 threads; with
 * int8 weights cosine >= 0.99, with bf16 weights cosine >= 0.9999.
 * The Release build checks every line; a sanitizer build every 16th (97 of 1552 lines, ~1/16 of
 * the time: the full corpus took 1,498 s under ASan on a 2-core CI machine); XF_T_GOLDEN_STRIDE=k
 * sets the stride in either. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/gemm_bf16.h"
#include "xfmr.h"

#define DIM 384

typedef struct {
    char **lines;
    size_t n;
    char *buf;
} corpus;

static int load_corpus(corpus *c) {
    FILE *f = fopen(xf_t_src("tests/data/corpus.txt"), "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    c->buf = malloc((size_t)sz + 1);
    if (fread(c->buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        return -1;
    }
    fclose(f);
    c->buf[sz] = '\0';
    c->n = 0;
    for (long i = 0; i < sz; i++) c->n += c->buf[i] == '\n';
    if (sz > 0 && c->buf[sz - 1] != '\n') c->n++;
    c->lines = malloc(c->n * sizeof *c->lines);
    char *p = c->buf;
    for (size_t i = 0; i < c->n; i++) {
        c->lines[i] = p;
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        }
    }
    return 0;
}

static float *load_golden(size_t n) {
    FILE *f = fopen(xf_t_src("tests/data/minilm_emb.f32"), "rb");
    if (!f) return NULL;
    float *g = malloc(n * DIM * sizeof *g);
    size_t got = fread(g, sizeof *g, n * DIM, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != n * DIM || extra) {
        fprintf(stderr, "minilm_emb.f32 does not hold %zu x %d floats\n", n, DIM);
        free(g);
        return NULL;
    }
    return g;
}

/* Compare every line; returns the number of lines within tolerance. */
static size_t compare(const char *label, const float *got, const float *want, size_t n) {
    size_t ok = 0, worst_line = 0;
    double worst_cos = 1.0, worst_diff = 0.0;
    for (size_t i = 0; i < n; i++) {
        double cos = xf_cosine(got + i * DIM, want + i * DIM, DIM), md = 0;
        for (size_t k = 0; k < DIM; k++) md = fmax(md, fabs((double)got[i * DIM + k] - want[i * DIM + k]));
        if (cos >= 0.99999 && md <= 1e-4) ok++;
        else if (i + 1 - ok <= 5) fprintf(stderr, "%s: line %zu cosine %.7f max|diff| %.3g\n", label, i + 1, cos, md);
        if (cos < worst_cos || md > worst_diff) worst_line = i + 1;
        worst_cos = fmin(worst_cos, cos);
        worst_diff = fmax(worst_diff, md);
    }
    printf("%s: %zu/%zu lines within tolerance (min cosine %.7f, max |diff| %.3g, worst line %zu)\n", label, ok, n,
           worst_cos, worst_diff, worst_line);
    return ok;
}

/* Embeddings with low-precision weights (int8 / bf16) of every step-th line, batched, 1 and 2
 * threads: every line's cosine to sentence-transformers' fp32 >= min_cos, and bitwise the same one
 * by one (a sample) and for both thread counts. got, scratch: c.n x DIM floats. */
static void check_low_precision(const char *dir, const char *const *texts, size_t n, const float *want, float *got,
                                float *scratch, xf_weight_format wf, const char *name, double min_cos, size_t step) {
    const size_t m_lines = (n + step - 1) / step;
    const char **sel = malloc(m_lines * sizeof *sel);
    float *ref = malloc(m_lines * DIM * sizeof *ref);
    for (size_t i = 0; i < m_lines; i++) sel[i] = texts[i * step];
    for (int threads = 1; threads <= 2; threads++) {
        xf_model_params p = xf_model_default_params();
        p.n_threads = threads;
        p.weights = wf;
        xf_model *m = NULL;
        xf_status st = xf_model_load(dir, &p, &m);
        CHECK_MSG(st == XF_OK, "load %s: %s", name, xf_errmsg());
        if (st) break;
        st = xf_embed(m, sel, m_lines, 32, got, NULL);
        CHECK_MSG(st == XF_OK, "embed %s: %s", name, xf_errmsg());
        double worst = 1.0;
        size_t worst_line = 0, below = 0;
        for (size_t i = 0; i < m_lines; i++) {
            double cos = xf_cosine(got + i * DIM, want + i * step * DIM, DIM);
            if (cos < worst) worst = cos, worst_line = i * step + 1;
            below += cos < min_cos;
        }
        printf("%s, batched (32), %d thread%s, %zu lines: min cosine to fp32 %.5f (line %zu), %zu lines below %g\n", name,
               threads, threads > 1 ? "s" : "", m_lines, worst, worst_line, below, min_cos);
        CHECK_MSG(below == 0, "%s: %zu lines with cosine < %g (worst %.5f, line %zu)", name, below, min_cos, worst,
                  worst_line);
        if (threads == 1) {
            memcpy(ref, got, m_lines * DIM * sizeof *got);
            for (size_t i = 0; i < m_lines && st == XF_OK; i += 7) {
                st = xf_embed(m, sel + i, 1, 1, scratch, NULL);
                CHECK_MSG(st == XF_OK && memcmp(scratch, ref + i * DIM, DIM * 4) == 0,
                          "%s line %zu: one by one differs from batched", name, i * step + 1);
            }
        } else {
            CHECK_MSG(memcmp(ref, got, m_lines * DIM * sizeof *got) == 0, "%s: 1 and 2 threads are not bitwise identical",
                      name);
        }
        xf_model_free(m);
    }
    free(sel), free(ref);
}

int main(void) {
    const char *dir = xf_t_model_dir();
    corpus c = {0};
    if (!dir) return xf_t_report(); /* skipped */
    CHECK(load_corpus(&c) == 0);
    if (xf_t_failed) return xf_t_report();
    float *want = load_golden(c.n);
    CHECK(want != NULL);
    if (!want) return xf_t_report();
    size_t stride = xf_t_knob("XF_T_GOLDEN_STRIDE", 1, 16), kept = 0;
    for (size_t i = 0; i < c.n; i += stride, kept++) {
        c.lines[kept] = c.lines[i];
        memmove(want + kept * DIM, want + i * DIM, DIM * sizeof *want);
    }
    printf("checking %zu of %zu lines (every %zu%s)\n", kept, c.n, stride,
           stride == 1 ? "" : ": thinned; XF_T_GOLDEN_STRIDE=1 checks all");
    c.n = kept;
    float *got = malloc(c.n * DIM * sizeof *got), *first = malloc(c.n * DIM * sizeof *first);
    const char *const *texts = (const char *const *)c.lines;
    for (int threads = 1; threads <= 2; threads++) {
        xf_model_params p = xf_model_default_params();
        p.n_threads = threads;
        xf_model *m = NULL;
        xf_status st = xf_model_load(dir, &p, &m);
        CHECK_MSG(st == XF_OK, "load: %s", xf_errmsg());
        if (st) break;
        CHECK(xf_model_embedding_dim(m) == DIM);
        CHECK(xf_model_max_length(m) == 256);
        char label[64];
        xf_embed_stats stats;
        st = xf_embed(m, texts, c.n, 32, got, &stats);
        CHECK_MSG(st == XF_OK, "embed: %s", xf_errmsg());
        snprintf(label, sizeof label, "batched (32), %d thread%s", threads, threads > 1 ? "s" : "");
        CHECK(compare(label, got, want, c.n) == c.n);
        CHECK(stats.n_texts == c.n && stats.n_truncated > 0);
        if (threads == 1) memcpy(first, got, c.n * DIM * sizeof *got);
        else CHECK_MSG(memcmp(first, got, c.n * DIM * sizeof *got) == 0, "1 and 2 threads are not bitwise identical");
        for (size_t i = 0; i < c.n; i++) {
            st = xf_embed(m, texts + i, 1, 1, got + i * DIM, NULL);
            if (st) break;
        }
        CHECK_MSG(st == XF_OK, "embed one by one: %s", xf_errmsg());
        snprintf(label, sizeof label, "one by one, %d thread%s", threads, threads > 1 ? "s" : "");
        CHECK(compare(label, got, want, c.n) == c.n);
        CHECK_MSG(memcmp(first, got, c.n * DIM * sizeof *got) == 0, "batched and one-by-one are not bitwise identical");
        xf_model_free(m);
    }
    /* int8 weights and activations: every line's cosine to sentence-transformers' fp32 >= 0.99;
     * integer dots are exact, so batching and threads still give identical bits. bf16 weights and
     * activations (fp32 sums in a fixed order): the same checks, cosine >= 0.9999 — on every line
     * with the AVX512_BF16 or AMX-BF16 kernel, every 8th line with the slow portable one. */
    check_low_precision(dir, texts, c.n, want, got, first, XF_WEIGHTS_INT8, "int8", 0.99, 1);
    check_low_precision(dir, texts, c.n, want, got, first, XF_WEIGHTS_BF16, "bf16", 0.9999,
                        xf_bf16_isa_best() != XF_BF16_GENERIC ? 1 : 8);
    free(got), free(first), free(want), free(c.lines), free(c.buf);
    return xf_t_report();
}
