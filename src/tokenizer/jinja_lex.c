/* jinja_lex.c — template text to tokens, as Jinja2's lexer with trim_blocks and lstrip_blocks:
 * newlines normalised to \n and one trailing newline dropped; `{%-` / `-%}` strip whitespace,
 * `{%+` / `+%}` keep it; a block or comment tag alone on its line takes the line's indentation
 * (lstrip_blocks) and the newline after `%}` / `#}` (trim_blocks); `{% raw %}` passes text as is;
 * string literals decoded with Python's escapes. Whitespace means Python's str.isspace(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "tokenizer/jinja_impl.h"

typedef struct lx {
    const char *s; /* normalised source */
    size_t n, pos;
    jj_arena *a;
    jj_tok *t;
    size_t nt, cap;
    xf_status st;
    size_t wpos; /* line/column of byte wpos, so that positions are found in one pass */
    int wline, wcol;
} lx;

static void where(lx *L, size_t pos, int *line, int *col) {
    if (pos < L->wpos || L->wline == 0) {
        L->wpos = 0;
        L->wline = L->wcol = 1;
    }
    for (; L->wpos < pos && L->wpos < L->n; L->wpos++) {
        if (L->s[L->wpos] == '\n') {
            L->wline++;
            L->wcol = 1;
        } else if (((unsigned char)L->s[L->wpos] & 0xC0) != 0x80) {
            L->wcol++;
        }
    }
    *line = L->wline;
    *col = L->wcol;
}

static xf_status fail(lx *L, size_t pos, xf_status st, const char *what) {
    int line, col;
    where(L, pos, &line, &col);
    return L->st = xf_error(st, "chat template: line %d, column %d: %s", line, col, what);
}

static jj_tok *push(lx *L, jj_ttype type, size_t pos) {
    if (L->nt == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 64;
        jj_tok *t = xf_realloc(L->t, cap * sizeof *t);
        if (!t) return NULL;
        L->t = t;
        L->cap = cap;
    }
    jj_tok *t = &L->t[L->nt++];
    memset(t, 0, sizeof *t);
    t->type = type;
    where(L, pos, &t->line, &t->col);
    return t;
}

/* Length of the Python-whitespace code point at s[i], or 0. */
static size_t ws_at(const char *s, size_t n, size_t i) {
    uint32_t cp;
    size_t k = jj_utf8_dec((const unsigned char *)s + i, n - i, &cp);
    return k && jj_py_isspace(cp) ? k : 0;
}

static size_t skip_ws(const char *s, size_t n, size_t i) {
    size_t k;
    while (i < n && (k = ws_at(s, n, i)) > 0) i += k;
    return i;
}

/* End of text[0..n) with trailing whitespace removed (Python rstrip). */
static size_t rstrip_end(const char *s, size_t n) {
    size_t a, e;
    jj_strip(s, n, NULL, 0, 2, &a, &e);
    return e;
}

static int data(lx *L, size_t from, size_t to) {
    if (to <= from) return 0;
    jj_tok *t = push(L, JT_DATA, from);
    if (!t) return -1;
    t->s = L->s + from;
    t->n = to - from;
    return 0;
}

/* Python string-literal escapes (Jinja decodes with "unicode-escape"). */
static int string_lit(lx *L, size_t start, char q, size_t *end) {
    size_t i = start + 1;
    while (i < L->n && L->s[i] != q) {
        if (L->s[i] == '\\' && i + 1 < L->n) i++;
        i++;
    }
    if (i >= L->n) {
        fail(L, start, XF_ERR_INVALID_ARG, "unterminated string literal");
        return -1;
    }
    *end = i + 1;
    char *o = jj_alloc(L->a, (i - start) + 4);
    if (!o) return -1;
    size_t k = 0;
    for (size_t j = start + 1; j < i; j++) {
        char ch = L->s[j];
        if (ch != '\\') {
            o[k++] = ch;
            continue;
        }
        char e = L->s[++j];
        uint32_t cp = 0;
        int hex = 0;
        switch (e) {
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case '\\': o[k++] = '\\'; break;
        case '\'': o[k++] = '\''; break;
        case '"': o[k++] = '"'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'v': o[k++] = '\v'; break;
        case '\n': break; /* line continuation */
        case 'x': hex = 2; break;
        case 'u': hex = 4; break;
        case 'U': hex = 8; break;
        case 'N':
            fail(L, j, XF_ERR_UNSUPPORTED, "\\N{...} escapes in string literals are not supported");
            return -1;
        default:
            if (e >= '0' && e <= '7') {
                int v = 0, d = 0;
                while (d < 3 && j < i && L->s[j] >= '0' && L->s[j] <= '7') v = v * 8 + (L->s[j++] - '0'), d++;
                j--;
                k += xf_utf8_encode((uint32_t)v, o + k);
            } else {
                o[k++] = '\\';
                o[k++] = e;
            }
        }
        if (hex) {
            for (int d = 0; d < hex; d++) {
                char h = j + 1 < i ? L->s[j + 1] : 0;
                int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (v < 0) {
                    fail(L, j, XF_ERR_INVALID_ARG, "truncated \\x/\\u/\\U escape in a string literal");
                    return -1;
                }
                cp = cp * 16 + (uint32_t)v;
                j++;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                fail(L, j, XF_ERR_UNSUPPORTED, "escape of a surrogate or out-of-range code point");
                return -1;
            }
            k += xf_utf8_encode(cp, o + k);
        }
    }
    jj_tok *t = push(L, JT_STRING, start);
    if (!t) return -1;
    t->s = o;
    t->n = k;
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_name(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) || c == '_' || c >= 0x80;
}

/* Digits with single underscores between them; returns the end. */
static size_t digits(const char *s, size_t n, size_t i) {
    while (i < n && (is_digit(s[i]) || (s[i] == '_' && i + 1 < n && is_digit(s[i + 1]) && i > 0 &&
                                        is_digit(s[i - 1]))))
        i++;
    return i;
}

static int number(lx *L, size_t start, size_t *end) {
    const char *s = L->s;
    size_t n = L->n, i = start;
    char buf[64];
    size_t bn = 0;
    if (s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
        int base = s[i + 1] == 'x' ? 16 : s[i + 1] == 'o' ? 8 : 2;
        i += 2;
        uint64_t v = 0;
        size_t d0 = i;
        for (; i < n; i++) {
            char ch = s[i];
            int d = is_digit(ch) ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : ch == '_' ? -2 : -1;
            if (d == -2) continue;
            if (d < 0 || d >= base) break;
            if (v > (UINT64_MAX >> 4) || v * (uint64_t)base + (uint64_t)d > (uint64_t)INT64_MAX) {
                fail(L, start, XF_ERR_UNSUPPORTED, "integer literal too large");
                return -1;
            }
            v = v * (uint64_t)base + (uint64_t)d;
        }
        if (i == d0) {
            fail(L, start, XF_ERR_INVALID_ARG, "malformed number literal");
            return -1;
        }
        jj_tok *t = push(L, JT_INT, start);
        if (!t) return -1;
        t->i = (int64_t)v;
        *end = i;
        return 0;
    }
    i = digits(s, n, i);
    int is_float = 0;
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
        i = digits(s, n, i + 1);
        is_float = 1;
    }
    if (i < n && s[i] == 'e') {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        if (j < n && is_digit(s[j])) {
            i = digits(s, n, j);
            is_float = 1;
        }
    }
    for (size_t j = start; j < i && bn < sizeof buf - 1; j++)
        if (s[j] != '_') buf[bn++] = s[j];
    buf[bn] = '\0';
    if (i - start >= sizeof buf - 1) {
        fail(L, start, XF_ERR_UNSUPPORTED, "number literal too long");
        return -1;
    }
    jj_tok *t = push(L, is_float ? JT_FLOAT : JT_INT, start);
    if (!t) return -1;
    if (is_float) {
        t->f = strtod(buf, NULL);
    } else {
        char *e = NULL;
        unsigned long long v = strtoull(buf, &e, 10);
        if (v > (unsigned long long)INT64_MAX) {
            fail(L, start, XF_ERR_UNSUPPORTED, "integer literal too large");
            return -1;
        }
        t->i = (int64_t)v;
    }
    *end = i;
    return 0;
}

static int op_at(const char *s, size_t n, size_t i, size_t *len) {
    char a = s[i], b = i + 1 < n ? s[i + 1] : 0;
    *len = 2;
    if (a == '/' && b == '/') return JOP_FLOORDIV;
    if (a == '*' && b == '*') return JOP_POW;
    if (a == '=' && b == '=') return JOP_EQ;
    if (a == '!' && b == '=') return JOP_NE;
    if (a == '>' && b == '=') return JOP_GE;
    if (a == '<' && b == '=') return JOP_LE;
    *len = 1;
    if (a && strchr("+-/*%~[](){}><=.:|,;", a)) return a;
    return 0;
}

/* Tokens inside {{ }} or {% %}, from L->pos; stops after the end tag. kind '{' or '%'. */
static int inside(lx *L, char kind, size_t tag_pos) {
    const char *s = L->s;
    size_t n = L->n;
    int depth = 0;
    for (;;) {
        size_t i = skip_ws(s, n, L->pos);
        L->pos = i;
        if (i >= n) {
            fail(L, tag_pos, XF_ERR_INVALID_ARG, kind == '%' ? "unclosed block tag '{%'" : "unclosed '{{'");
            return -1;
        }
        if (depth == 0) {
            if (kind == '%') {
                if (s[i] == '+' && i + 2 < n + 0 && s[i + 1] == '%' && s[i + 2] == '}') {
                    L->pos = i + 3;
                    return push(L, JT_BLOCK_END, i) ? 0 : -1;
                }
                if (s[i] == '-' && i + 2 < n && s[i + 1] == '%' && s[i + 2] == '}') {
                    L->pos = skip_ws(s, n, i + 3);
                    return push(L, JT_BLOCK_END, i) ? 0 : -1;
                }
                if (s[i] == '%' && i + 1 < n && s[i + 1] == '}') {
                    L->pos = i + 2 < n && s[i + 2] == '\n' ? i + 3 : i + 2; /* trim_blocks */
                    return push(L, JT_BLOCK_END, i) ? 0 : -1;
                }
            } else {
                if (s[i] == '-' && i + 2 < n && s[i + 1] == '}' && s[i + 2] == '}') {
                    L->pos = skip_ws(s, n, i + 3);
                    return push(L, JT_VAR_END, i) ? 0 : -1;
                }
                if (s[i] == '}' && i + 1 < n && s[i + 1] == '}') {
                    L->pos = i + 2;
                    return push(L, JT_VAR_END, i) ? 0 : -1;
                }
            }
        }
        char ch = s[i];
        size_t end;
        if (is_digit(ch) && !(i > 0 && s[i - 1] == '.')) {
            if (number(L, i, &end)) return -1;
        } else if (is_digit(ch)) { /* after a dot: an integer attribute such as x.0 */
            end = i;
            while (end < n && is_digit(s[end])) end++;
            jj_tok *t = push(L, JT_INT, i);
            if (!t) return -1;
            t->i = end - i > 18 ? INT64_MAX : strtoll(s + i, NULL, 10);
        } else if (is_name((unsigned char)ch)) {
            end = i;
            while (end < n && is_name((unsigned char)s[end]) && !ws_at(s, n, end)) end++;
            jj_tok *t = push(L, JT_NAME, i);
            if (!t) return -1;
            t->s = s + i;
            t->n = end - i;
        } else if (ch == '\'' || ch == '"') {
            if (string_lit(L, i, ch, &end)) return -1;
        } else {
            size_t len;
            int op = op_at(s, n, i, &len);
            if (!op) {
                char what[64];
                snprintf(what, sizeof what, "unexpected character '%c' (0x%02x)",
                         (ch >= 32 && ch < 127) ? ch : '?', (unsigned char)ch);
                fail(L, i, XF_ERR_INVALID_ARG, what);
                return -1;
            }
            if (op == '(' || op == '[' || op == '{') depth++;
            if (op == ')' || op == ']' || op == '}') {
                if (depth == 0) {
                    fail(L, i, XF_ERR_INVALID_ARG, "unbalanced closing bracket");
                    return -1;
                }
                depth--;
            }
            jj_tok *t = push(L, JT_OP, i);
            if (!t) return -1;
            t->op = op;
            end = i + len;
        }
        L->pos = end;
    }
}

/* Find "{% endraw %}" (with optional -/+) from pos: its start and the end of the tag. */
static int find_endraw(const lx *L, size_t pos, size_t *tag, size_t *after) {
    for (size_t i = pos; i + 1 < L->n; i++) {
        if (L->s[i] != '{' || L->s[i + 1] != '%') continue;
        size_t j = i + 2;
        if (j < L->n && (L->s[j] == '-' || L->s[j] == '+')) j++;
        j = skip_ws(L->s, L->n, j);
        if (L->n - j < 6 || memcmp(L->s + j, "endraw", 6) != 0) continue;
        j = skip_ws(L->s, L->n, j + 6);
        if (j + 1 < L->n && L->s[j] == '%' && L->s[j + 1] == '}') {
            *tag = i;
            *after = j + 2 < L->n && L->s[j + 2] == '\n' ? j + 3 : j + 2;
            return 1;
        }
        if (j + 2 < L->n && (L->s[j] == '-' || L->s[j] == '+') && L->s[j + 1] == '%' && L->s[j + 2] == '}') {
            *tag = i;
            *after = L->s[j] == '-' ? skip_ws(L->s, L->n, j + 3) : j + 3;
            return 1;
        }
    }
    return 0;
}

/* Is "{%[-+]? raw [-]?%}" at i? Sets *after. */
static int raw_at(const lx *L, size_t i, size_t *after) {
    size_t j = i + 2;
    if (j < L->n && (L->s[j] == '-' || L->s[j] == '+')) j++;
    j = skip_ws(L->s, L->n, j);
    if (L->n - j < 3 || memcmp(L->s + j, "raw", 3) != 0) return 0;
    j = skip_ws(L->s, L->n, j + 3);
    if (j + 2 < L->n && L->s[j] == '-' && L->s[j + 1] == '%' && L->s[j + 2] == '}') {
        *after = skip_ws(L->s, L->n, j + 3);
        return 1;
    }
    if (j + 1 < L->n && L->s[j] == '%' && L->s[j + 1] == '}') {
        *after = j + 2;
        return 1;
    }
    return 0;
}

static int run(lx *L) {
    const char *s = L->s;
    size_t n = L->n;
    int line_starting = 1;
    while (L->pos < n) {
        size_t i = L->pos;
        while (i + 1 < n && !(s[i] == '{' && (s[i + 1] == '{' || s[i + 1] == '%' || s[i + 1] == '#'))) i++;
        if (i + 1 >= n) return data(L, L->pos, n);
        char kind = s[i + 1];
        char sign = i + 2 < n && (s[i + 2] == '-' || s[i + 2] == '+') ? s[i + 2] : 0;
        size_t text_end = i;
        if (sign == '-') {
            text_end = L->pos + rstrip_end(s + L->pos, i - L->pos);
        } else if (sign != '+' && kind != '{') { /* lstrip_blocks */
            size_t l_pos = i;
            while (l_pos > L->pos && s[l_pos - 1] != '\n') l_pos--;
            int at_line_start = l_pos > L->pos || line_starting;
            if (at_line_start && l_pos < i && skip_ws(s, i, l_pos) == i) text_end = l_pos;
        }
        if (data(L, L->pos, text_end)) return -1;
        size_t tag = i + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            size_t j = tag;
            for (;;) {
                while (j + 1 < n && !(s[j] == '#' && s[j + 1] == '}')) j++;
                if (j + 1 >= n) {
                    fail(L, i, XF_ERR_INVALID_ARG, "unclosed comment '{#'");
                    return -1;
                }
                break;
            }
            /* "-#}" strips after, "+#}" keeps, "#}" trims one newline */
            if (j > tag && s[j - 1] == '-') L->pos = skip_ws(s, n, j + 2);
            else if (j > tag && s[j - 1] == '+') L->pos = j + 2;
            else L->pos = j + 2 < n && s[j + 2] == '\n' ? j + 3 : j + 2;
            line_starting = s[L->pos - 1] == '\n';
            continue;
        }
        if (kind == '%') {
            size_t after;
            if (raw_at(L, i, &after)) {
                size_t tag_at, end_after;
                if (!find_endraw(L, after, &tag_at, &end_after)) {
                    fail(L, i, XF_ERR_INVALID_ARG, "{% raw %} without {% endraw %}");
                    return -1;
                }
                size_t e = tag_at;
                if (tag_at + 2 < n && s[tag_at + 2] == '-') e = after + rstrip_end(s + after, tag_at - after);
                if (data(L, after, e)) return -1;
                L->pos = end_after;
                line_starting = s[L->pos - 1] == '\n';
                continue;
            }
        }
        if (!push(L, kind == '{' ? JT_VAR_BEGIN : JT_BLOCK_BEGIN, i)) return -1;
        L->pos = tag;
        if (inside(L, kind == '{' ? '{' : '%', i)) return -1;
        line_starting = L->pos > 0 && s[L->pos - 1] == '\n';
    }
    return 0;
}

xf_status jj_lex(const char *text, size_t len, jj_arena *a, jj_tok **toks, size_t *n) {
    *toks = NULL;
    *n = 0;
    /* Normalise \r\n and \r to \n; drop one trailing newline (keep_trailing_newline=False). */
    char *s = jj_alloc(a, len + 1);
    if (!s) return xf_error(XF_ERR_NOMEM, "chat template: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r') {
            s[k++] = '\n';
            if (i + 1 < len && text[i + 1] == '\n') i++;
        } else {
            s[k++] = text[i];
        }
    }
    if (k > 0 && s[k - 1] == '\n') k--;
    lx L = {s, k, 0, a, NULL, 0, 0, XF_OK, 0, 0, 0};
    int rc = run(&L);
    if (!rc && !push(&L, JT_EOF, k)) rc = -1;
    if (rc) {
        free(L.t);
        if (L.st != XF_OK) return L.st;
        return xf_error(XF_ERR_NOMEM, "chat template: out of memory");
    }
    *toks = L.t;
    *n = L.nt;
    return XF_OK;
}
