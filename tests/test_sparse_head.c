/* test_sparse_head.c — the 2:4 language-model head (xf_model_params.sparse_head, --sparse-head;
 * docs/COMPRESSION.md):
 *   - tiny llama (untied head), qwen2 and gpt2 (tied to the embedding), 2:4 by magnitude, Wanda and
 *     SparseGPT, float / int8 / int4 kept values: the head is a 2:4 tensor of the model's kept-value
 *     format, a tied head is untied (the embedding unchanged, as stored), the blocks are bitwise
 *     those of the same load with a dense head; the logits (24-id prefill through the many-row
 *     path, a 16-id prompt and 3 decode steps through the few-row kernel) equal those of the same
 *     model whose head is the plain float matrix of the 2:4 head's values, within float tolerance
 *     (int8 / int4 values: the kernels' activation quantization); by magnitude with float values
 *     that matrix is the dense head with the 2:4 magnitude mask (computed here from the
 *     definition); SparseGPT changes the head's kept values, Wanda keeps them;
 *   - save -> reload bitwise (xf_t_save_reload: outputs, weights, the same file again), the file
 *     holding output.weight as S24 / S24Q8 / S24Q4 and reloading untied;
 *   - bad options: sparse_head without 2:4 (none, unstructured), not 0 / 1, on an encoder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/gguf.h"
#include "model/formats.h"
#include "model/layers.h"
#include "model/model.h"
#include "xfmr.h"

static const char *k_calib = "The cat sat on the mat. Sparse models keep two of every four weights. "
                             "Calibration text sets the input norms that Wanda multiplies with weight magnitudes, "
                             "and the Hessian that SparseGPT updates the kept weights with.";

static xf_model *load(const char *path, int bits, xf_sparsity_method method, int head) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.weights = bits == 8 ? XF_WEIGHTS_INT8 : bits == 4 ? XF_WEIGHTS_INT4 : XF_WEIGHTS_F32;
    p.sparsity = XF_SPARSITY_2_4;
    p.sparsity_method = method;
    p.calib_text = method == XF_SPARSE_MAGNITUDE ? NULL : k_calib;
    p.sparse_head = head;
    xf_model *m = NULL;
    if (xf_model_load(path, &p, &m) != XF_OK) fprintf(stderr, "load %s: %s\n", path, xf_errmsg());
    return m;
}

static xf_weight *lin(xf_model *m, size_t l, int k) {
    xf_layer *L = &m->plan.layers[l];
    xf_linear_w *all[7] = {&L->attn.q, &L->attn.k, &L->attn.v, &L->attn.o, &L->ffn.up, &L->ffn.gate, &L->ffn.down};
    return &all[k]->w;
}

static int same_weight(const xf_weight *a, const xf_weight *b) {
    if (!a->data || !b->data) return !a->data && !b->data;
    return a->fmt == b->fmt && a->rows == b->rows && a->cols == b->cols && !memcmp(a->data, b->data, xf_weight_bytes(a));
}

/* The 2:4 magnitude mask of W [R, C] by the definition: in each group of 4, the 2 of largest |w|
 * (ties: the lower input) kept, the others 0. */
static void magnitude_mask(float *W, size_t R, size_t C) {
    for (size_t r = 0; r < R; r++)
        for (size_t g = 0; g < C; g += 4) {
            float *w = W + r * C + g;
            int keep[4] = {0, 0, 0, 0};
            for (int n = 0; n < 2; n++) {
                int best = -1;
                for (int i = 0; i < 4; i++)
                    if (!keep[i] && (best < 0 || fabsf(w[i]) > fabsf(w[best]))) best = i;
                keep[best] = 1;
            }
            for (int i = 0; i < 4; i++)
                if (!keep[i]) w[i] = 0.0f;
        }
}

/* Largest |a - b| over the largest |b| of each block of V logits. */
static double max_rel(const float *a, const float *b, size_t n, size_t V) {
    double worst = 0;
    for (size_t o = 0; o < n; o += V) {
        double big = 0, d = 0;
        for (size_t i = o; i < o + V; i++) {
            if (fabs(b[i]) > big) big = fabs(b[i]);
            if (fabs((double)a[i] - b[i]) > d || a[i] != a[i]) d = a[i] != a[i] ? INFINITY : fabs((double)a[i] - b[i]);
        }
        if (d / (big > 0 ? big : 1) > worst) worst = d / (big > 0 ? big : 1);
    }
    return worst;
}

static void check_model(const char *path, const char *name, int bits, xf_sparsity_method method) {
    const char *mname = method == XF_SPARSE_WANDA ? "Wanda" : method == XF_SPARSE_SPARSEGPT ? "SparseGPT" : "magnitude";
    const xf_format *want = bits == 8 ? &xf_fmt_s24q8 : bits == 4 ? &xf_fmt_s24q4 : &xf_fmt_s24;
    xf_model *dense_head = load(path, bits, method, 0), *m = load(path, bits, method, 1);
    CHECK_MSG(dense_head && m, "%s %s int%d: load", name, mname, bits);
    if (!dense_head || !m) {
        xf_model_free(dense_head), xf_model_free(m);
        return;
    }
    xf_model *plain = xf_t_load(path, XF_WEIGHTS_AS_STORED);
    const int was_tied = plain && plain->cfg.tie_word_embeddings;
    xf_weight *h = &m->plan.lm_head.w;
    CHECK_MSG(h->fmt == want && !m->cfg.tie_word_embeddings && xf_weight_is_s24(h) && h->data != m->plan.tok_emb.data,
              "%s %s int%d: head format %s, tied %d", name, mname, bits, h->fmt->name, m->cfg.tie_word_embeddings);
    CHECK_MSG(!xf_weight_is_s24(&dense_head->plan.lm_head.w), "%s: the default head is dense", name);
    /* the embedding as stored, the blocks those of the dense-head load */
    CHECK_MSG(plain && same_weight(&m->plan.tok_emb, &plain->plan.tok_emb), "%s %s int%d: the embedding changed", name, mname, bits);
    int blocks = 1;
    for (size_t l = 0; l < m->plan.n_layers; l++)
        for (int k = 0; k < 7; k++) blocks &= same_weight(lin(m, l, k), lin(dense_head, l, k));
    CHECK_MSG(blocks, "%s %s int%d: the block weights differ from the dense-head model's", name, mname, bits);

    /* the head's values as a plain float matrix */
    float *Wh = xf_weight_dense_copy(h);
    const size_t V = h->rows, C = h->cols;
    float *W0 = plain ? xf_weight_dense_copy(was_tied ? &plain->plan.tok_emb : &plain->plan.lm_head.w) : NULL;
    CHECK(Wh && W0);
    if (Wh && W0) {
        size_t zeros = 0;
        for (size_t i = 0; i < V * C; i += 4) zeros += (Wh[i] == 0) + (Wh[i + 1] == 0) + (Wh[i + 2] == 0) + (Wh[i + 3] == 0) >= 2;
        CHECK_MSG(zeros == V * C / 4, "%s %s int%d: %zu of %zu groups of 4 with 2 zeros", name, mname, bits, zeros, V * C / 4);
        if (method == XF_SPARSE_MAGNITUDE && bits == 0) {
            magnitude_mask(W0, V, C);
            CHECK_MSG(!memcmp(W0, Wh, V * C * sizeof *Wh), "%s: the head is not the dense head's 2:4 magnitude mask", name);
        } else if (bits == 0) { /* Wanda picks a mask of the dense values, SparseGPT updates them */
            size_t moved = 0;
            for (size_t i = 0; i < V * C; i++) moved += Wh[i] != 0 && Wh[i] != W0[i];
            CHECK_MSG(method == XF_SPARSE_WANDA ? moved == 0 : moved > V * C / 8, "%s %s: %zu kept values changed", name,
                      mname, moved);
        }
    }
    /* logits against the same model holding the plain float matrix as its head */
    size_t n = 0, nr = 0;
    float *got = xf_t_model_outputs(m, &n);
    const xf_weight keep = *h;
    *h = (xf_weight){.fmt = &xf_fmt_f32, .rows = V, .cols = C, .data = Wh, .row_bytes = C * sizeof(float), .name = "reference"};
    CHECK(xf_linear_reserve(m->pool, h) == XF_OK);
    float *ref = Wh ? xf_t_model_outputs(m, &nr) : NULL;
    *h = keep;
    CHECK(got && ref && n == nr && n % V == 0);
    if (got && ref && n == nr) {
        const double e = max_rel(got, ref, n, V), tol = bits ? 2e-2 : 1e-5;
        CHECK_MSG(e <= tol, "%s %s int%d: logits %.3g of the largest from the reference (tolerance %g)", name, mname, bits, e, tol);
        printf("%s %s int%d: 2:4 head logits within %.2g of the reference\n", name, mname, bits, e);
    }
    free(got), free(ref), free(Wh), free(W0);

    /* save -> reload: bitwise, untied, output.weight compressed */
    const char *file = xf_t_out("sparse_head.gguf");
    xf_model *r = xf_t_save_reload(m, file, XF_SAVE_F32, XF_WEIGHTS_AS_STORED);
    CHECK_MSG(r != NULL, "%s %s int%d: reload", name, mname, bits);
    if (r) {
        CHECK_MSG(!r->cfg.tie_word_embeddings && same_weight(&r->plan.lm_head.w, h), "%s %s int%d: the reloaded head differs",
                  name, mname, bits);
        const xf_gguf *g = xf_weight_set_gguf(r->ws);
        const xf_gguf_tensor *t = g ? xf_gguf_find_tensor(g, "output.weight") : NULL;
        CHECK(t && t->type == (uint32_t)want->save_type);
    }
    xf_model_free(r);
    unlink(file);
    xf_model_free(plain), xf_model_free(dense_head), xf_model_free(m);
}

static void expect_err(const char *path, xf_sparsity sp, int head, xf_status want, const char *msg) {
    xf_model_params p = xf_model_default_params();
    p.sparsity = sp;
    p.sparse_head = head;
    xf_model *m = NULL;
    const xf_status st = xf_model_load(path, &p, &m);
    CHECK_MSG(st == want && !m && strstr(xf_errmsg(), msg), "sparse_head %d, sparsity %d: %d \"%s\"", head, (int)sp, (int)st,
              xf_errmsg());
    xf_model_free(m);
}

int main(void) {
    char llama[1024], qwen2[1024], gpt2[1024], bert[1024]; /* xf_t_src reuses its buffer */
    snprintf(llama, sizeof llama, "%s", xf_t_src("tests/data/tiny/llama"));
    snprintf(qwen2, sizeof qwen2, "%s", xf_t_src("tests/data/tiny/qwen2"));
    snprintf(gpt2, sizeof gpt2, "%s", xf_t_src("tests/data/tiny/gpt2"));
    snprintf(bert, sizeof bert, "%s", xf_t_src("tests/data/tiny/bert"));
    expect_err(llama, XF_SPARSITY_NONE, 1, XF_ERR_INVALID_ARG, "needs sparsity 2:4");
    expect_err(llama, XF_SPARSITY_UNSTRUCTURED, 1, XF_ERR_INVALID_ARG, "not unstructured");
    expect_err(llama, XF_SPARSITY_2_4, 2, XF_ERR_INVALID_ARG, "sparse_head 2 is not 0 or 1");
    expect_err(bert, XF_SPARSITY_2_4, 1, XF_ERR_UNSUPPORTED, "no LM head");
    static const xf_sparsity_method methods[] = {XF_SPARSE_MAGNITUDE, XF_SPARSE_WANDA, XF_SPARSE_SPARSEGPT};
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < 3; k++) {
            const int bits = b == 0 ? 0 : b == 1 ? 8 : 4;
            check_model(llama, "tiny llama (untied)", bits, methods[k]);
            check_model(qwen2, "tiny qwen2 (tied)", bits, methods[k]);
        }
    check_model(gpt2, "tiny gpt2 (tied)", 0, XF_SPARSE_MAGNITUDE);
    check_model(gpt2, "tiny gpt2 (tied)", 8, XF_SPARSE_SPARSEGPT);
    return xf_t_report();
}
