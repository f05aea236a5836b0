/* test_chat_template.c — chat templates: real template texts rendered by the Jinja engine and the
 * built-in formats by name, both byte-exact against transformers' apply_chat_template goldens
 * (tests/data/chat/, made by scripts/make_chat_goldens.py); role / alternation errors; templates
 * outside the Jinja subset refused with the construct named. (tests/test_jinja_goldens.c checks
 * the templates of many more model families.) */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "harness.h"
#include "tokenizer/chat_template.h"
#include "xfmr.h"

static const char *NAMES[] = {"smollm2", "qwen2", "llama3", "llama2", "mistral", "zephyr"};
static int g_cases, g_matched, g_errors_matched;

/* Render one golden case with tmpl; compare to "output" or expect an error for "error". */
static void check_case(const char *name, const char *via, const xf_chat_template *t,
                       const cJSON *convs, const cJSON *c) {
    int ci = cJSON_GetObjectItem(c, "conversation")->valueint;
    int agp = cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt"));
    const cJSON *msgs = cJSON_GetObjectItem(cJSON_GetArrayItem(convs, ci), "messages");
    size_t n = (size_t)cJSON_GetArraySize(msgs);
    xf_chat_message m[16];
    CHECK(n <= 16);
    for (size_t i = 0; i < n && i < 16; i++) {
        const cJSON *o = cJSON_GetArrayItem(msgs, (int)i);
        m[i].role = cJSON_GetObjectItem(o, "role")->valuestring;
        m[i].content = cJSON_GetObjectItem(o, "content")->valuestring;
    }
    char *out = (char *)1;
    size_t len = 99;
    xf_status st = xf_chat_render(t, m, n, agp, &out, &len);
    const cJSON *want = cJSON_GetObjectItem(c, "output");
    g_cases++;
    if (want) {
        size_t wl = strlen(want->valuestring);
        int ok = st == XF_OK && out && len == wl && memcmp(out, want->valuestring, wl) == 0 &&
                 out[len] == '\0';
        CHECK_MSG(ok, "%s (%s): conversation %d agp %d: status %d (%s)\n got: [%s]\nwant: [%s]",
                  name, via, ci, agp, (int)st, xf_errmsg(), st == XF_OK ? out : "",
                  want->valuestring);
        g_matched += ok;
    } else {
        int ok = st == XF_ERR_INVALID_ARG && out == NULL && len == 0 && *xf_errmsg();
        CHECK_MSG(ok, "%s (%s): conversation %d agp %d should fail (template raises \"%s\"), "
                  "got status %d", name, via, ci, agp,
                  cJSON_GetObjectItem(c, "error")->valuestring, (int)st);
        g_errors_matched += ok;
    }
    if (st == XF_OK) free(out);
}

static void test_goldens(void) {
    for (size_t k = 0; k < sizeof NAMES / sizeof *NAMES; k++) {
        char rel[128];
        snprintf(rel, sizeof rel, "tests/data/chat/%s.json", NAMES[k]);
        cJSON *doc = NULL;
        xf_status st = xf_json_load(xf_t_src(rel), &doc);
        CHECK_MSG(st == XF_OK, "%s: %s", rel, xf_errmsg());
        if (st != XF_OK) continue;
        const char *text = cJSON_GetObjectItem(doc, "chat_template")->valuestring;
        const cJSON *convs = cJSON_GetObjectItem(doc, "conversations");
        const cJSON *cases = cJSON_GetObjectItem(doc, "cases");

        xf_chat_template *det = NULL, *byname = NULL;
        const cJSON *bos = cJSON_GetObjectItem(doc, "bos_token"), *eos = cJSON_GetObjectItem(doc, "eos_token");
        st = xf_chat_template_from_text(text, cJSON_IsString(bos) ? bos->valuestring : NULL,
                                        cJSON_IsString(eos) ? eos->valuestring : NULL, &det);
        CHECK_MSG(st == XF_OK, "%s: compile: %s", NAMES[k], xf_errmsg());
        if (det) {
            CHECK_MSG(!strcmp(xf_chat_template_name(det), "jinja"), "%s compiled as %s", NAMES[k],
                      xf_chat_template_name(det));
            CHECK(xf_chat_template_adds_bos(det) && xf_chat_template_default_system(det) == NULL);
        }
        st = xf_chat_template_from_name(NAMES[k], &byname);
        CHECK(st == XF_OK && byname && !strcmp(xf_chat_template_name(byname), NAMES[k]));

        for (const cJSON *c = cases ? cases->child : NULL; c; c = c->next) {
            if (det) check_case(NAMES[k], "jinja", det, convs, c);
            if (byname) check_case(NAMES[k], "by name", byname, convs, c);
        }
        xf_chat_template_free(det);
        xf_chat_template_free(byname);
        cJSON_Delete(doc);
    }
}

static int has_stop(const xf_chat_template *t, const char *s) {
    size_t n = 0;
    const char *const *v = xf_chat_template_stops(t, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s)) return 1;
    return 0;
}

static void test_names_and_stops(void) {
    const char *all[] = {"chatml", "smollm2", "qwen2", "llama3", "llama2", "mistral", "zephyr"};
    for (size_t i = 0; i < 7; i++) {
        xf_chat_template *t = NULL;
        CHECK(xf_chat_template_from_name(all[i], &t) == XF_OK && t);
        CHECK(strstr(xf_chat_template_names(), all[i]) != NULL);
        if (!t) continue;
        CHECK(!strcmp(xf_chat_template_name(t), all[i]));
        size_t n = 0;
        CHECK(xf_chat_template_stops(t, &n) && n >= 1);
        xf_chat_template_free(t);
    }
    xf_chat_template *t = NULL;
    xf_chat_template_from_name("chatml", &t);
    CHECK(has_stop(t, "<|im_end|>") && !xf_chat_template_adds_bos(t) &&
          xf_chat_template_default_system(t) == NULL);
    xf_chat_message one = {"user", "hi"};
    char *out = NULL;
    CHECK(xf_chat_render(t, &one, 1, 1, &out, NULL) == XF_OK && out &&
          !strcmp(out, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"));
    free(out);
    xf_chat_template_free(t);
    xf_chat_template_from_name("llama3", &t);
    CHECK(has_stop(t, "<|eot_id|>") && xf_chat_template_adds_bos(t));
    xf_chat_template_free(t);
    xf_chat_template_from_name("llama2", &t);
    CHECK(has_stop(t, "</s>") && xf_chat_template_adds_bos(t));
    xf_chat_template_free(t);
    xf_chat_template_from_name("zephyr", &t);
    CHECK(has_stop(t, "</s>") && !xf_chat_template_adds_bos(t));
    xf_chat_template_free(t);
    xf_chat_template_from_name("qwen2", &t);
    CHECK(!strcmp(xf_chat_template_default_system(t), "You are a helpful assistant."));
    xf_chat_template_free(t);

    /* Unknown name: XF_ERR_UNSUPPORTED, the message lists the known names. */
    t = (xf_chat_template *)1;
    CHECK(xf_chat_template_from_name("vicuna", &t) == XF_ERR_UNSUPPORTED && t == NULL);
    CHECK(strstr(xf_errmsg(), "vicuna") && strstr(xf_errmsg(), "llama3") &&
          strstr(xf_errmsg(), "zephyr"));
    CHECK(xf_chat_template_from_name(NULL, &t) == XF_ERR_INVALID_ARG);
    CHECK(xf_chat_template_from_name("chatml", NULL) == XF_ERR_INVALID_ARG);
    xf_chat_template_free(NULL);
    CHECK(!strcmp(xf_chat_template_name(NULL), ""));
}

/* Templates the marker-based detection of earlier versions refused now compile; Jinja outside
 * the subset is refused with the construct, line and column named. */
static void test_template_texts(void) {
    const char *ok[] = {
        "{% for message in messages %}{{ message['content'] }}{% endfor %}",
        "{%- if tools %}<|im_start|>system\n{%- endif %}{{ '<think>' }}<|im_end|>",
        "<|start_header_id|>system<|end_header_id|>Cutting Knowledge Date: December 2023<|eot_id|>",
        "{% for message in messages %}{{ '<|user|>\n' + message['content'] + '<|end|>\n<|assistant|>\n' }}{% endfor %}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        xf_chat_template *t = NULL;
        CHECK_MSG(xf_chat_template_detect(ok[i], &t) == XF_OK && t, "text %zu: %s", i, xf_errmsg());
        xf_chat_template_free(t);
    }
    struct { const char *text, *needle; xf_status st; } bad[] = {
        {"", "empty", XF_ERR_INVALID_ARG},
        {"{% include 'x.jinja' %}", "line 1, column 4: unsupported Jinja tag 'include'", XF_ERR_UNSUPPORTED},
        {"a\n{% call m() %}{% endcall %}", "line 2, column 4: unsupported Jinja tag 'call'", XF_ERR_UNSUPPORTED},
        {"{{ x | groupby('a') }}", "line 1, column 8: unknown filter 'groupby'", XF_ERR_UNSUPPORTED},
        {"{% if x is prime %}{% endif %}", "unknown test 'prime'", XF_ERR_UNSUPPORTED},
        {"{% for x in y recursive %}{% endfor %}", "recursive for loops", XF_ERR_UNSUPPORTED},
        {"{{ f(*args) }}", "*args", XF_ERR_UNSUPPORTED},
        {"{% if x %}", "missing '{% endif %}'", XF_ERR_INVALID_ARG},
        {"{% endfor %}", "unexpected '{% endfor %}'", XF_ERR_INVALID_ARG},
        {"{{ 'abc }}", "unterminated string", XF_ERR_INVALID_ARG},
        {"{{ 1 + }}", "line 1, column 8: unexpected '}}'", XF_ERR_INVALID_ARG},
        {"{% break %}", "'break' outside of a for loop", XF_ERR_INVALID_ARG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xf_chat_template *t = (xf_chat_template *)1;
        xf_status st = xf_chat_template_detect(bad[i].text, &t);
        CHECK_MSG(st == bad[i].st && t == NULL && strstr(xf_errmsg(), bad[i].needle) &&
                      strstr(xf_errmsg(), "--chat-template"),
                  "text %zu: status %d, message: %s", i, (int)st, xf_errmsg());
    }
    xf_chat_template *t = NULL;
    CHECK(xf_chat_template_detect(NULL, &t) == XF_ERR_INVALID_ARG);
    /* A ChatML template with its own default system message renders it. */
    const char *custom = "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are "
                         "Bob, it\\'s fine.<|im_end|>\\n' }}{% endif %}{% for message in messages %}"
                         "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                         "'<|im_end|>' + '\\n'}}{% endfor %}";
    CHECK(xf_chat_template_detect(custom, &t) == XF_OK && t);
    if (t) {
        xf_chat_message m = {"user", "Hi"};
        char *out = NULL;
        CHECK(xf_chat_render(t, &m, 1, 0, &out, NULL) == XF_OK && out &&
              !strcmp(out, "<|im_start|>system\nYou are Bob, it's fine.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"));
        size_t n = 0;
        const char *const *stops = xf_chat_template_stops(t, &n);
        CHECK(n == 1 && !strcmp(stops[0], "<|im_end|>"));
        free(out);
        /* a role the built-in formats refuse is the template's business */
        xf_chat_message tool[] = {{"user", "Hi"}, {"tool", "42"}};
        CHECK(xf_chat_render(t, tool, 2, 0, &out, NULL) == XF_OK && out && strstr(out, "<|im_start|>tool\n42"));
        free(out);
    }
    xf_chat_template_free(t);
}

static xf_status render_roles(const char *name, const char **roles, size_t n) {
    xf_chat_template *t = NULL;
    if (xf_chat_template_from_name(name, &t) != XF_OK) return XF_ERR_IO;
    xf_chat_message m[8];
    for (size_t i = 0; i < n; i++) {
        m[i].role = roles[i];
        m[i].content = "x";
    }
    char *out = (char *)1;
    xf_status st = xf_chat_render(t, m, n, 1, &out, NULL);
    if (st == XF_OK) free(out);
    else CHECK(out == NULL);
    xf_chat_template_free(t);
    return st;
}

static void test_roles(void) {
    const char *ua[] = {"user", "assistant", "user"};
    const char *uu[] = {"user", "user"};
    const char *su[] = {"system", "user"};
    const char *usu[] = {"user", "system", "user"};
    const char *uas[] = {"user", "assistant", "system"};
    const char *tool[] = {"user", "tool"};
    const char *a1[] = {"assistant"};
    for (size_t k = 0; k < 7; k++) {
        const char *nm = k < 6 ? NAMES[k] : "chatml";
        CHECK(render_roles(nm, ua, 3) == XF_OK);
        CHECK(render_roles(nm, tool, 2) == XF_ERR_INVALID_ARG);
        CHECK(strstr(xf_errmsg(), "tool") && strstr(xf_errmsg(), "message 1"));
    }
    CHECK(render_roles("llama2", uu, 2) == XF_ERR_INVALID_ARG);
    CHECK(strstr(xf_errmsg(), "alternat") && strstr(xf_errmsg(), "message 1"));
    CHECK(render_roles("llama2", su, 2) == XF_OK);
    CHECK(render_roles("llama2", usu, 3) == XF_ERR_INVALID_ARG);
    CHECK(render_roles("llama2", uas, 3) == XF_ERR_INVALID_ARG);
    CHECK(render_roles("llama2", a1, 1) == XF_ERR_INVALID_ARG);
    CHECK(render_roles("mistral", uu, 2) == XF_ERR_INVALID_ARG);
    CHECK(render_roles("mistral", su, 2) == XF_ERR_INVALID_ARG);
    CHECK(strstr(xf_errmsg(), "system"));
    CHECK(render_roles("mistral", a1, 1) == XF_ERR_INVALID_ARG);
    CHECK(render_roles("llama3", uu, 2) == XF_OK);
    CHECK(render_roles("zephyr", usu, 3) == XF_OK);
    CHECK(render_roles("smollm2", a1, 1) == XF_OK);

    xf_chat_template *t = NULL;
    xf_chat_template_from_name("llama3", &t);
    xf_chat_message nul[] = {{"user", NULL}}, nor[] = {{NULL, "x"}};
    char *out = NULL;
    CHECK(xf_chat_render(t, nul, 1, 0, &out, NULL) == XF_ERR_INVALID_ARG && !out);
    CHECK(xf_chat_render(t, nor, 1, 0, &out, NULL) == XF_ERR_INVALID_ARG && !out);
    CHECK(xf_chat_render(t, nul, 0, 0, &out, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_chat_render(t, NULL, 1, 0, &out, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_chat_render(NULL, nul, 1, 0, &out, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_chat_render(t, nul, 1, 0, NULL, NULL) == XF_ERR_INVALID_ARG);
    xf_chat_template_free(t);
}

static void test_strip(void) {
    struct { const char *in, *out; } v[] = {
        {"", ""}, {"   ", ""}, {" a ", "a"}, {"\t\n\v\f\r a b \x1c\x1d\x1e\x1f", "a b"},
        {"\xc2\xa0x\xc2\x85", "x"},                   /* NBSP, NEL */
        {"\xe3\x80\x80x\xe2\x80\x83\xe2\x80\xa8", "x"}, /* U+3000, U+2003, U+2028 */
        {"\xe2\x80\x8bx", "\xe2\x80\x8bx"},           /* U+200B is not whitespace */
        {"\xff a \xff", "\xff a \xff"},               /* invalid bytes are kept */
        {" \xf0\x9f\x91\x8b ", "\xf0\x9f\x91\x8b"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        size_t a, b;
        xf_chat_py_strip(v[i].in, strlen(v[i].in), &a, &b);
        CHECK_MSG(b - a == strlen(v[i].out) && !memcmp(v[i].in + a, v[i].out, b - a), "strip %zu", i);
    }
}

int main(void) {
    test_goldens();
    test_names_and_stops();
    test_template_texts();
    test_roles();
    test_strip();
    printf("chat goldens: %d/%d renderings matched byte for byte, %d expected errors matched\n",
           g_matched, g_cases - g_errors_matched, g_errors_matched);
    return xf_t_report();
}
