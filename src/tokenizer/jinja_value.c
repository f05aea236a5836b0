/* jinja_value.c — values of the Jinja engine with Python's semantics: a bump arena that bounds
 * the memory of a render, byte buffers, UTF-8 helpers, truthiness, ==/< comparisons, str() and
 * repr() (floats as Python's shortest repr), json.dumps as transformers' tojson calls it
 * (ensure_ascii=False, ", " / ": " separators, indent, sort_keys) and a JSON reader that keeps
 * integers apart from floats and the order of object keys. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/alloc.h"
#include "tokenizer/jinja_impl.h"

/* ------------------------------------------------------------------ arena */

struct jj_chunk {
    jj_chunk *next;
    size_t size, used;
    max_align_t data[];
};

void *jj_alloc(jj_arena *a, size_t n) {
    if (a->over) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (a->limit && (n > a->limit || a->used > a->limit - n)) {
        a->over = 1;
        return NULL;
    }
    jj_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > 65536 ? n : 65536;
        c = xf_malloc(sizeof *c + size);
        if (!c) {
            a->over = a->oom = 1;
            return NULL;
        }
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void jj_arena_free(jj_arena *a) {
    jj_chunk *c = a->head;
    while (c) {
        jj_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

/* ----------------------------------------------------------------- buffer */

void jj_buf_put(jj_buf *b, const char *s, size_t n) {
    if (b->over || n == 0) return;
    if ((b->limit && (n > b->limit || b->n > b->limit - n)) || n > SIZE_MAX / 4) {
        b->over = 1;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = xf_realloc(b->p, cap);
        if (!p) {
            b->over = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void jj_buf_puts(jj_buf *b, const char *s) { jj_buf_put(b, s, strlen(s)); }

void jj_buf_free(jj_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------- UTF-8 */

size_t jj_utf8_dec(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    *cp = v;
    return len;
}

int jj_py_isspace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static size_t step(const char *s, size_t n, size_t i) {
    uint32_t cp;
    size_t k = jj_utf8_dec((const unsigned char *)s + i, n - i, &cp);
    return k ? k : 1;
}

size_t jj_cp_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i += step(s, n, i)) c++;
    return c;
}

size_t jj_cp_offset(const char *s, size_t n, size_t k) {
    size_t i = 0;
    while (k-- > 0 && i < n) i += step(s, n, i);
    return i;
}

/* ------------------------------------------------------------ basic values */

jv jv_mkstr(jj_ctx *c, const char *p, size_t n) {
    char *s = jj_alloc(&c->ar, n + 1);
    if (!s) {
        jj_oom(c);
        return jv_undef(NULL);
    }
    if (n) memcpy(s, p, n);
    return jv_str(s, n);
}

jv jv_mklist(jj_ctx *c, size_t n, int tuple) {
    jj_list *l = jj_alloc(&c->ar, sizeof *l);
    jv *v = n ? jj_alloc(&c->ar, n * sizeof *v) : NULL;
    if (!l || (n && !v)) {
        jj_oom(c);
        return jv_undef(NULL);
    }
    l->n = n;
    l->tuple = tuple;
    l->v = v;
    jv r = {0};
    r.t = JV_LIST;
    r.u.l = l;
    return r;
}

jv jv_mkdict(jj_ctx *c, int ns) {
    jj_dict *d = jj_alloc(&c->ar, sizeof *d);
    if (!d) {
        jj_oom(c);
        return jv_undef(NULL);
    }
    jv r = {0};
    r.t = ns ? JV_NS : JV_DICT;
    r.u.d = d;
    return r;
}

static int num(jv v, double *f, int64_t *i, int *is_int) {
    if (v.t == JV_INT || v.t == JV_BOOL) {
        *i = v.u.i;
        *f = (double)v.u.i;
        *is_int = 1;
        return 1;
    }
    if (v.t == JV_FLOAT) {
        *f = v.u.f;
        *is_int = 0;
        return 1;
    }
    return 0;
}

int jv_eq(jv a, jv b) {
    double fa, fb;
    int64_t ia = 0, ib = 0;
    int inta, intb;
    if (num(a, &fa, &ia, &inta) && num(b, &fb, &ib, &intb)) return inta && intb ? ia == ib : fa == fb;
    if (a.t != b.t) return 0;
    switch (a.t) {
    case JV_UNDEF:
    case JV_NONE: return 1;
    case JV_STR: return a.u.s.n == b.u.s.n && !memcmp(a.u.s.p, b.u.s.p, a.u.s.n);
    case JV_LIST:
        if (a.u.l->n != b.u.l->n || a.u.l->tuple != b.u.l->tuple) return 0;
        for (size_t k = 0; k < a.u.l->n; k++)
            if (!jv_eq(a.u.l->v[k], b.u.l->v[k])) return 0;
        return 1;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n) return 0;
        for (size_t k = 0; k < a.u.d->n; k++) {
            const jv *o = jd_get(b.u.d, a.u.d->k[k]);
            if (!o || !jv_eq(a.u.d->v[k], *o)) return 0;
        }
        return 1;
    case JV_NS: return a.u.d == b.u.d;
    case JV_FUNC: return a.u.fn == b.u.fn;
    default: return 0;
    }
}

int jv_truthy(jv v) {
    switch (v.t) {
    case JV_UNDEF:
    case JV_NONE: return 0;
    case JV_BOOL:
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s.n != 0;
    case JV_LIST: return v.u.l->n != 0;
    case JV_DICT: return v.u.d->n != 0;
    default: return 1;
    }
}

const char *jv_type_name(jv v) {
    switch (v.t) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return v.u.l->tuple ? "tuple" : "list";
    case JV_DICT: return "dict";
    case JV_NS: return "Namespace";
    default: return "function";
    }
}

int jv_cmp(jj_ctx *c, jv a, jv b, int *out) {
    double fa, fb;
    int64_t ia = 0, ib = 0;
    int inta, intb;
    if (num(a, &fa, &ia, &inta) && num(b, &fb, &ib, &intb)) {
        if (inta && intb) *out = ia < ib ? -1 : ia > ib;
        else *out = fa < fb ? -1 : fa > fb;
        return 0;
    }
    if (a.t == JV_STR && b.t == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0; /* UTF-8 byte order = code point order */
        *out = r < 0 ? -1 : r > 0 ? 1 : a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n;
        return 0;
    }
    if (a.t == JV_LIST && b.t == JV_LIST && a.u.l->tuple == b.u.l->tuple) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t k = 0; k < n; k++) {
            if (jv_eq(a.u.l->v[k], b.u.l->v[k])) continue;
            return jv_cmp(c, a.u.l->v[k], b.u.l->v[k], out);
        }
        *out = a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
        return 0;
    }
    return jj_fail(c, NULL, XF_ERR_INVALID_ARG, "comparison not supported between instances of '%s' and '%s'",
                   jv_type_name(a), jv_type_name(b));
}

/* ------------------------------------------------------------------ dicts */

jv *jd_get(const jj_dict *d, jv k) {
    for (size_t i = 0; i < d->n; i++)
        if (jv_eq(d->k[i], k)) return &d->v[i];
    return NULL;
}

jv *jd_get_str(const jj_dict *d, const char *s, size_t n) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == JV_STR && d->k[i].u.s.n == n && !memcmp(d->k[i].u.s.p, s, n)) return &d->v[i];
    return NULL;
}

int jd_set(jj_ctx *c, jj_dict *d, jv k, jv v) {
    if (k.t == JV_LIST && !k.u.l->tuple)
        return jj_fail(c, NULL, XF_ERR_INVALID_ARG, "unhashable type: 'list'");
    if (k.t == JV_DICT || k.t == JV_NS || k.t == JV_UNDEF)
        return jj_fail(c, NULL, XF_ERR_INVALID_ARG, "unhashable type: '%s'", jv_type_name(k));
    jv *o = jd_get(d, k);
    if (o) {
        *o = v;
        return 0;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        jv *nk = jj_alloc(&c->ar, cap * sizeof *nk), *nv = jj_alloc(&c->ar, cap * sizeof *nv);
        if (!nk || !nv) return jj_oom(c);
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof *nk);
            memcpy(nv, d->v, d->n * sizeof *nv);
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n++] = v;
    return 0;
}

/* ------------------------------------------------------------ str / repr */

void jj_fmt_float(double f, char *out) {
    if (isnan(f)) {
        strcpy(out, "nan");
        return;
    }
    if (isinf(f)) {
        strcpy(out, f < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f) break;
    }
    /* e = [-]d[.ddd]e[+-]XX: digits and decimal exponent */
    const char *p = e;
    int neg = *p == '-';
    if (neg) p++;
    char dig[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') dig[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    char *o = out;
    if (neg) *o++ = '-';
    if (exp10 < -4 || exp10 >= 16) {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return;
    }
    if (exp10 < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int k = 0; k < -exp10 - 1; k++) *o++ = '0';
        memcpy(o, dig, (size_t)nd);
        o += nd;
    } else {
        for (int k = 0; k <= exp10; k++) *o++ = k < nd ? dig[k] : '0';
        *o++ = '.';
        if (nd > exp10 + 1) {
            memcpy(o, dig + exp10 + 1, (size_t)(nd - exp10 - 1));
            o += nd - exp10 - 1;
        } else {
            *o++ = '0';
        }
    }
    *o = '\0';
}

static int py_isprintable(uint32_t cp) {
    if (cp == ' ') return 1;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    switch (cat) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS: return 0;
    default: return 1;
    }
}

static void repr_str(const char *s, size_t n, jj_buf *b) {
    int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    jj_buf_put(b, &q, 1);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = jj_utf8_dec((const unsigned char *)s + i, n - i, &cp);
        char tmp[16];
        if (!k) { /* invalid byte: Python would hold a surrogate escape */
            snprintf(tmp, sizeof tmp, "\\udc%02x", (unsigned char)s[i]);
            jj_buf_puts(b, tmp);
            i++;
            continue;
        }
        if (cp == (uint32_t)q || cp == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)cp;
            jj_buf_put(b, tmp, 2);
        } else if (cp == '\n') jj_buf_puts(b, "\\n");
        else if (cp == '\r') jj_buf_puts(b, "\\r");
        else if (cp == '\t') jj_buf_puts(b, "\\t");
        else if (cp < 0x20 || cp == 0x7F) {
            snprintf(tmp, sizeof tmp, "\\x%02x", cp);
            jj_buf_puts(b, tmp);
        } else if (cp >= 0x80 && !py_isprintable(cp)) {
            if (cp <= 0xFF) snprintf(tmp, sizeof tmp, "\\x%02x", cp);
            else if (cp <= 0xFFFF) snprintf(tmp, sizeof tmp, "\\u%04x", cp);
            else snprintf(tmp, sizeof tmp, "\\U%08x", cp);
            jj_buf_puts(b, tmp);
        } else {
            jj_buf_put(b, s + i, k);
        }
        i += k;
    }
    jj_buf_put(b, &q, 1);
}

static int repr_depth(jj_ctx *c, jv v, jj_buf *b, int depth) {
    char tmp[48];
    if (depth > JJ_MAX_DEPTH) return jj_fail(c, NULL, XF_ERR_RANGE, "value nested too deeply to print");
    switch (v.t) {
    case JV_UNDEF: jj_buf_puts(b, "Undefined"); break;
    case JV_NONE: jj_buf_puts(b, "None"); break;
    case JV_BOOL: jj_buf_puts(b, v.u.i ? "True" : "False"); break;
    case JV_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
        jj_buf_puts(b, tmp);
        break;
    case JV_FLOAT:
        jj_fmt_float(v.u.f, tmp);
        jj_buf_puts(b, tmp);
        break;
    case JV_STR: repr_str(v.u.s.p, v.u.s.n, b); break;
    case JV_LIST:
        jj_buf_puts(b, v.u.l->tuple ? "(" : "[");
        for (size_t k = 0; k < v.u.l->n; k++) {
            if (k) jj_buf_puts(b, ", ");
            if (repr_depth(c, v.u.l->v[k], b, depth + 1)) return -1;
        }
        jj_buf_puts(b, v.u.l->tuple ? (v.u.l->n == 1 ? ",)" : ")") : "]");
        break;
    case JV_DICT:
    case JV_NS:
        jj_buf_puts(b, v.t == JV_NS ? "<Namespace {" : "{");
        for (size_t k = 0; k < v.u.d->n; k++) {
            if (k) jj_buf_puts(b, ", ");
            if (repr_depth(c, v.u.d->k[k], b, depth + 1)) return -1;
            jj_buf_puts(b, ": ");
            if (repr_depth(c, v.u.d->v[k], b, depth + 1)) return -1;
        }
        jj_buf_puts(b, v.t == JV_NS ? "}>" : "}");
        break;
    case JV_FUNC:
        snprintf(tmp, sizeof tmp, "<function %.20s>", v.u.fn->name ? v.u.fn->name : "?");
        jj_buf_puts(b, tmp);
        break;
    }
    if (b->over) return jj_fail(c, NULL, XF_ERR_RANGE, "value too large to print");
    return 0;
}

int jv_repr(jj_ctx *c, jv v, jj_buf *b) { return repr_depth(c, v, b, 0); }

int jv_str_of(jj_ctx *c, jv v, jv *out) {
    if (v.t == JV_STR) {
        *out = v;
        return 0;
    }
    if (v.t == JV_UNDEF) {
        *out = jv_str("", 0);
        return 0;
    }
    jj_buf b = {0};
    b.limit = c->lim->max_output;
    int rc = jv_repr(c, v, &b);
    if (!rc) {
        *out = jv_mkstr(c, b.p ? b.p : "", b.n);
        rc = c->failed ? -1 : 0;
    }
    jj_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------------- JSON */

static void json_str(const char *s, size_t n, jj_buf *b) {
    jj_buf_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[8];
        switch (ch) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (ch < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", ch);
                esc = tmp;
            }
        }
        if (esc) {
            jj_buf_put(b, s + i - run, run);
            run = 0;
            jj_buf_puts(b, esc);
        } else {
            run++;
        }
    }
    jj_buf_put(b, s + n - run, run);
    jj_buf_put(b, "\"", 1);
}

static void newline_indent(jj_buf *b, int indent, int level) {
    jj_buf_put(b, "\n", 1);
    for (int k = 0; k < indent * level; k++) jj_buf_put(b, " ", 1);
}

static int key_order_cmp(jj_ctx *c, jv a, jv b) {
    int r = 0;
    if (jv_cmp(c, a, b, &r)) return 0;
    return r;
}

static int tojson_depth(jj_ctx *c, jv v, int indent, const char *isep, const char *ksep, int sort,
                        jj_buf *b, int level) {
    char tmp[48];
    if (level > JJ_MAX_DEPTH) return jj_fail(c, NULL, XF_ERR_RANGE, "value nested too deeply for tojson");
    switch (v.t) {
    case JV_NONE: jj_buf_puts(b, "null"); break;
    case JV_BOOL: jj_buf_puts(b, v.u.i ? "true" : "false"); break;
    case JV_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
        jj_buf_puts(b, tmp);
        break;
    case JV_FLOAT:
        if (isnan(v.u.f)) jj_buf_puts(b, "NaN");
        else if (isinf(v.u.f)) jj_buf_puts(b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else {
            jj_fmt_float(v.u.f, tmp);
            jj_buf_puts(b, tmp);
        }
        break;
    case JV_STR: json_str(v.u.s.p, v.u.s.n, b); break;
    case JV_LIST:
        if (v.u.l->n == 0) {
            jj_buf_puts(b, "[]");
            break;
        }
        jj_buf_puts(b, "[");
        for (size_t k = 0; k < v.u.l->n; k++) {
            if (k) jj_buf_puts(b, isep);
            if (indent >= 0) newline_indent(b, indent, level + 1);
            if (tojson_depth(c, v.u.l->v[k], indent, isep, ksep, sort, b, level + 1)) return -1;
        }
        if (indent >= 0) newline_indent(b, indent, level);
        jj_buf_puts(b, "]");
        break;
    case JV_DICT: {
        jj_dict *d = v.u.d;
        if (d->n == 0) {
            jj_buf_puts(b, "{}");
            break;
        }
        size_t *ord = jj_alloc(&c->ar, d->n * sizeof *ord);
        if (!ord) return jj_oom(c);
        for (size_t k = 0; k < d->n; k++) ord[k] = k;
        if (sort) /* insertion sort: stable, dicts are small */
            for (size_t k = 1; k < d->n; k++)
                for (size_t j = k; j > 0 && key_order_cmp(c, d->k[ord[j - 1]], d->k[ord[j]]) > 0; j--) {
                    size_t t = ord[j];
                    ord[j] = ord[j - 1];
                    ord[j - 1] = t;
                }
        if (c->failed) return -1;
        jj_buf_puts(b, "{");
        for (size_t k = 0; k < d->n; k++) {
            jv key = d->k[ord[k]];
            if (k) jj_buf_puts(b, isep);
            if (indent >= 0) newline_indent(b, indent, level + 1);
            if (key.t == JV_STR) {
                json_str(key.u.s.p, key.u.s.n, b);
            } else if (key.t == JV_INT || key.t == JV_FLOAT || key.t == JV_BOOL || key.t == JV_NONE) {
                jj_buf_put(b, "\"", 1);
                if (tojson_depth(c, key, indent, isep, ksep, sort, b, level + 1)) return -1;
                jj_buf_put(b, "\"", 1);
            } else {
                return jj_fail(c, NULL, XF_ERR_INVALID_ARG, "tojson: keys must be str, int, float, bool or None, not %s",
                               jv_type_name(key));
            }
            jj_buf_puts(b, ksep);
            if (tojson_depth(c, d->v[ord[k]], indent, isep, ksep, sort, b, level + 1)) return -1;
        }
        if (indent >= 0) newline_indent(b, indent, level);
        jj_buf_puts(b, "}");
        break;
    }
    default:
        return jj_fail(c, NULL, XF_ERR_INVALID_ARG, "tojson: Object of type %s is not JSON serializable",
                       jv_type_name(v));
    }
    if (b->over) return jj_fail(c, NULL, XF_ERR_RANGE, "tojson: output too large");
    return 0;
}

int jv_tojson(jj_ctx *c, jv v, int indent, const char *isep, const char *ksep, int sort, jj_buf *b) {
    return tojson_depth(c, v, indent, isep, ksep, sort, b, 0);
}

/* JSON reader. */
typedef struct jr {
    jj_ctx *c;
    const char *s;
    size_t i, n;
    int depth;
} jr;

static void jr_ws(jr *r) {
    while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r'))
        r->i++;
}

static int jr_fail(jr *r, const char *what) {
    return jj_fail(r->c, NULL, XF_ERR_INVALID_ARG, "chat template variables: malformed JSON at byte %zu: %s",
                   r->i, what);
}

static int hex4(const char *s, uint32_t *v) {
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char h = s[k];
        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

static int jr_string(jr *r, jv *out) {
    size_t start = ++r->i;
    size_t end = start;
    while (end < r->n && r->s[end] != '"') end += r->s[end] == '\\' ? 2 : 1;
    if (end >= r->n) return jr_fail(r, "unterminated string");
    char *o = jj_alloc(&r->c->ar, end - start + 1);
    if (!o) return jj_oom(r->c);
    size_t k = 0;
    for (size_t i = start; i < end; i++) {
        unsigned char ch = (unsigned char)r->s[i];
        if (ch < 0x20) {
            r->i = i;
            return jr_fail(r, "control character in a string");
        }
        if (ch != '\\') {
            o[k++] = (char)ch;
            continue;
        }
        char e = r->s[++i];
        switch (e) {
        case '"': case '\\': case '/': o[k++] = e; break;
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'u': {
            uint32_t cp, lo;
            if (i + 4 >= end + 0 + 1 || hex4(r->s + i + 1, &cp)) {
                r->i = i;
                return jr_fail(r, "bad \\u escape");
            }
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < end + 1 && r->s[i + 1] == '\\' && r->s[i + 2] == 'u' &&
                !hex4(r->s + i + 3, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* lone surrogate */
            }
            k += xf_utf8_encode(cp, o + k);
            break;
        }
        default:
            r->i = i;
            return jr_fail(r, "bad escape");
        }
    }
    r->i = end + 1;
    *out = jv_str(o, k);
    return 0;
}

static int jr_value(jr *r, jv *out) {
    jr_ws(r);
    if (r->i >= r->n) return jr_fail(r, "unexpected end");
    if (++r->depth > 200) return jr_fail(r, "nested too deeply");
    char ch = r->s[r->i];
    int rc = 0;
    if (ch == '{' || ch == '[') {
        int obj = ch == '{';
        r->i++;
        jv d = obj ? jv_mkdict(r->c, 0) : jv_undef(NULL);
        jv *items = NULL;
        size_t n = 0, cap = 0;
        if (r->c->failed) return -1;
        jr_ws(r);
        if (r->i < r->n && r->s[r->i] == (obj ? '}' : ']')) {
            r->i++;
        } else {
            for (;;) {
                jv k = {0}, v;
                jr_ws(r);
                if (obj) {
                    if (r->i >= r->n || r->s[r->i] != '"') return jr_fail(r, "expected a key string");
                    if (jr_string(r, &k)) return -1;
                    jr_ws(r);
                    if (r->i >= r->n || r->s[r->i] != ':') return jr_fail(r, "expected ':'");
                    r->i++;
                }
                if (jr_value(r, &v)) return -1;
                if (obj) {
                    if (d.u.d->n >= 4096) return jr_fail(r, "an object with more than 4096 keys");
                    if (jd_set(r->c, d.u.d, k, v)) return -1;
                } else {
                    if (n == cap) {
                        cap = cap ? cap * 2 : 8;
                        jv *ni = jj_alloc(&r->c->ar, cap * sizeof *ni);
                        if (!ni) return jj_oom(r->c);
                        if (n) memcpy(ni, items, n * sizeof *ni);
                        items = ni;
                    }
                    items[n++] = v;
                }
                jr_ws(r);
                if (r->i < r->n && r->s[r->i] == ',') {
                    r->i++;
                    continue;
                }
                if (r->i < r->n && r->s[r->i] == (obj ? '}' : ']')) {
                    r->i++;
                    break;
                }
                return jr_fail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        }
        if (!obj) {
            d = jv_mklist(r->c, 0, 0);
            if (r->c->failed) return -1;
            d.u.l->n = n;
            d.u.l->v = items;
        }
        *out = d;
    } else if (ch == '"') {
        rc = jr_string(r, out);
    } else if (r->n - r->i >= 4 && !memcmp(r->s + r->i, "true", 4)) {
        *out = jv_bool(1);
        r->i += 4;
    } else if (r->n - r->i >= 5 && !memcmp(r->s + r->i, "false", 5)) {
        *out = jv_bool(0);
        r->i += 5;
    } else if (r->n - r->i >= 4 && !memcmp(r->s + r->i, "null", 4)) {
        *out = jv_none();
        r->i += 4;
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
        size_t j = r->i + (ch == '-');
        int is_float = 0;
        while (j < r->n && ((r->s[j] >= '0' && r->s[j] <= '9') || r->s[j] == '.' || r->s[j] == 'e' || r->s[j] == 'E' ||
                            ((r->s[j] == '+' || r->s[j] == '-') && (r->s[j - 1] == 'e' || r->s[j - 1] == 'E')))) {
            if (r->s[j] == '.' || r->s[j] == 'e' || r->s[j] == 'E') is_float = 1;
            j++;
        }
        char buf[64];
        if (j - r->i >= sizeof buf) return jr_fail(r, "number too long");
        memcpy(buf, r->s + r->i, j - r->i);
        buf[j - r->i] = '\0';
        char *e = NULL;
        if (!is_float) {
            long long v = strtoll(buf, &e, 10);
            if (*e || (v == LLONG_MAX || v == LLONG_MIN)) is_float = 1;
            else *out = jv_int(v);
        }
        if (is_float) {
            double f = strtod(buf, &e);
            if (*e || e == buf) return jr_fail(r, "bad number");
            *out = jv_float(f);
        }
        r->i = j;
    } else {
        return jr_fail(r, "unexpected character");
    }
    r->depth--;
    return rc;
}

int jv_from_json(jj_ctx *c, const char *text, jv *out) {
    jr r = {c, text, 0, strlen(text), 0};
    if (jr_value(&r, out)) return -1;
    jr_ws(&r);
    if (r.i != r.n) return jr_fail(&r, "text after the value");
    return 0;
}

/* ------------------------------------------------------------- iteration */

int jv_iterate(jj_ctx *c, jv v, jv *out) {
    switch (v.t) {
    case JV_UNDEF:
        *out = jv_mklist(c, 0, 0);
        break;
    case JV_LIST: *out = v; break;
    case JV_DICT: {
        *out = jv_mklist(c, v.u.d->n, 0);
        if (c->failed) return -1;
        for (size_t k = 0; k < v.u.d->n; k++) out->u.l->v[k] = v.u.d->k[k];
        break;
    }
    case JV_STR: {
        size_t n = jj_cp_count(v.u.s.p, v.u.s.n);
        *out = jv_mklist(c, n, 0);
        if (c->failed) return -1;
        size_t i = 0;
        for (size_t k = 0; k < n; k++) {
            size_t e = i + step(v.u.s.p, v.u.s.n, i);
            out->u.l->v[k] = jv_str(v.u.s.p + i, e - i);
            i = e;
        }
        break;
    }
    default:
        return jj_fail(c, NULL, XF_ERR_INVALID_ARG, "'%s' object is not iterable", jv_type_name(v));
    }
    return c->failed ? -1 : 0;
}
