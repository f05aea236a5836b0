/* doc.h — the intermediate form of an indexed document: a list of blocks (headings, paragraphs,
 * list items, table rows, code blocks, definitions) in reading order, each with its heading path
 * and source location, produced by the parsers (text, Markdown, HTML) and cut into chunks by
 * chunk.c. Strings live in one arena and are addressed by offsets (the arena may move). */
#ifndef XF_SEARCH_DOC_H
#define XF_SEARCH_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tok_buf.h"
#include "xfmr.h"

/* HEADING: a section heading (in the path of the blocks after it, not in their text); TERM: a
 * definition term (<dt>), in the path of its definition and also written into DOM chunks, since
 * the definitions of one section are packed together under the section's path. */
typedef enum xf_block_kind { XF_BLOCK_TEXT = 0, XF_BLOCK_HEADING, XF_BLOCK_CODE, XF_BLOCK_TERM } xf_block_kind;

/* A span of the arena. */
typedef struct xf_span {
    size_t off, len;
} xf_span;

typedef struct xf_block {
    xf_block_kind kind;
    xf_span text;   /* valid UTF-8 without NUL bytes */
    xf_span path;   /* heading path, "Title > Section > Term" ("" at the top) */
    xf_span section; /* the path without definition terms: "Title > Section" */
    xf_span anchor; /* id of the enclosing section / definition ("" if none) */
    uint32_t line0, line1; /* 1-based source lines it spans */
} xf_block;

typedef struct xf_doc {
    xf_tok_buf arena;
    xf_block *v;
    size_t n, cap;
} xf_doc;

/* Source formats, from the file name. */
typedef enum xf_doc_format { XF_FMT_TEXT = 0, XF_FMT_MARKDOWN, XF_FMT_HTML } xf_doc_format;
/* .md .markdown .mdown -> Markdown; .html .htm .xhtml -> HTML; anything else -> text. */
xf_doc_format xf_doc_format_of(const char *path);
const char *xf_doc_format_name(xf_doc_format f);

void xf_doc_free(xf_doc *d);
/* Clear blocks and arena, keeping the memory. */
void xf_doc_reset(xf_doc *d);
/* Pointer to a span's bytes (valid until the next append). */
static inline const char *xf_doc_str(const xf_doc *d, xf_span s) { return s.len ? d->arena.data + s.off : ""; }

/* Copy bytes into the arena as valid UTF-8 (invalid sequences -> U+FFFD, NUL bytes dropped);
 * collapse != 0 also turns every run of whitespace into one space and trims both ends. A NUL
 * follows every span in the arena, so xf_doc_str() of a span is a C string. */
xf_status xf_doc_put(xf_doc *d, const char *s, size_t len, int collapse, xf_span *out);
struct xf_heads;
/* Append a block (text already in the arena) under the headings h (NULL: none). Empty texts are
 * skipped. */
xf_status xf_doc_add(xf_doc *d, xf_block_kind kind, xf_span text, const struct xf_heads *h, xf_span anchor,
                     uint32_t line0, uint32_t line1);

/* Parsers: bytes of a file into blocks (d is reset first). They never fail on bad input (binary,
 * unbalanced markup, invalid UTF-8 all give some blocks); only XF_ERR_NOMEM / XF_ERR_RANGE. */
xf_status xf_parse_text(const char *s, size_t len, xf_doc *d);
xf_status xf_parse_markdown(const char *s, size_t len, xf_doc *d);
xf_status xf_parse_html(const char *s, size_t len, xf_doc *d);
xf_status xf_parse(xf_doc_format f, const char *s, size_t len, xf_doc *d);

/* ------------------------------------------------------------------ heading paths */

/* A stack of headings (level 1..) from which block paths are built; levels from XF_TERM_LEVEL
 * on are definition terms. */
#define XF_PATH_MAX_DEPTH 16
#define XF_TERM_LEVEL 100
typedef struct xf_heads {
    int level[XF_PATH_MAX_DEPTH];
    xf_span text[XF_PATH_MAX_DEPTH];
    xf_span anchor[XF_PATH_MAX_DEPTH];
    size_t n;
    xf_span path;    /* the joined path, rebuilt on each change */
    xf_span section; /* the same without the terms */
} xf_heads;

/* A heading of `level`: entries of that level or deeper are dropped, then it is pushed, and the
 * joined path is rebuilt in d's arena. */
xf_status xf_heads_set(xf_heads *h, xf_doc *d, int level, xf_span text, xf_span anchor);
/* Drop entries above depth n and rebuild the path. */
xf_status xf_heads_truncate(xf_heads *h, xf_doc *d, size_t n);

#endif
