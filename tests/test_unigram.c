/* test_unigram.c — the Unigram model against Hugging Face `tokenizers`: a SentencePiece unigram
 * model trained on the golden corpus (3,000 pieces, byte fallback, nmt_nfkc precompiled charsmap;
 * scripts/make_unigram_goldens.py) must give, on every corpus line, the ids `tokenizers` gives
 * (tests/data/unigram_ids.txt: count and FNV-1a hash of the ids per line), loaded from its
 * tokenizer.json (Precompiled + Strip + regex Replace normalizer, Metaspace, Unigram) and from
 * the same model written as a llama.cpp "t5" GGUF vocabulary; and a smaller model whose charsmap
 * has a few hand-written rules (one of them a two-character key: the grapheme path). Also: small hand-made Unigram
 * vocabularies for the Viterbi choice, unknown fusion and byte fallback, and bad charsmaps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tokenizer/tokenizer.h"
#include "xfmr.h"

static void golden(const xf_tokenizer *tok, const char *name, const char *ids_file) {
    xf_t_corpus c;
    size_t ok = 0, shown = 0;
    if (!xf_t_corpus_load(&c, ids_file)) return;
    CHECK(c.n_lines == c.n_golds);
    for (size_t i = 0; i < c.n_lines && i < c.n_golds; i++) {
        size_t want_n = 0;
        uint64_t want_h = 0;
        CHECK(xf_t_parse_hash(&c.golds[i], &want_n, &want_h));
        xf_encoding e;
        xf_status st = xf_tokenize(tok, c.lines[i].p, c.lines[i].n, NULL, 0, 0, &e);
        /* the template appends </s>: compare the ids before it */
        if (st == XF_OK && e.n == want_n + 1 && xf_t_ids_hash(e.ids, want_n) == want_h) {
            ok++;
        } else if (shown++ < 5) {
            fprintf(stderr, "MISMATCH %s corpus line %zu: want %zu ids, got %zu %s:", name, i + 1, want_n,
                    st ? 0 : e.n - 1, st ? xf_errmsg() : "");
            for (size_t k = 0; !st && k + 1 < e.n && k < 30; k++) fprintf(stderr, " %d", e.ids[k]);
            fprintf(stderr, "\n");
        }
        if (!st) xf_encoding_free(&e);
    }
    printf("%s: %zu/%zu lines identical\n", name, ok, c.n_lines);
    CHECK(ok == c.n_lines && c.n_lines > 0);
    xf_t_corpus_free(&c);
}

static const char *json_file(const char *name, const char *model, const char *extra) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "{\"model\":%s%s}", model, extra);
    return xf_t_tmpfile(name, buf, strlen(buf));
}

static void expect(const xf_tokenizer *tok, const char *text, const int32_t *want, size_t n) {
    xf_tok_ids got = {0};
    xf_status st = xf_tok_encode_ids(tok, text, strlen(text), &got);
    int good = st == XF_OK && got.len == n && !memcmp(got.data, want, n * sizeof *want);
    CHECK_MSG(good, "\"%s\": %s", text, st ? xf_errmsg() : "ids differ");
    if (!good)
        for (size_t k = 0; k < got.len; k++) fprintf(stderr, " %d", got.data[k]);
    xf_ids_free(&got);
}
#define EXPECT(tok, text, ...)                                \
    do {                                                      \
        const int32_t w_[] = {__VA_ARGS__};                   \
        expect(tok, text, w_, sizeof w_ / sizeof w_[0]);      \
    } while (0)

static void small(void) {
    /* Viterbi: "abc" as ab+c (-1 + -1.5 = -2.5) beats a+bc (-2 + -1 = -3) and abc (-3.1) */
    const char *p = json_file("uni_small.json",
                              "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"a\",-2],[\"b\",-2],"
                              "[\"c\",-1.5],[\"ab\",-1],[\"bc\",-1],[\"abc\",-3.1],[\"<0x78>\",-5],[\"<0x79>\",-5]]}",
                              "");
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load(p, &tok);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (tok) {
        EXPECT(tok, "abc", 4, 3);
        EXPECT(tok, "bc", 5);
        /* unknown characters: a run of them is one <unk> */
        EXPECT(tok, "axyzb", 1, 0, 2);
        EXPECT(tok, "a\xC3\xA9\xC3\xA9", 1, 0);
        xf_tokenizer_free(tok);
    }
    /* with byte_fallback, an unknown run whose bytes all have tokens is those bytes */
    p = json_file("uni_bytes.json",
                  "{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":true,\"vocab\":[[\"<unk>\",0],[\"a\",-2],"
                  "[\"<0x78>\",-5],[\"<0x79>\",-5]]}",
                  "");
    st = xf_tokenizer_load(p, &tok);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (tok) {
        EXPECT(tok, "axya", 1, 2, 3, 1);
        EXPECT(tok, "axza", 1, 0, 1);
        xf_tokenizer_free(tok);
    }
    /* no unk_id and a character without a piece: an error naming the file */
    p = json_file("uni_nounk.json", "{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]}", "");
    st = xf_tokenizer_load(p, &tok);
    CHECK(st == XF_OK);
    if (tok) {
        xf_tok_ids got = {0};
        CHECK(xf_tok_encode_ids(tok, "ab", 2, &got) == XF_ERR_FORMAT && strstr(xf_errmsg(), "unk_id"));
        xf_ids_free(&got);
        xf_tokenizer_free(tok);
    }
}

/* A precompiled charsmap whose trie indexes point outside the blob must not be read out of
 * bounds (the walk stops; the text is left as it is). */
static void bad_charsmap(void) {
    uint8_t blob[4 + 16 + 4];
    memset(blob, 0xFF, sizeof blob);
    blob[0] = 16, blob[1] = blob[2] = blob[3] = 0;
    xf_norm_step s;
    memset(&s, 0, sizeof s);
    s.kind = XF_NORM_PRECOMPILED;
    CHECK(xf_precompiled_init(&s, blob, sizeof blob, "test") == XF_OK);
    xf_tok_buf out = {0};
    CHECK(xf_norm_utf8_step(&s, "abc\xC3\xA9", 5, &out) == XF_OK && out.len == 5 && !memcmp(out.data, "abc\xC3\xA9", 5));
    xf_buf_free(&out);
    xf_norm_step_free(&s);
    blob[0] = 24; /* trie larger than the blob */
    memset(&s, 0, sizeof s);
    CHECK(xf_precompiled_init(&s, blob, sizeof blob, "test") == XF_ERR_FORMAT);
    CHECK(xf_precompiled_init(&s, blob, 3, "test") == XF_ERR_FORMAT);
}

int main(void) {
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load(xf_t_src("tests/data/unigram_tokenizer.json"), &tok);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (tok) golden(tok, "unigram tokenizer.json", "tests/data/unigram_ids.txt");
    xf_tokenizer_free(tok);
    tok = NULL;
    st = xf_tokenizer_load_gguf(xf_t_src("tests/data/unigram_tokenizer.gguf"), &tok);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (tok) golden(tok, "unigram t5 gguf", "tests/data/unigram_ids.txt");
    xf_tokenizer_free(tok);
    tok = NULL;
    st = xf_tokenizer_load(xf_t_src("tests/data/unigram_small_tokenizer.json"), &tok);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (tok) golden(tok, "unigram (hand-written charsmap) tokenizer.json", "tests/data/unigram_small_ids.txt");
    xf_tokenizer_free(tok);
    small();
    bad_charsmap();
    return xf_t_report();
}
