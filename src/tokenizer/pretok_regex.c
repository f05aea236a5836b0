/* pretok_regex.c — the pre-tokenizers of byte-level BPE tokenizers, as tokenizers defines them:
 * ByteLevel (prefix space, GPT-2 regex, bytes -> printable unicode chars), Split (a PCRE2 regex
 * or literal, five delimiter behaviours, invert) and Digits. Input is valid UTF-8. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

const char xf_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* tokenizers' is_punctuation: a Unicode punctuation char or an ASCII one (some are symbols). */
const char xf_punct_pattern[] = "[\\p{P}$+<=>^`|~]";

void *xf_regex_compile(const char *pat, size_t len, int literal, char *err, size_t err_cap) {
    int code;
    PCRE2_SIZE off;
    uint32_t opt = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opt, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0) strcpy((char *)msg, "unknown error");
        snprintf(err, err_cap, "cannot compile regex \"%.100s\": %s (PCRE2 error offset %zu)", pat,
                 (const char *)msg, (size_t)off);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* interpreter when JIT is unavailable */
    return re;
}

void xf_regex_free(void *re) { pcre2_code_free((pcre2_code *)re); }

typedef xf_re_span span;

static xf_status push_span(xf_tok_buf *v, size_t a, size_t b, int match) {
    span s = {a, b, match};
    return xf_buf_append(v, &s, sizeof s);
}

static size_t char_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

/* tokenizers' Pattern::find_matches for a regex (onig find_iter: an empty match right after
 * the previous match is skipped by one char). */
xf_status xf_regex_spans(const void *rex, const char *s, size_t len, xf_tok_buf *out) {
    const pcre2_code *re = rex;
    if (len == 0) return push_span(out, 0, 0, 0);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) return xf_error(XF_ERR_NOMEM, "pre-tokenizer: out of memory");
    size_t prev = 0, last_end = 0, last_match_end = (size_t)-1;
    xf_status st = XF_OK;
    while (last_end <= len && !st) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, len, last_end, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(re, (PCRE2_SPTR)s, len, last_end, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            st = xf_error(XF_ERR_RANGE, "pre-tokenizer regex: %s", (const char *)msg);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (a == b && last_match_end == b) {
            last_end += last_end < len ? char_len((unsigned char)s[last_end]) : 1;
            continue;
        }
        last_end = last_match_end = b;
        if (prev != a) st = push_span(out, prev, a, 0);
        if (!st) st = push_span(out, a, b, 1);
        prev = b;
    }
    pcre2_match_data_free(md);
    if (!st && prev != len) st = push_span(out, prev, len, 0);
    return st;
}

/* tokenizers' find_matches for a char predicate (Digits: char::is_numeric): one match per char. */
static xf_status digit_spans(const char *s, size_t len, xf_tok_buf *out) {
    if (len == 0) return push_span(out, 0, 0, 0);
    size_t last = 0, i = 0;
    xf_status st = XF_OK;
    while (i < len && !st) {
        size_t at = i;
        uint32_t c = xf_utf8_next(s, len, &i);
        if (!xf_uc_is_numeric(c)) continue;
        if (last < at) st = push_span(out, last, at, 0);
        if (!st) st = push_span(out, at, i, 1);
        last = i;
    }
    if (!st && last < len) st = push_span(out, last, len, 0);
    return st;
}

/* NormalizedString::split: spans -> pieces by behaviour (pieces marked match = 1 are removed). */
static void apply_behavior(span *v, size_t *n, xf_split_behavior beh, int invert) {
    size_t k = 0, m = *n;
    if (invert)
        for (size_t i = 0; i < m; i++) v[i].match = !v[i].match;
    int prev = 0;
    switch (beh) {
    case XF_SPLIT_REMOVED:
        return;
    case XF_SPLIT_ISOLATED:
        for (size_t i = 0; i < m; i++) v[i].match = 0;
        return;
    case XF_SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < m; i++) {
            int is = v[i].match;
            if (is == prev && k) v[k - 1].b = v[i].b;
            else v[k++] = (span){v[i].a, v[i].b, 0};
            prev = is;
        }
        break;
    case XF_SPLIT_MERGED_PREV:
        for (size_t i = 0; i < m; i++) {
            int is = v[i].match;
            if (is && !prev && k) v[k - 1].b = v[i].b;
            else v[k++] = (span){v[i].a, v[i].b, 0};
            prev = is;
        }
        break;
    case XF_SPLIT_MERGED_NEXT: /* built from the end, stored from the end of the array */
        k = m;
        for (size_t i = m; i-- > 0;) {
            int is = v[i].match;
            if (is && !prev && k < m) v[k].a = v[i].a;
            else v[--k] = (span){v[i].a, v[i].b, 0};
            prev = is;
        }
        memmove(v, v + k, (m - k) * sizeof *v);
        k = m - k;
        break;
    }
    *n = k;
}

/* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, others to U+0100.. */
static uint32_t byte_char(unsigned char b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    uint32_t n = b <= 0x20 ? b : b <= 0xA0 ? b - 0x7F + 0x21 : 0x21 + 0x22; /* 0xAD */
    return 0x100 + n;
}

static xf_status emit(const char *s, size_t a, size_t b, int bytelevel, xf_tok_buf *text, xf_tok_buf *out) {
    if (a >= b) return XF_OK; /* tokenizers drops empty splits */
    size_t r[2] = {text->len, 0};
    xf_status st;
    if (!bytelevel) {
        st = xf_buf_append(text, s + a, b - a);
    } else {
        st = xf_buf_reserve(text, 2 * (b - a));
        for (size_t i = a; i < b && !st; i++) text->len += xf_utf8_encode(byte_char((unsigned char)s[i]), text->data + text->len);
    }
    r[1] = text->len;
    return st ? st : xf_buf_append(out, r, sizeof r);
}

xf_status xf_pretok_regex_step(const xf_pretok_step *step, const char *s, size_t len,
                               xf_tok_buf *text, xf_tok_buf *out) {
    xf_tok_buf spans = {0}, pre = {0};
    xf_status st = XF_OK;
    int bl = step->kind == XF_PRETOK_BYTELEVEL;
    if (bl && step->add_prefix_space && (len == 0 || s[0] != ' ')) {
        if ((st = xf_buf_append(&pre, " ", 1)) || (st = xf_buf_append(&pre, s, len))) goto done;
        s = pre.data;
        len = pre.len;
    }
    if (bl && !step->use_regex) {
        st = emit(s, 0, len, 1, text, out);
        goto done;
    }
    if (step->kind == XF_PRETOK_DIGITS) st = digit_spans(s, len, &spans);
    else st = xf_regex_spans(step->re, s, len, &spans);
    if (st) goto done;
    size_t n = spans.len / sizeof(span);
    span *v = (span *)(void *)spans.data;
    if (bl) apply_behavior(v, &n, XF_SPLIT_ISOLATED, 0);
    else if (step->kind == XF_PRETOK_DIGITS)
        apply_behavior(v, &n, step->individual_digits ? XF_SPLIT_ISOLATED : XF_SPLIT_CONTIGUOUS, 0);
    else apply_behavior(v, &n, step->behavior, step->invert);
    for (size_t i = 0; i < n && !st; i++)
        if (!v[i].match) st = emit(s, v[i].a, v[i].b, bl, text, out);
done:
    xf_buf_free(&spans);
    xf_buf_free(&pre);
    return st;
}

/* tokenizers' Metaspace pre-tokenizer: ' ' -> replacement, the replacement prepended (always,
 * or only at the start of the input for "first") unless already there, then (split) a split
 * before every replacement (MergedWithNext). */
xf_status xf_pretok_metaspace(const xf_pretok_step *step, const char *s, size_t len, int at_start,
                              xf_tok_buf *text, xf_tok_buf *out) {
    xf_tok_buf t = {0}, spans = {0};
    size_t rl = strlen(step->rep);
    xf_status st = XF_OK;
    if (len == 0) return XF_OK;
    int pre = step->prepend == 2 || (step->prepend == 1 && at_start);
    if (pre && !(len >= rl && !memcmp(s, step->rep, rl)) && s[0] != ' ') st = xf_buf_append(&t, step->rep, rl);
    for (size_t i = 0; i < len && !st; i++)
        st = s[i] == ' ' ? xf_buf_append(&t, step->rep, rl) : xf_buf_append(&t, s + i, 1);
    if (st) goto done;
    if (!step->re) {
        st = emit(t.data, 0, t.len, 0, text, out);
        goto done;
    }
    if ((st = xf_regex_spans(step->re, t.data, t.len, &spans))) goto done;
    size_t n = spans.len / sizeof(span);
    span *v = (span *)(void *)spans.data;
    apply_behavior(v, &n, XF_SPLIT_MERGED_NEXT, 0);
    for (size_t i = 0; i < n && !st; i++)
        if (!v[i].match) st = emit(t.data, v[i].a, v[i].b, 0, text, out);
done:
    xf_buf_free(&t);
    xf_buf_free(&spans);
    return st;
}
