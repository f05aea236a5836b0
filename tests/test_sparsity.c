/* test_sparsity.c — sparsity made at load (xf_model_params.sparsity, src/model/sparsify.c):
 *   - bad parameters are clear errors (unknown kind / method, ratio out of range or given to
 *     2:4, Wanda without calibration text, calibration without Wanda, int8 / bf16 weights), a 2:4
 *     weight whose inputs are not a multiple of 4 names the tensor, and a caller built against the
 *     header before the sparsity fields (struct_size up to calib_text) loads dense;
 *   - 2:4 by magnitude: every block linear is s24, its rows are the 2:4 mask of the dense
 *     weights, and the model computes what the dense model with those masked weights computes:
 *     bitwise for many rows (the encoder; decoder whole-sequence logits), to float tolerance for
 *     decode steps (the compressed-form kernel sums in another order);
 *   - Wanda: calibration runs, masks differ from magnitude's where input norms outweigh;
 *   - unstructured 50 %: half of every row is zero, the rest as dense;
 *   - round trip: a 2:4 model (Wanda's, or magnitude's) saved (xf_model_save: compressed, GGUF
 *     S24 — tests/test_s24_gguf.c has that round trip as stored —, or XF_SAVE_DENSE: float rows
 *     with their zeros) reloads dense with bitwise the same many-row outputs (embeddings, whole-sequence
 *     logits; decode steps of the dense reload use the dense kernel's order), and reloads with
 *     --sparsity 2:4 (magnitude) to the same compressed weights, decode bitwise: a 2:4 matrix is
 *     its own magnitude mask.
 *   - SparseGPT (src/compress/sparsegpt.c; its arithmetic: tests/test_sparsegpt.c): the Gram matrix
 *     collected through the float GEMM (gram_gemm) equals the double loop's; the layers run one at
 *     a time (xf_model_forward_layer, the layer-by-layer calibration) give the forward pass
 *     bitwise; 2:4 gives s24 weights whose kept values moved (the update), unstructured float
 *     panels with half the weights zero; the 2:4 model saved reloads with --sparsity 2:4 to the
 *     same weights; without calibration text it is an error.
 * Tiny models (tests/data/tiny), then all-MiniLM-L6-v2 and SmolLM2 when present. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/sparse24.h"
#include "model/formats.h"
#include "model/layers.h"
#include "model/model.h"
#include "xfmr.h"

static xf_model *load(const char *path, xf_sparsity sp, xf_sparsity_method method, const char *calib) {
    return xf_t_load_sparse(path, XF_WEIGHTS_F32, sp, method, calib);
}

static xf_linear_w *lin(xf_model *m, size_t l, int k) {
    xf_layer *L = &m->plan.layers[l];
    xf_linear_w *all[7] = {&L->attn.q, &L->attn.k, &L->attn.v, &L->attn.o, &L->ffn.up, &L->ffn.gate, &L->ffn.down};
    return all[k];
}

static float *rows_of(const xf_weight *w) {
    float *d = malloc(w->rows * w->cols * sizeof *d);
    w->fmt->dequant_rows(w, 0, w->rows, d);
    return d;
}

static void expect_err(xf_status st, xf_status want, const char *needle) {
    CHECK_MSG(st == want && strstr(xf_errmsg(), needle), "status %d, message \"%s\" (want %d with \"%s\")", (int)st,
              xf_errmsg(), (int)want, needle);
}

static void test_errors(const char *path) {
    xf_model *m = NULL;
    xf_model_params p = xf_model_default_params();
    p.sparsity = (xf_sparsity)7;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_INVALID_ARG, "sparsity 7");
    p = xf_model_default_params();
    p.sparsity = XF_SPARSITY_2_4;
    p.sparsity_method = (xf_sparsity_method)5;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_INVALID_ARG, "sparsity_method 5");
    p.sparsity_method = XF_SPARSE_MAGNITUDE;
    p.sparsity_ratio = 0.3f;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_INVALID_ARG, "does not apply to 2:4");
    p.sparsity = XF_SPARSITY_UNSTRUCTURED;
    p.sparsity_ratio = 1.5f;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_RANGE, "sparsity_ratio 1.5");
    p.sparsity_ratio = 0.5f;
    p.sparsity_method = XF_SPARSE_WANDA;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_INVALID_ARG, "calibration text");
    p.sparsity_method = XF_SPARSE_SPARSEGPT;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_INVALID_ARG, "SparseGPT sparsity method needs calibration text");
    p.sparsity_method = XF_SPARSE_MAGNITUDE;
    p.calib_text = "some text";
    expect_err(xf_model_load(path, &p, &m), XF_ERR_INVALID_ARG, "magnitude method");
    p = xf_model_default_params();
    p.calib_text = "some text";
    expect_err(xf_model_load(path, &p, &m), XF_ERR_INVALID_ARG, "no sparsity");
    p = xf_model_default_params();
    p.sparsity = XF_SPARSITY_UNSTRUCTURED;
    p.weights = XF_WEIGHTS_INT8;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_UNSUPPORTED, "INT8");
    p.sparsity = XF_SPARSITY_2_4;
    p.weights = XF_WEIGHTS_BF16;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_UNSUPPORTED, "BF16");
    p.weights = XF_WEIGHTS_INT4; /* the 4-bit values of 2:4 only */
    p.sparsity = XF_SPARSITY_NONE;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_UNSUPPORTED, "need sparsity 2:4");
    p.sparsity = XF_SPARSITY_UNSTRUCTURED;
    expect_err(xf_model_load(path, &p, &m), XF_ERR_UNSUPPORTED, "need sparsity 2:4");
    CHECK(m == NULL);
    /* the layout before the sparsity fields: those unknown to the caller keep their defaults */
    p = xf_model_default_params();
    p.sparsity = XF_SPARSITY_2_4; /* beyond the old struct_size: not read */
    p.struct_size = offsetof(xf_model_params, calib_text);
    CHECK(xf_model_load(path, &p, &m) == XF_OK);
    if (m) CHECK(lin(m, 0, 0)->w.fmt != &xf_fmt_s24);
    xf_model_free(m);
    /* a weight whose inputs are not a multiple of 4 */
    float W[12] = {0};
    xf_weight w = {.fmt = &xf_fmt_f32, .rows = 2, .cols = 6, .data = W, .name = "blk.0.odd"};
    expect_err(xf_format_s24_make(NULL, &w, NULL), XF_ERR_UNSUPPORTED, "\"blk.0.odd\" has 6 inputs");
}

/* Dense model m0 whose block linears take the (decompressed) weights of the sparse model m1. */
static void adopt_masks(xf_model *m0, xf_model *m1) {
    for (size_t l = 0; l < m0->plan.n_layers; l++)
        for (int k = 0; k < 7; k++) {
            xf_weight *w0 = &lin(m0, l, k)->w, *w1 = &lin(m1, l, k)->w;
            if (!w0->data) continue;
            float *d = rows_of(w1);
            CHECK(xf_format_f32p_from(m0->ws, w0, d) == XF_OK);
            free(d);
        }
}

/* Every block linear of m1 is s24 and holds the 2:4 magnitude mask of m0's weights. */
static void check_masks(xf_model *m0, xf_model *m1, const char *name) {
    int ok = 1, fmt = 1;
    for (size_t l = 0; l < m0->plan.n_layers; l++)
        for (int k = 0; k < 7; k++) {
            const xf_weight *w0 = &lin(m0, l, k)->w, *w1 = &lin(m1, l, k)->w;
            if (!w0->data) continue;
            fmt &= w1->fmt == &xf_fmt_s24;
            float *d0 = rows_of(w0), *d1 = rows_of(w1), *want = malloc(w0->rows * w0->cols * sizeof *want);
            uint8_t *c = malloc(xf_s24_bytes(w0->rows, w0->cols));
            xf_s24_compress(d0, w0->cols, w0->rows, w0->cols, NULL, c);
            xf_s24_decompress_rows(c, w0->rows, w0->cols, 0, w0->rows, want);
            ok &= memcmp(d1, want, w0->rows * w0->cols * sizeof *want) == 0;
            free(d0), free(d1), free(want), free(c);
        }
    CHECK_MSG(fmt, "%s: a block linear is not 2:4", name);
    CHECK_MSG(ok, "%s: 2:4 weights are not the magnitude mask of the dense ones", name);
}

/* The model 2:4 by magnitude (*m1) and dense with its masked weights (*m0), masks checked. */
static int load_pair(const char *path, const char *name, xf_model **m0, xf_model **m1) {
    *m0 = load(path, XF_SPARSITY_NONE, XF_SPARSE_MAGNITUDE, NULL);
    *m1 = load(path, XF_SPARSITY_2_4, XF_SPARSE_MAGNITUDE, NULL);
    CHECK(*m0 && *m1);
    if (!*m0 || !*m1) {
        xf_model_free(*m0), xf_model_free(*m1);
        return 0;
    }
    check_masks(*m0, *m1, name);
    adopt_masks(*m0, *m1);
    return 1;
}

static void test_encoder(const char *path, const char *name) {
    xf_model *m0, *m1;
    if (!load_pair(path, name, &m0, &m1)) return;
    const char *texts[] = {"the quick brown fox jumps over the lazy dog", "a b", "sparse weights, dense results?"};
    const size_t dim = xf_model_embedding_dim(m0);
    float *e0 = malloc(3 * dim * sizeof *e0), *e1 = malloc(3 * dim * sizeof *e1);
    CHECK(xf_embed(m0, texts, 3, 3, e0, NULL) == XF_OK && xf_embed(m1, texts, 3, 3, e1, NULL) == XF_OK);
    /* many rows: the 2:4 product is the dense GEMM of the decompressed rows (same bits) */
    CHECK_MSG(memcmp(e0, e1, 3 * dim * sizeof *e0) == 0, "%s: 2:4 embeddings differ from the dense masked model", name);
    free(e0), free(e1);
    xf_model_free(m0), xf_model_free(m1);
}

static void test_decoder(const char *path, const char *name) {
    xf_model *m0, *m1;
    if (!load_pair(path, name, &m0, &m1)) return;
    const size_t V = xf_model_vocab_size(m0), n = 12;
    int32_t ids[12];
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 37 + 5) % (V < 300 ? V : 300));
    float *l0 = malloc(n * V * sizeof *l0), *l1 = malloc(n * V * sizeof *l1);
    CHECK(xf_model_logits(m0, ids, n, l0) == XF_OK && xf_model_logits(m1, ids, n, l1) == XF_OK);
    CHECK_MSG(memcmp(l0, l1, n * V * sizeof *l0) == 0, "%s: 2:4 whole-sequence logits differ from the dense masked model",
              name);
    /* decode steps: the compressed-form kernel (another summation order) */
    xf_session *s0 = NULL, *s1 = NULL;
    CHECK(xf_session_create(m0, 32, &s0) == XF_OK && xf_session_create(m1, 32, &s1) == XF_OK);
    double worst = 0, scale = 0;
    for (size_t t = 0; s0 && s1 && t < n; t++) {
        CHECK(xf_session_eval(s0, &ids[t], 1, l0) == XF_OK && xf_session_eval(s1, &ids[t], 1, l1) == XF_OK);
        for (size_t i = 0; i < V; i++) {
            const double d = fabs((double)l0[i] - l1[i]);
            worst = d > worst ? d : worst;
            scale = fabs(l0[i]) > scale ? fabs(l0[i]) : scale;
        }
    }
    CHECK_MSG(worst <= 1e-4 * (scale > 1 ? scale : 1), "%s: 2:4 decode logits off the dense masked model by %.3g (max %.3g)",
              name, worst, scale);
    xf_session_free(s0), xf_session_free(s1);
    free(l0), free(l1);
    xf_model_free(m0), xf_model_free(m1);
}

static void test_wanda_unstructured(const char *path, const char *calib) {
    xf_model *mm = load(path, XF_SPARSITY_2_4, XF_SPARSE_MAGNITUDE, NULL);
    xf_model *mw = load(path, XF_SPARSITY_2_4, XF_SPARSE_WANDA, calib);
    xf_model *m0 = load(path, XF_SPARSITY_NONE, XF_SPARSE_MAGNITUDE, NULL);
    xf_model *mu = load(path, XF_SPARSITY_UNSTRUCTURED, XF_SPARSE_MAGNITUDE, NULL);
    CHECK(mm && mw && m0 && mu);
    if (mm && mw && m0 && mu) {
        size_t differ = 0, total = 0;
        int fmt = 1, half = 1, kept = 1;
        for (size_t l = 0; l < m0->plan.n_layers; l++)
            for (int k = 0; k < 7; k++) {
                const xf_weight *w = &lin(mw, l, k)->w;
                if (!w->data) continue;
                fmt &= w->fmt == &xf_fmt_s24 && lin(mu, l, k)->w.fmt == &xf_fmt_f32p;
                float *a = rows_of(&lin(mm, l, k)->w), *b = rows_of(w), *d = rows_of(&lin(m0, l, k)->w),
                      *u = rows_of(&lin(mu, l, k)->w);
                for (size_t i = 0; i < w->rows * w->cols; i++) {
                    differ += (a[i] == 0) != (b[i] == 0);
                    total++;
                    kept &= u[i] == 0 || u[i] == d[i];
                }
                for (size_t o = 0; o < w->rows; o++) {
                    size_t z = 0;
                    for (size_t i = 0; i < w->cols; i++) z += u[o * w->cols + i] == 0;
                    half &= z >= w->cols / 2;
                }
                free(a), free(b), free(d), free(u);
            }
        CHECK_MSG(fmt, "Wanda 2:4 weights are s24, unstructured ones float panels");
        CHECK_MSG(differ > 0 && differ < total / 2, "Wanda and magnitude masks differ in %zu of %zu weights", differ, total);
        CHECK_MSG(half && kept, "unstructured 50%%: half of each row zero, the rest unchanged");
        printf("Wanda vs magnitude 2:4 masks: %zu of %zu weights differ\n", differ, total);
    }
    xf_model_free(mm), xf_model_free(mw), xf_model_free(m0), xf_model_free(mu);
}

/* Save the 2:4 model made by `method`, reload it dense (many-row outputs bitwise) and 2:4 by
 * magnitude (the same weights; decode steps bitwise). */
static void test_round_trip(const char *path, xf_sparsity_method method, const char *calib, const char *name) {
    xf_model *m = load(path, XF_SPARSITY_2_4, method, calib);
    CHECK(m != NULL);
    if (!m) return;
    char file[1200];
    snprintf(file, sizeof file, "%s/s24_%s.gguf", xf_t_outdir(), method == XF_SPARSE_WANDA ? "wanda" : "mag");
    xf_model *dense = NULL, *again = NULL;
    if (m->plan.lm_head.w.data) { /* decoder: whole-sequence logits of the dense reload */
        xf_save_params sp = xf_save_default_params();
        CHECK_MSG(xf_model_save(m, file, &sp) == XF_OK, "saving %s: %s", file, xf_errmsg());
        dense = load(file, XF_SPARSITY_NONE, XF_SPARSE_MAGNITUDE, NULL);
        const size_t V = xf_model_vocab_size(m), n = 10;
        int32_t ids[10];
        for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 13 + 2) % (V < 200 ? V : 200));
        float *a = malloc(n * V * sizeof *a), *b = malloc(n * V * sizeof *b);
        CHECK(dense && xf_model_logits(m, ids, n, a) == XF_OK && xf_model_logits(dense, ids, n, b) == XF_OK &&
              !memcmp(a, b, n * V * sizeof *a));
        free(a), free(b);
    } else { /* encoder: the harness's round trip (embeddings bitwise, the file saved again equal) */
        dense = xf_t_save_reload(m, file, XF_SAVE_DENSE, XF_WEIGHTS_F32);
    }
    again = load(file, XF_SPARSITY_2_4, XF_SPARSE_MAGNITUDE, NULL);
    CHECK(dense && again);
    if (again) {
        int same = 1;
        for (size_t l = 0; l < m->plan.n_layers; l++)
            for (int k = 0; k < 7; k++) {
                const xf_weight *a = &lin(m, l, k)->w, *b = &lin(again, l, k)->w;
                if (!a->data) continue;
                float *da = rows_of(a), *db = rows_of(b);
                same &= b->fmt == &xf_fmt_s24 && a->rows == b->rows && a->cols == b->cols &&
                        !memcmp(da, db, a->rows * a->cols * sizeof *da);
                free(da), free(db);
            }
        CHECK_MSG(same, "%s: the saved 2:4 model reloads with --sparsity 2:4 to other weights", name);
        if (m->plan.lm_head.w.data) { /* decoder: decode steps through the compressed form, bitwise */
            const size_t V = xf_model_vocab_size(m);
            float *l0 = malloc(V * sizeof *l0), *l1 = malloc(V * sizeof *l1);
            xf_session *s0 = NULL, *s1 = NULL;
            CHECK(xf_session_create(m, 16, &s0) == XF_OK && xf_session_create(again, 16, &s1) == XF_OK);
            int bits = 1;
            for (int32_t t = 0; s0 && s1 && t < 6; t++) {
                const int32_t id = (t * 11 + 3) % (int32_t)(V < 100 ? V : 100);
                CHECK(xf_session_eval(s0, &id, 1, l0) == XF_OK && xf_session_eval(s1, &id, 1, l1) == XF_OK);
                bits &= !memcmp(l0, l1, V * sizeof *l0);
            }
            CHECK_MSG(bits, "%s: decode after the round trip differs", name);
            xf_session_free(s0), xf_session_free(s1);
            free(l0), free(l1);
        }
    }
    xf_model_free(m), xf_model_free(dense), xf_model_free(again);
}

/* q (through the float GEMM) and k (the double loop) see the same inputs: the same Gram. */
static void test_gram_gemm(const char *path, const char *calib) {
    xf_model *m = load(path, XF_SPARSITY_NONE, XF_SPARSE_MAGNITUDE, NULL);
    CHECK(m != NULL);
    if (!m) return;
    xf_linear_w *q = lin(m, 0, 0), *k = lin(m, 0, 1);
    const size_t C = q->w.cols;
    double *a = calloc(C * C, sizeof *a), *b = calloc(C * C, sizeof *b);
    q->in_gram = a, q->gram_block = C, q->gram_gemm = 1;
    k->in_gram = b, k->gram_block = C, k->gram_gemm = 0;
    CHECK(xf_model_calib_run(m, calib, 0, "test") == XF_OK);
    q->in_gram = k->in_gram = NULL;
    double worst = 0, big = 0;
    for (size_t i = 0; i < C; i++)
        for (size_t j = i; j < C; j++) worst = fmax(worst, fabs(a[i * C + j] - b[i * C + j])), big = fmax(big, fabs(b[i * C + j]));
    CHECK_MSG(big > 0 && worst <= 1e-5 * big, "Gram by the float GEMM differs by %.3g (entries up to %.3g)", worst, big);
    free(a), free(b);
    xf_model_free(m);
}

/* The layers run one at a time (xf_model_forward_layer), then the final norm: the forward pass. */
static void test_forward_layer(const char *path, const char *name) {
    xf_model *m = load(path, XF_SPARSITY_NONE, XF_SPARSE_MAGNITUDE, NULL);
    CHECK(m != NULL);
    if (!m) return;
    const size_t n = 9, H = m->cfg.hidden_size, V = m->cfg.vocab_size;
    int32_t ids[9];
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 7 + 3) % V);
    float *X = malloc(n * H * sizeof *X), *Y;
    for (size_t l = 0; l < m->plan.n_layers; l++) CHECK(xf_model_forward_layer(m, ids, n, l, X) == XF_OK);
    xf_add_norm(m->pool, &m->plan.final_norm, X, NULL, n);
    CHECK(xf_model_forward_ids(m, ids, n, &Y) == XF_OK);
    CHECK_MSG(!memcmp(X, Y, n * H * sizeof *X), "%s: the layers one at a time differ from the forward pass", name);
    CHECK(xf_model_forward_layer(m, ids, n, m->plan.n_layers, X) == XF_ERR_RANGE);
    free(X);
    xf_model_free(m);
}

/* SparseGPT: errors, 2:4 weights (s24, 2 zeros per group, kept values moved by the update),
 * unstructured (float panels, half zero), the 2:4 model saved reloads by magnitude to the same weights. */
static void test_sparsegpt(const char *path, const char *calib, const char *name) {
    xf_model *m = NULL;
    xf_model_params p = xf_model_default_params();
    p.sparsity = XF_SPARSITY_2_4;
    p.sparsity_method = XF_SPARSE_SPARSEGPT;
    xf_status st = xf_model_load(path, &p, &m);
    CHECK_MSG(st == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "SparseGPT sparsity method needs calibration text"),
              "SparseGPT without calibration: %d \"%s\"", (int)st, xf_errmsg());
    xf_model *m0 = load(path, XF_SPARSITY_NONE, XF_SPARSE_MAGNITUDE, NULL);
    xf_model *ms = load(path, XF_SPARSITY_2_4, XF_SPARSE_SPARSEGPT, calib);
    xf_model *mu = load(path, XF_SPARSITY_UNSTRUCTURED, XF_SPARSE_SPARSEGPT, calib);
    CHECK(m0 && ms && mu);
    if (m0 && ms && mu) {
        int fmt = 1, groups = 1;
        size_t moved = 0, kept = 0, zu = 0, total = 0;
        for (size_t l = 0; l < m0->plan.n_layers; l++)
            for (int k = 0; k < 7; k++) {
                const xf_weight *w = &lin(ms, l, k)->w;
                if (!w->data) continue;
                fmt &= w->fmt == &xf_fmt_s24 && lin(mu, l, k)->w.fmt == &xf_fmt_f32p;
                float *d = rows_of(&lin(m0, l, k)->w), *s = rows_of(w), *u = rows_of(&lin(mu, l, k)->w);
                for (size_t i = 0; i < w->rows * w->cols; i++) {
                    kept += s[i] != 0, moved += s[i] != 0 && s[i] != d[i];
                    zu += u[i] == 0, total++;
                }
                for (size_t i = 0; i < w->rows * w->cols; i += 4)
                    groups &= (s[i] == 0) + (s[i + 1] == 0) + (s[i + 2] == 0) + (s[i + 3] == 0) >= 2;
                free(d), free(s), free(u);
            }
        CHECK_MSG(fmt && groups, "%s: 2:4 weights s24 with 2 zeros in every group of 4, unstructured float panels", name);
        CHECK_MSG(moved > kept / 2, "%s: the update moved %zu of %zu kept weights", name, moved, kept);
        CHECK_MSG(zu >= total / 2 && zu < total / 2 + total / 100, "%s: unstructured 50%%: %zu of %zu zero", name, zu, total);
        /* saved and reloaded 2:4 by magnitude: the same weights */
        char file[1200];
        snprintf(file, sizeof file, "%s/sgpt_%s.gguf", xf_t_outdir(), name);
        xf_save_params sp = xf_save_default_params();
        CHECK_MSG(xf_model_save(ms, file, &sp) == XF_OK, "saving %s: %s", file, xf_errmsg());
        xf_model *again = load(file, XF_SPARSITY_2_4, XF_SPARSE_MAGNITUDE, NULL);
        CHECK(again != NULL);
        int same = again != NULL;
        for (size_t l = 0; again && l < ms->plan.n_layers; l++)
            for (int k = 0; k < 7; k++) {
                const xf_weight *a = &lin(ms, l, k)->w, *b = &lin(again, l, k)->w;
                if (!a->data) continue;
                float *da = rows_of(a), *db = rows_of(b);
                same &= b->fmt == &xf_fmt_s24 && a->rows == b->rows && a->cols == b->cols &&
                        !memcmp(da, db, a->rows * a->cols * sizeof *da);
                free(da), free(db);
            }
        CHECK_MSG(same, "%s: the saved SparseGPT 2:4 model reloads to other weights", name);
        xf_model_free(again);
        printf("%s: SparseGPT moved %zu of %zu kept weights; unstructured %zu of %zu zero\n", name, moved, kept, zu, total);
    }
    xf_model_free(m0), xf_model_free(ms), xf_model_free(mu);
}

/* 2:4 with int8 kept values (--sparsity 2:4 --weights int8): every block linear is s24q8, with the
 * zeros of the float 2:4 model and values within half a step of its row's scale; logits of a
 * decode step (int8 activations, integer dots) close to the float 2:4 model's; SparseGPT makes
 * s24q8 too. bits 4 (--weights int4): s24q4, values within a step of their group of 32 inputs'
 * scale (Q4_0's rule: half a step but at the clamp), decode logits within 25 % of the largest. */
static void test_q8_values(const char *path, const char *calib, const char *name, int bits) {
    const xf_format *want = bits == 4 ? &xf_fmt_s24q4 : &xf_fmt_s24q8;
    xf_model *mf = load(path, XF_SPARSITY_2_4, XF_SPARSE_MAGNITUDE, NULL), *mq = NULL, *mg = NULL;
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.weights = bits == 4 ? XF_WEIGHTS_INT4 : XF_WEIGHTS_INT8;
    p.sparsity = XF_SPARSITY_2_4;
    CHECK(xf_model_load(path, &p, &mq) == XF_OK);
    p.sparsity_method = XF_SPARSE_SPARSEGPT;
    p.calib_text = calib;
    CHECK(xf_model_load(path, &p, &mg) == XF_OK);
    if (!mf || !mq || !mg) goto done;
    int fmt = 1, close = 1;
    for (size_t l = 0; l < mf->plan.n_layers; l++)
        for (int k = 0; k < 7; k++) {
            const xf_weight *a = &lin(mf, l, k)->w, *b = &lin(mq, l, k)->w;
            if (!a->data) continue;
            fmt &= b->fmt == want && lin(mg, l, k)->w.fmt == want;
            float *da = rows_of(a), *db = rows_of(b);
            const size_t G = bits == 4 ? 32 : a->cols; /* inputs per scale */
            for (size_t o = 0; o < a->rows; o++)
                for (size_t g = 0; g < a->cols; g += G) {
                    float amax = 0;
                    for (size_t i = g; i < g + G; i++) amax = fmaxf(amax, fabsf(da[o * a->cols + i]));
                    for (size_t i = g; i < g + G; i++) {
                        const float x = da[o * a->cols + i], y = db[o * a->cols + i];
                        close &= (x != 0 || y == 0) && fabsf(x - y) <= (bits == 4 ? amax / 8.0f * 1.01f : amax / 254.0f * 1.0001f);
                    }
                }
            free(da), free(db);
        }
    CHECK_MSG(fmt && close, "%s: int%d 2:4 weights: %s %d, within a step of the float ones %d", name, bits, want->name,
              fmt, close);
    if (mf->plan.lm_head.w.data) {
        const size_t V = xf_model_vocab_size(mf);
        float *l0 = malloc(V * sizeof *l0), *l1 = malloc(V * sizeof *l1);
        xf_session *s0 = NULL, *s1 = NULL;
        CHECK(xf_session_create(mf, 16, &s0) == XF_OK && xf_session_create(mq, 16, &s1) == XF_OK);
        double worst = 0, big = 0;
        for (int32_t t = 0; s0 && s1 && t < 4; t++) {
            const int32_t id = (t * 11 + 3) % (int32_t)(V < 100 ? V : 100);
            CHECK(xf_session_eval(s0, &id, 1, l0) == XF_OK && xf_session_eval(s1, &id, 1, l1) == XF_OK);
            for (size_t i = 0; i < V; i++) worst = fmax(worst, fabs(l0[i] - l1[i])), big = fmax(big, fabs(l0[i]));
        }
        CHECK_MSG(worst <= (bits == 4 ? 0.25 : 0.05) * big, "%s: int%d 2:4 decode logits off the float 2:4 ones by %.3g (largest %.3g)",
                  name, bits, worst, big);
        printf("%s: int%d 2:4 decode logits within %.3g of the float 2:4 model's (largest %.3g)\n", name, bits, worst, big);
        xf_session_free(s0), xf_session_free(s1);
        free(l0), free(l1);
    }
done:
    xf_model_free(mf), xf_model_free(mq), xf_model_free(mg);
}

int main(void) {
    const char *bert = xf_t_src("tests/data/tiny/bert"), *llama = xf_t_src("tests/data/tiny/llama");
    const char *calib = "The cat sat on the mat. Sparse models keep two of every four weights. "
                        "Calibration text sets the input norms that Wanda multiplies with weight magnitudes.";
    test_errors(llama);
    test_encoder(bert, "tiny bert");
    test_decoder(llama, "tiny llama");
    test_wanda_unstructured(bert, calib);
    test_wanda_unstructured(llama, calib);
    test_round_trip(llama, XF_SPARSE_WANDA, calib, "tiny llama (Wanda)");
    test_round_trip(bert, XF_SPARSE_MAGNITUDE, NULL, "tiny bert");
    test_gram_gemm(llama, calib);
    test_forward_layer(llama, "tiny-llama");
    test_forward_layer(bert, "tiny-bert");
    test_sparsegpt(llama, calib, "tiny-llama");
    test_sparsegpt(bert, calib, "tiny-bert");
    test_q8_values(llama, calib, "tiny-llama", 8);
    test_q8_values(bert, calib, "tiny-bert", 8);
    test_q8_values(llama, calib, "tiny-llama", 4);
    test_q8_values(bert, calib, "tiny-bert", 4);
    const char *minilm = xf_t_model_dir();
    if (minilm) {
        test_encoder(minilm, "all-MiniLM-L6-v2");
        test_wanda_unstructured(minilm, calib);
    }
    const char *smol = xf_t_smollm2();
    if (smol) test_decoder(smol, "SmolLM2-135M");
    return xf_t_report();
}
