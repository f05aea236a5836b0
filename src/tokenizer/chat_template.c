/* chat_template.c — chat templates without a Jinja engine (see chat_template.h, docs/CHAT.md). */
#include "tokenizer/chat_template.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

#define XF_CHAT_NAMES "chatml, smollm2, qwen2, llama3, llama2, mistral, zephyr"

static const char SMOLLM2_SYSTEM[] = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
static const char QWEN2_SYSTEM[] = "You are a helpful assistant.";

struct xf_chat_template {
    xf_chat_kind kind;
    const char *name;     /* static */
    char *default_system; /* ChatML: system message inserted when the first one is not; or NULL */
    const char *stops[3];
    size_t n_stops;
    int adds_bos;
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
    }
    *out = t;
    return XF_OK;
}

void xf_chat_template_free(xf_chat_template *tmpl) {
    if (!tmpl) return;
    free(tmpl->default_system);
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

/* ChatML: the default system message a template inserts when messages[0] is not a system
 * message, i.e. the rest of a '<|im_start|>system\n...<|im_end|>' string literal (the \n either a
 * real newline or a Jinja escape). *found = 0 when the template has none. */
static xf_status chatml_default_system(const char *text, char **out, int *found) {
    *out = NULL;
    *found = 0;
    if (!has(text, "!= 'system'") && !has(text, "!= \"system\"")) return XF_OK;
    const char *key = "<|im_start|>system";
    for (const char *p = strstr(text, key); p; p = strstr(p + 1, key)) {
        const char *q = p + strlen(key);
        if (*q == '\n') q++;
        else if (q[0] == '\\' && q[1] == 'n') q += 2;
        else continue;
        const char *e = strstr(q, "<|im_end|>");
        if (!e) continue;
        /* A literal: no quote or Jinja syntax between the header and <|im_end|>. */
        size_t n = (size_t)(e - q);
        int literal = 1;
        for (size_t i = 0; i < n; i++)
            if (q[i] == '\'' || q[i] == '"' || q[i] == '{' || q[i] == '}') {
                if (i > 0 && q[i - 1] == '\\') continue;
                literal = 0;
                break;
            }
        if (!literal || n == 0) continue;
        char *s = xf_malloc(n + 1);
        if (!s) return xf_error(XF_ERR_NOMEM, "chat template: out of memory");
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (q[i] == '\\' && i + 1 < n) {
                char c = q[++i];
                s[k++] = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
            } else {
                s[k++] = q[i];
            }
        }
        s[k] = '\0';
        *out = s;
        *found = 1;
        return XF_OK;
    }
    return XF_OK;
}

static xf_status unknown_text(const char *why) {
    return xf_error(XF_ERR_UNSUPPORTED,
                    "chat template not recognised%s%s (known: " XF_CHAT_NAMES
                    "; choose one with --chat-template NAME / xf_chat_template_from_name)",
                    why ? ": " : "", why ? why : "");
}

xf_status xf_chat_template_detect(const char *text, xf_chat_template **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_template_detect: out is NULL");
    *out = NULL;
    if (!text) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_template_detect: template text is NULL");
    if (!*text) return unknown_text("the template text is empty");
    /* Features the fixed renderers do not reproduce (tool calls, reasoning blocks, dates). */
    if (has(text, "tools") || has(text, "tool_calls") || has(text, "<think>") ||
        has(text, "strftime_now") || has(text, "Cutting Knowledge"))
        return unknown_text("it uses tools, reasoning or date features that only a Jinja engine "
                            "renders");
    if (has(text, "<|im_start|>") && has(text, "<|im_end|>")) {
        char *sys = NULL;
        int found = 0;
        xf_status st = chatml_default_system(text, &sys, &found);
        if (st != XF_OK) return st;
        const char *name = "chatml";
        if (found && !strcmp(sys, SMOLLM2_SYSTEM)) name = "smollm2";
        else if (found && !strcmp(sys, QWEN2_SYSTEM)) name = "qwen2";
        st = make(XF_CHAT_CHATML, name, sys, out);
        free(sys);
        return st;
    }
    if (has(text, "<|start_header_id|>") && has(text, "<|end_header_id|>") && has(text, "<|eot_id|>"))
        return make(XF_CHAT_LLAMA3, "llama3", NULL, out);
    if (has(text, "[INST]") && has(text, "[/INST]")) {
        if (has(text, "DEFAULT_SYSTEM") || has(text, "default_system"))
            return unknown_text("a Llama-2 variant with a default system prompt");
        if (has(text, "<<SYS>>")) return make(XF_CHAT_LLAMA2, "llama2", NULL, out);
        if (has(text, "system_message") || has(text, "[AVAILABLE_TOOLS]"))
            return unknown_text("a Mistral variant with system-message handling");
        return make(XF_CHAT_MISTRAL, "mistral", NULL, out);
    }
    if (has(text, "<|user|>") && has(text, "<|assistant|>") && has(text, "<|system|>") &&
        !has(text, "<|end|>"))
        return make(XF_CHAT_ZEPHYR, "zephyr", NULL, out);
    return unknown_text(NULL);
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

/* Python str.isspace() for one code point. */
static int py_isspace(unsigned cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Decode one well-formed UTF-8 sequence at s[0..n); returns its length or 0 (invalid). */
static size_t utf8_dec(const unsigned char *s, size_t n, unsigned *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    size_t len;
    unsigned v;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF))) return 0;
    *cp = v;
    return len;
}

void xf_chat_py_strip(const char *str, size_t len, size_t *start, size_t *end) {
    const unsigned char *s = (const unsigned char *)str;
    size_t a = 0, b = len;
    while (a < b) {
        unsigned cp;
        size_t k = utf8_dec(s + a, b - a, &cp);
        if (!k || !py_isspace(cp)) break;
        a += k;
    }
    while (b > a) {
        size_t k = b - 1;
        while (k > a && (s[k] & 0xC0) == 0x80 && b - k < 4) k--;
        unsigned cp;
        size_t n = utf8_dec(s + k, b - k, &cp);
        if (n != b - k || !py_isspace(cp)) break;
        b = k;
    }
    *start = a;
    *end = b;
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
    }
    return XF_OK;
}

xf_status xf_chat_render(const xf_chat_template *tmpl, const xf_chat_message *msgs, size_t n,
                         int add_generation_prompt, char **out, size_t *len) {
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!tmpl || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_render: NULL template or out");
    if (n == 0 || !msgs) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_render: no messages");
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return xf_error(XF_ERR_INVALID_ARG, "chat message %zu: NULL %s", i,
                            msgs[i].role ? "content" : "role");
        if (strcmp(msgs[i].role, "system") && strcmp(msgs[i].role, "user") &&
            strcmp(msgs[i].role, "assistant"))
            return bad_role(i, msgs[i].role, "is not one of system, user, assistant");
    }
    sbuf b = {0};
    xf_status st = render(tmpl, msgs, n, add_generation_prompt, &b);
    if (st == XF_OK && !b.oom && !b.p) put(&b, "", 0); /* an empty rendering is "" */
    if (st != XF_OK || b.oom) {
        free(b.p);
        return st != XF_OK ? st : xf_error(XF_ERR_NOMEM, "xf_chat_render: out of memory");
    }
    *out = b.p;
    if (len) *len = b.len;
    return XF_OK;
}
