/* chat_template.c — chat templates: a model's own Jinja template (compiled by jinja.h) or one of
 * the built-in named formats (see chat_template.h, docs/CHAT.md). */
#include "tokenizer/chat_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include "tokenizer/jinja_impl.h" /* jj_strip */

#define XF_CHAT_NAMES "chatml, smollm2, qwen2, llama3, llama2, mistral, zephyr"

static const char SMOLLM2_SYSTEM[] = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
static const char QWEN2_SYSTEM[] = "You are a helpful assistant.";

#define XF_CHAT_MAX_STOPS 8

struct xf_chat_template {
    xf_chat_kind kind;
    const char *name;     /* static */
    char *default_system; /* ChatML: system message inserted when the first one is not; or NULL */
    const char *stops[XF_CHAT_MAX_STOPS];
    size_t n_stops;
    int adds_bos;
    xf_jinja *jinja; /* XF_CHAT_JINJA */
    char *bos, *eos; /* XF_CHAT_JINJA: bos_token / eos_token as the template sees them, or NULL */
};

/* ------------------------------------------------------------ handles */

static xf_status make(xf_chat_kind kind, const char *name, const char *default_system,
                      xf_chat_template **out) {
    xf_chat_template *t = xf_calloc(1, sizeof *t);
    if (!t) return xf_error(XF_ERR_NOMEM, "chat template: out of memory");
    t->kind = kind;
    t->name = name;
    if (default_system) {
        t->default_system = xf_strdup(default_system);
        if (!t->default_system) {
            free(t);
            return xf_error(XF_ERR_NOMEM, "chat template: out of memory");
        }
    }
    switch (kind) {
    case XF_CHAT_CHATML:
        t->stops[0] = "<|im_end|>";
        t->stops[1] = "<|endoftext|>";
        t->n_stops = 2;
        break;
    case XF_CHAT_LLAMA3:
        t->stops[0] = "<|eot_id|>";
        t->stops[1] = "<|end_of_text|>";
        t->n_stops = 2;
        t->adds_bos = 1;
        break;
    case XF_CHAT_LLAMA2:
    case XF_CHAT_MISTRAL:
        t->stops[0] = "</s>";
        t->n_stops = 1;
        t->adds_bos = 1;
        break;
    case XF_CHAT_ZEPHYR:
        t->stops[0] = "</s>";
        t->n_stops = 1;
        break;
    case XF_CHAT_JINJA: break;
    }
    *out = t;
    return XF_OK;
}

void xf_chat_template_free(xf_chat_template *tmpl) {
    if (!tmpl) return;
    free(tmpl->default_system);
    xf_jinja_free(tmpl->jinja);
    free(tmpl->bos);
    free(tmpl->eos);
    free(tmpl);
}

const char *xf_chat_template_names(void) { return XF_CHAT_NAMES; }

const char *xf_chat_template_name(const xf_chat_template *tmpl) { return tmpl ? tmpl->name : ""; }

xf_chat_kind xf_chat_template_kind(const xf_chat_template *tmpl) { return tmpl->kind; }

const char *xf_chat_template_default_system(const xf_chat_template *tmpl) {
    return tmpl ? tmpl->default_system : NULL;
}

const char *const *xf_chat_template_stops(const xf_chat_template *tmpl, size_t *n) {
    if (n) *n = tmpl ? tmpl->n_stops : 0;
    return tmpl ? tmpl->stops : NULL;
}

int xf_chat_template_adds_bos(const xf_chat_template *tmpl) { return tmpl ? tmpl->adds_bos : 0; }

xf_status xf_chat_template_from_name(const char *name, xf_chat_template **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_template_from_name: out is NULL");
    *out = NULL;
    if (!name) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_template_from_name: name is NULL");
    if (!strcmp(name, "chatml")) return make(XF_CHAT_CHATML, "chatml", NULL, out);
    if (!strcmp(name, "smollm2")) return make(XF_CHAT_CHATML, "smollm2", SMOLLM2_SYSTEM, out);
    if (!strcmp(name, "qwen2")) return make(XF_CHAT_CHATML, "qwen2", QWEN2_SYSTEM, out);
    if (!strcmp(name, "llama3")) return make(XF_CHAT_LLAMA3, "llama3", NULL, out);
    if (!strcmp(name, "llama2")) return make(XF_CHAT_LLAMA2, "llama2", NULL, out);
    if (!strcmp(name, "mistral")) return make(XF_CHAT_MISTRAL, "mistral", NULL, out);
    if (!strcmp(name, "zephyr")) return make(XF_CHAT_ZEPHYR, "zephyr", NULL, out);
    return xf_error(XF_ERR_UNSUPPORTED, "unknown chat template name \"%.64s\" (known: " XF_CHAT_NAMES ")",
                    name);
}

/* ---------------------------------------------------------- detection */

static int has(const char *s, const char *needle) { return strstr(s, needle) != NULL; }

/* End-of-turn markers a template may write; those it contains become stop strings. */
static const char *const TURN_ENDS[] = {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>",
                                        "<|end_of_text|>", "<|endoftext|>", "</s>",
                                        "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>", NULL};

static void add_stop(xf_chat_template *t, const char *s) {
    if (!s || !*s || t->n_stops == XF_CHAT_MAX_STOPS) return;
    for (size_t k = 0; k < t->n_stops; k++)
        if (!strcmp(t->stops[k], s)) return;
    t->stops[t->n_stops++] = s;
}

xf_status xf_chat_template_from_text(const char *text, const char *bos_token, const char *eos_token,
                                     xf_chat_template **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_template_from_text: out is NULL");
    *out = NULL;
    if (!text) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_template_from_text: template text is NULL");
    if (!*text)
        return xf_error(XF_ERR_INVALID_ARG, "the model's chat template is empty (choose a format with "
                                            "--chat-template NAME / xf_chat_template_from_name: " XF_CHAT_NAMES ")");
    xf_jinja *j = NULL;
    xf_status st = xf_jinja_compile(text, strlen(text), &j);
    if (st != XF_OK)
        return xf_error_wrap(st, "the model's chat template cannot be rendered (choose a format with "
                                 "--chat-template NAME / xf_chat_template_from_name: " XF_CHAT_NAMES ")");
    xf_chat_template *t = NULL;
    if ((st = make(XF_CHAT_JINJA, "jinja", NULL, &t)) != XF_OK) {
        xf_jinja_free(j);
        return st;
    }
    t->jinja = j;
    if ((bos_token && !(t->bos = xf_strdup(bos_token))) || (eos_token && !(t->eos = xf_strdup(eos_token)))) {
        xf_chat_template_free(t);
        return xf_error(XF_ERR_NOMEM, "chat template: out of memory");
    }
    add_stop(t, t->eos);
    for (size_t k = 0; TURN_ENDS[k]; k++)
        if (has(text, TURN_ENDS[k])) add_stop(t, TURN_ENDS[k]);
    t->adds_bos = 1; /* rendered text is tokenized as is (transformers: add_special_tokens=False) */
    *out = t;
    return XF_OK;
}

xf_status xf_chat_template_detect(const char *text, xf_chat_template **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_template_detect: out is NULL");
    return xf_chat_template_from_text(text, NULL, NULL, out);
}

/* ----------------------------------------------------------- rendering */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (n > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *np = xf_realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

void xf_chat_py_strip(const char *s, size_t len, size_t *start, size_t *end) {
    jj_strip(s, len, NULL, 0, 3, start, end);
}

static void put_stripped(sbuf *b, const char *s, size_t n) {
    size_t a, e;
    xf_chat_py_strip(s, n, &a, &e);
    put(b, s + a, e - a);
}

static xf_status bad_role(size_t i, const char *role, const char *why) {
    return xf_error(XF_ERR_INVALID_ARG, "chat message %zu: role \"%.32s\" %s", i, role, why);
}

static xf_status alternation(const xf_chat_template *t, size_t i, const char *role) {
    return xf_error(XF_ERR_INVALID_ARG,
                    "chat message %zu: role \"%.32s\": the %s template requires %suser/assistant/"
                    "user/assistant/... alternation, starting with user",
                    i, role, t->name,
                    t->kind == XF_CHAT_LLAMA2 ? "an optional first system message, then " : "");
}

static xf_status render(const xf_chat_template *t, const xf_chat_message *m, size_t n, int agp,
                        sbuf *b) {
    switch (t->kind) {
    case XF_CHAT_CHATML:
        if (t->default_system && strcmp(m[0].role, "system") != 0) {
            puts_(b, "<|im_start|>system\n");
            puts_(b, t->default_system);
            puts_(b, "<|im_end|>\n");
        }
        for (size_t i = 0; i < n; i++) {
            puts_(b, "<|im_start|>");
            puts_(b, m[i].role);
            puts_(b, "\n");
            puts_(b, m[i].content);
            puts_(b, "<|im_end|>\n");
        }
        if (agp) puts_(b, "<|im_start|>assistant\n");
        break;
    case XF_CHAT_LLAMA3:
        puts_(b, "<|begin_of_text|>");
        for (size_t i = 0; i < n; i++) {
            puts_(b, "<|start_header_id|>");
            puts_(b, m[i].role);
            puts_(b, "<|end_header_id|>\n\n");
            put_stripped(b, m[i].content, strlen(m[i].content));
            puts_(b, "<|eot_id|>");
        }
        if (agp) puts_(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case XF_CHAT_LLAMA2: {
        size_t first = 0;
        const char *sys = NULL;
        if (!strcmp(m[0].role, "system")) {
            sys = m[0].content;
            first = 1;
        }
        for (size_t i = first; i < n; i++) {
            int want_user = (i - first) % 2 == 0;
            int is_user = !strcmp(m[i].role, "user");
            if (!strcmp(m[i].role, "system"))
                return bad_role(i, m[i].role, "is allowed only as the first message by the llama2 "
                                              "template");
            if (is_user != want_user) return alternation(t, i, m[i].role);
        }
        sbuf tmp = {0};
        for (size_t i = first; i < n; i++) {
            const char *c = m[i].content;
            size_t cl = strlen(c);
            if (i == first && sys) {
                tmp.len = 0;
                puts_(&tmp, "<<SYS>>\n");
                puts_(&tmp, sys);
                puts_(&tmp, "\n<</SYS>>\n\n");
                puts_(&tmp, c);
                if (tmp.oom) break;
                c = tmp.p;
                cl = tmp.len;
            }
            if (!strcmp(m[i].role, "user")) {
                puts_(b, "<s>[INST] ");
                put_stripped(b, c, cl);
                puts_(b, " [/INST]");
            } else {
                puts_(b, " ");
                put_stripped(b, c, cl);
                puts_(b, " </s>");
            }
        }
        if (tmp.oom) b->oom = 1;
        free(tmp.p);
        break;
    }
    case XF_CHAT_MISTRAL:
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(m[i].role, "system"))
                return bad_role(i, m[i].role, "is not supported by the mistral template (only user "
                                              "and assistant messages)");
            if (!strcmp(m[i].role, "user") != (i % 2 == 0)) return alternation(t, i, m[i].role);
        }
        puts_(b, "<s>");
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(m[i].role, "user")) {
                puts_(b, "[INST] ");
                puts_(b, m[i].content);
                puts_(b, " [/INST]");
            } else {
                puts_(b, m[i].content);
                puts_(b, "</s>");
            }
        }
        break;
    case XF_CHAT_ZEPHYR:
        for (size_t i = 0; i < n; i++) {
            puts_(b, "<|");
            puts_(b, m[i].role);
            puts_(b, "|>\n");
            puts_(b, m[i].content);
            puts_(b, "</s>\n");
        }
        if (agp) puts_(b, "<|assistant|>\n");
        break;
    case XF_CHAT_JINJA: break; /* rendered by the Jinja engine */
    }
    return XF_OK;
}

/* SOURCE_DATE_EPOCH (seconds since 1970, UTC) fixes the clock strftime_now() reads. */
static int64_t fixed_now(void) {
    const char *e = getenv("SOURCE_DATE_EPOCH");
    if (!e || !*e) return -1;
    char *end = NULL;
    long long v = strtoll(e, &end, 10);
    return *end || v < 0 ? -1 : (int64_t)v;
}

static xf_status render_jinja(const xf_chat_template *t, const char *messages_json, const char *vars_json,
                              int agp, char **out, size_t *len) {
    const char *strvars[4] = {"bos_token", t->bos, "eos_token", t->eos};
    xf_jinja_input in = {messages_json, vars_json, strvars, 2, agp ? 1 : 0, fixed_now()};
    return xf_jinja_render(t->jinja, &in, NULL, out, len);
}

static void json_string(sbuf *b, const char *s) {
    put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            puts_(b, esc);
        } else {
            put(b, (const char *)p, 1);
        }
    }
    put(b, "\"", 1);
}

static xf_status check_msgs(const xf_chat_message *msgs, size_t n, int any_role) {
    if (n == 0 || !msgs) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_render: no messages");
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return xf_error(XF_ERR_INVALID_ARG, "chat message %zu: NULL %s", i, msgs[i].role ? "content" : "role");
        if (any_role ? !*msgs[i].role
                     : strcmp(msgs[i].role, "system") && strcmp(msgs[i].role, "user") && strcmp(msgs[i].role, "assistant"))
            return bad_role(i, msgs[i].role, any_role ? "is empty" : "is not one of system, user, assistant");
    }
    return XF_OK;
}

xf_status xf_chat_render(const xf_chat_template *tmpl, const xf_chat_message *msgs, size_t n,
                         int add_generation_prompt, char **out, size_t *len) {
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!tmpl || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_render: NULL template or out");
    xf_status st = check_msgs(msgs, n, tmpl->kind == XF_CHAT_JINJA);
    if (st != XF_OK) return st;
    sbuf b = {0};
    if (tmpl->kind == XF_CHAT_JINJA) { /* messages as JSON for the engine */
        puts_(&b, "[");
        for (size_t i = 0; i < n; i++) {
            puts_(&b, i ? ",{\"role\":" : "{\"role\":");
            json_string(&b, msgs[i].role);
            puts_(&b, ",\"content\":");
            json_string(&b, msgs[i].content);
            puts_(&b, "}");
        }
        puts_(&b, "]");
        st = b.oom ? xf_error(XF_ERR_NOMEM, "xf_chat_render: out of memory")
                   : render_jinja(tmpl, b.p, NULL, add_generation_prompt, out, len);
        free(b.p);
        return st;
    }
    st = render(tmpl, msgs, n, add_generation_prompt, &b);
    if (st == XF_OK && !b.oom && !b.p) put(&b, "", 0); /* an empty rendering is "" */
    if (st != XF_OK || b.oom) {
        free(b.p);
        return st != XF_OK ? st : xf_error(XF_ERR_NOMEM, "xf_chat_render: out of memory");
    }
    *out = b.p;
    if (len) *len = b.len;
    return XF_OK;
}

xf_status xf_chat_render_json(const xf_chat_template *tmpl, const char *messages_json, const char *vars_json,
                              int add_generation_prompt, char **out, size_t *len) {
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!tmpl || !out || !messages_json)
        return xf_error(XF_ERR_INVALID_ARG, "xf_chat_render_json: NULL template, messages or out");
    if (tmpl->kind == XF_CHAT_JINJA) return render_jinja(tmpl, messages_json, vars_json, add_generation_prompt, out, len);
    /* A built-in format: role/content strings only. */
    cJSON *doc = cJSON_Parse(messages_json);
    if (!cJSON_IsArray(doc)) {
        cJSON_Delete(doc);
        return xf_error(XF_ERR_INVALID_ARG, "xf_chat_render_json: messages are not a JSON array");
    }
    size_t n = (size_t)cJSON_GetArraySize(doc), i = 0;
    xf_chat_message *m = xf_calloc(n ? n : 1, sizeof *m);
    xf_status st = m ? XF_OK : xf_error(XF_ERR_NOMEM, "xf_chat_render_json: out of memory");
    const cJSON *it;
    cJSON_ArrayForEach(it, doc) {
        if (st != XF_OK) break;
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "role");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsString(r) || !cJSON_IsString(c))
            st = xf_error(XF_ERR_UNSUPPORTED, "chat message %zu: the %s template takes string \"role\" and "
                                              "\"content\" only", i, tmpl->name);
        else m[i++] = (xf_chat_message){r->valuestring, c->valuestring};
    }
    if (st == XF_OK) st = xf_chat_render(tmpl, m, n, add_generation_prompt, out, len);
    free(m);
    cJSON_Delete(doc);
    return st;
}
