/* test_chat_template.c — chat templates: detection of real template texts, byte-exact rendering
 * against transformers' apply_chat_template goldens (tests/data/chat/, made by
 * scripts/make_chat_goldens.py), name overrides, role / alternation errors. */
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
        st = xf_chat_template_detect(text, &det);
        CHECK_MSG(st == XF_OK, "%s: detect: %s", NAMES[k], xf_errmsg());
        if (det)
            CHECK_MSG(!strcmp(xf_chat_template_name(det), NAMES[k]), "detected %s as %s", NAMES[k],
                      xf_chat_template_name(det));
        st = xf_chat_template_from_name(NAMES[k], &byname);
        CHECK(st == XF_OK && byname && !strcmp(xf_chat_template_name(byname), NAMES[k]));

        /* The same template with its newlines written as Jinja "\n" escapes is the same format. */
        size_t tl = strlen(text), j = 0;
        char *esc = malloc(2 * tl + 1);
        for (size_t i = 0; i < tl; i++) {
            if (text[i] == '\n') { esc[j++] = '\\'; esc[j++] = 'n'; }
            else esc[j++] = text[i];
        }
        esc[j] = '\0';
        xf_chat_template *det2 = NULL;
        CHECK(xf_chat_template_detect(esc, &det2) == XF_OK && det2 &&
              !strcmp(xf_chat_template_name(det2), NAMES[k]));
        if (det && det2) {
            const char *a = xf_chat_template_default_system(det), *b = xf_chat_template_default_system(det2);
            CHECK((a == NULL && b == NULL) || (a && b && !strcmp(a, b)));
        }
        free(esc);
        xf_chat_template_free(det2);

        for (const cJSON *c = cases ? cases->child : NULL; c; c = c->next) {
            if (det) check_case(NAMES[k], "detected", det, convs, c);
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

static void test_unknown_text(void) {
    const char *bad[] = {
        "",
        "{% for message in messages %}{{ message['content'] }}{% endfor %}",
        /* Vicuna-style */
        "{% for message in messages %}{% if message['role'] == 'user' %}USER: {{ message['content'] }}"
        "{% else %}ASSISTANT: {{ message['content'] }}{% endif %}{% endfor %}",
        /* Qwen3-style ChatML with <think> and tools */
        "{%- if tools %}<|im_start|>system\n{%- endif %}{{ '<think>' }}<|im_end|>",
        /* Llama 3.1 with its date header */
        "<|start_header_id|>system<|end_header_id|>Cutting Knowledge Date: December 2023<|eot_id|>",
        /* Phi-3 */
        "{{ '<|user|>\n' + message['content'] + '<|end|>\n<|assistant|>\n' }}<|system|>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xf_chat_template *t = (xf_chat_template *)1;
        xf_status st = xf_chat_template_detect(bad[i], &t);
        CHECK_MSG(st == XF_ERR_UNSUPPORTED && t == NULL, "text %zu: status %d", i, (int)st);
        CHECK(strstr(xf_errmsg(), "chatml") && strstr(xf_errmsg(), "mistral"));
    }
    xf_chat_template *t = NULL;
    CHECK(xf_chat_template_detect(NULL, &t) == XF_ERR_INVALID_ARG);
    /* A ChatML template with its own default system message keeps the text. */
    const char *custom = "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are "
                         "Bob, it\\'s fine.<|im_end|>\\n' }}{% endif %}{% for message in messages %}"
                         "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                         "'<|im_end|>' + '\\n'}}{% endfor %}";
    CHECK(xf_chat_template_detect(custom, &t) == XF_OK && t && !strcmp(xf_chat_template_name(t), "chatml"));
    if (t) {
        const char *d = xf_chat_template_default_system(t);
        CHECK(d && !strcmp(d, "You are Bob, it's fine."));
    }
    xf_chat_template_free(t);
    /* Plain ChatML (no default system message). */
    t = NULL;
    CHECK(xf_chat_template_detect("{% for message in messages %}{{'<|im_start|>' + message['role'] + "
                                  "'\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}",
                                  &t) == XF_OK && t && !strcmp(xf_chat_template_name(t), "chatml") &&
          xf_chat_template_default_system(t) == NULL);
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
    test_unknown_text();
    test_roles();
    test_strip();
    printf("chat goldens: %d/%d renderings matched byte for byte, %d expected errors matched\n",
           g_matched, g_cases - g_errors_matched, g_errors_matched);
    return xf_t_report();
}
