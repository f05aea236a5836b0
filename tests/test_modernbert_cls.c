/* test_modernbert_cls.c — ModernBertForSequenceClassification heads (CLS and mean pooling, the
 * dense + activation + LayerNorm step, the classifier) on the tiny random models of
 * scripts/make_tiny_modernbert_cls.py against transformers' logits
 * (tests/data/tiny/modernbert_cls_goldens.tsv), from safetensors folders and from GGUF files written
 * by llama.cpp's converter; batched = unbatched; problem_type -> xf_model_score_fn; bad
 * classifier_activation / problem_type values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "xfmr.h"

#define MAXN 16

typedef struct {
    char *a[MAXN], *b[MAXN];
    float want[MAXN][3];
    size_t n;
} golden;

static int read_goldens(const char *model, golden *g) {
    memset(g, 0, sizeof *g);
    size_t len, n;
    char *buf = xf_t_slurp(xf_t_src("tests/data/tiny/modernbert_cls_goldens.tsv"), &len);
    if (!buf) return 0;
    xf_t_span *lines = xf_t_split_lines(buf, len, &n);
    for (size_t i = 0; i < n && g->n < MAXN; i++) {
        char *f[5] = {0};
        size_t k = 0;
        lines[i].p[lines[i].n] = '\0';
        for (char *p = lines[i].p; k < 5 && p; k++) {
            f[k] = p;
            if ((p = strchr(p, '\t'))) *p++ = '\0';
        }
        if (k < 5 || strcmp(f[0], model) != 0) continue;
        g->a[g->n] = strdup(f[2]);
        g->b[g->n] = f[3][0] ? strdup(f[3]) : NULL;
        sscanf(f[4], "%f %f %f", &g->want[g->n][0], &g->want[g->n][1], &g->want[g->n][2]);
        g->n++;
    }
    free(lines);
    free(buf);
    return g->n > 0;
}

/* Logits of every golden input alone, in batches of 3 and in one batch: all within 1e-5 of
 * transformers, the batchings bitwise equal to each other. */
static void check_model(const char *path, const char *golden_name, size_t n_labels, xf_score_fn fn, size_t max_n) {
    golden g;
    CHECK_MSG(read_goldens(golden_name, &g), "goldens of %s", golden_name);
    for (; g.n > max_n; g.n--) free(g.a[g.n - 1]), free(g.b[g.n - 1]);
    xf_model *m = NULL;
    xf_status st = xf_model_load(xf_t_src(path), NULL, &m);
    CHECK_MSG(st == XF_OK, "load %s: %s", path, xf_errmsg());
    if (st) return;
    CHECK_MSG(xf_model_n_labels(m) == n_labels, "%s: %zu labels", path, xf_model_n_labels(m));
    CHECK_MSG(xf_model_score_fn(m) == fn, "%s: score fn %d, want %d", path, (int)xf_model_score_fn(m), (int)fn);
    float one[MAXN * 3], b3[MAXN * 3], all[MAXN * 3];
    for (size_t i = 0; i < g.n; i++)
        CHECK(xf_classify(m, (const char *const *)&g.a[i], (const char *const *)&g.b[i], 1, 1, one + i * n_labels) == XF_OK);
    CHECK(xf_classify(m, (const char *const *)g.a, (const char *const *)g.b, g.n, 3, b3) == XF_OK);
    CHECK(xf_classify(m, (const char *const *)g.a, (const char *const *)g.b, g.n, 0, all) == XF_OK);
    double md = 0;
    for (size_t i = 0; i < g.n; i++)
        for (size_t j = 0; j < n_labels; j++) {
            double d = fabs((double)one[i * n_labels + j] - g.want[i][j]);
            md = d > md ? d : md;
        }
    CHECK_MSG(md < 1e-5, "%s: max |logit - transformers| %.3g", path, md);
    CHECK_MSG(memcmp(one, b3, g.n * n_labels * sizeof *one) == 0 && memcmp(one, all, g.n * n_labels * sizeof *one) == 0,
              "%s: batched logits differ from unbatched", path);
    printf("%-44s %zu inputs, max |logit - transformers| %.3g\n", path, g.n, md);
    xf_model_free(m);
    for (size_t i = 0; i < g.n; i++) free(g.a[i]), free(g.b[i]);
}

/* A copy of folder src whose config.json has `from` replaced by `to`; loading it must fail with
 * st and a message containing msg. */
static void check_bad_config(const char *src, const char *from, const char *to, xf_status want, const char *msg) {
    char dir[256], p[512], q[1024];
    snprintf(dir, sizeof dir, "%s/xf_mbcls_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return;
    size_t len;
    char *at = NULL;
    snprintf(q, sizeof q, "%s/config.json", xf_t_src(src));
    char *txt = xf_t_slurp(q, &len);
    CHECK_MSG(txt && (at = strstr(txt, from)), "%s has %s", q, from);
    if (at) {
        snprintf(p, sizeof p, "%s/config.json", dir);
        FILE *f = fopen(p, "w");
        if (f) fprintf(f, "%.*s%s%.*s", (int)(at - txt), txt, to, (int)(len - (size_t)(at - txt) - strlen(from)),
                       at + strlen(from)), fclose(f);
        static const char *const files[] = {"model.safetensors", "tokenizer.json"};
        for (size_t i = 0; i < 2; i++) {
            snprintf(q, sizeof q, "%s/%s", xf_t_src(src), files[i]);
            snprintf(p, sizeof p, "%s/%s", dir, files[i]);
            CHECK(symlink(q, p) == 0);
        }
        xf_model *m = NULL;
        xf_status st = xf_model_load(dir, NULL, &m);
        CHECK_MSG(st == want && strstr(xf_errmsg(), msg), "%s -> %s: status %d, %s", from, to, (int)st, xf_errmsg());
        xf_model_free(m);
    }
    free(txt);
    static const char *const all[] = {"config.json", "model.safetensors", "tokenizer.json"};
    for (size_t i = 0; i < 3; i++) snprintf(p, sizeof p, "%s/%s", dir, all[i]), unlink(p);
    rmdir(dir);
}

int main(void) {
    check_model("tests/data/tiny/modernbert_cls", "modernbert_cls", 3, XF_SCORE_SOFTMAX, MAXN);
    check_model("tests/data/tiny/modernbert_cls_mean", "modernbert_cls_mean", 2, XF_SCORE_SIGMOID, MAXN);
    check_model("tests/data/tiny/modernbert_reg", "modernbert_reg", 1, XF_SCORE_NONE, MAXN);
    /* GGUF from llama.cpp's converter: no problem_type there (the default: softmax for 2 labels).
     * The four single texts only: the file has no pair template (its tokenizer metadata encodes
     * a pair llama.cpp's way, [CLS] a [SEP] [CLS] b [SEP], not transformers'). */
    check_model("tests/data/tiny/modernbert_cls.gguf", "modernbert_cls", 3, XF_SCORE_SOFTMAX, 4);
    check_model("tests/data/tiny/modernbert_cls_mean.gguf", "modernbert_cls_mean", 2, XF_SCORE_SOFTMAX, 4);
    /* labels of the folder and of the GGUF */
    xf_model *m = NULL;
    const char *l = NULL;
    if (xf_model_load(xf_t_src("tests/data/tiny/modernbert_cls_mean.gguf"), NULL, &m) == XF_OK)
        CHECK(xf_model_label(m, 1, &l) == XF_OK && l && strcmp(l, "spam") == 0);
    xf_model_free(m);
    CHECK(xf_model_score_fn(NULL) == XF_SCORE_SOFTMAX);
    check_bad_config("tests/data/tiny/modernbert_reg", "\"classifier_activation\": \"silu\"",
                     "\"classifier_activation\": \"softplus\"", XF_ERR_UNSUPPORTED, "softplus");
    check_bad_config("tests/data/tiny/modernbert_reg", "\"problem_type\": \"regression\"",
                     "\"problem_type\": \"ranking\"", XF_ERR_FORMAT, "problem_type");
    check_bad_config("tests/data/tiny/modernbert_reg", "\"classifier_pooling\": \"cls\"",
                     "\"classifier_pooling\": \"max\"", XF_ERR_FORMAT, "classifier_pooling");
    return xf_t_report();
}
