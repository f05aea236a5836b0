/* test_gguf_model.c — xf_model_load on GGUF files.
 *
 * 1. tests/data/tiny/llama (safetensors) is converted here to an F32 GGUF the way llama.cpp's
 *    converter writes it (llama.cpp tensor names, innermost-first dims, Q/K rows permuted for its
 *    RoPE) and must give the same logits as the safetensors folder (checks the name mapping, the
 *    dims and the un-permutation without any download).
 * 2. Broken variants of that file (missing metadata key, unknown architecture, missing tensor,
 *    wrong tensor shape, tensor type unusable for weights, bad head counts) must each fail with a
 *    message naming the file and the key or tensor.
 * 3. SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch_models.sh SmolLM2-135M-Instruct; skipped when
 *    absent): logits of the first and last position of 4 prompts against transformers loading the
 *    same file (tests/data/smollm2_ref_logits.bin, scripts/make_smollm2_refs.py), through
 *    xf_model_logits and through a session prefill. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dtype.h"
#include "harness.h"
#include "io/gguf_model.h"
#include "io/safetensors.h"
#include "xfmr.h"

/* ------------------------------------------------------------------ writer */


/* A GGUF model description: its tensors (F32 data) and the broken-file knobs. */
typedef struct gt {
    char name[96];
    uint32_t n_dims;
    uint64_t dims[2];
    float *data;
} gt;

typedef struct variant {
    const char *arch;         /* general.architecture (NULL: omitted) */
    const char *skip_key;     /* metadata key left out */
    const char *skip_tensor;  /* tensor left out */
    const char *bad_shape;    /* tensor whose dims[0] is written one larger */
    const char *bad_type;     /* tensor written as I32 */
    uint32_t head_count_kv;   /* 0: the real one */
    float rope_theta;         /* 0: 10000 */
    uint32_t sliding_window;  /* 0: key omitted */
    uint32_t ffn;             /* 0: FFN */
    float samp_temp;          /* != 0: general.sampling.temp = this, top_k = 20, top_p = 0.9 */
    const char *rope_type;    /* rope.scaling.type written (with .factor, .original_context_length),
                                 and the same override given to the safetensors model */
    float rope_factor;
    uint32_t rope_orig;
    float rope_freqs;         /* > 0: a rope_freqs.weight tensor of this divisor (the safetensors
                                 model then gets linear x rope_freqs) */
} variant;

typedef struct tiny {
    gt *t;
    size_t n;
} tiny;

#define N_CTX 128
#define HIDDEN 64
#define N_LAYERS 2
#define FFN 96
#define N_HEAD 4
#define N_KV 2
#define VOCAB 320

static void kv_u32(xf_t_buf *b, const variant *v, const char *k, uint32_t x, uint32_t *n) {
    if (v->skip_key && strcmp(v->skip_key, k) == 0) return;
    xf_t_str(b, k);
    xf_t_u32(b, 4);
    xf_t_u32(b, x);
    (*n)++;
}
static void kv_f32(xf_t_buf *b, const variant *v, const char *k, float x, uint32_t *n) {
    if (v->skip_key && strcmp(v->skip_key, k) == 0) return;
    uint32_t u;
    memcpy(&u, &x, 4);
    xf_t_str(b, k);
    xf_t_u32(b, 6);
    xf_t_u32(b, u);
    (*n)++;
}

static void write_gguf(const tiny *m, const variant *v, xf_t_buf *out) {
    xf_t_buf kv = {0}, ti = {0};
    uint32_t n_kv = 0;
    const char *a = v->arch ? v->arch : "llama";
    if (v->arch) {
        xf_t_str(&kv, "general.architecture");
        xf_t_u32(&kv, 8);
        xf_t_str(&kv, v->arch);
        n_kv++;
    }
    char k[128];
#define K(s) (snprintf(k, sizeof k, "%s." s, a), k)
    if (strcmp(a, "gpt2") == 0) { /* llama.cpp GPT2Model.set_gguf_parameters */
        kv_u32(&kv, v, K("block_count"), N_LAYERS, &n_kv);
        kv_u32(&kv, v, K("context_length"), N_CTX, &n_kv);
        kv_u32(&kv, v, K("embedding_length"), HIDDEN, &n_kv);
        kv_u32(&kv, v, K("feed_forward_length"), v->ffn ? v->ffn : FFN, &n_kv);
        kv_u32(&kv, v, K("attention.head_count"), N_HEAD, &n_kv);
        kv_f32(&kv, v, K("attention.layer_norm_epsilon"), 1e-5f, &n_kv);
        goto tensors;
    }
    kv_u32(&kv, v, K("context_length"), N_CTX, &n_kv);
    kv_u32(&kv, v, K("embedding_length"), HIDDEN, &n_kv);
    kv_u32(&kv, v, K("block_count"), N_LAYERS, &n_kv);
    kv_u32(&kv, v, K("feed_forward_length"), FFN, &n_kv);
    kv_u32(&kv, v, K("attention.head_count"), N_HEAD, &n_kv);
    kv_u32(&kv, v, K("attention.head_count_kv"), v->head_count_kv ? v->head_count_kv : N_KV, &n_kv);
    kv_u32(&kv, v, K("attention.key_length"), HIDDEN / N_HEAD, &n_kv);
    kv_u32(&kv, v, K("rope.dimension_count"), HIDDEN / N_HEAD, &n_kv);
    kv_f32(&kv, v, K("attention.layer_norm_rms_epsilon"), 1e-6f, &n_kv);
    kv_f32(&kv, v, K("rope.freq_base"), v->rope_theta ? v->rope_theta : 10000.0f, &n_kv);
    if (v->sliding_window) kv_u32(&kv, v, K("attention.sliding_window"), v->sliding_window, &n_kv);
    if (v->samp_temp != 0.0f) { /* top_k as llama.cpp's converter writes it: int32 (type 5) */
        kv_f32(&kv, v, "general.sampling.temp", v->samp_temp, &n_kv);
        kv_f32(&kv, v, "general.sampling.top_p", 0.9f, &n_kv);
        xf_t_str(&kv, "general.sampling.top_k");
        xf_t_u32(&kv, 5);
        xf_t_u32(&kv, 20);
        n_kv++;
    }
    if (v->rope_type) {
        xf_t_str(&kv, K("rope.scaling.type"));
        xf_t_u32(&kv, 8);
        xf_t_str(&kv, v->rope_type);
        kv_f32(&kv, v, K("rope.scaling.factor"), v->rope_factor, &n_kv);
        kv_u32(&kv, v, K("rope.scaling.original_context_length"), v->rope_orig, &n_kv);
        n_kv++;
    }
#undef K
tensors:;
    uint64_t off = 0, n_t = 0;
    for (size_t i = 0; i < m->n; i++) {
        const gt *t = &m->t[i];
        if (v->skip_tensor && strcmp(v->skip_tensor, t->name) == 0) continue;
        xf_t_str(&ti, t->name);
        xf_t_u32(&ti, t->n_dims);
        int bad = v->bad_shape && strcmp(v->bad_shape, t->name) == 0;
        for (uint32_t d = 0; d < t->n_dims; d++) xf_t_u64(&ti, t->dims[d] + (d == 0 && bad ? 32 : 0));
        xf_t_u32(&ti, v->bad_type && strcmp(v->bad_type, t->name) == 0 ? 26u : 0u);
        xf_t_u64(&ti, off);
        uint64_t ne = t->dims[0] + (bad ? 32 : 0);
        if (t->n_dims == 2) ne *= t->dims[1];
        off += (ne * 4 + 31) / 32 * 32;
        n_t++;
    }
    float freqs[HIDDEN / N_HEAD / 2];
    if (v->rope_freqs > 0) { /* llama.cpp: F32 [head_dim / 2] */
        for (size_t i = 0; i < HIDDEN / N_HEAD / 2; i++) freqs[i] = v->rope_freqs;
        xf_t_str(&ti, "rope_freqs.weight");
        xf_t_u32(&ti, 1);
        xf_t_u64(&ti, HIDDEN / N_HEAD / 2);
        xf_t_u32(&ti, 0);
        xf_t_u64(&ti, off);
        n_t++;
    }
    out->n = 0;
    xf_t_put(out, "GGUF", 4);
    xf_t_u32(out, 3);
    xf_t_u64(out, n_t);
    xf_t_u64(out, n_kv);
    xf_t_put(out, kv.p, kv.n);
    xf_t_put(out, ti.p, ti.n);
    static const uint8_t zero[32];
    xf_t_put(out, zero, (32 - out->n % 32) % 32);
    for (size_t i = 0; i < m->n; i++) {
        const gt *t = &m->t[i];
        if (v->skip_tensor && strcmp(v->skip_tensor, t->name) == 0) continue;
        int bad = v->bad_shape && strcmp(v->bad_shape, t->name) == 0;
        uint64_t ne = t->dims[0] * (t->n_dims == 2 ? t->dims[1] : 1);
        xf_t_put(out, t->data, ne * 4);
        if (bad)
            for (uint64_t e = 0; e < 32 * (t->n_dims == 2 ? t->dims[1] : 1); e++) xf_t_put(out, zero, 4);
        xf_t_put(out, zero, (32 - out->n % 32) % 32);
    }
    if (v->rope_freqs > 0) xf_t_put(out, freqs, sizeof freqs);
    free(kv.p);
    free(ti.p);
}

/* tests/data/tiny/<dir> as llama.cpp would convert it (F32) for GGUF architecture arch: llama.cpp
 * names, Q/K rows permuted for llama (n_kv K heads), gpt2 Conv1D weights transposed to [out, in]. */
static int make_tiny_as(tiny *m, const char *dir, const char *arch, size_t n_kv) {
    char path[4200], d[256];
    snprintf(d, sizeof d, "tests/data/tiny/%s", dir);
    snprintf(path, sizeof path, "%s/model.safetensors", xf_t_src(d));
    xf_safetensors *st = NULL;
    if (xf_st_open(path, &st) != XF_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, xf_errmsg());
        return 0;
    }
    m->n = xf_st_count(st);
    m->t = calloc(m->n, sizeof *m->t);
    for (size_t i = 0; i < m->n; i++) {
        const xf_st_tensor *s = xf_st_at(st, i);
        gt *t = &m->t[i];
        xf_gguf_permute perm;
        if (!xf_gguf_tensor_name(arch, s->name, t->name, sizeof t->name, &perm)) {
            fprintf(stderr, "no GGUF name for %s\n", s->name);
            xf_st_close(st);
            return 0;
        }
        size_t rows = s->ndim == 2 ? (size_t)s->shape[0] : 1, cols = (size_t)s->shape[s->ndim - 1];
        t->n_dims = (uint32_t)s->ndim;
        t->dims[0] = cols;
        t->dims[1] = rows;
        t->data = malloc(rows * cols * sizeof(float));
        xf_convert_to_f32(s->dtype, s->data, t->data, rows * cols);
        if (perm == XF_GGUF_TRANSPOSE) { /* llama.cpp GPT2Model: data_torch.transpose(1, 0) */
            float *w = malloc(rows * cols * sizeof(float));
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < cols; c++) w[c * rows + r] = t->data[r * cols + c];
            free(t->data);
            t->data = w;
            t->dims[0] = rows;
            t->dims[1] = cols;
        } else if (perm != XF_GGUF_PERMUTE_NONE) { /* llama.cpp: reshape(n_head, 2, dh/2, cols).swapaxes(1, 2) */
            size_t heads = perm == XF_GGUF_PERMUTE_Q ? N_HEAD : n_kv, dh = rows / heads, half = dh / 2;
            float *w = malloc(rows * cols * sizeof(float));
            for (size_t h = 0; h < heads; h++)
                for (size_t i2 = 0; i2 < half; i2++)
                    for (size_t j = 0; j < 2; j++)
                        memcpy(w + (h * dh + 2 * i2 + j) * cols, t->data + (h * dh + j * half + i2) * cols,
                               cols * sizeof(float));
            free(t->data);
            t->data = w;
        }
    }
    xf_st_close(st);
    return 1;
}

static int make_tiny(tiny *m) { return make_tiny_as(m, "llama", "llama", N_KV); }

static void free_tiny(tiny *m) {
    for (size_t i = 0; i < m->n; i++) free(m->t[i].data);
    free(m->t);
}

static void test_tiny(const tiny *m) {
    variant v = {.arch = "llama"};
    xf_t_buf b = {0};
    write_gguf(m, &v, &b);
    const char *path = xf_t_tmpfile("tiny_llama.gguf", b.p, b.n);
    free(b.p);
    CHECK(path != NULL);
    if (!path) return;
    char gpath[4200];
    snprintf(gpath, sizeof gpath, "%s", path);
    xf_model *ms = NULL, *mg = NULL;
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    xf_status st = xf_model_load(xf_t_src("tests/data/tiny/llama"), &p, &ms);
    CHECK_MSG(st == XF_OK, "safetensors: %s", xf_errmsg());
    st = xf_model_load(gpath, &p, &mg);
    CHECK_MSG(st == XF_OK, "gguf: %s", xf_errmsg());
    if (ms && mg) {
        xf_model_info info = xf_model_info_init();
        CHECK(xf_model_get_info(mg, &info) == XF_OK);
        CHECK(strcmp(info.architecture, "llama") == 0);
        CHECK(strcmp(info.dtypes, "F32") == 0);
        CHECK(info.n_files == 1 && strcmp(info.files[0], gpath) == 0);
        CHECK(info.n_layers == N_LAYERS && info.hidden == HIDDEN && info.vocab_size == VOCAB && info.max_position == N_CTX);
        CHECK(xf_model_tokenizer(mg) == NULL); /* no tokenizer.ggml.* metadata */
        int32_t ids[12] = {1, 5, 17, 300, 42, 9, 9, 100, 250, 3, 77, 2};
        float *a = malloc(12 * VOCAB * sizeof(float)), *g = malloc(12 * VOCAB * sizeof(float));
        CHECK(xf_model_logits(ms, ids, 12, a) == XF_OK);
        CHECK(xf_model_logits(mg, ids, 12, g) == XF_OK);
        double md = 0, mx = 0;
        for (size_t i = 0; i < 12 * VOCAB; i++) {
            md = fmax(md, fabs((double)a[i] - g[i]));
            mx = fmax(mx, fabs((double)a[i]));
        }
        printf("tiny llama GGUF vs safetensors: max|diff| %.3g (max|logit| %.3g)\n", md, mx);
        CHECK_MSG(md <= 1e-6 * mx, "max diff %g", md);
        free(a);
        free(g);
    }
    xf_model_free(ms);
    xf_model_free(mg);
    unlink(gpath);
}

/* xf_model_sampler_defaults on GGUF files: general.sampling.* keys set what they name and leave the
 * other fields; none at all leaves everything; a value outside the sampler's range is an error
 * naming the key's file, with the parameters unchanged. */
static int same_params(const xf_sampler_params *a, const xf_sampler_params *b) {
    return a->temperature == b->temperature && a->top_k == b->top_k && a->top_p == b->top_p && a->min_p == b->min_p &&
           a->repetition_penalty == b->repetition_penalty && a->seed == b->seed;
}

static void test_sampling_keys(const tiny *m) {
    const float temps[] = {0.0f, 0.6f, -1.0f};
    for (int k = 0; k < 3; k++) {
        variant v = {.arch = "llama", .samp_temp = temps[k]};
        xf_t_buf b = {0};
        write_gguf(m, &v, &b);
        const char *path = xf_t_tmpfile("sampling.gguf", b.p, b.n);
        free(b.p);
        xf_model *mg = NULL;
        CHECK_MSG(path && xf_model_load(path, NULL, &mg) == XF_OK, "%s", xf_errmsg());
        if (!mg) continue;
        xf_sampler_params p = xf_sampler_default_params(), before;
        p.min_p = 0.05f, p.top_k = 40, p.seed = 7;
        before = p;
        const char *src = "x";
        xf_status st = xf_model_sampler_defaults(mg, &p, &src);
        if (k == 0) {
            CHECK(st == XF_OK && src == NULL && same_params(&p, &before));
        } else if (k == 1) {
            CHECK_MSG(st == XF_OK && src && !strcmp(src, "GGUF general.sampling.*"), "%s", xf_errmsg());
            CHECK(p.temperature == 0.6f && p.top_k == 20 && p.top_p == 0.9f);
            CHECK(p.min_p == 0.05f && p.repetition_penalty == 1.0f && p.seed == 7); /* untouched */
        } else {
            CHECK(st == XF_ERR_RANGE && src == NULL && same_params(&p, &before));
            CHECK_MSG(strstr(xf_errmsg(), "sampling.gguf") && strstr(xf_errmsg(), "temperature"), "%s", xf_errmsg());
        }
        xf_model_free(mg);
        unlink(path);
    }
}

/* tests/data/tiny/<dir> converted to GGUF (arch, metadata from v) against the safetensors folder:
 * logits of ids[n] must be bitwise equal (same weights, same kernels, same op order). */
static void check_arch(const char *dir, const char *arch, size_t n_kv, variant v, const char *want_arch,
                       const int32_t *ids, size_t n) {
    tiny m = {0};
    CHECK_MSG(make_tiny_as(&m, dir, arch, n_kv), "%s: cannot convert", dir);
    if (!m.t) return;
    xf_t_buf b = {0};
    write_gguf(&m, &v, &b);
    free_tiny(&m);
    char name[128], src[256], gpath[4200];
    snprintf(name, sizeof name, "tiny_%s%s.gguf", dir, v.sliding_window ? "_sw" : "");
    snprintf(src, sizeof src, "tests/data/tiny/%s", dir);
    const char *path = xf_t_tmpfile(name, b.p, b.n);
    free(b.p);
    CHECK(path != NULL);
    if (!path) return;
    snprintf(gpath, sizeof gpath, "%s", path);
    xf_model *ms = NULL, *mg = NULL;
    xf_model_params p = xf_model_default_params(), ps;
    p.n_threads = 2;
    ps = p;
    ps.rope_scaling = v.rope_freqs > 0 ? "linear" : v.rope_type;
    ps.rope_factor = v.rope_freqs > 0 ? v.rope_freqs : v.rope_factor;
    ps.rope_orig_ctx = v.rope_orig;
    xf_status st = xf_model_load(xf_t_src(src), &ps, &ms);
    CHECK_MSG(st == XF_OK, "%s safetensors: %s", dir, xf_errmsg());
    st = xf_model_load(gpath, &p, &mg);
    CHECK_MSG(st == XF_OK, "%s gguf: %s", dir, xf_errmsg());
    if (ms && mg) {
        xf_model_info info = xf_model_info_init();
        CHECK(xf_model_get_info(mg, &info) == XF_OK);
        CHECK_MSG(strcmp(info.architecture, want_arch) == 0, "%s: architecture %s, expected %s", dir,
                  info.architecture, want_arch);
        CHECK(strcmp(info.dtypes, "F32") == 0);
        CHECK(info.n_layers == N_LAYERS && info.hidden == HIDDEN && info.vocab_size == VOCAB);
        CHECK(info.max_position == (v.rope_type ? (size_t)(v.rope_factor * v.rope_orig) : N_CTX) ||
              v.rope_freqs > 0);
        float *a = malloc(n * VOCAB * sizeof(float)), *g = malloc(n * VOCAB * sizeof(float));
        CHECK(xf_model_logits(ms, ids, n, a) == XF_OK);
        CHECK(xf_model_logits(mg, ids, n, g) == XF_OK);
        size_t ndiff = 0;
        double md = 0;
        for (size_t i = 0; i < n * VOCAB; i++) {
            ndiff += memcmp(&a[i], &g[i], sizeof(float)) != 0;
            md = fmax(md, fabs((double)a[i] - g[i]));
        }
        printf("tiny %s as GGUF %s%s%s%s (%zu tokens): %zu of %zu logits differ, max|diff| %.3g\n", dir, arch,
               v.sliding_window ? " + sliding_window" : "", v.rope_type ? " + rope " : "",
               v.rope_type ? v.rope_type : v.rope_freqs > 0 ? " + rope_freqs.weight" : "", n, ndiff,
               n * (size_t)VOCAB, md);
        CHECK_MSG(ndiff == 0, "%s: %zu logits differ (max %g)", dir, ndiff, md);
        free(a);
        free(g);
    }
    xf_model_free(ms);
    xf_model_free(mg);
    unlink(gpath);
}

static void test_archs(void) {
    int32_t ids[12] = {1, 5, 17, 300, 42, 9, 9, 100, 250, 3, 77, 2}, lng[40];
    for (int i = 0; i < 40; i++) lng[i] = (int32_t)((i * 37 + 11) % VOCAB);
    /* qwen2: llama names + q/k/v biases, no Q/K permutation, 1 KV head, theta 1e6, tied. */
    check_arch("qwen2", "qwen2", 1, (variant){.arch = "qwen2", .head_count_kv = 1, .rope_theta = 1e6f}, "qwen2",
               ids, 12);
    /* mistral: llama.cpp converts MistralForCausalLM as "llama" (permuted Q/K) and drops the window;
     * within the window (12 tokens < 16) that is exact. With llama.attention.sliding_window it
     * loads as mistral and matches beyond the window too. */
    check_arch("mistral", "llama", 2, (variant){.arch = "llama"}, "llama", ids, 12);
    check_arch("mistral", "llama", 2, (variant){.arch = "llama", .sliding_window = 16}, "mistral", lng, 40);
    /* rotary scaling from GGUF keys = the same override on the safetensors folder */
    check_arch("llama", "llama", 2, (variant){.arch = "llama", .rope_type = "yarn", .rope_factor = 4, .rope_orig = 32},
               "llama", lng, 40);
    check_arch("llama", "llama", 2, (variant){.arch = "llama", .rope_type = "linear", .rope_factor = 2, .rope_orig = 128},
               "llama", lng, 40);
    check_arch("llama", "llama", 2, (variant){.arch = "llama", .rope_freqs = 2}, "llama", lng, 40);
    /* gpt2: token_embd, position_embd, fused attn_qkv, Conv1D weights transposed, tied output. */
    check_arch("gpt2", "gpt2", 4, (variant){.arch = "gpt2", .ffn = 256}, "gpt2", ids, 12);
    check_arch("gpt2", "gpt2", 4, (variant){.arch = "gpt2", .ffn = 256}, "gpt2", lng, 40);
}

static void expect_bad(const tiny *m, const char *label, variant v, xf_status want, const char *needle) {
    xf_t_buf b = {0};
    write_gguf(m, &v, &b);
    char name[128];
    snprintf(name, sizeof name, "bad_%s.gguf", label);
    const char *path = xf_t_tmpfile(name, b.p, b.n);
    free(b.p);
    CHECK(path != NULL);
    if (!path) return;
    char gpath[4200];
    snprintf(gpath, sizeof gpath, "%s", path);
    xf_model *mm = (xf_model *)1;
    xf_status st = xf_model_load(gpath, NULL, &mm);
    const char *msg = xf_errmsg();
    CHECK_MSG(st == want, "%s: status %s, expected %s (%s)", label, xf_status_str(st), xf_status_str(want), msg);
    CHECK_MSG(mm == NULL, "%s: model not NULL", label);
    CHECK_MSG(strstr(msg, gpath) != NULL, "%s: message does not name the file: %s", label, msg);
    CHECK_MSG(strstr(msg, needle) != NULL, "%s: message does not name %s: %s", label, needle, msg);
    if (st != XF_OK) printf("  %-14s %s\n", label, msg);
    if (st == XF_OK) xf_model_free(mm);
    unlink(gpath);
}

static void test_bad(const tiny *m) {
    expect_bad(m, "no_arch", (variant){0}, XF_ERR_NOT_FOUND, "general.architecture");
    expect_bad(m, "unknown_arch", (variant){.arch = "mamba"}, XF_ERR_UNSUPPORTED, "mamba");
    expect_bad(m, "no_key", (variant){.arch = "llama", .skip_key = "llama.embedding_length"}, XF_ERR_NOT_FOUND,
               "llama.embedding_length");
    expect_bad(m, "no_eps", (variant){.arch = "llama", .skip_key = "llama.attention.layer_norm_rms_epsilon"},
               XF_ERR_NOT_FOUND, "llama.attention.layer_norm_rms_epsilon");
    expect_bad(m, "kv_heads", (variant){.arch = "llama", .head_count_kv = 3}, XF_ERR_RANGE,
               "llama.attention.head_count_kv");
    expect_bad(m, "no_tensor", (variant){.arch = "llama", .skip_tensor = "blk.1.ffn_up.weight"}, XF_ERR_NOT_FOUND,
               "blk.1.ffn_up.weight");
    expect_bad(m, "no_embd", (variant){.arch = "llama", .skip_tensor = "token_embd.weight"}, XF_ERR_NOT_FOUND,
               "token_embd.weight");
    expect_bad(m, "bad_shape", (variant){.arch = "llama", .bad_shape = "blk.0.attn_k.weight"}, XF_ERR_FORMAT,
               "blk.0.attn_k.weight");
    expect_bad(m, "bad_type", (variant){.arch = "llama", .bad_type = "blk.0.attn_v.weight"}, XF_ERR_UNSUPPORTED,
               "blk.0.attn_v.weight");
}

/* ------------------------------------------------------------------ SmolLM2 */

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void compare_row(const char *what, size_t len, const float *got, const float *ref, size_t V) {
    double md = 0, mx = 0;
    for (size_t i = 0; i < V; i++) {
        md = fmax(md, fabs((double)got[i] - ref[i]));
        mx = fmax(mx, fabs((double)ref[i]));
    }
    printf("  len %2zu %-8s max|diff| %.3g  max|diff|/max|logit| %.3g\n", len, what, md, md / mx);
    CHECK_MSG(md <= 1e-3 * mx, "len %zu %s: max diff %g, max|logit| %g", len, what, md, mx);
}

static void test_smollm2(void) {
    const char *gguf = xf_t_smollm2();
    if (!gguf) return;
    char path[4200];
    snprintf(path, sizeof path, "%s", gguf);
    size_t len = 0;
    unsigned char *ref = read_all(xf_t_src("tests/data/smollm2_ref_logits.bin"), &len);
    CHECK_MSG(ref && len >= 12 && memcmp(ref, "XSRL", 4) == 0, "cannot read tests/data/smollm2_ref_logits.bin");
    if (!ref || len < 12) {
        free(ref);
        return;
    }
    xf_model *m = NULL;
    xf_status st = xf_model_load(path, NULL, &m);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (!m) {
        free(ref);
        return;
    }
    xf_model_info info = xf_model_info_init();
    CHECK(xf_model_get_info(m, &info) == XF_OK);
    printf("SmolLM2: %s, %s, %zu layers, hidden %zu, vocab %zu, dtypes %s, tokenizer %s\n", info.files[0],
           info.architecture, info.n_layers, info.hidden, info.vocab_size, info.dtypes,
           xf_model_tokenizer(m) ? "loaded" : "none");
    CHECK(strcmp(info.architecture, "llama") == 0);
    CHECK(strstr(info.dtypes, "Q4_1") && strstr(info.dtypes, "Q8_0") && strstr(info.dtypes, "F32"));
    CHECK(info.n_files == 1 && strcmp(info.files[0], path) == 0);
    const size_t np = rd32(ref + 4), V = rd32(ref + 8);
    CHECK(V == xf_model_vocab_size(m));
    size_t pos = 12;
    for (size_t k = 0; k < np && V == xf_model_vocab_size(m); k++) {
        CHECK(pos + 4 <= len);
        if (pos + 4 > len) break;
        size_t n = rd32(ref + pos);
        pos += 4;
        if (pos + n * 4 + 2 * V * 4 > len) {
            CHECK_MSG(0, "reference file truncated");
            break;
        }
        int32_t *ids = malloc(n * sizeof *ids);
        float *first = malloc(V * sizeof *first), *last = malloc(V * sizeof *last);
        memcpy(ids, ref + pos, n * 4);
        pos += n * 4;
        memcpy(first, ref + pos, V * 4);
        pos += V * 4;
        memcpy(last, ref + pos, V * 4);
        pos += V * 4;
        float *lg = malloc(n * V * sizeof *lg), *sl = malloc(V * sizeof *sl);
        st = xf_model_logits(m, ids, n, lg);
        CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
        if (!st) {
            compare_row("first", n, lg, first, V);
            compare_row("last", n, lg + (n - 1) * V, last, V);
        }
        xf_session *s = NULL;
        st = xf_session_create(m, n + 4, &s);
        CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
        if (s) {
            st = xf_session_eval(s, ids, n, sl);
            CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
            if (!st) compare_row("session", n, sl, last, V);
            xf_session_free(s);
        }
        free(ids);
        free(first);
        free(last);
        free(lg);
        free(sl);
    }
    xf_model_free(m);
    /* The folder holding the file (no config.json, one .gguf) loads it too. */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *env = getenv("XFMR_SMOLLM2_GGUF"); /* another file's folder may hold other files */
    if (slash && !(env && *env)) {
        *slash = '\0';
        st = xf_model_load(dir, NULL, &m);
        CHECK_MSG(st == XF_OK, "folder %s: %s", dir, xf_errmsg());
        if (!st) {
            CHECK(xf_model_get_info(m, &info) == XF_OK && strcmp(info.files[0], path) == 0);
            xf_model_free(m);
        }
    }
    free(ref);
}

int main(void) {
    tiny m = {0};
    CHECK(make_tiny(&m));
    if (m.t) {
        test_tiny(&m);
        test_sampling_keys(&m);
        test_bad(&m);
    }
    free_tiny(&m);
    test_archs();
    test_smollm2();
    return xf_t_report();
}
