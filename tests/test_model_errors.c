/* test_model_errors.c — model folders that are wrong in one way each: every load must fail with
 * a status and a message naming the file / tensor / field, never crash. A tiny valid BERT built
 * here (random weights, real tokenizer) must load and embed, so each failure is the one change. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "xfmr.h"

#define V 30522
#define HID 8
#define FF 16
#define POS 64

typedef struct {
    char name[96];
    size_t d0, d1; /* d1 = 0 for vectors */
} tdesc;

static tdesc g_t[64];
static size_t g_n;

static void add(const char *name, size_t d0, size_t d1) {
    snprintf(g_t[g_n].name, sizeof g_t[g_n].name, "%s", name);
    g_t[g_n].d0 = d0;
    g_t[g_n].d1 = d1;
    g_n++;
}

static void add_linear(const char *p, size_t out, size_t in) {
    char n[96];
    snprintf(n, sizeof n, "%s.weight", p);
    add(n, out, in);
    snprintf(n, sizeof n, "%s.bias", p);
    add(n, out, 0);
}

static void add_ln(const char *p, size_t n_) {
    char n[96];
    snprintf(n, sizeof n, "%s.weight", p);
    add(n, n_, 0);
    snprintf(n, sizeof n, "%s.bias", p);
    add(n, n_, 0);
}

static void tensors(void) {
    g_n = 0;
    add("embeddings.word_embeddings.weight", V, HID);
    add("embeddings.position_embeddings.weight", POS, HID);
    add("embeddings.token_type_embeddings.weight", 2, HID);
    add_ln("embeddings.LayerNorm", HID);
    add_linear("encoder.layer.0.attention.self.query", HID, HID);
    add_linear("encoder.layer.0.attention.self.key", HID, HID);
    add_linear("encoder.layer.0.attention.self.value", HID, HID);
    add_linear("encoder.layer.0.attention.output.dense", HID, HID);
    add_ln("encoder.layer.0.attention.output.LayerNorm", HID);
    add_linear("encoder.layer.0.intermediate.dense", FF, HID);
    add_linear("encoder.layer.0.output.dense", HID, FF);
    add_ln("encoder.layer.0.output.LayerNorm", HID);
}

/* Write dir/model.safetensors with g_t, skipping tensor `skip` and giving tensor `bad` one extra row. */
static void write_st(const char *dir, long skip, long bad) {
    char *hdr = malloc(1 << 16);
    size_t hl = 0, off = 0;
    hl += (size_t)sprintf(hdr + hl, "{");
    for (size_t i = 0; i < g_n; i++) {
        if ((long)i == skip) continue;
        size_t d0 = g_t[i].d0 + ((long)i == bad), cnt = d0 * (g_t[i].d1 ? g_t[i].d1 : 1);
        if (g_t[i].d1)
            hl += (size_t)sprintf(hdr + hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[%zu,%zu]}",
                                  hl > 1 ? "," : "", g_t[i].name, d0, g_t[i].d1, off, off + cnt * 4);
        else
            hl += (size_t)sprintf(hdr + hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}",
                                  hl > 1 ? "," : "", g_t[i].name, d0, off, off + cnt * 4);
        off += cnt * 4;
    }
    hl += (size_t)sprintf(hdr + hl, "}");
    while (hl % 8) hdr[hl++] = ' ';
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    uint64_t l = hl;
    fwrite(&l, 8, 1, f);
    fwrite(hdr, 1, hl, f);
    unsigned s = 12345;
    for (size_t i = 0; i < off / 4; i++) {
        s = s * 1103515245u + 12345u;
        float v = ((s >> 8) & 0xffff) / 65536.0f - 0.5f;
        fwrite(&v, 4, 1, f);
    }
    fclose(f);
    free(hdr);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static const char *k_config =
    "{\"model_type\": \"%s\", \"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
    " \"intermediate_size\": 16, \"vocab_size\": 30522, \"max_position_embeddings\": 64,"
    " \"type_vocab_size\": 2, \"hidden_act\": \"%s\", \"layer_norm_eps\": 1e-12}";

static void write_config(const char *dir, const char *type, const char *act) {
    char buf[1024];
    snprintf(buf, sizeof buf, k_config, type, act);
    write_text(dir, "config.json", buf);
}

/* Load must fail with `want` and a message containing both needles. */
static void expect_fail(const char *dir, xf_status want, const char *needle1, const char *needle2) {
    xf_model *m = NULL;
    xf_status st = xf_model_load(dir, NULL, &m);
    const char *msg = xf_errmsg();
    CHECK_MSG(st == want, "expected status %d (%s), got %d: %s", want, xf_status_str(want), st, msg);
    CHECK_MSG(m == NULL, "model handle set on failure");
    CHECK_MSG(strstr(msg, needle1) != NULL, "message \"%s\" lacks \"%s\"", msg, needle1);
    if (needle2) CHECK_MSG(strstr(msg, needle2) != NULL, "message \"%s\" lacks \"%s\"", msg, needle2);
    if (getenv("XF_T_VERBOSE")) printf("  %s -> %s: %s\n", needle1, xf_status_str(st), msg);
    xf_model_free(m);
}

int main(void) {
    const char *real = xf_t_model_dir();
    if (!real) return xf_t_report(); /* skipped */
    char tmpl[] = "/tmp/xfmr_model_errXXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    char tok[4096], link[4096];
    snprintf(tok, sizeof tok, "%s/tokenizer.json", real);
    snprintf(link, sizeof link, "%s/tokenizer.json", dir);
    CHECK(symlink(tok, link) == 0);
    tensors();

    /* The valid tiny model loads and embeds to unit vectors (plain HF folder: mean pooling). */
    write_config(dir, "bert", "gelu");
    write_st(dir, -1, -1);
    xf_model *m = NULL;
    xf_status st = xf_model_load(dir, NULL, &m);
    CHECK_MSG(st == XF_OK, "tiny model: %s", xf_errmsg());
    if (m) {
        const char *texts[] = {"hello world", "", "[MASK] \xff\xfe bytes"};
        float out[3 * HID];
        xf_embed_stats stats;
        CHECK_MSG(xf_embed(m, texts, 3, 0, out, &stats) == XF_OK, "%s", xf_errmsg());
        for (size_t i = 0; i < 3 * HID; i++) CHECK(out[i] == out[i]);
        CHECK(stats.n_texts == 3);
        /* xf_embed_n: explicit lengths keep a NUL byte, which the normalizer drops like any
         * control character, so "hello\0world" embeds exactly like "helloworld"; lens NULL
         * is strlen, so the same bytes through xf_embed stop at the NUL ("hello"). */
        {
            const char *t2[] = {"hello\0world", "helloworld"};
            const size_t l2[] = {11, 10};
            float nul[2 * HID], cut[HID];
            CHECK_MSG(xf_embed_n(m, t2, l2, 2, 1, nul, &stats) == XF_OK, "%s", xf_errmsg());
            CHECK(stats.n_texts == 2 && stats.n_tokens == 8);
            CHECK(memcmp(nul, nul + HID, sizeof cut) == 0);
            CHECK(xf_embed_n(m, t2, NULL, 1, 0, cut, NULL) == XF_OK);
            CHECK(memcmp(nul, cut, sizeof cut) != 0);
            CHECK(xf_embed_n(m, t2, l2, 0, 0, NULL, NULL) == XF_OK);
            CHECK(xf_embed_n(NULL, t2, l2, 1, 0, cut, NULL) == XF_ERR_INVALID_ARG);
        }
        /* Over-long input: truncated to max_position_embeddings, counted in stats. */
        char *lng = malloc(20000);
        for (int i = 0; i < 4000; i++) memcpy(lng + 5 * i, "word ", 5);
        lng[19999] = '\0';
        const char *one[] = {lng};
        CHECK(xf_embed(m, one, 1, 0, out, &stats) == XF_OK && stats.n_truncated == 1);
        free(lng);
        /* Hand-made encodings with out-of-range ids are refused, not read out of bounds. */
        int32_t ids[3] = {101, 999999, 102}, types[3] = {0, 0, 0};
        xf_encoding e = {ids, types, 3, 0};
        st = xf_embed_encodings(m, &e, 1, 1, out);
        CHECK(st == XF_ERR_RANGE && strstr(xf_errmsg(), "999999"));
        types[1] = 7;
        ids[1] = 5;
        CHECK(xf_embed_encodings(m, &e, 1, 1, out) == XF_ERR_RANGE);
        xf_model_free(m);
    }
    xf_model_params p = xf_model_default_params();
    p.max_length = 65;
    CHECK(xf_model_load(dir, &p, &m) == XF_ERR_RANGE && strstr(xf_errmsg(), "max_length 65"));
    p.max_length = 0;
    p.n_threads = -3;
    CHECK(xf_model_load(dir, &p, &m) == XF_ERR_INVALID_ARG);

    /* Missing tensor, wrong shape. */
    write_st(dir, 7, -1);
    expect_fail(dir, XF_ERR_NOT_FOUND, "encoder.layer.0.attention.self.key.weight", "model.safetensors");
    write_st(dir, -1, 9);
    expect_fail(dir, XF_ERR_FORMAT, "encoder.layer.0.attention.self.value.weight", "expected [8, 8]");
    write_st(dir, -1, -1);

    /* Unsupported architecture / activation. */
    write_config(dir, "gpt_neox", "gelu");
    expect_fail(dir, XF_ERR_UNSUPPORTED, "config.json", "gpt_neox");
    write_config(dir, "bert", "relu");
    expect_fail(dir, XF_ERR_UNSUPPORTED, "config.json", "relu");
    write_config(dir, "bert", "gelu");

    /* Malformed config.json, missing tokenizer.json (the model loads without a tokenizer; text
     * calls fail naming it), missing weights. */
    write_text(dir, "config.json", "{\"model_type\": \"bert\",\n \"hidden_size\": }");
    expect_fail(dir, XF_ERR_FORMAT, "config.json", "line 2");
    write_config(dir, "bert", "gelu");
    unlink(link);
    xf_model *nt = NULL;
    CHECK_MSG(xf_model_load(dir, NULL, &nt) == XF_OK, "without tokenizer.json: %s", xf_errmsg());
    if (nt) {
        xf_model_info info = xf_model_info_init();
        float v[8];
        const char *texts[] = {"a"};
        CHECK(xf_model_tokenizer(nt) == NULL && xf_model_get_info(nt, &info) == XF_OK && !info.has_tokenizer);
        CHECK(xf_embed(nt, texts, 1, 0, v, NULL) == XF_ERR_NOT_FOUND && strstr(xf_errmsg(), "no tokenizer"));
        xf_tokenizer *t = NULL;
        CHECK(xf_tokenizer_load_model(dir, &t) == XF_ERR_NOT_FOUND && strstr(xf_errmsg(), "tokenizer.json") && !t);
    }
    xf_model_free(nt);
    CHECK(symlink(tok, link) == 0);
    char stp[4096];
    snprintf(stp, sizeof stp, "%s/model.safetensors", dir);
    unlink(stp);
    expect_fail(dir, XF_ERR_NOT_FOUND, dir, "safetensors");

    /* Missing folder; a file instead of a folder; NULL / empty arguments. */
    expect_fail("/nonexistent/xfmr-model", XF_ERR_NOT_FOUND, "/nonexistent/xfmr-model", NULL);
    expect_fail(link, XF_ERR_INVALID_ARG, "tokenizer.json", "folder");
    CHECK(xf_model_load("", NULL, &m) == XF_ERR_INVALID_ARG);
    CHECK(xf_model_load(dir, NULL, NULL) == XF_ERR_INVALID_ARG);
    xf_model_free(NULL);

    unlink(link);
    snprintf(stp, sizeof stp, "%s/config.json", dir);
    unlink(stp);
    rmdir(dir);
    return xf_t_report();
}
