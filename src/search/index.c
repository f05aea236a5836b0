/* index.c — the public search API (xf_index_* / xf_search*): documents are read, hashed (SHA-256
 * of the bytes plus the chunking settings: unchanged files are skipped), parsed into blocks,
 * chunked, embedded with the heading path prepended, L2-normalised and written to the store; a
 * query is embedded the same way and scored against the stored vectors. All the work for a
 * document is done before it touches the store, where its old chunks are replaced by the new
 * ones in the open transaction; transactions are committed every COMMIT_DOCS documents or
 * COMMIT_SECONDS seconds. Reranking plugs in after the first-stage search (rerank()). */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/sha256.h"
#include "search/chunk.h"
#include "search/store.h"

#define SCHEMA_VERSION "1"
#define COMMIT_DOCS 64
#define COMMIT_SECONDS 2.0
#define BINARY_PROBE 8192
#define DEFAULT_BATCH 32
#ifndef XF_INDEX_MAX_FILE /* largest file indexed, bytes */
#define XF_INDEX_MAX_FILE ((size_t)64 << 20)
#endif

struct xf_index {
    const xf_store_ops *ops;
    xf_store *store;
    xf_model *model;
    size_t dim;
    char *db, *model_name;
    xf_index_params p;
    xf_chunk_cfg cfg;
    char cfg_tag[64];
    int in_tx;
    size_t tx_docs;
    double tx_t0;
    xf_doc doc;
    xf_chunks chunks;
    xf_tok_buf tmp;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

xf_index_params xf_index_default_params(void) {
    xf_index_params p = {XF_CHUNKER_DOM, 0, 0, 0, 0};
    return p;
}

xf_search_params xf_search_default_params(void) {
    xf_search_params p = {10, 0, 0, NULL};
    return p;
}

/* Base name of the model's folder or file: "all-MiniLM-L6-v2". */
static char *model_name_of(xf_model *m) {
    xf_model_info info = xf_model_info_init();
    if (xf_model_get_info(m, &info) != XF_OK || !info.path) return xf_strdup("unknown");
    char *p = xf_strdup(info.path);
    if (!p) return NULL;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    char *slash = strrchr(p, '/');
    char *r = xf_strdup(slash ? slash + 1 : p);
    free(p);
    return r;
}

static void l2_normalize(float *v, size_t dim) {
    double s = 0;
    for (size_t k = 0; k < dim; k++) s += (double)v[k] * v[k];
    if (s <= 0) return;
    float inv = (float)(1.0 / sqrt(s));
    for (size_t k = 0; k < dim; k++) v[k] *= inv;
}

/* The model name and dimension recorded in the store; *absent = 1 (and XF_OK) when it has none. */
static xf_status read_meta(const xf_store_ops *ops, xf_store *s, const char *db, char **name, size_t *dim,
                           int *absent) {
    char *d = NULL;
    *name = NULL;
    *absent = 0;
    xf_status st = ops->meta_get(s, "model", name);
    if (!st) st = ops->meta_get(s, "dim", &d);
    if (!st && !*name && !d) *absent = 1;
    else if (!st && (!*name || !d))
        st = xf_error(XF_ERR_FORMAT, "%s: index metadata is incomplete (model or dim missing)", db);
    if (!st && !*absent) {
        char *end;
        unsigned long long v = strtoull(d, &end, 10);
        if (*end || v == 0 || v > 65536)
            st = xf_error(XF_ERR_FORMAT, "%s: index metadata has an invalid dimension '%s'", db, d);
        *dim = (size_t)v;
    }
    free(d);
    if (st) {
        free(*name);
        *name = NULL;
    }
    return st;
}

xf_status xf_index_model(const char *db, char **model_name, char **model_path, size_t *dim) {
    if (!db || !model_name || !dim) return xf_error(XF_ERR_INVALID_ARG, "xf_index_model: NULL argument");
    if (!db[0]) return xf_error(XF_ERR_INVALID_ARG, "the index location (db) is empty");
    *model_name = NULL;
    if (model_path) *model_path = NULL;
    const xf_store_ops *ops = xf_store_ops_for(db);
    xf_store *s;
    xf_status st = ops->open(db, 1, &s);
    if (st) return st;
    int absent = 0;
    st = read_meta(ops, s, db, model_name, dim, &absent);
    if (!st && absent) st = xf_error(XF_ERR_FORMAT, "%s is not an xfmr index (no xf_meta table)", db);
    if (!st && model_path) st = ops->meta_get(s, "model_path", model_path);
    if (st) {
        free(*model_name);
        *model_name = NULL;
    }
    ops->close(s);
    return st;
}

void xf_index_free(xf_index *ix) {
    if (!ix) return;
    if (ix->store) {
        if (ix->in_tx) ix->ops->commit(ix->store);
        ix->ops->close(ix->store);
    }
    free(ix->db);
    free(ix->model_name);
    xf_doc_free(&ix->doc);
    xf_chunks_free(&ix->chunks);
    xf_buf_free(&ix->tmp);
    free(ix);
}

xf_status xf_index_open(const char *db, xf_model *model, const xf_index_params *params, xf_index **out) {
    if (!db || !model || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_index_open: NULL argument");
    *out = NULL;
    if (!db[0]) return xf_error(XF_ERR_INVALID_ARG, "the index location (db) is empty");
    xf_index_params p = params ? *params : xf_index_default_params();
    if (p.chunker != XF_CHUNKER_DOM && p.chunker != XF_CHUNKER_FIXED)
        return xf_error(XF_ERR_INVALID_ARG, "unknown chunker %d", (int)p.chunker);
    size_t max_len = xf_model_max_length(model);
    if (p.chunk_tokens == 0 || p.chunk_tokens > max_len) {
        if (p.chunk_tokens > max_len)
            return xf_error(XF_ERR_RANGE, "chunk size %zu exceeds the model's limit of %zu tokens", p.chunk_tokens, max_len);
        p.chunk_tokens = max_len;
    }
    if (p.overlap_tokens * 2 >= p.chunk_tokens)
        return xf_error(XF_ERR_RANGE, "overlap of %zu tokens must be below half the chunk size (%zu)",
                        p.overlap_tokens, p.chunk_tokens);
    if (p.batch_size == 0) p.batch_size = DEFAULT_BATCH;
    xf_index *ix = xf_calloc(1, sizeof *ix);
    if (!ix) return xf_error(XF_ERR_NOMEM, "out of memory");
    ix->p = p;
    ix->model = model;
    ix->dim = xf_model_embedding_dim(model);
    ix->ops = xf_store_ops_for(db);
    ix->db = xf_strdup(db);
    ix->model_name = model_name_of(model);
    ix->cfg = (xf_chunk_cfg){xf_model_tokenizer(model), p.chunk_tokens, p.overlap_tokens,
                             p.chunker == XF_CHUNKER_FIXED ? XF_CHUNK_FIXED : XF_CHUNK_DOM};
    snprintf(ix->cfg_tag, sizeof ix->cfg_tag, "%s/%zu/%zu", p.chunker == XF_CHUNKER_FIXED ? "fixed" : "dom",
             p.chunk_tokens, p.chunker == XF_CHUNKER_FIXED ? p.overlap_tokens : 0);
    if (!ix->db || !ix->model_name) {
        xf_index_free(ix);
        return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    xf_status st = ix->ops->open(db, p.read_only, &ix->store);
    char *name = NULL;
    size_t dim = 0;
    int absent = 0;
    if (!st) st = read_meta(ix->ops, ix->store, db, &name, &dim, &absent);
    if (!st && absent) { /* a new index */
        if (p.read_only) {
            st = xf_error(XF_ERR_FORMAT, "%s is not an xfmr index (no xf_meta table)", db);
        } else {
            char d[32];
            snprintf(d, sizeof d, "%zu", ix->dim);
            st = ix->ops->begin(ix->store);
            if (!st) st = ix->ops->init_schema(ix->store, ix->dim);
            if (!st) st = ix->ops->meta_set(ix->store, "schema_version", SCHEMA_VERSION);
            if (!st) st = ix->ops->meta_set(ix->store, "model", ix->model_name);
            if (!st) st = ix->ops->meta_set(ix->store, "dim", d);
            xf_model_info info = xf_model_info_init();
            char *abs = xf_model_get_info(model, &info) == XF_OK && info.path ? realpath(info.path, NULL) : NULL;
            if (!st && abs) st = ix->ops->meta_set(ix->store, "model_path", abs);
            free(abs);
            if (!st) st = ix->ops->commit(ix->store);
            else ix->ops->rollback(ix->store);
        }
    } else if (!st && (dim != ix->dim || strcmp(name, ix->model_name))) {
        st = xf_error(XF_ERR_FORMAT, "%s was built with model '%s' (dimension %zu), not '%s' (dimension %zu): "
                      "search it with -m %s, or index into a new database", db, name, dim, ix->model_name,
                      ix->dim, name);
    }
    free(name);
    if (st) {
        xf_index_free(ix);
        return st;
    }
    *out = ix;
    return XF_OK;
}

xf_status xf_index_commit(xf_index *ix) {
    if (!ix) return xf_error(XF_ERR_INVALID_ARG, "xf_index_commit: NULL index");
    if (!ix->in_tx) return XF_OK;
    ix->in_tx = 0;
    ix->tx_docs = 0;
    return ix->ops->commit(ix->store);
}

static xf_status ensure_tx(xf_index *ix) {
    if (ix->in_tx) return XF_OK;
    xf_status st = ix->ops->begin(ix->store);
    if (!st) {
        ix->in_tx = 1;
        ix->tx_docs = 0;
        ix->tx_t0 = now();
    }
    return st;
}

/* Chunks of the parsed document -> embeddings (normalised) in *vecs (malloc'ed). */
static xf_status embed_chunks(xf_index *ix, float **vecs, size_t *n_tokens) {
    xf_chunks *c = &ix->chunks;
    *vecs = NULL;
    *n_tokens = 0;
    if (c->n == 0) return XF_OK;
    size_t bytes;
    if (!xf_mul_ok(c->n, ix->dim * sizeof(float), &bytes) || !(*vecs = xf_malloc(bytes)))
        return xf_error(XF_ERR_NOMEM, "out of memory for %zu vectors", c->n);
    size_t bs = ix->p.batch_size;
    const char **texts = xf_malloc(bs * sizeof *texts);
    size_t *lens = xf_malloc(bs * sizeof *lens), *offs = xf_malloc(bs * sizeof *offs);
    xf_status st = texts && lens && offs ? XF_OK : xf_error(XF_ERR_NOMEM, "out of memory");
    xf_tok_buf all = {0}, one = {0};
    for (size_t i0 = 0; i0 < c->n && !st; i0 += bs) {
        size_t nb = c->n - i0 < bs ? c->n - i0 : bs;
        all.len = 0;
        for (size_t j = 0; j < nb && !st; j++) {
            st = xf_chunk_embed_text(c, i0 + j, &one);
            offs[j] = all.len, lens[j] = one.len;
            if (!st) st = xf_buf_append(&all, one.data, one.len + 1);
        }
        if (st) break;
        for (size_t j = 0; j < nb; j++) texts[j] = all.data + offs[j];
        xf_embed_stats es;
        st = xf_embed_n(ix->model, texts, lens, nb, nb, *vecs + i0 * ix->dim, &es);
        *n_tokens += es.n_tokens;
    }
    for (size_t i = 0; i < c->n && !st; i++) l2_normalize(*vecs + i * ix->dim, ix->dim);
    xf_buf_free(&all);
    xf_buf_free(&one);
    free(texts);
    free(lens);
    free(offs);
    if (st) {
        free(*vecs);
        *vecs = NULL;
    }
    return st;
}

/* Replace document `old_id` (or add it when -1) with the chunks in ix->chunks. */
static xf_status write_doc(xf_index *ix, const char *name, const char *hash, int64_t old_id, const float *vecs) {
    xf_chunks *c = &ix->chunks;
    xf_store_chunk *rows = xf_calloc(c->n ? c->n : 1, sizeof *rows);
    if (!rows) return xf_error(XF_ERR_NOMEM, "out of memory");
    /* The strings of a chunk lie back to back in the arena, each followed by a NUL
     * (xf_doc_put reserves and writes one after every span). */
    for (size_t i = 0; i < c->n; i++) {
        const xf_chunk *k = &c->v[i];
        rows[i] = (xf_store_chunk){(int64_t)i, xf_doc_str(&c->store, k->path), xf_doc_str(&c->store, k->anchor),
                                   xf_doc_str(&c->store, k->text), k->line0, k->line1, vecs + i * ix->dim};
    }
    xf_status st = XF_OK;
    if (old_id >= 0) st = ix->ops->doc_delete(ix->store, old_id);
    int64_t id = -1;
    const char *fmt = xf_doc_format_name(xf_doc_format_of(name));
    if (!st) st = ix->ops->doc_insert(ix->store, name, hash, fmt, c->n, &id);
    if (!st) st = ix->ops->chunks_insert(ix->store, id, rows, c->n, ix->dim);
    free(rows);
    return st;
}

xf_status xf_index_add_text(xf_index *ix, const char *name, const char *data, size_t len, xf_index_result *res) {
    xf_index_result r = {XF_INDEX_UNCHANGED, 0, 0};
    if (res) *res = r;
    if (!ix || !name || (!data && len)) return xf_error(XF_ERR_INVALID_ARG, "xf_index_add_text: NULL argument");
    if (ix->p.read_only) return xf_error(XF_ERR_INVALID_ARG, "%s was opened read-only", ix->db);
    if (memchr(data, 0, len < BINARY_PROBE ? len : BINARY_PROBE)) {
        if (res) res->change = XF_INDEX_SKIPPED;
        return XF_OK;
    }
    xf_sha256 h;
    char hex[65], hash[160];
    xf_sha256_init(&h);
    xf_sha256_update(&h, data, len);
    xf_sha256_hex(&h, hex);
    snprintf(hash, sizeof hash, "%s:%s", hex, ix->cfg_tag);
    xf_status st = ensure_tx(ix);
    int64_t old_id = -1;
    char *old_hash = NULL;
    if (!st) st = ix->ops->doc_find(ix->store, name, &old_id, &old_hash);
    int same = old_hash && !strcmp(old_hash, hash);
    free(old_hash);
    if (st || same) return st;
    xf_doc_format fmt = xf_doc_format_of(name);
    st = xf_parse(fmt, data, len, &ix->doc);
    if (!st) st = xf_chunk_doc(&ix->doc, &ix->cfg, &ix->chunks);
    float *vecs = NULL;
    if (!st) st = embed_chunks(ix, &vecs, &r.n_tokens);
    if (st) return xf_error_wrap(st, "%s", name);
    st = write_doc(ix, name, hash, old_id, vecs);
    free(vecs);
    if (st) { /* the store failed mid-document: undo the whole pending transaction */
        ix->ops->rollback(ix->store);
        ix->in_tx = 0;
        return st;
    }
    r.change = old_id >= 0 ? XF_INDEX_UPDATED : XF_INDEX_ADDED;
    r.n_chunks = ix->chunks.n;
    if (res) *res = r;
    if (++ix->tx_docs >= COMMIT_DOCS || now() - ix->tx_t0 >= COMMIT_SECONDS) return xf_index_commit(ix);
    return XF_OK;
}

xf_status xf_index_add_file(xf_index *ix, const char *path, xf_index_result *res) {
    if (res) *res = (xf_index_result){XF_INDEX_UNCHANGED, 0, 0};
    if (!ix || !path) return xf_error(XF_ERR_INVALID_ARG, "xf_index_add_file: NULL argument");
    char *abs = realpath(path, NULL);
    if (!abs) return xf_error(XF_ERR_IO, "%s: cannot open: %s", path, "no such file or not accessible");
    char *data = NULL;
    size_t len = 0;
    xf_status st = xf_read_file(abs, XF_INDEX_MAX_FILE, &data, &len);
    if (!st) st = xf_index_add_text(ix, abs, data, len, res);
    free(data);
    free(abs);
    return st;
}

typedef struct missing {
    const char *prefix;
    size_t plen;
    int64_t *ids;
    size_t n, cap;
    int oom;
} missing;

static int collect_missing(void *user, int64_t id, const char *path) {
    missing *m = user;
    if (m->prefix && strncmp(path, m->prefix, m->plen)) return 0;
    if (xf_is_file(path)) return 0;
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        int64_t *v = realloc(m->ids, cap * sizeof *v);
        if (!v) {
            m->oom = 1;
            return 1;
        }
        m->ids = v;
        m->cap = cap;
    }
    m->ids[m->n++] = id;
    return 0;
}

xf_status xf_index_remove_missing(xf_index *ix, const char *prefix, size_t *n_removed) {
    if (n_removed) *n_removed = 0;
    if (!ix) return xf_error(XF_ERR_INVALID_ARG, "xf_index_remove_missing: NULL index");
    missing m = {prefix, prefix ? strlen(prefix) : 0, NULL, 0, 0, 0};
    xf_status st = ensure_tx(ix);
    if (!st) st = ix->ops->doc_each(ix->store, collect_missing, &m);
    if (!st && m.oom) st = xf_error(XF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m.n && !st; i++) st = ix->ops->doc_delete(ix->store, m.ids[i]);
    free(m.ids);
    if (st) return st;
    if (n_removed) *n_removed = m.n;
    return xf_index_commit(ix);
}

xf_status xf_index_stats(xf_index *ix, size_t *n_docs, size_t *n_chunks) {
    if (!ix || !n_docs || !n_chunks) return xf_error(XF_ERR_INVALID_ARG, "xf_index_stats: NULL argument");
    return ix->ops->counts(ix->store, n_docs, n_chunks);
}

/* Second stage: re-score the first-stage candidates with a cross-encoder. */
static xf_status rerank(xf_index *ix, xf_model *reranker, xf_store_hit *cand, size_t n) {
    (void)ix, (void)cand, (void)n, (void)reranker;
    return xf_error(XF_ERR_UNSUPPORTED, "reranking with a cross-encoder is not available yet "
                                        "(it comes with cross-encoder support in the library)");
}

xf_status xf_search_vector(xf_index *ix, const float *query, const xf_search_params *params,
                           xf_search_hit **hits, size_t *n) {
    if (!ix || !query || !hits || !n) return xf_error(XF_ERR_INVALID_ARG, "xf_search: NULL argument");
    *hits = NULL;
    *n = 0;
    xf_search_params p = params ? *params : xf_search_default_params();
    if (p.k == 0 || p.k > 10000) return xf_error(XF_ERR_RANGE, "k = %zu is outside 1..10000", p.k);
    if (p.rerank) { /* fail before any work; the candidates would be max(4k, 50) */
        xf_status st = rerank(ix, p.rerank, NULL, 0);
        if (st) return st;
    }
    if (ix->in_tx) {
        xf_status st = xf_index_commit(ix);
        if (st) return st;
    }
    float *q = xf_malloc(ix->dim * sizeof *q);
    if (!q) return xf_error(XF_ERR_NOMEM, "out of memory");
    memcpy(q, query, ix->dim * sizeof *q);
    l2_normalize(q, ix->dim);
    size_t ef = p.ef_search ? p.ef_search : (4 * p.k > 200 ? 4 * p.k : 200);
    xf_store_hit *sh = NULL;
    size_t ns = 0;
    xf_status st = ix->ops->search(ix->store, q, ix->dim, p.k, p.exact, ef, &sh, &ns);
    free(q);
    if (st) return st;
    xf_search_hit *out = xf_calloc(ns ? ns : 1, sizeof *out);
    if (!out) {
        xf_store_hits_free(sh, ns);
        return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < ns; i++) { /* the strings move to the public hit list */
        out[i] = (xf_search_hit){sh[i].score, sh[i].path, sh[i].heading, sh[i].anchor,
                                 sh[i].line0, sh[i].line1, sh[i].text, sh[i].chunk_id};
    }
    free(sh);
    *hits = out;
    *n = ns;
    return XF_OK;
}

xf_status xf_search(xf_index *ix, const char *query, const xf_search_params *params, xf_search_hit **hits,
                    size_t *n) {
    if (!ix || !query || !hits || !n) return xf_error(XF_ERR_INVALID_ARG, "xf_search: NULL argument");
    *hits = NULL;
    *n = 0;
    if (params && params->rerank) {
        xf_status st = rerank(ix, params->rerank, NULL, 0);
        if (st) return st;
    }
    float *q = xf_malloc(ix->dim * sizeof *q);
    if (!q) return xf_error(XF_ERR_NOMEM, "out of memory");
    xf_status st = xf_embed(ix->model, &query, 1, 1, q, NULL);
    if (!st) st = xf_search_vector(ix, q, params, hits, n);
    free(q);
    return st;
}

void xf_search_hits_free(xf_search_hit *hits, size_t n) {
    if (!hits) return;
    for (size_t i = 0; i < n; i++) {
        free((char *)hits[i].path);
        free((char *)hits[i].heading);
        free((char *)hits[i].anchor);
        free((char *)hits[i].text);
    }
    free(hits);
}
