/* test_search_parse.c — the search building blocks without a model: SHA-256 against FIPS 180-4
 * examples, the dot-product kernel against its scalar reference, exact top-k against a sort,
 * the text / Markdown / HTML parsers (heading paths, boilerplate dropped, anchors, lines, bad
 * input: unclosed tags, binary bytes, Latin-1, a 10 MB line, deep nesting) and both chunkers
 * (every chunk within the token limit by the real tokenizer, fixed windows overlapping). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sha256.h"
#include "harness.h"
#include "kernels/dot.h"
#include "search/chunk.h"
#include "search/store.h"
#include "tokenizer/tokenizer.h"

static void test_sha256(void) {
    static const struct { const char *in, *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        xf_sha256 s;
        char hex[65];
        xf_sha256_init(&s);
        /* fed in two pieces to exercise the buffering */
        size_t n = strlen(v[i].in), h = n / 3;
        xf_sha256_update(&s, v[i].in, h);
        xf_sha256_update(&s, v[i].in + h, n - h);
        xf_sha256_hex(&s, hex);
        CHECK_MSG(!strcmp(hex, v[i].hex), "sha256(\"%s\") = %s", v[i].in, hex);
    }
    /* one million 'a' (FIPS 180-2 appendix B.3) */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    xf_sha256 s;
    char hex[65];
    xf_sha256_init(&s);
    xf_sha256_update(&s, a, 1000000);
    xf_sha256_hex(&s, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    free(a);
}

static void test_dot_topk(void) {
    static const size_t dims[] = {1, 7, 8, 31, 32, 33, 100, 384, 1024};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        size_t dim = dims[di], rows = 37;
        float *M = xf_t_randv(rows * dim, 1.0f), *q = xf_t_randv(dim, 1.0f);
        float got[37], ref[37];
        xf_dot_rows(M, rows, dim, q, got);
        xf_dot_rows_ref(M, rows, dim, q, ref);
        double worst = 0;
        for (size_t r = 0; r < rows; r++) {
            double scale = 0;
            for (size_t k = 0; k < dim; k++) scale += fabs((double)M[r * dim + k] * q[k]);
            double e = fabs((double)got[r] - ref[r]) / (scale > 0 ? scale : 1);
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst < 1e-6, "dim %zu: dot error %.3g relative to sum |a b|", dim, worst);
        free(M);
        free(q);
    }
    /* top-k against a full sort, with ties (rows repeated) and NaN rows */
    size_t rows = 1000, dim = 16, k = 25;
    float *M = xf_t_randv(rows * dim, 1.0f), *q = xf_t_randv(dim, 1.0f);
    for (size_t r = 500; r < 520; r++) memcpy(M + r * dim, M + (r - 500) * dim, dim * sizeof(float));
    for (size_t k2 = 0; k2 < dim; k2++) M[900 * dim + k2] = NAN;
    float *sc = malloc(rows * sizeof *sc), top_s[25], scratch[64];
    size_t top[25];
    xf_dot_rows(M, rows, dim, q, sc);
    size_t got = xf_topk_rows(M, rows, dim, q, k, top, top_s, scratch, 64);
    CHECK(got == k);
    /* the expected order: by score desc, then row asc; NaN excluded */
    int ok = 1;
    for (size_t i = 0; i < got; i++) {
        size_t better = 0;
        for (size_t r = 0; r < rows; r++)
            if (sc[r] == sc[r] && (sc[r] > sc[top[i]] || (sc[r] == sc[top[i]] && r < top[i]))) better++;
        if (better != i || top_s[i] != sc[top[i]]) ok = 0;
    }
    CHECK_MSG(ok, "top-k differs from the sorted order");
    CHECK(xf_topk_rows(M, 3, dim, q, 10, top, top_s, scratch, 64) == 3);
    free(sc);
    free(M);
    free(q);
}

/* The text of block i / its path as C strings. */
#define BT(d, i) xf_doc_str(&(d), (d).v[i].text)
#define BP(d, i) xf_doc_str(&(d), (d).v[i].path)
#define BA(d, i) xf_doc_str(&(d), (d).v[i].anchor)

static int find_block(const xf_doc *d, const char *needle) {
    for (size_t i = 0; i < d->n; i++)
        if (strstr(xf_doc_str(d, d->v[i].text), needle)) return (int)i;
    return -1;
}

static int any_block_has(const xf_doc *d, const char *needle) { return find_block(d, needle) >= 0; }

static void test_text(void) {
    xf_doc d = {0};
    const char *s = "First  paragraph,\nstill first.\n\n\n  Second\tone.\r\n \nThird";
    CHECK(xf_parse_text(s, strlen(s), &d) == XF_OK);
    CHECK(d.n == 3);
    if (d.n == 3) {
        CHECK(!strcmp(BT(d, 0), "First paragraph, still first."));
        CHECK(d.v[0].line0 == 1 && d.v[0].line1 == 2);
        CHECK(!strcmp(BT(d, 1), "Second one."));
        CHECK(d.v[1].line0 == 5 && d.v[1].line1 == 5);
        CHECK(!strcmp(BT(d, 2), "Third") && d.v[2].line0 == 7);
    }
    /* invalid UTF-8 and NUL bytes come out as valid UTF-8 without NUL */
    const char bad[] = "caf\xe9 \xff\xfe ok\0after";
    CHECK(xf_parse_text(bad, sizeof bad - 1, &d) == XF_OK);
    CHECK(d.n == 1 && !strcmp(BT(d, 0), "caf\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD okafter"));
    xf_doc_free(&d);
}

static void test_markdown(void) {
    const char *md = "# Title\n"
                     "Intro [link text](http://x.y/z) here.\n"
                     "\n"
                     "Setext Section\n"
                     "--------------\n"
                     "- item one\n"
                     "  continued\n"
                     "- item two\n"
                     "\n"
                     "```c\n"
                     "int  x;\n"
                     "\n"
                     "# not a heading\n"
                     "```\n"
                     "## Sub ##\n"
                     "| a | b |\n"
                     "|---|---|\n"
                     "| 1 | 2 |\n"
                     "> quoted\n";
    xf_doc d = {0};
    CHECK(xf_parse_markdown(md, strlen(md), &d) == XF_OK);
    int intro = find_block(&d, "Intro"), item1 = find_block(&d, "item one"), code = find_block(&d, "int  x;");
    int row = find_block(&d, "| 1 | 2 |"), quote = find_block(&d, "quoted");
    CHECK(intro >= 0 && !strcmp(BT(d, intro), "Intro link text here.") && !strcmp(BP(d, intro), "Title"));
    CHECK(item1 >= 0 && !strcmp(BT(d, item1), "item one continued") && !strcmp(BP(d, item1), "Title > Setext Section"));
    CHECK(any_block_has(&d, "item two"));
    CHECK(code >= 0 && d.v[code].kind == XF_BLOCK_CODE && strstr(BT(d, code), "# not a heading"));
    CHECK(code >= 0 && d.v[code].line0 == 10);
    CHECK(row >= 0 && !strcmp(BP(d, row), "Title > Sub")); /* ## replaces the setext level-2 heading */
    CHECK(!any_block_has(&d, "|---|"));
    CHECK(quote >= 0 && !strcmp(BT(d, quote), "quoted"));
    xf_doc_free(&d);
}

static const char *HTML =
    "<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style>\n"
    "<script>var secret = 1;</script></head><body>\n"
    "<nav><a href='/'>Home</a> navigation links</nav>\n"
    "<header>Site banner</header>\n"
    "<div role=\"navigation\">Role nav</div>\n"
    "<main><section id=\"intro\"><h1>Guide<a class=\"headerlink\" href=\"#intro\">\xC2\xB6</a></h1>\n"
    "<p>First <b>bold</b>   paragraph.</p>\n"
    "<p hidden>Hidden text</p><p aria-hidden=\"true\">Aria hidden</p>\n"
    "<p style=\"display: none\">Display none</p>\n"
    "<section id=\"install\"><h2>Install</h2>\n"
    "<ul><li>Step one</li><li>Step two</li></ul>\n"
    "<pre>  code   kept\n    as is</pre>\n"
    "<table><tr><th>Name</th><th>Value</th></tr><tr><td>x</td><td>1</td></tr></table>\n"
    "<dl><dt id=\"api.f\">f(x)</dt><dd><p>Computes f.</p></dd>\n"
    "<dt id=\"api.g\">g(y)</dt><dd><p>Computes g.</p></dd></dl>\n"
    "<p>After the list.</p>\n"
    "</section></section></main>\n"
    "<aside>Sidebar</aside><footer>Copyright</footer></body></html>\n";

static void test_html(void) {
    xf_doc d = {0};
    CHECK(xf_parse_html(HTML, strlen(HTML), &d) == XF_OK);
    static const char *const dropped[] = {"secret", "color:red", "navigation links", "Site banner", "Role nav",
                                          "Hidden text", "Aria hidden", "Display none", "Sidebar", "Copyright",
                                          "\xC2\xB6"};
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        CHECK_MSG(!any_block_has(&d, dropped[i]), "'%s' should have been dropped", dropped[i]);
    int p1 = find_block(&d, "First"), li = find_block(&d, "Step one"), pre = find_block(&d, "code");
    int tr = find_block(&d, "x | 1"), f = find_block(&d, "Computes f."), g = find_block(&d, "Computes g.");
    int after = find_block(&d, "After the list.");
    CHECK(p1 >= 0 && !strcmp(BT(d, p1), "First bold paragraph.") && !strcmp(BP(d, p1), "Guide") &&
          !strcmp(BA(d, p1), "intro"));
    CHECK(p1 >= 0 && d.v[p1].line0 == 7);
    CHECK(li >= 0 && !strcmp(BT(d, li), "Step one") && !strcmp(BP(d, li), "Guide > Install") && !strcmp(BA(d, li), "install"));
    CHECK(pre >= 0 && d.v[pre].kind == XF_BLOCK_CODE && !strcmp(BT(d, pre), "  code   kept\n    as is"));
    CHECK(find_block(&d, "Name | Value") >= 0 && tr >= 0);
    CHECK(f >= 0 && !strcmp(BP(d, f), "Guide > Install > f(x)") && !strcmp(BA(d, f), "api.f"));
    CHECK(g >= 0 && !strcmp(BP(d, g), "Guide > Install > g(y)") && !strcmp(BA(d, g), "api.g"));
    CHECK(after >= 0 && !strcmp(BP(d, after), "Guide > Install") && !strcmp(BA(d, after), "install"));

    /* headings with ids (no sections): the anchor follows the last heading */
    const char *h = "<h2 id=a>A</h2><p>under a</p><h2 id=b>B</h2><p>under b</p>";
    CHECK(xf_parse_html(h, strlen(h), &d) == XF_OK);
    int ua = find_block(&d, "under a"), ub = find_block(&d, "under b");
    CHECK(ua >= 0 && !strcmp(BA(d, ua), "a") && ub >= 0 && !strcmp(BA(d, ub), "b") && !strcmp(BP(d, ub), "B"));

    /* malformed: unclosed tags, stray closers, broken attributes */
    const char *bad = "<html><body><h1>Broken<p>one <b>two <i>three</p></div></span><p class='x>four<td>five";
    CHECK(xf_parse_html(bad, strlen(bad), &d) == XF_OK);
    CHECK(any_block_has(&d, "one two three"));
    /* Latin-1 bytes without a declared charset: valid UTF-8 out */
    const char *latin = "<p>caf\xe9 na\xefve</p>";
    CHECK(xf_parse_html(latin, strlen(latin), &d) == XF_OK);
    CHECK(d.n == 1 && !strcmp(BT(d, 0), "caf\xC3\xA9 na\xC3\xAFve"));
    /* binary garbage: no crash, valid output */
    unsigned char bin[4096];
    xf_t_seed(7);
    for (size_t i = 0; i < sizeof bin; i++) bin[i] = (unsigned char)(xf_t_rand32() & 0xff);
    CHECK(xf_parse_html((const char *)bin, sizeof bin, &d) == XF_OK);
    int valid = 1;
    for (size_t i = 0; i < d.n; i++) {
        xf_tok_buf tmp = {0};
        xf_utf8_sanitize(BT(d, i), d.v[i].text.len, &tmp);
        if (tmp.len != d.v[i].text.len || memchr(BT(d, i), 0, d.v[i].text.len)) valid = 0;
        xf_buf_free(&tmp);
    }
    CHECK(valid);
    xf_doc_free(&d);
}

static void test_html_huge(void) {
    /* a 10 MB single line: words in one paragraph, a few tags */
    size_t n = 10u << 20;
    char *s = malloc(n + 1);
    memcpy(s, "<html><body><h1>Big</h1><p>", 27);
    for (size_t i = 27; i < n - 4; i++) s[i] = (i % 7 == 0) ? ' ' : (char)('a' + i % 26);
    memcpy(s + n - 4, "</p>", 4);
    s[n] = '\0';
    xf_doc d = {0};
    clock_t t0 = clock();
    CHECK(xf_parse_html(s, n, &d) == XF_OK);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(d.n >= 2);
    size_t text = 0;
    for (size_t i = 0; i < d.n; i++) text += d.v[i].text.len;
    CHECK_MSG(text > (size_t)5 << 20, "only %zu bytes of text kept from a 10 MB line", text);
    CHECK_MSG(secs < 30, "10 MB line took %.1f s", secs);
    /* ... and its chunks, with a real tokenizer, in bounded time */
    xf_tokenizer *tok = NULL;
    CHECK(xf_tokenizer_load(xf_t_src("tests/data/tiny/bert/tokenizer.json"), &tok) == XF_OK);
    xf_chunks c = {0};
    xf_chunk_cfg cfg = {tok, 64, 0, XF_CHUNK_DOM};
    t0 = clock();
    CHECK(tok && xf_chunk_doc(&d, &cfg, &c) == XF_OK && c.n > 10000);
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    fprintf(stderr, "10 MB line: parsed, %zu chunks in %.1f s\n", c.n, secs);
    CHECK_MSG(secs < 60, "chunking the 10 MB line took %.1f s", secs);
    xf_chunks_free(&c);
    xf_tokenizer_free(tok);
    /* 100000 nested elements */
    size_t depth = 100000;
    char *deep = malloc(depth * 5 + 16);
    size_t k = 0;
    for (size_t i = 0; i < depth; i++) memcpy(deep + k, "<div>", 5), k += 5;
    memcpy(deep + k, "deep text", 9);
    k += 9;
    CHECK(xf_parse_html(deep, k, &d) == XF_OK);
    free(deep);
    xf_doc_free(&d);
    free(s);
}

/* Chunk a document and check every embedding text against the limit with the tokenizer. */
static size_t check_chunks(const xf_doc *d, const xf_chunk_cfg *cfg, xf_chunks *c, const char *what) {
    CHECK(xf_chunk_doc(d, cfg, c) == XF_OK);
    xf_tok_buf b = {0};
    size_t over = 0;
    for (size_t i = 0; i < c->n; i++) {
        size_t nt;
        xf_chunk_embed_text(c, i, &b);
        xf_count_tokens(cfg->tok, b.data, b.len, &nt);
        if (nt > cfg->max_tokens) over++;
    }
    CHECK_MSG(over == 0, "%s: %zu of %zu chunks over %zu tokens", what, over, c->n, cfg->max_tokens);
    xf_buf_free(&b);
    return c->n;
}

static void test_chunking(void) {
    xf_tokenizer *tok = NULL;
    CHECK(xf_tokenizer_load(xf_t_src("tests/data/tiny/bert/tokenizer.json"), &tok) == XF_OK);
    if (!tok) return;
    xf_doc d = {0};
    CHECK(xf_parse_html(HTML, strlen(HTML), &d) == XF_OK);
    xf_chunks c = {0};
    xf_chunk_cfg cfg = {tok, 64, 0, XF_CHUNK_DOM};
    check_chunks(&d, &cfg, &c, "dom/64");
    /* DOM chunks never mix sections; definitions are packed with their terms in front */
    int found = 0;
    for (size_t i = 0; i < c.n; i++) {
        const char *t = xf_doc_str(&c.store, c.v[i].text), *p = xf_doc_str(&c.store, c.v[i].path);
        if (strstr(t, "Computes f.")) found = !strcmp(p, "Guide > Install") && strstr(t, "f(x)\nComputes f.\ng(y)\nComputes g.");
        CHECK(!strstr(t, "First bold") || !strcmp(p, "Guide"));
    }
    CHECK(found);
    /* a full chunk does not end with a term whose definition went to the next one */
    char dl[6000] = "<h1>API</h1><dl>";
    for (int i = 0; i < 40; i++) {
        char e[128];
        snprintf(e, sizeof e, "<dt>func%d(x)</dt><dd><p>Does thing number %d with x and returns it.</p></dd>", i, i);
        strcat(dl, e);
    }
    strcat(dl, "</dl>");
    CHECK(xf_parse_html(dl, strlen(dl), &d) == XF_OK);
    check_chunks(&d, &cfg, &c, "definitions/64");
    int orphan = 0, defs = 0;
    for (size_t i = 0; i < c.n; i++) {
        const char *t = xf_doc_str(&c.store, c.v[i].text);
        const char *last = strrchr(t, '\n');
        if (last && !strncmp(last + 1, "func", 4)) orphan = 1;
        for (const char *p = t; (p = strstr(p, "Does thing")); p++) defs++;
    }
    CHECK_MSG(!orphan && defs == 40 && c.n > 2, "orphan term %d, %d definitions in %zu chunks", orphan, defs, c.n);
    /* a long paragraph is cut into several chunks within the limit; tiny limits too */
    char para[8000] = "<h1>Long</h1><p>";
    for (int i = 0; i < 600; i++) strcat(para, i % 10 ? "word " : "sentence. ");
    strcat(para, "</p>");
    CHECK(xf_parse_html(para, strlen(para), &d) == XF_OK);
    CHECK(check_chunks(&d, &cfg, &c, "long paragraph") > 5);
    cfg.max_tokens = 8;
    CHECK(check_chunks(&d, &cfg, &c, "limit 8") > 100);
    /* fixed windows: within the limit, overlapping, covering every word in order */
    cfg = (xf_chunk_cfg){tok, 32, 8, XF_CHUNK_FIXED};
    size_t n = check_chunks(&d, &cfg, &c, "fixed/32/8");
    CHECK(n > 10);
    int overlap = 1;
    for (size_t i = 1; i < c.n && overlap; i++) {
        const char *prev = xf_doc_str(&c.store, c.v[i - 1].text), *cur = xf_doc_str(&c.store, c.v[i].text);
        /* the first word of a window appears in the previous one's tail */
        char first[32] = {0};
        sscanf(cur, "%31s", first);
        overlap = strstr(prev + c.v[i - 1].text.len / 2, first) != NULL;
    }
    CHECK_MSG(overlap, "fixed windows do not overlap");
    cfg.overlap = 0;
    n = check_chunks(&d, &cfg, &c, "fixed/32/0");
    size_t words = 0;
    for (size_t i = 0; i < c.n; i++) {
        const char *t = xf_doc_str(&c.store, c.v[i].text);
        for (size_t k = 0; t[k]; k++) words += (t[k] != ' ' && t[k] != '\n') && (k == 0 || t[k - 1] == ' ' || t[k - 1] == '\n');
    }
    CHECK_MSG(words == 601, "fixed windows without overlap hold %zu words, expected 601", words);
    /* no tokenizer: one token per word */
    cfg = (xf_chunk_cfg){NULL, 16, 0, XF_CHUNK_DOM};
    CHECK(xf_chunk_doc(&d, &cfg, &c) == XF_OK && c.n >= 38);
    cfg.max_tokens = 2; /* leaves no room beside [CLS] [SEP] */
    cfg.tok = tok;
    CHECK(xf_chunk_doc(&d, &cfg, &c) == XF_ERR_INVALID_ARG);
    xf_chunks_free(&c);
    xf_doc_free(&d);
    xf_tokenizer_free(tok);
}

int main(void) {
    test_sha256();
    test_dot_topk();
    test_text();
    test_markdown();
    test_html();
    test_html_huge();
    test_chunking();
    printf("%d passed, %d failed\n", xf_t_passed, xf_t_failed);
    return xf_t_failed ? 1 : 0;
}
