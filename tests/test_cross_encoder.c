/* test_cross_encoder.c — sequence-classification heads (xf_classify, xf_rerank, labels) on the tiny
 * random models of scripts/make_cross_encoder_goldens.py against transformers' and
 * sentence-transformers' scores (tests/data/tiny/cross_goldens.tsv); batched = unbatched; the
 * rerank order; bad input (no head, several outputs for rerank, no documents, no labels, labels
 * that do not match the head, a classifier architecture without classifier weights). */
#include <cjson/cJSON.h>
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
    float want[MAXN][3], ce[MAXN];
    size_t n;
} golden;

/* Rows of kind ("cls" / "rerank") from the golden file: index, text, pair, then the numbers. */
static int read_goldens(const char *kind, golden *g) {
    memset(g, 0, sizeof *g);
    size_t len, n;
    char *buf = xf_t_slurp(xf_t_src("tests/data/tiny/cross_goldens.tsv"), &len);
    if (!buf) return 0;
    xf_t_span *lines = xf_t_split_lines(buf, len, &n);
    for (size_t i = 0; i < n && g->n < MAXN; i++) {
        char *f[6] = {0};
        size_t k = 0;
        lines[i].p[lines[i].n] = '\0';
        for (char *p = lines[i].p; k < 6 && p; k++) {
            f[k] = p;
            if ((p = strchr(p, '\t'))) *p++ = '\0';
        }
        if (k < 5 || strcmp(f[0], kind) != 0) continue;
        g->a[g->n] = strdup(f[2]);
        g->b[g->n] = f[3][0] ? strdup(f[3]) : NULL;
        sscanf(f[4], "%f %f %f", &g->want[g->n][0], &g->want[g->n][1], &g->want[g->n][2]);
        if (k == 6) g->ce[g->n] = strtof(f[5], NULL);
        g->n++;
    }
    free(lines);
    free(buf);
    return g->n > 0;
}

static void golden_free(golden *g) {
    for (size_t i = 0; i < g->n; i++) free(g->a[i]), free(g->b[i]);
}

static xf_model *load(const char *dir) {
    xf_model *m = NULL;
    xf_status st = xf_model_load(dir, NULL, &m);
    CHECK_MSG(st == XF_OK, "load %s: %s", dir, xf_errmsg());
    return m;
}

static void test_classifier(void) {
    golden g;
    CHECK(read_goldens("cls", &g));
    xf_model *m = load(xf_t_src("tests/data/tiny/bert_cls"));
    if (!m) return golden_free(&g);
    CHECK(xf_model_n_labels(m) == 3);
    static const char *const names[] = {"negative", "neutral", "positive"};
    for (size_t i = 0; i < 3; i++) {
        const char *l = NULL;
        CHECK(xf_model_label(m, i, &l) == XF_OK && l && strcmp(l, names[i]) == 0);
    }
    const char *l = "x";
    CHECK(xf_model_label(m, 3, &l) == XF_ERR_RANGE && l == NULL);
    float one[MAXN * 3], all[MAXN * 3], three[MAXN * 3];
    xf_status st = xf_classify(m, (const char *const *)g.a, (const char *const *)g.b, g.n, 1, one);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    CHECK(xf_classify(m, (const char *const *)g.a, (const char *const *)g.b, g.n, 0, all) == XF_OK);
    CHECK(xf_classify(m, (const char *const *)g.a, (const char *const *)g.b, g.n, 3, three) == XF_OK);
    double err = 0, berr = 0;
    for (size_t i = 0; i < g.n; i++)
        for (size_t j = 0; j < 3; j++) {
            err = fmax(err, fabs(one[i * 3 + j] - g.want[i][j]));
            berr = fmax(berr, fmax(fabs(one[i * 3 + j] - all[i * 3 + j]), fabs(one[i * 3 + j] - three[i * 3 + j])));
        }
    printf("classifier: %zu inputs, max |logit - transformers| = %.3g, batched vs unbatched %.3g\n", g.n, err, berr);
    CHECK(err <= 1e-5);
    CHECK(berr <= 1e-6);
    /* Reranking needs one output. */
    const char *docs[] = {"a"};
    float s;
    CHECK(xf_rerank(m, "q", docs, 1, 0, 0, &s) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "3 outputs"));
    xf_model_free(m);
    golden_free(&g);
}

/* GGUF files of the same models written by llama.cpp's converter (make_cross_encoder_gguf.py): the
 * stock one without the pooler gives the classifier on [CLS] ("clsdirect"); the reranker with the
 * pooler kept as "cls" gives transformers' scores. Labels from bert.classifier.output_labels. */
static void test_gguf(void) {
    golden g;
    CHECK(read_goldens("clsdirect", &g));
    xf_model *m = load(xf_t_src("tests/data/tiny/bert_cls_llamacpp.gguf"));
    if (m) {
        float out[MAXN * 3];
        const char *l = NULL;
        CHECK(xf_model_n_labels(m) == 3);
        CHECK(xf_model_label(m, 2, &l) == XF_OK && l && strcmp(l, "positive") == 0);
        CHECK_MSG(xf_classify(m, (const char *const *)g.a, (const char *const *)g.b, g.n, 0, out) == XF_OK, "%s",
                  xf_errmsg());
        double err = 0;
        for (size_t i = 0; i < g.n; i++)
            for (size_t j = 0; j < 3; j++) err = fmax(err, fabs(out[i * 3 + j] - g.want[i][j]));
        printf("GGUF classifier (llama.cpp's converter, no pooler): max |logit - classifier([CLS])| = %.3g\n", err);
        CHECK(err <= 1e-5);
        xf_model_free(m);
    }
    golden_free(&g);
    CHECK(read_goldens("rerank", &g));
    if ((m = load(xf_t_src("tests/data/tiny/bert_rerank.gguf")))) {
        float raw[MAXN], act[MAXN];
        const char *l = NULL;
        CHECK(xf_model_n_labels(m) == 1);
        CHECK(xf_model_label(m, 0, &l) == XF_OK && l && strcmp(l, "LABEL_0") == 0);
        CHECK_MSG(xf_rerank(m, g.a[0], (const char *const *)g.b, g.n, 0, 1, raw) == XF_OK, "%s", xf_errmsg());
        CHECK(xf_rerank(m, g.a[0], (const char *const *)g.b, g.n, 0, 0, act) == XF_OK);
        double err = 0, cerr = 0;
        for (size_t i = 0; i < g.n; i++) err = fmax(err, fabs(raw[i] - g.want[i][0])), cerr = fmax(cerr, fabs(act[i] - g.ce[i]));
        printf("GGUF reranker (pooler as cls): max |logit - transformers| = %.3g, |score - CrossEncoder| = %.3g\n", err,
               cerr);
        CHECK(err <= 1e-5);
        CHECK(cerr <= 1e-5);
        xf_model_free(m);
    }
    golden_free(&g);
}

/* xf_model_save writes the head (cls / cls.output, labels, rank pooling): the reloaded GGUF gives
 * the same logits bitwise and the same labels. */
static void test_save(void) {
    static const char *const dirs[] = {"tests/data/tiny/bert_cls", "tests/data/tiny/bert_rerank"};
    const char *t[] = {"hello world", "is this a question"}, *p[] = {NULL, "yes it is an answer"};
    for (size_t d = 0; d < 2; d++) {
        xf_model *m = load(xf_t_src(dirs[d])), *g = NULL;
        if (!m) continue;
        char path[256];
        snprintf(path, sizeof path, "%s/xf_cross_%d_%zu.gguf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                 (int)getpid(), d);
        CHECK_MSG(xf_model_save(m, path, NULL) == XF_OK, "%s", xf_errmsg());
        if ((g = load(path))) {
            size_t L = xf_model_n_labels(m);
            float a[6], b[6];
            CHECK(xf_model_n_labels(g) == L);
            CHECK(xf_classify(m, t, p, 2, 0, a) == XF_OK && xf_classify(g, t, p, 2, 0, b) == XF_OK);
            CHECK_MSG(memcmp(a, b, 2 * L * sizeof *a) == 0, "%s: saved GGUF gives other logits", dirs[d]);
            const char *la = NULL, *lb = NULL;
            CHECK(xf_model_label(m, L - 1, &la) == XF_OK && xf_model_label(g, L - 1, &lb) == XF_OK && !strcmp(la, lb));
            xf_model_free(g);
        }
        unlink(path);
        xf_model_free(m);
    }
}

static size_t argmax_rest(const float *v, size_t n, const int *used) {
    size_t best = n;
    for (size_t i = 0; i < n; i++)
        if (!used[i] && (best == n || v[i] > v[best])) best = i;
    return best;
}

static void test_reranker(void) {
    golden g;
    CHECK(read_goldens("rerank", &g));
    xf_model *m = load(xf_t_src("tests/data/tiny/bert_rerank"));
    if (!m) return golden_free(&g);
    CHECK(xf_model_n_labels(m) == 1);
    float raw[MAXN], act[MAXN], one[MAXN];
    CHECK_MSG(xf_rerank(m, g.a[0], (const char *const *)g.b, g.n, 0, 1, raw) == XF_OK, "%s", xf_errmsg());
    CHECK(xf_rerank(m, g.a[0], (const char *const *)g.b, g.n, 1, 1, one) == XF_OK);
    CHECK(xf_rerank(m, g.a[0], (const char *const *)g.b, g.n, 3, 0, act) == XF_OK);
    double err = 0, cerr = 0, berr = 0;
    for (size_t i = 0; i < g.n; i++) {
        err = fmax(err, fabs(raw[i] - g.want[i][0]));
        cerr = fmax(cerr, fabs(act[i] - g.ce[i]));
        berr = fmax(berr, fabs(raw[i] - one[i]));
    }
    printf("reranker: %zu documents, max |logit - transformers| = %.3g, max |score - CrossEncoder.predict| = %.3g, "
           "batched vs unbatched %.3g\n", g.n, err, cerr, berr);
    CHECK(err <= 1e-5);
    CHECK(cerr <= 1e-5);
    CHECK(berr <= 1e-6);
    int used_a[MAXN] = {0}, used_b[MAXN] = {0}, same = 1;
    for (size_t r = 0; r < g.n; r++) {
        float ref[MAXN];
        for (size_t i = 0; i < g.n; i++) ref[i] = g.want[i][0];
        size_t x = argmax_rest(raw, g.n, used_a), y = argmax_rest(ref, g.n, used_b);
        used_a[x] = used_b[y] = 1;
        same &= x == y;
    }
    CHECK_MSG(same, "rerank order differs from transformers' scores");
    /* The same pairs tokenized by the caller (as `xfmr serve` does). */
    xf_encoding encs[MAXN];
    float enc_out[MAXN];
    size_t ne = 0;
    for (; ne < g.n; ne++)
        if (xf_tokenize(xf_model_tokenizer(m), g.a[0], strlen(g.a[0]), g.b[ne], strlen(g.b[ne]),
                        xf_model_max_length(m), &encs[ne]) != XF_OK)
            break;
    CHECK(ne == g.n);
    CHECK(xf_classify_encodings(m, encs, ne, 0, enc_out) == XF_OK);
    for (size_t i = 0; i < ne; i++) {
        CHECK(enc_out[i] == raw[i]);
        xf_encoding_free(&encs[i]);
    }
    /* Labels: transformers writes id2label {"0": "LABEL_0"} for one label. */
    const char *l = NULL;
    CHECK(xf_model_label(m, 0, &l) == XF_OK && l && strcmp(l, "LABEL_0") == 0);
    float s;
    CHECK(xf_rerank(m, "q", (const char *const *)g.b, 0, 0, 0, &s) == XF_ERR_INVALID_ARG &&
          strstr(xf_errmsg(), "no documents"));
    const char *nul[] = {"a", NULL};
    float s2[2];
    CHECK(xf_rerank(m, "q", nul, 2, 0, 0, s2) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "document 1"));
    CHECK(xf_rerank(m, NULL, nul, 1, 0, 0, s2) == XF_ERR_INVALID_ARG);
    xf_model_free(m);
    golden_free(&g);
}

/* A copy of a model folder in a temporary directory (weights and tokenizer linked), with
 * config.json edited by edit(); returns the directory (static buffer). */
static const char *variant(const char *src_rel, const char *weights_rel, void (*edit)(cJSON *)) {
    static char dir[256];
    snprintf(dir, sizeof dir, "%s/xf_cross_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return NULL;
    char from[1024], to[512];
    snprintf(from, sizeof from, "%s/%s/config.json", XF_SOURCE_DIR, src_rel);
    size_t len;
    char *txt = xf_t_slurp(from, &len);
    cJSON *root = txt ? cJSON_ParseWithLength(txt, len) : NULL;
    free(txt);
    if (!root) return NULL;
    edit(root);
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    snprintf(to, sizeof to, "%s/config.json", dir);
    FILE *f = fopen(to, "w");
    if (f) fputs(out, f), fclose(f);
    cJSON_free(out);
    snprintf(from, sizeof from, "%s/%s/model.safetensors", XF_SOURCE_DIR, weights_rel);
    snprintf(to, sizeof to, "%s/model.safetensors", dir);
    if (symlink(from, to)) return NULL;
    snprintf(from, sizeof from, "%s/%s/tokenizer.json", XF_SOURCE_DIR, src_rel);
    snprintf(to, sizeof to, "%s/tokenizer.json", dir);
    if (symlink(from, to)) return NULL;
    return dir;
}

static void rm_variant(const char *dir) {
    char p[512];
    static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json"};
    for (size_t i = 0; i < 3; i++) snprintf(p, sizeof p, "%s/%s", dir, files[i]), unlink(p);
    rmdir(dir);
}

static void drop_labels(cJSON *c) {
    cJSON_DeleteItemFromObject(c, "id2label");
    cJSON_DeleteItemFromObject(c, "label2id");
}
static void two_labels(cJSON *c) {
    cJSON_DeleteItemFromObject(c, "id2label");
    cJSON *o = cJSON_AddObjectToObject(c, "id2label");
    cJSON_AddStringToObject(o, "0", "no");
    cJSON_AddStringToObject(o, "1", "yes");
}
static void seqcls_arch(cJSON *c) {
    cJSON_DeleteItemFromObject(c, "architectures");
    cJSON *a = cJSON_AddArrayToObject(c, "architectures");
    cJSON_AddItemToArray(a, cJSON_CreateString("BertForSequenceClassification"));
}

static void test_bad_input(void) {
    /* An embedding model has no head. */
    xf_model *m = load(xf_t_src("tests/data/tiny/bert"));
    if (m) {
        const char *t[] = {"hello"};
        float x;
        CHECK(xf_model_n_labels(m) == 0);
        CHECK(xf_classify(m, t, NULL, 1, 0, &x) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "no sequence-classification head"));
        CHECK(xf_rerank(m, "q", t, 1, 0, 0, &x) == XF_ERR_UNSUPPORTED);
        const char *l;
        CHECK(xf_model_label(m, 0, &l) == XF_ERR_UNSUPPORTED);
        xf_model_free(m);
    }
    CHECK(xf_model_n_labels(NULL) == 0);
    CHECK(xf_classify(NULL, NULL, NULL, 0, 0, NULL) == XF_ERR_INVALID_ARG);
    /* A classifier whose config.json names no labels: scores work, labels are a clear error. */
    const char *dir = variant("tests/data/tiny/bert_cls", "tests/data/tiny/bert_cls", drop_labels);
    CHECK(dir != NULL);
    if (dir) {
        if ((m = load(dir))) {
            const char *t[] = {"hello world"}, *l = "x";
            float x[3];
            CHECK(xf_model_n_labels(m) == 3);
            CHECK(xf_classify(m, t, NULL, 1, 0, x) == XF_OK);
            CHECK(xf_model_label(m, 1, &l) == XF_ERR_NOT_FOUND && l == NULL && strstr(xf_errmsg(), "id2label"));
            xf_model_free(m);
        }
        rm_variant(dir);
    }
    /* id2label with a count other than the classifier's outputs. */
    if ((dir = variant("tests/data/tiny/bert_cls", "tests/data/tiny/bert_cls", two_labels))) {
        CHECK(xf_model_load(dir, NULL, &m) == XF_ERR_FORMAT && strstr(xf_errmsg(), "2 labels") &&
              strstr(xf_errmsg(), "3 outputs"));
        rm_variant(dir);
    }
    /* A ...ForSequenceClassification config over weights without a classifier. */
    if ((dir = variant("tests/data/tiny/bert", "tests/data/tiny/bert", seqcls_arch))) {
        CHECK(xf_model_load(dir, NULL, &m) == XF_ERR_FORMAT && strstr(xf_errmsg(), "classifier.weight"));
        rm_variant(dir);
    }
}

int main(void) {
    test_classifier();
    test_reranker();
    test_gguf();
    test_save();
    test_bad_input();
    return xf_t_report();
}
