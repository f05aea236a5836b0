/* test_quantize.c — xfmr's quantizers (src/quant/) and `xf_save_params.quantize`:
 *   1. each type's blocks of tests/data/quantize/input.f32 equal, byte for byte, the blocks ggml's
 *      reference quantizer made (<TYPE>.bin, scripts/make_quantize_goldens.py: gguf.quants and
 *      ggml_quantize_chunk agreeing);
 *   2. quantize -> dequantize error bounds per type on blocks of normal values at many scales
 *      (relative RMS error, and the largest error against the block's largest magnitude: half a
 *      step of the 32-block types, plus the half rounding of the scale for Q8_0; measured bounds
 *      with a margin for the K types and MXFP4, whose top code 6 clips up to a quarter of amax),
 *      and all-zero blocks stay exactly zero;
 *   3. saving the tiny BERT / LLaMA quantized to each type: llama-quantize's choice of tensor
 *      types (norms, biases, position / token-type embeddings F32; tied token embedding Q8_0 here;
 *      K types falling back for widths that are no multiple of 256), every quantized tensor equal
 *      to the quantizer applied to the source rows, the model reloading with outputs close to the
 *      float model's;
 *   3b. a matrix already in the requested type keeps its blocks byte for byte (as llama-quantize);
 *   4. an unknown type: XF_ERR_INVALID_ARG naming the valid ones, no file, no temporary file;
 *   5. all-MiniLM-L6-v2 (when fetched) as Q8_0: cosine to F32 >= 0.999 on golden-corpus lines;
 *   6. searched Q4_0 (quant_search.c): per block, its activation-weighted error is never above
 *      round-to-nearest's and is below it in total; saving with calibration text writes Q4_0 blocks
 *      that differ from RTN's and reload; calibration with another type is an error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/gguf.h"
#include "kernels/quants.h"
#include "quant/quantize.h"
#include "xfmr.h"

#define ROW 512

static const struct {
    const char *name;
    int type;
    double rel_rms; /* bound on sqrt(sum err^2 / sum x^2) over normal blocks */
    double rel_max; /* bound on max |err| / block amax (32-element blocks) */
} k_types[] = {
    {"Q8_0", XF_GGML_Q8_0, 0.006, 1.0 / 254 + 1.0 / 2048}, {"Q4_0", XF_GGML_Q4_0, 0.11, 1.0 / 8 * 1.01},
    {"Q4_1", XF_GGML_Q4_1, 0.09, 1.0 / 15 * 1.01},   {"Q5_0", XF_GGML_Q5_0, 0.055, 1.0 / 16 * 1.01},
    {"Q5_1", XF_GGML_Q5_1, 0.045, 1.0 / 31 * 1.01},  {"Q4_K", XF_GGML_Q4_K, 0.10, 0.2},
    {"Q5_K", XF_GGML_Q5_K, 0.05, 0.1},               {"Q6_K", XF_GGML_Q6_K, 0.025, 0.05},
    {"MXFP4", XF_GGML_MXFP4, 0.20, 0.25 * 1.01},
};
#define N_TYPES (sizeof k_types / sizeof k_types[0])

static float *g_in;
static size_t g_n;

static size_t row_bytes(int type, size_t n) {
    const xf_quant_traits *t = xf_quant_traits_of(type);
    return n / t->block_size * t->type_size;
}

/* ------------------------------------------------------------------ 1, 2 */

static void test_golden(size_t k) {
    const int type = k_types[k].type;
    char rel[64];
    snprintf(rel, sizeof rel, "tests/data/quantize/%s.bin", k_types[k].name);
    size_t len = 0;
    unsigned char *want = (unsigned char *)xf_t_slurp(xf_t_src(rel), &len);
    CHECK_MSG(want != NULL, "cannot read %s", rel);
    if (!want) return;
    const xf_quantize_fn q = xf_quantizer(type);
    CHECK_MSG(q != NULL, "no quantizer for %s", k_types[k].name);
    const size_t rb = row_bytes(type, ROW), rows = g_n / ROW;
    CHECK_MSG(len == rb * rows, "%s: %zu bytes, expected %zu", rel, len, rb * rows);
    if (!q || len != rb * rows) {
        free(want);
        return;
    }
    unsigned char *got = malloc(len);
    for (size_t r = 0; r < rows; r++) q(g_in + r * ROW, got + r * rb, ROW);
    const size_t ts = xf_quant_traits_of(type)->type_size, nb = len / ts;
    size_t bad = 0, first = 0;
    for (size_t b = nb; b-- > 0;)
        if (memcmp(got + b * ts, want + b * ts, ts)) bad++, first = b;
    CHECK_MSG(bad == 0, "%s: %zu of %zu blocks differ from ggml's (first: block %zu)", k_types[k].name, bad, nb, first);
    /* error bounds: dequantize and compare with the input */
    float *back = malloc(g_n * sizeof *back);
    xf_quant_traits_of(type)->dequant(got, back, g_n);
    double se = 0, sx = 0, worst = 0;
    int zero_ok = 1;
    for (size_t b = 0; b < g_n / 32; b++) {
        const float *x = g_in + 32 * b, *y = back + 32 * b;
        double amax = 0, emax = 0;
        for (int j = 0; j < 32; j++) {
            amax = fmax(amax, fabs(x[j]));
            emax = fmax(emax, fabs((double)x[j] - y[j]));
        }
        if (amax == 0) {
            for (int j = 0; j < 32; j++) zero_ok &= y[j] == 0.0f;
            continue;
        }
        /* the normal blocks at scales 0.02 .. 1e4, where the half scales are normal numbers */
        if (b < 8 * 256 / 32 && amax > 0.01) {
            for (int j = 0; j < 32; j++) se += ((double)x[j] - y[j]) * ((double)x[j] - y[j]), sx += (double)x[j] * x[j];
            worst = fmax(worst, emax / amax);
        }
    }
    const double rrms = sqrt(se / sx);
    CHECK_MSG(rrms <= k_types[k].rel_rms, "%s: relative RMS error %.4f > %.4f", k_types[k].name, rrms, k_types[k].rel_rms);
    CHECK_MSG(worst <= k_types[k].rel_max, "%s: max error / block amax %.4f > %.4f", k_types[k].name, worst, k_types[k].rel_max);
    CHECK_MSG(zero_ok, "%s: an all-zero block does not dequantize to zeros", k_types[k].name);
    printf("%-5s %zu blocks: %s ggml's; relative RMS error %.4f, max error / amax %.4f\n", k_types[k].name, nb,
           bad ? "DIFFER from" : "equal to", rrms, worst);
    free(back), free(got), free(want);
}

/* ------------------------------------------------------------------ 3 */

static xf_model *load(const char *path) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 1;
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(path, &p, &m) == XF_OK, "%s: %s", path, xf_errmsg());
    return m;
}

/* Tensor `name` of g has type want and, when quantized from float source values src (rows x cols),
 * equals the quantizer's blocks of them. */
static void check_tensor(const xf_gguf *g, const char *name, uint32_t want, const float *src) {
    const xf_gguf_tensor *t = xf_gguf_find_tensor(g, name);
    CHECK_MSG(t != NULL, "%s: no tensor %s", xf_gguf_path(g), name);
    if (!t) return;
    CHECK_MSG(t->type == want, "%s: %s is %s, expected %s", xf_gguf_path(g), name, xf_ggml_type_name(t->type),
              xf_ggml_type_name(want));
    if (!src || t->type != want || !xf_quantizer((int)want)) return;
    const size_t cols = t->dims[0], rows = t->n_dims > 1 ? t->dims[1] : 1, rb = row_bytes((int)want, cols);
    unsigned char *q = malloc(rb * rows);
    for (size_t r = 0; r < rows; r++) xf_quantizer((int)want)(src + r * cols, q + r * rb, cols);
    CHECK_MSG(!memcmp(q, t->data, rb * rows), "%s: %s is not the quantizer's blocks", xf_gguf_path(g), name);
    free(q);
}

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb + 1e-300);
}

/* A float tensor of the source folder's GGUF-free reading: the same values xf_model_save dequantizes. */
static float *f32_tensor(const char *gguf_f32, const char *name, size_t *n) {
    xf_gguf *g = NULL;
    if (xf_gguf_open(gguf_f32, &g) != XF_OK) return NULL;
    const xf_gguf_tensor *t = xf_gguf_find_tensor(g, name);
    float *v = NULL;
    if (t && t->type == XF_GGML_F32) {
        *n = (size_t)t->n_elements;
        v = malloc(*n * sizeof *v);
        memcpy(v, t->data, *n * sizeof *v);
    }
    xf_gguf_close(g);
    return v;
}

static void test_tiny_bert(void) {
    const char *src = xf_t_src("tests/data/tiny/bert");
    xf_model *m = load(src);
    if (!m) return;
    const char *f32 = xf_t_out("bert-f32.gguf");
    CHECK_MSG(xf_model_save(m, f32, NULL) == XF_OK, "%s", xf_errmsg());
    static const char *const texts[] = {"the quick brown fox", "hello world", "quantized weights"};
    const size_t dim = xf_model_embedding_dim(m);
    float *ref = malloc(3 * dim * sizeof *ref), *got = malloc(3 * dim * sizeof *got);
    CHECK(xf_embed(m, texts, 3, 0, ref, NULL) == XF_OK);
    size_t n_q = 0, n_emb = 0;
    float *wq = f32_tensor(f32, "blk.0.attn_q.weight", &n_q), *emb = f32_tensor(f32, "token_embd.weight", &n_emb);
    CHECK(wq && emb);
    for (size_t k = 0; k < N_TYPES; k++) {
        const int t = k_types[k].type;
        char file[64];
        snprintf(file, sizeof file, "bert-%s.gguf", k_types[k].name);
        const char *out = xf_t_out(file);
        xf_save_params sp = xf_save_default_params();
        sp.quantize = k_types[k].name;
        CHECK_MSG(xf_model_save(m, out, &sp) == XF_OK, "%s: %s", k_types[k].name, xf_errmsg());
        xf_gguf *g = NULL;
        CHECK_MSG(xf_gguf_open(out, &g) == XF_OK, "%s", xf_errmsg());
        if (!g) continue;
        /* width 32: the K types fall back as llama-quantize does */
        const uint32_t mat = t == XF_GGML_Q4_K ? XF_GGML_Q5_0 : t == XF_GGML_Q5_K ? XF_GGML_Q5_1 : t == XF_GGML_Q6_K ? XF_GGML_Q8_0 : (uint32_t)t;
        check_tensor(g, "blk.0.attn_q.weight", mat, wq);
        check_tensor(g, "blk.1.ffn_down.weight", mat, NULL);
        check_tensor(g, "token_embd.weight", XF_GGML_Q8_0, emb); /* tied: Q6_K, width 32 -> Q8_0 */
        check_tensor(g, "position_embd.weight", XF_GGML_F32, NULL);
        check_tensor(g, "token_types.weight", XF_GGML_F32, NULL);
        check_tensor(g, "blk.0.attn_q.bias", XF_GGML_F32, NULL);
        check_tensor(g, "blk.0.attn_output_norm.weight", XF_GGML_F32, NULL);
        uint64_t ft = 0;
        CHECK(xf_gguf_get_uint(g, "general.file_type", &ft) == XF_OK && ft > 1);
        xf_gguf_close(g);
        if (t == XF_GGML_MXFP4 && !xf_quant_traits_of(t)) continue;
        xf_model *r = load(out);
        if (!r) continue;
        CHECK(xf_embed(r, texts, 3, 0, got, NULL) == XF_OK);
        double worst = 1;
        for (int i = 0; i < 3; i++) worst = fmin(worst, cosine(ref + i * dim, got + i * dim, dim));
        const double floor = t == XF_GGML_Q8_0 || t == XF_GGML_Q6_K ? 0.999 : 0.98;
        CHECK_MSG(worst >= floor, "tiny bert %s: cosine to F32 %.5f < %.3f", k_types[k].name, worst, floor);
        printf("tiny bert %-5s: min cosine to F32 %.5f\n", k_types[k].name, worst);
        xf_model_free(r);
        unlink(out);
    }
    /* --pure: the token embedding in the type too */
    xf_save_params sp = xf_save_default_params();
    sp.quantize = "q4_0"; /* case-insensitive */
    sp.quantize_pure = 1;
    const char *out = xf_t_out("bert-pure.gguf");
    CHECK_MSG(xf_model_save(m, out, &sp) == XF_OK, "%s", xf_errmsg());
    xf_gguf *g = NULL;
    if (xf_gguf_open(out, &g) == XF_OK) {
        check_tensor(g, "token_embd.weight", XF_GGML_Q4_0, emb);
        xf_gguf_close(g);
    }
    unlink(out);
    unlink(f32);
    free(wq), free(emb), free(ref), free(got);
    xf_model_free(m);
}

/* LLaMA with an untied output: output.weight follows the output rule (Q6_K; width 64 -> Q8_0). */
static void test_tiny_llama(void) {
    xf_model *m = load(xf_t_src("tests/data/tiny/llama"));
    if (!m) return;
    const char *out = xf_t_out("llama-q4_1.gguf");
    xf_save_params sp = xf_save_default_params();
    sp.quantize = "Q4_1";
    CHECK_MSG(xf_model_save(m, out, &sp) == XF_OK, "%s", xf_errmsg());
    xf_gguf *g = NULL;
    if (xf_gguf_open(out, &g) == XF_OK) {
        check_tensor(g, "output.weight", XF_GGML_Q8_0, NULL);
        check_tensor(g, "token_embd.weight", XF_GGML_Q4_1, NULL);
        check_tensor(g, "blk.0.ffn_gate.weight", XF_GGML_Q4_1, NULL);
        check_tensor(g, "blk.0.attn_norm.weight", XF_GGML_F32, NULL);
        xf_gguf_close(g);
    }
    xf_model *r = load(out);
    xf_model_free(r);
    unlink(out);
    xf_model_free(m);
}

/* A matrix already in the requested type keeps its blocks byte for byte (llama-quantize copies it),
 * even blocks that quantizing their values again would change: here Q4_1 blocks none of whose
 * codes is 0, so that their minimum is not the block's offset m (a re-quantization moves m). */
static void test_same_type_copied(void) {
    xf_model *m = load(xf_t_src("tests/data/tiny/llama"));
    if (!m) return;
    const char *a = xf_t_out("llama-q4_1-a.gguf"), *a2 = xf_t_out("llama-q4_1-a2.gguf"), *b = xf_t_out("llama-q4_1-b.gguf");
    const char *name = "blk.0.ffn_gate.weight";
    xf_save_params sp = xf_save_default_params();
    sp.quantize = "Q4_1";
    CHECK_MSG(xf_model_save(m, a, &sp) == XF_OK, "%s", xf_errmsg());
    xf_model_free(m);
    size_t len = 0;
    unsigned char *file = (unsigned char *)xf_t_slurp(a, &len);
    xf_gguf *g = NULL;
    size_t off = 0, bytes = 0;
    if (file && xf_gguf_open(a, &g) == XF_OK) {
        const xf_gguf_tensor *t = xf_gguf_find_tensor(g, name);
        CHECK_MSG(t && t->type == XF_GGML_Q4_1, "%s: %s is not Q4_1", a, name);
        if (t && t->type == XF_GGML_Q4_1) off = (size_t)(xf_gguf_data_offset(g) + t->offset), bytes = (size_t)t->nbytes;
        xf_gguf_close(g);
    }
    int changed = 0;
    for (size_t blk = off; bytes && blk + 20 <= off + bytes; blk += 20) /* Q4_1: f16 d, f16 m, 16 bytes of codes */
        for (size_t i = 4; i < 20; i++) {
            if (!(file[blk + i] & 0x0f)) file[blk + i] |= 0x01, changed = 1;
            if (!(file[blk + i] & 0xf0)) file[blk + i] |= 0x10, changed = 1;
        }
    CHECK_MSG(changed, "%s: no block of %s had a code 0 to change", a, name);
    FILE *f = file ? fopen(a2, "wb") : NULL;
    CHECK_MSG(f && fwrite(file, 1, len, f) == len, "cannot write %s", a2);
    if (f) fclose(f);
    xf_model *m2 = bytes ? load(a2) : NULL;
    if (m2) {
        CHECK_MSG(xf_model_save(m2, b, &sp) == XF_OK, "%s", xf_errmsg());
        xf_gguf *gb = NULL;
        if (xf_gguf_open(b, &gb) == XF_OK) {
            const xf_gguf_tensor *t = xf_gguf_find_tensor(gb, name);
            CHECK_MSG(t && t->type == XF_GGML_Q4_1 && t->nbytes == bytes && !memcmp(t->data, file + off, bytes),
                      "%s: %s re-quantized instead of copied", b, name);
            xf_gguf_close(gb);
        }
        /* the check can fail: quantizing those blocks' values again gives other blocks */
        float *v = malloc(bytes / 20 * 32 * sizeof *v);
        unsigned char *q = malloc(bytes);
        if (v && q) {
            xf_dequant_q4_1_ref(file + off, v, bytes / 20 * 32);
            xf_quantizer(XF_GGML_Q4_1)(v, q, bytes / 20 * 32);
            CHECK_MSG(memcmp(q, file + off, bytes) != 0, "the altered Q4_1 blocks re-quantize to themselves: the copy check is void");
        }
        free(v), free(q);
        xf_model_free(m2);
    }
    free(file);
    unlink(a), unlink(a2), unlink(b);
}

/* ------------------------------------------------------------------ 4 */

static void test_bad_type(void) {
    xf_model *m = load(xf_t_src("tests/data/tiny/bert"));
    if (!m) return;
    const char *out = xf_t_out("bad.gguf");
    xf_save_params sp = xf_save_default_params();
    sp.quantize = "Q3_X";
    CHECK(xf_model_save(m, out, &sp) == XF_ERR_INVALID_ARG);
    CHECK_MSG(strstr(xf_errmsg(), "Q3_X") && strstr(xf_errmsg(), "Q4_K") && strstr(xf_errmsg(), "MXFP4"), "message: %s",
              xf_errmsg());
    CHECK(access(out, F_OK) != 0);
    CHECK(xf_t_count_tmp(xf_t_outdir()) == 0);
    CHECK(xf_quantizer(XF_GGML_Q2_K) == NULL && xf_quantize_type_by_name("F16") < 0);
    xf_model_free(m);
}

/* ------------------------------------------------------------------ 5 */

static void test_minilm(void) {
    const char *dir = xf_t_model_dir();
    if (!dir) return;
    xf_model *m = load(dir);
    if (!m) return;
    xf_t_corpus c;
    memset(&c, 0, sizeof c);
    char *text = NULL;
    size_t len = 0;
    text = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &len);
    size_t n_lines = 0;
    xf_t_span *lines = text ? xf_t_split_lines(text, len, &n_lines) : NULL;
    const size_t n = n_lines < 48 ? n_lines : 48, dim = xf_model_embedding_dim(m);
    const char **texts = calloc(n ? n : 1, sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        lines[i].p[lines[i].n] = 0;
        texts[i] = lines[i].p;
    }
    float *ref = malloc(n * dim * sizeof *ref), *got = malloc(n * dim * sizeof *got);
    CHECK(xf_embed(m, texts, n, 0, ref, NULL) == XF_OK);
    const char *out = xf_t_out("minilm-q8_0.gguf");
    xf_save_params sp = xf_save_default_params();
    sp.quantize = "Q8_0";
    CHECK_MSG(xf_model_save(m, out, &sp) == XF_OK, "%s", xf_errmsg());
    xf_model *r = load(out);
    if (r) {
        CHECK(xf_embed(r, texts, n, 0, got, NULL) == XF_OK);
        double worst = 1;
        for (size_t i = 0; i < n; i++) worst = fmin(worst, cosine(ref + i * dim, got + i * dim, dim));
        CHECK_MSG(worst >= 0.999, "MiniLM Q8_0: min cosine to F32 %.5f", worst);
        printf("all-MiniLM-L6-v2 Q8_0: min cosine to F32 over %zu corpus lines %.5f\n", n, worst);
        xf_model_free(r);
    }
    unlink(out);
    free(ref), free(got), free(texts), free(lines), free(text);
    xf_model_free(m);
}

/* ------------------------------------------------------------------ 6 */

static double werr(const float *x, const double *imp, const unsigned char *blocks, size_t n) {
    float *y = malloc(n * sizeof *y);
    xf_dequant_q4_0_ref(blocks, y, n);
    double e = 0;
    for (size_t i = 0; i < n; i++) e += imp[i] * ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    free(y);
    return e;
}

/* m saved as `type` to a (no calibration) and b (calibrated): the blocks' linears in want, and
 * different; the token embedding (not a block linear) Q8_0 in both, the same. */
static void save_calibrated(xf_model *m, const char *type, uint32_t want, const char *a, const char *b) {
    xf_save_params sp = xf_save_default_params();
    sp.quantize = type;
    CHECK(xf_model_save(m, a, &sp) == XF_OK);
    sp.calib_text = "the quick brown fox jumps over the lazy dog. quantized weights, calibrated scales.";
    CHECK_MSG(xf_model_save(m, b, &sp) == XF_OK, "%s", xf_errmsg());
    xf_gguf *ga = NULL, *gb = NULL;
    if (xf_gguf_open(a, &ga) == XF_OK && xf_gguf_open(b, &gb) == XF_OK) {
        const xf_gguf_tensor *ta = xf_gguf_find_tensor(ga, "blk.0.ffn_up.weight"), *tb = xf_gguf_find_tensor(gb, "blk.0.ffn_up.weight");
        CHECK_MSG(ta && tb && ta->type == want && tb->type == want && ta->nbytes == tb->nbytes, "%s: ffn_up types", type);
        if (ta && tb) CHECK_MSG(memcmp(ta->data, tb->data, ta->nbytes) != 0, "%s: calibrated blocks equal the others", type);
        const xf_gguf_tensor *ea = xf_gguf_find_tensor(ga, "token_embd.weight"), *eb = xf_gguf_find_tensor(gb, "token_embd.weight");
        CHECK(ea && eb && ea->type == XF_GGML_Q8_0 && !memcmp(ea->data, eb->data, ea->nbytes));
    }
    xf_gguf_close(ga), xf_gguf_close(gb);
}

static void test_searched(void) {
    const size_t n = g_n;
    double *imp = malloc(n * sizeof *imp);
    uint32_t r = 12345;
    for (size_t i = 0; i < n; i++) { /* skewed input energies, as activations have */
        r = r * 1664525u + 1013904223u;
        imp[i] = (r >> 8) % 100 == 0 ? 50.0 : 0.1 + (double)((r >> 8) % 1000) / 1000.0;
    }
    unsigned char *rtn = malloc(n / 32 * 18), *srch = malloc(n / 32 * 18);
    xf_quantize_q4_0_ref(g_in, rtn, n);
    xf_quantize_q4_0_searched(g_in, imp, srch, n);
    size_t worse = 0;
    double e_rtn = 0, e_srch = 0;
    for (size_t b = 0; b < n / 32; b++) {
        const double a = werr(g_in + 32 * b, imp + 32 * b, rtn + 18 * b, 32), c = werr(g_in + 32 * b, imp + 32 * b, srch + 18 * b, 32);
        worse += c > a * (1 + 1e-12) + 1e-300;
        e_rtn += a, e_srch += c;
    }
    CHECK_MSG(worse == 0, "searched Q4_0: %zu blocks with a larger weighted error than RTN", worse);
    CHECK_MSG(e_srch < 0.9 * e_rtn, "searched Q4_0: weighted error %.6g, RTN %.6g", e_srch, e_rtn);
    printf("searched Q4_0: weighted error %.4g of RTN's (%zu blocks)\n", e_srch / e_rtn, n / 32);
    free(imp), free(rtn), free(srch);
    /* through xf_model_save */
    xf_model *m = load(xf_t_src("tests/data/tiny/bert"));
    if (!m) return;
    const char *a = xf_t_out("bert-rtn.gguf"), *b = xf_t_out("bert-searched.gguf");
    save_calibrated(m, "Q4_0", XF_GGML_Q4_0, a, b);
    xf_save_params sp = xf_save_default_params();
    sp.calib_text = "the quick brown fox";
    xf_model *rl = load(b);
    xf_model_free(rl);
    sp.quantize = "Q4_1";
    CHECK(xf_model_save(m, xf_t_out("bad-calib.gguf"), &sp) == XF_ERR_INVALID_ARG);
    CHECK(access(xf_t_out("bad-calib.gguf"), F_OK) != 0);
    unlink(a), unlink(b);
    xf_model_free(m);
}

/* ------------------------------------------------------------------ 7 */

/* Weighted error of n values against blocks of type t (imp NULL: all 1). */
static double werr_t(const xf_quant_traits *t, const float *x, const double *imp, const unsigned char *blocks, size_t n) {
    float *y = malloc(n * sizeof *y);
    t->dequant(blocks, y, n);
    double e = 0;
    for (size_t i = 0; i < n; i++) e += (imp ? imp[i] : 1.0) * ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    free(y);
    return e;
}

static void test_fp4s(void) {
    const xf_quant_traits *tf = xf_quant_traits_of(XF_GGML_FP4S), *tm = xf_quant_traits_of(XF_GGML_MXFP4),
                          *t4 = xf_quant_traits_of(XF_GGML_Q4_0);
    CHECK(tf && tm && t4 && tf->type_size == 18 && tf->block_size == 32);
    if (!tf || !tm || !t4) return;
    const size_t n = g_n, nb = n / 32;
    double *imp = malloc(n * sizeof *imp);
    uint32_t r = 777;
    for (size_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        imp[i] = (r >> 8) % 100 == 0 ? 50.0 : 0.1 + (double)((r >> 8) % 1000) / 1000.0;
    }
    unsigned char *fs = malloc(nb * 18), *fu = malloc(nb * 18), *mx = malloc(nb * 17), *q4 = malloc(nb * 18);
    xf_quantize_fp4s_searched(g_in, imp, fs, n);
    xf_quantize_fp4s(g_in, fu, n);
    xf_quantize_mxfp4_ref(g_in, mx, n);
    xf_quantize_q4_0_ref(g_in, q4, n);
    size_t worse_w = 0, worse_u = 0, fmt_used[4] = {0};
    double e_fs = 0, e_mx = 0, e_q4 = 0, u_fu = 0, u_mx = 0;
    for (size_t b = 0; b < nb; b++) {
        const float *x = g_in + 32 * b;
        const double *w = imp + 32 * b;
        const double a = werr_t(tm, x, w, mx + 17 * b, 32), c = werr_t(tf, x, w, fs + 18 * b, 32);
        const double au = werr_t(tm, x, NULL, mx + 17 * b, 32), cu = werr_t(tf, x, NULL, fu + 18 * b, 32);
        worse_w += c > a * (1 + 1e-9) + 1e-300;
        worse_u += cu > au * (1 + 1e-9) + 1e-300;
        e_fs += c, e_mx += a, e_q4 += werr_t(t4, x, w, q4 + 18 * b, 32), u_fu += cu, u_mx += au;
        fmt_used[fs[18 * b + 1] >> 6]++;
    }
    CHECK_MSG(worse_w == 0 && worse_u == 0, "FP4S: %zu (weighted) / %zu (unweighted) blocks worse than MXFP4's RTN", worse_w, worse_u);
    CHECK_MSG(e_fs < 0.8 * e_mx && e_fs < e_q4, "FP4S weighted error %.6g, MXFP4 %.6g, Q4_0 %.6g", e_fs, e_mx, e_q4);
    printf("FP4S: weighted error %.4g of MXFP4's, %.4g of Q4_0's; unweighted search %.4g of MXFP4's; formats "
           "E2M1 %zu, E1M2 %zu, E3M0 %zu, INT4 %zu blocks\n", e_fs / e_mx, e_fs / e_q4, u_fu / u_mx, fmt_used[0], fmt_used[1],
           fmt_used[2], fmt_used[3]);
    /* values on a format's grid come back exactly: E1M2 magnitudes (1 + m / 4) 2^(e - 1), m / 4 for
     * e = 0, times 2^-3, every code present */
    float x[32], y[32];
    for (int j = 0; j < 32; j++) {
        const int c = j % 16, e = (c >> 2) & 1, m = c & 3;
        const float v = (e ? 1.0f + m / 4.0f : m / 4.0f) * 0.125f;
        x[j] = c & 8 ? -v : v;
    }
    x[0] = 1.75f * 0.125f; /* the largest magnitude at least once */
    unsigned char blk[18];
    xf_quantize_fp4s(x, blk, 32);
    tf->dequant(blk, y, 32);
    int same = 1;
    for (int j = 0; j < 32; j++) same &= x[j] == y[j]; /* -0 (code 8) comes back as 0 */
    CHECK_MSG(same, "FP4S: a block on the E1M2 grid does not round-trip (format %d)", blk[1] >> 6);
    memset(x, 0, sizeof x);
    xf_quantize_fp4s(x, blk, 32);
    tf->dequant(blk, y, 32);
    CHECK(!memcmp(x, y, sizeof x));
    /* FP8S: within E5M2's precision of every block (half a step of 2 mantissa bits at the block's
     * largest magnitude: 2^-3 relative, a little more for a clipped scale), and a block of E4M3
     * values comes back exactly */
    unsigned char *f8 = malloc(nb * 34);
    const xf_quant_traits *t8 = xf_quant_traits_of(XF_GGML_FP8S);
    size_t far = 0;
    double u8 = 0, uq = 0;
    xf_quantize_fp8s(g_in, f8, n);
    for (size_t b = 0; t8 && b < nb; b++) {
        float y8[32];
        t8->dequant(f8 + 34 * b, y8, 32);
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(g_in[32 * b + j]));
        for (int j = 0; j < 32; j++) far += fabsf(y8[j] - g_in[32 * b + j]) > 0.13f * amax;
        u8 += werr_t(t8, g_in + 32 * b, NULL, f8 + 34 * b, 32), uq += werr_t(t4, g_in + 32 * b, NULL, q4 + 18 * b, 32);
    }
    CHECK_MSG(t8 && far == 0, "FP8S: %zu values further than 0.13 of their block's largest magnitude", far);
    printf("FP8S: squared error %.4g of Q4_0's\n", u8 / uq);
    for (int j = 0; j < 32; j++) x[j] = ldexpf(1.0f + (float)(j % 8) / 8.0f, j % 7 - 3) * (j % 3 ? 1.0f : -1.0f);
    unsigned char b8[34];
    xf_quantize_fp8s(x, b8, 32);
    if (t8) t8->dequant(b8, y, 32);
    CHECK_MSG(!memcmp(x, y, sizeof x), "FP8S: a block of E4M3 values does not round-trip");
    free(f8);
    free(imp), free(fs), free(fu), free(mx), free(q4);
    /* through xf_model_save, with and without calibration; llama.cpp's rule for the tied embedding */
    xf_model *m = load(xf_t_src("tests/data/tiny/bert"));
    if (!m) return;
    const char *a = xf_t_out("bert-fp4s.gguf"), *b = xf_t_out("bert-fp4s-calib.gguf");
    save_calibrated(m, "FP4S", XF_GGML_FP4S, a, b);
    /* the file reloads with its blocks kept, and its outputs are the dequantized weights' */
    xf_model *rl = load(b);
    CHECK(rl != NULL);
    xf_model_free(rl);
    unlink(a), unlink(b);
    xf_model_free(m);
}

int main(void) {
    size_t len = 0;
    g_in = (float *)xf_t_slurp(xf_t_src("tests/data/quantize/input.f32"), &len);
    CHECK_MSG(g_in != NULL && len % (ROW * sizeof(float)) == 0, "tests/data/quantize/input.f32");
    g_n = len / sizeof(float);
    if (g_in)
        for (size_t k = 0; k < N_TYPES; k++) test_golden(k);
    test_tiny_bert();
    test_tiny_llama();
    test_same_type_copied();
    test_bad_type();
    if (g_in) test_searched();
    if (g_in) test_fp4s();
    test_minilm();
    free(g_in);
    return xf_t_report();
}
