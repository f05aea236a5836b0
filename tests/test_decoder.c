/* test_decoder.c — LLaMA-family decoders against transformers: for each tiny random model of
 * tests/data/tiny (made by scripts/make_tiny_models.py), xf_model_logits on the reference prompts
 * must match model(input_ids).logits within 1e-4 x max|ref logit|, with 1 and 2 threads
 * (bitwise identical between them). Plus the error paths of xf_model_logits.
 *
 * ref_logits.bin (little-endian): uint32 n_prompts; per prompt: uint32 len, int32 ids[len],
 * float32 logits[len * vocab_size]. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "xfmr.h"

static const char *const k_models[] = {"llama", "llama_rope_linear", "llama3_rope", "qwen2", "mistral", "gpt2",
                                       "qwen2_swa"};

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void check_model(const char *name) {
    char dir[4096], ref[4200];
    snprintf(dir, sizeof dir, "%s", xf_t_src("tests/data/tiny"));
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s", name);
    snprintf(ref, sizeof ref, "%s/ref_logits.bin", dir);
    size_t len = 0;
    unsigned char *buf = read_all(ref, &len);
    CHECK_MSG(buf != NULL, "cannot read %s", ref);
    if (!buf) return;
    xf_model *m1 = NULL, *m2 = NULL;
    xf_model_params p = xf_model_default_params();
    p.n_threads = 1;
    xf_status st = xf_model_load(dir, &p, &m1);
    CHECK_MSG(st == XF_OK, "%s: %s", name, xf_errmsg());
    p.n_threads = 2;
    st = xf_model_load(dir, &p, &m2);
    CHECK_MSG(st == XF_OK, "%s: %s", name, xf_errmsg());
    if (!m1 || !m2) {
        xf_model_free(m1);
        xf_model_free(m2);
        free(buf);
        return;
    }
    const size_t V = xf_model_vocab_size(m1);
    size_t pos = 0;
    uint32_t n_prompts;
    memcpy(&n_prompts, buf, 4);
    pos = 4;
    double worst = 0.0;
    for (uint32_t k = 0; k < n_prompts && pos + 4 <= len; k++) {
        uint32_t n;
        memcpy(&n, buf + pos, 4);
        pos += 4;
        CHECK_MSG(pos + n * 4 + (size_t)n * V * 4 <= len, "%s: ref_logits.bin truncated", name);
        if (pos + n * 4 + (size_t)n * V * 4 > len) break;
        int32_t *ids = malloc(n * sizeof *ids);
        float *want = malloc((size_t)n * V * sizeof *want), *got1 = malloc((size_t)n * V * 4),
              *got2 = malloc((size_t)n * V * 4);
        memcpy(ids, buf + pos, n * 4);
        pos += n * 4;
        memcpy(want, buf + pos, (size_t)n * V * 4);
        pos += (size_t)n * V * 4;
        CHECK_MSG(xf_model_logits(m1, ids, n, got1) == XF_OK, "%s len %u: %s", name, n, xf_errmsg());
        CHECK_MSG(xf_model_logits(m2, ids, n, got2) == XF_OK, "%s len %u: %s", name, n, xf_errmsg());
        double mx = 0.0, md = 0.0;
        for (size_t i = 0; i < (size_t)n * V; i++) {
            mx = fmax(mx, fabs(want[i]));
            double d = fabs((double)got1[i] - want[i]);
            md = d > md || d != d ? d : md;
        }
        double rel = md / mx;
        worst = rel > worst || rel != rel ? rel : worst;
        CHECK_MSG(rel <= 1e-4, "%s len %u: max |diff| %.3g = %.3g x max |ref| %.3g", name, n, md, rel, mx);
        CHECK_MSG(memcmp(got1, got2, (size_t)n * V * 4) == 0, "%s len %u: 1 and 2 threads differ", name, n);
        free(ids), free(want), free(got1), free(got2);
    }
    CHECK(pos == len);
    printf("%-18s worst relative error %.3g (max |diff| / max |ref logit|) over %u prompts\n", name, worst,
           n_prompts);

    /* error paths: out-of-range id, too long, empty, NULL; embedding a decoder */
    int32_t bad[3] = {1, (int32_t)V, 2};
    float *out = malloc(200 * V * sizeof *out);
    CHECK(xf_model_logits(m1, bad, 3, out) == XF_ERR_RANGE && strstr(xf_errmsg(), "320"));
    bad[1] = -1;
    CHECK(xf_model_logits(m1, bad, 3, out) == XF_ERR_RANGE);
    int32_t *lng = calloc(200, sizeof *lng);
    CHECK(xf_model_logits(m1, lng, 129, out) == XF_ERR_RANGE && strstr(xf_errmsg(), "129"));
    CHECK(xf_model_logits(m1, lng, 128, out) == XF_OK);
    CHECK(xf_model_logits(m1, lng, 0, out) == XF_ERR_INVALID_ARG);
    CHECK(xf_model_logits(NULL, lng, 1, out) == XF_ERR_INVALID_ARG);
    const char *texts[] = {"hello"};
    CHECK(xf_embed(m1, texts, 1, 0, out, NULL) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "decoder"));
    free(lng);
    free(out);
    xf_model_free(m1);
    xf_model_free(m2);
    free(buf);
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    unsigned char *b = read_all(from, &n);
    FILE *f = fopen(to, "wb");
    if (b && f) fwrite(b, 1, n, f);
    if (f) fclose(f);
    free(b);
}

/* A copy of the llama folder whose safetensors lacks lm_head.weight (renamed in the header to a
 * same-length name), so the untied model must fail naming that tensor. */
static void check_missing_lm_head(void) {
    char tmpl[] = "/tmp/xfmr_decXXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (!dir) return;
    const char *files[] = {"config.json", "tokenizer.json", "model.safetensors"};
    char from[4200], to[4200];
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s/%s", xf_t_src("tests/data/tiny/llama"), files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        copy_file(from, to);
    }
    size_t n;
    unsigned char *b = read_all(to, &n);
    CHECK(b != NULL && n > 8);
    if (b) {
        uint64_t hl;
        memcpy(&hl, b, 8);
        char *h = (char *)b + 8, *hit = NULL;
        for (size_t i = 0; i + 16 <= hl && !hit; i++)
            if (memcmp(h + i, "\"lm_head.weight\"", 16) == 0) hit = h + i;
        CHECK(hit != NULL);
        if (hit) memcpy(hit, "\"lm_xxxx.weight\"", 16);
        FILE *f = fopen(to, "wb");
        fwrite(b, 1, n, f);
        fclose(f);
        free(b);
    }
    xf_model *m = NULL;
    xf_status st = xf_model_load(dir, NULL, &m);
    CHECK_MSG(st == XF_ERR_NOT_FOUND && strstr(xf_errmsg(), "lm_head.weight"), "status %d: %s", st, xf_errmsg());
    CHECK(m == NULL);
    xf_model_free(m);
    for (int i = 0; i < 3; i++) {
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        unlink(to);
    }
    rmdir(dir);
}

/* An encoder has no LM head. */
static void check_bert(void) {
    const char *dir = xf_t_model_dir();
    if (!dir) return;
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(dir, NULL, &m) == XF_OK, "%s", xf_errmsg());
    if (!m) return;
    int32_t ids[2] = {101, 102};
    float out[2];
    CHECK(xf_model_logits(m, ids, 2, out) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "bert"));
    CHECK(xf_model_vocab_size(m) == 30522);
    xf_model_free(m);
}

int main(void) {
    for (size_t i = 0; i < sizeof k_models / sizeof k_models[0]; i++) check_model(k_models[i]);
    check_missing_lm_head();
    check_bert();
    CHECK(xf_model_vocab_size(NULL) == 0);
    return xf_t_report();
}
