/* test_perplexity.c — xf_perplexity on the tiny decoders (tests/data/tiny/{llama,qwen2}) against
 * transformers running the sliding-window loop of the Hugging Face perplexity guide
 * (tests/data/ppl_refs.json, from scripts/make_ppl_refs.py): ppl, nll_sum and n_scored within
 * 1e-4 relative; a hand-computed case from xf_model_logits; the invalid-parameter errors;
 * xf_model_chat_template / xf_model_eos_id on folders with and without the files. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "xfmr.h"

static xf_model *load(const char *name) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), name);
    xf_model *m = NULL;
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    CHECK_MSG(xf_model_load(dir, &p, &m) == XF_OK, "%s: %s", name, xf_errmsg());
    return m;
}

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

static void test_refs(void) {
    FILE *f = fopen(xf_t_src("tests/data/ppl_refs.json"), "rb");
    CHECK_MSG(f != NULL, "tests/data/ppl_refs.json missing");
    if (!f) return;
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    cJSON *root = cJSON_Parse(buf);
    CHECK(root != NULL);
    if (!root) return;
    const cJSON *jids = cJSON_GetObjectItem(root, "ids"), *refs = cJSON_GetObjectItem(root, "refs"), *it;
    size_t n = (size_t)cJSON_GetArraySize(jids), k = 0;
    CHECK(n == 120);
    int32_t ids[120];
    cJSON_ArrayForEach(it, jids) if (k < 120) ids[k++] = (int32_t)it->valueint;
    int n_cases = 0;
    cJSON_ArrayForEach(it, refs) {
        const char *name = cJSON_GetObjectItem(it, "model")->valuestring;
        size_t window = (size_t)cJSON_GetObjectItem(it, "window")->valueint;
        size_t stride = (size_t)cJSON_GetObjectItem(it, "stride")->valueint;
        double ref_ppl = cJSON_GetObjectItem(it, "ppl")->valuedouble;
        double ref_sum = cJSON_GetObjectItem(it, "nll_sum")->valuedouble;
        size_t ref_n = (size_t)cJSON_GetObjectItem(it, "n_scored")->valueint;
        xf_model *m = load(name);
        if (!m) continue;
        double ppl = 0, sum = 0;
        size_t scored = 0;
        xf_status st = xf_perplexity(m, ids, n, window, stride, &ppl, &sum, &scored);
        CHECK_MSG(st == XF_OK, "%s: %s", name, xf_errmsg());
        CHECK_MSG(rel(ppl, ref_ppl) < 1e-4, "%s w=%zu s=%zu: ppl %.9g vs transformers %.9g", name, window, stride,
                  ppl, ref_ppl);
        CHECK_MSG(rel(sum, ref_sum) < 1e-4, "%s w=%zu s=%zu: nll_sum %.9g vs %.9g", name, window, stride, sum,
                  ref_sum);
        CHECK_MSG(scored == ref_n, "%s w=%zu s=%zu: n_scored %zu vs %zu", name, window, stride, scored, ref_n);
        /* the NULL out-parameters are optional */
        double ppl2 = 0;
        CHECK(xf_perplexity(m, ids, n, window, stride, &ppl2, NULL, NULL) == XF_OK && ppl2 == ppl);
        xf_model_free(m);
        n_cases++;
    }
    CHECK(n_cases == 4);
    cJSON_Delete(root);
}

/* One window covering everything: exp(mean NLL of ids[1..n) given the prefix). */
static void test_single_window(void) {
    xf_model *m = load("llama");
    if (!m) return;
    const size_t n = 20, V = xf_model_vocab_size(m);
    int32_t ids[20];
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 91 + 5) % V);
    float *lg = malloc(n * V * sizeof *lg);
    CHECK(xf_model_logits(m, ids, n, lg) == XF_OK);
    double nll = 0;
    for (size_t t = 1; t < n; t++) {
        const float *r = lg + (t - 1) * V;
        double mx = -INFINITY, s = 0;
        for (size_t v = 0; v < V; v++) mx = fmax(mx, r[v]);
        for (size_t v = 0; v < V; v++) s += exp(r[v] - mx);
        nll += mx + log(s) - r[ids[t]];
    }
    double ppl = 0, sum = 0;
    size_t scored = 0;
    CHECK(xf_perplexity(m, ids, n, 64, 64, &ppl, &sum, &scored) == XF_OK);
    CHECK(scored == n - 1);
    CHECK_MSG(rel(ppl, exp(nll / (double)(n - 1))) < 1e-9, "single window %.12g vs %.12g", ppl,
              exp(nll / (double)(n - 1)));
    /* window == n and stride == 1 are accepted; n == 2 is the smallest input */
    CHECK(xf_perplexity(m, ids, n, n, 1, &ppl, NULL, NULL) == XF_OK && isfinite(ppl));
    CHECK(xf_perplexity(m, ids, 2, 2, 2, &ppl, NULL, &scored) == XF_OK && scored == 1);
    /* a one-token last window scores nothing (HF would give NaN): 21 tokens, window = stride 20 */
    int32_t ids21[21];
    memcpy(ids21, ids, sizeof ids);
    ids21[20] = 7;
    CHECK(xf_perplexity(m, ids21, 21, 20, 20, &ppl, &sum, &scored) == XF_OK && scored == 19 && isfinite(ppl));
    free(lg);
    xf_model_free(m);
}

static void test_errors(void) {
    xf_model *m = load("qwen2");
    if (!m) return;
    int32_t ids[200] = {0};
    double ppl;
    struct {
        size_t n, window, stride;
        xf_status want;
        const char *needle;
    } cases[] = {
        {10, 1, 1, XF_ERR_INVALID_ARG, "window 1"},
        {10, 0, 1, XF_ERR_INVALID_ARG, "window 0"},
        {10, 8, 0, XF_ERR_INVALID_ARG, "stride 0"},
        {10, 8, 9, XF_ERR_INVALID_ARG, "stride 9"},
        {1, 8, 4, XF_ERR_INVALID_ARG, "1 tokens"},
        {0, 8, 4, XF_ERR_INVALID_ARG, "0 tokens"},
        {200, 129, 64, XF_ERR_RANGE, "max_position_embeddings"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        xf_status st = xf_perplexity(m, ids, cases[k].n, cases[k].window, cases[k].stride, &ppl, NULL, NULL);
        CHECK_MSG(st == cases[k].want && strstr(xf_errmsg(), cases[k].needle), "case %zu: status %d, message '%s'",
                  k, (int)st, xf_errmsg());
    }
    /* a long input with a window inside the limit is fine; an id outside the vocabulary is not */
    CHECK(xf_perplexity(m, ids, 200, 128, 100, &ppl, NULL, NULL) == XF_OK);
    ids[5] = 100000;
    CHECK(xf_perplexity(m, ids, 10, 8, 4, &ppl, NULL, NULL) == XF_ERR_RANGE);
    CHECK(xf_perplexity(NULL, ids, 10, 8, 4, &ppl, NULL, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_perplexity(m, NULL, 10, 8, 4, &ppl, NULL, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_perplexity(m, ids, 10, 8, 4, NULL, NULL, NULL) == XF_ERR_INVALID_ARG);
    xf_model_free(m);
}

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[8192];
    size_t r;
    while (a && b && (r = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, r, b);
    if (a) fclose(a);
    if (b) fclose(b);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) fputs(text, f), fclose(f);
}

static void test_chat_meta(void) {
    xf_model *m = load("llama");
    if (m) {
        CHECK(xf_model_chat_template(m) == NULL);
        CHECK(xf_model_eos_id(m) == 3);
        xf_model_free(m);
    }
    CHECK(xf_model_chat_template(NULL) == NULL && xf_model_eos_id(NULL) == -1);
    /* a copy of the tiny llama with a tokenizer_config.json and a generation_config.json */
    char dir[] = "/tmp/xf_ppl_XXXXXX";
    if (!mkdtemp(dir)) return;
    char from[4300], to[4300];
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json"};
    for (int k = 0; k < 3; k++) {
        snprintf(from, sizeof from, "%s/%s", xf_t_src("tests/data/tiny/llama"), files[k]);
        snprintf(to, sizeof to, "%s/%s", dir, files[k]);
        copy_file(from, to);
    }
    snprintf(to, sizeof to, "%s/tokenizer_config.json", dir);
    write_text(to, "{\"chat_template\": \"{% for m in messages %}<|im_start|>{{ m.role }}\\n\"}");
    snprintf(from, sizeof from, "%s/generation_config.json", dir);
    write_text(from, "{\"eos_token_id\": [5, 3]}");
    xf_model_params p = xf_model_default_params();
    xf_model *c = NULL;
    CHECK_MSG(xf_model_load(dir, &p, &c) == XF_OK, "%s", xf_errmsg());
    if (c) {
        const char *t = xf_model_chat_template(c);
        CHECK(t && !strcmp(t, "{% for m in messages %}<|im_start|>{{ m.role }}\n"));
        CHECK(xf_model_eos_id(c) == 5);
        write_text(to, "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
                       " {\"name\": \"default\", \"template\": \"D\"}]}");
        t = xf_model_chat_template(c);
        CHECK(t && !strcmp(t, "D"));
        write_text(to, "{\"chat_template\": 42}");
        CHECK(xf_model_chat_template(c) == NULL);
        write_text(to, "{not json");
        CHECK(xf_model_chat_template(c) == NULL);
        xf_model_free(c);
    }
    const char *names[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                           "generation_config.json"};
    for (int k = 0; k < 5; k++) {
        snprintf(to, sizeof to, "%s/%s", dir, names[k]);
        unlink(to);
    }
    rmdir(dir);
}

int main(void) {
    test_refs();
    test_single_window();
    test_errors();
    test_chat_meta();
    return xf_t_report();
}
