/* test_spm.c — SentencePiece-style BPE (Llama-2 / TinyLlama tokenizer.json convention) against
 * Hugging Face tokenizers 0.23.3: normalizer Sequence[Prepend("▁"), Replace(" ", "▁")] with no
 * pre-tokenizer, byte_fallback + fuse_unk BPE, "<s> $A" template (tests/data/spm_tokenizer.json),
 * and the same model behind the Metaspace pre-tokenizer (prepend_scheme "first",
 * tests/data/spm_meta_tokenizer.json); goldens from scripts/make_spm_goldens.py. Unit cases and
 * malformed normalizer / pre-tokenizer sections. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "xfmr.h"

#define MAXTOK 200000
static int32_t ids[MAXTOK];

static void golden(const xf_tokenizer *tok, const char *name, const char *ids_file) {
    size_t clen, glen, nc, ng, ok = 0, shown = 0;
    char *corpus = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &clen);
    char *gold = xf_t_slurp(xf_t_src(ids_file), &glen);
    CHECK(corpus && gold);
    if (!corpus || !gold) {
        free(corpus);
        free(gold);
        return;
    }
    xf_t_span *c = xf_t_split_lines(corpus, clen, &nc), *g = xf_t_split_lines(gold, glen, &ng);
    CHECK_MSG(nc == ng, "corpus has %zu lines, goldens %zu", nc, ng);
    for (size_t i = 0; i < nc && i < ng; i++) {
        size_t n = xf_t_parse_ints(g[i].p, g[i].n, ids, MAXTOK);
        xf_encoding e;
        xf_status st = xf_tokenize(tok, c[i].p, c[i].n, NULL, 0, 0, &e);
        if (st == XF_OK && e.n == n && (n == 0 || !memcmp(e.ids, ids, n * sizeof *ids))) {
            ok++;
        } else if (shown++ < 5) {
            fprintf(stderr, "MISMATCH %s corpus line %zu: %s\n  want:", name, i + 1, st ? xf_errmsg() : "");
            for (size_t k = 0; k < n && k < 40; k++) fprintf(stderr, " %d", ids[k]);
            fprintf(stderr, "\n  got: ");
            for (size_t k = 0; !st && k < e.n && k < 40; k++) fprintf(stderr, " %d", e.ids[k]);
            fprintf(stderr, "\n");
        }
        if (!st) xf_encoding_free(&e);
    }
    printf("%s golden: %zu/%zu lines identical\n", name, ok, nc);
    CHECK(ok == nc && nc > 0);
    free(c);
    free(g);
    free(corpus);
    free(gold);
}

static void expect(const xf_tokenizer *tok, const char *text, const int32_t *want, size_t n) {
    xf_encoding e;
    xf_status st = xf_tokenize(tok, text, strlen(text), NULL, 0, 0, &e);
    int good = st == XF_OK && e.n == n && !memcmp(e.ids, want, n * sizeof *want);
    CHECK_MSG(good, "text \"%s\": %s", text, st ? xf_errmsg() : "ids differ");
    if (!st) xf_encoding_free(&e);
}

#define EXPECT(tok, text, ...)                                                      \
    do {                                                                            \
        const int32_t w_[] = {__VA_ARGS__};                                         \
        expect(tok, text, w_, sizeof w_ / sizeof w_[0]);                           \
    } while (0)

static void units(const xf_tokenizer *t, const xf_tokenizer *m) {
    EXPECT(t, "", 1);
    EXPECT(t, " ", 1, 376, 376);
    EXPECT(t, "  hello  world", 1, 376, 376, 470, 737, 484, 376, 2676);
    EXPECT(t, "<s>hi</s> there", 1, 1, 2025, 2, 376, 1021);
    EXPECT(t, "\xF0\x9F\x98\x80 ok", 1, 376, 243, 162, 155, 131, 391, 329);
    EXPECT(t, "a\xC2\xA0" "b\tc", 1, 380, 197, 163, 320, 259, 321);
    EXPECT(t, "x<unk>y", 1, 940, 0, 465);
    EXPECT(t, "\xC7\x84\xF0\x9D\x94\x98\xEA\x99\xAE", 1, 376, 202, 135, 243, 160, 151, 155, 237, 156, 177);
    EXPECT(m, "", 1);
    EXPECT(m, " ", 1, 376);
    EXPECT(m, "  hello  world", 1, 376, 470, 737, 484, 376, 2676);
    EXPECT(m, "<s>hi</s> there", 1, 1, 326, 327, 2, 1021); /* "first": no ▁ after an added token */
    EXPECT(m, "x<unk>y", 1, 940, 0, 343);
}

static const char *base_json(const char *norm, const char *pretok) {
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"version\":\"1.0\",\"normalizer\":%s,\"pre_tokenizer\":%s,\"model\":{\"type\":\"BPE\","
             "\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"fuse_unk\":true,"
             "\"vocab\":{\"<unk>\":0,\"\u2581\":1,\"a\":2,\"\u2581a\":3},\"merges\":[\"\u2581 a\"]}}",
             norm, pretok);
    return buf;
}

static void bad(const char *name, const char *norm, const char *pretok, xf_status want, const char *needle) {
    const char *p = xf_t_tmpfile(name, base_json(norm, pretok), strlen(base_json(norm, pretok)));
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load(p, &tok);
    CHECK_MSG(st == want && tok == NULL && strstr(xf_errmsg(), needle), "%s: got %d \"%s\"", name, (int)st, xf_errmsg());
    xf_tokenizer_free(tok);
}

static void small_cases(void) {
    const char *j = base_json("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\u2581\"},"
                              "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\u2581\"}]}",
                              "null");
    const char *p = xf_t_tmpfile("spm_ok.json", j, strlen(j));
    xf_tokenizer *tok = NULL;
    CHECK(xf_tokenizer_load(p, &tok) == XF_OK);
    if (tok) {
        EXPECT(tok, "a a", 3, 3);
        EXPECT(tok, "aa", 3, 2);
        xf_encoding e;
        CHECK(xf_tokenize(tok, "", 0, NULL, 0, 0, &e) == XF_OK && e.n == 0);
        xf_encoding_free(&e);
        xf_tokenizer_free(tok);
    }
    bad("spm_b1.json", "{\"type\":\"Prepend\"}", "null", XF_ERR_NOT_FOUND, "prepend");
    bad("spm_b2.json", "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +(\"},\"content\":\"x\"}", "null",
        XF_ERR_FORMAT, "normalizer.pattern");
    bad("spm_b3.json", "{\"type\":\"Replace\",\"pattern\":{\"String\":\"\"},\"content\":\"x\"}", "null",
        XF_ERR_FORMAT, "normalizer.pattern");
    bad("spm_b4.json", "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"}}", "null", XF_ERR_NOT_FOUND, "content");
    bad("spm_b5.json", "null", "{\"type\":\"Metaspace\",\"replacement\":\"\u2581\",\"prepend_scheme\":\"sometimes\"}",
        XF_ERR_FORMAT, "prepend_scheme");
    bad("spm_b6.json", "null", "{\"type\":\"Metaspace\",\"replacement\":\"ab\"}", XF_ERR_FORMAT, "replacement");
    bad("spm_b7.json", "null", "{\"type\":\"Metaspace\",\"split\":3}", XF_ERR_FORMAT, "split");
}

int main(void) {
    xf_tokenizer *t = NULL, *m = NULL;
    xf_status st = xf_tokenizer_load(xf_t_src("tests/data/spm_tokenizer.json"), &t);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    st = xf_tokenizer_load(xf_t_src("tests/data/spm_meta_tokenizer.json"), &m);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (t) golden(t, "spm", "tests/data/spm_ids.txt");
    if (m) golden(m, "spm metaspace", "tests/data/spm_meta_ids.txt");
    if (t && m) units(t, m);
    small_cases();
    xf_tokenizer_free(t);
    xf_tokenizer_free(m);
    return xf_t_report();
}
