/* jinja_parse.c — tokens to a syntax tree, with Jinja2's grammar and operator precedence:
 * conditional > or > and > not > comparisons (== != < <= > >= in, not in) > + - > ~ > * / // % >
 * ** > unary - + > postfix (.attr [index/slice] (call)) and filters / tests. Statements: if/elif/
 * else, for (tuple targets, `if` filter, else, recursive refused), set (names, tuples,
 * namespace attributes, block form), macro, filter blocks, break/continue, generation. Filters
 * and tests are resolved here, so an unknown one is an error before any rendering. */
#include <stdio.h>
#include <string.h>

#include "tokenizer/jinja_impl.h"

typedef struct ps {
    const jj_tok *t;
    size_t n, i;
    jj_arena *a;
    int depth;
    int loops;  /* enclosing for loops (break/continue allowed) */
    int macros; /* macro definitions seen so far */
    xf_status st;
} ps;

static const jj_tok *cur(const ps *p) { return &p->t[p->i < p->n ? p->i : p->n - 1]; }
static const jj_tok *peek(const ps *p, size_t k) {
    return &p->t[p->i + k < p->n ? p->i + k : p->n - 1];
}

static int failv(ps *p, const jj_tok *at, xf_status st, const char *fmt, va_list ap) {
    if (p->st != XF_OK) return -1;
    char msg[300];
    vsnprintf(msg, sizeof msg, fmt, ap);
    p->st = xf_error(st, "chat template: line %d, column %d: %s", at->line, at->col, msg);
    return -1;
}

XF_PRINTF(4, 5) static int fail(ps *p, const jj_tok *at, xf_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    failv(p, at, st, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *describe(const jj_tok *t, char *buf, size_t cap) {
    switch (t->type) {
    case JT_EOF: return "end of template";
    case JT_DATA: return "template text";
    case JT_VAR_BEGIN: return "'{{'";
    case JT_VAR_END: return "'}}'";
    case JT_BLOCK_BEGIN: return "'{%'";
    case JT_BLOCK_END: return "'%}'";
    case JT_NAME: snprintf(buf, cap, "name '%.*s'", (int)(t->n > 40 ? 40 : t->n), t->s); return buf;
    case JT_STRING: return "a string";
    case JT_INT: case JT_FLOAT: return "a number";
    case JT_OP:
        if (t->op < 256) snprintf(buf, cap, "'%c'", t->op);
        else snprintf(buf, cap, "'%s'", t->op == JOP_FLOORDIV ? "//" : t->op == JOP_POW ? "**"
                                        : t->op == JOP_EQ ? "==" : t->op == JOP_NE ? "!=" : t->op == JOP_GE ? ">=" : "<=");
        return buf;
    }
    return "?";
}

static int unexpected(ps *p, const char *expected) {
    char b[64];
    const jj_tok *t = cur(p);
    return fail(p, t, XF_ERR_INVALID_ARG, "unexpected %s%s%s", describe(t, b, sizeof b),
                expected ? ", expected " : "", expected ? expected : "");
}

static jj_node *node(ps *p, jj_nkind k, const jj_tok *at) {
    jj_node *n = jj_alloc(p->a, sizeof *n);
    if (!n) {
        if (p->st == XF_OK) p->st = xf_error(XF_ERR_NOMEM, "chat template: out of memory");
        return NULL;
    }
    n->kind = k;
    n->line = at->line;
    n->col = at->col;
    return n;
}

static int is_op(const ps *p, int op) { return cur(p)->type == JT_OP && cur(p)->op == op; }
static int is_name(const ps *p, const char *name) {
    const jj_tok *t = cur(p);
    return t->type == JT_NAME && t->n == strlen(name) && !memcmp(t->s, name, t->n);
}
static int tok_is_name(const jj_tok *t, const char *name) {
    return t->type == JT_NAME && t->n == strlen(name) && !memcmp(t->s, name, t->n);
}
static int expect_op(ps *p, int op) {
    if (is_op(p, op)) {
        p->i++;
        return 0;
    }
    char want[8];
    snprintf(want, sizeof want, "'%c'", op);
    return unexpected(p, want);
}

/* Growable node list in the arena. */
typedef struct nl {
    jj_node **v;
    size_t n, cap;
    const char **kw;
} nl;

static int nl_add(ps *p, nl *l, jj_node *x, const char *kw) {
    if (!x) return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        jj_node **v = jj_alloc(p->a, cap * sizeof *v);
        const char **k = jj_alloc(p->a, cap * sizeof *k);
        if (!v || !k) {
            if (p->st == XF_OK) p->st = xf_error(XF_ERR_NOMEM, "chat template: out of memory");
            return -1;
        }
        if (l->n) {
            memcpy(v, l->v, l->n * sizeof *v);
            memcpy(k, l->kw, l->n * sizeof *k);
        }
        l->v = v;
        l->kw = k;
        l->cap = cap;
    }
    l->kw[l->n] = kw;
    l->v[l->n++] = x;
    return 0;
}

static jj_node *expression(ps *p, int with_cond);
static jj_node *unary(ps *p, int with_filter);
static jj_node *primary(ps *p);

static int enter(ps *p) {
    if (++p->depth > JJ_MAX_DEPTH)
        return fail(p, cur(p), XF_ERR_RANGE, "nesting deeper than %d levels", JJ_MAX_DEPTH);
    return 0;
}

/* Expressions separated by commas; a tuple when there is a comma (or `()` in parentheses). */
static jj_node *tuple(ps *p, int with_cond, int explicit_parens) {
    const jj_tok *at = cur(p);
    nl l = {0};
    int comma = 0;
    for (;;) {
        if (l.n) {
            if (!is_op(p, ',')) break;
            p->i++;
            comma = 1;
        }
        const jj_tok *t = cur(p);
        if ((t->type == JT_VAR_END || t->type == JT_BLOCK_END || (t->type == JT_OP && t->op == ')') ||
             tok_is_name(t, "in")) && l.n)
            break;
        if (explicit_parens && l.n == 0 && is_op(p, ')')) break;
        if (nl_add(p, &l, expression(p, with_cond), NULL)) return NULL;
    }
    if (!comma && l.n == 1) return l.v[0];
    if (l.n == 0 && !explicit_parens) {
        unexpected(p, "an expression");
        return NULL;
    }
    jj_node *n = node(p, JN_TUPLE, at);
    if (n) {
        n->items = l.v;
        n->n = l.n;
    }
    return n;
}

static jj_node *binop(ps *p, jj_nkind k, int op, const jj_tok *at, jj_node *a, jj_node *b) {
    if (!a || !b) return NULL;
    jj_node *n = node(p, k, at);
    if (n) {
        n->op = op;
        n->a = a;
        n->b = b;
    }
    return n;
}

/* Call arguments "(a, b, k=v)"; positional first. */
static int call_args(ps *p, nl *l, size_t *n_pos) {
    const jj_tok *open = cur(p);
    if (expect_op(p, '(')) return -1;
    *n_pos = 0;
    int kw_seen = 0;
    while (!is_op(p, ')')) {
        if (l->n) {
            if (expect_op(p, ',')) return -1;
            if (is_op(p, ')')) break;
        }
        if (is_op(p, '*') || (cur(p)->type == JT_OP && cur(p)->op == JOP_POW))
            return fail(p, cur(p), XF_ERR_UNSUPPORTED, "*args / **kwargs in calls are not supported");
        if (cur(p)->type == JT_NAME && peek(p, 1)->type == JT_OP && peek(p, 1)->op == '=') {
            const jj_tok *k = cur(p);
            p->i += 2;
            char *name = jj_alloc(p->a, k->n + 1);
            if (!name) return -1;
            memcpy(name, k->s, k->n);
            if (nl_add(p, l, expression(p, 1), name)) return -1;
            kw_seen = 1;
        } else {
            if (kw_seen) return fail(p, cur(p), XF_ERR_INVALID_ARG, "positional argument after a keyword argument");
            if (nl_add(p, l, expression(p, 1), NULL)) return -1;
            (*n_pos)++;
        }
        if (p->st != XF_OK) return -1;
    }
    (void)open;
    p->i++;
    return 0;
}

static jj_node *call(ps *p, jj_node *fn) {
    const jj_tok *at = cur(p);
    nl l = {0};
    size_t np;
    if (!fn || call_args(p, &l, &np)) return NULL;
    jj_node *n = node(p, JN_CALL, at);
    if (n) {
        n->a = fn;
        n->items = l.v;
        n->kw = l.kw;
        n->n = l.n;
        n->n_pos = np;
    }
    return n;
}

/* Part of a subscript: expression or slice a:b:c. */
static jj_node *subscribed(ps *p) {
    const jj_tok *at = cur(p);
    jj_node *parts[3] = {NULL, NULL, NULL};
    if (!is_op(p, ':')) {
        jj_node *e = expression(p, 1);
        if (!e || !is_op(p, ':')) return e;
        parts[0] = e;
    }
    p->i++; /* ':' */
    if (!is_op(p, ':') && !is_op(p, ']') && !is_op(p, ',') && !(parts[1] = expression(p, 1))) return NULL;
    if (is_op(p, ':')) {
        p->i++;
        if (!is_op(p, ']') && !is_op(p, ',') && !(parts[2] = expression(p, 1))) return NULL;
    }
    jj_node *n = node(p, JN_SLICE, at);
    if (n) {
        n->a = parts[0];
        n->b = parts[1];
        n->c = parts[2];
    }
    return n;
}

static jj_node *postfix(ps *p, jj_node *x) {
    while (x) {
        const jj_tok *at = cur(p);
        if (is_op(p, '.')) {
            p->i++;
            const jj_tok *t = cur(p);
            if (t->type == JT_NAME) {
                p->i++;
                jj_node *n = node(p, JN_GETATTR, at);
                if (!n) return NULL;
                n->a = x;
                n->name = t->s;
                n->name_n = t->n;
                x = n;
            } else if (t->type == JT_INT) {
                p->i++;
                jj_node *k = node(p, JN_CONST, t), *n = node(p, JN_GETITEM, at);
                if (!k || !n) return NULL;
                k->val = jv_int(t->i);
                n->a = x;
                n->b = k;
                x = n;
            } else {
                unexpected(p, "a name or number after '.'");
                return NULL;
            }
        } else if (is_op(p, '[')) {
            p->i++;
            nl l = {0};
            while (!is_op(p, ']')) {
                if (l.n && expect_op(p, ',')) return NULL;
                if (nl_add(p, &l, subscribed(p), NULL)) return NULL;
            }
            p->i++;
            if (l.n == 0) {
                fail(p, at, XF_ERR_INVALID_ARG, "empty subscript '[]'");
                return NULL;
            }
            jj_node *n = node(p, JN_GETITEM, at);
            if (!n) return NULL;
            n->a = x;
            if (l.n == 1) {
                n->b = l.v[0];
            } else {
                jj_node *t = node(p, JN_TUPLE, at);
                if (!t) return NULL;
                t->items = l.v;
                t->n = l.n;
                n->b = t;
            }
            x = n;
        } else if (is_op(p, '(')) {
            x = call(p, x);
        } else {
            break;
        }
    }
    return x;
}

static char *dotted_name(ps *p, size_t *len) {
    const jj_tok *t = cur(p);
    if (t->type != JT_NAME) {
        unexpected(p, "a name");
        return NULL;
    }
    p->i++;
    *len = t->n;
    return (char *)t->s;
}

static jj_node *filter_or_test(ps *p, jj_node *x, int test) {
    const jj_tok *at = cur(p);
    p->i++; /* '|' or 'is' */
    int negated = 0;
    if (test && is_name(p, "not")) {
        p->i++;
        negated = 1;
    }
    const jj_tok *nt = cur(p);
    size_t len;
    const char *name = dotted_name(p, &len);
    if (!name) return NULL;
    if (is_op(p, '.'))
        return fail(p, cur(p), XF_ERR_UNSUPPORTED, "dotted filter/test names are not supported"), NULL;
    int id = test ? jj_test_id(name, len) : jj_filter_id(name, len);
    if (id < 0) {
        fail(p, nt, XF_ERR_UNSUPPORTED, "unknown %s '%.*s'", test ? "test" : "filter", (int)(len > 40 ? 40 : len), name);
        return NULL;
    }
    jj_node *n = node(p, test ? JN_TEST : JN_FILTER, at);
    if (!n) return NULL;
    n->a = x;
    n->name = name;
    n->name_n = len;
    n->fid = id;
    n->op = negated;
    nl l = {0};
    size_t np = 0;
    if (is_op(p, '(')) {
        if (call_args(p, &l, &np)) return NULL;
    } else if (test) {
        const jj_tok *t = cur(p);
        int starts = t->type == JT_NAME || t->type == JT_STRING || t->type == JT_INT || t->type == JT_FLOAT ||
                     (t->type == JT_OP && (t->op == '(' || t->op == '[' || t->op == '{'));
        if (starts && !tok_is_name(t, "else") && !tok_is_name(t, "or") && !tok_is_name(t, "and")) {
            if (tok_is_name(t, "is")) return fail(p, t, XF_ERR_INVALID_ARG, "tests cannot be chained with 'is'"), NULL;
            jj_node *arg = postfix(p, primary(p));
            if (nl_add(p, &l, arg, NULL)) return NULL;
            np = 1;
        }
    }
    n->items = l.v;
    n->kw = l.kw;
    n->n = l.n;
    n->n_pos = np;
    return n;
}

static jj_node *filters(ps *p, jj_node *x) {
    while (x) {
        if (is_op(p, '|')) x = filter_or_test(p, x, 0);
        else if (is_name(p, "is")) x = filter_or_test(p, x, 1);
        else if (is_op(p, '(')) x = call(p, x);
        else break;
    }
    return x;
}

static jj_node *primary(ps *p) {
    const jj_tok *t = cur(p);
    if (enter(p)) return NULL;
    jj_node *n = NULL;
    if (t->type == JT_NAME) {
        p->i++;
        if (tok_is_name(t, "true") || tok_is_name(t, "True") || tok_is_name(t, "false") || tok_is_name(t, "False")) {
            if ((n = node(p, JN_CONST, t))) n->val = jv_bool(t->s[0] == 't' || t->s[0] == 'T');
        } else if (tok_is_name(t, "none") || tok_is_name(t, "None")) {
            if ((n = node(p, JN_CONST, t))) n->val = jv_none();
        } else if ((n = node(p, JN_NAME, t))) {
            n->name = t->s;
            n->name_n = t->n;
        }
    } else if (t->type == JT_STRING) {
        /* adjacent literals concatenate */
        size_t total = 0, k = p->i;
        while (k < p->n && p->t[k].type == JT_STRING) total += p->t[k++].n;
        char *s = jj_alloc(p->a, total + 1);
        if (!s) return NULL;
        size_t o = 0;
        while (p->i < k) {
            memcpy(s + o, p->t[p->i].s, p->t[p->i].n);
            o += p->t[p->i++].n;
        }
        if ((n = node(p, JN_CONST, t))) n->val = jv_str(s, total);
    } else if (t->type == JT_INT || t->type == JT_FLOAT) {
        p->i++;
        if ((n = node(p, JN_CONST, t))) n->val = t->type == JT_INT ? jv_int(t->i) : jv_float(t->f);
    } else if (is_op(p, '(')) {
        p->i++;
        n = tuple(p, 1, 1);
        if (n && expect_op(p, ')')) n = NULL;
    } else if (is_op(p, '[') || is_op(p, '{')) {
        int dict = is_op(p, '{');
        p->i++;
        nl l = {0};
        while (!is_op(p, dict ? '}' : ']')) {
            if (l.n && expect_op(p, ',')) break;
            if (is_op(p, dict ? '}' : ']')) break;
            if (nl_add(p, &l, expression(p, 1), NULL)) break;
            if (dict && (expect_op(p, ':') || nl_add(p, &l, expression(p, 1), NULL))) break;
        }
        if (p->st == XF_OK) {
            p->i++;
            if ((n = node(p, dict ? JN_DICT : JN_LIST, t))) {
                n->items = l.v;
                n->n = l.n;
            }
        }
    } else {
        unexpected(p, NULL);
    }
    p->depth--;
    return p->st == XF_OK ? n : NULL;
}

static jj_node *unary(ps *p, int with_filter) {
    const jj_tok *at = cur(p);
    jj_node *x;
    if (enter(p)) return NULL;
    if (is_op(p, '-') || is_op(p, '+')) {
        int neg = is_op(p, '-');
        p->i++;
        jj_node *inner = unary(p, 0);
        x = inner ? node(p, neg ? JN_NEG : JN_POS, at) : NULL;
        if (x) x->a = inner;
    } else {
        x = primary(p);
    }
    x = postfix(p, x);
    if (with_filter) x = filters(p, x);
    p->depth--;
    return x;
}

static jj_node *power(ps *p) {
    jj_node *x = unary(p, 1);
    while (x && cur(p)->type == JT_OP && cur(p)->op == JOP_POW) {
        const jj_tok *at = cur(p);
        p->i++;
        x = binop(p, JN_BINOP, JOP_POW, at, x, unary(p, 1));
    }
    return x;
}

static jj_node *math2(ps *p) {
    jj_node *x = power(p);
    while (x && cur(p)->type == JT_OP &&
           (cur(p)->op == '*' || cur(p)->op == '/' || cur(p)->op == JOP_FLOORDIV || cur(p)->op == '%')) {
        const jj_tok *at = cur(p);
        p->i++;
        x = binop(p, JN_BINOP, at->op, at, x, power(p));
    }
    return x;
}

static jj_node *concat(ps *p) {
    jj_node *x = math2(p);
    while (x && is_op(p, '~')) {
        const jj_tok *at = cur(p);
        p->i++;
        x = binop(p, JN_CONCAT, '~', at, x, math2(p));
    }
    return x;
}

static jj_node *math1(ps *p) {
    jj_node *x = concat(p);
    while (x && (is_op(p, '+') || is_op(p, '-'))) {
        const jj_tok *at = cur(p);
        p->i++;
        x = binop(p, JN_BINOP, at->op, at, x, concat(p));
    }
    return x;
}

enum { CMP_IN = 512, CMP_NOTIN };

static jj_node *compare(ps *p) {
    const jj_tok *at = cur(p);
    jj_node *x = math1(p);
    if (!x) return NULL;
    nl l = {0};
    int ops[64];
    size_t nops = 0;
    for (;;) {
        const jj_tok *t = cur(p);
        int op = 0;
        if (t->type == JT_OP && (t->op == JOP_EQ || t->op == JOP_NE || t->op == '<' || t->op == '>' ||
                                 t->op == JOP_LE || t->op == JOP_GE)) {
            op = t->op;
            p->i++;
        } else if (tok_is_name(t, "in")) {
            op = CMP_IN;
            p->i++;
        } else if (tok_is_name(t, "not") && tok_is_name(peek(p, 1), "in")) {
            op = CMP_NOTIN;
            p->i += 2;
        } else {
            break;
        }
        if (nops == 64) return fail(p, t, XF_ERR_RANGE, "more than 64 chained comparisons"), NULL;
        ops[nops++] = op;
        if (nl_add(p, &l, math1(p), NULL)) return NULL;
    }
    if (!nops) return x;
    jj_node *n = node(p, JN_COMPARE, at);
    int *o = jj_alloc(p->a, nops * sizeof *o);
    if (!n || !o) return NULL;
    memcpy(o, ops, nops * sizeof *o);
    n->a = x;
    n->items = l.v;
    n->n = l.n;
    n->ops = o;
    return n;
}

static jj_node *not_(ps *p) {
    if (is_name(p, "not")) {
        const jj_tok *at = cur(p);
        p->i++;
        if (enter(p)) return NULL;
        jj_node *inner = not_(p);
        p->depth--;
        jj_node *n = inner ? node(p, JN_NOT, at) : NULL;
        if (n) n->a = inner;
        return n;
    }
    return compare(p);
}

static jj_node *and_(ps *p) {
    jj_node *x = not_(p);
    while (x && is_name(p, "and")) {
        const jj_tok *at = cur(p);
        p->i++;
        x = binop(p, JN_AND, 0, at, x, not_(p));
    }
    return x;
}

static jj_node *or_(ps *p) {
    jj_node *x = and_(p);
    while (x && is_name(p, "or")) {
        const jj_tok *at = cur(p);
        p->i++;
        x = binop(p, JN_OR, 0, at, x, and_(p));
    }
    return x;
}

static jj_node *expression(ps *p, int with_cond) {
    if (enter(p)) return NULL;
    jj_node *x = or_(p);
    while (with_cond && x && is_name(p, "if")) {
        const jj_tok *at = cur(p);
        p->i++;
        jj_node *cond = or_(p), *els = NULL;
        if (!cond) return NULL;
        if (is_name(p, "else")) {
            p->i++;
            if (!(els = expression(p, 1))) return NULL;
        }
        jj_node *n = node(p, JN_COND, at);
        if (!n) return NULL;
        n->a = cond;
        n->b = x;
        n->c = els;
        x = n;
    }
    p->depth--;
    return x;
}

/* ------------------------------------------------------------- statements */

static jj_node *body(ps *p, const char *const *ends, const char **which);

static int expect_end(ps *p) {
    if (cur(p)->type == JT_BLOCK_END) {
        p->i++;
        return 0;
    }
    return unexpected(p, "'%}'");
}

/* Assignment target: name, ns.attr (when with_ns), or names separated by commas. */
static jj_node *target(ps *p, int with_ns) {
    const jj_tok *at = cur(p);
    nl l = {0};
    int comma = 0;
    for (;;) {
        const jj_tok *t = cur(p);
        if (t->type != JT_NAME) return unexpected(p, "a variable name"), NULL;
        p->i++;
        jj_node *n;
        if (with_ns && is_op(p, '.')) {
            p->i++;
            const jj_tok *attr = cur(p);
            if (attr->type != JT_NAME) return unexpected(p, "an attribute name"), NULL;
            p->i++;
            if (!(n = node(p, JN_NSREF, t))) return NULL;
            n->val = jv_str(t->s, t->n);
            n->name = attr->s;
            n->name_n = attr->n;
        } else {
            if (!(n = node(p, JN_NAME, t))) return NULL;
            n->name = t->s;
            n->name_n = t->n;
        }
        if (nl_add(p, &l, n, NULL)) return NULL;
        if (!is_op(p, ',')) break;
        p->i++;
        comma = 1;
    }
    if (!comma) return l.v[0];
    jj_node *n = node(p, JN_TUPLE, at);
    if (n) {
        n->items = l.v;
        n->n = l.n;
    }
    return n;
}

static jj_node *stmt_if(ps *p, const jj_tok *at) {
    jj_node *n = node(p, JN_IF, at);
    if (!n || !(n->a = tuple(p, 0, 0)) || expect_end(p)) return NULL;
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    const char *which = NULL;
    if (!(n->b = body(p, ends, &which))) return NULL;
    const jj_tok *kw = cur(p);
    p->i++;
    if (!strcmp(which, "elif")) {
        n->c = stmt_if(p, kw);
        return n->c ? n : NULL;
    }
    if (!strcmp(which, "else")) {
        static const char *const end2[] = {"endif", NULL};
        if (expect_end(p) || !(n->c = body(p, end2, &which))) return NULL;
        p->i++;
    }
    return expect_end(p) ? NULL : n;
}

static jj_node *stmt_for(ps *p, const jj_tok *at) {
    jj_node *n = node(p, JN_FOR, at);
    if (!n || !(n->a = target(p, 0))) return NULL;
    if (!is_name(p, "in")) return unexpected(p, "'in'"), NULL;
    p->i++;
    if (!(n->b = tuple(p, 0, 0))) return NULL;
    if (is_name(p, "if")) {
        p->i++;
        if (!(n->c = expression(p, 1))) return NULL;
    }
    if (is_name(p, "recursive"))
        return fail(p, cur(p), XF_ERR_UNSUPPORTED, "recursive for loops are not supported"), NULL;
    if (expect_end(p)) return NULL;
    static const char *const ends[] = {"else", "endfor", NULL};
    const char *which = NULL;
    p->loops++;
    int macros = p->macros;
    n->d = body(p, ends, &which);
    if (p->macros != macros) n->op |= 2; /* the body defines a macro: keep each iteration's scope */
    p->loops--;
    if (!n->d) return NULL;
    p->i++;
    if (!strcmp(which, "else")) {
        static const char *const end2[] = {"endfor", NULL};
        if (expect_end(p) || !(n->e = body(p, end2, &which))) return NULL;
        p->i++;
    }
    return expect_end(p) ? NULL : n;
}

static jj_node *stmt_set(ps *p, const jj_tok *at) {
    jj_node *tgt = target(p, 1);
    if (!tgt) return NULL;
    if (is_op(p, '=')) {
        p->i++;
        jj_node *n = node(p, JN_SET, at);
        if (!n || !(n->a = tgt) || !(n->b = tuple(p, 1, 0)) || expect_end(p)) return NULL;
        return n;
    }
    if (tgt->kind != JN_NAME) return unexpected(p, "'='"), NULL;
    jj_node *n = node(p, JN_SETBLOCK, at);
    if (!n) return NULL;
    n->a = tgt;
    if (is_op(p, '|')) { /* {% set x | filter %} */
        jj_node *ph = node(p, JN_CONST, at);
        if (!ph) return NULL;
        ph->val = jv_str("", 0);
        jj_node *f = filters(p, ph);
        if (!f) return NULL;
        n->c = f;
    }
    if (expect_end(p)) return NULL;
    static const char *const ends[] = {"endset", NULL};
    const char *which;
    if (!(n->d = body(p, ends, &which))) return NULL;
    p->i++;
    return expect_end(p) ? NULL : n;
}

static jj_node *stmt_macro(ps *p, const jj_tok *at) {
    const jj_tok *name = cur(p);
    if (name->type != JT_NAME) return unexpected(p, "a macro name"), NULL;
    p->i++;
    jj_node *n = node(p, JN_MACRO, at);
    if (!n || expect_op(p, '(')) return NULL;
    p->macros++;
    n->name = name->s;
    n->name_n = name->n;
    nl l = {0};
    int defaults = 0;
    while (!is_op(p, ')')) {
        if (l.n && expect_op(p, ',')) return NULL;
        if (is_op(p, ')')) break;
        const jj_tok *t = cur(p);
        if (t->type != JT_NAME) return unexpected(p, "a parameter name"), NULL;
        p->i++;
        jj_node *prm = node(p, JN_NAME, t);
        if (!prm) return NULL;
        prm->name = t->s;
        prm->name_n = t->n;
        if (is_op(p, '=')) {
            p->i++;
            if (!(prm->a = expression(p, 1))) return NULL;
            defaults = 1;
        } else if (defaults) {
            return fail(p, t, XF_ERR_INVALID_ARG, "non-default parameter after a default one"), NULL;
        }
        if (nl_add(p, &l, prm, NULL)) return NULL;
    }
    p->i++;
    if (expect_end(p)) return NULL;
    n->items = l.v;
    n->n = l.n;
    static const char *const ends[] = {"endmacro", NULL};
    const char *which;
    int loops = p->loops;
    p->loops = 0;
    n->d = body(p, ends, &which);
    p->loops = loops;
    if (!n->d) return NULL;
    p->i++;
    if (cur(p)->type == JT_NAME) p->i++; /* {% endmacro name %} */
    return expect_end(p) ? NULL : n;
}

static jj_node *statement(ps *p) {
    const jj_tok *at = cur(p); /* '{%' */
    p->i++;
    const jj_tok *kw = cur(p);
    if (kw->type != JT_NAME) return unexpected(p, "a tag name"), NULL;
    p->i++;
    if (enter(p)) return NULL;
    jj_node *n = NULL;
    if (tok_is_name(kw, "if")) {
        n = stmt_if(p, kw);
    } else if (tok_is_name(kw, "for")) {
        n = stmt_for(p, kw);
    } else if (tok_is_name(kw, "set")) {
        n = stmt_set(p, kw);
    } else if (tok_is_name(kw, "macro")) {
        n = stmt_macro(p, kw);
    } else if (tok_is_name(kw, "break") || tok_is_name(kw, "continue")) {
        if (!p->loops) {
            fail(p, kw, XF_ERR_INVALID_ARG, "'%.*s' outside of a for loop", (int)kw->n, kw->s);
        } else if ((n = node(p, kw->s[0] == 'b' ? JN_BREAK : JN_CONTINUE, kw)) && expect_end(p)) {
            n = NULL;
        }
    } else if (tok_is_name(kw, "generation")) {
        static const char *const ends[] = {"endgeneration", NULL};
        const char *which;
        if (!expect_end(p) && (n = body(p, ends, &which))) {
            p->i++;
            if (expect_end(p)) n = NULL;
        }
    } else if (tok_is_name(kw, "filter")) {
        jj_node *ph = node(p, JN_CONST, kw);
        if (ph) {
            ph->val = jv_str("", 0);
            p->i--; /* the filter name parses as after a '|' */
            jj_node *f = filter_or_test(p, ph, 0);
            f = filters(p, f);
            static const char *const ends[] = {"endfilter", NULL};
            const char *which;
            if (f && !expect_end(p) && (n = node(p, JN_FILTERBLOCK, kw))) {
                n->c = f;
                if (!(n->d = body(p, ends, &which))) n = NULL;
                else {
                    p->i++;
                    if (expect_end(p)) n = NULL;
                }
            }
        }
    } else {
        static const char *const known[] = {"call", "include", "import", "from", "extends", "block",
                                            "with", "do", "autoescape", "trans", "raw", NULL};
        int is_known = 0;
        for (size_t k = 0; known[k]; k++) is_known |= tok_is_name(kw, known[k]);
        fail(p, kw, is_known ? XF_ERR_UNSUPPORTED : XF_ERR_INVALID_ARG, "%s tag '%.*s'",
             is_known ? "unsupported Jinja" : "unknown", (int)(kw->n > 40 ? 40 : kw->n), kw->s);
    }
    (void)at;
    p->depth--;
    return p->st == XF_OK ? n : NULL;
}

/* Statements until a block whose tag is one of ends (left at that tag's name, *which set) or,
 * when ends is NULL, the end of the template. */
static jj_node *body(ps *p, const char *const *ends, const char **which) {
    const jj_tok *at = cur(p);
    nl l = {0};
    for (;;) {
        const jj_tok *t = cur(p);
        if (t->type == JT_EOF) {
            if (ends) {
                fail(p, t, XF_ERR_INVALID_ARG, "missing '{%% %s %%}' (the template ended)",
                     ends[0] && !strcmp(ends[0], "elif") ? "endif" : ends[0] && !strcmp(ends[0], "else") ? "endfor" : ends[0]);
                return NULL;
            }
            break;
        }
        if (t->type == JT_DATA) {
            jj_node *n = node(p, JN_DATA, t);
            if (!n) return NULL;
            n->val = jv_str(t->s, t->n);
            p->i++;
            if (nl_add(p, &l, n, NULL)) return NULL;
        } else if (t->type == JT_VAR_BEGIN) {
            p->i++;
            jj_node *n = node(p, JN_OUTPUT, t);
            if (!n || !(n->a = tuple(p, 1, 0))) return NULL;
            if (cur(p)->type != JT_VAR_END) return unexpected(p, "'}}'"), NULL;
            p->i++;
            if (nl_add(p, &l, n, NULL)) return NULL;
        } else if (t->type == JT_BLOCK_BEGIN) {
            const jj_tok *kw = peek(p, 1);
            int end = 0;
            for (size_t k = 0; ends && ends[k]; k++)
                if (tok_is_name(kw, ends[k])) {
                    *which = ends[k];
                    end = 1;
                }
            if (end) {
                p->i++;
                break;
            }
            if (kw->type == JT_NAME && kw->n > 3 && (!memcmp(kw->s, "end", 3) || tok_is_name(kw, "elif") || tok_is_name(kw, "else")))
                return fail(p, kw, XF_ERR_INVALID_ARG, "unexpected '{%% %.*s %%}'", (int)(kw->n > 40 ? 40 : kw->n), kw->s), NULL;
            if (tok_is_name(kw, "else"))
                return fail(p, kw, XF_ERR_INVALID_ARG, "unexpected '{%% else %%}'"), NULL;
            if (nl_add(p, &l, statement(p), NULL)) return NULL;
        } else {
            return unexpected(p, NULL), NULL;
        }
    }
    jj_node *n = node(p, JN_BODY, at);
    if (n) {
        n->items = l.v;
        n->n = l.n;
    }
    return n;
}

xf_status jj_parse(const jj_tok *toks, size_t n, jj_arena *a, jj_node **root) {
    ps p = {toks, n, 0, a, 0, 0, 0, XF_OK};
    const char *which = NULL;
    *root = body(&p, NULL, &which);
    if (!*root && p.st == XF_OK) p.st = xf_error(XF_ERR_NOMEM, "chat template: out of memory");
    return p.st;
}
