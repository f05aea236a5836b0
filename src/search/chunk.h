/* chunk.h — cutting a parsed document (doc.h) into chunks that fit the embedding model:
 *   DOM-aware: consecutive blocks under the same heading path are packed together up to the
 *   token limit (the path, prepended when embedding, counts against it); a block too long on
 *   its own is cut at word boundaries;
 *   fixed: the document's text (headings included, as plain lines) in windows of N tokens,
 *   cut at word boundaries, consecutive windows sharing `overlap` tokens — the baseline.
 * Token counts come from the model's tokenizer (special tokens included), so every chunk's
 * embedding text is within max_tokens. */
#ifndef XF_SEARCH_CHUNK_H
#define XF_SEARCH_CHUNK_H

#include "search/doc.h"

typedef struct xf_chunk {
    xf_span text, path, anchor; /* in the chunk list's arena */
    uint32_t line0, line1;
} xf_chunk;

typedef struct xf_chunks {
    xf_doc store; /* arena for the strings (its block list is unused) */
    xf_chunk *v;
    size_t n, cap;
} xf_chunks;

typedef enum xf_chunk_mode { XF_CHUNK_DOM = 0, XF_CHUNK_FIXED = 1 } xf_chunk_mode;

typedef struct xf_chunk_cfg {
    const xf_tokenizer *tok; /* counts tokens; NULL = one token per word (tests, fuzzing) */
    size_t max_tokens;       /* limit of one chunk's embedding text, special tokens included */
    size_t overlap;          /* fixed mode: tokens shared by consecutive windows (< max_tokens/2) */
    xf_chunk_mode mode;
} xf_chunk_cfg;

xf_status xf_chunk_doc(const xf_doc *d, const xf_chunk_cfg *cfg, xf_chunks *out);
void xf_chunks_free(xf_chunks *c);

/* The text that is embedded for a chunk: "path\n" + text (path omitted when empty), into buf
 * (reset first). */
xf_status xf_chunk_embed_text(const xf_chunks *c, size_t i, xf_tok_buf *buf);
/* Number of tokens the tokenizer makes of s (special tokens included); 1 per word when tok is
 * NULL. */
xf_status xf_count_tokens(const xf_tokenizer *tok, const char *s, size_t len, size_t *n);

#endif
