/* jinja_methods.c — what Jinja templates call on values and as globals, with Python's behaviour:
 * str methods (strip/lstrip/rstrip, split/rsplit, startswith/endswith, replace, upper/lower/title/
 * capitalize, find, count, join, format, is* tests, removeprefix/removesuffix, splitlines), dict
 * get/items/keys/values, list index/count, and the globals of transformers' environment
 * (range, namespace, dict, raise_exception, strftime_now) plus loop.cycle. Methods that change a
 * value (append, pop, update ...) are refused as the sandbox refuses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "tokenizer/jinja_impl.h"

jv jj_arg(const jv *pos, size_t n_pos, const char *const *kw, const jv *kwv, size_t n_kw, size_t idx,
          const char *name, jv def) {
    if (idx < n_pos) return pos[idx];
    for (size_t k = 0; name && k < n_kw; k++)
        if (!strcmp(kw[k], name)) return kwv[k];
    return def;
}

static int in_chars(uint32_t cp, const char *chars, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t c2;
        size_t k = jj_utf8_dec((const unsigned char *)chars + i, n - i, &c2);
        if (!k) {
            k = 1;
            c2 = 0xFFFFFFFF;
        }
        if (c2 == cp) return 1;
        i += k;
    }
    return 0;
}

void jj_strip(const char *s, size_t n, const char *chars, size_t nchars, int which, size_t *pa, size_t *pe) {
    size_t a = 0, e = n;
    while ((which & 1) && a < e) {
        uint32_t cp;
        size_t k = jj_utf8_dec((const unsigned char *)s + a, e - a, &cp);
        if (!k || !(chars ? in_chars(cp, chars, nchars) : jj_py_isspace(cp))) break;
        a += k;
    }
    while ((which & 2) && e > a) {
        size_t k = e - 1;
        while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80 && e - k < 4) k--;
        uint32_t cp;
        size_t m = jj_utf8_dec((const unsigned char *)s + k, e - k, &cp);
        if (m != e - k || !(chars ? in_chars(cp, chars, nchars) : jj_py_isspace(cp))) break;
        e = k;
    }
    *pa = a;
    *pe = e;
}

static int is_cased_letter(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

/* mode: 'u' upper, 'l' lower, 't' Python title, 'c' capitalize; 'j' Jinja's title filter. */
static int case_map(jj_ctx *c, jv s, int mode, jv *out) {
    jj_buf b = {0};
    int start = 1; /* at a word start */
    size_t idx = 0;
    for (size_t i = 0; i < s.u.s.n; idx++) {
        uint32_t cp;
        size_t k = jj_utf8_dec((const unsigned char *)s.u.s.p + i, s.u.s.n - i, &cp);
        if (!k) {
            jj_buf_put(&b, s.u.s.p + i, 1);
            i++;
            continue;
        }
        uint32_t o = cp;
        if (mode == 'u') o = (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp);
        else if (mode == 'l') o = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
        else if (mode == 'c') o = (uint32_t)(idx == 0 ? utf8proc_totitle((utf8proc_int32_t)cp) : utf8proc_tolower((utf8proc_int32_t)cp));
        else if (mode == 't') {
            int cased = is_cased_letter(cp);
            o = (uint32_t)(start ? utf8proc_totitle((utf8proc_int32_t)cp) : utf8proc_tolower((utf8proc_int32_t)cp));
            start = !cased;
        } else { /* 'j' */
            int delim = jj_py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
            o = delim ? cp : (uint32_t)(start ? utf8proc_toupper((utf8proc_int32_t)cp) : utf8proc_tolower((utf8proc_int32_t)cp));
            start = delim;
        }
        char tmp[4];
        jj_buf_put(&b, tmp, xf_utf8_encode(o, tmp));
        i += k;
    }
    int rc = 0;
    if (b.over) rc = jj_oom(c);
    else *out = jv_mkstr(c, b.p ? b.p : "", b.n);
    jj_buf_free(&b);
    return rc || c->failed ? -1 : 0;
}

int jj_case(jj_ctx *c, jv s, int mode, jv *out) { return case_map(c, s, mode, out); }
int jj_title_filter(jj_ctx *c, jv s, jv *out) { return case_map(c, s, 'j', out); }

/* ---------------------------------------------------------------- methods */

enum {
    M_STRIP, M_LSTRIP, M_RSTRIP, M_SPLIT, M_RSPLIT, M_STARTSWITH, M_ENDSWITH, M_REPLACE, M_UPPER,
    M_LOWER, M_TITLE, M_CAPITALIZE, M_FIND, M_RFIND, M_COUNT, M_JOIN, M_FORMAT, M_ISDIGIT, M_ISALPHA,
    M_ISALNUM, M_ISSPACE, M_ISUPPER, M_ISLOWER, M_REMOVEPREFIX, M_REMOVESUFFIX, M_SPLITLINES,
    M_GET, M_ITEMS, M_KEYS, M_VALUES, M_COPY, M_INDEX,
    M_COUNT_LIST
};

static const char *const STR_METHODS[] = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "replace", "upper",
    "lower", "title", "capitalize", "find", "rfind", "count", "join", "format", "isdigit", "isalpha",
    "isalnum", "isspace", "isupper", "islower", "removeprefix", "removesuffix", "splitlines", NULL};
static const char *const UNSAFE[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort",
                                     "clear", "update", "setdefault", "popitem", "add", "discard", NULL};

static int name_is(const char *name, size_t n, const char *s) { return strlen(s) == n && !memcmp(name, s, n); }

static int bind(jj_ctx *c, jv self, int id, const char *name, jv *out) {
    jj_func *fn = jj_alloc(&c->ar, sizeof *fn);
    if (!fn) return jj_oom(c);
    fn->kind = JF_METHOD;
    fn->id = id;
    fn->self = self;
    fn->name = name;
    out->t = JV_FUNC;
    out->u.fn = fn;
    return 0;
}

int jj_method_lookup(jj_ctx *c, const jj_node *at, jv self, const char *name, size_t n, jv *out) {
    *out = jv_undef(NULL);
    if (self.t == JV_STR) {
        for (int k = 0; STR_METHODS[k]; k++)
            if (name_is(name, n, STR_METHODS[k])) return bind(c, self, k, STR_METHODS[k], out);
        return 0;
    }
    if (self.t == JV_DICT) {
        static const char *const dm[] = {"get", "items", "keys", "values", "copy", NULL};
        for (int k = 0; dm[k]; k++)
            if (name_is(name, n, dm[k])) return bind(c, self, M_GET + k, dm[k], out);
    }
    if (self.t == JV_LIST) {
        if (name_is(name, n, "index")) return bind(c, self, M_INDEX, "index", out);
        if (name_is(name, n, "count")) return bind(c, self, M_COUNT_LIST, "count", out);
    }
    if (self.t == JV_DICT || self.t == JV_LIST)
        for (int k = 0; UNSAFE[k]; k++)
            if (name_is(name, n, UNSAFE[k]))
                return jj_fail(c, at, XF_ERR_INVALID_ARG,
                               "access to attribute '%s' of '%s' object is unsafe (templates cannot change values)",
                               UNSAFE[k], jv_type_name(self));
    return 0;
}

static int need_str(jj_ctx *c, const jj_node *at, jv v, const char *what) {
    if (v.t == JV_STR) return 0;
    return jj_fail(c, at, XF_ERR_INVALID_ARG, "%s: expected a string argument, got %s", what, jv_type_name(v));
}

static int find_sub(const char *s, size_t n, const char *sub, size_t m, size_t from, int reverse, size_t *at) {
    if (m > n) return 0;
    if (reverse) {
        for (size_t i = n - m + 1; i-- > from;)
            if (!memcmp(s + i, sub, m)) return *at = i, 1;
        return 0;
    }
    for (size_t i = from; i + m <= n; i++)
        if (!memcmp(s + i, sub, m)) return *at = i, 1;
    return 0;
}

static int push_item(jj_ctx *c, jv *list, size_t *cap, jv item) {
    jj_list *l = list->u.l;
    if (l->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        jv *v = jj_alloc(&c->ar, nc * sizeof *v);
        if (!v) return jj_oom(c);
        if (l->n) memcpy(v, l->v, l->n * sizeof *v);
        l->v = v;
        *cap = nc;
    }
    l->v[l->n++] = item;
    return 0;
}

static int split(jj_ctx *c, const jj_node *at, jv s, jv sep, jv maxv, int reverse, jv *out) {
    int64_t maxsplit = maxv.t == JV_INT ? maxv.u.i : -1;
    *out = jv_mklist(c, 0, 0);
    if (c->failed) return -1;
    size_t cap = 0;
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    if (sep.t == JV_NONE || sep.t == JV_UNDEF) { /* runs of whitespace */
        jv parts = jv_mklist(c, 0, 0);
        size_t pc = 0;
        if (c->failed) return -1;
        /* split fully on whitespace, then re-join the tail when maxsplit limits it */
        size_t i = 0;
        int64_t done = 0;
        if (!reverse) {
            while (i < n) {
                size_t a, e;
                jj_strip(p + i, n - i, NULL, 0, 1, &a, &e);
                i += a;
                if (i >= n) break;
                if (maxsplit >= 0 && done == maxsplit) { /* the rest, trailing whitespace kept */
                    if (push_item(c, &parts, &pc, jv_str(p + i, n - i))) return -1;
                    break;
                }
                size_t j = i;
                while (j < n) {
                    uint32_t cp;
                    size_t k = jj_utf8_dec((const unsigned char *)p + j, n - j, &cp);
                    if (k && jj_py_isspace(cp)) break;
                    j += k ? k : 1;
                }
                if (push_item(c, &parts, &pc, jv_str(p + i, j - i))) return -1;
                done++;
                i = j;
            }
            *out = parts;
            return 0;
        }
        /* rsplit() on whitespace: from the right */
        size_t e = n;
        jv rev = jv_mklist(c, 0, 0);
        size_t rc = 0;
        if (c->failed) return -1;
        while (e > 0) {
            size_t a, e2;
            jj_strip(p, e, NULL, 0, 2, &a, &e2);
            e = e2;
            if (e == 0) break;
            if (maxsplit >= 0 && done == maxsplit) { /* the rest, leading whitespace kept */
                if (push_item(c, &rev, &rc, jv_str(p, e))) return -1;
                break;
            }
            size_t j = e;
            while (j > 0) {
                size_t k = j - 1;
                while (k > 0 && ((unsigned char)p[k] & 0xC0) == 0x80 && j - k < 4) k--;
                uint32_t cp;
                size_t m = jj_utf8_dec((const unsigned char *)p + k, j - k, &cp);
                if (m == j - k && jj_py_isspace(cp)) break;
                j = k;
            }
            if (push_item(c, &rev, &rc, jv_str(p + j, e - j))) return -1;
            done++;
            e = j;
        }
        *out = jv_mklist(c, rev.u.l->n, 0);
        if (c->failed) return -1;
        for (size_t k = 0; k < rev.u.l->n; k++) out->u.l->v[k] = rev.u.l->v[rev.u.l->n - 1 - k];
        return 0;
    }
    if (need_str(c, at, sep, "split")) return -1;
    if (sep.u.s.n == 0) return jj_fail(c, at, XF_ERR_INVALID_ARG, "split: empty separator");
    size_t m = sep.u.s.n;
    if (!reverse) {
        size_t i = 0, hit;
        int64_t done = 0;
        while ((maxsplit < 0 || done < maxsplit) && find_sub(p, n, sep.u.s.p, m, i, 0, &hit)) {
            if (push_item(c, out, &cap, jv_str(p + i, hit - i))) return -1;
            i = hit + m;
            done++;
        }
        return push_item(c, out, &cap, jv_str(p + i, n - i));
    }
    size_t e = n, hit;
    int64_t done = 0;
    jv rev = jv_mklist(c, 0, 0);
    size_t rcap = 0;
    if (c->failed) return -1;
    while ((maxsplit < 0 || done < maxsplit) && e >= m && find_sub(p, e, sep.u.s.p, m, 0, 1, &hit)) {
        if (push_item(c, &rev, &rcap, jv_str(p + hit + m, e - hit - m))) return -1;
        e = hit;
        done++;
    }
    if (push_item(c, &rev, &rcap, jv_str(p, e))) return -1;
    *out = jv_mklist(c, rev.u.l->n, 0);
    if (c->failed) return -1;
    for (size_t k = 0; k < rev.u.l->n; k++) out->u.l->v[k] = rev.u.l->v[rev.u.l->n - 1 - k];
    return 0;
}

static int prefix_test(jj_ctx *c, const jj_node *at, jv s, jv arg, int suffix, int *r) {
    *r = 0;
    if (arg.t == JV_LIST && arg.u.l->tuple) {
        for (size_t k = 0; k < arg.u.l->n && !*r; k++)
            if (prefix_test(c, at, s, arg.u.l->v[k], suffix, r)) return -1;
        return 0;
    }
    if (arg.t != JV_STR)
        return jj_fail(c, at, XF_ERR_INVALID_ARG, "%s first arg must be str or a tuple of str, not %s",
                       suffix ? "endswith" : "startswith", jv_type_name(arg));
    size_t m = arg.u.s.n;
    *r = m <= s.u.s.n && !memcmp(s.u.s.p + (suffix ? s.u.s.n - m : 0), arg.u.s.p, m);
    return 0;
}

static int str_format(jj_ctx *c, const jj_node *at, jv fmt, const jv *pos, size_t n_pos, const char *const *kw,
                      const jv *kwv, size_t n_kw, jv *out) {
    jj_buf b = {0};
    b.limit = c->lim->max_output;
    size_t auto_idx = 0;
    const char *p = fmt.u.s.p;
    size_t n = fmt.u.s.n;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (p[i] == '}' && i + 1 < n && p[i + 1] == '}') {
            jj_buf_put(&b, "}", 1);
            i++;
        } else if (p[i] == '{' && i + 1 < n && p[i + 1] == '{') {
            jj_buf_put(&b, "{", 1);
            i++;
        } else if (p[i] == '{') {
            size_t j = i + 1;
            while (j < n && p[j] != '}' && p[j] != ':' && p[j] != '!') j++;
            if (j >= n || p[j] != '}') {
                rc = jj_fail(c, at, XF_ERR_UNSUPPORTED, "str.format: only {}, {N} and {name} fields are supported");
                break;
            }
            jv v = jv_undef(NULL);
            int found = 0;
            if (j == i + 1) {
                if (auto_idx < n_pos) v = pos[auto_idx], found = 1;
                auto_idx++;
            } else if (p[i + 1] >= '0' && p[i + 1] <= '9') {
                size_t idx = (size_t)strtoul(p + i + 1, NULL, 10);
                if (idx < n_pos) v = pos[idx], found = 1;
            } else {
                for (size_t k = 0; k < n_kw; k++)
                    if (strlen(kw[k]) == j - i - 1 && !memcmp(kw[k], p + i + 1, j - i - 1)) v = kwv[k], found = 1;
            }
            if (!found) {
                rc = jj_fail(c, at, XF_ERR_INVALID_ARG, "str.format: no argument for field '%.*s'", (int)(j - i + 1), p + i);
                break;
            }
            jv s;
            if (jv_str_of(c, v, &s)) rc = -1;
            else jj_buf_put(&b, s.u.s.p, s.u.s.n);
            i = j;
        } else if (p[i] == '}') {
            rc = jj_fail(c, at, XF_ERR_INVALID_ARG, "str.format: single '}' encountered");
        } else {
            jj_buf_put(&b, p + i, 1);
        }
    }
    if (!rc && b.over) rc = jj_fail(c, at, XF_ERR_RANGE, "str.format: result too large");
    if (!rc) *out = jv_mkstr(c, b.p ? b.p : "", b.n);
    jj_buf_free(&b);
    return rc || c->failed ? -1 : 0;
}

static int all_cp(jv s, int what) {
    if (s.u.s.n == 0) return 0;
    int cased = 0;
    for (size_t i = 0; i < s.u.s.n;) {
        uint32_t cp;
        size_t k = jj_utf8_dec((const unsigned char *)s.u.s.p + i, s.u.s.n - i, &cp);
        if (!k) return 0;
        utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
        int letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
        int digit = cat == UTF8PROC_CATEGORY_ND;
        switch (what) {
        case 'd': if (!digit) return 0; break;
        case 'a': if (!letter) return 0; break;
        case 'n': if (!letter && !digit && cat != UTF8PROC_CATEGORY_NL && cat != UTF8PROC_CATEGORY_NO) return 0; break;
        case 's': if (!jj_py_isspace(cp)) return 0; break;
        case 'u':
            if (cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT) return 0;
            cased |= cat == UTF8PROC_CATEGORY_LU;
            break;
        case 'l':
            if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT) return 0;
            cased |= cat == UTF8PROC_CATEGORY_LL;
            break;
        }
        i += k;
    }
    return what == 'u' || what == 'l' ? cased : 1;
}

static int str_method(jj_ctx *c, const jj_node *at, int id, jv s, const jv *pos, size_t n_pos,
                      const char *const *kw, const jv *kwv, size_t n_kw, jv *out) {
    jv a0 = jj_arg(pos, n_pos, kw, kwv, n_kw, 0, NULL, jv_none());
    size_t a, e, hit;
    int r;
    switch (id) {
    case M_STRIP:
    case M_LSTRIP:
    case M_RSTRIP:
        if (a0.t != JV_NONE && need_str(c, at, a0, "strip")) return -1;
        jj_strip(s.u.s.p, s.u.s.n, a0.t == JV_STR ? a0.u.s.p : NULL, a0.t == JV_STR ? a0.u.s.n : 0,
                 id == M_STRIP ? 3 : id == M_LSTRIP ? 1 : 2, &a, &e);
        *out = jv_str(s.u.s.p + a, e - a);
        return 0;
    case M_SPLIT:
    case M_RSPLIT:
        return split(c, at, s, jj_arg(pos, n_pos, kw, kwv, n_kw, 0, "sep", jv_none()),
                     jj_arg(pos, n_pos, kw, kwv, n_kw, 1, "maxsplit", jv_int(-1)), id == M_RSPLIT, out);
    case M_STARTSWITH:
    case M_ENDSWITH:
        if (prefix_test(c, at, s, a0, id == M_ENDSWITH, &r)) return -1;
        *out = jv_bool(r);
        return 0;
    case M_REPLACE: {
        jv old = a0, nw = jj_arg(pos, n_pos, kw, kwv, n_kw, 1, NULL, jv_none());
        jv cnt = jj_arg(pos, n_pos, kw, kwv, n_kw, 2, "count", jv_int(-1));
        if (need_str(c, at, old, "replace") || need_str(c, at, nw, "replace")) return -1;
        int64_t limit = cnt.t == JV_INT ? cnt.u.i : -1;
        jj_buf b = {0};
        b.limit = c->lim->max_output;
        size_t i = 0;
        int64_t done = 0;
        if (old.u.s.n == 0) { /* Python inserts new between every code point */
            for (; i <= s.u.s.n; done++) {
                if (limit >= 0 && done >= limit) break;
                jj_buf_put(&b, nw.u.s.p, nw.u.s.n);
                if (i == s.u.s.n) {
                    i++;
                    break;
                }
                size_t k = jj_cp_offset(s.u.s.p + i, s.u.s.n - i, 1);
                jj_buf_put(&b, s.u.s.p + i, k);
                i += k;
            }
            if (i <= s.u.s.n) jj_buf_put(&b, s.u.s.p + i, s.u.s.n - i);
        } else {
            while ((limit < 0 || done < limit) && find_sub(s.u.s.p, s.u.s.n, old.u.s.p, old.u.s.n, i, 0, &hit)) {
                jj_buf_put(&b, s.u.s.p + i, hit - i);
                jj_buf_put(&b, nw.u.s.p, nw.u.s.n);
                i = hit + old.u.s.n;
                done++;
            }
            jj_buf_put(&b, s.u.s.p + i, s.u.s.n - i);
        }
        int rc = b.over ? jj_fail(c, at, XF_ERR_RANGE, "replace: result too large") : 0;
        if (!rc) *out = jv_mkstr(c, b.p ? b.p : "", b.n);
        jj_buf_free(&b);
        return rc || c->failed ? -1 : 0;
    }
    case M_UPPER: return jj_case(c, s, 'u', out);
    case M_LOWER: return jj_case(c, s, 'l', out);
    case M_TITLE: return jj_case(c, s, 't', out);
    case M_CAPITALIZE: return jj_case(c, s, 'c', out);
    case M_FIND:
    case M_RFIND:
        if (need_str(c, at, a0, "find")) return -1;
        *out = jv_int(find_sub(s.u.s.p, s.u.s.n, a0.u.s.p, a0.u.s.n, 0, id == M_RFIND, &hit)
                          ? (int64_t)jj_cp_count(s.u.s.p, hit) : -1);
        return 0;
    case M_COUNT: {
        if (need_str(c, at, a0, "count")) return -1;
        int64_t k = 0;
        size_t i = 0;
        if (a0.u.s.n == 0) k = (int64_t)jj_cp_count(s.u.s.p, s.u.s.n) + 1;
        else
            while (find_sub(s.u.s.p, s.u.s.n, a0.u.s.p, a0.u.s.n, i, 0, &hit)) k++, i = hit + a0.u.s.n;
        *out = jv_int(k);
        return 0;
    }
    case M_JOIN: {
        jv items;
        if (jv_iterate(c, a0, &items)) return -1;
        jj_buf b = {0};
        b.limit = c->lim->max_output;
        for (size_t k = 0; k < items.u.l->n; k++) {
            if (items.u.l->v[k].t != JV_STR) {
                jj_buf_free(&b);
                return jj_fail(c, at, XF_ERR_INVALID_ARG, "join: sequence item %zu: expected str, %s found", k,
                               jv_type_name(items.u.l->v[k]));
            }
            if (k) jj_buf_put(&b, s.u.s.p, s.u.s.n);
            jj_buf_put(&b, items.u.l->v[k].u.s.p, items.u.l->v[k].u.s.n);
        }
        int rc = b.over ? jj_fail(c, at, XF_ERR_RANGE, "join: result too large") : 0;
        if (!rc) *out = jv_mkstr(c, b.p ? b.p : "", b.n);
        jj_buf_free(&b);
        return rc || c->failed ? -1 : 0;
    }
    case M_FORMAT: return str_format(c, at, s, pos, n_pos, kw, kwv, n_kw, out);
    case M_ISDIGIT: *out = jv_bool(all_cp(s, 'd')); return 0;
    case M_ISALPHA: *out = jv_bool(all_cp(s, 'a')); return 0;
    case M_ISALNUM: *out = jv_bool(all_cp(s, 'n')); return 0;
    case M_ISSPACE: *out = jv_bool(all_cp(s, 's')); return 0;
    case M_ISUPPER: *out = jv_bool(all_cp(s, 'u')); return 0;
    case M_ISLOWER: *out = jv_bool(all_cp(s, 'l')); return 0;
    case M_REMOVEPREFIX:
    case M_REMOVESUFFIX:
        if (need_str(c, at, a0, "removeprefix")) return -1;
        if (prefix_test(c, at, s, a0, id == M_REMOVESUFFIX, &r)) return -1;
        *out = !r ? s : id == M_REMOVEPREFIX ? jv_str(s.u.s.p + a0.u.s.n, s.u.s.n - a0.u.s.n)
                                              : jv_str(s.u.s.p, s.u.s.n - a0.u.s.n);
        return 0;
    case M_SPLITLINES: {
        *out = jv_mklist(c, 0, 0);
        if (c->failed) return -1;
        size_t cap = 0, i = 0, start = 0;
        int keep = jv_truthy(jj_arg(pos, n_pos, kw, kwv, n_kw, 0, "keepends", jv_bool(0)));
        while (i < s.u.s.n) {
            uint32_t cp;
            size_t k = jj_utf8_dec((const unsigned char *)s.u.s.p + i, s.u.s.n - i, &cp);
            if (!k) k = 1, cp = 0xFFFD;
            int br = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
                     cp == 0x85 || cp == 0x2028 || cp == 0x2029;
            if (br) {
                size_t end = i + k;
                if (cp == '\r' && end < s.u.s.n && s.u.s.p[end] == '\n') end++;
                if (push_item(c, out, &cap, jv_str(s.u.s.p + start, (keep ? end : i) - start))) return -1;
                start = i = end;
            } else {
                i += k;
            }
        }
        if (start < s.u.s.n && push_item(c, out, &cap, jv_str(s.u.s.p + start, s.u.s.n - start))) return -1;
        return 0;
    }
    }
    return jj_fail(c, at, XF_ERR_INVALID_ARG, "bad string method");
}

static int dict_method(jj_ctx *c, const jj_node *at, int id, jv d, const jv *pos, size_t n_pos,
                       const char *const *kw, const jv *kwv, size_t n_kw, jv *out) {
    jj_dict *dd = d.u.d;
    if (id == M_GET) {
        if (n_pos < 1) return jj_fail(c, at, XF_ERR_INVALID_ARG, "get expected at least 1 argument, got 0");
        jv *v = jd_get(dd, pos[0]);
        *out = v ? *v : jj_arg(pos, n_pos, kw, kwv, n_kw, 1, NULL, jv_none());
        return 0;
    }
    if (id == M_COPY) {
        *out = jv_mkdict(c, 0);
        for (size_t k = 0; !c->failed && k < dd->n; k++) jd_set(c, out->u.d, dd->k[k], dd->v[k]);
        return c->failed ? -1 : 0;
    }
    *out = jv_mklist(c, dd->n, 0);
    if (c->failed) return -1;
    for (size_t k = 0; k < dd->n; k++) {
        if (id == M_KEYS) out->u.l->v[k] = dd->k[k];
        else if (id == M_VALUES) out->u.l->v[k] = dd->v[k];
        else {
            jv t = jv_mklist(c, 2, 1);
            if (c->failed) return -1;
            t.u.l->v[0] = dd->k[k];
            t.u.l->v[1] = dd->v[k];
            out->u.l->v[k] = t;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- globals */

static const char *const GLOBALS[] = {"range", "namespace", "dict", "raise_exception", "strftime_now",
                                      "cycler", "joiner", "lipsum", NULL};
enum { G_RANGE, G_NAMESPACE, G_DICT, G_RAISE, G_STRFTIME };

int jj_global_id(const char *name, size_t n) {
    for (int k = 0; GLOBALS[k]; k++)
        if (name_is(name, n, GLOBALS[k])) return k;
    return -1;
}

static int strftime_now(jj_ctx *c, const jj_node *at, jv fmt, jv *out) {
    if (need_str(c, at, fmt, "strftime_now")) return -1;
    if (fmt.u.s.n > 256) return jj_fail(c, at, XF_ERR_RANGE, "strftime_now: format longer than 256 bytes");
    char f[300], buf[1024];
    size_t k = 0;
    for (size_t i = 0; i < fmt.u.s.n; i++) { /* a naive datetime: %z and %Z are empty, %f zeros */
        if (fmt.u.s.p[i] == '%' && i + 1 < fmt.u.s.n) {
            char d = fmt.u.s.p[i + 1];
            if (d == 'z' || d == 'Z') {
                i++;
                continue;
            }
            if (d == 'f') {
                memcpy(f + k, "000000", 6);
                k += 6;
                i++;
                continue;
            }
            f[k++] = '%';
            f[k++] = d;
            i++;
            continue;
        }
        if (fmt.u.s.p[i] == '\0') return jj_fail(c, at, XF_ERR_INVALID_ARG, "strftime_now: NUL in the format");
        f[k++] = fmt.u.s.p[i];
    }
    f[k] = '\0';
    time_t t = c->now_utc >= 0 ? (time_t)c->now_utc : time(NULL);
    struct tm tmv;
    if (c->now_utc >= 0) gmtime_r(&t, &tmv);
    else localtime_r(&t, &tmv);
    size_t n = k ? strftime(buf, sizeof buf, f, &tmv) : 0;
    if (k && n == 0 && f[0]) buf[0] = '\0';
    *out = jv_mkstr(c, buf, n);
    return c->failed ? -1 : 0;
}

int jj_call_builtin(jj_ctx *c, jj_frame *f, const jj_node *at, const jj_func *fn, const jv *pos,
                    size_t n_pos, const char *const *kw, const jv *kwv, size_t n_kw, jv *out) {
    (void)f;
    if (fn->kind == JF_LOOP_CYCLE) {
        if (n_pos == 0) return jj_fail(c, at, XF_ERR_INVALID_ARG, "no items for cycling given");
        *out = pos[fn->self.u.i % (int64_t)n_pos];
        return 0;
    }
    if (fn->kind == JF_METHOD) {
        if (fn->self.t == JV_STR) return str_method(c, at, fn->id, fn->self, pos, n_pos, kw, kwv, n_kw, out);
        if (fn->self.t == JV_DICT) return dict_method(c, at, fn->id, fn->self, pos, n_pos, kw, kwv, n_kw, out);
        if (fn->self.t == JV_LIST) {
            if (n_pos < 1) return jj_fail(c, at, XF_ERR_INVALID_ARG, "%s: expected an argument", fn->name);
            int64_t cnt = 0;
            for (size_t k = 0; k < fn->self.u.l->n; k++)
                if (jv_eq(fn->self.u.l->v[k], pos[0])) {
                    if (fn->id == M_INDEX) {
                        *out = jv_int((int64_t)k);
                        return 0;
                    }
                    cnt++;
                }
            if (fn->id == M_INDEX) return jj_fail(c, at, XF_ERR_INVALID_ARG, "list.index(x): x not in list");
            *out = jv_int(cnt);
            return 0;
        }
        return jj_fail(c, at, XF_ERR_INVALID_ARG, "bad method");
    }
    switch (fn->id) {
    case G_RANGE: {
        int64_t a = 0, b = 0, s = 1;
        for (size_t k = 0; k < n_pos; k++)
            if (pos[k].t != JV_INT && pos[k].t != JV_BOOL)
                return jj_fail(c, at, XF_ERR_INVALID_ARG, "range: '%s' object cannot be interpreted as an integer",
                               jv_type_name(pos[k]));
        if (n_pos == 1) b = pos[0].u.i;
        else if (n_pos == 2 || n_pos == 3) {
            a = pos[0].u.i;
            b = pos[1].u.i;
            if (n_pos == 3) s = pos[2].u.i;
        } else return jj_fail(c, at, XF_ERR_INVALID_ARG, "range expected 1 to 3 arguments, got %zu", n_pos);
        if (s == 0) return jj_fail(c, at, XF_ERR_INVALID_ARG, "range() arg 3 must not be zero");
        double cnt = s > 0 ? ((double)b - (double)a) / (double)s : ((double)a - (double)b) / (double)-s;
        size_t n = cnt <= 0 ? 0 : (size_t)(cnt + 0.999999999);
        if (n > 10000000) return jj_fail(c, at, XF_ERR_RANGE, "range of more than 10 million items");
        while (n > 0 && (s > 0 ? a + (int64_t)(n - 1) * s >= b : a + (int64_t)(n - 1) * s <= b)) n--;
        while (s > 0 ? a + (int64_t)n * s < b : a + (int64_t)n * s > b) n++;
        *out = jv_mklist(c, n, 0);
        if (c->failed) return -1;
        for (size_t k = 0; k < n; k++) out->u.l->v[k] = jv_int(a + (int64_t)k * s);
        return 0;
    }
    case G_NAMESPACE:
    case G_DICT: {
        *out = jv_mkdict(c, fn->id == G_NAMESPACE);
        if (c->failed) return -1;
        for (size_t k = 0; k < n_pos; k++) {
            if (pos[k].t != JV_DICT)
                return jj_fail(c, at, XF_ERR_INVALID_ARG, "%s: positional arguments must be dicts", fn->name);
            for (size_t j = 0; j < pos[k].u.d->n; j++)
                if (jd_set(c, out->u.d, pos[k].u.d->k[j], pos[k].u.d->v[j])) return -1;
        }
        for (size_t k = 0; k < n_kw; k++) {
            if (fn->id == G_NAMESPACE && kw[k][0] == '_')
                return jj_fail(c, at, XF_ERR_INVALID_ARG, "namespace: underscore-prefixed attribute '%s'", kw[k]);
            if (jd_set(c, out->u.d, jv_str(kw[k], strlen(kw[k])), kwv[k])) return -1;
        }
        return 0;
    }
    case G_RAISE: {
        jv m = jj_arg(pos, n_pos, kw, kwv, n_kw, 0, "message", jv_str("", 0)), s;
        if (jv_str_of(c, m, &s)) return -1;
        if (!c->failed) {
            c->failed = 1;
            c->st = XF_ERR_INVALID_ARG;
            snprintf(c->msg, sizeof c->msg, "raise:%.*s", (int)(s.u.s.n > 380 ? 380 : s.u.s.n), s.u.s.p);
        }
        return -1;
    }
    case G_STRFTIME: return strftime_now(c, at, jj_arg(pos, n_pos, kw, kwv, n_kw, 0, NULL, jv_undef(NULL)), out);
    default:
        return jj_fail(c, at, XF_ERR_UNSUPPORTED, "the global function '%s' is not supported", fn->name);
    }
}
