/* test_save.c — xf_model_save (docs/GGUF.md, "Writing GGUF"):
 *   1. every tiny model (tests/data/tiny: bert, llama, qwen2, mistral, gpt2, llama3_rope,
 *      llama_rope_linear, llama_q.gguf) saved as F32 and reloaded gives bitwise the same outputs
 *      (logits and session steps, or embeddings) and tokens; saving the reloaded model again gives
 *      the same file byte for byte; the architecture keys are llama.cpp's;
 *   2. models loaded with int8 or bf16 weights reload (int8 / bf16) bitwise; the F16 tiny decoders
 *      saved as F16 reload bitwise (their fixtures hold F16 values); BERT as F16 keeps its position
 *      and token-type embeddings F32 (as llama.cpp's converter);
 *   3. SmolLM2-135M-Instruct Q4_1 (when fetched): every tensor of the saved file equals the source
 *      GGUF's byte for byte (the Q/K block rows permuted back), tokenizer keys too, and the outputs
 *      reload bitwise; all-MiniLM-L6-v2 (when fetched) reloads bitwise;
 *   and the tiny bert converted by llama.cpp's convert_hf_to_gguf.py (bert_llamacpp.gguf) loads with
 *   the folder's weights;
 *   4. bad calls and bad paths: clear errors, no file and no temporary file left, an existing
 *      target unchanged (also under a file-size limit, as a full disk). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "xfmr.h"

static void expect_str(const xf_gguf *g, const char *key, const char *want) {
    const char *s = NULL;
    size_t len = 0;
    CHECK_MSG(xf_gguf_get_str(g, key, &s, &len) == XF_OK && len == strlen(want) && !memcmp(s, want, len),
              "%s: %s is \"%.*s\", expected \"%s\"", xf_gguf_path(g), key, (int)len, s ? s : "", want);
}

/* ------------------------------------------------------------------ 1, 2: tiny models */

static void tiny(const char *name, const char *arch) {
    char src[600], file[64];
    snprintf(src, sizeof src, "%s", xf_t_src("tests/data/tiny"));
    snprintf(src + strlen(src), sizeof src - strlen(src), "/%s", name);
    snprintf(file, sizeof file, "%s.gguf", name);
    xf_model *m = xf_t_load(src, XF_WEIGHTS_AS_STORED);
    if (!m) return;
    const char *p1 = xf_t_out(file);
    xf_model_free(xf_t_save_reload(m, p1, XF_SAVE_F32, XF_WEIGHTS_AS_STORED));
    xf_gguf *g = NULL;
    CHECK_MSG(xf_gguf_open(p1, &g) == XF_OK, "%s", xf_errmsg());
    if (g) {
        expect_str(g, "general.architecture", arch);
        char k[96];
        snprintf(k, sizeof k, "%s.block_count", arch);
        uint64_t v = 0;
        CHECK_MSG(xf_gguf_get_uint(g, k, &v) == XF_OK && v > 0, "%s: %s", name, k);
        if (!strcmp(name, "mistral")) CHECK(xf_gguf_get_uint(g, "llama.attention.sliding_window", &v) == XF_OK && v > 0);
        if (!strcmp(name, "llama3_rope")) CHECK(xf_gguf_find_tensor(g, "rope_freqs.weight") != NULL);
        xf_gguf_close(g);
    }
    unlink(p1);
    /* F16: exact for the decoder fixtures, which hold F16 values */
    xf_model_info info = xf_model_info_init();
    if (xf_model_get_info(m, &info) == XF_OK && !strcmp(info.dtypes, "F16")) {
        xf_model *r16 = xf_t_save_reload(m, p1, XF_SAVE_F16, XF_WEIGHTS_AS_STORED);
        xf_model_free(r16);
        unlink(p1);
    }
    xf_model_free(m);
    /* int8 / bf16 weights: saved as the float values they stand for, reloaded as int8 / bf16
     * again (GGUF blocks with int8 activations keep their blocks) */
    static const xf_weight_format reduced[] = {XF_WEIGHTS_INT8, XF_WEIGHTS_BF16};
    for (size_t k = 0; k < 2; k++) {
        if ((m = xf_t_load(src, reduced[k])) == NULL) continue;
        xf_model_free(xf_t_save_reload(m, p1, XF_SAVE_F32, reduced[k]));
        unlink(p1);
        xf_model_free(m);
    }
}

/* Rotary scaling. llama.cpp's Llama 3.1 files carry only rope_freqs.weight (divisors, loaded as
 * such): the tiny llama3_rope saved by xfmr, copied without its xfmr.rope.* keys, is such a file;
 * it saves and reloads bitwise (rope_freqs.weight written back as read). A scaling GGUF has no
 * keys for yet (YaRN here) is refused, naming it, with no file left. */
static void rope(void) {
    xf_model *m = xf_t_load(xf_t_src("tests/data/tiny/llama3_rope"), XF_WEIGHTS_AS_STORED);
    const char *p = xf_t_out("l3.gguf");
    char plain[4200];
    snprintf(plain, sizeof plain, "%s", xf_t_out("l3_divisors.gguf"));
    xf_gguf *g = NULL;
    xf_gguf_writer *w = NULL;
    if (m && xf_model_save(m, p, NULL) == XF_OK && xf_gguf_open(p, &g) == XF_OK && xf_gguf_writer_create(&w) == XF_OK) {
        xf_status st = XF_OK;
        size_t dropped = 0;
        for (size_t i = 0; !st && i < xf_gguf_kv_count(g); i++) {
            if (!strncmp(xf_gguf_key(g, i), "xfmr.rope.", 10)) dropped++;
            else st = xf_gguf_copy_kv(w, g, i);
        }
        for (size_t i = 0; !st && i < xf_gguf_tensor_count(g); i++) {
            const xf_gguf_tensor *t = xf_gguf_tensor_at(g, i);
            st = xf_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->dims, t->data, NULL, NULL);
        }
        CHECK_MSG(!st && dropped >= 5 && xf_gguf_writer_write(w, plain, NULL, NULL) == XF_OK, "%s", xf_errmsg());
        xf_model *d = xf_t_load(plain, XF_WEIGHTS_AS_STORED);
        if (d) {
            xf_model_free(xf_t_save_reload(d, xf_t_out("l3_again.gguf"), XF_SAVE_F32, XF_WEIGHTS_AS_STORED));
            unlink(xf_t_out("l3_again.gguf"));
            xf_model_info info = xf_model_info_init();
            CHECK_MSG(xf_model_get_info(d, &info) == XF_OK && info.rope_scaling && strcmp(info.rope_scaling, "llama3"),
                      "without xfmr.rope.* keys the file is read as divisors, not as %s", info.rope_scaling);
            xf_model_free(d);
        }
    }
    xf_gguf_writer_free(w);
    xf_gguf_close(g);
    unlink(p), unlink(plain);
    xf_model_free(m);

    xf_model_params mp = xf_model_default_params();
    mp.n_threads = 2;
    mp.rope_scaling = "yarn";
    mp.rope_factor = 2.0;
    m = NULL;
    CHECK_MSG(xf_model_load(xf_t_src("tests/data/tiny/llama"), &mp, &m) == XF_OK, "%s", xf_errmsg());
    if (m) {
        CHECK(xf_model_save(m, p, NULL) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "\"yarn\""));
        CHECK(access(p, F_OK) != 0);
        xf_model_free(m);
    }
}

/* --outtype f16 on BERT: the linear weights become F16, the position and token-type embeddings
 * stay F32 as llama.cpp's converter keeps them (llama.cpp aborts on an F16 token_types). */
static void bert_f16(void) {
    xf_model *m = xf_t_load(xf_t_src("tests/data/tiny/bert"), XF_WEIGHTS_AS_STORED);
    const char *p = xf_t_out("bert16.gguf");
    xf_save_params sp = xf_save_default_params();
    sp.outtype = XF_SAVE_F16;
    xf_gguf *g = NULL;
    if (m && xf_model_save(m, p, &sp) == XF_OK && xf_gguf_open(p, &g) == XF_OK) {
        static const char *const want[][2] = {{"blk.0.attn_q.weight", "16"}, {"token_embd.weight", "16"},
                                              {"position_embd.weight", "32"}, {"token_types.weight", "32"},
                                              {"blk.0.attn_q.bias", "32"}};
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
            const xf_gguf_tensor *t = xf_gguf_find_tensor(g, want[i][0]);
            const uint32_t type = want[i][1][0] == '1' ? XF_GGML_F16 : XF_GGML_F32;
            CHECK_MSG(t && t->type == type, "bert --outtype f16: %s is not F%s", want[i][0], want[i][1]);
        }
        xf_gguf_close(g);
    } else {
        CHECK_MSG(0, "saving the tiny bert as F16: %s", xf_errmsg());
    }
    unlink(p);
    xf_model_free(m);
}

/* ------------------------------------------------------------------ 3: real models */

static void smollm2(void) {
    const char *src = xf_t_smollm2(); /* NULL: a skip is recorded */
    if (!src) return;
    xf_model *m = xf_t_load(src, XF_WEIGHTS_AS_STORED);
    if (!m) return;
    const char *p = xf_t_out("smollm2.gguf");
    xf_model_free(xf_t_save_reload(m, p, XF_SAVE_F32, XF_WEIGHTS_AS_STORED));
    xf_model_free(m);
    xf_gguf *a = NULL, *b = NULL;
    CHECK(xf_gguf_open(src, &a) == XF_OK && xf_gguf_open(p, &b) == XF_OK);
    if (a && b) {
        size_t same = 0;
        CHECK(xf_gguf_tensor_count(a) == xf_gguf_tensor_count(b));
        for (size_t i = 0; i < xf_gguf_tensor_count(a); i++) {
            const xf_gguf_tensor *x = xf_gguf_tensor_at(a, i), *y = xf_gguf_find_tensor(b, x->name);
            int eq = y && y->type == x->type && y->n_dims == x->n_dims && y->dims[0] == x->dims[0] &&
                     y->dims[1] == x->dims[1] && y->nbytes == x->nbytes && !memcmp(y->data, x->data, x->nbytes);
            CHECK_MSG(eq, "tensor %s differs from the source's", x->name);
            same += eq;
        }
        size_t keys = 0;
        for (size_t i = 0; i < xf_gguf_kv_count(a); i++) { /* tokenizer.*: the same type and value bytes */
            const char *k = xf_gguf_key(a, i);
            if (strncmp(k, "tokenizer.", 10) != 0) continue;
            int64_t j = xf_gguf_find(b, k);
            CHECK_MSG(j >= 0 && xf_gguf_kv_type(b, (size_t)j) == xf_gguf_kv_type(a, i), "key %s", k);
            keys++;
        }
        printf("SmolLM2: %zu/%zu tensors byte-identical to the source, %zu tokenizer keys kept\n", same,
               xf_gguf_tensor_count(a), keys);
    }
    xf_gguf_close(a), xf_gguf_close(b);
    unlink(p);
}

static void minilm(void) {
    const char *src = xf_t_model_dir(); /* NULL: a skip is recorded */
    if (!src) return;
    xf_model *m = xf_t_load(src, XF_WEIGHTS_AS_STORED);
    if (!m) return;
    const char *p = xf_t_out("minilm.gguf");
    xf_model *r = xf_t_save_reload(m, p, XF_SAVE_F32, XF_WEIGHTS_AS_STORED);
    if (r) { /* texts through the reloaded tokenizer, pooling and normalisation */
        static const char *texts[] = {"The quick brown fox jumps over the lazy dog.", "Un café, s'il vous plaît!",
                                      "GGUF files hold tensors and metadata."};
        float a[3 * 384], b[3 * 384];
        CHECK(xf_embed(m, texts, 3, 0, a, NULL) == XF_OK && xf_embed(r, texts, 3, 0, b, NULL) == XF_OK);
        CHECK_MSG(!memcmp(a, b, sizeof a), "MiniLM text embeddings differ after saving");
        CHECK(xf_model_max_length(r) == xf_model_max_length(m));
        xf_model_free(r);
    }
    xf_model_free(m);
    unlink(p);
}

/* llama.cpp's convert_hf_to_gguf.py output for the tiny bert (scripts/make_llamacpp_tiny_bert.py)
 * loads with the folder's weights: both saved by xfmr give the same tensors byte for byte; the
 * embeddings point the same way (the converter writes no normalisation flag). */
static void llamacpp_bert(void) {
    xf_model *a = xf_t_load(xf_t_src("tests/data/tiny/bert"), XF_WEIGHTS_AS_STORED);
    xf_model *b = xf_t_load(xf_t_src("tests/data/tiny/bert_llamacpp.gguf"), XF_WEIGHTS_AS_STORED);
    const char *pa = xf_t_out("bert_a.gguf"), *pb = xf_t_out("bert_b.gguf");
    if (a && b) {
        CHECK(xf_model_save(a, pa, NULL) == XF_OK && xf_model_save(b, pb, NULL) == XF_OK);
        xf_gguf *x = NULL, *y = NULL;
        CHECK(xf_gguf_open(pa, &x) == XF_OK && xf_gguf_open(pb, &y) == XF_OK);
        size_t same = 0;
        for (size_t i = 0; x && y && i < xf_gguf_tensor_count(x); i++) {
            const xf_gguf_tensor *s = xf_gguf_tensor_at(x, i), *t = xf_gguf_find_tensor(y, s->name);
            same += t && t->nbytes == s->nbytes && !memcmp(t->data, s->data, s->nbytes);
        }
        CHECK_MSG(x && y && same == xf_gguf_tensor_count(x) && same == xf_gguf_tensor_count(y),
                  "%zu tensors of the llama.cpp-converted tiny bert equal the folder's", same);
        xf_gguf_close(x), xf_gguf_close(y);
        int32_t ids[12] = {2, 40, 41, 77, 100, 150, 33, 210, 99, 12, 56, 3}, types[12] = {0};
        xf_encoding e = {ids, types, 12, 0};
        float u[32], v[32];
        CHECK(xf_embed_encodings(a, &e, 1, 1, u) == XF_OK && xf_embed_encodings(b, &e, 1, 1, v) == XF_OK);
        CHECK_MSG(xf_cosine(u, v, 32) > 0.9999999f, "cosine %.9f", xf_cosine(u, v, 32));
    }
    unlink(pa), unlink(pb);
    xf_model_free(a), xf_model_free(b);
}

/* ------------------------------------------------------------------ 4: bad input */

static int save_to(void *m, const char *path) { return (int)xf_model_save(m, path, NULL); }

static void bad(void) {
    xf_model *m = xf_t_load(xf_t_src("tests/data/tiny/llama"), XF_WEIGHTS_AS_STORED);
    if (!m) return;
    xf_save_params p = xf_save_default_params();
    CHECK(xf_model_save(NULL, xf_t_out("x.gguf"), NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_model_save(m, NULL, NULL) == XF_ERR_INVALID_ARG);
    p.struct_size = 3;
    CHECK(xf_model_save(m, xf_t_out("x.gguf"), &p) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "struct_size"));
    p = xf_save_default_params();
    p.outtype = (xf_save_float)7;
    CHECK(xf_model_save(m, xf_t_out("x.gguf"), &p) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "outtype"));
    CHECK(xf_model_save(m, xf_t_outdir(), NULL) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "is a directory"));
    const char *missing = xf_t_out("no/such/dir/m.gguf");
    CHECK(xf_model_save(m, missing, NULL) == XF_ERR_IO && strstr(xf_errmsg(), missing));
    CHECK(access(xf_t_out("x.gguf"), F_OK) != 0);
    xf_t_check_full_disk(xf_t_out("full.gguf"), 64 << 10, save_to, m); /* the model is ~400 KiB */
    xf_model_free(m);
}

int main(void) {
    static const char *const models[][2] = {{"bert", "bert"},   {"llama", "llama"},       {"qwen2", "qwen2"},
                                            {"mistral", "llama"}, {"gpt2", "gpt2"},       {"llama3_rope", "llama"},
                                            {"llama_rope_linear", "llama"}, {"llama_q.gguf", "llama"}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) tiny(models[i][0], models[i][1]);
    bert_f16();
    rope();
    llamacpp_bert();
    smollm2();
    minilm();
    bad();
    CHECK(xf_t_count_tmp(xf_t_outdir()) == 0);
    rmdir(xf_t_outdir());
    return xf_t_report();
}
