/* parse_markdown.c — a small line-based Markdown reader for indexing (not a renderer): ATX and
 * setext headings build the heading path; fenced and indented code blocks, list items, table rows,
 * block quotes and paragraphs become blocks. Inline links and images keep only their text. */
#include <string.h>

#include "core/error.h"
#include "search/doc.h"

typedef enum { ST_NONE, ST_PARA, ST_ITEM, ST_FENCE, ST_INDENT_CODE } md_state;

typedef struct md {
    xf_doc *d;
    xf_heads heads;
    xf_tok_buf cur; /* text of the open block */
    md_state st;
    uint32_t line0, line1;
    char fence_ch;
    size_t fence_len;
} md;

static size_t indent_of(const char *s, size_t n) {
    size_t k = 0;
    while (k < n && s[k] == ' ') k++;
    return k;
}

static int is_blank(const char *s, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r') return 0;
    return 1;
}

/* Inline cleanup into out: [text](url) and ![alt](url) keep text / alt. */
static xf_status md_inline(const char *s, size_t n, xf_tok_buf *out) {
    out->len = 0;
    xf_status st = xf_buf_reserve(out, n + 1);
    if (st) return st;
    for (size_t i = 0; i < n;) {
        size_t a = i + (s[i] == '!' && i + 1 < n && s[i + 1] == '[');
        if (s[a] == '[') {
            const char *close = memchr(s + a + 1, ']', n - a - 1);
            size_t c = close ? (size_t)(close - s) : n;
            if (close && c + 1 < n && s[c + 1] == '(') {
                const char *rp = memchr(s + c + 2, ')', n - c - 2);
                if (rp) {
                    xf_buf_append(out, s + a + 1, c - a - 1);
                    i = (size_t)(rp - s) + 1;
                    continue;
                }
            }
        }
        xf_buf_append(out, s + i, 1);
        i++;
    }
    return XF_OK;
}

static xf_status flush(md *m) {
    xf_status st = XF_OK;
    if (m->st != ST_NONE && m->cur.len > 0) {
        int code = m->st == ST_FENCE || m->st == ST_INDENT_CODE;
        xf_span t, none = {0, 0};
        xf_tok_buf clean = {0};
        if (code) {
            st = xf_doc_put(m->d, m->cur.data, m->cur.len, 0, &t);
        } else {
            st = md_inline(m->cur.data, m->cur.len, &clean);
            if (!st) st = xf_doc_put(m->d, clean.data, clean.len, 1, &t);
        }
        xf_buf_free(&clean);
        size_t top = m->heads.n;
        if (!st)
            st = xf_doc_add(m->d, code ? XF_BLOCK_CODE : XF_BLOCK_TEXT, t, &m->heads,
                            top ? m->heads.anchor[top - 1] : none, m->line0, m->line1);
    }
    m->st = ST_NONE;
    m->cur.len = 0;
    return st;
}

static xf_status add_line(md *m, md_state state, const char *s, size_t n, uint32_t line) {
    if (m->st != state) {
        xf_status st = flush(m);
        if (st) return st;
        m->st = state;
        m->line0 = line;
    } else if (m->cur.len) {
        xf_status st = xf_buf_append(&m->cur, "\n", 1);
        if (st) return st;
    }
    m->line1 = line;
    return xf_buf_append(&m->cur, s, n);
}

static xf_status heading(md *m, int level, const char *s, size_t n, uint32_t line) {
    xf_span t, none = {0, 0};
    xf_tok_buf clean = {0};
    xf_status st = md_inline(s, n, &clean);
    if (!st) st = xf_doc_put(m->d, clean.data, clean.len, 1, &t);
    xf_buf_free(&clean);
    if (st) return st;
    if (t.len == 0) return XF_OK;
    if ((st = xf_heads_set(&m->heads, m->d, level, t, none))) return st;
    return xf_doc_add(m->d, XF_BLOCK_HEADING, t, &m->heads, none, line, line);
}

/* "#..# text #" with 0-3 leading spaces: the level (1-6) and the text, or 0. */
static int atx(const char *s, size_t n, const char **text, size_t *tn) {
    size_t k = indent_of(s, n);
    if (k > 3) return 0;
    size_t h = 0;
    while (k + h < n && s[k + h] == '#') h++;
    if (h < 1 || h > 6 || (k + h < n && s[k + h] != ' ' && s[k + h] != '\t')) return 0;
    size_t a = k + h, b = n;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r')) b--;
    size_t c = b;
    while (c > a && s[c - 1] == '#') c--;
    if (c == a || s[c - 1] == ' ' || s[c - 1] == '\t') b = c; /* closing sequence */
    *text = s + a;
    *tn = b > a ? b - a : 0;
    return (int)h;
}

/* A setext underline ("===" -> 1, "---" -> 2) or 0. */
static int setext(const char *s, size_t n) {
    size_t k = indent_of(s, n);
    if (k > 3 || k >= n || (s[k] != '=' && s[k] != '-')) return 0;
    char c = s[k];
    while (k < n && s[k] == c) k++;
    while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
    return k == n ? (c == '=' ? 1 : 2) : 0;
}

/* A fence opener: its character and length, or 0. */
static size_t fence(const char *s, size_t n, char *ch) {
    size_t k = indent_of(s, n);
    if (k > 3 || k >= n || (s[k] != '`' && s[k] != '~')) return 0;
    size_t f = 0;
    while (k + f < n && s[k + f] == s[k]) f++;
    if (f < 3) return 0;
    *ch = s[k];
    return f;
}

/* A list item marker ("- ", "* ", "+ ", "12. ", "3) "): bytes to skip, or 0. */
static size_t item(const char *s, size_t n) {
    size_t k = indent_of(s, n);
    if (k >= n) return 0;
    if ((s[k] == '-' || s[k] == '*' || s[k] == '+') && k + 1 < n && s[k + 1] == ' ') return k + 2;
    size_t dg = 0;
    while (k + dg < n && dg < 10 && s[k + dg] >= '0' && s[k + dg] <= '9') dg++;
    if (dg && k + dg + 1 < n && (s[k + dg] == '.' || s[k + dg] == ')') && s[k + dg + 1] == ' ')
        return k + dg + 2;
    return 0;
}

/* A thematic break: three or more of the same of - * _ (spaces allowed). */
static int hrule(const char *s, size_t n) {
    size_t k = indent_of(s, n), cnt = 0;
    if (k > 3 || k >= n || (s[k] != '-' && s[k] != '*' && s[k] != '_')) return 0;
    char c = s[k];
    for (; k < n; k++) {
        if (s[k] == c) cnt++;
        else if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r') return 0;
    }
    return cnt >= 3;
}

static int table_sep(const char *s, size_t n) { /* |---|:--:| */
    int dash = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '-') dash = 1;
        else if (s[k] != '|' && s[k] != ':' && s[k] != ' ' && s[k] != '\t' && s[k] != '\r') return 0;
    }
    return dash;
}

static xf_status line_of(md *m, const char *s, size_t n, uint32_t line) {
    char ch;
    size_t fl;
    if (m->st == ST_FENCE) {
        size_t k = indent_of(s, n), f = 0;
        while (k + f < n && s[k + f] == m->fence_ch) f++;
        if (f >= m->fence_len && is_blank(s + k + f, n - k - f)) return flush(m);
        return add_line(m, ST_FENCE, s, n, line);
    }
    if (is_blank(s, n)) {
        if (m->st == ST_INDENT_CODE) return add_line(m, ST_INDENT_CODE, "", 0, line);
        return flush(m);
    }
    const char *t;
    size_t tn;
    int lv;
    if ((lv = atx(s, n, &t, &tn))) {
        xf_status st = flush(m);
        return st ? st : heading(m, lv, t, tn, line);
    }
    if (m->st == ST_PARA && (lv = setext(s, n))) {
        xf_tok_buf text = m->cur;
        uint32_t l0 = m->line0;
        m->cur = (xf_tok_buf){0};
        m->st = ST_NONE;
        xf_status st = heading(m, lv, text.data, text.len, l0);
        xf_buf_free(&text);
        return st;
    }
    if ((fl = fence(s, n, &ch))) {
        xf_status st = flush(m);
        if (st) return st;
        m->st = ST_FENCE;
        m->fence_ch = ch;
        m->fence_len = fl;
        m->line0 = m->line1 = line;
        return XF_OK;
    }
    if (hrule(s, n)) return flush(m);
    if (indent_of(s, n) >= 4 && (m->st == ST_NONE || m->st == ST_INDENT_CODE))
        return add_line(m, ST_INDENT_CODE, s + 4, n - 4, line);
    size_t skip = item(s, n);
    if (skip) {
        xf_status st = flush(m);
        if (st) return st;
        return add_line(m, ST_ITEM, s + skip, n - skip, line);
    }
    size_t k = indent_of(s, n);
    if (k < n && s[k] == '|') { /* table row: one block each; separator rows dropped */
        xf_status st = flush(m);
        if (st || table_sep(s, n)) return st;
        st = add_line(m, ST_PARA, s + k, n - k, line);
        return st ? st : flush(m);
    }
    while (k < n && s[k] == '>') { /* block quote markers */
        k++;
        if (k < n && s[k] == ' ') k++;
    }
    return add_line(m, m->st == ST_ITEM ? ST_ITEM : ST_PARA, s + k, n - k, line);
}

xf_status xf_parse_markdown(const char *s, size_t len, xf_doc *d) {
    xf_doc_reset(d);
    md m = {.d = d};
    xf_status st = XF_OK;
    uint32_t line = 1;
    for (size_t i = 0; i < len && !st; line++) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - s) : len;
        size_t e = end;
        if (e > i && s[e - 1] == '\r') e--;
        st = line_of(&m, s + i, e - i, line);
        i = nl ? end + 1 : len;
    }
    if (!st) st = flush(&m);
    xf_buf_free(&m.cur);
    return st;
}
