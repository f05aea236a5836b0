/* doc.c — the block list of a parsed document (doc.h): arena strings sanitized to UTF-8, blocks,
 * heading paths, format detection, and the plain-text parser (paragraphs split at blank lines). */
#include "search/doc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

static const char *ext_of(const char *path) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

xf_doc_format xf_doc_format_of(const char *path) {
    const char *e = ext_of(path);
    if (!strcasecmp(e, "md") || !strcasecmp(e, "markdown") || !strcasecmp(e, "mdown")) return XF_FMT_MARKDOWN;
    if (!strcasecmp(e, "html") || !strcasecmp(e, "htm") || !strcasecmp(e, "xhtml")) return XF_FMT_HTML;
    return XF_FMT_TEXT;
}

const char *xf_doc_format_name(xf_doc_format f) {
    return f == XF_FMT_HTML ? "html" : f == XF_FMT_MARKDOWN ? "markdown" : "text";
}

void xf_doc_free(xf_doc *d) {
    xf_buf_free(&d->arena);
    free(d->v);
    memset(d, 0, sizeof *d);
}

void xf_doc_reset(xf_doc *d) {
    d->arena.len = 0;
    d->n = 0;
}

/* Whitespace for collapsing: ASCII space, tab, CR, LF, FF, VT, and U+00A0 (no-break space). */
static size_t space_len(const char *s, size_t i, size_t len) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
    if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] == 0xA0) return 2;
    return 0;
}

xf_status xf_doc_put(xf_doc *d, const char *s, size_t len, int collapse, xf_span *out) {
    xf_tok_buf clean = {0};
    xf_status st = xf_utf8_sanitize(s, len, &clean);
    if (st) {
        xf_buf_free(&clean);
        return st;
    }
    if ((st = xf_buf_reserve(&d->arena, clean.len + 1))) {
        xf_buf_free(&clean);
        return st;
    }
    out->off = d->arena.len;
    char *dst = d->arena.data + d->arena.len;
    size_t n = 0;
    int pending_space = 0;
    for (size_t i = 0; i < clean.len;) {
        size_t sp = collapse ? space_len(clean.data, i, clean.len) : 0;
        if (sp) {
            pending_space = n > 0;
            i += sp;
            continue;
        }
        char c = clean.data[i++];
        if (c == '\0') continue;
        if (pending_space) dst[n++] = ' ';
        pending_space = 0;
        dst[n++] = c;
    }
    dst[n] = '\0'; /* kept: every span of the arena is NUL-terminated (not part of the span) */
    d->arena.len += n + 1;
    out->len = n;
    xf_buf_free(&clean);
    return XF_OK;
}

xf_status xf_doc_add(xf_doc *d, xf_block_kind kind, xf_span text, const xf_heads *h, xf_span anchor,
                     uint32_t line0, uint32_t line1) {
    if (text.len == 0) return XF_OK;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        xf_block *v = realloc(d->v, cap * sizeof *v);
        if (!v) return xf_error(XF_ERR_NOMEM, "out of memory for %zu document blocks", cap);
        d->v = v;
        d->cap = cap;
    }
    xf_span none = {0, 0};
    d->v[d->n++] = (xf_block){kind, text, h ? h->path : none, h ? h->section : none, anchor, line0,
                              line1 < line0 ? line0 : line1};
    return XF_OK;
}

/* "A > B > C" of the entries [0, n) (terms skipped unless with_terms) into the arena. */
static xf_status join_heads(const xf_heads *h, xf_doc *d, int with_terms, xf_span *out) {
    static const char sep[] = " > ";
    size_t total = 0;
    for (size_t k = 0; k < h->n; k++) total += h->text[k].len + 3;
    xf_status st = xf_buf_reserve(&d->arena, total + 1);
    if (st) return st;
    out->off = d->arena.len;
    for (size_t k = 0; k < h->n; k++) {
        if (!with_terms && h->level[k] >= XF_TERM_LEVEL) continue;
        if (d->arena.len > out->off) xf_buf_append(&d->arena, sep, 3);
        xf_buf_append(&d->arena, d->arena.data + h->text[k].off, h->text[k].len);
    }
    out->len = d->arena.len - out->off;
    d->arena.data[d->arena.len++] = '\0';
    return XF_OK;
}

static xf_status heads_rebuild(xf_heads *h, xf_doc *d) {
    xf_status st = join_heads(h, d, 1, &h->path);
    return st ? st : join_heads(h, d, 0, &h->section);
}

xf_status xf_heads_set(xf_heads *h, xf_doc *d, int level, xf_span text, xf_span anchor) {
    while (h->n > 0 && h->level[h->n - 1] >= level) h->n--;
    if (h->n == XF_PATH_MAX_DEPTH) h->n--; /* absurdly deep: the deepest entry is replaced */
    h->level[h->n] = level;
    h->text[h->n] = text;
    h->anchor[h->n] = anchor;
    h->n++;
    return heads_rebuild(h, d);
}

xf_status xf_heads_truncate(xf_heads *h, xf_doc *d, size_t n) {
    if (n >= h->n) return XF_OK;
    h->n = n;
    return heads_rebuild(h, d);
}

/* Plain text: paragraphs are runs of non-blank lines; their whitespace is collapsed. */
xf_status xf_parse_text(const char *s, size_t len, xf_doc *d) {
    xf_doc_reset(d);
    xf_span none = {0, 0};
    size_t i = 0, para = 0, para_end = 0;
    uint32_t line = 1, line0 = 0, line1 = 0;
    int open = 0;
    while (i < len || open) {
        int blank = 1;
        size_t end = i;
        const char *nl = NULL;
        if (i < len) {
            nl = memchr(s + i, '\n', len - i);
            end = nl ? (size_t)(nl - s) : len;
            for (size_t k = i; k < end && blank; k++)
                if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r' && s[k] != '\f') blank = 0;
        }
        if (!blank) {
            if (!open) para = i, line0 = line, open = 1;
            para_end = end, line1 = line;
        } else if (open) {
            xf_span t;
            xf_status st = xf_doc_put(d, s + para, para_end - para, 1, &t);
            if (!st) st = xf_doc_add(d, XF_BLOCK_TEXT, t, NULL, none, line0, line1);
            if (st) return st;
            open = 0;
        }
        if (i >= len) break;
        i = nl ? end + 1 : len;
        line++;
    }
    return XF_OK;
}

xf_status xf_parse(xf_doc_format f, const char *s, size_t len, xf_doc *d) {
    switch (f) {
    case XF_FMT_HTML: return xf_parse_html(s, len, d);
    case XF_FMT_MARKDOWN: return xf_parse_markdown(s, len, d);
    default: return xf_parse_text(s, len, d);
    }
}
