/* jinja_filters.c — Jinja2's builtin filters and tests that chat templates use, with Jinja2's
 * behaviour (default, length, trim, join, map/select/reject(attr), dictsort, sort, unique, indent,
 * items, first/last, list, string, int, float, tojson as transformers overrides it, ...). Names
 * outside these tables are refused when the template is compiled. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/jinja_impl.h"

enum {
    F_ABS, F_ATTR, F_CAPITALIZE, F_COUNT, F_DEFAULT, F_D, F_DICTSORT, F_ESCAPE, F_E, F_FIRST, F_FLOAT,
    F_FORCEESCAPE, F_FORMAT, F_INDENT, F_INT, F_ITEMS, F_JOIN, F_LAST, F_LENGTH, F_LIST, F_LOWER, F_MAP,
    F_MAX, F_MIN, F_REJECT, F_REJECTATTR, F_REPLACE, F_REVERSE, F_ROUND, F_SAFE, F_SELECT, F_SELECTATTR,
    F_SORT, F_STRING, F_SUM, F_TITLE, F_TOJSON, F_TRIM, F_UNIQUE, F_UPPER, F_WORDCOUNT
};
static const char *const FILTERS[] = {
    "abs", "attr", "capitalize", "count", "default", "d", "dictsort", "escape", "e", "first", "float",
    "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
    "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr",
    "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper", "wordcount", NULL};

enum {
    T_BOOLEAN, T_CALLABLE, T_DEFINED, T_DIVISIBLEBY, T_EQ, T_EQUALTO, T_EQ2, T_ESCAPED, T_EVEN, T_FALSE,
    T_FILTER, T_FLOAT, T_GE, T_GE2, T_GT, T_GREATERTHAN, T_GT2, T_IN, T_INTEGER, T_ITERABLE, T_LE, T_LE2,
    T_LOWER, T_LT, T_LESSTHAN, T_LT2, T_MAPPING, T_NE, T_NE2, T_NONE, T_NUMBER, T_ODD, T_SAMEAS,
    T_SEQUENCE, T_STRING, T_TEST, T_TRUE, T_UNDEFINED, T_UPPER
};
static const char *const TESTS[] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false",
    "filter", "float", "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=",
    "lower", "lt", "lessthan", "<", "mapping", "ne", "!=", "none", "number", "odd", "sameas",
    "sequence", "string", "test", "true", "undefined", "upper", NULL};

static int find_name(const char *const *tab, const char *name, size_t n) {
    for (int k = 0; tab[k]; k++)
        if (strlen(tab[k]) == n && !memcmp(tab[k], name, n)) return k;
    return -1;
}

int jj_filter_id(const char *name, size_t n) { return find_name(FILTERS, name, n); }
int jj_test_id(const char *name, size_t n) { return find_name(TESTS, name, n); }

#define ARG(i, name, def) jj_arg(args + 1, n_args - 1, kw, kwv, n_kw, (i), (name), (def))

static int str_arg(jj_ctx *c, jv v, jv *out) { return jv_str_of(c, v, out); }

/* Attribute path "a.b.0" of an item (Jinja's make_attrgetter). */
static int attr_path(jj_ctx *c, const jj_node *at, jv item, jv path, jv *out) {
    if (path.t == JV_INT) {
        if (item.t == JV_LIST && path.u.i >= 0 && (size_t)path.u.i < item.u.l->n) *out = item.u.l->v[path.u.i];
        else *out = jv_undef(NULL);
        return 0;
    }
    jv s;
    if (str_arg(c, path, &s)) return -1;
    *out = item;
    size_t i = 0;
    while (i <= s.u.s.n) {
        size_t j = i;
        while (j < s.u.s.n && s.u.s.p[j] != '.') j++;
        jv key = jv_str(s.u.s.p + i, j - i);
        int digits = j > i;
        for (size_t k = i; k < j; k++) digits &= s.u.s.p[k] >= '0' && s.u.s.p[k] <= '9';
        if (digits && j - i < 10) key = jv_int(strtol(s.u.s.p + i, NULL, 10));
        jv cur = *out;
        if (cur.t == JV_UNDEF) return 0;
        if (cur.t == JV_DICT || cur.t == JV_NS) {
            jv *v = jd_get(cur.u.d, key);
            *out = v ? *v : jv_undef(NULL);
        } else if (cur.t == JV_LIST && key.t == JV_INT && key.u.i < (int64_t)cur.u.l->n) {
            *out = cur.u.l->v[key.u.i];
        } else {
            *out = jv_undef(NULL);
        }
        i = j + 1;
    }
    (void)at;
    return 0;
}

static int sort_key(jj_ctx *c, const jj_node *at, jv item, jv attribute, int case_sensitive, jv *out) {
    if (attribute.t != JV_NONE && attribute.t != JV_UNDEF) {
        if (attr_path(c, at, item, attribute, &item)) return -1;
    }
    if (!case_sensitive && item.t == JV_STR) return jj_case(c, item, 'l', out);
    *out = item;
    return 0;
}

/* Stable merge sort of items by keys. */
static int sort_items(jj_ctx *c, jv *items, jv *keys, size_t n, int reverse) {
    if (n < 2) return 0;
    jv *ti = jj_alloc(&c->ar, n * sizeof *ti), *tk = jj_alloc(&c->ar, n * sizeof *tk);
    if (!ti || !tk) return jj_oom(c);
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, a = lo, b = mid, o = lo;
            while (a < mid || b < hi) {
                int take_b = 0;
                if (a < mid && b < hi) {
                    int r;
                    if (jv_cmp(c, keys[b], keys[a], &r)) return -1;
                    take_b = reverse ? r > 0 : r < 0;
                } else {
                    take_b = a >= mid;
                }
                if (take_b) ti[o] = items[b], tk[o++] = keys[b++];
                else ti[o] = items[a], tk[o++] = keys[a++];
            }
        }
        memcpy(items, ti, n * sizeof *ti);
        memcpy(keys, tk, n * sizeof *tk);
    }
    return 0;
}

static int to_list(jj_ctx *c, jv v, jv *out) {
    jv it;
    if (jv_iterate(c, v, &it)) return -1;
    *out = jv_mklist(c, it.u.l->n, 0);
    if (c->failed) return -1;
    if (it.u.l->n) memcpy(out->u.l->v, it.u.l->v, it.u.l->n * sizeof(jv));
    return 0;
}

/* select/reject/selectattr/rejectattr/map over items. */
static int select_like(jj_ctx *c, jj_frame *f, const jj_node *at, int id, const jv *args, size_t n_args,
                       const char *const *kw, const jv *kwv, size_t n_kw, jv *out) {
    jv items;
    if (jv_iterate(c, args[0], &items)) return -1;
    int by_attr = id == F_SELECTATTR || id == F_REJECTATTR;
    size_t first = by_attr ? 1 : 0; /* index of the test name among the extra args */
    jv attribute = by_attr ? ARG(0, NULL, jv_undef(NULL)) : jv_undef(NULL);
    if (by_attr && attribute.t == JV_UNDEF)
        return jj_fail(c, at, XF_ERR_INVALID_ARG, "%s: missing attribute", id == F_SELECTATTR ? "selectattr" : "rejectattr");
    if (id == F_MAP) {
        jv attr = jj_arg(NULL, 0, kw, kwv, n_kw, 0, "attribute", jv_undef(NULL));
        *out = jv_mklist(c, items.u.l->n, 0);
        if (c->failed) return -1;
        if (attr.t != JV_UNDEF) {
            jv def = jj_arg(NULL, 0, kw, kwv, n_kw, 0, "default", jv_undef(NULL));
            for (size_t k = 0; k < items.u.l->n; k++) {
                if (attr_path(c, at, items.u.l->v[k], attr, &out->u.l->v[k])) return -1;
                if (out->u.l->v[k].t == JV_UNDEF && def.t != JV_UNDEF) out->u.l->v[k] = def;
            }
            return 0;
        }
        jv name = ARG(0, NULL, jv_undef(NULL));
        if (name.t != JV_STR) return jj_fail(c, at, XF_ERR_INVALID_ARG, "map: expected a filter name or attribute=");
        int fid = jj_filter_id(name.u.s.p, name.u.s.n);
        if (fid < 0) return jj_fail(c, at, XF_ERR_UNSUPPORTED, "map: unknown filter '%.*s'", (int)name.u.s.n, name.u.s.p);
        jv sub[16];
        size_t ns = n_args - 1 < 16 ? n_args - 1 : 15;
        for (size_t k = 1; k < ns; k++) sub[k] = args[k + 1];
        for (size_t k = 0; k < items.u.l->n; k++) {
            sub[0] = items.u.l->v[k];
            if (jj_apply_filter(c, f, at, fid, sub, ns, kw, kwv, n_kw, &out->u.l->v[k])) return -1;
        }
        return 0;
    }
    jv tname = ARG(first, NULL, jv_undef(NULL));
    int tid = -1;
    if (tname.t != JV_UNDEF) {
        if (tname.t != JV_STR) return jj_fail(c, at, XF_ERR_INVALID_ARG, "select: the test name must be a string");
        tid = jj_test_id(tname.u.s.p, tname.u.s.n);
        if (tid < 0) return jj_fail(c, at, XF_ERR_UNSUPPORTED, "unknown test '%.*s'", (int)tname.u.s.n, tname.u.s.p);
    }
    jv targs[16];
    size_t nt = 1;
    for (size_t k = 2 + first; k < n_args && nt < 16; k++) targs[nt++] = args[k];
    int keep_if = id == F_SELECT || id == F_SELECTATTR;
    *out = jv_mklist(c, items.u.l->n, 0);
    if (c->failed) return -1;
    size_t m = 0;
    for (size_t k = 0; k < items.u.l->n; k++) {
        jv v = items.u.l->v[k];
        if (by_attr && attr_path(c, at, v, attribute, &v)) return -1;
        int r;
        if (tid < 0) r = jv_truthy(v);
        else {
            targs[0] = v;
            if (jj_apply_test(c, f, at, tid, targs, nt, &r)) return -1;
        }
        if (r == keep_if) out->u.l->v[m++] = items.u.l->v[k];
    }
    out->u.l->n = m;
    return 0;
}

static int indent(jj_ctx *c, const jj_node *at, jv s, jv width, int first, int blank, jv *out) {
    jv ind;
    if (width.t == JV_STR) ind = width;
    else {
        int64_t w = width.t == JV_INT ? width.u.i : 4;
        if (w < 0) w = 0;
        if (w > 1000) return jj_fail(c, at, XF_ERR_RANGE, "indent: width over 1000");
        char *sp = jj_alloc(&c->ar, (size_t)w + 1);
        if (!sp) return jj_oom(c);
        memset(sp, ' ', (size_t)w);
        ind = jv_str(sp, (size_t)w);
    }
    /* Jinja: s += "\n", split into lines (str.splitlines), indent every line but the first
     * (blank lines only when blank=True), join with "\n". */
    jv sl = jv_str("splitlines", 10), lines;
    jv meth;
    char *tmp = jj_alloc(&c->ar, s.u.s.n + 2);
    if (!tmp) return jj_oom(c);
    memcpy(tmp, s.u.s.p, s.u.s.n);
    tmp[s.u.s.n] = '\n';
    jv s2 = jv_str(tmp, s.u.s.n + 1);
    if (jj_method_lookup(c, at, s2, sl.u.s.p, sl.u.s.n, &meth) ||
        jj_call_builtin(c, NULL, at, meth.u.fn, NULL, 0, NULL, NULL, 0, &lines))
        return -1;
    jj_buf b = {0};
    b.limit = c->lim->max_output;
    if (first) jj_buf_put(&b, ind.u.s.p, ind.u.s.n);
    for (size_t k = 0; k < lines.u.l->n; k++) {
        jv ln = lines.u.l->v[k];
        if (k) {
            jj_buf_put(&b, "\n", 1);
            if (blank || ln.u.s.n) jj_buf_put(&b, ind.u.s.p, ind.u.s.n);
        }
        jj_buf_put(&b, ln.u.s.p, ln.u.s.n);
    }
    int rc = b.over ? jj_fail(c, at, XF_ERR_RANGE, "indent: result too large") : 0;
    if (!rc) *out = jv_mkstr(c, b.p ? b.p : "", b.n);
    jj_buf_free(&b);
    return rc || c->failed ? -1 : 0;
}

static int html_escape(jj_ctx *c, jv s, jv *out) {
    jj_buf b = {0};
    b.limit = c->lim->max_output;
    for (size_t i = 0; i < s.u.s.n; i++) {
        char ch = s.u.s.p[i];
        if (ch == '&') jj_buf_puts(&b, "&amp;");
        else if (ch == '<') jj_buf_puts(&b, "&lt;");
        else if (ch == '>') jj_buf_puts(&b, "&gt;");
        else if (ch == '"') jj_buf_puts(&b, "&#34;");
        else if (ch == '\'') jj_buf_puts(&b, "&#39;");
        else jj_buf_put(&b, &ch, 1);
    }
    int rc = b.over ? jj_oom(c) : 0;
    if (!rc) *out = jv_mkstr(c, b.p ? b.p : "", b.n);
    jj_buf_free(&b);
    return rc || c->failed ? -1 : 0;
}

static int printf_format(jj_ctx *c, const jj_node *at, jv fmt, const jv *vals, size_t n, jv *out) {
    jj_buf b = {0};
    b.limit = c->lim->max_output;
    size_t used = 0;
    int rc = 0;
    for (size_t i = 0; i < fmt.u.s.n && !rc; i++) {
        char ch = fmt.u.s.p[i];
        if (ch != '%') {
            jj_buf_put(&b, &ch, 1);
            continue;
        }
        char d = i + 1 < fmt.u.s.n ? fmt.u.s.p[++i] : 0;
        if (d == '%') {
            jj_buf_put(&b, "%", 1);
            continue;
        }
        if ((d != 's' && d != 'd' && d != 'r') || used >= n) {
            rc = jj_fail(c, at, XF_ERR_UNSUPPORTED, "format: only %%s, %%d, %%r and %%%% with enough arguments are supported");
            break;
        }
        jv v = vals[used++], s;
        if (d == 'r') {
            if (jv_repr(c, v, &b)) rc = -1;
            continue;
        }
        if (d == 'd') {
            if (v.t == JV_FLOAT) v = jv_int((int64_t)v.u.f);
            if (v.t != JV_INT && v.t != JV_BOOL) {
                rc = jj_fail(c, at, XF_ERR_INVALID_ARG, "format: %%d needs a number, not %s", jv_type_name(v));
                break;
            }
            if (v.t == JV_BOOL) v = jv_int(v.u.i);
        }
        if (jv_str_of(c, v, &s)) rc = -1;
        else jj_buf_put(&b, s.u.s.p, s.u.s.n);
    }
    if (!rc && b.over) rc = jj_oom(c);
    if (!rc) *out = jv_mkstr(c, b.p ? b.p : "", b.n);
    jj_buf_free(&b);
    return rc || c->failed ? -1 : 0;
}

static int to_int(jv v, jv def, jv *out) {
    if (v.t == JV_INT || v.t == JV_BOOL) *out = jv_int(v.u.i);
    else if (v.t == JV_FLOAT && isfinite(v.u.f) && fabs(v.u.f) < 9.2e18) *out = jv_int((int64_t)v.u.f);
    else if (v.t == JV_STR) {
        char buf[64];
        size_t a, e;
        jj_strip(v.u.s.p, v.u.s.n, NULL, 0, 3, &a, &e);
        if (e - a == 0 || e - a >= sizeof buf) {
            *out = def;
            return 0;
        }
        memcpy(buf, v.u.s.p + a, e - a);
        buf[e - a] = '\0';
        char *end;
        long long i = strtoll(buf, &end, 10);
        if (!*end) *out = jv_int(i);
        else {
            double d = strtod(buf, &end);
            *out = !*end && isfinite(d) && fabs(d) < 9.2e18 ? jv_int((int64_t)d) : def;
        }
    } else *out = def;
    return 0;
}

int jj_apply_filter(jj_ctx *c, jj_frame *f, const jj_node *at, int id, const jv *args, size_t n_args,
                    const char *const *kw, const jv *kwv, size_t n_kw, jv *out) {
    jv v = args[0], s;
    int64_t n;
    switch (id) {
    case F_ABS:
        if (v.t == JV_INT || v.t == JV_BOOL) {
            if (v.u.i == INT64_MIN) return jj_fail(c, at, XF_ERR_UNSUPPORTED, "integer overflow");
            *out = jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
        } else if (v.t == JV_FLOAT) *out = jv_float(fabs(v.u.f));
        else return jj_fail(c, at, XF_ERR_INVALID_ARG, "bad operand type for abs(): '%s'", jv_type_name(v));
        return 0;
    case F_ATTR: {
        jv name = ARG(0, NULL, jv_undef(NULL));
        if (name.t != JV_STR) return jj_fail(c, at, XF_ERR_INVALID_ARG, "attr: expected a name");
        if (v.t == JV_DICT || v.t == JV_NS) {
            jv *x = jd_get_str(v.u.d, name.u.s.p, name.u.s.n);
            if (x && v.t == JV_NS) { *out = *x; return 0; }
        }
        if (jj_method_lookup(c, at, v, name.u.s.p, name.u.s.n, out)) return -1;
        return 0;
    }
    case F_CAPITALIZE: return str_arg(c, v, &s) || jj_case(c, s, 'c', out) ? -1 : 0;
    case F_COUNT:
    case F_LENGTH:
        if (v.t == JV_STR) n = (int64_t)jj_cp_count(v.u.s.p, v.u.s.n);
        else if (v.t == JV_LIST) n = (int64_t)v.u.l->n;
        else if (v.t == JV_DICT || v.t == JV_NS) n = (int64_t)v.u.d->n;
        else if (v.t == JV_UNDEF) n = 0;
        else return jj_fail(c, at, XF_ERR_INVALID_ARG, "object of type '%s' has no len()", jv_type_name(v));
        *out = jv_int(n);
        return 0;
    case F_DEFAULT:
    case F_D: {
        jv def = ARG(0, "default_value", jv_str("", 0));
        int boolean = jv_truthy(ARG(1, "boolean", jv_bool(0)));
        *out = v.t == JV_UNDEF || (boolean && !jv_truthy(v)) ? def : v;
        return 0;
    }
    case F_DICTSORT: {
        if (v.t != JV_DICT) return jj_fail(c, at, XF_ERR_INVALID_ARG, "dictsort: expected a dict, got %s", jv_type_name(v));
        int cs = jv_truthy(ARG(0, "case_sensitive", jv_bool(0)));
        jv by = ARG(1, "by", jv_str("key", 3));
        int rev = jv_truthy(ARG(2, "reverse", jv_bool(0)));
        int by_value = by.t == JV_STR && by.u.s.n == 5 && !memcmp(by.u.s.p, "value", 5);
        size_t m = v.u.d->n;
        jv items = jv_mklist(c, m, 0), keys = jv_mklist(c, m, 0);
        if (c->failed) return -1;
        for (size_t k = 0; k < m; k++) {
            jv t = jv_mklist(c, 2, 1);
            if (c->failed) return -1;
            t.u.l->v[0] = v.u.d->k[k];
            t.u.l->v[1] = v.u.d->v[k];
            items.u.l->v[k] = t;
            if (sort_key(c, at, by_value ? v.u.d->v[k] : v.u.d->k[k], jv_none(), cs, &keys.u.l->v[k])) return -1;
        }
        if (sort_items(c, items.u.l->v, keys.u.l->v, m, rev)) return -1;
        *out = items;
        return 0;
    }
    case F_ESCAPE:
    case F_E:
    case F_FORCEESCAPE: return str_arg(c, v, &s) || html_escape(c, s, out) ? -1 : 0;
    case F_FIRST:
    case F_LAST: {
        jv items;
        if (jv_iterate(c, v, &items)) return -1;
        if (items.u.l->n == 0) *out = jv_undef(NULL);
        else *out = items.u.l->v[id == F_FIRST ? 0 : items.u.l->n - 1];
        return 0;
    }
    case F_FLOAT: {
        jv def = ARG(0, "default", jv_float(0.0));
        if (v.t == JV_FLOAT) *out = v;
        else if (v.t == JV_INT || v.t == JV_BOOL) *out = jv_float((double)v.u.i);
        else if (v.t == JV_STR) {
            char buf[64];
            size_t a, e;
            jj_strip(v.u.s.p, v.u.s.n, NULL, 0, 3, &a, &e);
            char *end;
            if (e - a == 0 || e - a >= sizeof buf) *out = def;
            else {
                memcpy(buf, v.u.s.p + a, e - a);
                buf[e - a] = '\0';
                double d = strtod(buf, &end);
                *out = *end ? def : jv_float(d);
            }
        } else *out = def;
        return 0;
    }
    case F_FORMAT:
        if (str_arg(c, v, &s)) return -1;
        return printf_format(c, at, s, args + 1, n_args - 1, out);
    case F_INDENT:
        if (str_arg(c, v, &s)) return -1;
        return indent(c, at, s, ARG(0, "width", jv_int(4)), jv_truthy(ARG(1, "first", jv_bool(0))),
                      jv_truthy(ARG(2, "blank", jv_bool(0))), out);
    case F_INT: return to_int(v, ARG(0, "default", jv_int(0)), out);
    case F_ITEMS: {
        if (v.t == JV_UNDEF) {
            *out = jv_mklist(c, 0, 0);
            return c->failed ? -1 : 0;
        }
        if (v.t != JV_DICT) return jj_fail(c, at, XF_ERR_INVALID_ARG, "items: expected a mapping, got %s", jv_type_name(v));
        jv meth;
        return jj_method_lookup(c, at, v, "items", 5, &meth) ||
                       jj_call_builtin(c, f, at, meth.u.fn, NULL, 0, NULL, NULL, 0, out) ? -1 : 0;
    }
    case F_JOIN: {
        jv items, sep = ARG(0, "d", jv_str("", 0)), attr = ARG(1, "attribute", jv_none());
        if (jv_iterate(c, v, &items) || str_arg(c, sep, &sep)) return -1;
        jj_buf b = {0};
        b.limit = c->lim->max_output;
        int rc = 0;
        for (size_t k = 0; k < items.u.l->n && !rc; k++) {
            jv it = items.u.l->v[k];
            if (attr.t != JV_NONE && attr_path(c, at, it, attr, &it)) rc = -1;
            else if (jv_str_of(c, it, &s)) rc = -1;
            else {
                if (k) jj_buf_put(&b, sep.u.s.p, sep.u.s.n);
                jj_buf_put(&b, s.u.s.p, s.u.s.n);
            }
        }
        if (!rc && b.over) rc = jj_fail(c, at, XF_ERR_RANGE, "join: result too large");
        if (!rc) *out = jv_mkstr(c, b.p ? b.p : "", b.n);
        jj_buf_free(&b);
        return rc || c->failed ? -1 : 0;
    }
    case F_LIST: return to_list(c, v, out);
    case F_LOWER: return str_arg(c, v, &s) || jj_case(c, s, 'l', out) ? -1 : 0;
    case F_UPPER: return str_arg(c, v, &s) || jj_case(c, s, 'u', out) ? -1 : 0;
    case F_TITLE: return str_arg(c, v, &s) || jj_title_filter(c, s, out) ? -1 : 0;
    case F_MAP:
    case F_SELECT:
    case F_REJECT:
    case F_SELECTATTR:
    case F_REJECTATTR: return select_like(c, f, at, id, args, n_args, kw, kwv, n_kw, out);
    case F_MAX:
    case F_MIN:
    case F_SORT:
    case F_UNIQUE: {
        jv items;
        int cs = jv_truthy(jj_arg(NULL, 0, kw, kwv, n_kw, 0, "case_sensitive", jv_bool(0)));
        int rev = id == F_SORT && jv_truthy(ARG(0, "reverse", jv_bool(0)));
        if (id == F_SORT) cs = jv_truthy(ARG(1, "case_sensitive", jv_bool(0)));
        jv attr = jj_arg(NULL, 0, kw, kwv, n_kw, 0, "attribute", jv_none());
        if (id == F_SORT) attr = ARG(2, "attribute", jv_none());
        if (to_list(c, v, &items)) return -1;
        size_t m = items.u.l->n;
        jv keys = jv_mklist(c, m, 0);
        if (c->failed) return -1;
        for (size_t k = 0; k < m; k++)
            if (sort_key(c, at, items.u.l->v[k], attr, cs, &keys.u.l->v[k])) return -1;
        if (id == F_UNIQUE) {
            size_t o = 0;
            for (size_t k = 0; k < m; k++) {
                int seen = 0;
                for (size_t j = 0; j < o && !seen; j++) seen = jv_eq(keys.u.l->v[j], keys.u.l->v[k]);
                if (!seen) items.u.l->v[o] = items.u.l->v[k], keys.u.l->v[o++] = keys.u.l->v[k];
            }
            items.u.l->n = o;
            *out = items;
            return 0;
        }
        if (id != F_SORT) {
            if (m == 0) {
                *out = jv_undef(NULL);
                return 0;
            }
            size_t best = 0;
            for (size_t k = 1; k < m; k++) {
                int r;
                if (jv_cmp(c, keys.u.l->v[k], keys.u.l->v[best], &r)) return -1;
                if (id == F_MAX ? r > 0 : r < 0) best = k;
            }
            *out = items.u.l->v[best];
            return 0;
        }
        if (sort_items(c, items.u.l->v, keys.u.l->v, m, rev)) return -1;
        *out = items;
        return 0;
    }
    case F_REPLACE: {
        jv meth, a[3] = {ARG(0, "old", jv_undef(NULL)), ARG(1, "new", jv_undef(NULL)), ARG(2, "count", jv_none())};
        if (str_arg(c, v, &s) || jj_method_lookup(c, at, s, "replace", 7, &meth)) return -1;
        return jj_call_builtin(c, f, at, meth.u.fn, a, a[2].t == JV_NONE ? 2 : 3, NULL, NULL, 0, out);
    }
    case F_REVERSE:
        if (v.t == JV_STR) {
            jv items;
            if (jv_iterate(c, v, &items)) return -1;
            char *o = jj_alloc(&c->ar, v.u.s.n + 1);
            if (!o) return jj_oom(c);
            size_t p = 0;
            for (size_t k = items.u.l->n; k-- > 0;) {
                memcpy(o + p, items.u.l->v[k].u.s.p, items.u.l->v[k].u.s.n);
                p += items.u.l->v[k].u.s.n;
            }
            *out = jv_str(o, p);
            return 0;
        } else {
            jv items;
            if (to_list(c, v, &items)) return -1;
            for (size_t k = 0; k < items.u.l->n / 2; k++) {
                jv t = items.u.l->v[k];
                items.u.l->v[k] = items.u.l->v[items.u.l->n - 1 - k];
                items.u.l->v[items.u.l->n - 1 - k] = t;
            }
            *out = items;
            return 0;
        }
    case F_ROUND: {
        jv prec = ARG(0, "precision", jv_int(0)), method = ARG(1, "method", jv_str("common", 6));
        double x = v.t == JV_FLOAT ? v.u.f : (v.t == JV_INT || v.t == JV_BOOL) ? (double)v.u.i : NAN;
        if (isnan(x) && v.t != JV_FLOAT) return jj_fail(c, at, XF_ERR_INVALID_ARG, "round: expected a number");
        int64_t pr = prec.t == JV_INT ? prec.u.i : 0;
        if (pr > 300) pr = 300;
        if (pr < -300) pr = -300;
        double p = pow(10.0, (double)pr);
        if (method.t == JV_STR && method.u.s.n == 4 && !memcmp(method.u.s.p, "ceil", 4)) x = ceil(x * p) / p;
        else if (method.t == JV_STR && method.u.s.n == 5 && !memcmp(method.u.s.p, "floor", 5)) x = floor(x * p) / p;
        else if (pr >= 0 && isfinite(x)) { /* Python's round(): correctly rounded, ties to even */
            char buf[400];
            snprintf(buf, sizeof buf, "%.*f", (int)pr, x);
            x = strtod(buf, NULL);
        } else if (isfinite(x)) x = rint(x * p) / p;
        *out = jv_float(x);
        return 0;
    }
    case F_SAFE: *out = v; return 0;
    case F_STRING: return str_arg(c, v, out);
    case F_SUM: {
        jv items, attr = ARG(0, "attribute", jv_none()), acc = ARG(1, "start", jv_int(0));
        if (jv_iterate(c, v, &items)) return -1;
        for (size_t k = 0; k < items.u.l->n; k++) {
            jv it = items.u.l->v[k];
            if (attr.t != JV_NONE && attr_path(c, at, it, attr, &it)) return -1;
            int an = acc.t == JV_INT || acc.t == JV_BOOL, bn = it.t == JV_INT || it.t == JV_BOOL;
            if (an && bn) {
                if (__builtin_add_overflow(acc.u.i, it.u.i, &acc.u.i)) return jj_fail(c, at, XF_ERR_UNSUPPORTED, "integer overflow");
                acc.t = JV_INT;
            } else if ((an || acc.t == JV_FLOAT) && (bn || it.t == JV_FLOAT)) {
                acc = jv_float((acc.t == JV_FLOAT ? acc.u.f : (double)acc.u.i) + (it.t == JV_FLOAT ? it.u.f : (double)it.u.i));
            } else {
                return jj_fail(c, at, XF_ERR_INVALID_ARG, "sum: unsupported operand types '%s' and '%s'",
                               jv_type_name(acc), jv_type_name(it));
            }
        }
        *out = acc;
        return 0;
    }
    case F_TOJSON: {
        jv ind = ARG(0, "indent", jv_none()), seps = ARG(1, "separators", jv_none());
        int sort = jv_truthy(ARG(2, "sort_keys", jv_bool(0)));
        if (jv_truthy(jj_arg(NULL, 0, kw, kwv, n_kw, 0, "ensure_ascii", jv_bool(0))))
            return jj_fail(c, at, XF_ERR_UNSUPPORTED, "tojson: ensure_ascii=True is not supported");
        int indent_n = -1;
        if (ind.t == JV_INT) indent_n = ind.u.i < 0 ? 0 : ind.u.i > 64 ? 64 : (int)ind.u.i;
        else if (ind.t != JV_NONE) return jj_fail(c, at, XF_ERR_UNSUPPORTED, "tojson: indent must be an integer");
        char isep[32] = ", ", ksep[32] = ": ";
        if (indent_n >= 0) strcpy(isep, ",");
        if (seps.t == JV_LIST && seps.u.l->n == 2 && seps.u.l->v[0].t == JV_STR && seps.u.l->v[1].t == JV_STR &&
            seps.u.l->v[0].u.s.n < 32 && seps.u.l->v[1].u.s.n < 32) {
            memcpy(isep, seps.u.l->v[0].u.s.p, seps.u.l->v[0].u.s.n);
            isep[seps.u.l->v[0].u.s.n] = '\0';
            memcpy(ksep, seps.u.l->v[1].u.s.p, seps.u.l->v[1].u.s.n);
            ksep[seps.u.l->v[1].u.s.n] = '\0';
        } else if (seps.t != JV_NONE) {
            return jj_fail(c, at, XF_ERR_UNSUPPORTED, "tojson: separators must be a pair of short strings");
        }
        jj_buf b = {0};
        b.limit = c->lim->max_output;
        int rc = jv_tojson(c, v, indent_n, isep, ksep, sort, &b);
        if (!rc) *out = jv_mkstr(c, b.p ? b.p : "", b.n);
        jj_buf_free(&b);
        return rc || c->failed ? -1 : 0;
    }
    case F_TRIM: {
        jv chars = ARG(0, "chars", jv_none());
        size_t a, e;
        if (str_arg(c, v, &s)) return -1;
        if (chars.t != JV_NONE && chars.t != JV_STR) return jj_fail(c, at, XF_ERR_INVALID_ARG, "trim: chars must be a string");
        jj_strip(s.u.s.p, s.u.s.n, chars.t == JV_STR ? chars.u.s.p : NULL, chars.t == JV_STR ? chars.u.s.n : 0, 3, &a, &e);
        *out = jv_str(s.u.s.p + a, e - a);
        return 0;
    }
    case F_WORDCOUNT: {
        if (str_arg(c, v, &s)) return -1;
        int64_t words = 0;
        int in = 0;
        for (size_t i = 0; i < s.u.s.n; i++) {
            unsigned char ch = (unsigned char)s.u.s.p[i];
            int w = ch >= 0x80 || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
            if (w && !in) words++;
            in = w;
        }
        *out = jv_int(words);
        return 0;
    }
    }
    return jj_fail(c, at, XF_ERR_UNSUPPORTED, "unsupported filter");
}

int jj_apply_test(jj_ctx *c, jj_frame *f, const jj_node *at, int id, const jv *args, size_t n_args, int *out) {
    jv v = args[0], o = n_args > 1 ? args[1] : jv_undef(NULL);
    int r = 0;
    (void)f;
    switch (id) {
    case T_BOOLEAN: *out = v.t == JV_BOOL; return 0;
    case T_CALLABLE: *out = v.t == JV_FUNC; return 0;
    case T_DEFINED: *out = v.t != JV_UNDEF; return 0;
    case T_UNDEFINED: *out = v.t == JV_UNDEF; return 0;
    case T_NONE: *out = v.t == JV_NONE; return 0;
    case T_FALSE: *out = v.t == JV_BOOL && !v.u.i; return 0;
    case T_TRUE: *out = v.t == JV_BOOL && v.u.i; return 0;
    case T_INTEGER: *out = v.t == JV_INT; return 0;
    case T_FLOAT: *out = v.t == JV_FLOAT; return 0;
    case T_NUMBER: *out = v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; return 0;
    case T_STRING: *out = v.t == JV_STR; return 0;
    case T_MAPPING: *out = v.t == JV_DICT; return 0;
    case T_ITERABLE: *out = v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF; return 0;
    case T_SEQUENCE: *out = v.t == JV_STR || v.t == JV_LIST || v.t == JV_DICT || v.t == JV_UNDEF; return 0;
    case T_ESCAPED: *out = 0; return 0;
    case T_SAMEAS:
        *out = v.t == o.t && (v.t == JV_NONE || v.t == JV_UNDEF ||
                              ((v.t == JV_BOOL || v.t == JV_INT) && v.u.i == o.u.i) ||
                              (v.t == JV_LIST && v.u.l == o.u.l) || ((v.t == JV_DICT || v.t == JV_NS) && v.u.d == o.u.d) ||
                              (v.t == JV_STR && v.u.s.p == o.u.s.p && v.u.s.n == o.u.s.n));
        return 0;
    case T_EQ: case T_EQUALTO: case T_EQ2: *out = jv_eq(v, o); return 0;
    case T_NE: case T_NE2: *out = !jv_eq(v, o); return 0;
    case T_LT: case T_LESSTHAN: case T_LT2:
    case T_LE: case T_LE2:
    case T_GT: case T_GREATERTHAN: case T_GT2:
    case T_GE: case T_GE2:
        if (jv_cmp(c, v, o, &r)) return -1;
        if (id == T_LT || id == T_LESSTHAN || id == T_LT2) *out = r < 0;
        else if (id == T_LE || id == T_LE2) *out = r <= 0;
        else if (id == T_GT || id == T_GREATERTHAN || id == T_GT2) *out = r > 0;
        else *out = r >= 0;
        return 0;
    case T_IN:
        if (o.t == JV_STR && v.t == JV_STR) {
            *out = 0;
            for (size_t i = 0; i + v.u.s.n <= o.u.s.n && !*out; i++) *out = !memcmp(o.u.s.p + i, v.u.s.p, v.u.s.n);
            return 0;
        }
        if (o.t == JV_LIST) {
            *out = 0;
            for (size_t k = 0; k < o.u.l->n && !*out; k++) *out = jv_eq(v, o.u.l->v[k]);
            return 0;
        }
        if (o.t == JV_DICT) {
            *out = jd_get(o.u.d, v) != NULL;
            return 0;
        }
        return jj_fail(c, at, XF_ERR_INVALID_ARG, "'in' test: argument of type '%s' is not a container", jv_type_name(o));
    case T_DIVISIBLEBY:
    case T_EVEN:
    case T_ODD: {
        int64_t d = id == T_DIVISIBLEBY ? (o.t == JV_INT ? o.u.i : 0) : 2;
        if ((v.t != JV_INT && v.t != JV_BOOL) || d == 0)
            return jj_fail(c, at, XF_ERR_INVALID_ARG, "%s test needs integers", TESTS[id]);
        int64_t m = d == -1 ? 0 : v.u.i % d;
        *out = id == T_ODD ? m != 0 : m == 0;
        return 0;
    }
    case T_LOWER:
    case T_UPPER: {
        jv s, meth, res;
        if (jv_str_of(c, v, &s) || jj_method_lookup(c, at, s, id == T_LOWER ? "islower" : "isupper", 7, &meth) ||
            jj_call_builtin(c, f, at, meth.u.fn, NULL, 0, NULL, NULL, 0, &res))
            return -1;
        *out = jv_truthy(res);
        return 0;
    }
    case T_FILTER:
    case T_TEST:
        *out = v.t == JV_STR && (id == T_FILTER ? jj_filter_id(v.u.s.p, v.u.s.n) : jj_test_id(v.u.s.p, v.u.s.n)) >= 0;
        return 0;
    }
    return jj_fail(c, at, XF_ERR_UNSUPPORTED, "unsupported test");
}
