/* test_modernbert.c — the ModernBERT architecture against transformers' ModernBertModel on the tiny
 * random models of scripts/make_tiny_modernbert.py (no real ModernBERT weights exist offline):
 * last hidden states within 1e-5 (max abs) for inputs shorter than the local window and past it,
 * each sequence alone (goldens of the sequence alone) and all in one packed batch (goldens of the
 * same sequences in one right-padded batch with an attention mask); the Hugging Face folder and the
 * GGUF file of the same model ("modern-bert", llama.cpp's layout); xf_embed on texts (xfmr's
 * tokenizer on the model's tokenizer.json, mean pooling) against the pooled goldens; the plan's
 * spans (global layers without a window, local ones with local_attention / 2 + 1).
 *
 * ref_hidden.bin (little-endian): uint32 hidden, uint32 n_cases; per case: uint32 len,
 * uint32 batched, int32 ids[len], float32 hidden[len * hidden]. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "model/forward.h"
#include "model/model.h"
#include "xfmr.h"

#define TOL 1e-5

typedef struct {
    size_t len;
    int batched;
    const int32_t *ids;
    const float *h;
} ref_case;

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Parse ref_hidden.bin into cases (pointers into buf); returns the count, 0 on a bad file. */
static size_t parse_refs(unsigned char *buf, size_t len, size_t *hidden, ref_case *cases, size_t cap) {
    if (len < 8) return 0;
    *hidden = rd32(buf);
    const size_t n = rd32(buf + 4);
    size_t at = 8;
    for (size_t i = 0; i < n; i++) {
        if (i >= cap || at + 8 > len) return 0;
        cases[i].len = rd32(buf + at), cases[i].batched = (int)rd32(buf + at + 4);
        at += 8;
        const size_t need = cases[i].len * 4 * (1 + *hidden);
        if (at + need > len) return 0;
        cases[i].ids = (const int32_t *)(buf + at);
        cases[i].h = (const float *)(buf + at + cases[i].len * 4);
        at += need;
    }
    return at == len ? n : 0;
}

/* Run n sequences as one packed batch; max |X - ref| over every row. */
static double run_batch(xf_model *m, const ref_case *const *cs, size_t n, size_t H) {
    size_t T = 0;
    for (size_t i = 0; i < n; i++) T += cs[i]->len;
    size_t *off = malloc((n + 1) * sizeof *off);
    int32_t *ids = malloc(T * sizeof *ids), *pos = malloc(T * sizeof *pos);
    float *X = malloc(T * H * sizeof *X);
    off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(ids + off[i], cs[i]->ids, cs[i]->len * sizeof *ids);
        for (size_t t = 0; t < cs[i]->len; t++) pos[off[i] + t] = (int32_t)t;
        off[i + 1] = off[i] + cs[i]->len;
    }
    xf_fwd f = {.n_seq = n, .off = off, .pos = pos, .ids = ids, .X = X};
    xf_fwd_ws ws = {0};
    double worst = INFINITY;
    xf_status st = xf_fwd_check(m, &f);
    if (!st) st = xf_fwd_reserve(m, &ws, T, n);
    if (!st) st = xf_forward(m, &f, &ws);
    CHECK_MSG(st == XF_OK, "forward: %s", xf_errmsg());
    if (!st) {
        worst = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < cs[i]->len * H; k++) {
                const double d = fabs((double)X[off[i] * H + k] - cs[i]->h[k]);
                worst = d > worst || d != d ? d : worst;
            }
    }
    xf_fwd_ws_free(&ws);
    free(off), free(ids), free(pos), free(X);
    return worst;
}

static void check_spans(xf_model *m, const char *name) {
    const xf_plan *P = &m->plan;
    const int bias = strstr(name, "bias") != NULL;
    const size_t every = bias ? 2 : 3, W = (bias ? 10 : 16) / 2 + 1;
    CHECK_MSG(P->n_layers == (bias ? 5u : 4u), "%s: %zu layers", name, P->n_layers);
    for (size_t l = 0; l < P->n_layers; l++) {
        const xf_attn_plan *a = &P->layers[l].attn;
        const int local = l % every != 0;
        CHECK_MSG(!a->causal && a->window == (local ? W : 0) && a->rope == (local ? &P->rope_local : &P->rope),
                  "%s: layer %zu: window %zu rope %s, expected %s", name, l, a->window, a->rope == &P->rope ? "global" : "local",
                  local ? "local" : "global");
    }
    CHECK_MSG(P->layers[0].norm_attn.kind == XF_NORM_NONE && P->layers[1].norm_attn.kind == XF_NORM_LAYER,
              "%s: layer 0's attention norm must be the identity", name);
    CHECK_MSG((P->final_norm.b.data != NULL) == bias && (P->layers[1].attn.q.b.data != NULL) == bias &&
                  (P->layers[1].ffn.gate.b.data != NULL) == bias,
              "%s: biases must follow norm_bias / attention_bias / mlp_bias", name);
}

static void check_texts(xf_model *m, const char *dir, const char *what) {
    char path[4200];
    snprintf(path, sizeof path, "%s/ref_emb.txt", dir);
    size_t len = 0, n = 0;
    char *txt = xf_t_slurp(path, &len);
    CHECK_MSG(txt != NULL, "cannot read %s", path);
    if (!txt) return;
    xf_t_span *lines = xf_t_split_lines(txt, len, &n);
    const size_t H = xf_model_embedding_dim(m);
    float *ref = malloc(H * sizeof *ref), *out = malloc(n * H * sizeof *out);
    const char **texts = malloc(n * sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        char *tab = memchr(lines[i].p, '\t', lines[i].n);
        lines[i].p[lines[i].n] = '\0';
        *tab = '\0';
        texts[i] = lines[i].p;
    }
    xf_status st = xf_embed(m, texts, n, 0, out, NULL);
    CHECK_MSG(st == XF_OK, "%s: xf_embed: %s", what, xf_errmsg());
    for (size_t i = 0; st == XF_OK && i < n; i++) {
        char *p = (char *)texts[i] + strlen(texts[i]) + 1;
        for (size_t k = 0; k < H; k++) ref[k] = strtof(p, &p);
        double worst = 0.0;
        for (size_t k = 0; k < H; k++) worst = fmax(worst, fabs((double)out[i * H + k] - ref[k]));
        printf("%s: text %zu (mean pooling): max |diff| %.3g\n", what, i, worst);
        CHECK_MSG(worst < TOL, "%s: text %zu \"%.30s\": max |diff| %.3g", what, i, texts[i], worst);
    }
    free(ref), free(out), free(texts), free(lines), free(txt);
}

static void check_model(const char *name, const char *src, int gguf) {
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), name);
    snprintf(path, sizeof path, "%s/ref_hidden.bin", dir);
    size_t len = 0, H = 0;
    unsigned char *buf = (unsigned char *)xf_t_slurp(path, &len);
    CHECK_MSG(buf != NULL, "cannot read %s", path);
    if (!buf) return;
    ref_case cases[32];
    const size_t n = parse_refs(buf, len, &H, cases, 32);
    CHECK_MSG(n > 0, "%s: bad file", path);
    xf_model *m = NULL;
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    xf_status st = xf_model_load(src, &p, &m);
    CHECK_MSG(st == XF_OK, "%s: %s", src, xf_errmsg());
    char what[128];
    snprintf(what, sizeof what, "%s (%s)", name, gguf ? "gguf" : "safetensors");
    if (m && n) {
        CHECK(xf_model_embedding_dim(m) == H);
        check_spans(m, name);
        const ref_case *batch[32];
        size_t nb = 0;
        for (size_t i = 0; i < n; i++) {
            if (cases[i].batched) {
                batch[nb++] = &cases[i];
                continue;
            }
            const ref_case *one = &cases[i];
            const double d = run_batch(m, &one, 1, H);
            printf("%s: length %zu alone: max |diff| %.3g\n", what, one->len, d);
            CHECK_MSG(d < TOL, "%s: length %zu alone: max |diff| %.3g", what, one->len, d);
        }
        const double d = run_batch(m, batch, nb, H);
        printf("%s: %zu sequences in one batch: max |diff| %.3g\n", what, nb, d);
        CHECK_MSG(d < TOL, "%s: batch of %zu: max |diff| %.3g", what, nb, d);
        if (xf_model_tokenizer(m)) check_texts(m, dir, what);
        CHECK_MSG(xf_model_save(m, "/tmp/xfmr_mbert_never.gguf", NULL) == XF_ERR_UNSUPPORTED &&
                      strstr(xf_errmsg(), "modernbert"),
                  "%s: saving must be refused: %s", what, xf_errmsg());
    }
    xf_model_free(m);
    free(buf);
}

/* Token pruning and token merging on ModernBERT (local layers then mask by the kept rows'
 * positions; merged rows keep their destination's position, and later layers add log(size) to
 * their scores): texts of 3..109 tokens with half the tokens gone by the last layer embed to
 * finite vectors, with fewer token-layers than dense, each text alone bitwise as in the batch;
 * keep 1 is bitwise the dense embedding. */
static void check_pruning(const char *dir) {
    xf_model *m = NULL;
    xf_status st = xf_model_load(dir, NULL, &m);
    CHECK_MSG(st == XF_OK, "%s: %s", dir, xf_errmsg());
    if (!m) return;
    const char *texts[] = {"a", "hello world", "Zebra? 42! Zebra? 42! Zebra? 42! Zebra? 42! Zebra? 42! Zebra? 42! a longer "
                           "text that crosses the local attention window of the tiny model."};
    const size_t H = xf_model_embedding_dim(m);
    float dense[3 * 64], pruned[3 * 64], same[3 * 64], alone[64];
    CHECK(H <= 64 && xf_embed(m, texts, 3, 0, dense, NULL) == XF_OK);
    for (int merge = 0; merge < 2; merge++) {
        xf_adaptive_params ap = xf_adaptive_default_params();
        ap.keep = 0.5f, ap.keep_min = 2, ap.merge = merge;
        CHECK_MSG(xf_model_set_adaptive(m, &ap) == XF_OK, "%s", xf_errmsg());
        CHECK_MSG(xf_embed(m, texts, 3, 0, pruned, NULL) == XF_OK, "%s", xf_errmsg());
        xf_adaptive_stats as = xf_adaptive_stats_init();
        CHECK(xf_model_adaptive_stats(m, &as, 1) == XF_OK && as.token_layers < as.token_layers_dense);
        int finite = 1;
        for (size_t k = 0; k < 3 * H; k++) finite &= isfinite(pruned[k]);
        CHECK_MSG(finite, "%s ModernBERT embeddings are not finite", merge ? "merged" : "pruned");
        for (size_t i = 0; i < 3; i++) {
            CHECK(xf_embed(m, texts + i, 1, 0, alone, NULL) == XF_OK);
            CHECK_MSG(memcmp(alone, pruned + i * H, H * sizeof *alone) == 0, "%s: text %zu alone differs from the batch",
                      merge ? "merging" : "pruning", i);
        }
        printf("token %s (keep 0.5): %llu of %llu token-layers, cosine to dense %.4f (longest text)\n",
               merge ? "merging" : "pruning", (unsigned long long)as.token_layers,
               (unsigned long long)as.token_layers_dense, (double)xf_cosine(dense + 2 * H, pruned + 2 * H, H));
        ap.keep = 1.0f;
        CHECK(xf_model_set_adaptive(m, &ap) == XF_OK && xf_embed(m, texts, 3, 0, same, NULL) == XF_OK);
        CHECK_MSG(memcmp(same, dense, 3 * H * sizeof *same) == 0, "keep 1 must be the dense embedding");
    }
    xf_model_free(m);
}

/* A copy of tiny/modernbert's folder with one config.json field replaced must fail to load with
 * status want and a message naming `needle`. */
static void check_bad_config(const char *field, const char *value, xf_status want, const char *needle) {
    char tmpl[] = "/tmp/xfmr_mbert_XXXXXX", src[4200], dst[4200];
    if (!mkdtemp(tmpl)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    snprintf(src, sizeof src, "%s/modernbert/config.json", xf_t_src("tests/data/tiny"));
    size_t len = 0;
    char *cfg = xf_t_slurp(src, &len), *at = cfg ? memmem(cfg, len, field, strlen(field)) : NULL;
    CHECK_MSG(at != NULL, "%s lacks %s", src, field);
    if (at) {
        char *end = at + strlen(field);
        while (end < cfg + len && *end != ',' && *end != '\n' && *end != '}') end++;
        snprintf(dst, sizeof dst, "%s/config.json", tmpl);
        FILE *f = fopen(dst, "w");
        if (f) {
            fprintf(f, "%.*s%s: %s%.*s", (int)(at - cfg), cfg, field, value, (int)(cfg + len - end), end);
            fclose(f);
        }
        snprintf(src, sizeof src, "%s/modernbert/model.safetensors", xf_t_src("tests/data/tiny"));
        snprintf(dst, sizeof dst, "%s/model.safetensors", tmpl);
        CHECK(symlink(src, dst) == 0);
        xf_model *m = NULL;
        const xf_status st = xf_model_load(tmpl, NULL, &m);
        CHECK_MSG(st == want && strstr(xf_errmsg(), needle), "%s = %s: status %d, message: %s", field, value, (int)st,
                  xf_errmsg());
        xf_model_free(m);
        unlink(dst);
        snprintf(dst, sizeof dst, "%s/config.json", tmpl);
        unlink(dst);
    }
    rmdir(tmpl);
    free(cfg);
}

int main(void) {
    static const char *const names[] = {"modernbert", "modernbert_bias"};
    for (size_t i = 0; i < 2; i++) {
        char dir[4096], gg[4200];
        snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), names[i]);
        check_model(names[i], dir, 0);
        snprintf(gg, sizeof gg, "%s/%s.gguf", xf_t_src("tests/data/tiny"), names[i]);
        struct stat sb;
        CHECK_MSG(stat(gg, &sb) == 0, "%s is missing (scripts/make_tiny_modernbert.py --gguf)", gg);
        check_model(names[i], gg, 1);
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/modernbert", xf_t_src("tests/data/tiny"));
    check_pruning(dir);
    check_bad_config("\"hidden_activation\"", "\"relu\"", XF_ERR_UNSUPPORTED, "hidden_activation \"relu\"");
    check_bad_config("\"num_hidden_layers\"", "6", XF_ERR_FORMAT, "\"layer_types\" must be a list of 6");
    check_bad_config("\"local_attention\"", "0", XF_ERR_RANGE, "\"local_attention\"");
    check_bad_config("\"num_attention_heads\"", "3", XF_ERR_FORMAT, "\"num_attention_heads\"");
    return xf_t_report();
}
