/* test_tok_gguf.c — tokenizers from GGUF metadata (xf_tokenizer_load_gguf): SmolLM2-135M-Instruct
 * (model "gpt2", pre "smollm") must give the ids of tests/data/smollm2_tokenizer.json on the whole
 * golden corpus (skipped when the fetched model or $XFMR_SMOLLM2_GGUF is absent); the SentencePiece-style
 * tests/data/spm_tokenizer.gguf (model "llama", merges derived from scores) against
 * tests/data/spm_ids.txt; tiny GGUF files written here for gpt2 / llama vocabularies and for bad
 * metadata (unknown model or pre-tokenizer, merges naming unknown tokens, count mismatches,
 * out-of-range ids, wrong types, invalid UTF-8). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tokenizer/gguf_pre.h"
#include "xfmr.h"


#define MAXTOK 200000
static int32_t want[MAXTOK];

/* Every corpus line through tok must give the ids of ids_file; ref (optional) must decode the
 * ids to the same text. */
static void golden(const xf_tokenizer *tok, const xf_tokenizer *ref, const char *name, const char *ids_file) {
    size_t clen, glen, nc, ng, ok = 0, dok = 0, shown = 0;
    char *corpus = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &clen);
    char *gold = xf_t_slurp(xf_t_src(ids_file), &glen);
    CHECK(corpus && gold);
    if (!corpus || !gold) {
        free(corpus);
        free(gold);
        return;
    }
    xf_t_span *c = xf_t_split_lines(corpus, clen, &nc), *g = xf_t_split_lines(gold, glen, &ng);
    CHECK(nc == ng);
    for (size_t i = 0; i < nc && i < ng; i++) {
        size_t n = xf_t_parse_ints(g[i].p, g[i].n, want, MAXTOK);
        xf_encoding e;
        xf_status st = xf_tokenize(tok, c[i].p, c[i].n, NULL, 0, 0, &e);
        if (st == XF_OK && e.n == n && (n == 0 || !memcmp(e.ids, want, n * sizeof *want))) {
            ok++;
        } else if (shown++ < 5) {
            fprintf(stderr, "MISMATCH %s corpus line %zu: %s\n  want:", name, i + 1, st ? xf_errmsg() : "");
            for (size_t k = 0; k < n && k < 40; k++) fprintf(stderr, " %d", want[k]);
            fprintf(stderr, "\n  got: ");
            for (size_t k = 0; !st && k < e.n && k < 40; k++) fprintf(stderr, " %d", e.ids[k]);
            fprintf(stderr, "\n");
        }
        if (!st) xf_encoding_free(&e);
        char *a = NULL, *b = NULL;
        if (!xf_detokenize(tok, want, n, 1, &a, NULL) && (!ref || (!xf_detokenize(ref, want, n, 1, &b, NULL) && !strcmp(a, b))))
            dok++;
        free(a);
        free(b);
    }
    printf("%s: %zu/%zu lines identical, decode %zu/%zu\n", name, ok, nc, dok, nc);
    CHECK(ok == nc && nc > 0);
    CHECK(dok == nc);
    free(c);
    free(g);
    free(corpus);
    free(gold);
}

/* ------------------------------------------------------------ GGUF builder */

typedef struct kvs {
    xf_t_buf b;
    uint64_t n;
} kvs;

static void kv_str(kvs *k, const char *key, const char *v) {
    xf_t_str(&k->b, key);
    xf_t_u32(&k->b, 8);
    xf_t_str(&k->b, v);
    k->n++;
}
static void kv_u32(kvs *k, const char *key, uint32_t v) {
    xf_t_str(&k->b, key);
    xf_t_u32(&k->b, 4);
    xf_t_u32(&k->b, v);
    k->n++;
}
static void kv_bool(kvs *k, const char *key, int v) {
    xf_t_str(&k->b, key);
    xf_t_u32(&k->b, 7);
    xf_t_u8(&k->b, (uint8_t)v);
    k->n++;
}
static void kv_strs(kvs *k, const char *key, const char *const *v, size_t n) {
    xf_t_str(&k->b, key);
    xf_t_u32(&k->b, 9);
    xf_t_u32(&k->b, 8);
    xf_t_u64(&k->b, n);
    for (size_t i = 0; i < n; i++) xf_t_str(&k->b, v[i]);
    k->n++;
}
static void kv_i32s(kvs *k, const char *key, const int32_t *v, size_t n) {
    xf_t_str(&k->b, key);
    xf_t_u32(&k->b, 9);
    xf_t_u32(&k->b, 5);
    xf_t_u64(&k->b, n);
    for (size_t i = 0; i < n; i++) xf_t_u32(&k->b, (uint32_t)v[i]);
    k->n++;
}
static void kv_f32s(kvs *k, const char *key, const float *v, size_t n) {
    xf_t_str(&k->b, key);
    xf_t_u32(&k->b, 9);
    xf_t_u32(&k->b, 6);
    xf_t_u64(&k->b, n);
    for (size_t i = 0; i < n; i++) xf_t_f32(&k->b, v[i]);
    k->n++;
}

static char *g_created[64];
static size_t g_n_created;

/* Write the file; returns its path. Frees the kv buffer. */
static const char *finish(const char *name, kvs *k) {
    xf_t_buf f = {0};
    xf_t_gguf_header(&f, 3, 0, k->n);
    xf_t_put(&f, k->b.p, k->b.n);
    while (f.n % 32) xf_t_u8(&f, 0);
    const char *p = xf_t_tmpfile(name, f.p, f.n);
    if (p && g_n_created < 64) g_created[g_n_created++] = strdup(p);
    free(f.p);
    free(k->b.p);
    memset(k, 0, sizeof *k);
    return p;
}

/* gpt2 vocabulary: "Ġ" is U+0120 (byte-level space) */
static const char *const g_tokens[] = {"<|endoftext|>", "a", "b", "ab", "\xC4\xA0", "\xC4\xA0" "ab", "<tool>"};
static const int32_t g_types[] = {3, 1, 1, 1, 1, 1, 4};
static const char *const g_merges[] = {"a b", "\xC4\xA0 ab"};

/* flags: which parts to write or break */
enum { NO_MODEL = 1, BAD_MERGE = 2, SHORT_TYPES = 4, BAD_PRE = 8, BIG_BOS = 16, STR_TYPES = 32, BAD_UTF8 = 64,
       MODEL_RWKV = 128, EMPTY_VOCAB = 256, PRE_LLAMA3 = 512, PRE_QWEN2 = 1024, PRE_SMOLLM = 2048, NO_PRE = 4096 };

static const char *g_pre; /* when set: the tokenizer.ggml.pre written by gpt2_file */

static const char *gpt2_file(const char *name, int flags) {
    kvs k = {0};
    if (!(flags & NO_MODEL)) kv_str(&k, "tokenizer.ggml.model", flags & MODEL_RWKV ? "rwkv" : "gpt2");
    const char *pre = flags & BAD_PRE ? "mystery-pre" : flags & PRE_LLAMA3 ? "llama-bpe" : flags & PRE_QWEN2 ? "qwen2"
                      : flags & PRE_SMOLLM ? "smollm" : "default";
    if (!(flags & NO_PRE)) kv_str(&k, "tokenizer.ggml.pre", g_pre ? g_pre : pre);
    const char *toks[7];
    memcpy(toks, g_tokens, sizeof toks);
    if (flags & BAD_UTF8) toks[2] = "\xFF";
    kv_strs(&k, "tokenizer.ggml.tokens", toks, flags & EMPTY_VOCAB ? 0 : 7);
    if (flags & STR_TYPES) kv_strs(&k, "tokenizer.ggml.token_type", toks, 7);
    else kv_i32s(&k, "tokenizer.ggml.token_type", g_types, flags & SHORT_TYPES ? 6 : 7);
    const char *m[3] = {g_merges[0], g_merges[1], "a zz"};
    kv_strs(&k, "tokenizer.ggml.merges", m, flags & BAD_MERGE ? 3 : 2);
    kv_u32(&k, "tokenizer.ggml.bos_token_id", flags & BIG_BOS ? 7 : 0);
    kv_bool(&k, "tokenizer.ggml.add_bos_token", 1);
    return finish(name, &k);
}

static void expect_ids(const xf_tokenizer *tok, const char *text, const int32_t *ids, size_t n) {
    xf_encoding e;
    xf_status st = xf_tokenize(tok, text, strlen(text), NULL, 0, 0, &e);
    int good = st == XF_OK && e.n == n && !memcmp(e.ids, ids, n * sizeof *ids);
    CHECK_MSG(good, "\"%s\": %s", text, st ? xf_errmsg() : "ids differ");
    if (!st) {
        if (!good) {
            for (size_t i = 0; i < e.n; i++) fprintf(stderr, " %d", e.ids[i]);
            fprintf(stderr, "\n");
        }
        xf_encoding_free(&e);
    }
}
#define EXPECT(tok, text, ...)                                                      \
    do {                                                                            \
        const int32_t w_[] = {__VA_ARGS__};                                         \
        expect_ids(tok, text, w_, sizeof w_ / sizeof w_[0]);                       \
    } while (0)

static void expect_decode(const xf_tokenizer *tok, const int32_t *ids, size_t n, int skip, const char *text) {
    char *out = NULL;
    xf_status st = xf_detokenize(tok, ids, n, skip, &out, NULL);
    CHECK_MSG(st == XF_OK && !strcmp(out, text), "decode: want \"%s\" got \"%s\" %s", text, out ? out : "",
              st ? xf_errmsg() : "");
    free(out);
}

static void bad(const char *name, int flags, xf_status want_st, const char *needle) {
    const char *p = gpt2_file(name, flags);
    xf_tokenizer *tok = (xf_tokenizer *)1;
    xf_status st = xf_tokenizer_load_gguf(p, &tok);
    const char *m = xf_errmsg();
    CHECK_MSG(st == want_st && tok == NULL && strstr(m, p) && strstr(m, needle), "%s: got %s: %s", name,
              xf_status_str(st), m);
    if (!st) xf_tokenizer_free(tok);
}

/* Every tokenizer.ggml.pre name llama.cpp knows loads (each regex of gguf_pre.c compiles). */
static void every_pre_name(void) {
    size_t names = 0;
    for (size_t i = 0; xf_gguf_pre_at(i); i++) {
        const char *p = xf_gguf_pre_at(i)->names;
        while (*p) {
            char name[64];
            size_t n = strcspn(p, " ");
            snprintf(name, sizeof name, "%.*s", (int)n, p);
            g_pre = name;
            xf_tokenizer *tok = NULL;
            xf_status st = xf_tokenizer_load_gguf(gpt2_file("tg_pre_each.gguf", 0), &tok);
            CHECK_MSG(st == XF_OK && tok, "pre \"%s\": %s", name, xf_errmsg());
            xf_tokenizer_free(tok);
            names++;
            p += n;
            p += *p == ' ';
        }
    }
    g_pre = NULL;
    printf("%zu tokenizer.ggml.pre names load\n", names);
    CHECK(names >= 90);
}

static void small_gpt2(void) {
    xf_tokenizer *tok = NULL;
    const char *p = gpt2_file("tg_ok.gguf", 0);
    xf_status st = xf_tokenizer_load_gguf(p, &tok);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (!tok) return;
    EXPECT(tok, "ab ab", 0, 3, 5);
    EXPECT(tok, "ab<|endoftext|>b<tool>", 0, 3, 0, 2, 6);
    EXPECT(tok, "", 0);
    const int32_t ids[] = {0, 3, 5, 6, 0};
    expect_decode(tok, ids, 5, 1, "ab ab<tool>");
    expect_decode(tok, ids, 5, 0, "<|endoftext|>ab ab<tool><|endoftext|>");
    CHECK(xf_tokenizer_vocab_size(tok) == 7);
    CHECK(xf_tokenizer_token_to_id(tok, "<tool>") == 6);
    CHECK(!strcmp(xf_tokenizer_id_to_token(tok, 5), "\xC4\xA0" "ab"));
    xf_tokenizer_free(tok);

    /* the other pre-tokenizers compile and split "ab ab" the same way */
    const int pres[] = {PRE_LLAMA3, PRE_QWEN2, PRE_SMOLLM, NO_PRE};
    for (int i = 0; i < 4; i++) {
        xf_tokenizer *t2 = NULL;
        st = xf_tokenizer_load_gguf(gpt2_file("tg_pre_ok.gguf", pres[i]), &t2);
        CHECK_MSG(st == XF_OK, "pre %d: %s", i, xf_errmsg());
        if (t2) EXPECT(t2, "ab ab", 0, 3, 5);
        xf_tokenizer_free(t2);
    }

    bad("tg_nomodel.gguf", NO_MODEL, XF_ERR_NOT_FOUND, "tokenizer.ggml.model");
    bad("tg_rwkv.gguf", MODEL_RWKV, XF_ERR_UNSUPPORTED, "\"rwkv\"");
    bad("tg_merge.gguf", BAD_MERGE, XF_ERR_FORMAT, "tokenizer.ggml.merges[2]: token \"zz\"");
    bad("tg_types.gguf", SHORT_TYPES, XF_ERR_FORMAT, "tokenizer.ggml.token_type: 6 entries for 7 tokens");
    bad("tg_strtypes.gguf", STR_TYPES, XF_ERR_FORMAT, "tokenizer.ggml.token_type");
    bad("tg_pre.gguf", BAD_PRE, XF_ERR_UNSUPPORTED, "\"mystery-pre\"");
    bad("tg_bos.gguf", BIG_BOS, XF_ERR_RANGE, "tokenizer.ggml.bos_token_id");
    bad("tg_utf8.gguf", BAD_UTF8, XF_ERR_FORMAT, "tokenizer.ggml.tokens[2]");
    bad("tg_empty.gguf", EMPTY_VOCAB, XF_ERR_RANGE, "tokenizer.ggml.tokens");
    /* a vocabulary over the 10,000,000-token limit (10,000,001 empty strings: an 80 MB file) */
    {
        kvs k = {0};
        kv_str(&k, "tokenizer.ggml.model", "gpt2");
        xf_t_str(&k.b, "tokenizer.ggml.tokens");
        xf_t_u32(&k.b, 9);
        xf_t_u32(&k.b, 8);
        xf_t_u64(&k.b, 10000001);
        static const uint8_t zero[8 * 4096];
        for (uint64_t i = 0; i < 10000001; i += 4096) xf_t_put(&k.b, zero, 8 * (10000001 - i < 4096 ? 10000001 - i : 4096));
        k.n++;
        const char *big = finish("tg_big.gguf", &k);
        tok = (xf_tokenizer *)1;
        xf_status st2 = xf_tokenizer_load_gguf(big, &tok);
        CHECK_MSG(st2 == XF_ERR_RANGE && tok == NULL && strstr(xf_errmsg(), "tokenizer.ggml.tokens") &&
                      strstr(xf_errmsg(), "10000001"), "big vocab: %s: %s", xf_status_str(st2), xf_errmsg());
        if (big) unlink(big);
    }
    CHECK(xf_tokenizer_load_gguf(NULL, &tok) == XF_ERR_INVALID_ARG);
    CHECK(xf_tokenizer_load_gguf(p, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_tokenizer_load_gguf("/nonexistent/x.gguf", &tok) != XF_OK && tok == NULL);
}

/* a tiny SentencePiece ("llama") vocabulary */
static void small_llama(void) {
    static const char *const toks[] = {"<unk>", "<s>", "</s>", "<0xC3>", "<0xA9>", "\xE2\x96\x81", "a", "b",
                                       "\xE2\x96\x81" "a", "ab", "\xE2\x96\x81" "ab"};
    static const int32_t types[] = {2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1};
    static const float scores[] = {0, 0, 0, 0, 0, -1, -2, -3, -5, -4, -6};
    for (int variant = 0; variant < 3; variant++) {
        kvs k = {0};
        kv_str(&k, "tokenizer.ggml.model", "llama");
        kv_strs(&k, "tokenizer.ggml.tokens", toks, 11);
        kv_i32s(&k, "tokenizer.ggml.token_type", types, 11);
        if (variant != 2) kv_f32s(&k, "tokenizer.ggml.scores", scores, variant == 1 ? 10 : 11);
        kv_u32(&k, "tokenizer.ggml.bos_token_id", 1);
        kv_u32(&k, "tokenizer.ggml.eos_token_id", 2);
        kv_u32(&k, "tokenizer.ggml.unknown_token_id", 0);
        const char *p = finish("tl.gguf", &k);
        xf_tokenizer *tok = NULL;
        xf_status st = xf_tokenizer_load_gguf(p, &tok);
        if (variant == 1) {
            CHECK_MSG(st == XF_ERR_FORMAT && strstr(xf_errmsg(), "tokenizer.ggml.scores: 10 entries"), "%s", xf_errmsg());
            continue;
        }
        if (variant == 2) {
            CHECK_MSG(st == XF_ERR_NOT_FOUND && strstr(xf_errmsg(), "tokenizer.ggml.scores"), "%s", xf_errmsg());
            continue;
        }
        CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
        if (!tok) continue;
        /* "ab" (score -4) merges before "▁a" (-5): ▁ab ▁ab; é -> byte fallback; x -> <unk> */
        EXPECT(tok, "ab ab", 1, 10, 10);
        EXPECT(tok, "a\xC3\xA9", 1, 8, 3, 4);
        EXPECT(tok, "xx b", 1, 5, 0, 5, 7);
        EXPECT(tok, "", 1);
        const int32_t ids[] = {1, 10, 10, 3, 4, 2};
        expect_decode(tok, ids, 6, 1, "ab ab\xC3\xA9");
        expect_decode(tok, ids, 6, 0, "<s> ab ab\xC3\xA9</s>");
        xf_tokenizer_free(tok);
    }
}

/* Llama 3's ignore_merges: a pre-tokenized word that is a token is that token, the merges are not
 * run (HF: "abc ab abcab" is 0 3 5 0 3 5 without, 4 5 0 3 5 with it) — from a tokenizer.json
 * flag and for llama-bpe GGUFs. */
static void ignore_merges(void) {
    static const char *const js[2] = {
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"bc\":3,\"abc\":4,\"ab\":5},"
        "\"merges\":[\"b c\",\"a b\"],\"ignore_merges\":false},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"bc\":3,\"abc\":4,\"ab\":5},"
        "\"merges\":[\"b c\",\"a b\"],\"ignore_merges\":true},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"}}"};
    for (int im = 0; im < 2; im++) {
        xf_tokenizer *tok = NULL;
        xf_status st = xf_tokenizer_load(xf_t_tmpfile("tg_im.json", js[im], strlen(js[im])), &tok);
        CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
        if (!tok) continue;
        if (im) EXPECT(tok, "abc ab abcab", 4, 5, 0, 3, 5);
        else EXPECT(tok, "abc ab abcab", 0, 3, 5, 0, 3, 5);
        xf_tokenizer_free(tok);
    }
    static const char *const toks[] = {"a", "b", "c", "bc", "abc", "ab", "\xC4\xA0"};
    static const char *const merges[] = {"b c", "a b"};
    for (int im = 0; im < 2; im++) {
        kvs k = {0};
        kv_str(&k, "tokenizer.ggml.model", "gpt2");
        kv_str(&k, "tokenizer.ggml.pre", im ? "llama-bpe" : "gpt-2");
        kv_strs(&k, "tokenizer.ggml.tokens", toks, 7);
        kv_strs(&k, "tokenizer.ggml.merges", merges, 2);
        xf_tokenizer *tok = NULL;
        xf_status st = xf_tokenizer_load_gguf(finish("tg_im.gguf", &k), &tok);
        CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
        if (!tok) continue;
        if (im) EXPECT(tok, "abcab", 0, 3, 5); /* "abcab" is not a token: merges as usual */
        if (im) EXPECT(tok, "abc", 4);
        else EXPECT(tok, "abc", 0, 3);
        xf_tokenizer_free(tok);
    }
}

int main(void) {
    small_gpt2();
    every_pre_name();
    ignore_merges();
    small_llama();

    xf_tokenizer *json = NULL, *tok = NULL;
    const char *spm = xf_t_src("tests/data/spm_tokenizer.gguf");
    if (xf_tokenizer_load_gguf(spm, &tok) == XF_OK) {
        CHECK(xf_tokenizer_load(xf_t_src("tests/data/spm_tokenizer.json"), &json) == XF_OK);
        golden(tok, json, "spm gguf golden", "tests/data/spm_ids.txt");
    } else {
        CHECK_MSG(0, "%s", xf_errmsg());
    }
    xf_tokenizer_free(tok);
    xf_tokenizer_free(json);
    tok = json = NULL;

    /* $XFMR_SMOLLM2_GGUF, else the copy scripts/fetch_models.sh SmolLM2-135M-Instruct unpacks */
    const char *gg = xf_t_smollm2();
    if (gg) {
        xf_status st = xf_tokenizer_load_gguf(gg, &tok);
        CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
        CHECK(xf_tokenizer_load(xf_t_src("tests/data/smollm2_tokenizer.json"), &json) == XF_OK);
        if (tok && json) {
            CHECK(xf_tokenizer_vocab_size(tok) == xf_tokenizer_vocab_size(json));
            golden(tok, json, "smollm2 gguf golden", "tests/data/smollm2_ids.txt");
        }
        xf_tokenizer_free(tok);
        xf_tokenizer_free(json);
    }
    for (size_t i = 0; i < g_n_created; i++) {
        unlink(g_created[i]);
        free(g_created[i]);
    }
    return xf_t_report();
}
