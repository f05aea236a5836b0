/* test_compress.c — xf_model_compress (src/compress/) against plain references, on the tiny models
 * (and SmolLM2 for grouped-query attention at real size, skipped when it is not fetched):
 *   - heads: the pruned model gives bitwise the outputs of the dense model whose removed heads'
 *     output-projection columns are zero (whole-sequence logits, session steps, embeddings); a
 *     key/value head is gone only with its whole query group;
 *   - ffn: the sliced model gives bitwise the outputs of the dense model whose removed neurons'
 *     down-projection columns are zero; widths are round(keep x width), per layer;
 *   - lowrank at full rank gives the dense outputs within 1e-5 of the largest; the rank matching
 *     ffn_keep's parameters; the eigen solver against its definition;
 *   - rmsnorm (GPT-2 Pre-LN -> Pre-RMSNorm) gives the original outputs within 1e-5 of the largest,
 *     its norms are RMSNorms, and it is refused for other architectures;
 *   - 2:4 with sparse_head (--sparse-head): tiny llama (untied head), qwen2 and gpt2 (tied), float /
 *     int8 / int4 kept values, magnitude and SparseGPT: the head and every block weight have the
 *     bytes that loading with sparsity 2:4 and sparse_head gives, a tied head is untied (the
 *     embedding unchanged); saved (output.weight S24 / S24Q8 / S24Q4), reloaded untied with
 *     bitwise the same outputs and the same file again; sparse_head without 2:4, not 0 / 1, or on
 *     an encoder are errors;
 *   - every compressed model saves and reloads with bitwise the same outputs (xf_t_save_reload);
 *   - bad options are clear errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compress/compress.h"
#include "harness.h"
#include "io/gguf.h"
#include "model/formats.h"
#include "xfmr.h"

static char *g_calib;

static xf_model *load(const char *dir) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.weights = XF_WEIGHTS_F32; /* the reference's zeroed columns and the pruned model: the same kernels */
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(dir, &p, &m) == XF_OK, "%s: %s", dir, xf_errmsg());
    return m;
}

static xf_compress_params params(const char *methods) {
    xf_compress_params p = xf_compress_default_params();
    p.methods = methods;
    p.calib_text = g_calib;
    p.calib_max_tokens = 256;
    return p;
}

/* Zero columns of a linear weight of the reference model where keep[c] == 0. */
static void zero_cols(xf_model *m, xf_linear_w *l, const unsigned char *keep) {
    float *d = xf_weight_dense_copy(&l->w);
    for (size_t r = 0; r < l->w.rows; r++)
        for (size_t c = 0; c < l->w.cols; c++)
            if (!keep[c]) d[r * l->w.cols + c] = 0.0f;
    CHECK(xf_format_f32p_from(m->ws, &l->w, d) == XF_OK);
    free(d);
}

/* Which rows of `full` (blocks of `block` rows) appear, in order, as the rows of `part`: keep[] per
 * row of full. Returns the number of blocks matched. */
static size_t match_rows(const xf_weight *full, const xf_weight *part, size_t block, unsigned char *keep) {
    float *a = xf_weight_dense_copy(full), *b = xf_weight_dense_copy(part);
    const size_t C = full->cols, nb = full->rows / block;
    size_t j = 0;
    memset(keep, 0, full->rows);
    for (size_t i = 0; i < nb && j < part->rows / block; i++)
        if (!memcmp(a + i * block * C, b + j * block * C, block * C * sizeof *a)) {
            memset(keep + i * block, 1, block);
            j++;
        }
    free(a), free(b);
    return j;
}

/* Bitwise (tol 0), or the largest difference within tol x the largest |output| of the reference:
 * removed terms are exact zeros, bitwise as long as the GEMM sums each output in one chain (inputs
 * up to 256, the tiny models); real widths are summed in blocks that the removal shifts. */
static int same_outputs(xf_model *a, xf_model *b, const char *what, double tol) {
    size_t na = 0, nb = 0;
    float *x = xf_t_model_outputs(a, &na), *y = xf_t_model_outputs(b, &nb);
    double worst = 0, big = 0;
    for (size_t i = 0; x && y && na == nb && i < na; i++) {
        worst = fmax(worst, fabs((double)x[i] - y[i]));
        big = fmax(big, fabs((double)y[i]));
    }
    int same = x && y && na == nb && (tol > 0 ? worst <= tol * big : !memcmp(x, y, na * sizeof *x));
    CHECK_MSG(same, "%s: outputs differ from the reference (largest difference %g, largest output %g)", what, worst, big);
    free(x), free(y);
    return same;
}

/* Prune heads of model dir at fraction f and compare with the dense model with those heads'
 * O columns zeroed. */
static void test_heads(const char *dir, float f, const char *name) {
    xf_model *m = load(dir), *ref = load(dir);
    if (!m || !ref) goto done;
    xf_compress_params p = params("heads");
    p.heads_prune = f;
    CHECK_MSG(xf_model_compress(m, &p) == XF_OK, "%s: %s", name, xf_errmsg());
    for (size_t l = 0; l < m->plan.n_layers; l++) {
        xf_attn_plan *a = &m->plan.layers[l].attn, *r = &ref->plan.layers[l].attn;
        const size_t nh = r->n_heads, dh = r->head_dim;
        size_t want = nh - (size_t)lround((double)f * nh);
        CHECK_MSG(a->n_heads == (want ? want : 1), "%s layer %zu: %zu heads left of %zu", name, l, a->n_heads, nh);
        unsigned char *keep = malloc(nh * dh), *keep_kv = malloc(r->n_kv_heads * dh);
        CHECK(match_rows(&r->q.w, &a->q.w, dh, keep) == a->n_heads);
        CHECK(match_rows(&r->k.w, &a->k.w, dh, keep_kv) == a->n_kv_heads);
        for (size_t g = 0; g < r->n_kv_heads; g++) { /* a kv head is gone iff its whole group is */
            size_t h0, h1, kept = 0;
            xf_attn_group(r, g, &h0, &h1);
            for (size_t h = h0; h < h1; h++) kept += keep[h * dh];
            CHECK_MSG(!kept == !keep_kv[g * dh], "%s layer %zu: kv head %zu %s with %zu query heads kept", name, l, g,
                      keep_kv[g * dh] ? "kept" : "removed", kept);
        }
        zero_cols(ref, &r->o, keep);
        free(keep), free(keep_kv);
    }
    char what[128];
    snprintf(what, sizeof what, "%s heads -%g", name, (double)f);
    same_outputs(m, ref, what, strcmp(name, "smollm2") ? 0.0 : 1e-5);
    char path[64];
    snprintf(path, sizeof path, "%s_heads.gguf", name);
    if (!strcmp(name, "smollm2")) goto done; /* half a GB of float32: the tiny models check saving */
    xf_model_free(xf_t_save_reload(m, xf_t_out(path), 0, XF_WEIGHTS_F32));
done:
    xf_model_free(m), xf_model_free(ref);
}

static void test_ffn(const char *dir, const float *keep_layers, size_t n, const char *name) {
    xf_model *m = load(dir), *ref = load(dir);
    if (!m || !ref) goto done;
    xf_compress_params p = params("ffn");
    p.ffn_keep_layers = keep_layers;
    p.n_ffn_keep_layers = n;
    CHECK_MSG(xf_model_compress(m, &p) == XF_OK, "%s: %s", name, xf_errmsg());
    for (size_t l = 0; l < m->plan.n_layers; l++) {
        xf_ffn_plan *a = &m->plan.layers[l].ffn, *r = &ref->plan.layers[l].ffn;
        size_t want = (size_t)lround((double)keep_layers[l] * r->width);
        CHECK_MSG(a->width == (want ? want : 1), "%s layer %zu: width %zu of %zu", name, l, a->width, r->width);
        unsigned char *keep = malloc(r->width);
        CHECK(match_rows(&r->up.w, &a->up.w, 1, keep) == a->width);
        zero_cols(ref, &r->down, keep);
        free(keep);
    }
    same_outputs(m, ref, name, 0.0);
    char path[64];
    snprintf(path, sizeof path, "%s_ffn.gguf", name);
    xf_model_free(xf_t_save_reload(m, xf_t_out(path), 0, XF_WEIGHTS_F32));
done:
    xf_model_free(m), xf_model_free(ref);
}

/* The eigen solver: A V = V diag(w), V orthonormal, ascending w, on a random symmetric matrix. */
static void test_eigen(void) {
    const size_t n = 37;
    double *A = malloc(n * n * sizeof *A), *V = malloc(n * n * sizeof *V), *w = malloc(n * sizeof *w);
    xf_t_seed(12);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = xf_t_frand() - 0.5;
    memcpy(V, A, n * n * sizeof *V);
    CHECK(xf_cmp_eigen_sym(n, V, w) == XF_OK);
    double res = 0, orth = 0;
    for (size_t k = 0; k < n; k++) {
        if (k) CHECK(w[k] >= w[k - 1]);
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t j = 0; j < n; j++) s += A[i * n + j] * V[j * n + k];
            res = fmax(res, fabs(s - w[k] * V[i * n + k]));
        }
        for (size_t k2 = 0; k2 < n; k2++) {
            double s = 0;
            for (size_t i = 0; i < n; i++) s += V[i * n + k] * V[i * n + k2];
            orth = fmax(orth, fabs(s - (k == k2)));
        }
    }
    CHECK_MSG(res < 1e-12 && orth < 1e-12, "eigen: residual %g, orthogonality %g", res, orth);
    free(A), free(V), free(w);
}

/* Low rank at full rank: the dense model within 1e-5; the parameter-matched rank of ffn_keep. */
static void test_lowrank(const char *dir, const char *name) {
    xf_model *m = load(dir), *ref = load(dir);
    if (!m || !ref) goto done;
    xf_compress_params p = params("lowrank");
    p.lowrank_rank = 100000; /* min(m, n) */
    CHECK_MSG(xf_model_compress(m, &p) == XF_OK, "%s: %s", name, xf_errmsg());
    char what[96];
    snprintf(what, sizeof what, "%s lowrank at full rank", name);
    same_outputs(m, ref, what, 1e-5);
    xf_cmp_ctx c = {m, &p, "lowrank"};
    p.lowrank_rank = 0;
    p.ffn_keep = 0.5f;
    CHECK(xf_cmp_lowrank_rank(&c, 0, 1536, 576) == 209); /* 0.5 x 1536 x 576 / 2112 = 209.45 */
    p.lowrank_rank = 7;
    CHECK(xf_cmp_lowrank_rank(&c, 0, 1536, 576) == 7);
    p.lowrank_rank = 0;
    p.ffn_keep = 0.5f;
    xf_model_free(m);
    m = load(dir);
    if (!m) goto done;
    CHECK_MSG(xf_model_compress(m, &p) == XF_OK, "%s: %s", name, xf_errmsg());
    snprintf(what, sizeof what, "%s_lowrank.gguf", name);
    xf_model_free(xf_t_save_reload(m, xf_t_out(what), 0, XF_WEIGHTS_F32));
done:
    xf_model_free(m), xf_model_free(ref);
}

static void test_rmsnorm(void) {
    const char *dir = xf_t_src("tests/data/tiny/gpt2");
    xf_model *m = load(dir), *ref = load(dir);
    if (!m || !ref) goto done;
    xf_compress_params p = params("rmsnorm");
    CHECK_MSG(xf_model_compress(m, &p) == XF_OK, "rmsnorm: %s", xf_errmsg());
    CHECK(m->plan.final_norm.kind == XF_NORM_RMS && m->plan.layers[1].norm_ffn.kind == XF_NORM_RMS &&
          !m->plan.layers[0].norm_attn.b.data);
    same_outputs(m, ref, "tiny gpt2 rmsnorm", 1e-5);
    xf_model_free(xf_t_save_reload(m, xf_t_out("tiny_gpt2_rms.gguf"), 0, XF_WEIGHTS_F32));
    xf_model_free(m);
    m = load(dir); /* with heads and ffn after it */
    p = params("rmsnorm,heads,ffn");
    p.heads_prune = 0.25f, p.ffn_keep = 0.5f;
    if (m) CHECK_MSG(xf_model_compress(m, &p) == XF_OK, "rmsnorm,heads,ffn: %s", xf_errmsg());
    if (m) xf_model_free(xf_t_save_reload(m, xf_t_out("tiny_gpt2_rms_hf.gguf"), 0, XF_WEIGHTS_F32));
    static const char *const others[] = {"tests/data/tiny/llama", "tests/data/tiny/bert"};
    for (int k = 0; k < 2; k++) {
        xf_model *o = load(xf_t_src(others[k]));
        p = params("rmsnorm");
        if (o) CHECK_MSG(xf_model_compress(o, &p) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "not a Pre-LN model"), "%s",
                         xf_errmsg());
        xf_model_free(o);
    }
done:
    xf_model_free(m), xf_model_free(ref);
}

static int same_bytes(const xf_weight *a, const xf_weight *b) {
    if (!a->data || !b->data) return !a->data && !b->data;
    return a->fmt == b->fmt && a->rows == b->rows && a->cols == b->cols && !memcmp(a->data, b->data, xf_weight_bytes(a));
}

/* 2:4 with the LM head 2:4 too: the weights of loading with sparsity 2:4 and sparse_head, and the
 * save -> reload round trip. bits: kept values (0 float, 8, 4). */
static void test_sparse_head(const char *dir, const char *name, int bits, xf_sparsity_method method) {
    const char *methods = bits == 8 ? "2:4,q8" : bits == 4 ? "2:4,q4" : "2:4";
    const xf_format *want = bits == 8 ? &xf_fmt_s24q8 : bits == 4 ? &xf_fmt_s24q4 : &xf_fmt_s24;
    xf_model *m = load(dir), *ref = NULL, *r = NULL;
    xf_model_params lp = xf_model_default_params();
    lp.n_threads = 2;
    lp.weights = bits == 8 ? XF_WEIGHTS_INT8 : bits == 4 ? XF_WEIGHTS_INT4 : XF_WEIGHTS_F32;
    lp.sparsity = XF_SPARSITY_2_4, lp.sparsity_method = method, lp.sparse_head = 1;
    lp.calib_text = method == XF_SPARSE_MAGNITUDE ? NULL : g_calib, lp.calib_max_tokens = 256;
    CHECK_MSG(xf_model_load(dir, &lp, &ref) == XF_OK, "%s: %s", dir, xf_errmsg());
    if (!m || !ref) goto done;
    const int was_tied = m->cfg.tie_word_embeddings;
    const xf_weight emb = m->plan.tok_emb;
    xf_compress_params p = params(methods);
    p.sparse_method = method;
    p.sparse_head = 1;
    CHECK_MSG(xf_model_compress(m, &p) == XF_OK, "%s %s: %s", name, methods, xf_errmsg());
    const xf_weight *h = &m->plan.lm_head.w;
    CHECK_MSG(h->fmt == want && !m->cfg.tie_word_embeddings && h->data != m->plan.tok_emb.data &&
                  m->plan.tok_emb.data == emb.data && m->plan.tok_emb.fmt == emb.fmt,
              "%s %s: head format %s, tied %d (was %d)", name, methods, h->fmt->name, m->cfg.tie_word_embeddings, was_tied);
    CHECK_MSG(same_bytes(h, &ref->plan.lm_head.w), "%s %s method %d: the head differs from --sparsity 2:4 --sparse-head's", name,
              methods, (int)method);
    int blocks = 1;
    for (size_t l = 0; l < m->plan.n_layers; l++) {
        xf_layer *A = &m->plan.layers[l], *B = &ref->plan.layers[l];
        const xf_linear_w *a[7] = {&A->attn.q, &A->attn.k, &A->attn.v, &A->attn.o, &A->ffn.up, &A->ffn.gate, &A->ffn.down};
        const xf_linear_w *b[7] = {&B->attn.q, &B->attn.k, &B->attn.v, &B->attn.o, &B->ffn.up, &B->ffn.gate, &B->ffn.down};
        for (int k = 0; k < 7; k++) blocks &= same_bytes(&a[k]->w, &b[k]->w);
    }
    CHECK_MSG(blocks, "%s %s method %d: block weights differ from --sparsity 2:4 --sparse-head's", name, methods, (int)method);
    CHECK_MSG(m->n_params == ref->n_params, "%s: %llu parameters, load-time %llu", name, (unsigned long long)m->n_params,
              (unsigned long long)ref->n_params);
    char file[512];
    snprintf(file, sizeof file, "%s", xf_t_out("sparse_head_compress.gguf"));
    r = xf_t_save_reload(m, file, XF_SAVE_F32, XF_WEIGHTS_AS_STORED);
    CHECK_MSG(r != NULL, "%s %s: reload", name, methods);
    if (r) {
        const xf_gguf *g = xf_weight_set_gguf(r->ws);
        const xf_gguf_tensor *t = g ? xf_gguf_find_tensor(g, "output.weight") : NULL;
        CHECK_MSG(t && t->type == (uint32_t)want->save_type && !r->cfg.tie_word_embeddings && same_bytes(&r->plan.lm_head.w, h),
                  "%s %s: output.weight %s, tied %d", name, methods, t ? xf_ggml_type_name(t->type) : "missing",
                  r->cfg.tie_word_embeddings);
    }
    unlink(file);
done:
    xf_model_free(m), xf_model_free(ref), xf_model_free(r);
}

static void test_sparse_head_errors(const char *llama, const char *bert) {
    xf_model *m = load(llama), *e = load(bert);
    xf_compress_params p = params("heads");
    p.heads_prune = 0.5f, p.sparse_head = 1;
    if (m) CHECK_MSG(xf_model_compress(m, &p) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "needs the 2:4 method"), "%s", xf_errmsg());
    p = params("2:4");
    p.sparse_head = 2;
    if (m) CHECK_MSG(xf_model_compress(m, &p) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "sparse_head 2 is not 0 or 1"), "%s",
                     xf_errmsg());
    p.sparse_head = 1;
    if (e) CHECK_MSG(xf_model_compress(e, &p) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "no LM head"), "%s", xf_errmsg());
    if (m) CHECK_MSG(!xf_weight_is_s24(&m->plan.layers[0].attn.q.w) && !xf_weight_is_s24(&m->plan.lm_head.w) && !m->sparse_head,
                     "refused options changed the model");
    xf_model_free(m), xf_model_free(e);
}

static void test_errors(const char *dir) {
    xf_model *m = load(dir);
    if (!m) return;
    xf_compress_params p = params("heads");
    p.heads_prune = 1.0f;
    CHECK(xf_model_compress(m, &p) == XF_ERR_RANGE && strstr(xf_errmsg(), "heads_prune 1"));
    p.heads_prune = -0.1f;
    CHECK(xf_model_compress(m, &p) == XF_ERR_RANGE);
    p = params("ffn");
    p.ffn_keep = 0.0f;
    CHECK(xf_model_compress(m, &p) == XF_ERR_RANGE && strstr(xf_errmsg(), "ffn_keep 0"));
    const float two[2] = {0.5f, 1.5f};
    p.ffn_keep_layers = two, p.n_ffn_keep_layers = 1;
    CHECK(xf_model_compress(m, &p) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "1 per-layer values"));
    p.n_ffn_keep_layers = 2;
    CHECK(xf_model_compress(m, &p) == XF_ERR_RANGE && strstr(xf_errmsg(), "(layer 1)"));
    p = params("heads,pruning");
    CHECK(xf_model_compress(m, &p) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "\"pruning\""));
    p = params("ffn,lowrank");
    CHECK(xf_model_compress(m, &p) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "choose one"));
    p = params("ffn,ffn");
    CHECK(xf_model_compress(m, &p) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "twice"));
    p = params("");
    CHECK(xf_model_compress(m, &p) == XF_ERR_INVALID_ARG);
    p = params("heads");
    p.calib_text = NULL;
    p.heads_prune = 0.5f;
    CHECK(xf_model_compress(m, &p) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "calibration"));
    /* 2:4 after slicing the FFN to a width that is no multiple of 4: refused before any change */
    p = params("ffn,2:4");
    p.ffn_keep = 0.5f + 1.0f / 128.0f;
    xf_status st = xf_model_compress(m, &p);
    CHECK_MSG(st == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "not a multiple of 4"), "%d %s", st, xf_errmsg());
    xf_model_free(m);
}

int main(void) {
    size_t len = 0;
    char *corpus = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &len);
    if (!corpus) {
        xf_t_skip("tests/data/corpus.txt is missing");
        return xf_t_report();
    }
    if (len > 20000) corpus[20000] = 0;
    g_calib = corpus;
    const float keep2[2] = {0.5f, 0.25f};
    test_heads(xf_t_src("tests/data/tiny/llama"), 0.25f, "tiny_llama"); /* groups of unequal size */
    test_heads(xf_t_src("tests/data/tiny/llama"), 0.5f, "tiny_llama");
    test_heads(xf_t_src("tests/data/tiny/bert"), 0.5f, "tiny_bert");
    test_heads(xf_t_src("tests/data/tiny/gpt2"), 0.25f, "tiny_gpt2");
    test_ffn(xf_t_src("tests/data/tiny/llama"), keep2, 2, "tiny_llama");
    test_ffn(xf_t_src("tests/data/tiny/bert"), keep2, 2, "tiny_bert");
    test_ffn(xf_t_src("tests/data/tiny/gpt2"), keep2, 2, "tiny_gpt2");
    test_rmsnorm();
    test_eigen();
    test_lowrank(xf_t_src("tests/data/tiny/llama"), "tiny_llama");
    test_lowrank(xf_t_src("tests/data/tiny/gpt2"), "tiny_gpt2");
    test_lowrank(xf_t_src("tests/data/tiny/bert"), "tiny_bert");
    test_errors(xf_t_src("tests/data/tiny/llama"));
    char llama[1024], bert[1024];
    snprintf(llama, sizeof llama, "%s", xf_t_src("tests/data/tiny/llama"));
    snprintf(bert, sizeof bert, "%s", xf_t_src("tests/data/tiny/bert"));
    test_sparse_head_errors(llama, bert);
    for (int b = 0; b <= 8; b += 4) {
        test_sparse_head(llama, "tiny llama (untied)", b, XF_SPARSE_MAGNITUDE);
        test_sparse_head(xf_t_src("tests/data/tiny/qwen2"), "tiny qwen2 (tied)", b, XF_SPARSE_MAGNITUDE);
    }
    test_sparse_head(xf_t_src("tests/data/tiny/qwen2"), "tiny qwen2 (tied)", 8, XF_SPARSE_SPARSEGPT);
    test_sparse_head(llama, "tiny llama (untied)", 0, XF_SPARSE_WANDA);
    test_sparse_head(xf_t_src("tests/data/tiny/gpt2"), "tiny gpt2 (tied)", 0, XF_SPARSE_MAGNITUDE);
    const char *smol = xf_t_smollm2();
    if (smol) test_heads(smol, 0.25f, "smollm2"); /* 9 query heads in 3 groups: 2 removed per layer */
    free(corpus);
    return xf_t_report();
}
