/* test_pruned.c — heterogeneous layers load and run, shapes read from the tensors:
 *   - all-MiniLM-L6-v2 with different heads (and head counts) removed per layer, written as
 *     transformers 4.x prune_heads + save_pretrained writes it (query/key/value rows and output
 *     columns of the kept heads, "pruned_heads" in config.json), embeds the golden corpus with
 *     cosine >= 0.99999 to sentence-transformers' dense model whose pruned heads have their value
 *     rows and biases zeroed (tests/data/pruned, scripts/make_pruned_goldens.py);
 *   - the tiny llama with single query heads (groups of different sizes: xfmr_q_groups) and FFN
 *     neurons removed per layer gives bitwise the logits of the dense model whose removed
 *     output-projection columns and FFN rows/columns are zero (whole-sequence and session paths;
 *     bitwise because every removed term is an exact zero in one FMA chain: K <= 256). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dtype.h"
#include "harness.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "xfmr.h"

#define MAX_T 128

/* Tensors of a safetensors file as float32 copies, to rewrite. */
typedef struct {
    size_t n;
    char **names;
    int *ndim;
    size_t (*shape)[2];
    float **data;
} tensors;

static void tensors_free(tensors *t) {
    for (size_t i = 0; i < t->n; i++) free(t->names[i]), free(t->data[i]);
    free(t->names), free(t->ndim), free(t->shape), free(t->data);
}

static int tensors_read(const char *path, tensors *t) {
    xf_safetensors *st = NULL;
    if (xf_st_open(path, &st) != XF_OK) {
        fprintf(stderr, "%s: %s\n", path, xf_errmsg());
        return -1;
    }
    t->n = xf_st_count(st);
    t->names = calloc(t->n, sizeof *t->names), t->ndim = calloc(t->n, sizeof *t->ndim);
    t->shape = calloc(t->n, sizeof *t->shape), t->data = calloc(t->n, sizeof *t->data);
    for (size_t i = 0; i < t->n; i++) {
        const xf_st_tensor *x = xf_st_at(st, i);
        t->names[i] = strdup(x->name);
        t->ndim[i] = x->ndim;
        t->shape[i][0] = (size_t)x->shape[0];
        t->shape[i][1] = x->ndim == 2 ? (size_t)x->shape[1] : 1;
        t->data[i] = malloc(x->n_elements * sizeof(float));
        xf_convert_to_f32(x->dtype, x->data, t->data[i], (size_t)x->n_elements);
    }
    xf_st_close(st);
    return 0;
}

static int write_tensors(const char *path, const tensors *t) {
    return xf_t_write_safetensors(path, t->n, (const char *const *)t->names, t->ndim, (const size_t (*)[2])t->shape,
                                  (const float *const *)t->data);
}

/* Keep the rows (dim 0) or columns (dim 1) of tensor i whose keep[index / group] is nonzero. */
static void keep_along(tensors *t, size_t i, int dim, const unsigned char *keep, size_t group) {
    const size_t R = t->shape[i][0], C = t->ndim[i] == 2 ? t->shape[i][1] : 1;
    size_t R2 = 0, C2 = 0;
    for (size_t r = 0; r < R; r++) R2 += dim != 0 || keep[r / group];
    for (size_t c = 0; c < C; c++) C2 += dim != 1 || keep[c / group];
    float *out = malloc(R2 * C2 * sizeof *out), *o = out;
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++)
            if ((dim != 0 || keep[r / group]) && (dim != 1 || keep[c / group])) *o++ = t->data[i][r * C + c];
    free(t->data[i]);
    t->data[i] = out;
    t->shape[i][0] = R2;
    if (t->ndim[i] == 2) t->shape[i][1] = C2;
}

/* Zero the rows (dim 0) or columns (dim 1) of tensor i whose keep[index / group] is zero. */
static void zero_along(tensors *t, size_t i, int dim, const unsigned char *keep, size_t group) {
    const size_t R = t->shape[i][0], C = t->ndim[i] == 2 ? t->shape[i][1] : 1;
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++)
            if (!keep[(dim == 0 ? r : c) / group]) t->data[i][r * C + c] = 0.0f;
}

static int copy_file(const char *src, const char *dst, const char *insert_after_brace) {
    size_t len;
    char *b = xf_t_slurp(src, &len);
    FILE *f = b ? fopen(dst, "wb") : NULL;
    if (!f) {
        free(b);
        return -1;
    }
    const char *brace = insert_after_brace ? memchr(b, '{', len) : NULL;
    if (brace) {
        size_t k = (size_t)(brace - b) + 1;
        fwrite(b, 1, k, f);
        fputs(insert_after_brace, f);
        fwrite(b + k, 1, len - k, f);
    } else {
        fwrite(b, 1, len, f);
    }
    free(b);
    return fclose(f);
}

/* m saved as GGUF in dir reloads with bitwise the same outputs and tokens (xf_t_save_reload);
 * the file's general.architecture is arch. */
static void save_reload(xf_model *m, const char *dir, const char *arch) {
    char p[256];
    snprintf(p, sizeof p, "%s/saved.gguf", dir);
    xf_model_free(xf_t_save_reload(m, p, XF_SAVE_F32, XF_WEIGHTS_AS_STORED));
    xf_gguf *g = NULL;
    const char *s = NULL;
    size_t len = 0;
    CHECK(xf_gguf_open(p, &g) == XF_OK && xf_gguf_get_str(g, "general.architecture", &s, &len) == XF_OK);
    CHECK_MSG(s && len == strlen(arch) && !memcmp(s, arch, len), "saved as \"%.*s\", expected \"%s\"", (int)len, s ? s : "", arch);
    xf_gguf_close(g);
    unlink(p);
}

/* ---------------------------------------------------------------- MiniLM, transformers' format */

#define HEADS 12
#define DH 32
static const int k_pruned[6][HEADS] = {{0, 5, -1}, {3, -1}, {1, 2, 7, 9, -1}, {-1}, {11, -1}, {4, 6, 8, 10, 0, -1}};

static void keep_heads(int layer, unsigned char *keep) {
    memset(keep, 1, HEADS);
    for (int k = 0; k < HEADS && k_pruned[layer][k] >= 0; k++) keep[k_pruned[layer][k]] = 0;
}

static int write_pruned_minilm(const char *src, const char *dst) {
    char a[4200], b[4200];
    tensors t = {0};
    snprintf(a, sizeof a, "%s/model.safetensors", src);
    if (tensors_read(a, &t)) return -1;
    for (size_t i = 0; i < t.n; i++) {
        const char *e = strstr(t.names[i], "encoder.layer.");
        int layer;
        char which[16], kind[16];
        unsigned char keep[HEADS];
        if (!e) continue;
        if (sscanf(e, "encoder.layer.%d.attention.self.%15[a-z].%15s", &layer, which, kind) == 3) {
            keep_heads(layer, keep);
            keep_along(&t, i, 0, keep, DH);
        } else if (sscanf(e, "encoder.layer.%d.attention.output.dense.%15s", &layer, kind) == 2 && !strcmp(kind, "weight")) {
            keep_heads(layer, keep);
            keep_along(&t, i, 1, keep, DH);
        }
    }
    mkdir(dst, 0755);
    snprintf(b, sizeof b, "%s/1_Pooling", dst);
    mkdir(b, 0755);
    snprintf(b, sizeof b, "%s/model.safetensors", dst);
    int rc = write_tensors(b, &t);
    tensors_free(&t);
    static const char *const files[] = {"tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                        "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
                                        "config_sentence_transformers.json", "1_Pooling/config.json"};
    for (size_t k = 0; k < sizeof files / sizeof *files && !rc; k++) {
        snprintf(a, sizeof a, "%s/%s", src, files[k]);
        snprintf(b, sizeof b, "%s/%s", dst, files[k]);
        struct stat sb;
        if (stat(a, &sb) == 0) rc = copy_file(a, b, NULL);
    }
    char ph[512] = "\"pruned_heads\": {";
    for (int l = 0; l < 6; l++) {
        if (k_pruned[l][0] < 0) continue;
        size_t n = strlen(ph);
        snprintf(ph + n, sizeof ph - n, "%s\"%d\": [", ph[n - 1] == '{' ? "" : ", ", l);
        for (int k = 0; k < HEADS && k_pruned[l][k] >= 0; k++) {
            n = strlen(ph);
            snprintf(ph + n, sizeof ph - n, "%s%d", k ? ", " : "", k_pruned[l][k]);
        }
        strncat(ph, "]", sizeof ph - strlen(ph) - 1);
    }
    strncat(ph, "}, ", sizeof ph - strlen(ph) - 1);
    snprintf(a, sizeof a, "%s/config.json", src);
    snprintf(b, sizeof b, "%s/config.json", dst);
    return rc ? rc : copy_file(a, b, ph);
}

static int test_minilm(void) {
    const char *model = xf_t_model_dir();
    if (!model) return 77;
    char src[4096], dst[64] = "/tmp/xfmr_pruned_XXXXXX";
    snprintf(src, sizeof src, "%s", model);
    CHECK(mkdtemp(dst) != NULL);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/minilm", dst);
    CHECK(write_pruned_minilm(src, dir) == 0);
    xf_model *m = NULL;
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    CHECK_MSG(xf_model_load(dir, &p, &m) == XF_OK, "%s", xf_errmsg());
    size_t len, n_lines, n_g;
    char *buf = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &len);
    xf_t_span *lines = buf ? xf_t_split_lines(buf, len, &n_lines) : NULL;
    uint16_t *gold = (uint16_t *)xf_t_slurp(xf_t_src("tests/data/pruned/minilm_pruned_emb.f16"), &n_g);
    CHECK_MSG(lines && gold && n_g == n_lines * 384 * 2, "golden minilm_pruned_emb.f16 does not match the corpus");
    if (m && lines && gold && n_g == n_lines * 384 * 2) {
        /* every line in Release, every 16th under the sanitizers (XF_T_GOLDEN_STRIDE=k sets it) */
        const size_t stride = xf_t_knob("XF_T_GOLDEN_STRIDE", 1, 16);
        size_t n = 0, bad = 0;
        double worst = 1;
        const char **texts = malloc(n_lines * sizeof *texts);
        size_t *lens = malloc(n_lines * sizeof *lens), *which = malloc(n_lines * sizeof *which);
        for (size_t i = 0; i < n_lines; i += stride) texts[n] = lines[i].p, lens[n] = lines[i].n, which[n++] = i;
        float *emb = malloc(n * 384 * sizeof *emb), want[384];
        CHECK_MSG(xf_embed_n(m, texts, lens, n, 32, emb, NULL) == XF_OK, "%s", xf_errmsg());
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < 384; k++) want[k] = xf_f16_to_f32(gold[which[i] * 384 + k]);
            const double c = xf_cosine(emb + i * 384, want, 384);
            worst = fmin(worst, c);
            bad += c < 0.99999;
        }
        printf("pruned MiniLM: %zu lines, min cosine %.7f to sentence-transformers with the heads zeroed\n", n, worst);
        CHECK_MSG(bad == 0, "%zu of %zu lines below cosine 0.99999 (min %.7f)", bad, n, worst);
        free(texts), free(lens), free(which), free(emb);
    }
    free(lines), free(buf), free(gold);
    if (m) save_reload(m, dst, "bert"); /* per-layer head counts as a bert.attention.head_count array */
    xf_model_free(m);
    return 0;
}

/* ---------------------------------------------------------------- tiny llama, uneven groups */

#define L_HEADS 4
#define L_DH 16
#define L_FFN 96
static const unsigned char k_qkeep[2][L_HEADS] = {{1, 0, 1, 1}, {1, 1, 0, 1}}; /* groups [1, 2], [2, 1] */
/* prune 2: layer 0 loses key/value head 1 with its query heads 2, 3 (equal groups, fewer heads) */
static const unsigned char k_qkeep2[2][L_HEADS] = {{1, 1, 0, 0}, {1, 1, 1, 1}}, k_kvkeep2[2][2] = {{1, 0}, {1, 1}};

static int ffn_keep(int layer, size_t unit) { return layer == 0 ? !(unit == 3 || unit == 10 || unit == 50 || unit == 77)
                                                                : !(unit <= 2 || unit == 95); }

static void write_llama(const char *src, const char *dst, int prune) {
    char a[4200], b[4200];
    tensors t = {0};
    snprintf(a, sizeof a, "%s/model.safetensors", src);
    CHECK(tensors_read(a, &t) == 0);
    for (size_t i = 0; i < t.n; i++) {
        int layer;
        char kind[32];
        unsigned char fk[L_FFN];
        if (sscanf(t.names[i], "model.layers.%d.%31s", &layer, kind) != 2) continue;
        for (size_t u = 0; u < L_FFN; u++) fk[u] = (unsigned char)ffn_keep(layer, u);
        void (*edit)(tensors *, size_t, int, const unsigned char *, size_t) = prune ? keep_along : zero_along;
        const unsigned char *qk = prune == 2 ? k_qkeep2[layer] : k_qkeep[layer];
        if (!strcmp(kind, "self_attn.q_proj.weight") && prune) keep_along(&t, i, 0, qk, L_DH);
        else if ((!strcmp(kind, "self_attn.k_proj.weight") || !strcmp(kind, "self_attn.v_proj.weight")) && prune == 2)
            keep_along(&t, i, 0, k_kvkeep2[layer], L_DH);
        else if (!strcmp(kind, "self_attn.o_proj.weight")) edit(&t, i, 1, qk, L_DH);
        else if (!strcmp(kind, "mlp.gate_proj.weight") || !strcmp(kind, "mlp.up_proj.weight")) edit(&t, i, 0, fk, 1);
        else if (!strcmp(kind, "mlp.down_proj.weight")) edit(&t, i, 1, fk, 1);
    }
    mkdir(dst, 0755);
    snprintf(b, sizeof b, "%s/model.safetensors", dst);
    CHECK(write_tensors(b, &t) == 0);
    tensors_free(&t);
    snprintf(a, sizeof a, "%s/tokenizer.json", src);
    snprintf(b, sizeof b, "%s/tokenizer.json", dst);
    CHECK(copy_file(a, b, NULL) == 0);
    snprintf(a, sizeof a, "%s/config.json", src);
    snprintf(b, sizeof b, "%s/config.json", dst);
    CHECK(copy_file(a, b, prune == 1 ? "\"xfmr_q_groups\": [[1, 2], [2, 1]], " : NULL) == 0);
}

static void test_llama(void) {
    char src[4096], tmp[64] = "/tmp/xfmr_pruned_XXXXXX", dense[4200], pruned[128];
    snprintf(src, sizeof src, "%s", xf_t_src("tests/data/tiny/llama"));
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(dense, sizeof dense, "%s/dense", tmp);
    snprintf(pruned, sizeof pruned, "%s/pruned", tmp);
    write_llama(src, dense, 0);
    write_llama(src, pruned, 1);
    xf_model *md = NULL, *mp = NULL;
    CHECK_MSG(xf_model_load(dense, NULL, &md) == XF_OK, "dense: %s", xf_errmsg());
    CHECK_MSG(xf_model_load(pruned, NULL, &mp) == XF_OK, "pruned: %s", xf_errmsg());
    if (md && mp) {
        xf_model_info id = xf_model_info_init(), ip = xf_model_info_init();
        xf_model_get_info(md, &id), xf_model_get_info(mp, &ip);
        CHECK_MSG(ip.n_params + 2 * (2 * L_DH * 64) + 8 * 3 * 64 == id.n_params,
                  "pruned model has %llu parameters, dense %llu", (unsigned long long)ip.n_params,
                  (unsigned long long)id.n_params);
        const size_t V = xf_model_vocab_size(md), n = 50;
        int32_t ids[50];
        for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 29 + 7) % V);
        float *a = malloc(n * V * 4), *b = malloc(n * V * 4);
        CHECK(xf_model_logits(md, ids, n, a) == XF_OK && xf_model_logits(mp, ids, n, b) == XF_OK);
        CHECK_MSG(!memcmp(a, b, n * V * 4), "pruned logits differ from the zeroed dense model's");
        xf_session *sd = NULL, *sp = NULL;
        CHECK(xf_session_create(md, 0, &sd) == XF_OK && xf_session_create(mp, 0, &sp) == XF_OK);
        int same = 1;
        for (size_t k = 0; sd && sp && k < 10; k++) {
            CHECK(xf_session_eval(sd, ids + (k ? 30 + k : 0), k ? 1 : 30, a) == XF_OK);
            CHECK(xf_session_eval(sp, ids + (k ? 30 + k : 0), k ? 1 : 30, b) == XF_OK);
            same &= !memcmp(a, b, V * 4);
        }
        CHECK_MSG(same, "pruned session logits differ from the zeroed dense model's");
        xf_session_free(sd), xf_session_free(sp);
        free(a), free(b);
    }
    /* saved as GGUF: groups of different sizes are xfmr-only ("xfmr-llama"); fewer heads with equal
     * groups and narrower FFNs are llama.cpp's "deci" (per-layer arrays) */
    if (mp) save_reload(mp, tmp, "xfmr-llama");
    char pruned2[4200];
    snprintf(pruned2, sizeof pruned2, "%s/pruned2", tmp);
    write_llama(xf_t_src("tests/data/tiny/llama"), pruned2, 2);
    xf_model *m2 = NULL;
    CHECK_MSG(xf_model_load(pruned2, NULL, &m2) == XF_OK, "pruned2: %s", xf_errmsg());
    if (m2) save_reload(m2, tmp, "deci");
    xf_model_free(m2), xf_model_free(md), xf_model_free(mp);
    /* bad groups: sums that do not match the tensors */
    snprintf(src, sizeof src, "%s/config.json", pruned);
    snprintf(dense, sizeof dense, "%s/config.json", pruned);
    size_t len;
    char *cfg = xf_t_slurp(src, &len), *at = cfg ? strstr(cfg, "[[1, 2], [2, 1]]") : NULL;
    if (at) {
        memcpy(at, "[[2, 2], [2, 1]]", 16);
        FILE *f = fopen(dense, "wb");
        fwrite(cfg, 1, len, f);
        fclose(f);
        CHECK(xf_model_load(pruned, NULL, &mp) == XF_ERR_FORMAT && strstr(xf_errmsg(), "query-head groups"));
    }
    free(cfg);
}

int main(void) {
    test_llama();
    int rc = test_minilm();
    if (rc == 77 && !xf_t_failed) {
        printf("SKIP: all-MiniLM-L6-v2 is not fetched (scripts/fetch_models.sh)\n");
        return 77;
    }
    return xf_t_report();
}
