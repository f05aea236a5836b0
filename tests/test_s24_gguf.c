/* test_s24_gguf.c — 2:4 sparse weights saved compressed (GGUF types S24, S24Q8, S24Q4; docs/GGUF.md):
 *   - round trip: tiny llama / bert / gpt2 made 2:4 at load with float, int8 and int4 kept values,
 *     saved (XF_SAVE_F32: compressed), reloaded as stored: every block linear comes back in its
 *     format with the same bytes (the file's bytes as they are unless llama's Q / K rows were
 *     un-permuted), the outputs (logits, decode steps, embeddings) bitwise the same, and saving the
 *     reload gives the same file; the file holds the S24 types and is smaller than the dense one
 *     (XF_SAVE_DENSE, which reloads as float rows with their zeros);
 *   - a compressed s24 file loaded with --sparsity 2:4 --weights int8 gives the s24q8 weights the
 *     float source gives (the values quantized from the compressed form, no densify);
 *   - sizes: xf_ggml_row_bytes x rows = the kernels' xf_s24*_bytes;
 *   - bad input: an invalid index pattern (the loader names the tensor, row, group and the
 *     positions), padding bits set (xf_s24_check_indices), K not a multiple of 4 (the reader
 *     names the tensor and the group width; the writer refuses it too), dims whose bytes run past
 *     the file, q8 / q4 without 2:4 in xf_model_compress;
 *   - SparseGPT with int4 / int8 kept values quantizes in its update: not the weights of quantizing
 *     after it, and its model round-trips too;
 *   - SmolLM2 (when present): 2:4 with int4 values, the same round trip, and the file sizes. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "kernels/sparse24.h"
#include "model/formats.h"
#include "model/layers.h"
#include "model/model.h"
#include "xfmr.h"

static xf_model *load(const char *path, xf_sparsity sp, xf_weight_format wf) {
    return xf_t_load_sparse(path, wf, sp, XF_SPARSE_MAGNITUDE, NULL);
}

static xf_weight *lin(xf_model *m, size_t l, int k) {
    xf_layer *L = &m->plan.layers[l];
    xf_linear_w *all[7] = {&L->attn.q, &L->attn.k, &L->attn.v, &L->attn.o, &L->ffn.up, &L->ffn.gate, &L->ffn.down};
    return &all[k]->w;
}

static long file_size(const char *path) {
    size_t n = 0;
    char *b = xf_t_slurp(path, &n);
    free(b);
    return b ? (long)n : -1;
}

static void test_sizes(void) {
    static const size_t Ks[] = {4, 8, 32, 36, 64, 96, 576, 1536};
    int ok = 1;
    for (size_t i = 0; i < sizeof Ks / sizeof Ks[0]; i++) {
        const size_t K = Ks[i], N = 7;
        ok &= xf_ggml_row_bytes(XF_GGML_S24, K) * N == xf_s24_bytes(N, K);
        ok &= xf_ggml_row_bytes(XF_GGML_S24Q8, K) * N == xf_s24q8_bytes(N, K);
        if (K % 32 == 0) ok &= xf_ggml_row_bytes(XF_GGML_S24Q4, K) * N == xf_s24q4_bytes(N, K);
        else ok &= xf_ggml_row_bytes(XF_GGML_S24Q4, K) == 0;
    }
    CHECK_MSG(ok, "row bytes of the S24 types differ from the kernels' sizes");
    CHECK(xf_ggml_row_bytes(XF_GGML_S24, 6) == 0 && xf_ggml_row_bytes(XF_GGML_Q8_0, 64) == 68);
    CHECK(!strcmp(xf_ggml_type_name(XF_GGML_S24Q4), "S24Q4") && xf_ggml_is_s24(XF_GGML_S24Q8) && !xf_ggml_is_s24(XF_GGML_FP8S));
    /* indices: a valid row, a bad group, padding bits (K = 36: 18 values, 5 bytes used of 8) */
    uint8_t idx[8] = {0};
    const uint8_t pat = 0x4 | 0x1 << 4; /* group 0: positions 0, 1; group 1: positions 1, 0 (bad) */
    size_t r = 9, g = 9;
    for (int b = 0; b < 4; b++) idx[b] = 0x44; /* every group: 0 then 1 */
    idx[4] = 0x4;
    CHECK(xf_s24_check_indices(idx, 1, 36, &r, &g) == 0);
    idx[2] = pat;
    CHECK(xf_s24_check_indices(idx, 1, 36, &r, &g) == 1 && r == 0 && g == 5);
    idx[2] = 0x44;
    idx[6] = 0x10;
    CHECK(xf_s24_check_indices(idx, 1, 36, &r, &g) == 1 && r == 0 && g == 13);
}

/* The round trip of one model and kept-value width (0 float, 8, 4). */
static void round_trip(const char *path, const char *name, int bits) {
    const xf_weight_format wf = bits == 8 ? XF_WEIGHTS_INT8 : bits == 4 ? XF_WEIGHTS_INT4 : XF_WEIGHTS_F32;
    const xf_format *want = bits == 8 ? &xf_fmt_s24q8 : bits == 4 ? &xf_fmt_s24q4 : &xf_fmt_s24;
    const uint32_t type = bits == 8 ? XF_GGML_S24Q8 : bits == 4 ? XF_GGML_S24Q4 : XF_GGML_S24;
    xf_model *m = load(path, XF_SPARSITY_2_4, wf);
    CHECK_MSG(m != NULL, "%s int%d", name, bits);
    if (!m) return;
    char file[512], dense_file[512];
    snprintf(file, sizeof file, "%s", xf_t_out("s24_rt.gguf"));
    snprintf(dense_file, sizeof dense_file, "%s", xf_t_out("s24_rt_dense.gguf"));
    xf_model *r = xf_t_save_reload(m, file, XF_SAVE_F32, XF_WEIGHTS_AS_STORED);
    CHECK_MSG(r != NULL, "%s: reloading the compressed file", name);
    if (r) {
        const xf_gguf *g = xf_weight_set_gguf(r->ws);
        int same = 1, types = 1, mapped = 0, n = 0;
        for (size_t l = 0; l < m->plan.n_layers; l++)
            for (int k = 0; k < 7; k++) {
                const xf_weight *a = lin(m, l, k), *b = lin(r, l, k);
                if (!a->data) continue;
                n++;
                same &= a->fmt == want && b->fmt == want && a->rows == b->rows && a->cols == b->cols &&
                        !memcmp(a->data, b->data, xf_weight_bytes(a));
                /* the file's bytes as they are (copied into huge-page memory at load): not llama's
                 * Q / K (rows un-permuted), nor GPT-2's q, k, v (slices of the fused one) */
                const xf_gguf_tensor *t = g && b->name ? xf_gguf_find_tensor(g, b->name) : NULL;
                if (t && t->nbytes == xf_weight_bytes(b) && !memcmp(t->data, b->data, xf_weight_bytes(b))) mapped++;
                else t = NULL;
                if (t) types &= t->type == type;
            }
        CHECK_MSG(same, "%s int%d: the reloaded 2:4 weights differ from the saved ones (format %s)", name, bits, want->name);
        CHECK_MSG(types && mapped >= n - 3 * (int)m->plan.n_layers && mapped > 0,
                  "%s int%d: %d of %d weights hold the file's bytes as stored, types %d", name, bits, mapped, n, types);
        xf_model_info info = xf_model_info_init();
        CHECK(xf_model_get_info(r, &info) == XF_OK && strstr(info.dtypes, xf_ggml_type_name(type)) && info.quantization &&
              strstr(info.quantization, "2:4 compressed"));
    }
    /* the dense form: float rows with their zeros, bigger */
    xf_save_params sp = xf_save_default_params();
    sp.outtype = XF_SAVE_DENSE;
    CHECK(xf_model_save(m, dense_file, &sp) == XF_OK);
    xf_model *d = load(dense_file, XF_SPARSITY_NONE, XF_WEIGHTS_AS_STORED);
    CHECK(d && lin(d, 0, 0)->fmt != want && !xf_ggml_is_s24((uint32_t)lin(d, 0, 0)->fmt->ggml_type));
    const long cs = file_size(file), ds = file_size(dense_file);
    CHECK_MSG(cs > 0 && ds > cs, "%s int%d: compressed %ld bytes, dense %ld", name, bits, cs, ds);
    printf("%s, 2:4 %s values: compressed file %ld bytes, dense with zeros %ld\n", name, bits ? (bits == 8 ? "int8" : "int4") : "f32", cs, ds);
    /* the compressed float file to int8 values at load: from the compressed form, as from the source */
    if (bits == 0 && m->plan.layers[0].ffn.down.w.cols % 32 == 0) {
        xf_model *q_src = load(path, XF_SPARSITY_2_4, XF_WEIGHTS_INT8), *q_file = load(file, XF_SPARSITY_2_4, XF_WEIGHTS_INT8);
        int same = q_src && q_file;
        for (size_t l = 0; same && l < m->plan.n_layers; l++)
            for (int k = 0; k < 7; k++) {
                const xf_weight *a = lin(q_src, l, k), *b = lin(q_file, l, k);
                if (a->data) same &= b->fmt == &xf_fmt_s24q8 && !memcmp(a->data, b->data, xf_weight_bytes(a));
            }
        CHECK_MSG(same, "%s: the compressed file loaded with int8 values differs from the source's", name);
        xf_model_free(q_src), xf_model_free(q_file);
    }
    xf_model_free(d);
    xf_model_free(r);
    xf_model_free(m);
    unlink(dense_file);
}

/* Offset of the first tensor info named name in a GGUF file (just past its name). */
static size_t info_of(const char *buf, size_t n, const char *name) {
    const size_t len = strlen(name);
    for (size_t i = 8; i + len <= n; i++)
        if (!memcmp(buf + i, name, len) && buf[i - 8] == (char)len && buf[i + len] < 8) return i + len;
    return 0;
}

static void expect_load_error(const char *path, const char *what, const char *n1, const char *n2) {
    xf_model *m = load(path, XF_SPARSITY_NONE, XF_WEIGHTS_AS_STORED);
    const char *msg = xf_errmsg();
    CHECK_MSG(!m && strstr(msg, n1) && (!n2 || strstr(msg, n2)), "%s: loaded %d, message \"%s\"", what, m != NULL, msg);
    if (!m) printf("%s: %s\n", what, msg);
    xf_model_free(m);
}

static void test_bad_files(const char *llama) {
    xf_model *m = load(llama, XF_SPARSITY_2_4, XF_WEIGHTS_F32);
    CHECK(m != NULL);
    if (!m) return;
    char good[512];
    snprintf(good, sizeof good, "%s", xf_t_out("s24_good.gguf"));
    xf_save_params sp = xf_save_default_params();
    CHECK(xf_model_save(m, good, &sp) == XF_OK);
    xf_model_free(m);
    size_t n = 0;
    char *buf = xf_t_slurp(good, &n);
    xf_gguf *g = NULL;
    if (!buf || xf_gguf_open(good, &g) != XF_OK) {
        CHECK(0);
        free(buf);
        return;
    }
    const xf_gguf_tensor *t = xf_gguf_find_tensor(g, "blk.0.ffn_down.weight");
    CHECK(t && t->type == XF_GGML_S24);
    const size_t N = t ? (size_t)t->dims[1] : 0, K = t ? (size_t)t->dims[0] : 0;
    const size_t at = t ? (size_t)(xf_gguf_data_offset(g) + t->offset) : 0; /* the tensor's bytes in the file */
    xf_gguf_close(g);
    if (!t) {
        free(buf);
        return;
    }
    /* an invalid index pattern: row 3, group 1 kept positions 2 and 2 */
    char *bad = malloc(n);
    memcpy(bad, buf, n);
    const size_t idx = at + N * K / 2 * 4 + 3 * xf_s24_idx_row_bytes(K);
    bad[idx] = (char)(((unsigned char)bad[idx] & 0x0f) | 0xa0);
    expect_load_error(xf_t_tmpfile("s24_badidx.gguf", bad, n), "bad index pattern", "blk.0.ffn_down.weight",
                      "indices of row 3, group 1 (inputs 4..7): kept positions 2 and 2");
    /* K not a multiple of 4: dims[0] 96 -> 94 */
    memcpy(bad, buf, n);
    const size_t inf = info_of(buf, n, "blk.0.ffn_down.weight");
    CHECK(inf > 0);
    if (inf) {
        uint64_t k94 = 94;
        memcpy(bad + inf + 4, &k94, 8);
        expect_load_error(xf_t_tmpfile("s24_badk.gguf", bad, n), "K not a multiple of 4", "blk.0.ffn_down.weight",
                          "not a multiple of the S24 2:4 group width 4");
        /* more rows than the bytes in the file */
        memcpy(bad, buf, n);
        uint64_t rows = 1u << 20;
        memcpy(bad + inf + 12, &rows, 8);
        expect_load_error(xf_t_tmpfile("s24_badrows.gguf", bad, n), "rows past the end", "blk.0.ffn_down.weight", NULL);
    }
    free(bad);
    free(buf);
    unlink(good);
    /* the writer refuses a width that is not a multiple of 4 */
    xf_gguf_writer *w = NULL;
    CHECK(xf_gguf_writer_create(&w) == XF_OK);
    if (w) {
        static const uint8_t data[64];
        const uint64_t dims[2] = {6, 2};
        CHECK(xf_gguf_add_tensor(w, "t", XF_GGML_S24, 2, dims, data, NULL, NULL) == XF_ERR_INVALID_ARG);
        xf_gguf_writer_free(w);
    }
    /* q8 / q4 are kept values of 2:4 */
    if ((m = load(llama, XF_SPARSITY_NONE, XF_WEIGHTS_F32))) {
        xf_compress_params cp = xf_compress_default_params();
        cp.methods = "heads,q8";
        cp.heads_prune = 0.25f;
        cp.calib_text = "some text to calibrate on, some text";
        CHECK(xf_model_compress(m, &cp) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "kept values of 2:4"));
        xf_model_free(m);
    }
}

/* compress --method 2:4,q4 writes the file `convert --sparsity 2:4 --weights int4` writes */
static void test_compress(const char *llama) {
    xf_model *m = load(llama, XF_SPARSITY_NONE, XF_WEIGHTS_F32);
    CHECK(m != NULL);
    if (!m) return;
    xf_compress_params cp = xf_compress_default_params();
    cp.methods = "2:4,q4";
    CHECK_MSG(xf_model_compress(m, &cp) == XF_OK, "%s", xf_errmsg());
    CHECK(lin(m, 0, 6)->fmt == &xf_fmt_s24q4 && m->plan.lm_head.w.fmt == &xf_fmt_i8);
    xf_model_free(xf_t_save_reload(m, xf_t_out("s24_compress.gguf"), XF_SAVE_F32, XF_WEIGHTS_AS_STORED));
    xf_model *c = load(llama, XF_SPARSITY_2_4, XF_WEIGHTS_INT4);
    if (c) { /* the same outputs as the model made 2:4 int4 at load */
        size_t na = 0, nb = 0;
        float *a = xf_t_model_outputs(m, &na), *b = xf_t_model_outputs(c, &nb);
        CHECK_MSG(a && b && na == nb && !memcmp(a, b, na * sizeof *a), "compress 2:4,q4 differs from --sparsity 2:4 --weights int4");
        free(a), free(b);
    }
    xf_model_free(c);
    xf_model_free(m);
    unlink(xf_t_out("s24_compress.gguf"));
}

/* SparseGPT with int4 / int8 kept values quantizes in its update (joint, src/compress/sparsegpt.c):
 * its weights are not those of quantizing float SparseGPT's after it, and the model saves and
 * reloads bitwise. */
static void test_joint(const char *llama, int bits) {
    const char *calib = "The cat sat on the mat. Sparse models keep two of every four weights. "
                        "Calibration text sets the Hessians that SparseGPT updates the kept weights with.";
    xf_model *mj = xf_t_load_sparse(llama, bits == 4 ? XF_WEIGHTS_INT4 : XF_WEIGHTS_INT8, XF_SPARSITY_2_4, XF_SPARSE_SPARSEGPT, calib);
    xf_model *mf = xf_t_load_sparse(llama, XF_WEIGHTS_F32, XF_SPARSITY_2_4, XF_SPARSE_SPARSEGPT, calib);
    CHECK(mj && mf);
    if (mj && mf) {
        int differ = 0, fmt = 1;
        for (size_t l = 0; l < mj->plan.n_layers; l++)
            for (int k = 0; k < 7; k++) {
                const xf_weight *a = lin(mj, l, k), *f = lin(mf, l, k);
                if (!a->data) continue;
                fmt &= a->fmt == (bits == 4 ? &xf_fmt_s24q4 : &xf_fmt_s24q8) && f->fmt == &xf_fmt_s24;
                const size_t n = xf_weight_bytes(a);
                uint8_t *after = malloc(n);
                (bits == 4 ? xf_s24q4_from_s24 : xf_s24q8_from_s24)(f->data, f->rows, f->cols, after);
                differ += memcmp(after, a->data, n) != 0;
                free(after);
            }
        CHECK_MSG(fmt && differ > 0, "joint int%d SparseGPT: formats %d, %d weights differ from quantizing after", bits, fmt, differ);
        xf_model_free(xf_t_save_reload(mj, xf_t_out("s24_joint.gguf"), XF_SAVE_F32, XF_WEIGHTS_AS_STORED));
        unlink(xf_t_out("s24_joint.gguf"));
    }
    xf_model_free(mj), xf_model_free(mf);
}

int main(void) {
    char llama[1024], bert[1024], gpt2[1024]; /* xf_t_src's buffers are reused */
    snprintf(llama, sizeof llama, "%s", xf_t_src("tests/data/tiny/llama"));
    snprintf(bert, sizeof bert, "%s", xf_t_src("tests/data/tiny/bert"));
    snprintf(gpt2, sizeof gpt2, "%s", xf_t_src("tests/data/tiny/gpt2"));
    test_sizes();
    for (int bits = 0; bits <= 8; bits += 4) {
        const int b = bits == 0 ? 0 : bits == 4 ? 4 : 8;
        round_trip(llama, "tiny llama", b);
        round_trip(bert, "tiny bert", b);
        round_trip(gpt2, "tiny gpt2 (fused QKV)", b);
    }
    test_bad_files(llama);
    test_compress(llama);
    test_joint(llama, 4);
    test_joint(llama, 8);
    const char *smol = xf_t_smollm2();
    if (smol && xf_t_knob("XF_T_S24_SMOL", 1, 0)) round_trip(smol, "SmolLM2-135M", 4);
    unlink(xf_t_out("s24_rt.gguf"));
    return xf_t_report();
}
