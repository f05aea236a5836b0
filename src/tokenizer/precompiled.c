/* precompiled.c — normalizers that work on UTF-8 rather than code points:
 *   Precompiled: SentencePiece's precompiled_charsmap, as tokenizers' `Precompiled` applies it.
 *     The blob is a little-endian u32 byte size of a darts-clone double array (XOR-compressed
 *     trie of u32 units), that array, then NUL-terminated replacement strings the trie's values
 *     index. The text is walked grapheme by grapheme (extended grapheme clusters, utf8proc): a
 *     grapheme shorter than 6 bytes whose bytes start with a key is replaced whole by the
 *     replacement of the shortest such key (tokenizers' own rule, kept as it is); otherwise each
 *     character is replaced by its replacement if it has one.
 *   Replace with a Regex pattern: every non-overlapping match (tokenizers' find_matches) replaced
 *     by the content string. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/alloc.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

static uint32_t unit_at(const xf_norm_step *s, uint32_t i) {
    const uint8_t *p = s->pc_blob + 4 + (size_t)i * 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

xf_status xf_precompiled_init(xf_norm_step *s, const uint8_t *blob, size_t len, const char *where) {
    if (len < 4) return xf_error(XF_ERR_FORMAT, "%s: precompiled charsmap of %zu bytes is too short", where, len);
    uint32_t trie = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (trie % 4 || (size_t)trie > len - 4)
        return xf_error(XF_ERR_FORMAT, "%s: precompiled charsmap: trie size %u does not fit its %zu bytes", where,
                        (unsigned)trie, len);
    if (!(s->pc_blob = xf_malloc(len + 1))) return xf_error(XF_ERR_NOMEM, "%s: out of memory", where);
    memcpy(s->pc_blob, blob, len);
    s->pc_blob[len] = 0; /* the last replacement string is terminated even if the blob is not */
    s->pc_units = trie / 4;
    s->pc_norm = (const char *)s->pc_blob + 4 + trie;
    s->pc_norm_len = len - 4 - trie;
    return XF_OK;
}

/* Replacement of the shortest key that prefixes p[0, n), or NULL (darts-clone's
 * commonPrefixSearch, first result). Every index is bounds-checked: the blob is untrusted. */
static const char *lookup(const xf_norm_step *s, const char *p, size_t n, size_t *out_len) {
    if (!s->pc_units) return NULL;
    uint32_t pos = 0, unit = unit_at(s, 0);
    pos ^= (unit >> 10) << ((unit & (1u << 9)) >> 6);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)p[i];
        pos ^= c;
        if (pos >= s->pc_units) return NULL;
        unit = unit_at(s, pos);
        if ((unit & (0x80000000u | 0xFFu)) != c) return NULL;
        pos ^= (unit >> 10) << ((unit & (1u << 9)) >> 6);
        if ((unit >> 8) & 1) {
            if (pos >= s->pc_units) return NULL;
            uint32_t v = unit_at(s, pos) & 0x7FFFFFFFu;
            if (v >= s->pc_norm_len) return NULL;
            const char *r = s->pc_norm + v;
            *out_len = strlen(r); /* pc_blob ends with a NUL */
            return r;
        }
    }
    return NULL;
}

static xf_status precompiled(const xf_norm_step *s, const char *t, size_t len, xf_tok_buf *out) {
    size_t i = 0;
    utf8proc_int32_t state = 0;
    xf_status st = XF_OK;
    while (i < len && !st) {
        /* one grapheme: [i, j) */
        size_t j = i;
        uint32_t prev = xf_utf8_next(t, len, &j);
        while (j < len) {
            size_t k = j;
            uint32_t c = xf_utf8_next(t, len, &k);
            if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)c, &state)) break;
            prev = c;
            j = k;
        }
        state = 0;
        size_t rl;
        const char *r = j - i < 6 ? lookup(s, t + i, j - i, &rl) : NULL;
        if (r) {
            st = xf_buf_append(out, r, rl);
        } else {
            for (size_t a = i; a < j && !st;) {
                size_t b = a;
                (void)xf_utf8_next(t, j, &b);
                r = lookup(s, t + a, b - a, &rl);
                st = r ? xf_buf_append(out, r, rl) : xf_buf_append(out, t + a, b - a);
                a = b;
            }
        }
        i = j;
    }
    return st;
}

/* Regex Replace: every match (as tokenizers finds them) replaced by the content. */
static xf_status replace_re(const xf_norm_step *s, const char *t, size_t len, xf_tok_buf *out) {
    xf_tok_buf spans = {0};
    xf_status st = xf_regex_spans(s->re, t, len, &spans);
    const xf_re_span *v = (const xf_re_span *)(const void *)spans.data;
    for (size_t i = 0, n = spans.len / sizeof *v; i < n && !st; i++)
        st = v[i].match ? xf_buf_append(out, s->content, s->content_len) : xf_buf_append(out, t + v[i].a, v[i].b - v[i].a);
    xf_buf_free(&spans);
    return st;
}

static int b64_val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

xf_status xf_base64_decode(const char *s, uint8_t **out, size_t *len) {
    size_t n = strlen(s), k = 0;
    uint8_t *b = xf_malloc(n / 4 * 3 + 3);
    if (!b) return xf_error(XF_ERR_NOMEM, "out of memory");
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=') break;
        int v = b64_val((unsigned char)s[i]);
        if (v < 0) {
            free(b);
            return xf_error(XF_ERR_FORMAT, "invalid base64 character at offset %zu", i);
        }
        acc = (acc << 6) | (uint32_t)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            b[k++] = (uint8_t)(acc >> bits);
        }
    }
    *out = b;
    *len = k;
    return XF_OK;
}

xf_status xf_norm_utf8_step(const xf_norm_step *s, const char *t, size_t len, xf_tok_buf *out) {
    out->len = 0;
    return s->kind == XF_NORM_PRECOMPILED ? precompiled(s, t, len, out) : replace_re(s, t, len, out);
}

void xf_norm_step_free(xf_norm_step *s) {
    free(s->pat);
    free(s->str);
    free(s->pc_blob);
    free(s->content);
    xf_regex_free(s->re);
}
