/* jinja_impl.h — the pieces of the Jinja engine (jinja.h) shared by its files: arena, values,
 * tokens, syntax tree, render context. Not part of any API. */
#ifndef XF_TOKENIZER_JINJA_IMPL_H
#define XF_TOKENIZER_JINJA_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tokenizer.h" /* xf_utf8_encode */

#define JJ_MAX_DEPTH 96 /* nesting of the template's syntax and of macro calls */

/* ------------------------------------------------------------------ arena */

typedef struct jj_chunk jj_chunk;
typedef struct jj_arena {
    jj_chunk *head;
    size_t used, limit; /* bytes handed out / most allowed (0 = none) */
    int over;           /* the limit was hit (or malloc failed: oom) */
    int oom;
} jj_arena;

void *jj_alloc(jj_arena *a, size_t n); /* zeroed; NULL when over the limit / out of memory */
void jj_arena_free(jj_arena *a);

/* ----------------------------------------------------------------- values */

typedef enum jj_type {
    JV_UNDEF = 0, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT, JV_NS, JV_FUNC
} jj_type;

typedef struct jj_list jj_list;
typedef struct jj_dict jj_dict;
typedef struct jj_func jj_func;

typedef struct jv {
    uint8_t t;
    union {
        int64_t i; /* BOOL (0/1), INT */
        double f;
        struct {
            const char *p; /* STR: UTF-8 bytes (not NUL-terminated); UNDEF: the name, or NULL */
            size_t n;
        } s;
        jj_list *l;
        jj_dict *d; /* DICT and NS (a namespace is a mutable dict) */
        jj_func *fn;
    } u;
} jv;

struct jj_list {
    size_t n;
    int tuple;
    jv *v;
};
struct jj_dict {
    size_t n, cap;
    jv *k, *v;
};

typedef enum jj_fkind { JF_MACRO, JF_GLOBAL, JF_METHOD, JF_LOOP_CYCLE } jj_fkind;
struct jj_func {
    jj_fkind kind;
    int id;                    /* JF_GLOBAL / JF_METHOD: which */
    jv self;                   /* JF_METHOD: the object; JF_LOOP_CYCLE: the index0 as INT */
    const struct jj_node *mac; /* JF_MACRO */
    struct jj_frame *closure;  /* JF_MACRO */
    const char *name;          /* for messages */
};

static inline jv jv_undef(const char *name) {
    jv v = {0};
    v.t = JV_UNDEF;
    v.u.s.p = name;
    return v;
}
static inline jv jv_none(void) {
    jv v = {0};
    v.t = JV_NONE;
    return v;
}
static inline jv jv_bool(int b) {
    jv v = {0};
    v.t = JV_BOOL;
    v.u.i = b != 0;
    return v;
}
static inline jv jv_int(int64_t i) {
    jv v = {0};
    v.t = JV_INT;
    v.u.i = i;
    return v;
}
static inline jv jv_float(double f) {
    jv v = {0};
    v.t = JV_FLOAT;
    v.u.f = f;
    return v;
}
static inline jv jv_str(const char *p, size_t n) {
    jv v = {0};
    v.t = JV_STR;
    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}

/* Growable byte buffer (malloc'd), bounded by limit (0 = none). */
typedef struct jj_buf {
    char *p;
    size_t n, cap, limit;
    int over; /* limit hit or out of memory */
} jj_buf;
void jj_buf_put(jj_buf *b, const char *s, size_t n);
void jj_buf_puts(jj_buf *b, const char *s);
void jj_buf_free(jj_buf *b);

/* UTF-8 / Python string helpers. */
size_t jj_utf8_dec(const unsigned char *s, size_t n, uint32_t *cp); /* 0 when invalid */
int jj_py_isspace(uint32_t cp);
size_t jj_cp_count(const char *s, size_t n);           /* code points (invalid bytes count 1) */
size_t jj_cp_offset(const char *s, size_t n, size_t k); /* byte offset of code point k (<= n) */

/* Value helpers (jinja_value.c). jj_ctx errors are reported through jj_fail. */
struct jj_ctx;
int jv_truthy(jv v);
const char *jv_type_name(jv v);                            /* Python's: 'str', 'int', 'dict' ... */
int jv_eq(jv a, jv b);                                     /* Python == */
int jv_cmp(struct jj_ctx *c, jv a, jv b, int *out);        /* Python <: -1/0/1 or error (-1 ret) */
int jv_str_of(struct jj_ctx *c, jv v, jv *out);            /* str(v) */
int jv_repr(struct jj_ctx *c, jv v, jj_buf *b);            /* repr(v) appended */
int jv_tojson(struct jj_ctx *c, jv v, int indent, const char *item_sep, const char *key_sep,
              int sort_keys, jj_buf *b);                   /* json.dumps */
void jj_fmt_float(double f, char *out);                    /* Python repr(float); out >= 32 */
jv jv_mkstr(struct jj_ctx *c, const char *p, size_t n);    /* copy into the arena */
jv jv_mklist(struct jj_ctx *c, size_t n, int tuple);       /* n undefined items to fill */
jv jv_mkdict(struct jj_ctx *c, int ns);
int jd_set(struct jj_ctx *c, jj_dict *d, jv k, jv v);      /* insert or replace; -1 on error */
jv *jd_get(const jj_dict *d, jv k);                        /* NULL when absent */
jv *jd_get_str(const jj_dict *d, const char *s, size_t n);
int jv_from_json(struct jj_ctx *c, const char *text, jv *out); /* parse a JSON text */
int jv_iterate(struct jj_ctx *c, jv v, jv *out_list);      /* list of items / keys / chars */

/* ----------------------------------------------------------------- tokens */

typedef enum jj_ttype {
    JT_EOF = 0, JT_DATA, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END, JT_NAME, JT_STRING,
    JT_INT, JT_FLOAT, JT_OP
} jj_ttype;

enum { /* two-character operators; one-character ones are their own char */
    JOP_FLOORDIV = 256, JOP_POW, JOP_EQ, JOP_NE, JOP_GE, JOP_LE
};

typedef struct jj_tok {
    jj_ttype type;
    int op;
    const char *s; /* DATA, NAME, STRING (decoded) */
    size_t n;
    int64_t i;
    double f;
    int line, col;
} jj_tok;

/* Lex text into *toks (malloc'd array, strings in arena a). Returns XF_OK or an error status. */
xf_status jj_lex(const char *text, size_t len, jj_arena *a, jj_tok **toks, size_t *n);

/* ------------------------------------------------------------ syntax tree */

typedef enum jj_nkind {
    /* expressions */
    JN_CONST, JN_NAME, JN_LIST, JN_TUPLE, JN_DICT, JN_GETATTR, JN_GETITEM, JN_SLICE, JN_CALL,
    JN_FILTER, JN_TEST, JN_NEG, JN_POS, JN_NOT, JN_BINOP, JN_CONCAT, JN_AND, JN_OR, JN_COMPARE,
    JN_COND, JN_NSREF,
    /* statements */
    JN_BODY, JN_DATA, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_SETBLOCK, JN_MACRO, JN_BREAK,
    JN_CONTINUE, JN_FILTERBLOCK
} jj_nkind;

typedef struct jj_node jj_node;
struct jj_node {
    jj_nkind kind;
    int op; /* BINOP: the operator; TEST: negated; FOR: 2 = its body defines a macro */
    int line, col;
    jv val;           /* CONST */
    const char *name; /* NAME, GETATTR attr, FILTER/TEST name, MACRO name, NSREF attr */
    size_t name_n;
    int fid;          /* FILTER / TEST: the builtin's index */
    jj_node *a, *b, *c, *d, *e;
    jj_node **items; /* LIST/TUPLE/DICT(keys,values interleaved)/CALL args/BODY/MACRO params */
    size_t n;
    const char **kw; /* CALL/FILTER/TEST keyword names (values are items[n_pos..]) */
    size_t n_pos;    /* positional count among items */
    int *ops;        /* COMPARE operators, n of them (items are the operands after a) */
};

/* Parse tokens into a statement list. On error: status and message set. */
xf_status jj_parse(const jj_tok *toks, size_t n, jj_arena *a, jj_node **root);

/* ---------------------------------------------------------------- builtins */

int jj_filter_id(const char *name, size_t n); /* -1 when unknown */
int jj_test_id(const char *name, size_t n);
int jj_global_id(const char *name, size_t n);

/* ----------------------------------------------------------- render context */

typedef struct jj_frame jj_frame;
struct jj_frame {
    jj_frame *parent;
    size_t n, cap;
    const char **names;
    size_t *lens;
    jv *vals;
};

typedef struct jj_ctx {
    jj_arena ar;
    jj_buf *out;
    const xf_jinja_limits *lim;
    uint64_t steps;
    int depth;
    int macro_depth;
    int ctl; /* 1 = break, 2 = continue pending */
    int64_t now_utc;
    int line, col; /* position of the node being evaluated, for messages */
    xf_status st;
    char msg[400];
    int failed;
} jj_ctx;

/* Record an error at node position (once) and return -1. */
int jj_fail(jj_ctx *c, const jj_node *at, xf_status st, const char *fmt, ...) XF_PRINTF(4, 5);
int jj_oom(jj_ctx *c); /* memory limit / out of memory */

/* Evaluate an expression (jinja_eval.c). */
int jj_eval(jj_ctx *c, jj_frame *f, const jj_node *n, jv *out);
/* Call a callable value with evaluated arguments. */
int jj_call_value(jj_ctx *c, jj_frame *f, const jj_node *at, jv fn, const jv *args, size_t n_args,
                  const char *const *kw, const jv *kwv, size_t n_kw, jv *out);

/* Argument idx (0-based among positional ones) or keyword `name`, else def. */
jv jj_arg(const jv *pos, size_t n_pos, const char *const *kw, const jv *kwv, size_t n_kw, size_t idx,
          const char *name, jv def);
/* Python str.strip/lstrip/rstrip (chars NULL = whitespace): the kept span. which: 1 left, 2 right. */
void jj_strip(const char *s, size_t n, const char *chars, size_t nchars, int which, size_t *a, size_t *e);
/* Python str.upper/lower/title/capitalize/swapcase into the arena (mode 'u','l','t','c'). */
int jj_case(jj_ctx *c, jv s, int mode, jv *out);
/* Jinja's title filter (words begin after whitespace, -, (, {, [, <). */
int jj_title_filter(jj_ctx *c, jv s, jv *out);

/* Builtins (jinja_filters.c: filters and tests; jinja_methods.c: methods and globals): args[0] is the value filtered / tested. */
int jj_apply_filter(jj_ctx *c, jj_frame *f, const jj_node *at, int id, const jv *args,
                    size_t n_args, const char *const *kw, const jv *kwv, size_t n_kw, jv *out);
int jj_apply_test(jj_ctx *c, jj_frame *f, const jj_node *at, int id, const jv *args,
                  size_t n_args, int *out);
/* Attribute lookup for methods: *out is a bound method, or undefined when there is none. */
int jj_method_lookup(jj_ctx *c, const jj_node *at, jv self, const char *name, size_t n, jv *out);
int jj_call_builtin(jj_ctx *c, jj_frame *f, const jj_node *at, const jj_func *fn, const jv *args,
                    size_t n_args, const char *const *kw, const jv *kwv, size_t n_kw, jv *out);

#endif
