/* test_bpe.c — byte-level BPE against Hugging Face tokenizers 0.23.3: the SmolLM2-135M-Instruct
 * tokenizer on the golden corpus (tests/data/smollm2_ids.txt, from scripts/make_bpe_goldens.py),
 * unit cases (empty text, special tokens, invalid UTF-8, 1 MB lines), a small hand-made BPE for
 * Split behaviours / Digits / byte_fallback / unk / ignore_merges, and malformed files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "xfmr.h"

#define MAXTOK 200000
static int32_t want[MAXTOK];

static int same(const xf_encoding *e, const int32_t *ids, size_t n) {
    return e->n == n && (n == 0 || memcmp(e->ids, ids, n * sizeof *ids) == 0);
}

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "    %s:", what);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

static void golden(const xf_tokenizer *tok) {
    size_t clen, glen, nc, ng, ok = 0, shown = 0;
    char *corpus = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &clen);
    char *gold = xf_t_slurp(xf_t_src("tests/data/smollm2_ids.txt"), &glen);
    CHECK(corpus && gold);
    if (!corpus || !gold) return;
    xf_t_span *c = xf_t_split_lines(corpus, clen, &nc), *g = xf_t_split_lines(gold, glen, &ng);
    CHECK_MSG(nc == ng, "corpus has %zu lines, goldens %zu", nc, ng);
    for (size_t i = 0; i < nc && i < ng; i++) {
        size_t n = xf_t_parse_ints(g[i].p, g[i].n, want, MAXTOK);
        xf_encoding e;
        xf_status st = xf_tokenize(tok, c[i].p, c[i].n, NULL, 0, 0, &e);
        if (st == XF_OK && same(&e, want, n)) {
            ok++;
        } else if (shown++ < 5) {
            fprintf(stderr, "MISMATCH corpus line %zu: %s\n", i + 1, st ? xf_errmsg() : "");
            print_ids("want", want, n);
            if (!st) print_ids("got ", e.ids, e.n);
        }
        if (!st) xf_encoding_free(&e);
    }
    printf("bpe golden: %zu/%zu lines identical\n", ok, nc);
    CHECK(ok == nc);
    free(c);
    free(g);
    free(corpus);
    free(gold);
}

static void expect(const xf_tokenizer *tok, const char *text, size_t len, const int32_t *ids, size_t n) {
    xf_encoding e;
    xf_status st = xf_tokenize(tok, text, len, NULL, 0, 0, &e);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (st) return;
    CHECK_MSG(same(&e, ids, n), "text \"%.60s\": ids differ", text);
    if (!same(&e, ids, n)) {
        print_ids("want", ids, n);
        print_ids("got ", e.ids, e.n);
    }
    xf_encoding_free(&e);
}
#define EXPECT(tok, text, ...)                                                         \
    do {                                                                               \
        static const int32_t ids_[] = {__VA_ARGS__};                                   \
        expect(tok, text, sizeof(text) - 1, ids_, sizeof ids_ / sizeof ids_[0]);       \
    } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A 1 MB line (no spaces, and digits) must stay linear-ish: ~0.1-0.6 s here, so 20 s (120 s under
 * ASan) only fails on quadratic behaviour, never on a loaded CI machine. */
#ifdef __SANITIZE_ADDRESS__
#define SPEED_LIMIT 120.0
#else
#define SPEED_LIMIT 20.0
#endif
static void speed(const xf_tokenizer *tok) {
    const size_t n = 1 << 20;
    char *s = malloc(n);
    const char *kinds[] = {"letters", "one letter", "digits", "spaces", "punctuation"};
    for (int k = 0; k < 5; k++) {
        for (size_t i = 0; i < n; i++) {
            s[i] = k == 0 ? "thequickbrownfoxjumpsoverthelazydog"[(i * 7 + i / 13) % 35] : k == 1 ? 'a'
                   : k == 2 ? (char)('0' + i % 10) : k == 3 ? ' ' : "!?.,;:"[i % 6];
        }
        xf_encoding e;
        double t0 = now();
        xf_status st = xf_tokenize(tok, s, n, NULL, 0, 0, &e);
        double dt = now() - t0;
        CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
        if (!st) {
            CHECK(e.n > 0 && e.n <= n);
            xf_encoding_free(&e);
        }
        printf("1 MB line of %s: %.3f s\n", kinds[k], dt);
        CHECK_MSG(dt < SPEED_LIMIT, "1 MB line of %s took %.2f s", kinds[k], dt);
    }
    free(s);
}

static void smollm(void) {
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load(xf_t_src("tests/data/smollm2_tokenizer.json"), &tok);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (st) return;
    CHECK(xf_tokenizer_vocab_size(tok) == 49152);
    CHECK(xf_tokenizer_token_to_id(tok, "<|im_start|>") == 1);
    golden(tok);
    EXPECT(tok, "");
    expect(tok, NULL, 0, NULL, 0);
    EXPECT(tok, "<|im_start|>user\nHi there<|im_end|>", 1, 4093, 198, 26843, 665, 2);
    EXPECT(tok, "caf\xff\xfe x", 83, 1939, 24211, 24211, 1792); /* = "caf\uFFFD\uFFFD x" */
    EXPECT(tok, "In 2024, 12345 people", 788, 216, 34, 32, 34, 36, 28, 216, 33, 34, 35, 36, 37, 701);
    speed(tok);
    xf_tokenizer_free(tok);
}

/* ------------------------------------------------ a small hand-made BPE */

#define SMALL_MODEL(extra)                                                                            \
    "{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"[U]\"," extra \
    "\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"-\":3,\"ab\":4,\"abc\":5,\"<0x7A>\":6,\"<0xC3>\":7,"         \
    "\"<0xA9>\":8,\"[U]\":9,\"bc\":10,\"b-\":11,\"--\":12,\"-a\":13,\"c-\":14,\"ab-\":15,\"1\":16,"    \
    "\"2\":17,\"12\":18},\"merges\":"
#define MERGES "[\"a b\",\"ab c\",\"b -\",\"- -\",\"- a\",\"c -\",\"ab -\",\"1 2\"]}"

static xf_tokenizer *small(const char *name, const char *json) {
    const char *path = xf_t_tmpfile(name, json, strlen(json));
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load(path, &tok);
    CHECK_MSG(st == XF_OK, "%s: %s", name, xf_errmsg());
    remove(path);
    return st ? NULL : tok;
}

static void split_case(const char *beh, int invert, const int32_t *ids, size_t n) {
    char json[2048];
    snprintf(json, sizeof json,
             SMALL_MODEL("") MERGES ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"-\"},"
                                    "\"behavior\":\"%s\",\"invert\":%s}}",
             beh, invert ? "true" : "false");
    xf_tokenizer *tok = small("t_split.json", json);
    if (!tok) return;
    fprintf(stderr, "%s", "");
    expect(tok, "ab-c--abc-", 10, ids, n);
    xf_tokenizer_free(tok);
}

static void small_cases(void) {
    /* expected ids from tokenizers 0.23.3 on the same files */
    static const int32_t rm[] = {4, 2, 5}, rm_inv[] = {3, 3, 3, 3}, iso[] = {4, 3, 2, 3, 3, 5, 3},
                         prev[] = {15, 14, 3, 5, 3}, contig[] = {4, 3, 2, 12, 5, 3};
    split_case("Removed", 0, rm, 3);
    split_case("Removed", 1, rm_inv, 4);
    split_case("Isolated", 0, iso, 7);
    split_case("Isolated", 1, iso, 7);
    split_case("MergedWithPrevious", 0, prev, 5);
    split_case("MergedWithPrevious", 1, iso, 7);
    split_case("MergedWithNext", 0, iso, 7);
    split_case("MergedWithNext", 1, prev, 5);
    split_case("Contiguous", 0, contig, 6);
    split_case("Contiguous", 1, contig, 6);

    xf_tokenizer *t;
    if ((t = small("t_dig0.json", SMALL_MODEL("") MERGES ",\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":false}}"))) {
        EXPECT(t, "a1212b12", 0, 18, 18, 1, 18);
        xf_tokenizer_free(t);
    }
    if ((t = small("t_dig1.json", SMALL_MODEL("") MERGES ",\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":true}}"))) {
        EXPECT(t, "a1212b12", 0, 16, 17, 16, 17, 1, 16, 17);
        xf_tokenizer_free(t);
    }
    if ((t = small("t_lit.json", SMALL_MODEL("") MERGES ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"String\":\"b-\"},\"behavior\":\"Isolated\",\"invert\":false}}"))) {
        EXPECT(t, "ab-c", 0, 11, 2);
        xf_tokenizer_free(t);
    }
    /* merges as pairs, byte fallback */
    if ((t = small("t_bf.json", SMALL_MODEL("\"byte_fallback\":true,") "[[\"a\",\"b\"],[\"ab\",\"c\"]]}}"))) {
        EXPECT(t, "abz\xc3\xa9xxc", 4, 6, 7, 8, 9, 9, 2);
        xf_tokenizer_free(t);
    }
    if ((t = small("t_fuse.json", SMALL_MODEL("\"fuse_unk\":true,") MERGES "}"))) {
        EXPECT(t, "axxb", 0, 9, 1);
        xf_tokenizer_free(t);
    }
    if ((t = small("t_nofuse.json", SMALL_MODEL("") MERGES "}"))) {
        EXPECT(t, "axxb", 0, 9, 9, 1);
        xf_tokenizer_free(t);
    }
    if ((t = small("t_ign.json", SMALL_MODEL("\"ignore_merges\":true,") "[\"b c\"]}}"))) {
        EXPECT(t, "abc", 5);
        xf_tokenizer_free(t);
    }
    if ((t = small("t_noign.json", SMALL_MODEL("") "[\"b c\"]}}"))) {
        EXPECT(t, "abc", 0, 10);
        xf_tokenizer_free(t);
    }
}

/* ------------------------------------------------------------ bad files */

static void bad(const char *name, const char *json, xf_status want_st, const char *n1, const char *n2) {
    const char *path = xf_t_tmpfile(name, json, strlen(json));
    xf_tokenizer *tok = (xf_tokenizer *)1;
    xf_status st = xf_tokenizer_load(path, &tok);
    const char *msg = xf_errmsg();
    CHECK_MSG(st == want_st, "%s: got %s (%s), want %s", name, xf_status_str(st), msg, xf_status_str(want_st));
    CHECK_MSG(tok == NULL, "%s: *out not NULL on failure", name);
    CHECK_MSG(strstr(msg, name) != NULL, "%s: message \"%s\" does not name the file", name, msg);
    CHECK_MSG(!n1 || strstr(msg, n1), "%s: message \"%s\" lacks \"%s\"", name, msg, n1);
    CHECK_MSG(!n2 || strstr(msg, n2), "%s: message \"%s\" lacks \"%s\"", name, msg, n2);
    if (st == XF_OK) xf_tokenizer_free(tok);
    remove(path);
}

static void bad_files(void) {
    /* tokenizers refuses these too ("Token `x` out of vocabulary") */
    bad("t_merge_unk.json", SMALL_MODEL("") "[\"a b\",\"a x\"]}}", XF_ERR_FORMAT, "model.merges[1]", "\"x\"");
    bad("t_merge_new.json", SMALL_MODEL("") "[\"c a\"]}}", XF_ERR_FORMAT, "model.merges[0]", "\"ca\"");
    bad("t_merge_fmt.json", SMALL_MODEL("") "[\"ab\"]}}", XF_ERR_FORMAT, "model.merges[0]", NULL);
    bad("t_merge_pair.json", SMALL_MODEL("") "[[\"a\"]]}}", XF_ERR_FORMAT, "model.merges[0]", NULL);
    bad("t_dropout.json",
        "{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,\"vocab\":{\"a\":0},\"merges\":[]}}",
        XF_ERR_UNSUPPORTED, "dropout", NULL);
    bad("t_regex.json", SMALL_MODEL("") MERGES ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(a\"},\"behavior\":\"Isolated\",\"invert\":false}}",
        XF_ERR_FORMAT, "\"(a\"", "offset 2");
    bad("t_behavior.json", SMALL_MODEL("") MERGES ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}}",
        XF_ERR_FORMAT, "Sideways", NULL);
    bad("t_nomerges.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}}}", XF_ERR_NOT_FOUND, "merges", NULL);
}

int main(void) {
    smollm();
    small_cases();
    bad_files();
    return xf_t_report();
}
