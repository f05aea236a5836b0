/* parse_html.c — HTML into blocks with libxml2's HTML parser (error-recovering, the parser of the
 * field; never regular expressions). The DOM is walked in reading order: h1-h6 build the heading
 * path, a definition term (<dt>) extends it for its <dd> (as API docs nest entries), and
 * paragraphs, list items, table rows (cells joined by " | "), code blocks (<pre>, verbatim) and
 * other block elements become blocks. Boilerplate is dropped: script, style, nav, header, footer,
 * aside, forms, <head>, navigation / banner / contentinfo / complementary / search roles, page
 * furniture by class or id (footer, sidebar, related, navbar, breadcrumb), hidden elements
 * (hidden, aria-hidden="true", display:none, visibility:hidden) and permalink anchors ("¶", "#"). Each block records the id of the nearest enclosing or preceding section / heading /
 * term (its anchor, for links like page.html#anchor) and its source lines. */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "core/error.h"
#include "search/doc.h"

#define MAX_DEPTH 256      /* deeper elements are read as text only (iteratively) */
#define MAX_IDS 64         /* nesting of elements with an id that is tracked */

typedef struct hw {
    xf_doc *d;
    xf_heads heads;
    uint64_t head_seq[XF_PATH_MAX_DEPTH]; /* when each heading entry was set */
    xf_span ids[MAX_IDS];                 /* ids of enclosing elements */
    uint64_t id_seq[MAX_IDS];
    size_t n_ids;
    uint64_t seq;
    xf_tok_buf para; /* pending inline text */
    uint32_t line0, line1;
    xf_tok_buf tmp;
    int dl_depth;
    xf_status st;
} hw;

static int is(const xmlNode *n, const char *name) {
    return n->type == XML_ELEMENT_NODE && n->name && !strcasecmp((const char *)n->name, name);
}

static int in_list(const xmlNode *n, const char *const *names) {
    if (n->type != XML_ELEMENT_NODE || !n->name) return 0;
    for (; *names; names++)
        if (!strcasecmp((const char *)n->name, *names)) return 1;
    return 0;
}

static const char *const DROP[] = {"script", "style", "nav", "header", "footer", "aside", "noscript",
                                   "template", "head", "form", "button", "select", "textarea", "input",
                                   "iframe", "svg", "canvas", "object", "embed", "dialog", NULL};
static const char *const DROP_ROLES[] = {"navigation", "banner", "contentinfo", "complementary",
                                         "search", NULL};
/* class or id words of page furniture in generated sites (Sphinx, MkDocs, Doxygen, CMS themes) */
static const char *const DROP_CLASSES[] = {"footer", "sidebar", "sphinxsidebar", "related", "navbar", "breadcrumb",
                                           "breadcrumbs", "skip-link", "skiplink", "cookie-banner", NULL};
static const char *const BLOCKS[] = {
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "div", "dt",
    "fieldset", "figcaption", "figure", "hr", "html", "li", "main", "ol", "p", "section", "summary",
    "table", "tbody", "thead", "tfoot", "ul", "menu", "dl", "td", "th", "tr", "br", NULL};

static uint32_t line_of(const xmlNode *n) {
    long l = xmlGetLineNo((xmlNode *)n);
    return l > 0 && l < (long)UINT32_MAX ? (uint32_t)l : 0;
}

/* Attribute value compared case-insensitively after removing spaces: "display: none" etc. */
static int attr_has(const xmlNode *n, const char *attr, const char *needle) {
    xmlChar *v = xmlGetProp((xmlNode *)n, (const xmlChar *)attr);
    if (!v) return 0;
    char packed[256];
    size_t k = 0;
    for (const xmlChar *p = v; *p && k + 1 < sizeof packed; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') packed[k++] = (char)*p;
    packed[k] = '\0';
    xmlFree(v);
    return strcasestr(packed, needle) != NULL;
}

/* Is one of the space-separated words of attribute attr in words (case-insensitive)? */
static int word_in(const xmlNode *n, const char *attr, const char *const *list) {
    xmlChar *v = xmlGetProp((xmlNode *)n, (const xmlChar *)attr);
    if (!v) return 0;
    int found = 0;
    for (const char *p = (const char *)v; *p && !found;) {
        while (*p == ' ' || *p == '\t' || *p == '\n') p++;
        size_t len = strcspn(p, " \t\n");
        for (const char *const *w = list; *w && !found; w++) found = len && strlen(*w) == len && !strncasecmp(p, *w, len);
        p += len;
    }
    xmlFree(v);
    return found;
}

/* A permalink: <a> whose only text is a pilcrow, section sign or "#". */
static int permalink(const xmlNode *n) {
    if (!is(n, "a") || !n->children || n->children->next || n->children->type != XML_TEXT_NODE)
        return 0;
    const char *t = (const char *)n->children->content;
    if (!t) return 0;
    while (*t == ' ' || *t == '\n' || *t == '\t') t++;
    size_t len = strlen(t);
    while (len && (t[len - 1] == ' ' || t[len - 1] == '\n' || t[len - 1] == '\t')) len--;
    return (len == 1 && t[0] == '#') || (len == 2 && !memcmp(t, "\xC2\xB6", 2)) ||
           (len == 2 && !memcmp(t, "\xC2\xA7", 2));
}

static int dropped(const xmlNode *n) {
    if (n->type != XML_ELEMENT_NODE) return n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE;
    if (in_list(n, DROP) || permalink(n)) return 1;
    if (xmlHasProp((xmlNode *)n, (const xmlChar *)"hidden")) return 1;
    if (attr_has(n, "aria-hidden", "true")) return 1;
    if (attr_has(n, "style", "display:none") || attr_has(n, "style", "visibility:hidden")) return 1;
    if (word_in(n, "class", DROP_CLASSES) || word_in(n, "id", DROP_CLASSES)) return 1;
    xmlChar *role = xmlGetProp((xmlNode *)n, (const xmlChar *)"role");
    if (role) {
        int drop = 0;
        for (const char *const *r = DROP_ROLES; *r && !drop; r++) drop = !strcasecmp((const char *)role, *r);
        xmlFree(role);
        if (drop) return 1;
    }
    return 0;
}

static int heading_level(const xmlNode *n) {
    const char *s = (const char *)n->name;
    if (n->type == XML_ELEMENT_NODE && s && (s[0] == 'h' || s[0] == 'H') && s[1] >= '1' && s[1] <= '6' && !s[2])
        return s[1] - '0';
    return 0;
}

/* All text under n (not n's drop check), appended to out; block boundaries become spaces.
 * Iterative: used for headings, cells, code and subtrees deeper than MAX_DEPTH. */
static xf_status text_of(const xmlNode *top, xf_tok_buf *out) {
    xf_status st = XF_OK;
    const xmlNode *n = top->children;
    while (n && !st) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
            st = xf_buf_append(out, n->content, strlen((const char *)n->content));
        } else if (n->type == XML_ELEMENT_NODE && !dropped(n)) {
            if (in_list(n, BLOCKS) || heading_level(n)) st = xf_buf_append(out, " ", 1);
            if (n->children) {
                n = n->children;
                continue;
            }
        }
        while (n && n != top && !n->next) {
            n = n->parent;
            if (n && n != top && in_list(n, BLOCKS)) st = st ? st : xf_buf_append(out, " ", 1);
        }
        if (!n || n == top) break;
        n = n->next;
    }
    return st;
}

static xf_span current_anchor(const hw *w) {
    xf_span a = {0, 0};
    uint64_t best = 0;
    if (w->n_ids) a = w->ids[w->n_ids - 1], best = w->id_seq[w->n_ids - 1];
    for (size_t k = w->heads.n; k-- > 0;)
        if (w->heads.anchor[k].len) {
            if (w->head_seq[k] > best) a = w->heads.anchor[k];
            break;
        }
    return a;
}

static void emit(hw *w, xf_block_kind kind, const char *s, size_t n, uint32_t l0, uint32_t l1) {
    if (w->st) return;
    xf_span t;
    w->st = xf_doc_put(w->d, s, n, kind != XF_BLOCK_CODE, &t);
    if (!w->st) w->st = xf_doc_add(w->d, kind, t, &w->heads, current_anchor(w), l0, l1);
}

static void flush(hw *w) {
    if (w->para.len) emit(w, XF_BLOCK_TEXT, w->para.data, w->para.len, w->line0, w->line1);
    w->para.len = 0;
}

static void add_text(hw *w, const xmlNode *n) {
    if (!n->content || w->st) return;
    uint32_t l = line_of(n);
    if (!l && n->parent) l = line_of(n->parent);
    if (!w->para.len) w->line0 = l;
    if (l > w->line1 || !w->para.len) w->line1 = l < w->line0 ? w->line0 : l;
    w->st = xf_buf_append(&w->para, n->content, strlen((const char *)n->content));
}

static xf_span put_id(hw *w, const xmlNode *n) {
    xf_span s = {0, 0};
    xmlChar *id = xmlGetProp((xmlNode *)n, (const xmlChar *)"id");
    if (id) {
        if (!w->st) w->st = xf_doc_put(w->d, (const char *)id, strlen((const char *)id), 1, &s);
        xmlFree(id);
    }
    return s;
}

/* Set a heading-path entry from the text in w->tmp; also emitted as a heading block. */
static void set_heading(hw *w, int level, xf_span anchor, uint32_t line) {
    if (w->st) return;
    xf_span t;
    w->st = xf_doc_put(w->d, w->tmp.data, w->tmp.len, 1, &t);
    if (w->st || !t.len) return;
    if ((w->st = xf_heads_set(&w->heads, w->d, level, t, anchor))) return;
    w->head_seq[w->heads.n - 1] = ++w->seq;
    w->st = xf_doc_add(w->d, level >= XF_TERM_LEVEL ? XF_BLOCK_TERM : XF_BLOCK_HEADING, t, &w->heads,
                       current_anchor(w), line, line);
}

static void walk(hw *w, const xmlNode *n, int depth);

static void walk_children(hw *w, const xmlNode *n, int depth) {
    for (const xmlNode *c = n->children; c && !w->st; c = c->next) walk(w, c, depth + 1);
}

static void walk_dl(hw *w, const xmlNode *dl, int depth) {
    size_t n0 = w->heads.n;
    int have_term = 0;
    w->dl_depth++;
    for (const xmlNode *c = dl->children; c && !w->st; c = c->next) {
        if (dropped(c)) continue;
        if (is(c, "dt")) {
            if (!have_term) {
                w->tmp.len = 0;
                xf_heads_truncate(&w->heads, w->d, n0);
            } else {
                w->st = xf_buf_append(&w->tmp, "; ", 2);
            }
            if (!w->st) w->st = text_of(c, &w->tmp);
            xf_span id = put_id(w, c);
            if (w->st) break;
            /* several terms in a row share one entry (the last one's id wins) */
            if (have_term) xf_heads_truncate(&w->heads, w->d, n0);
            set_heading(w, XF_TERM_LEVEL + w->dl_depth, id, line_of(c));
            have_term = 1;
        } else if (is(c, "dd")) {
            walk(w, c, depth + 1);
            flush(w);
            have_term = 0;
        } else {
            walk(w, c, depth + 1);
        }
    }
    flush(w);
    if (!w->st) w->st = xf_heads_truncate(&w->heads, w->d, n0 < w->heads.n ? n0 : w->heads.n);
    w->dl_depth--;
}

static void walk(hw *w, const xmlNode *n, int depth) {
    if (w->st) return;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        add_text(w, n);
        return;
    }
    if (n->type != XML_ELEMENT_NODE || dropped(n)) return;
    if (depth > MAX_DEPTH) { /* pathological nesting: its text joins the paragraph */
        uint32_t l = line_of(n);
        if (!w->para.len) w->line0 = l;
        w->st = text_of(n, &w->para);
        return;
    }
    int pushed = 0;
    int level = heading_level(n);
    if (!level && w->n_ids < MAX_IDS && xmlHasProp((xmlNode *)n, (const xmlChar *)"id")) {
        xf_span id = put_id(w, n);
        if (id.len) {
            w->ids[w->n_ids] = id;
            w->id_seq[w->n_ids++] = ++w->seq;
            pushed = 1;
        }
    }
    if (level) {
        flush(w);
        w->tmp.len = 0;
        if (!w->st) w->st = text_of(n, &w->tmp);
        set_heading(w, level, put_id(w, n), line_of(n));
    } else if (is(n, "pre")) {
        flush(w);
        w->tmp.len = 0;
        if (!w->st) w->st = text_of(n, &w->tmp);
        uint32_t l0 = line_of(n), l1 = l0;
        for (size_t k = 0; k < w->tmp.len; k++) l1 += w->tmp.data[k] == '\n';
        if (!w->st) emit(w, XF_BLOCK_CODE, w->tmp.data, w->tmp.len, l0, l1);
    } else if (is(n, "tr")) {
        flush(w);
        w->tmp.len = 0;
        for (const xmlNode *c = n->children; c && !w->st; c = c->next) {
            if (!is(c, "td") && !is(c, "th")) continue;
            if (dropped(c)) continue;
            if (w->tmp.len) w->st = xf_buf_append(&w->tmp, " | ", 3);
            if (!w->st) w->st = text_of(c, &w->tmp);
        }
        if (!w->st) emit(w, XF_BLOCK_TEXT, w->tmp.data, w->tmp.len, line_of(n), line_of(n));
    } else if (is(n, "dl")) {
        flush(w);
        walk_dl(w, n, depth);
    } else if (is(n, "br")) {
        if (!w->st) w->st = xf_buf_append(&w->para, " ", 1);
    } else if (in_list(n, BLOCKS)) {
        flush(w);
        walk_children(w, n, depth);
        flush(w);
    } else {
        walk_children(w, n, depth);
    }
    if (pushed) w->n_ids--;
}

xf_status xf_parse_html(const char *s, size_t len, xf_doc *d) {
    xf_doc_reset(d);
    if (len > INT_MAX) return xf_error(XF_ERR_RANGE, "HTML document of %zu bytes is too large", len);
    if (len == 0) return XF_OK;
    int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
               HTML_PARSE_COMPACT;
    htmlDocPtr doc = htmlReadMemory(s, (int)len, NULL, NULL, opts);
    if (!doc) return XF_OK; /* nothing the parser could make sense of: no blocks */
    hw w = {.d = d};
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root) walk(&w, root, 0);
    flush(&w);
    xf_buf_free(&w.para);
    xf_buf_free(&w.tmp);
    xmlFreeDoc(doc);
    return w.st;
}
