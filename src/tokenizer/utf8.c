/* utf8.c — UTF-8 decoding with CPython's errors="replace" rule, and helpers on valid UTF-8. */
#include <stdint.h>

#include "tokenizer/tokenizer.h"

/* Python's decoder replaces each maximal subpart of an ill-formed sequence (Unicode 6.0+
 * recommended practice) with one U+FFFD: a lead byte plus the continuation bytes that are
 * valid for it so far. */
xf_status xf_utf8_sanitize(const char *s, size_t len, xf_tok_buf *out) {
    static const char repl[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    const uint8_t *p = (const uint8_t *)s;
    out->len = 0;
    xf_status st = xf_buf_reserve(out, len);
    if (st) return st;
    size_t i = 0;
    while (i < len) {
        uint8_t b = p[i];
        if (b < 0x80) {
            size_t j = i + 1;
            while (j < len && p[j] < 0x80) j++;
            if ((st = xf_buf_append(out, p + i, j - i))) return st;
            i = j;
            continue;
        }
        size_t need; /* continuation bytes */
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        } else {
            if ((st = xf_buf_append(out, repl, 3))) return st;
            i++;
            continue;
        }
        size_t k = 1;
        while (k <= need && i + k < len) {
            uint8_t c = p[i + k];
            uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (c < l || c > h) break;
            k++;
        }
        if (k == need + 1) {
            if ((st = xf_buf_append(out, p + i, k))) return st;
        } else if ((st = xf_buf_append(out, repl, 3))) {
            return st;
        }
        i += k;
    }
    return xf_buf_reserve(out, 0);
}

uint32_t xf_utf8_next(const char *s, size_t len, size_t *i) {
    const uint8_t *p = (const uint8_t *)s + *i;
    size_t left = len - *i;
    uint8_t b = p[0];
    if (b < 0x80 || left < 2) {
        *i += 1;
        return b;
    }
    if (b < 0xE0) {
        *i += 2;
        return ((uint32_t)(b & 0x1F) << 6) | (p[1] & 0x3F);
    }
    if (b < 0xF0 || left < 4) {
        *i += left < 3 ? left : 3;
        if (left < 3) return 0xFFFD;
        return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    }
    *i += 4;
    return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
           ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

size_t xf_utf8_encode(uint32_t c, char *out) {
    uint8_t *o = (uint8_t *)out;
    if (c < 0x80) {
        o[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (uint8_t)(0xC0 | (c >> 6));
        o[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (c >> 12));
        o[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (c >> 18));
    o[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

size_t xf_utf8_count(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((uint8_t)s[i] & 0xC0) != 0x80;
    return n;
}
