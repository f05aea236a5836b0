/* test_tokenizer.c — the WordPiece tokenizer against Hugging Face tokenizers: golden files of
 * all-MiniLM-L6-v2 (tests/data, made with tokenizers 0.23.3), hand-made unit cases, a small
 * custom tokenizer.json exercising the other components, and malformed tokenizer.json files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "xfmr.h"

/* ------------------------------------------------------------ helpers */

/* Tab-separated fields of one line. */
static size_t fields(xf_t_span line, xf_t_span *f, size_t max) {
    size_t k = 0;
    char *p = line.p, *end = line.p + line.n;
    while (k < max) {
        char *t = memchr(p, '\t', (size_t)(end - p));
        if (!t) t = end;
        f[k].p = p;
        f[k++].n = (size_t)(t - p);
        if (t == end) break;
        p = t + 1;
    }
    return k;
}

static int same(const xf_encoding *e, const int32_t *ids, size_t n) {
    return e->n == n && (n == 0 || memcmp(e->ids, ids, n * sizeof *ids) == 0);
}

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "    %s:", what);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

#define MAXTOK 8192
static int32_t want_ids[MAXTOK], want_types[MAXTOK];

/* ------------------------------------------------------------ goldens */

static xf_t_span *g_corpus;
static size_t g_ncorpus;

/* kind 0: minilm_ids.txt  1: pair  2: trunc  3: pair_trunc */
static void golden(const xf_tokenizer *tok, const char *file, int kind) {
    size_t len;
    char *buf = xf_t_slurp(xf_t_src(file), &len);
    CHECK_MSG(buf != NULL, "%s: cannot read this committed golden file", file);
    if (!buf) return;
    size_t n, ok = 0, shown = 0;
    xf_t_span *lines = xf_t_split_lines(buf, len, &n);
    for (size_t i = 0; i < n; i++) {
        xf_t_span f[5];
        size_t nf = fields(lines[i], f, 5);
        size_t a = i, b = 0, max_len = 0, nw, nt = 0;
        int pair = kind == 1 || kind == 3, bad = 0;
        const xf_t_span *idf = &f[0], *tyf = NULL;
        if (kind == 1 && nf == 4) {
            a = strtoul(f[0].p, NULL, 10), b = strtoul(f[1].p, NULL, 10), idf = &f[2], tyf = &f[3];
        } else if (kind == 2 && nf == 3) {
            a = strtoul(f[0].p, NULL, 10), max_len = strtoul(f[1].p, NULL, 10), idf = &f[2];
        } else if (kind == 3 && nf == 5) {
            a = strtoul(f[0].p, NULL, 10), b = strtoul(f[1].p, NULL, 10), max_len = strtoul(f[2].p, NULL, 10);
            idf = &f[3], tyf = &f[4];
        } else if (kind != 0) {
            bad = 1;
        }
        if (bad || a >= g_ncorpus || (pair && b >= g_ncorpus)) {
            CHECK_MSG(0, "%s line %zu: malformed golden line", file, i + 1);
            continue;
        }
        nw = xf_t_parse_ints(idf->p, idf->n, want_ids, MAXTOK);
        if (tyf) nt = xf_t_parse_ints(tyf->p, tyf->n, want_types, MAXTOK);
        xf_encoding e;
        xf_status st = xf_tokenize(tok, g_corpus[a].p, g_corpus[a].n, pair ? g_corpus[b].p : NULL,
                                   pair ? g_corpus[b].n : 0, max_len, &e);
        int match = st == XF_OK && same(&e, want_ids, nw) &&
                    (!tyf || (nt == e.n && memcmp(e.type_ids, want_types, nt * sizeof(int32_t)) == 0));
        if (match && max_len) match = e.n <= max_len;
        if (match) {
            ok++;
        } else if (shown++ < 5) {
            fprintf(stderr, "MISMATCH %s line %zu (corpus line %zu%s): %s\n", file, i + 1, a + 1,
                    pair ? " + pair" : "", st ? xf_errmsg() : "");
            print_ids("want", want_ids, nw);
            if (!st) print_ids("got ", e.ids, e.n);
        }
        xf_encoding_free(&e);
    }
    printf("tokenizer golden %s: %zu/%zu lines identical\n", file, ok, n);
    CHECK_MSG(ok == n && n > 0, "%s: %zu of %zu lines differ", file, n - ok, n);
    free(lines);
    free(buf);
}

/* ------------------------------------------------------------ unit cases */

static void expect(const xf_tokenizer *tok, const char *text, size_t len, const char *pair,
                   size_t max_len, const int32_t *ids, size_t n, int line) {
    xf_encoding e;
    xf_status st = xf_tokenize(tok, text, len, pair, pair ? strlen(pair) : 0, max_len, &e);
    int ok = st == XF_OK && same(&e, ids, n);
    CHECK_MSG(ok, "case at line %d (status %s %s)", line, xf_status_str(st), xf_errmsg());
    if (!ok && !st) {
        print_ids("want", ids, n);
        print_ids("got ", e.ids, e.n);
    }
    xf_encoding_free(&e);
}

#define EXPECT(tok, text, pair, max_len, ...)                                                  \
    do {                                                                                       \
        static const int32_t w_[] = {__VA_ARGS__};                                             \
        expect(tok, text, sizeof(text) - 1, pair, max_len, w_, sizeof w_ / sizeof w_[0], __LINE__); \
    } while (0)

static void unit_minilm(const xf_tokenizer *tok) {
    /* Expected ids from tokenizers 0.23.3:
     *   t = Tokenizer.from_file("models/all-MiniLM-L6-v2/tokenizer.json"); t.no_padding()
     *   t.encode(raw_bytes.decode("utf-8", errors="replace")).ids
     * (U+FFFD is then removed by BertNormalizer's clean_text, but it still splits words.) */
    EXPECT(tok, "caf\xc3 ok", NULL, 0, 101, 24689, 7929, 102);
    EXPECT(tok, "\xff\xfe" "abc d", NULL, 0, 101, 5925, 1040, 102);
    EXPECT(tok, "a\xe2\x82" "b", NULL, 0, 101, 11113, 102);
    EXPECT(tok, "x\xed\xa0\x80y", NULL, 0, 101, 1060, 2100, 102);
    EXPECT(tok, "end \xf0\x9f\x98", NULL, 0, 101, 2203, 102);
    EXPECT(tok, "\xc0\xafslash", NULL, 0, 101, 18296, 102);
    EXPECT(tok, "big\xf4\x90\x80\x80num", NULL, 0, 101, 2502, 19172, 102);
    EXPECT(tok, "ok\xe0\x80\xafz", NULL, 0, 101, 7929, 2480, 102);
    EXPECT(tok, "caf\xc3\xa9 na\xc3\xafve", NULL, 0, 101, 7668, 15743, 102);
    /* NUL bytes inside the given length are U+0000, a control character that clean_text
     * drops: t.encode("hello\x00world") == t.encode("helloworld"), "ab\x00cd" == "abcd". */
    EXPECT(tok, "hello\0world", NULL, 0, 101, 7592, 11108, 102);
    EXPECT(tok, "helloworld", NULL, 0, 101, 7592, 11108, 102);
    EXPECT(tok, "ab\0cd", NULL, 0, 101, 5925, 2094, 102);
    EXPECT(tok, "\0", NULL, 0, 101, 102);
    /* empty text, literal special tokens (added tokens with normalized=false match the raw
     * text; "[mask]" in lower case does not) */
    EXPECT(tok, "", NULL, 0, 101, 102);
    EXPECT(tok, "[MASK]", NULL, 0, 101, 103, 102);
    EXPECT(tok, "the [MASK] is here", NULL, 0, 101, 1996, 103, 2003, 2182, 102);
    EXPECT(tok, "a[SEP]b", NULL, 0, 101, 1037, 102, 1038, 102);
    EXPECT(tok, "[mask] lower", NULL, 0, 101, 1031, 7308, 1033, 2896, 102);
    /* 101 chars -> [UNK]; 100 chars -> word pieces */
    char w[102];
    memset(w, 'x', 101);
    w[101] = 0;
    {
        static const int32_t u[] = {101, 100, 102};
        expect(tok, w, 101, NULL, 0, u, 3, __LINE__);
        int32_t v[52] = {101, 22038};
        for (int i = 2; i < 51; i++) v[i] = 20348;
        v[51] = 102;
        expect(tok, w, 100, NULL, 0, v, 52, __LINE__);
    }
    /* Unicode: full lowercase of U+0130 (after NFD + accent stripping), Greek, CJK, emoji */
    EXPECT(tok, "\xc4\xb0stanbul \xce\xa3\xce\x91\xce\xa3 stra\xc3\x9f" "e \xef\xac\x81", NULL, 0,
           101, 9960, 1173, 14608, 29733, 2358, 27807, 1984, 102);
    EXPECT(tok, "Hello, world! \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x91\x8b e\xcc\x81", NULL, 0,
           101, 7592, 1010, 2088, 999, 100, 100, 100, 1041, 102);
    /* Truncation (t.enable_truncation(max_length=m)). For m < number of special tokens,
     * tokenizers computes m - n_special in usize, wraps, and does not truncate at all; xfmr
     * instead drops all content and keeps only the special tokens. */
    EXPECT(tok, "hello world foo bar", NULL, 1, 101, 102);          /* tokenizers: untruncated */
    EXPECT(tok, "hello world foo bar", NULL, 2, 101, 102);
    EXPECT(tok, "hello world foo bar", NULL, 3, 101, 7592, 102);
    EXPECT(tok, "hello world foo bar", NULL, 4, 101, 7592, 2088, 102);
    EXPECT(tok, "hello world foo bar", "a b c", 1, 101, 102, 102);   /* tokenizers: untruncated */
    EXPECT(tok, "hello world foo bar", "a b c", 2, 101, 102, 102);   /* tokenizers: untruncated */
    EXPECT(tok, "hello world foo bar", "a b c", 3, 101, 102, 102);
    EXPECT(tok, "hello world foo bar", "a b c", 4, 101, 7592, 102, 102);
    EXPECT(tok, "hello world foo bar", "a b c", 5, 101, 7592, 102, 1037, 102);
    EXPECT(tok, "", "", 0, 101, 102, 102);
    {
        xf_encoding e;
        CHECK(xf_tokenize(tok, "hello world foo bar", 19, "a b c", 5, 4, &e) == XF_OK);
        static const int32_t ty[] = {0, 0, 0, 1};
        CHECK(e.n == 4 && memcmp(e.type_ids, ty, sizeof ty) == 0 && e.truncated == 1);
        xf_encoding_free(&e);
        CHECK(xf_tokenize(tok, "hello", 5, NULL, 0, 3, &e) == XF_OK);
        CHECK(e.n == 3 && e.truncated == 0);
        xf_encoding_free(&e);
        CHECK(xf_tokenize(NULL, "x", 1, NULL, 0, 0, &e) == XF_ERR_INVALID_ARG);
        CHECK(xf_tokenize(tok, NULL, 3, NULL, 0, 0, &e) == XF_ERR_INVALID_ARG);
        CHECK(xf_tokenize(tok, NULL, 0, NULL, 0, 0, &e) == XF_OK && e.n == 2);
        xf_encoding_free(&e);
        xf_encoding_free(NULL);
    }
    /* vocabulary lookups */
    CHECK(xf_tokenizer_vocab_size(tok) == 30522);
    CHECK(xf_tokenizer_token_to_id(tok, "[CLS]") == 101);
    CHECK(xf_tokenizer_token_to_id(tok, "##ing") == 2075);
    CHECK(xf_tokenizer_token_to_id(tok, "no-such-token") == -1);
    CHECK(xf_tokenizer_token_to_id(tok, NULL) == -1);
    CHECK(xf_tokenizer_id_to_token(tok, 103) && !strcmp(xf_tokenizer_id_to_token(tok, 103), "[MASK]"));
    CHECK(xf_tokenizer_id_to_token(tok, 7592) && !strcmp(xf_tokenizer_id_to_token(tok, 7592), "hello"));
    CHECK(xf_tokenizer_id_to_token(tok, 30522) == NULL);
    CHECK(xf_tokenizer_id_to_token(tok, -1) == NULL);
    CHECK(xf_tokenizer_vocab_size(NULL) == 0);
}

/* A 1 MB line must tokenize without quadratic behaviour, in several shapes. The limits are loose
 * (quadratic would take minutes): speed is measured in bench/, not asserted here. */
static void speed(const xf_tokenizer *tok) {
    size_t n = 1 << 20;
    char *b = malloc(n);
    const char *pats[] = {"hello world, this is text. ", "x", "\xcc\x81\xcc\xa3", "[MASK]", "a\xe2\x82"};
    for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
        size_t pl = strlen(pats[k]);
        for (size_t i = 0; i < n; i++) b[i] = pats[k][i % pl];
        clock_t t0 = clock();
        xf_encoding e;
        xf_status st = xf_tokenize(tok, b, n, NULL, 0, 0, &e);
        double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
#if defined(__SANITIZE_ADDRESS__)
        double lim = 120.0;
#else
        double lim = 20.0;
#endif
        CHECK_MSG(st == XF_OK && s < lim, "1 MB line of pattern %zu: %.3f s", k, s);
        xf_encoding_free(&e);
    }
    free(b);
}

/* ------------------------------------------------------------ custom tokenizer.json */

/* Sequence normalizer (NFD, Lowercase, StripAccents, Strip), Sequence pre-tokenizer
 * (WhitespaceSplit, Whitespace), BertProcessing, added tokens with lstrip/rstrip, single_word +
 * normalized, and ids that tokenizers reassigns (file says 99 / 17 / 10, it uses 16 / 17 / 10).
 * Expectations: Tokenizer.from_str(json).encode(text).ids with tokenizers 0.23.3. */
static const char mini_json[] =
    "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [{\"id\": 0, \"conten"
    "t\": \"[UNK]\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, "
    "\"special\": true}, {\"id\": 1, \"content\": \"[CLS]\", \"single_word\": false, \"lstrip\": false, \"rs"
    "trip\": false, \"normalized\": false, \"special\": true}, {\"id\": 2, \"content\": \"[SEP]\", \"single"
    "_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}, {\""
    "id\": 99, \"content\": \"<mask>\", \"single_word\": false, \"lstrip\": true, \"rstrip\": true, \"norma"
    "lized\": false, \"special\": true}, {\"id\": 17, \"content\": \"Tok\", \"single_word\": true, \"lstrip"
    "\": false, \"rstrip\": false, \"normalized\": true, \"special\": false}, {\"id\": 10, \"content\": \"<"
    "x>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special"
    "\": false}], \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFD\"}, {\"type\": \""
    "Lowercase\"}, {\"type\": \"StripAccents\"}, {\"type\": \"Strip\", \"strip_left\": true, \"strip_right\""
    ": true}]}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"WhitespaceSpl"
    "it\"}, {\"type\": \"Whitespace\"}]}, \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP"
    "]\", 2], \"cls\": [\"[CLS]\", 1]}, \"decoder\": null, \"model\": {\"type\": \"WordPiece\", \"unk_token\":"
    " \"[UNK]\", \"continuing_subword_prefix\": \"##\", \"max_input_chars_per_word\": 8, \"vocab\": {\"[UN"
    "K]\": 0, \"[CLS]\": 1, \"[SEP]\": 2, \"hello\": 3, \"world\": 4, \"##s\": 5, \"un\": 6, \"##aff\": 7, \"##"
    "able\": 8, \"!\": 9, \"<x>\": 10, \"a\": 11, \"b\": 12, \"hi\": 13, \",\": 14, \"##,\": 15}}}";

static void custom(void) {
    const char *path = xf_t_tmpfile("mini_tokenizer.json", mini_json, sizeof mini_json - 1);
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load(path, &tok);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (st) return;
    CHECK(xf_tokenizer_token_to_id(tok, "<mask>") == 16);
    CHECK(xf_tokenizer_token_to_id(tok, "Tok") == 17);
    CHECK(xf_tokenizer_vocab_size(tok) == 18);
    EXPECT(tok, "Hello World!", NULL, 0, 1, 3, 4, 9, 2);
    EXPECT(tok, "  hello   <mask>  world ", NULL, 0, 1, 3, 16, 4, 2);
    EXPECT(tok, "unaffable hellos", NULL, 0, 1, 0, 3, 5, 2);
    EXPECT(tok, "Tok tok Toks xTok", NULL, 0, 1, 17, 17, 0, 0, 2);
    EXPECT(tok, "a<x>b", NULL, 0, 1, 11, 10, 12, 2);
    EXPECT(tok, "H\xc3\xa9llo, w\xc3\xb6rld", NULL, 0, 1, 3, 14, 4, 2);
    EXPECT(tok, "unaffableunaffable", NULL, 0, 1, 0, 2);
    EXPECT(tok, "hi<mask>hi", NULL, 0, 1, 13, 16, 13, 2);
    EXPECT(tok, "hello world", "a b", 0, 1, 3, 4, 2, 11, 12, 2);
    EXPECT(tok, "hello world hello", "a b", 5, 1, 3, 2, 11, 2);
    xf_encoding e;
    if (xf_tokenize(tok, "hello world", 11, "a b", 3, 0, &e) == XF_OK) {
        static const int32_t ty[] = {0, 0, 0, 0, 1, 1, 1};
        CHECK(e.n == 7 && memcmp(e.type_ids, ty, sizeof ty) == 0);
        xf_encoding_free(&e);
    }
    xf_tokenizer_free(tok);
    remove(path);
}

/* ------------------------------------------------------------ bad files */

static void bad(const char *name, const char *json, xf_status want, const char *needle) {
    const char *path = xf_t_tmpfile(name, json, strlen(json));
    xf_tokenizer *tok = (xf_tokenizer *)1;
    xf_status st = xf_tokenizer_load(path, &tok);
    const char *msg = xf_errmsg();
    CHECK_MSG(st == want, "%s: got %s (%s), want %s", name, xf_status_str(st), msg, xf_status_str(want));
    CHECK_MSG(tok == NULL, "%s: *out not NULL on failure", name);
    CHECK_MSG(strstr(msg, name) != NULL, "%s: message \"%s\" does not name the file", name, msg);
    CHECK_MSG(!needle || strstr(msg, needle), "%s: message \"%s\" lacks \"%s\"", name, msg, needle);
    if (st == XF_OK) xf_tokenizer_free(tok);
    remove(path);
}

#define WP(vocab) "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\"," \
                  "\"max_input_chars_per_word\":100,\"vocab\":" vocab "}"

static void bad_files(void) {
    bad("t_malformed.json", "{\"model\": {\"type\": \"WordPiece\",", XF_ERR_FORMAT, "malformed JSON");
    bad("t_toplevel.json", "[1, 2]", XF_ERR_FORMAT, "top level");
    bad("t_nomodel.json", "{\"version\": \"1.0\", \"normalizer\": null}", XF_ERR_NOT_FOUND, "model");
    bad("t_version.json", "{\"version\": \"2.0\"}", XF_ERR_UNSUPPORTED, "version");
    bad("t_vocab_array.json", WP("[\"a\", \"b\"]") "}", XF_ERR_FORMAT, "model.vocab");
    bad("t_vocab_neg.json", WP("{\"[UNK]\": 0, \"a\": -1}") "}", XF_ERR_RANGE, "model.vocab[\"a\"]");
    bad("t_vocab_huge.json", WP("{\"[UNK]\": 0, \"a\": 3000000000}") "}", XF_ERR_RANGE, "model.vocab[\"a\"]");
    bad("t_vocab_frac.json", WP("{\"[UNK]\": 0, \"a\": 1.5}") "}", XF_ERR_FORMAT, "model.vocab[\"a\"]");
    bad("t_vocab_str.json", WP("{\"[UNK]\": \"0\"}") "}", XF_ERR_FORMAT, "model.vocab[\"[UNK]\"]");
    bad("t_novocab.json", "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
        "\"max_input_chars_per_word\":100}}", XF_ERR_NOT_FOUND, "vocab");
    bad("t_nounk.json", "{\"model\":{\"type\":\"WordPiece\",\"continuing_subword_prefix\":\"##\","
        "\"max_input_chars_per_word\":100,\"vocab\":{}}}", XF_ERR_NOT_FOUND, "unk_token");
    bad("t_maxchars.json", "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
        "\"max_input_chars_per_word\":-3,\"vocab\":{}}}", XF_ERR_RANGE, "model.max_input_chars_per_word");
    bad("t_wordlevel.json", "{\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"a\",\"vocab\":{\"a\":0}}}",
        XF_ERR_UNSUPPORTED, "WordLevel");
    bad("t_unigram.json", "{\"model\":{\"type\":\"Unigram\",\"unk_id\":1,\"vocab\":[[\"a\",0.0]]}}", XF_ERR_RANGE,
        "model.unk_id");
    bad("t_unigram2.json", "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",\"x\"]]}}", XF_ERR_FORMAT,
        "model.vocab[0]");
    bad("t_precompiled.json", WP("{\"[UNK]\": 0}") ",\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AA=!\"}}",
        XF_ERR_FORMAT, "precompiled_charsmap");
    bad("t_precompiled2.json", WP("{\"[UNK]\": 0}") ",\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"/////w==\"}}",
        XF_ERR_FORMAT, "trie size");
    bad("t_model_type.json", "{\"model\":{\"type\":7}}", XF_ERR_FORMAT, "model.type");
    bad("t_norm.json", WP("{\"[UNK]\": 0}") ",\"normalizer\":{\"type\":\"Nmt\"}}", XF_ERR_UNSUPPORTED, "Nmt");
    bad("t_norm_seq.json", WP("{\"[UNK]\": 0}") ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":"
        "[{\"type\":\"NFD\"},{\"type\":\"Nmt\"}]}}", XF_ERR_UNSUPPORTED, "normalizer.normalizers[1].type");
    bad("t_norm_notype.json", WP("{\"[UNK]\": 0}") ",\"normalizer\":{\"lowercase\":true}}", XF_ERR_NOT_FOUND,
        "normalizer.type");
    bad("t_norm_bool.json", WP("{\"[UNK]\": 0}") ",\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":\"yes\"}}",
        XF_ERR_FORMAT, "lowercase");
    bad("t_pretok.json", WP("{\"[UNK]\": 0}") ",\"pre_tokenizer\":{\"type\":\"UnicodeScripts\"}}", XF_ERR_UNSUPPORTED,
        "UnicodeScripts");
    bad("t_post.json", WP("{\"[UNK]\": 0}") ",\"post_processor\":{\"type\":\"RobertaProcessing\"}}",
        XF_ERR_UNSUPPORTED, "RobertaProcessing");
    bad("t_tpl_missing.json", WP("{\"[UNK]\": 0}") ",\"post_processor\":{\"type\":\"TemplateProcessing\","
        "\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
        "\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],"
        "\"special_tokens\":{}}}", XF_ERR_FORMAT, "post_processor.single[0]");
    bad("t_tpl_badid.json", WP("{\"[UNK]\": 0}") ",\"post_processor\":{\"type\":\"TemplateProcessing\","
        "\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}}],\"pair\":[],"
        "\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[-4],\"tokens\":[\"[CLS]\"]}}}}", XF_ERR_RANGE,
        "post_processor.special_tokens[\"[CLS]\"].ids");
    bad("t_added.json", WP("{\"[UNK]\": 0}") ",\"added_tokens\":[{\"id\":0,\"special\":true}]}", XF_ERR_NOT_FOUND,
        "added_tokens[0]");
    bad("t_added_type.json", WP("{\"[UNK]\": 0}") ",\"added_tokens\":{}}", XF_ERR_FORMAT, "added_tokens");
    bad("t_empty.json", "", XF_ERR_FORMAT, NULL);
    /* a file that does not exist */
    xf_tokenizer *tok = (xf_tokenizer *)1;
    CHECK(xf_tokenizer_load("/nonexistent/dir/tokenizer.json", &tok) == XF_ERR_NOT_FOUND && tok == NULL);
    CHECK(strstr(xf_errmsg(), "/nonexistent/dir/tokenizer.json") != NULL);
    CHECK(xf_tokenizer_load(NULL, &tok) == XF_ERR_INVALID_ARG);
    CHECK(xf_tokenizer_load("x", NULL) == XF_ERR_INVALID_ARG);
    /* unk_token missing from the vocabulary: loads (as tokenizers does), fails when needed */
    const char *p = xf_t_tmpfile("t_unk_absent.json", WP("{\"a\": 0}") "}", strlen(WP("{\"a\": 0}") "}"));
    if (xf_tokenizer_load(p, &tok) == XF_OK) {
        xf_encoding e;
        CHECK(xf_tokenize(tok, "a", 1, NULL, 0, 0, &e) == XF_OK && e.n == 1); /* no pre-tokenizer */
        xf_encoding_free(&e);
        CHECK(xf_tokenize(tok, "b", 1, NULL, 0, 0, &e) == XF_ERR_FORMAT && strstr(xf_errmsg(), "unk_token"));
        CHECK(e.ids == NULL && e.n == 0);
        xf_tokenizer_free(tok);
    } else {
        CHECK_MSG(0, "t_unk_absent.json: %s", xf_errmsg());
    }
    remove(p);
    xf_tokenizer_free(NULL);
}

int main(void) {
    bad_files();
    custom();
    const char *dir = xf_t_model_dir();
    if (!dir) return xf_t_report(); /* skipped */
    xf_tokenizer *tok = NULL;
    xf_status st = xf_tokenizer_load(dir, &tok); /* a folder: finds tokenizer.json in it */
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    if (st) return xf_t_report();
    unit_minilm(tok);
    speed(tok);
    size_t clen;
    char *corpus = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &clen);
    if (corpus) {
        g_corpus = xf_t_split_lines(corpus, clen, &g_ncorpus);
        golden(tok, "tests/data/minilm_ids.txt", 0);
        golden(tok, "tests/data/minilm_pair_ids.txt", 1);
        golden(tok, "tests/data/minilm_trunc_ids.txt", 2);
        golden(tok, "tests/data/minilm_pair_trunc_ids.txt", 3);
        free(g_corpus);
        free(corpus);
    } else {
        CHECK_MSG(0, "tests/data/corpus.txt is missing");
    }
    xf_tokenizer_free(tok);
    return xf_t_report();
}
