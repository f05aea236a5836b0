/* test_limits.c — resource limits on untrusted inputs (docs/SECURITY.md, "Limits"): declared
 * sizes, counts and lengths that a small hostile file can claim must be refused with an error
 * naming the file/field/value before anything is allocated for them, and API sizes (context,
 * batch, max_length, vocabulary) are checked before allocation. One check per class:
 *   - whole-file reads (config.json, tokenizer.json) above XF_READ_FILE_MAX (a sparse file);
 *   - safetensors header length above the file / above 100 MB (sparse), absurd tensor shapes;
 *   - GGUF tensor / metadata counts above the caps or above what the file could hold, string
 *     and array lengths above the remaining bytes, strings above XF_GGUF_MAX_STRING (sparse);
 *   - config.json dimensions above their caps (vocab, hidden, layers, heads, positions, ...);
 *   - tokenizer.json ids above 2^31 - 1, negative ids, nesting deeper than 16;
 *   - contexts (session n_ctx), batch sizes, max_length and sampler vocabularies;
 *   - hostile regexes (invalid, catastrophic backtracking) and hostile text (invalid UTF-8 of
 *     every kind, NUL bytes, special-token look-alikes, a 1 MB word). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "io/safetensors.h"
#include "harness.h"
#include "xfmr.h"

/* The status must be `want` and the message must contain `needle`. */
static void expect(xf_status st, xf_status want, const char *needle, const char *what) {
    const char *msg = xf_errmsg();
    CHECK_MSG(st == want, "%s: status %s, want %s (%s)", what, xf_status_str(st), xf_status_str(want), msg);
    CHECK_MSG(msg && strstr(msg, needle), "%s: message \"%s\" lacks \"%s\"", what, msg ? msg : "", needle);
}

/* A sparse file of `size` bytes starting with `head`. */
static const char *sparse(const char *name, const void *head, size_t n, uint64_t size) {
    const char *p = xf_t_tmpfile(name, head, n);
    if (!p || truncate(p, (off_t)size) != 0) return NULL;
    return p;
}

static void test_file_sizes(void) {
    char *buf = NULL;
    const char *p = sparse("big.json", "{", 1, (uint64_t)XF_READ_FILE_MAX + 1);
    CHECK(p != NULL);
    expect(xf_read_file(p, XF_READ_FILE_MAX, &buf, NULL), XF_ERR_RANGE, "big.json", "xf_read_file above the cap");
    xf_tokenizer *tok = NULL;
    expect(xf_tokenizer_load(p, &tok), XF_ERR_RANGE, "big.json", "tokenizer.json above the cap");
    CHECK(tok == NULL);
    unlink(p);
}

static void test_safetensors(void) {
    /* Header length beyond the file. */
    uint8_t h[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    xf_safetensors *st = NULL;
    const char *p = xf_t_tmpfile("huge_hdr.safetensors", h, 10);
    expect(xf_st_open(p, &st), XF_ERR_FORMAT, "huge_hdr.safetensors", "header length 2^63");
    unlink(p);
    /* Header length above 100,000,000 bytes but inside a (sparse) file. */
    uint64_t n = 100000001ULL;
    memcpy(h, &n, 8);
    p = sparse("big_hdr.safetensors", h, 10, 8 + n + 16);
    expect(xf_st_open(p, &st), XF_ERR_RANGE, "100000001", "header length 100,000,001");
    unlink(p);
    /* Shapes whose element count overflows, or claims far more than the data. */
    static const char *const hdrs[] = {
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1000000000,1000],\"data_offsets\":[0,4]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        uint8_t buf[512];
        uint64_t hl = strlen(hdrs[i]);
        memcpy(buf, &hl, 8);
        memcpy(buf + 8, hdrs[i], hl);
        memset(buf + 8 + hl, 0, 4);
        p = xf_t_tmpfile("shape.safetensors", buf, 8 + hl + 4);
        xf_status s = xf_st_open(p, &st);
        CHECK_MSG(s != XF_OK && strstr(xf_errmsg(), "shape.safetensors"), "shape case %zu: %s (%s)", i,
                  xf_status_str(s), xf_errmsg());
        if (s == XF_OK) xf_st_close(st);
        unlink(p);
    }
}

/* A tiny llama folder (copied from tests/data/tiny/llama) with config.json edited. */
static char g_dir[4096];
static void make_model_dir(const char *field, const char *value) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/xfmr_test_%d_limits", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    char cmd[5 * 4096 + 128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp '%s'/model.safetensors '%s'/tokenizer.json '%s'/", g_dir,
             g_dir, xf_t_src("tests/data/tiny/llama"), xf_t_src("tests/data/tiny/llama"), g_dir);
    if (system(cmd) != 0) return;
    size_t len;
    char *cfg = xf_t_slurp(xf_t_src("tests/data/tiny/llama/config.json"), &len);
    char *out = malloc(len + 256);
    if (!cfg || !out) abort();
    cfg[len - 1] = cfg[len - 1] == '\n' ? '\0' : cfg[len - 1];
    cfg[len] = '\0';
    char *end = strrchr(cfg, '}');
    if (!end) abort();
    *end = '\0';
    /* cJSON finds the first of duplicate keys: the override goes first. */
    snprintf(out, len + 256, "{\"%s\": %s, %s}", field, value, strchr(cfg, '{') + 1);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", g_dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(out, f);
        fclose(f);
    }
    free(cfg);
    free(out);
}

static void test_config_caps(void) {
    static const struct {
        const char *field, *value;
    } k[] = {
        {"vocab_size", "10000001"},          {"hidden_size", "65537"},         {"num_hidden_layers", "1025"},
        {"num_attention_heads", "65537"},    {"intermediate_size", "1048577"}, {"max_position_embeddings", "1048577"},
        {"num_key_value_heads", "65537"},    {"head_dim", "65537"},            {"vocab_size", "1e300"},
        {"hidden_size", "-64"},              {"num_hidden_layers", "2.5"},     {"max_position_embeddings", "\"64\""},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        make_model_dir(k[i].field, k[i].value);
        xf_model *m = NULL;
        xf_status st = xf_model_load(g_dir, NULL, &m);
        char what[128];
        snprintf(what, sizeof what, "config %s = %s", k[i].field, k[i].value);
        CHECK_MSG(st == XF_ERR_RANGE || st == XF_ERR_FORMAT, "%s: status %s", what, xf_status_str(st));
        CHECK_MSG(strstr(xf_errmsg(), k[i].field) != NULL, "%s: message \"%s\" lacks the field", what, xf_errmsg());
        CHECK(m == NULL);
        xf_model_free(m);
    }
}

static void test_api_sizes(void) {
    xf_model *m = NULL;
    xf_model_params mp = xf_model_default_params();
    mp.n_threads = 1;
    xf_status st = xf_model_load(xf_t_src("tests/data/tiny/llama"), &mp, &m);
    CHECK_MSG(st == XF_OK, "tiny llama: %s", xf_errmsg());
    if (st != XF_OK) return;
    xf_session *s = NULL;
    expect(xf_session_create(m, (size_t)1 << 40, &s), XF_ERR_RANGE, "max_position_embeddings", "session n_ctx 2^40");
    expect(xf_session_create(m, SIZE_MAX, &s), XF_ERR_RANGE, "max_position_embeddings", "session n_ctx SIZE_MAX");
    CHECK(s == NULL);
    /* Logits over more positions than the model has. */
    size_t P = 0;
    xf_model_info info = xf_model_info_init();
    if (xf_model_get_info(m, &info) == XF_OK) P = info.max_position;
    int32_t *ids = calloc(P + 1, sizeof *ids);
    float *logits = malloc((P + 1) * xf_model_vocab_size(m) * sizeof *logits);
    if (ids && logits)
        expect(xf_model_logits(m, ids, P + 1, logits), XF_ERR_RANGE, "positions", "logits over P + 1 tokens");
    free(ids);
    free(logits);
    /* Ids outside the vocabulary. */
    int32_t bad[2] = {1, (int32_t)xf_model_vocab_size(m)};
    float one[1024];
    if (xf_model_vocab_size(m) <= 512) expect(xf_model_logits(m, bad, 2, one), XF_ERR_RANGE, "vocabulary", "id == vocab_size");
    bad[1] = -1;
    if (xf_model_vocab_size(m) <= 512) expect(xf_model_logits(m, bad, 2, one), XF_ERR_RANGE, "vocabulary", "id -1");
    /* Sampler vocabularies. */
    xf_sampler *smp = NULL;
    expect(xf_sampler_create(NULL, 0, &smp), XF_ERR_INVALID_ARG, "vocab_size", "sampler vocab 0");
    expect(xf_sampler_create(NULL, (size_t)1 << 40, &smp), XF_ERR_INVALID_ARG, "vocab_size", "sampler vocab 2^40");
    CHECK(smp == NULL);
    xf_model_free(m);

    /* max_length above the model's positions; huge batch sizes allocate for the texts only. */
    mp.max_length = (size_t)1 << 40;
    m = NULL;
    expect(xf_model_load(xf_t_src("tests/data/tiny/bert"), &mp, &m), XF_ERR_RANGE, "max_position_embeddings",
           "max_length 2^40");
    xf_model_free(m);
    mp.max_length = 0;
    m = NULL;
    if ((st = xf_model_load(xf_t_src("tests/data/tiny/bert"), &mp, &m)) == XF_OK) {
        const char *texts[] = {"a", "b"};
        float out[2 * 64];
        CHECK(xf_model_embedding_dim(m) <= 64);
        st = xf_embed(m, texts, 2, SIZE_MAX, out, NULL);
        CHECK_MSG(st == XF_OK, "batch_size SIZE_MAX: %s", xf_errmsg());
        xf_model_free(m);
    } else {
        CHECK_MSG(0, "tiny bert: %s", xf_errmsg());
    }
}

/* tokenizer.json: ids and nesting. */
static void test_tokenizer_json(void) {
    static const char head[] =
        "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":null,\"pre_tokenizer\":null,"
        "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\","
        "\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"a\":";
    const char *ids[] = {"2147483648", "-1", "1e20", "0.5"};
    for (size_t i = 0; i < 4; i++) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s%s}}}", head, ids[i]);
        const char *p = xf_t_tmpfile("tok_ids.json", buf, strlen(buf));
        xf_tokenizer *tok = NULL;
        xf_status st = xf_tokenizer_load(p, &tok);
        CHECK_MSG(st == XF_ERR_RANGE || st == XF_ERR_FORMAT, "vocab id %s: status %s", ids[i], xf_status_str(st));
        CHECK_MSG(strstr(xf_errmsg(), "tok_ids.json") != NULL, "vocab id %s: message \"%s\"", ids[i], xf_errmsg());
        xf_tokenizer_free(tok);
        unlink(p);
    }
    /* The largest valid id is accepted without allocating per id. */
    {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s2147483647}}}", head);
        const char *p = xf_t_tmpfile("tok_maxid.json", buf, strlen(buf));
        xf_tokenizer *tok = NULL;
        xf_status st = xf_tokenizer_load(p, &tok);
        CHECK_MSG(st == XF_OK, "vocab id 2^31-1: %s", xf_errmsg());
        if (st == XF_OK) {
            CHECK(xf_tokenizer_id_to_token(tok, 2147483647) != NULL);
            CHECK(xf_tokenizer_id_to_token(tok, 5) == NULL);
            int32_t id = 1000;
            char *out = NULL;
            CHECK(xf_detokenize(tok, &id, 1, 0, &out, NULL) == XF_ERR_RANGE);
            free(out);
        }
        xf_tokenizer_free(tok);
        unlink(p);
    }
    /* Normalizer sequences nested 40 deep. */
    {
        char buf[4096] = "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
                       "\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0}},\"normalizer\":";
        for (int d = 0; d < 40; d++) strcat(buf, "{\"type\":\"Sequence\",\"normalizers\":[");
        strcat(buf, "{\"type\":\"Lowercase\"}");
        for (int d = 0; d < 40; d++) strcat(buf, "]}");
        strcat(buf, "}");
        const char *p = xf_t_tmpfile("tok_deep.json", buf, strlen(buf));
        xf_tokenizer *tok = NULL;
        expect(xf_tokenizer_load(p, &tok), XF_ERR_RANGE, "nested too deeply", "normalizers nested 40 deep");
        xf_tokenizer_free(tok);
        unlink(p);
    }
}

/* A catastrophic-backtracking Split regex: PCRE2's match limit ends it with an error. */
static void test_regex(void) {
    static const char js[] =
        "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
        "\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"a\":1}},\"pre_tokenizer\":{\"type\":\"Split\","
        "\"pattern\":{\"Regex\":\"(a|aa)+$\"},\"behavior\":\"Isolated\",\"invert\":false}}";
    const char *p = xf_t_tmpfile("tok_redos.json", js, strlen(js));
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load(p, &tok);
    CHECK_MSG(st == XF_OK, "redos tokenizer: %s", xf_errmsg());
    if (st == XF_OK) {
        char text[4096];
        memset(text, 'a', sizeof text - 2);
        text[sizeof text - 2] = 'b';
        text[sizeof text - 1] = '\0';
        xf_encoding enc;
        st = xf_tokenize(tok, text, strlen(text), NULL, 0, 0, &enc);
        if (st == XF_OK) xf_encoding_free(&enc);
        else CHECK_MSG(strstr(xf_errmsg(), "regex") != NULL, "redos: message \"%s\"", xf_errmsg());
        CHECK(1); /* reaching here (in bounded time: ctest's timeout) is the check */
    }
    xf_tokenizer_free(tok);
    unlink(p);
}

/* An invalid regex is refused naming the pattern. */
static void test_bad_regex(void) {
    static const char js[] =
        "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
        "\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0}},\"pre_tokenizer\":{\"type\":\"Split\","
        "\"pattern\":{\"Regex\":\"(unclosed[\"},\"behavior\":\"Isolated\",\"invert\":false}}";
    const char *p = xf_t_tmpfile("tok_badre.json", js, strlen(js));
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load(p, &tok);
    CHECK_MSG(st != XF_OK && strstr(xf_errmsg(), "(unclosed[") && strstr(xf_errmsg(), "tok_badre.json"),
              "invalid regex: %s (%s)", xf_status_str(st), xf_errmsg());
    xf_tokenizer_free(tok);
    unlink(p);
}

/* Hostile text: invalid UTF-8 of every kind, NUL bytes, special-token look-alikes, a 1 MB word,
 * through a WordPiece, a SentencePiece and a byte-level BPE tokenizer: encoded without error and
 * decoded back to valid UTF-8. */
static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!k || i + k > n || (k == 2 && c < 0xC2)) return 0;
        uint32_t cp = k == 1 ? c : k == 2 ? c & 0x1F : k == 3 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k;
    }
    return 1;
}

#define T(lit) {lit, sizeof lit - 1}
static void test_hostile_text(void) {
    static const struct {
        const char *s;
        size_t n;
    } texts[] = {
        T("overlong \xc0\x80 \xe0\x80\x80 \xf0\x80\x80\x80"),
        T("surrogates \xed\xa0\x80\xed\xbf\xbf"),
        T("truncated \xf0\x9f\x98"),
        T("\xff\xfe\xfd bytes"),
        T("nul\0in\0the middle"),
        T("[CLS] [SEP] <s> </s> <|im_start|> <unk> [UNK]"),
        T(""),
        T("above U+10FFFF \xf4\x90\x80\x80"),
    };
    const char *toks[] = {"tests/data/tiny/llama/tokenizer.json", "tests/data/spm_tokenizer.json",
                          "tests/data/smollm2_tokenizer.json"};
    size_t big_n = 1 << 20;
    char *big = malloc(big_n);
    if (!big) abort();
    memset(big, 'x', big_n);
    for (size_t t = 0; t < 3; t++) {
        xf_tokenizer *tok = NULL;
        if (xf_tokenizer_load(xf_t_src(toks[t]), &tok) != XF_OK) {
            CHECK_MSG(0, "%s: %s", toks[t], xf_errmsg());
            continue;
        }
        for (size_t i = 0; i <= sizeof texts / sizeof texts[0]; i++) {
            const char *s = i < sizeof texts / sizeof texts[0] ? texts[i].s : big;
            size_t n = i < sizeof texts / sizeof texts[0] ? texts[i].n : big_n;
            xf_encoding enc;
            xf_status st = xf_tokenize(tok, s, n, NULL, 0, 0, &enc);
            CHECK_MSG(st == XF_OK, "%s, text %zu: %s", toks[t], i, xf_errmsg());
            if (st != XF_OK) continue;
            char *out = NULL;
            size_t len = 0;
            st = xf_detokenize(tok, enc.ids, enc.n, 0, &out, &len);
            CHECK_MSG(st == XF_OK && valid_utf8((const unsigned char *)out, len), "%s, text %zu: decode %s", toks[t], i,
                      xf_status_str(st));
            free(out);
            xf_encoding_free(&enc);
        }
        xf_tokenizer_free(tok);
    }
    free(big);
}

/* GGUF counts and lengths (the reader itself is tested in depth in test_gguf). */
static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void test_gguf(void) {
    uint8_t b[64] = {'G', 'G', 'U', 'F'};
    put_u32(b + 4, 3);
    struct {
        uint64_t nt, nkv;
        xf_status want;
        const char *needle;
    } k[] = {
        {2000000, 0, XF_ERR_RANGE, "tensor count"},
        {0, 2000000, XF_ERR_RANGE, "metadata count"},
        {999999, 0, XF_ERR_FORMAT, "cannot fit"},
        {0, 999999, XF_ERR_FORMAT, "cannot fit"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        put_u64(b + 8, k[i].nt);
        put_u64(b + 16, k[i].nkv);
        const char *p = xf_t_tmpfile("counts.gguf", b, 64);
        xf_tokenizer *tok = NULL;
        expect(xf_tokenizer_load_gguf(p, &tok), k[i].want, k[i].needle, "gguf counts");
        unlink(p);
    }
    /* One key whose string value claims 2^63 bytes, then 64 MiB + 1 inside a sparse file. */
    uint8_t kv[64];
    memcpy(kv, b, 8);
    put_u64(kv + 8, 0);
    put_u64(kv + 16, 1);
    put_u64(kv + 24, 1);
    kv[32] = 'k';
    put_u32(kv + 33, 8); /* string */
    put_u64(kv + 37, (uint64_t)1 << 63);
    const char *p = xf_t_tmpfile("longstr.gguf", kv, 64);
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load_gguf(p, &tok);
    CHECK_MSG(st == XF_ERR_FORMAT || st == XF_ERR_RANGE, "string 2^63: %s", xf_status_str(st));
    put_u64(kv + 37, ((uint64_t)64 << 20) + 1);
    p = sparse("longstr2.gguf", kv, 64, ((uint64_t)65 << 20));
    st = xf_tokenizer_load_gguf(p, &tok);
    CHECK_MSG(st == XF_ERR_RANGE, "string 64 MiB + 1: %s (%s)", xf_status_str(st), xf_errmsg());
    unlink(p);
    /* An array claiming 2^40 u32 elements. */
    put_u32(kv + 33, 9);
    put_u32(kv + 37, 4);
    put_u64(kv + 41, (uint64_t)1 << 40);
    p = xf_t_tmpfile("longarr.gguf", kv, 64);
    st = xf_tokenizer_load_gguf(p, &tok);
    CHECK_MSG(st == XF_ERR_FORMAT || st == XF_ERR_RANGE, "array 2^40: %s", xf_status_str(st));
    unlink(p);
}

int main(void) {
    test_file_sizes();
    test_safetensors();
    test_config_caps();
    test_api_sizes();
    test_tokenizer_json();
    test_gguf();
    test_regex();
    test_bad_regex();
    test_hostile_text();
    if (g_dir[0]) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return xf_t_report();
}
