/* test_quant_mix.c — mixed precision (src/quant/quant_mix.c, xf_save_params.target_bpw):
 *   1. the ladder: the default sorted by bits, an unknown or repeated name an error naming it;
 *   2. the allocation on synthetic matrices: never above the target, within 0.05 bpw of it, each
 *      at a grid of targets, no matrix with fewer bits than its core (the part of the allocation
 *      that grows with the target, quant_mix.h) had at a lower target; targets outside the range
 *      errors;
 *   3. the tiny LLaMA saved at targets 4.25 ... 8.5: the bits per weight of the blocks' matrices in
 *      the written file within 0.05 of each target and not above it, every tensor a standard type,
 *      general.file_type and xfmr.quantize.mix
 *      written, the file reloading and giving logits close to the float model's;
 *   4. impossible targets (below the cheapest type, above Q8_0), target with quantize, mix_types
 *      without a target: XF_ERR_INVALID_ARG and no file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/gguf.h"
#include "kernels/quants.h"
#include "quant/quant_mix.h"
#include "xfmr.h"

static const char *k_calib = "The quick brown fox jumps over the lazy dog. Mixed precision gives each weight matrix "
                             "its own type: the sensitive ones more bits, the others fewer, at the same size.";

/* ------------------------------------------------------------------ 1 */

static void test_ladder(void) {
    xf_mix_ladder L;
    CHECK_MSG(xf_mix_ladder_parse(NULL, &L) == XF_OK, "%s", xf_errmsg());
    CHECK(L.n == 9 && L.type[0] == XF_GGML_MXFP4 && L.type[L.n - 1] == XF_GGML_Q8_0);
    for (int k = 1; k < L.n; k++) CHECK(L.bits[k] >= L.bits[k - 1]);
    CHECK(xf_mix_ladder_parse("q8_0, Q4_0", &L) == XF_OK && L.n == 2 && L.type[0] == XF_GGML_Q4_0 && L.bits[0] == 4.5 &&
          L.bits[1] == 8.5);
    CHECK(xf_mix_ladder_parse("Q4_0,Q3_X", &L) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "Q3_X"));
    CHECK(xf_mix_ladder_parse("Q4_0,q4_0", &L) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "twice"));
    CHECK(xf_mix_ladder_parse("Q4_0,,Q8_0", &L) == XF_ERR_INVALID_ARG);
    CHECK(xf_mix_ladder_parse("Q4_0,FP4S", &L) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "standard"));
}

/* ------------------------------------------------------------------ 2 */

static void test_allocate_synthetic(void) {
    xf_mix_ladder L;
    xf_mix_ladder_parse(NULL, &L);
    enum { N = 40 };
    xf_mix_tensor t[N];
    memset(t, 0, sizeof t);
    for (int i = 0; i < N; i++) {
        t[i].rows = 64 + 32 * (size_t)(i % 5);
        t[i].cols = i % 3 ? 256 : 96; /* the K types fit only the 256-wide ones */
        t[i].signal = 1.0 + i;
        for (int k = 0; k < L.n; k++) /* error ~ 2^-bits, scaled per matrix, and a bump making some non-convex */
            t[i].err[k] = xf_mix_fits(&L, k, t[i].cols) ? (0.5 + (i * 7 % 11)) * exp2(-L.bits[k]) * (1 + 0.3 * (k == 3)) : -1;
    }
    double lo, hi;
    xf_mix_range(t, N, &L, &lo, &hi);
    CHECK(fabs(lo - 4.25) < 1e-12 && fabs(hi - 8.5) < 1e-12);
    int prev[N];
    for (int i = 0; i < N; i++) prev[i] = -1;
    size_t nonmono = 0, far = 0;
    for (double target = 4.5; target <= 8.4 + 1e-9; target += 0.01) { /* at the top, only big steps are left */
        double bpw = 0;
        CHECK(xf_mix_allocate(t, N, &L, target, &bpw) == XF_OK);
        if (!(bpw <= target + 1e-9 && bpw >= target - 0.05)) far++, printf("target %.2f: %.4f bpw\n", target, bpw);
        for (int i = 0; i < N; i++) {
            const double b = L.bits[t[i].choice];
            CHECK(t[i].core >= 0 && L.bits[t[i].core] <= b);
            nonmono += prev[i] >= 0 && b < L.bits[prev[i]];
            prev[i] = t[i].core; /* the core of this target: below every later choice */
        }
    }
    CHECK_MSG(far == 0, "%zu targets missed by more than 0.05 bpw", far);
    CHECK_MSG(nonmono == 0, "%zu times a matrix got fewer bits than its core at a lower target", nonmono);
    double bpw;
    CHECK(xf_mix_allocate(t, N, &L, lo - 0.01, &bpw) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "cannot be met"));
    CHECK(xf_mix_allocate(t, N, &L, 8.6, &bpw) == XF_ERR_INVALID_ARG);
    CHECK(xf_mix_allocate(t, N, &L, lo, &bpw) == XF_OK && fabs(bpw - lo) < 1e-12);
}

/* ------------------------------------------------------------------ 3, 4 */

static xf_model *load(const char *path) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 1;
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(path, &p, &m) == XF_OK, "%s: %s", path, xf_errmsg());
    return m;
}

/* The bits per weight over the blocks' matrices of a written file; bits[i] per tensor i. */
static double blocks_bpw(const xf_gguf *g, double *bits, size_t cap) {
    double b = 0, w = 0;
    for (size_t i = 0; i < xf_gguf_tensor_count(g) && i < cap; i++) {
        const xf_gguf_tensor *t = xf_gguf_tensor_at(g, i);
        bits[i] = 8.0 * (double)t->nbytes / (double)t->n_elements;
        CHECK_MSG(xf_quant_traits_of((int)t->type) != NULL, "%s: type %u", t->name, t->type);
        if (t->n_dims != 2 || strncmp(t->name, "blk.", 4)) continue;
        b += 8.0 * (double)t->nbytes, w += (double)t->n_elements;
    }
    return b / w;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* No file and no temporary file beside it (the writer's NAME.tmp* names start with the path). */
static int leftovers(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    return exists(path) || exists(tmp);
}

static void test_tiny_llama(void) {
    xf_model *m = load(xf_t_src("tests/data/tiny/llama"));
    if (!m) return;
    const int32_t ids[] = {5, 17, 42, 99, 7, 250, 3, 64};
    const size_t n_ids = sizeof ids / sizeof ids[0];
    const size_t V = xf_model_vocab_size(m);
    float *ref = malloc(n_ids * V * sizeof *ref), *got = malloc(n_ids * V * sizeof *got);
    CHECK(xf_model_logits(m, ids, n_ids, ref) == XF_OK);
    const char *out = xf_t_out("llama-mix.gguf");
    enum { CAP = 64 };
    double bits[CAP];
    for (double target = 4.25; target <= 8.5 + 1e-9; target += 0.25) {
        xf_save_params sp = xf_save_default_params();
        sp.target_bpw = target;
        sp.calib_text = k_calib;
        CHECK_MSG(xf_model_save(m, out, &sp) == XF_OK, "target %g: %s", target, xf_errmsg());
        xf_gguf *g = NULL;
        if (xf_gguf_open(out, &g) != XF_OK) {
            CHECK_MSG(0, "%s", xf_errmsg());
            continue;
        }
        const double bpw = blocks_bpw(g, bits, CAP);
        CHECK_MSG(bpw <= target + 1e-9 && bpw >= target - 0.05, "target %g: %.4f bpw over the blocks", target, bpw);
        uint64_t ft = 0;
        CHECK(xf_gguf_get_uint(g, "general.file_type", &ft) == XF_OK && ft > 1);
        CHECK(xf_gguf_find(g, "xfmr.quantize.mix") >= 0);
        /* the output (width 64: Q8_0) is not part of the mixture */
        const xf_gguf_tensor *o = xf_gguf_find_tensor(g, "output.weight");
        CHECK(o && o->type == XF_GGML_Q8_0);
        xf_gguf_close(g);
        printf("tiny llama target %.2f: %.4f bpw over the blocks\n", target, bpw);
        if (fabs(target - 4.5) > 1e-9) continue;
        xf_model *r = load(out);
        if (!r) continue;
        CHECK(xf_model_logits(r, ids, n_ids, got) == XF_OK);
        double num = 0, den = 0;
        for (size_t i = 0; i < n_ids * V; i++) num += (got[i] - ref[i]) * (got[i] - ref[i]), den += ref[i] * ref[i];
        CHECK_MSG(sqrt(num / den) < 0.2, "target 4.5: logits' relative error %.4f", sqrt(num / den));
        xf_model_free(r);
    }
    unlink(out);
    /* impossible targets and bad combinations: an error, no file */
    const char *bad = xf_t_out("llama-mix-bad.gguf");
    const double targets[] = {4.0, 8.6, -1, NAN};
    for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
        xf_save_params sp = xf_save_default_params();
        sp.target_bpw = targets[k];
        sp.calib_text = k_calib;
        CHECK_MSG(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG, "target %g", targets[k]);
        CHECK(!leftovers(bad));
    }
    xf_save_params sp = xf_save_default_params();
    sp.target_bpw = 4.0;
    CHECK(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "4.2500") && strstr(xf_errmsg(), "8.5000"));
    sp.target_bpw = 5.0, sp.mix_types = "Q5_0,Q8_0";
    CHECK(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "5.5000"));
    sp.mix_types = "Q4_0,Q7_7";
    CHECK(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "Q7_7"));
    sp.mix_types = NULL, sp.quantize = "Q4_0";
    CHECK(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG);
    sp.quantize = NULL, sp.target_bpw = 0, sp.mix_types = "Q4_0";
    CHECK(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG);
    CHECK(!leftovers(bad));
    /* two types only: "which matrices stay at 8 bits" */
    sp = xf_save_default_params();
    sp.target_bpw = 6.0, sp.mix_types = "Q4_0,Q8_0", sp.calib_text = k_calib;
    CHECK_MSG(xf_model_save(m, out, &sp) == XF_OK, "%s", xf_errmsg());
    xf_gguf *g = NULL;
    if (xf_gguf_open(out, &g) == XF_OK) {
        const double bpw = blocks_bpw(g, bits, CAP);
        CHECK_MSG(bpw <= 6.0 && bpw >= 5.8, "Q4_0,Q8_0 at 6: %.4f", bpw); /* steps of 4 x 2048 bits / 61440 weights */
        for (size_t i = 0; i < xf_gguf_tensor_count(g); i++) {
            const xf_gguf_tensor *t = xf_gguf_tensor_at(g, i);
            if (!strncmp(t->name, "blk.", 4) && t->n_dims == 2) CHECK(t->type == XF_GGML_Q4_0 || t->type == XF_GGML_Q8_0);
        }
        xf_gguf_close(g);
    }
    unlink(out);
    free(ref), free(got);
    xf_model_free(m);
}

int main(void) {
    test_ladder();
    test_allocate_synthetic();
    test_tiny_llama();
    return xf_t_report();
}
