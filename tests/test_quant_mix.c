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
 *      without a target: XF_ERR_INVALID_ARG and no file;
 *   5. max_ppl_increase on the tiny LLaMA (perplexity) and BERT (cosine): at most
 *      XF_MIX_SEARCH_EVALS candidates, the largest first; the file written is the smallest candidate
 *      that met the limit, and its loss measured again from the file is that candidate's and within
 *      the limit; a limit even the largest mixture misses, and bad combinations: XF_ERR_INVALID_ARG,
 *      no file, no candidate file left. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/gguf.h"
#include "kernels/quants.h"
#include "model/model.h"
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

/* ------------------------------------------------------------------ 5 */

typedef struct trial {
    size_t n;
    double bpw[16], loss[16];
    size_t total;
} trial;

static void on_trial(void *user, size_t done, size_t total, double bpw, double loss) {
    trial *t = user;
    CHECK(done == t->n + 1 && total == XF_MIX_SEARCH_EVALS);
    if (t->n < 16) t->bpw[t->n] = bpw, t->loss[t->n] = loss;
    t->n++;
    t->total = total;
}

static int search_left(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.search-tmp.gguf", path);
    return exists(tmp);
}

static void test_max_ppl(const char *model, const double *limits, size_t n_limits) {
    xf_model *m = load(xf_t_src(model));
    if (!m) return;
    xf_quality_ref ref;
    CHECK_MSG(xf_quality_ref_make(m, k_calib, 0, &ref) == XF_OK, "%s", xf_errmsg());
    const char *out = xf_t_out("mix-ppl.gguf");
    enum { CAP = 64 };
    double bits[CAP];
    for (size_t k = 0; k < n_limits; k++) {
        trial tr = {0};
        xf_save_params sp = xf_save_default_params();
        sp.max_ppl_increase = limits[k];
        sp.calib_text = k_calib;
        sp.search_progress = on_trial;
        sp.progress_user = &tr;
        CHECK_MSG(xf_model_save(m, out, &sp) == XF_OK, "%s, limit %g: %s", model, limits[k], xf_errmsg());
        CHECK(!search_left(out));
        CHECK_MSG(tr.n >= 1 && tr.n <= XF_MIX_SEARCH_EVALS, "%zu candidates", tr.n);
        CHECK(tr.n >= 1 && fabs(tr.bpw[0] - 8.5) < 1e-9); /* the largest mixture first: all Q8_0 */
        double best = 1e9, best_loss = 0;
        for (size_t i = 0; i < tr.n && i < 16; i++)
            if (tr.loss[i] <= limits[k] && tr.bpw[i] < best) best = tr.bpw[i], best_loss = tr.loss[i];
        xf_gguf *g = NULL;
        if (xf_gguf_open(out, &g) != XF_OK) {
            CHECK_MSG(0, "%s", xf_errmsg());
            continue;
        }
        const double bpw = blocks_bpw(g, bits, CAP);
        CHECK(xf_gguf_find(g, "xfmr.quantize.mix") >= 0);
        xf_gguf_close(g);
        CHECK_MSG(fabs(bpw - best) < 1e-3, "%s, limit %g: file %.4f bpw, smallest candidate within it %.4f", model, limits[k], bpw,
                  best);
        xf_model *r = load(out);
        double loss = 1e9;
        if (r) CHECK_MSG(xf_quality_loss(r, &ref, &loss) == XF_OK, "%s", xf_errmsg());
        CHECK_MSG(loss <= limits[k] && fabs(loss - best_loss) < 1e-6, "%s, limit %g: the file's loss %.6f%%, the candidate's %.6f%%",
                  model, limits[k], loss, best_loss);
        printf("%s max increase %g%%: %zu candidates, %.4f bpw, loss %.4f%%\n", model, limits[k], tr.n, bpw, loss);
        xf_model_free(r);
        unlink(out);
    }
    xf_quality_ref_free(&ref);
    xf_model_free(m);
}

static void test_max_ppl_errors(void) {
    xf_model *m = load(xf_t_src("tests/data/tiny/bert"));
    if (!m) return;
    const char *bad = xf_t_out("mix-ppl-bad.gguf");
    trial tr = {0};
    xf_save_params sp = xf_save_default_params();
    sp.max_ppl_increase = 1e-5; /* even all-Q8_0 loses more cosine than that */
    sp.calib_text = k_calib;
    sp.search_progress = on_trial;
    sp.progress_user = &tr;
    CHECK_MSG(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "cannot be met") &&
                  strstr(xf_errmsg(), "8.5000"), "%s", xf_errmsg());
    CHECK(tr.n == 1 && !leftovers(bad) && !search_left(bad));
    sp.search_progress = NULL;
    const double limits[] = {0, -1, NAN, INFINITY};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        sp.max_ppl_increase = limits[k];
        if (limits[k] == 0) sp.mix_types = "Q4_0,Q8_0"; /* mix_types without a target */
        CHECK_MSG(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG, "limit %g", limits[k]);
        sp.mix_types = NULL;
    }
    sp.max_ppl_increase = 2, sp.target_bpw = 5;
    CHECK(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "target_bpw"));
    sp.target_bpw = 0, sp.quantize = "Q4_0";
    CHECK(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG);
    sp.quantize = NULL, sp.calib_text = NULL;
    CHECK(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "calib_text"));
    sp.calib_text = k_calib, sp.mix_types = "Q5_0,Q8_8";
    CHECK(xf_model_save(m, bad, &sp) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "Q8_8"));
    CHECK(!leftovers(bad) && !search_left(bad));
    xf_model_free(m);
}

int main(void) {
    test_ladder();
    test_allocate_synthetic();
    test_tiny_llama();
    const double llama_limits[] = {0.02, 0.2, 2}, bert_limits[] = {0.05, 0.3, 5};
    test_max_ppl("tests/data/tiny/llama", llama_limits, 3);
    test_max_ppl("tests/data/tiny/bert", bert_limits, 3);
    test_max_ppl_errors();
    return xf_t_report();
}
