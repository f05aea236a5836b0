/* fuzz_html_chunk.c — libFuzzer harness: the search parsers and chunkers on arbitrary bytes.
 * Byte 0 picks the format (HTML most of the time, else Markdown or plain text), the chunker
 * (DOM-aware or fixed windows with or without overlap) and the token limit; the rest is the
 * document. The tokenizer is the tiny BERT's WordPiece (tests/data/tiny/bert), loaded once.
 * Checked on every input: blocks and chunks are valid UTF-8 without NUL bytes, and every chunk's
 * embedding text (heading path + text) is within the token limit by that tokenizer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "search/chunk.h"
#include "xfmr.h"

static xf_tokenizer *g_tok;

static int valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!len || i + len > n || c == 0) return 0;
        for (size_t k = 1; k < len; k++)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && (unsigned char)s[i + 1] < 0xA0) || (c == 0xED && (unsigned char)s[i + 1] > 0x9F) ||
            (c == 0xF0 && (unsigned char)s[i + 1] < 0x90) || (c == 0xF4 && (unsigned char)s[i + 1] > 0x8F))
            return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_tok && xf_tokenizer_load(fz_src("tests/data/tiny/bert/tokenizer.json"), &g_tok) != XF_OK) abort();
    if (size < 1) return 0;
    static const xf_doc_format fmts[4] = {XF_FMT_HTML, XF_FMT_HTML, XF_FMT_MARKDOWN, XF_FMT_TEXT};
    static const size_t limits[4] = {8, 16, 64, 256};
    xf_doc_format fmt = fmts[data[0] & 3];
    xf_chunk_cfg cfg = {g_tok, limits[(data[0] >> 2) & 3], 0, (data[0] >> 4) & 1 ? XF_CHUNK_FIXED : XF_CHUNK_DOM};
    if ((data[0] >> 5) & 1) cfg.overlap = cfg.max_tokens / 4;
    if ((data[0] >> 6) & 1) cfg.tok = NULL; /* one token per word */
    const char *doc = (const char *)data + 1;
    size_t len = size - 1;
    xf_doc d = {0};
    xf_chunks c = {0};
    if (xf_parse(fmt, doc, len, &d) != XF_OK) __builtin_trap();
    for (size_t i = 0; i < d.n; i++) {
        const xf_block *b = &d.v[i];
        if (!valid_utf8(xf_doc_str(&d, b->text), b->text.len) || !valid_utf8(xf_doc_str(&d, b->path), b->path.len) ||
            !valid_utf8(xf_doc_str(&d, b->anchor), b->anchor.len))
            __builtin_trap();
    }
    if (xf_chunk_doc(&d, &cfg, &c) != XF_OK) __builtin_trap();
    xf_tok_buf buf = {0};
    for (size_t i = 0; i < c.n; i++) {
        if (xf_chunk_embed_text(&c, i, &buf) != XF_OK) __builtin_trap();
        if (!valid_utf8(buf.data, buf.len)) __builtin_trap();
        size_t nt = 0;
        if (xf_count_tokens(cfg.tok, buf.data, buf.len, &nt) != XF_OK) __builtin_trap();
        if (nt > cfg.max_tokens) __builtin_trap();
    }
    xf_buf_free(&buf);
    xf_chunks_free(&c);
    xf_doc_free(&d);
    return 0;
}
