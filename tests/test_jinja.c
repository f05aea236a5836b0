/* test_jinja.c — the Jinja engine one construct at a time: expressions, statements, filters,
 * tests, methods, whitespace control and run-time errors against transformers' own Jinja
 * environment (tests/data/jinja/unit.json, made by scripts/make_jinja_goldens.py); compile
 * errors that name the construct and its position; the limits on steps, memory, output and
 * nesting; and malformed inputs that must fail cleanly. */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "harness.h"
#include "tokenizer/jinja.h"

static xf_status render(const char *tmpl, const char *msgs, const char *vars, const xf_jinja_limits *lim, char **out) {
    xf_jinja *j = NULL;
    *out = NULL;
    xf_status st = xf_jinja_compile(tmpl, strlen(tmpl), &j);
    if (st != XF_OK) return st;
    xf_jinja_input in = {msgs, vars, NULL, 0, 1, 1721952000};
    size_t len = 0;
    st = xf_jinja_render(j, &in, lim, out, &len);
    if (st == XF_OK) CHECK(strlen(*out) == len);
    else CHECK(*out == NULL);
    xf_jinja_free(j);
    return st;
}

static void test_unit_goldens(void) {
    cJSON *doc = NULL;
    if (xf_json_load(xf_t_src("tests/data/jinja/unit.json"), &doc) != XF_OK) {
        CHECK_MSG(0, "unit.json: %s", xf_errmsg());
        return;
    }
    cJSON *vars = cJSON_GetObjectItem(doc, "vars");
    char *msgs = cJSON_PrintUnformatted(cJSON_GetObjectItem(vars, "msgs"));
    char *vtext = cJSON_PrintUnformatted(vars);
    int n = 0, ok_n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) {
        const char *t = cJSON_GetArrayItem(c, 0)->valuestring;
        const cJSON *want = cJSON_GetArrayItem(c, 1);
        char *out = NULL;
        xf_status st = render(t, msgs, vtext, NULL, &out);
        int ok;
        if (cJSON_IsString(want)) {
            ok = st == XF_OK && !strcmp(out, want->valuestring);
            CHECK_MSG(ok, "template %s\n got: [%s] (%s)\nwant: [%s]", t, out ? out : "", st ? xf_errmsg() : "",
                      want->valuestring);
        } else {
            ok = st != XF_OK && *xf_errmsg();
            CHECK_MSG(ok, "template %s: should fail (%s), got [%s]", t, cJSON_GetArrayItem(c, 2)->valuestring,
                      out ? out : "");
        }
        n++;
        ok_n += ok;
        free(out);
    }
    printf("unit goldens: %d/%d as transformers\n", ok_n, n);
    free(msgs);
    free(vtext);
    cJSON_Delete(doc);
}

/* Error messages: the kind, the construct and where. */
static void test_errors(void) {
    struct {
        const char *tmpl;
        xf_status st;
        const char *needle;
    } v[] = {
        {"{{ raise_exception('Only user and assistant roles are supported!') }}", XF_ERR_INVALID_ARG,
         "chat template error: Only user and assistant roles are supported!"},
        {"\n\n  {{ x.y }}", XF_ERR_INVALID_ARG, "line 3, column 7: 'x' is undefined"},
        {"{{ 'a' + 1 }}", XF_ERR_INVALID_ARG, "unsupported operand type(s) for +: 'str' and 'int'"},
        {"{{ [1].append(2) }}", XF_ERR_INVALID_ARG, "'append' of 'list' object is unsafe"},
        {"{% set a, b = [1] %}", XF_ERR_INVALID_ARG, "cannot unpack 1 values into 2 names"},
        {"{{ 2 ** 70 }}", XF_ERR_UNSUPPORTED, "integer overflow"},
        {"{{ {} | tojson(ensure_ascii=true) }}", XF_ERR_UNSUPPORTED, "ensure_ascii"},
        {"{{ cycler(1, 2) }}", XF_ERR_UNSUPPORTED, "'cycler' is not supported"},
        {"{{ '{:>4}'.format(1) }}", XF_ERR_UNSUPPORTED, "str.format"},
        {"{% set ns = namespace() %}{% set ns._x = 1 %}", XF_ERR_INVALID_ARG, "underscore"},
        {"{% set x = 1 %}{% set x.y = 2 %}", XF_ERR_INVALID_ARG, "non-namespace"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char *out = NULL;
        xf_status st = render(v[i].tmpl, "[]", NULL, NULL, &out);
        CHECK_MSG(st == v[i].st && strstr(xf_errmsg(), v[i].needle), "%zu: status %d, message %s", i, (int)st,
                  xf_errmsg());
        free(out);
    }
    /* compile errors */
    struct {
        const char *tmpl;
        xf_status st;
        const char *needle;
    } c[] = {
        {"{% extends 'base' %}", XF_ERR_UNSUPPORTED, "line 1, column 4: unsupported Jinja tag 'extends'"},
        {"x\n\n   {{ y | center(4) }}", XF_ERR_UNSUPPORTED, "line 3, column 11: unknown filter 'center'"},
        {"{% with x = 1 %}{% endwith %}", XF_ERR_UNSUPPORTED, "'with'"},
        {"{% frobnicate %}", XF_ERR_INVALID_ARG, "unknown tag 'frobnicate'"},
        {"{{ a.b.c(", XF_ERR_INVALID_ARG, "unclosed '{{'"},
        {"{{ (1, 2 }}", XF_ERR_INVALID_ARG, "line 1, column"},
        {"{% for x in %}{% endfor %}", XF_ERR_INVALID_ARG, "unexpected '%}'"},
        {"{% if x %}{% else %}{% else %}{% endif %}", XF_ERR_INVALID_ARG, "else"},
        {"{% macro m(a=1, b) %}{% endmacro %}", XF_ERR_INVALID_ARG, "non-default parameter"},
        {"{{ 'x' is not }}", XF_ERR_INVALID_ARG, "a name"},
        {"{{ x is defined is none }}", XF_ERR_INVALID_ARG, "chained"},
        {"{# never closed", XF_ERR_INVALID_ARG, "unclosed comment"},
        {"{{ '\\u12' }}", XF_ERR_INVALID_ARG, "escape"},
        {"{{ 99999999999999999999 }}", XF_ERR_UNSUPPORTED, "integer literal too large"},
        {"{{ a ? b }}", XF_ERR_INVALID_ARG, "unexpected character '?'"},
        {"{{ '\\N{BULLET}' }}", XF_ERR_UNSUPPORTED, "\\N{...} escapes"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        xf_jinja *j = (xf_jinja *)1;
        xf_status st = xf_jinja_compile(c[i].tmpl, strlen(c[i].tmpl), &j);
        CHECK_MSG(st == c[i].st && j == NULL && strstr(xf_errmsg(), c[i].needle), "compile %zu: status %d, message %s",
                  i, (int)st, xf_errmsg());
    }
    /* malformed JSON input */
    char *out = NULL;
    CHECK(render("{{ messages }}", "[{\"role\": ", NULL, NULL, &out) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "JSON"));
    CHECK(render("{{ messages }}", "{}", NULL, NULL, &out) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "array"));
    CHECK(render("{{ messages }}", "[1]", NULL, NULL, &out) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "message 0"));
    CHECK(render("{{ x }}", "[]", "[1]", NULL, &out) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "object"));
}

/* Bounded work on untrusted templates. */
static void test_limits(void) {
    char *out = NULL;
    xf_jinja_limits small = {1000, 16u << 20, 100000};
    xf_jinja_limits few_steps = {0, 0, 10000};
    CHECK(render("{% for i in range(50000) %}{% endfor %}", "[]", NULL, &few_steps, &out) == XF_ERR_RANGE &&
          strstr(xf_errmsg(), "more than 10000 steps"));
    CHECK(render("{% for i in range(1000000) %}{% endfor %}", "[]", NULL, &small, &out) == XF_ERR_RANGE &&
          strstr(xf_errmsg(), "memory"));
    CHECK(render("{% for i in range(100) %}{{ 'xxxxxxxxxxxxxxxxxxxx' }}{% endfor %}", "[]", NULL, &small, &out) ==
              XF_ERR_RANGE && strstr(xf_errmsg(), "output larger than 1000 bytes"));
    CHECK(render("{{ 'x' * 100000000 }}", "[]", NULL, &small, &out) == XF_ERR_RANGE && strstr(xf_errmsg(), "memory"));
    CHECK(render("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                 "[]", NULL, NULL, &out) == XF_ERR_RANGE);
    CHECK(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "[]", NULL, NULL, &out) == XF_ERR_RANGE &&
          strstr(xf_errmsg(), "macro calls nested deeper"));
    CHECK(render("{{ range(100000000)|list }}", "[]", NULL, NULL, &out) == XF_ERR_RANGE);
    /* nesting of the syntax itself */
    size_t n = 5000;
    char *deep = calloc(1, 2 * n + 16);
    CHECK(deep != NULL);
    if (!deep) return;
    strcpy(deep, "{{ ");
    for (size_t i = 0; i < n; i++) deep[3 + i] = '(';
    deep[3 + n] = '1';
    for (size_t i = 0; i < n; i++) deep[4 + n + i] = ')';
    strcpy(deep + 4 + 2 * n, " }}");
    xf_jinja *j = NULL;
    CHECK(xf_jinja_compile(deep, strlen(deep), &j) == XF_ERR_RANGE && strstr(xf_errmsg(), "nesting deeper"));
    memset(deep, 0, 2 * n + 16);
    for (size_t i = 0; i < 200; i++) strcat(deep, "{% if x %}");
    CHECK(xf_jinja_compile(deep, strlen(deep), &j) == XF_ERR_RANGE);
    free(deep);
    /* JSON input nested too deeply */
    char *js = malloc(1000 + 1);
    memset(js, '[', 1000);
    js[1000] = 0;
    CHECK(render("{{ messages }}", js, NULL, NULL, &out) == XF_ERR_INVALID_ARG);
    free(js);
    /* a huge but legal render stays within the default limits and works */
    CHECK(render("{% for i in range(20000) %}{{ i }},{% endfor %}", "[]", NULL, NULL, &out) == XF_OK && out &&
          strlen(out) == 108890);
    free(out);
}

/* Garbage must never crash: every prefix of a real template, and byte soup. */
static void test_garbage(void) {
    size_t len = 0;
    char *raw = xf_t_slurp(xf_t_src("tests/data/jinja/templates/qwen3.jinja"), &len);
    CHECK(raw != NULL);
    if (!raw) return;
    int compiled = 0;
    for (size_t cut = 0; cut <= len; cut += 7) {
        xf_jinja *j = NULL;
        if (xf_jinja_compile(raw, cut, &j) == XF_OK) {
            compiled++;
            char *out = NULL;
            xf_jinja_input in = {"[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, NULL, 0, 1, 0};
            if (xf_jinja_render(j, &in, NULL, &out, NULL) == XF_OK) free(out);
        }
        xf_jinja_free(j);
    }
    CHECK(compiled > 0);
    free(raw);
    xf_t_seed(17);
    static const char *const bits[] = {"{{", "}}", "{%", "%}", "{#", "#}", "-", "+", "if", "for", "in", "x",
                                       "'", "\"", "(", ")", "[", "]", "|", "~", "\n", " ", "endif", "endfor", "é"};
    for (int r = 0; r < 2000; r++) {
        char buf[256] = {0};
        size_t k = 0;
        while (k < 200) {
            const char *b = bits[xf_t_rand32() % (sizeof bits / sizeof *bits)];
            size_t bl = strlen(b);
            memcpy(buf + k, b, bl);
            k += bl;
        }
        xf_jinja *j = NULL;
        if (xf_jinja_compile(buf, k, &j) == XF_OK) {
            char *out = NULL;
            xf_jinja_input in = {"[]", "{}", NULL, 0, 0, 0};
            if (xf_jinja_render(j, &in, NULL, &out, NULL) == XF_OK) free(out);
        }
        xf_jinja_free(j);
    }
}

int main(void) {
    test_unit_goldens();
    test_errors();
    test_limits();
    test_garbage();
    return xf_t_report();
}
