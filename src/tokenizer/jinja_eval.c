/* jinja_eval.c — runs a compiled Jinja template: scopes as Jinja2 has them (a for loop's body and
 * a macro call get their own scope, `if` does not; macros see the scope they were defined in),
 * expressions with Python's operators, Undefined as Jinja2's default (prints as "", iterates as
 * empty, fails when its attributes are read or it is called), the loop object, macros, set
 * blocks, filter blocks and loop controls; and the entry points of jinja.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "tokenizer/jinja_impl.h"

#define JJ_MAX_EVAL_DEPTH 600 /* nested evaluations (expressions inside macro calls ...) */
#define JJ_MAX_MACRO_DEPTH 48

struct xf_jinja {
    jj_arena ar; /* tokens' strings and the tree */
    jj_node *root;
};

int jj_fail(jj_ctx *c, const jj_node *at, xf_status st, const char *fmt, ...) {
    if (c->failed) return -1;
    c->failed = 1;
    c->st = st;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = at ? at->line : c->line, col = at ? at->col : c->col;
    snprintf(c->msg, sizeof c->msg, "line %d, column %d: %s", line, col, msg);
    return -1;
}

int jj_oom(jj_ctx *c) {
    if (c->ar.oom) return jj_fail(c, NULL, XF_ERR_NOMEM, "out of memory");
    return jj_fail(c, NULL, XF_ERR_RANGE, "the template needs more than %zu bytes of memory", c->ar.limit);
}

/* ----------------------------------------------------------------- scopes */

static jj_frame *frame_new(jj_ctx *c, jj_frame *parent) {
    jj_frame *f = jj_alloc(&c->ar, sizeof *f);
    if (!f) {
        jj_oom(c);
        return NULL;
    }
    f->parent = parent;
    return f;
}

static int frame_set(jj_ctx *c, jj_frame *f, const char *name, size_t len, jv v) {
    for (size_t k = 0; k < f->n; k++)
        if (f->lens[k] == len && !memcmp(f->names[k], name, len)) {
            f->vals[k] = v;
            return 0;
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        const char **nn = jj_alloc(&c->ar, cap * sizeof *nn);
        size_t *nl = jj_alloc(&c->ar, cap * sizeof *nl);
        jv *nv = jj_alloc(&c->ar, cap * sizeof *nv);
        if (!nn || !nl || !nv) return jj_oom(c);
        if (f->n) {
            memcpy(nn, f->names, f->n * sizeof *nn);
            memcpy(nl, f->lens, f->n * sizeof *nl);
            memcpy(nv, f->vals, f->n * sizeof *nv);
        }
        f->names = nn;
        f->lens = nl;
        f->vals = nv;
        f->cap = cap;
    }
    f->names[f->n] = name;
    f->lens[f->n] = len;
    f->vals[f->n++] = v;
    return 0;
}

static const char *cname(jj_ctx *c, const char *s, size_t n);

static int lookup(jj_ctx *c, jj_frame *f, const char *name, size_t len, jv *out) {
    for (; f; f = f->parent)
        for (size_t k = f->n; k-- > 0;)
            if (f->lens[k] == len && !memcmp(f->names[k], name, len)) {
                *out = f->vals[k];
                return 1;
            }
    int g = jj_global_id(name, len);
    if (g >= 0) {
        jj_func *fn = jj_alloc(&c->ar, sizeof *fn);
        if (!fn) return jj_oom(c), 0;
        fn->kind = JF_GLOBAL;
        fn->id = g;
        fn->name = cname(c, name, len);
        out->t = JV_FUNC;
        out->u.fn = fn;
        return 1;
    }
    return 0;
}

/* A name as a NUL-terminated arena string (for undefined hints). */
static const char *cname(jj_ctx *c, const char *s, size_t n) {
    if (n > 60) n = 60;
    char *o = jj_alloc(&c->ar, n + 1);
    if (o) memcpy(o, s, n);
    return o ? o : "?";
}

static int undefined_error(jj_ctx *c, const jj_node *at, jv u) {
    if (u.u.s.p) return jj_fail(c, at, XF_ERR_INVALID_ARG, "%s", u.u.s.p);
    return jj_fail(c, at, XF_ERR_INVALID_ARG, "a value is undefined");
}

static jv undef_named(jj_ctx *c, const char *fmt, const char *a, const char *b) {
    char tmp[200];
    snprintf(tmp, sizeof tmp, fmt, a, b);
    return jv_undef(cname(c, tmp, strlen(tmp)));
}

/* -------------------------------------------------------------- accessors */

static int get_attr(jj_ctx *c, const jj_node *at, jv obj, const char *name, size_t len, jv *out) {
    if (obj.t == JV_UNDEF) return undefined_error(c, at, obj);
    if (obj.t == JV_NS) {
        jv *v = jd_get_str(obj.u.d, name, len);
        *out = v ? *v : undef_named(c, "'Namespace' has no attribute '%s'%s", cname(c, name, len), "");
        return 0;
    }
    if (jj_method_lookup(c, at, obj, name, len, out)) return -1;
    if (out->t != JV_UNDEF) return 0;
    if (obj.t == JV_DICT) {
        jv *v = jd_get_str(obj.u.d, name, len);
        if (v) {
            *out = *v;
            return 0;
        }
        *out = undef_named(c, "'dict object' has no attribute '%s'%s", cname(c, name, len), "");
        return 0;
    }
    char tn[40];
    snprintf(tn, sizeof tn, "%s object", jv_type_name(obj));
    *out = undef_named(c, "'%s' has no attribute '%s'", tn, cname(c, name, len));
    return 0;
}

static int to_index(jj_ctx *c, jv v, int64_t *out) {
    if (v.t == JV_INT || v.t == JV_BOOL) {
        *out = v.u.i;
        return 1;
    }
    (void)c;
    return 0;
}

static int slice_bound(jj_ctx *c, const jj_node *at, jv v, int64_t *out) {
    if (v.t == JV_NONE || v.t == JV_UNDEF) return 0;
    if (!to_index(c, v, out))
        return jj_fail(c, at, XF_ERR_INVALID_ARG, "slice indices must be integers or None"), -1;
    return 1;
}

static int do_slice(jj_ctx *c, const jj_node *at, jv obj, jv lo, jv hi, jv st, jv *out) {
    int64_t step = 1, start, stop, len;
    int r;
    if ((r = slice_bound(c, at, st, &step)) < 0) return -1;
    if (step == 0) return jj_fail(c, at, XF_ERR_INVALID_ARG, "slice step cannot be zero");
    if (obj.t == JV_STR) len = (int64_t)jj_cp_count(obj.u.s.p, obj.u.s.n);
    else if (obj.t == JV_LIST) len = (int64_t)obj.u.l->n;
    else if (obj.t == JV_UNDEF) return undefined_error(c, at, obj);
    else {
        *out = jv_undef(NULL);
        return 0;
    }
    int64_t lo_def = step > 0 ? 0 : len - 1, hi_def = step > 0 ? len : -1;
    if ((r = slice_bound(c, at, lo, &start)) < 0) return -1;
    if (!r) start = lo_def;
    else {
        if (start < 0) start += len;
        if (start < 0) start = step > 0 ? 0 : -1;
        if (start >= len) start = step > 0 ? len : len - 1;
    }
    if ((r = slice_bound(c, at, hi, &stop)) < 0) return -1;
    if (!r) stop = hi_def;
    else {
        if (stop < 0) stop += len;
        if (stop < 0) stop = step > 0 ? 0 : -1;
        if (stop >= len) stop = step > 0 ? len : len - 1;
    }
    int64_t count = 0;
    if (step > 0 && start < stop) count = (stop - start + step - 1) / step;
    if (step < 0 && start > stop) count = (start - stop + (-step) - 1) / (-step);
    if (obj.t == JV_LIST) {
        *out = jv_mklist(c, (size_t)count, obj.u.l->tuple);
        if (c->failed) return -1;
        for (int64_t k = 0; k < count; k++) out->u.l->v[k] = obj.u.l->v[start + k * step];
        return 0;
    }
    /* string: code point offsets */
    size_t *offs = jj_alloc(&c->ar, ((size_t)len + 1) * sizeof *offs);
    if (!offs) return jj_oom(c);
    size_t i = 0;
    for (int64_t k = 0; k <= len; k++) {
        offs[k] = i;
        if (k < len) i = jj_cp_offset(obj.u.s.p + i, obj.u.s.n - i, 1) + i;
    }
    if (step == 1) {
        *out = count ? jv_str(obj.u.s.p + offs[start], offs[start + count] - offs[start]) : jv_str("", 0);
        return 0;
    }
    jj_buf b = {0};
    for (int64_t k = 0; k < count; k++) {
        int64_t p = start + k * step;
        jj_buf_put(&b, obj.u.s.p + offs[p], offs[p + 1] - offs[p]);
    }
    *out = jv_mkstr(c, b.p ? b.p : "", b.n);
    jj_buf_free(&b);
    return c->failed ? -1 : 0;
}

static int get_item(jj_ctx *c, const jj_node *at, jv obj, jv key, jv *out) {
    if (obj.t == JV_UNDEF) return undefined_error(c, at, obj);
    int64_t i;
    if (obj.t == JV_DICT || obj.t == JV_NS) {
        jv *v = jd_get(obj.u.d, key);
        if (v) {
            *out = *v;
            return 0;
        }
    } else if ((obj.t == JV_LIST || obj.t == JV_STR) && to_index(c, key, &i)) {
        int64_t len = obj.t == JV_LIST ? (int64_t)obj.u.l->n : (int64_t)jj_cp_count(obj.u.s.p, obj.u.s.n);
        if (i < 0) i += len;
        if (i >= 0 && i < len) {
            if (obj.t == JV_LIST) {
                *out = obj.u.l->v[i];
            } else {
                size_t a = jj_cp_offset(obj.u.s.p, obj.u.s.n, (size_t)i);
                size_t b = jj_cp_offset(obj.u.s.p + a, obj.u.s.n - a, 1) + a;
                *out = jv_str(obj.u.s.p + a, b - a);
            }
            return 0;
        }
    }
    if (key.t == JV_STR && obj.t != JV_NS) return get_attr(c, at, obj, key.u.s.p, key.u.s.n, out);
    *out = jv_undef(cname(c, "an index or key is out of range", 31));
    return 0;
}

/* ------------------------------------------------------------ arithmetic */

static int arith(jj_ctx *c, const jj_node *at, int op, jv a, jv b, jv *out) {
    if (a.t == JV_UNDEF) return undefined_error(c, at, a);
    if (b.t == JV_UNDEF) return undefined_error(c, at, b);
    int an = a.t == JV_INT || a.t == JV_BOOL || a.t == JV_FLOAT, bn = b.t == JV_INT || b.t == JV_BOOL || b.t == JV_FLOAT;
    if (an && bn) {
        int ints = a.t != JV_FLOAT && b.t != JV_FLOAT;
        double x = a.t == JV_FLOAT ? a.u.f : (double)a.u.i, y = b.t == JV_FLOAT ? b.u.f : (double)b.u.i;
        int64_t p = a.u.i, q = b.u.i, r;
        switch (op) {
        case '+':
            if (ints) {
                if (__builtin_add_overflow(p, q, &r)) goto overflow;
                *out = jv_int(r);
            } else *out = jv_float(x + y);
            return 0;
        case '-':
            if (ints) {
                if (__builtin_sub_overflow(p, q, &r)) goto overflow;
                *out = jv_int(r);
            } else *out = jv_float(x - y);
            return 0;
        case '*':
            if (ints) {
                if (__builtin_mul_overflow(p, q, &r)) goto overflow;
                *out = jv_int(r);
            } else *out = jv_float(x * y);
            return 0;
        case '/':
            if (y == 0) return jj_fail(c, at, XF_ERR_INVALID_ARG, "division by zero");
            *out = jv_float(x / y);
            return 0;
        case JOP_FLOORDIV:
        case '%':
            if (y == 0) return jj_fail(c, at, XF_ERR_INVALID_ARG, "integer division or modulo by zero");
            if (ints) {
                if (p == INT64_MIN && q == -1) goto overflow;
                int64_t d = p / q, m = p % q;
                if (m != 0 && ((m < 0) != (q < 0))) {
                    d -= 1;
                    m += q;
                }
                *out = jv_int(op == '%' ? m : d);
            } else {
                double m = fmod(x, y);
                if (m != 0 && ((m < 0) != (y < 0))) m += y;
                *out = jv_float(op == '%' ? m : floor(x / y));
            }
            return 0;
        case JOP_POW:
            if (ints && q >= 0) {
                int64_t v = 1, base = p;
                for (int64_t k = 0; k < q; k++) {
                    if (__builtin_mul_overflow(v, base, &v)) goto overflow;
                    if (v == 0 || v == 1) break;
                }
                *out = jv_int(v);
            } else {
                *out = jv_float(pow(x, y));
            }
            return 0;
        }
    }
    if (op == '+' && a.t == JV_STR && b.t == JV_STR) {
        char *s = jj_alloc(&c->ar, a.u.s.n + b.u.s.n + 1);
        if (!s) return jj_oom(c);
        memcpy(s, a.u.s.p, a.u.s.n);
        memcpy(s + a.u.s.n, b.u.s.p, b.u.s.n);
        *out = jv_str(s, a.u.s.n + b.u.s.n);
        return 0;
    }
    if (op == '+' && a.t == JV_LIST && b.t == JV_LIST && a.u.l->tuple == b.u.l->tuple) {
        *out = jv_mklist(c, a.u.l->n + b.u.l->n, a.u.l->tuple);
        if (c->failed) return -1;
        if (a.u.l->n) memcpy(out->u.l->v, a.u.l->v, a.u.l->n * sizeof(jv));
        if (b.u.l->n) memcpy(out->u.l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof(jv));
        return 0;
    }
    if (op == '*' && (((a.t == JV_STR || a.t == JV_LIST) && (b.t == JV_INT || b.t == JV_BOOL)) ||
                      ((b.t == JV_STR || b.t == JV_LIST) && (a.t == JV_INT || a.t == JV_BOOL)))) {
        jv s = a.t == JV_INT || a.t == JV_BOOL ? b : a;
        int64_t k = a.t == JV_INT || a.t == JV_BOOL ? a.u.i : b.u.i;
        if (k < 0) k = 0;
        size_t unit = s.t == JV_STR ? s.u.s.n : s.u.l->n * sizeof(jv);
        if (unit && (uint64_t)k > (c->ar.limit ? c->ar.limit : SIZE_MAX / 2) / unit) return jj_oom(c);
        if (s.t == JV_STR) {
            char *o = jj_alloc(&c->ar, s.u.s.n * (size_t)k + 1);
            if (!o) return jj_oom(c);
            for (int64_t j = 0; j < k; j++) memcpy(o + (size_t)j * s.u.s.n, s.u.s.p, s.u.s.n);
            *out = jv_str(o, s.u.s.n * (size_t)k);
        } else {
            *out = jv_mklist(c, s.u.l->n * (size_t)k, s.u.l->tuple);
            if (c->failed) return -1;
            for (int64_t j = 0; j < k; j++) memcpy(out->u.l->v + (size_t)j * s.u.l->n, s.u.l->v, s.u.l->n * sizeof(jv));
        }
        return 0;
    }
    {
        char ops[3] = {0};
        if (op < 256) ops[0] = (char)op;
        else memcpy(ops, op == JOP_FLOORDIV ? "//" : "**", 2);
        return jj_fail(c, at, XF_ERR_INVALID_ARG, "unsupported operand type(s) for %s: '%s' and '%s'", ops,
                       jv_type_name(a), jv_type_name(b));
    }
overflow:
    return jj_fail(c, at, XF_ERR_UNSUPPORTED, "integer overflow (integers beyond 64 bits are not supported)");
}

static int contains(jj_ctx *c, const jj_node *at, jv item, jv seq, int *out) {
    switch (seq.t) {
    case JV_STR:
        if (item.t != JV_STR)
            return jj_fail(c, at, XF_ERR_INVALID_ARG, "'in <string>' requires string as left operand, not %s",
                           jv_type_name(item));
        if (item.u.s.n == 0) *out = 1;
        else {
            *out = 0;
            for (size_t i = 0; i + item.u.s.n <= seq.u.s.n && !*out; i++)
                *out = !memcmp(seq.u.s.p + i, item.u.s.p, item.u.s.n);
        }
        return 0;
    case JV_LIST:
        *out = 0;
        for (size_t k = 0; k < seq.u.l->n && !*out; k++) *out = jv_eq(item, seq.u.l->v[k]);
        return 0;
    case JV_DICT:
    case JV_NS: *out = jd_get(seq.u.d, item) != NULL; return 0;
    case JV_UNDEF: *out = 0; return 0;
    default:
        return jj_fail(c, at, XF_ERR_INVALID_ARG, "argument of type '%s' is not iterable", jv_type_name(seq));
    }
}

static int compare(jj_ctx *c, const jj_node *at, int op, jv a, jv b, int *out) {
    int r;
    switch (op) {
    case JOP_EQ: *out = jv_eq(a, b); return 0;
    case JOP_NE: *out = !jv_eq(a, b); return 0;
    case 512: return contains(c, at, a, b, out);
    case 513:
        if (contains(c, at, a, b, out)) return -1;
        *out = !*out;
        return 0;
    }
    if (a.t == JV_UNDEF) return undefined_error(c, at, a);
    if (b.t == JV_UNDEF) return undefined_error(c, at, b);
    c->line = at->line;
    c->col = at->col;
    if (jv_cmp(c, a, b, &r)) return -1;
    *out = op == '<' ? r < 0 : op == '>' ? r > 0 : op == JOP_LE ? r <= 0 : r >= 0;
    return 0;
}

/* ------------------------------------------------------------------ calls */

typedef struct args {
    jv pos[16];
    jv kwv[16];
    const char *kw[16];
    size_t n_pos, n_kw;
} args;

static int eval_args(jj_ctx *c, jj_frame *f, const jj_node *n, size_t skip, args *a, jv first, int has_first) {
    a->n_pos = a->n_kw = 0;
    if (n->n + 1 > 16) return jj_fail(c, n, XF_ERR_UNSUPPORTED, "more than 15 arguments in a call");
    if (has_first) a->pos[a->n_pos++] = first;
    for (size_t k = skip; k < n->n; k++) {
        jv v;
        if (jj_eval(c, f, n->items[k], &v)) return -1;
        if (n->kw && n->kw[k]) {
            a->kw[a->n_kw] = n->kw[k];
            a->kwv[a->n_kw++] = v;
        } else {
            a->pos[a->n_pos++] = v;
        }
    }
    return 0;
}

static int exec_body(jj_ctx *c, jj_frame *f, const jj_node *n);

/* Render body into a new string (output captured). */
static int capture(jj_ctx *c, jj_frame *f, const jj_node *body, jv *out) {
    jj_buf b = {0}, *saved = c->out;
    b.limit = c->lim->max_output; /* and no more than the memory still allowed */
    if (c->ar.limit && c->ar.limit - c->ar.used < b.limit) b.limit = c->ar.limit - c->ar.used + 1;
    c->out = &b;
    int rc = exec_body(c, f, body);
    c->out = saved;
    if (!rc && b.over) rc = jj_fail(c, body, XF_ERR_RANGE, "output larger than %zu bytes", b.limit);
    if (!rc) {
        *out = jv_mkstr(c, b.p ? b.p : "", b.n);
        rc = c->failed ? -1 : 0;
    }
    jj_buf_free(&b);
    return rc;
}

static int call_macro(jj_ctx *c, const jj_node *at, const jj_func *fn, const jv *pos, size_t n_pos,
                      const char *const *kw, const jv *kwv, size_t n_kw, jv *out) {
    const jj_node *m = fn->mac;
    if (c->depth > JJ_MAX_MACRO_DEPTH * 8 || ++c->macro_depth > JJ_MAX_MACRO_DEPTH)
        return jj_fail(c, at, XF_ERR_RANGE, "macro calls nested deeper than %d", JJ_MAX_MACRO_DEPTH);
    if (n_pos > m->n)
        return jj_fail(c, at, XF_ERR_INVALID_ARG, "macro '%.*s' takes not more than %zu argument(s)",
                       (int)m->name_n, m->name, m->n);
    jj_frame *f = frame_new(c, fn->closure);
    if (!f) return -1;
    for (size_t k = 0; k < n_kw; k++) {
        size_t j;
        for (j = 0; j < m->n; j++)
            if (strlen(kw[k]) == m->items[j]->name_n && !memcmp(kw[k], m->items[j]->name, m->items[j]->name_n)) break;
        if (j == m->n)
            return jj_fail(c, at, XF_ERR_INVALID_ARG, "macro '%.*s' takes no keyword argument '%s'",
                           (int)m->name_n, m->name, kw[k]);
        if (j < n_pos)
            return jj_fail(c, at, XF_ERR_INVALID_ARG, "macro '%.*s' got multiple values for argument '%s'",
                           (int)m->name_n, m->name, kw[k]);
    }
    for (size_t j = 0; j < m->n; j++) {
        const jj_node *prm = m->items[j];
        jv v = jv_undef(NULL);
        int set = 0;
        if (j < n_pos) {
            v = pos[j];
            set = 1;
        }
        for (size_t k = 0; k < n_kw && !set; k++)
            if (strlen(kw[k]) == prm->name_n && !memcmp(kw[k], prm->name, prm->name_n)) {
                v = kwv[k];
                set = 1;
            }
        if (!set && prm->a && jj_eval(c, f, prm->a, &v)) return -1;
        if (!set && !prm->a) v = undef_named(c, "parameter '%s' was not provided%s", cname(c, prm->name, prm->name_n), "");
        if (frame_set(c, f, prm->name, prm->name_n, v)) return -1;
    }
    int rc = capture(c, f, m->d, out);
    c->macro_depth--;
    return rc;
}

int jj_call_value(jj_ctx *c, jj_frame *f, const jj_node *at, jv fn, const jv *pos, size_t n_pos,
                  const char *const *kw, const jv *kwv, size_t n_kw, jv *out) {
    if (fn.t == JV_UNDEF) return undefined_error(c, at, fn);
    if (fn.t != JV_FUNC) return jj_fail(c, at, XF_ERR_INVALID_ARG, "'%s' object is not callable", jv_type_name(fn));
    if (fn.u.fn->kind == JF_MACRO) return call_macro(c, at, fn.u.fn, pos, n_pos, kw, kwv, n_kw, out);
    return jj_call_builtin(c, f, at, fn.u.fn, pos, n_pos, kw, kwv, n_kw, out);
}

/* ------------------------------------------------------------ expressions */

static int eval_filter(jj_ctx *c, jj_frame *f, const jj_node *n, jv input, jv *out) {
    args a;
    if (eval_args(c, f, n, 0, &a, input, 1)) return -1;
    return jj_apply_filter(c, f, n, n->fid, a.pos, a.n_pos, a.kw, a.kwv, a.n_kw, out);
}

int jj_eval(jj_ctx *c, jj_frame *f, const jj_node *n, jv *out) {
    if (c->failed) return -1;
    if (++c->steps > c->lim->max_steps)
        return jj_fail(c, n, XF_ERR_RANGE, "the template takes more than %llu steps",
                       (unsigned long long)c->lim->max_steps);
    if (++c->depth > JJ_MAX_EVAL_DEPTH) return jj_fail(c, n, XF_ERR_RANGE, "evaluation nested too deeply");
    c->line = n->line;
    c->col = n->col;
    int rc = 0;
    jv a, b;
    switch (n->kind) {
    case JN_CONST: *out = n->val; break;
    case JN_NAME:
        if (!lookup(c, f, n->name, n->name_n, out)) {
            if (c->failed) rc = -1;
            else *out = undef_named(c, "'%s' is undefined%s", cname(c, n->name, n->name_n), "");
        }
        break;
    case JN_LIST:
    case JN_TUPLE:
        *out = jv_mklist(c, n->n, n->kind == JN_TUPLE);
        if (c->failed) rc = -1;
        for (size_t k = 0; !rc && k < n->n; k++) rc = jj_eval(c, f, n->items[k], &out->u.l->v[k]);
        break;
    case JN_DICT:
        *out = jv_mkdict(c, 0);
        if (c->failed) rc = -1;
        for (size_t k = 0; !rc && k + 1 < n->n; k += 2) {
            if (jj_eval(c, f, n->items[k], &a) || jj_eval(c, f, n->items[k + 1], &b)) rc = -1;
            else rc = jd_set(c, out->u.d, a, b);
        }
        break;
    case JN_GETATTR:
        rc = jj_eval(c, f, n->a, &a) || get_attr(c, n, a, n->name, n->name_n, out) ? -1 : 0;
        break;
    case JN_GETITEM:
        if (jj_eval(c, f, n->a, &a)) rc = -1;
        else if (n->b->kind == JN_SLICE) {
            jv lo = jv_none(), hi = jv_none(), st = jv_none();
            const jj_node *s = n->b;
            if ((s->a && jj_eval(c, f, s->a, &lo)) || (s->b && jj_eval(c, f, s->b, &hi)) ||
                (s->c && jj_eval(c, f, s->c, &st)))
                rc = -1;
            else rc = do_slice(c, n, a, lo, hi, st, out);
        } else {
            rc = jj_eval(c, f, n->b, &b) || get_item(c, n, a, b, out) ? -1 : 0;
        }
        break;
    case JN_SLICE: rc = jj_fail(c, n, XF_ERR_INVALID_ARG, "a slice outside of a subscript"); break;
    case JN_CALL: {
        args ar;
        if (jj_eval(c, f, n->a, &a) || eval_args(c, f, n, 0, &ar, a, 0)) rc = -1;
        else rc = jj_call_value(c, f, n, a, ar.pos, ar.n_pos, ar.kw, ar.kwv, ar.n_kw, out);
        break;
    }
    case JN_FILTER:
        rc = jj_eval(c, f, n->a, &a) || eval_filter(c, f, n, a, out) ? -1 : 0;
        break;
    case JN_TEST: {
        args ar;
        int r = 0;
        if (jj_eval(c, f, n->a, &a) || eval_args(c, f, n, 0, &ar, a, 1) ||
            jj_apply_test(c, f, n, n->fid, ar.pos, ar.n_pos, &r))
            rc = -1;
        else *out = jv_bool(n->op ? !r : r);
        break;
    }
    case JN_NEG:
    case JN_POS:
        if (jj_eval(c, f, n->a, &a)) rc = -1;
        else if (a.t == JV_INT || a.t == JV_BOOL) {
            if (n->kind == JN_NEG && a.u.i == INT64_MIN) rc = jj_fail(c, n, XF_ERR_UNSUPPORTED, "integer overflow");
            else *out = jv_int(n->kind == JN_NEG ? -a.u.i : a.u.i);
        } else if (a.t == JV_FLOAT) *out = jv_float(n->kind == JN_NEG ? -a.u.f : a.u.f);
        else if (a.t == JV_UNDEF) rc = undefined_error(c, n, a);
        else rc = jj_fail(c, n, XF_ERR_INVALID_ARG, "bad operand type for unary %c: '%s'", n->kind == JN_NEG ? '-' : '+',
                          jv_type_name(a));
        break;
    case JN_NOT:
        if (jj_eval(c, f, n->a, &a)) rc = -1;
        else *out = jv_bool(!jv_truthy(a));
        break;
    case JN_BINOP:
        rc = jj_eval(c, f, n->a, &a) || jj_eval(c, f, n->b, &b) || arith(c, n, n->op, a, b, out) ? -1 : 0;
        break;
    case JN_CONCAT: {
        jv sa, sb;
        if (jj_eval(c, f, n->a, &a) || jj_eval(c, f, n->b, &b) || jv_str_of(c, a, &sa) || jv_str_of(c, b, &sb)) {
            rc = -1;
            break;
        }
        rc = arith(c, n, '+', sa, sb, out);
        break;
    }
    case JN_AND:
    case JN_OR:
        if (jj_eval(c, f, n->a, &a)) rc = -1;
        else if ((n->kind == JN_AND) != jv_truthy(a)) *out = a;
        else rc = jj_eval(c, f, n->b, out);
        break;
    case JN_COMPARE: {
        if (jj_eval(c, f, n->a, &a)) {
            rc = -1;
            break;
        }
        int r = 1;
        for (size_t k = 0; k < n->n && r; k++) {
            if (jj_eval(c, f, n->items[k], &b) || compare(c, n, n->ops[k], a, b, &r)) {
                rc = -1;
                break;
            }
            a = b;
        }
        *out = jv_bool(r);
        break;
    }
    case JN_COND:
        if (jj_eval(c, f, n->a, &a)) rc = -1;
        else if (jv_truthy(a)) rc = jj_eval(c, f, n->b, out);
        else if (n->c) rc = jj_eval(c, f, n->c, out);
        else *out = jv_undef(NULL);
        break;
    default: rc = jj_fail(c, n, XF_ERR_INVALID_ARG, "not an expression"); break;
    }
    c->depth--;
    return rc || c->failed ? -1 : 0;
}

/* ------------------------------------------------------------- statements */

static int assign(jj_ctx *c, jj_frame *f, const jj_node *t, jv v) {
    if (t->kind == JN_NAME) return frame_set(c, f, t->name, t->name_n, v);
    if (t->kind == JN_NSREF) {
        jv ns;
        if (!lookup(c, f, t->val.u.s.p, t->val.u.s.n, &ns) || ns.t != JV_NS)
            return jj_fail(c, t, XF_ERR_INVALID_ARG, "cannot assign attribute on non-namespace object");
        if (t->name_n && t->name[0] == '_')
            return jj_fail(c, t, XF_ERR_INVALID_ARG, "cannot store underscore-prefixed attributes on a namespace");
        return jd_set(c, ns.u.d, jv_str(t->name, t->name_n), v);
    }
    /* tuple unpacking */
    jv items;
    if (jv_iterate(c, v, &items)) return -1;
    if (items.u.l->n != t->n)
        return jj_fail(c, t, XF_ERR_INVALID_ARG, "cannot unpack %zu values into %zu names", items.u.l->n, t->n);
    for (size_t k = 0; k < t->n; k++)
        if (assign(c, f, t->items[k], items.u.l->v[k])) return -1;
    return 0;
}

static int out_value(jj_ctx *c, const jj_node *at, jv v) {
    jv s;
    if (jv_str_of(c, v, &s)) return -1;
    jj_buf_put(c->out, s.u.s.p, s.u.s.n);
    if (c->out->over) return jj_fail(c, at, XF_ERR_RANGE, "output larger than %zu bytes", c->out->limit);
    return 0;
}

/* Filters of a set/filter block applied to text: the chain's innermost node is a placeholder. */
static int filter_chain(jj_ctx *c, jj_frame *f, const jj_node *n, jv text, jv *out) {
    if (n->kind == JN_CONST) {
        *out = text;
        return 0;
    }
    if (n->kind != JN_FILTER) return jj_fail(c, n, XF_ERR_UNSUPPORTED, "only filters may follow a filter block");
    jv in;
    if (filter_chain(c, f, n->a, text, &in)) return -1;
    return eval_filter(c, f, n, in, out);
}

/* Jinja's loop object: one per for loop, advanced in place at each iteration (as Jinja's
 * LoopContext is), so that a loop costs no memory per iteration. */
static const char *const LOOP_KEYS[] = {"index", "index0", "revindex", "revindex0", "first", "last", "length",
                                        "depth", "depth0", "previtem", "nextitem", "cycle"};
enum { LOOP_NKEYS = 12 };

static jv loop_new(jj_ctx *c) {
    jv L = jv_mkdict(c, 1);
    jj_func *fn = jj_alloc(&c->ar, sizeof *fn);
    if (c->failed || !fn) {
        jj_oom(c);
        return L;
    }
    fn->kind = JF_LOOP_CYCLE;
    fn->name = "cycle";
    jv cyc = {0};
    cyc.t = JV_FUNC;
    cyc.u.fn = fn;
    for (size_t j = 0; j < LOOP_NKEYS; j++)
        if (jd_set(c, L.u.d, jv_str(LOOP_KEYS[j], strlen(LOOP_KEYS[j])), j + 1 == LOOP_NKEYS ? cyc : jv_none()))
            break;
    return L;
}

static void loop_advance(jv L, const jv *items, size_t k, size_t len) {
    jv *v = L.u.d->v; /* in LOOP_KEYS order */
    v[0] = jv_int((int64_t)k + 1);
    v[1] = jv_int((int64_t)k);
    v[2] = jv_int((int64_t)(len - k));
    v[3] = jv_int((int64_t)(len - k - 1));
    v[4] = jv_bool(k == 0);
    v[5] = jv_bool(k + 1 == len);
    v[6] = jv_int((int64_t)len);
    v[7] = jv_int(1);
    v[8] = jv_int(0);
    v[9] = k > 0 ? items[k - 1] : jv_undef(NULL);
    v[10] = k + 1 < len ? items[k + 1] : jv_undef(NULL);
    v[11].u.fn->self = jv_int((int64_t)k);
}

static int exec_for(jj_ctx *c, jj_frame *f, const jj_node *n) {
    jv seq, items;
    if (jj_eval(c, f, n->b, &seq) || jv_iterate(c, seq, &items)) return -1;
    jj_frame *it = NULL;
    if (n->c) { /* `for x in xs if cond`: filter first, so loop.length counts what is kept */
        jv kept = jv_mklist(c, items.u.l->n, 0);
        if (c->failed || !(it = frame_new(c, f))) return -1;
        size_t m = 0;
        for (size_t k = 0; k < items.u.l->n; k++) {
            jv cond;
            it->n = 0;
            if (assign(c, it, n->a, items.u.l->v[k]) || jj_eval(c, it, n->c, &cond)) return -1;
            if (jv_truthy(cond)) kept.u.l->v[m++] = items.u.l->v[k];
        }
        kept.u.l->n = m;
        items = kept;
    }
    size_t len = items.u.l->n;
    const jv *v = items.u.l->v;
    jv L = len ? loop_new(c) : jv_none();
    if (c->failed) return -1;
    for (size_t k = 0; k < len; k++) {
        if (++c->steps > c->lim->max_steps)
            return jj_fail(c, n, XF_ERR_RANGE, "the template takes more than %llu steps",
                           (unsigned long long)c->lim->max_steps);
        /* A fresh scope per iteration; its storage is reused unless the body defines a macro,
         * which keeps the iteration's scope alive. */
        if (!it || (n->op & 2)) it = frame_new(c, f);
        if (!it) return -1;
        it->n = 0;
        loop_advance(L, v, k, len);
        if (assign(c, it, n->a, v[k]) || frame_set(c, it, "loop", 4, L)) return -1;
        if (exec_body(c, it, n->d)) return -1;
        if (c->ctl == 1) {
            c->ctl = 0;
            break;
        }
        c->ctl = 0;
    }
    if (len == 0 && n->e) return exec_body(c, f, n->e);
    return 0;
}

static int exec_stmt(jj_ctx *c, jj_frame *f, const jj_node *n) {
    jv v, s;
    if (++c->steps > c->lim->max_steps)
        return jj_fail(c, n, XF_ERR_RANGE, "the template takes more than %llu steps",
                       (unsigned long long)c->lim->max_steps);
    c->line = n->line;
    c->col = n->col;
    switch (n->kind) {
    case JN_DATA:
        jj_buf_put(c->out, n->val.u.s.p, n->val.u.s.n);
        if (c->out->over) return jj_fail(c, n, XF_ERR_RANGE, "output larger than %zu bytes", c->out->limit);
        return 0;
    case JN_OUTPUT: return jj_eval(c, f, n->a, &v) || out_value(c, n, v) ? -1 : 0;
    case JN_IF:
        if (jj_eval(c, f, n->a, &v)) return -1;
        if (jv_truthy(v)) return exec_body(c, f, n->b);
        if (!n->c) return 0;
        return n->c->kind == JN_IF ? exec_stmt(c, f, n->c) : exec_body(c, f, n->c);
    case JN_FOR: return exec_for(c, f, n);
    case JN_SET: return jj_eval(c, f, n->b, &v) || assign(c, f, n->a, v) ? -1 : 0;
    case JN_SETBLOCK:
        if (capture(c, f, n->d, &v)) return -1;
        if (n->c && filter_chain(c, f, n->c, v, &v)) return -1;
        return assign(c, f, n->a, v);
    case JN_FILTERBLOCK:
        return capture(c, f, n->d, &v) || filter_chain(c, f, n->c, v, &v) || out_value(c, n, v) ? -1 : 0;
    case JN_MACRO: {
        jj_func *fn = jj_alloc(&c->ar, sizeof *fn);
        if (!fn) return jj_oom(c);
        fn->kind = JF_MACRO;
        fn->mac = n;
        fn->closure = f;
        fn->name = cname(c, n->name, n->name_n);
        v.t = JV_FUNC;
        v.u.fn = fn;
        return frame_set(c, f, n->name, n->name_n, v);
    }
    case JN_BREAK: c->ctl = 1; return 0;
    case JN_CONTINUE: c->ctl = 2; return 0;
    case JN_BODY: return exec_body(c, f, n);
    default: (void)s; return jj_fail(c, n, XF_ERR_INVALID_ARG, "not a statement");
    }
}

static int exec_body(jj_ctx *c, jj_frame *f, const jj_node *n) {
    if (++c->depth > JJ_MAX_EVAL_DEPTH) return jj_fail(c, n, XF_ERR_RANGE, "evaluation nested too deeply");
    int rc = 0;
    for (size_t k = 0; k < n->n && !rc && !c->ctl; k++) rc = exec_stmt(c, f, n->items[k]);
    c->depth--;
    return rc || c->failed ? -1 : 0;
}

/* ------------------------------------------------------------ entry points */

xf_status xf_jinja_compile(const char *text, size_t len, xf_jinja **out) {
    *out = NULL;
    xf_jinja *t = xf_calloc(1, sizeof *t);
    if (!t) return xf_error(XF_ERR_NOMEM, "chat template: out of memory");
    t->ar.limit = 64u << 20;
    jj_tok *toks = NULL;
    size_t n = 0;
    xf_status st = jj_lex(text, len, &t->ar, &toks, &n);
    if (st == XF_OK) st = jj_parse(toks, n, &t->ar, &t->root);
    free(toks);
    if (st != XF_OK) {
        xf_jinja_free(t);
        return st;
    }
    *out = t;
    return XF_OK;
}

void xf_jinja_free(xf_jinja *t) {
    if (!t) return;
    jj_arena_free(&t->ar);
    free(t);
}

/* transformers' message normalisation: drop null-valued keys; alias reasoning fields. */
static int normalise_messages(jj_ctx *c, jv msgs) {
    if (msgs.t != JV_LIST) return jj_fail(c, NULL, XF_ERR_INVALID_ARG, "chat messages: expected a JSON array");
    static const char *const rf[] = {"reasoning_content", "thinking", "reasoning"};
    for (size_t k = 0; k < msgs.u.l->n; k++) {
        jv m = msgs.u.l->v[k];
        if (m.t != JV_DICT)
            return jj_fail(c, NULL, XF_ERR_INVALID_ARG, "chat message %zu: expected a JSON object, got %s", k, jv_type_name(m));
        jj_dict *d = m.u.d;
        size_t o = 0;
        for (size_t i = 0; i < d->n; i++)
            if (d->v[i].t != JV_NONE) d->k[o] = d->k[i], d->v[o++] = d->v[i];
        d->n = o;
        jv *r = NULL;
        for (size_t i = 0; i < 3 && !r; i++) r = jd_get_str(d, rf[i], strlen(rf[i]));
        if (!r) continue;
        jv reasoning = *r, nm = jv_mkdict(c, 0);
        if (c->failed || jd_set(c, nm.u.d, jv_str("thinking", 8), reasoning)) return -1;
        for (size_t i = 0; i < d->n; i++)
            if (jd_set(c, nm.u.d, d->k[i], d->v[i])) return -1;
        if (jd_set(c, nm.u.d, jv_str("reasoning_content", 17), reasoning)) return -1;
        msgs.u.l->v[k] = nm;
    }
    return 0;
}

static void setup(jj_ctx *c, jj_frame *g, const xf_jinja_input *in) {
    jv v;
    if (in->messages_json) {
        if (jv_from_json(c, in->messages_json, &v) || normalise_messages(c, v)) return;
        frame_set(c, g, "messages", 8, v);
    }
    if (in->messages_json) { /* transformers always passes these two, None when not given */
        frame_set(c, g, "tools", 5, jv_none());
        frame_set(c, g, "documents", 9, jv_none());
    }
    if (in->add_generation_prompt >= 0) frame_set(c, g, "add_generation_prompt", 21, jv_bool(in->add_generation_prompt));
    for (size_t k = 0; k < in->n_strvars && !c->failed; k++) {
        const char *name = in->strvars[2 * k], *val = in->strvars[2 * k + 1];
        if (name && val) frame_set(c, g, name, strlen(name), jv_str(val, strlen(val)));
    }
    if (!c->failed && in->vars_json && !jv_from_json(c, in->vars_json, &v)) {
        if (v.t != JV_DICT) {
            jj_fail(c, NULL, XF_ERR_INVALID_ARG, "the template variables are not a JSON object");
            return;
        }
        for (size_t k = 0; !c->failed && k < v.u.d->n; k++)
            if (v.u.d->k[k].t == JV_STR) frame_set(c, g, v.u.d->k[k].u.s.p, v.u.d->k[k].u.s.n, v.u.d->v[k]);
    }
}

xf_status xf_jinja_render(const xf_jinja *t, const xf_jinja_input *in, const xf_jinja_limits *lim_in,
                          char **out, size_t *out_len) {
    *out = NULL;
    if (out_len) *out_len = 0;
    xf_jinja_limits lim = {16u << 20, 256u << 20, 10000000};
    if (lim_in) {
        if (lim_in->max_output) lim.max_output = lim_in->max_output;
        if (lim_in->max_memory) lim.max_memory = lim_in->max_memory;
        if (lim_in->max_steps) lim.max_steps = lim_in->max_steps;
    }
    jj_ctx c;
    memset(&c, 0, sizeof c);
    c.ar.limit = lim.max_memory;
    c.lim = &lim;
    c.now_utc = in->now_utc;
    jj_buf b = {0};
    b.limit = lim.max_output;
    c.out = &b;
    jj_frame *g = frame_new(&c, NULL);
    if (g) setup(&c, g, in);
    if (g && !c.failed) {
        jj_frame *top = frame_new(&c, g);
        if (top) exec_body(&c, top, t->root);
    }
    if (!c.failed && b.over) jj_fail(&c, NULL, XF_ERR_RANGE, "output larger than %zu bytes", lim.max_output);
    jj_arena_free(&c.ar);
    if (c.failed) {
        jj_buf_free(&b);
        if (c.st == XF_ERR_INVALID_ARG && !strncmp(c.msg, "raise:", 6))
            return xf_error(XF_ERR_INVALID_ARG, "chat template error: %s", c.msg + 6);
        return xf_error(c.st, "chat template: %s", c.msg);
    }
    if (!b.p) jj_buf_put(&b, "", 0);
    if (!b.p) {
        b.p = xf_malloc(1);
        if (!b.p) return xf_error(XF_ERR_NOMEM, "chat template: out of memory");
        b.p[0] = '\0';
    }
    *out = b.p;
    if (out_len) *out_len = b.n;
    return XF_OK;
}
