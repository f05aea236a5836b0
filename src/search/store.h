/* store.h — where an index lives: a SQLite file (store_sqlite.c) or a PostgreSQL database with
 * pgvector (store_pg.c), behind one table of operations. Both hold the same three tables:
 *   xf_meta(key, value)            schema version, model name, dimension
 *   xf_documents(id, path, hash, format, n_chunks)
 *   xf_chunks(id, doc_id, seq, heading, anchor, line_start, line_end, text, embedding)
 * Vectors are L2-normalised float32, so a dot product is the cosine similarity. Writes happen
 * inside begin/commit; a document and its chunks are replaced together in one transaction. */
#ifndef XF_SEARCH_STORE_H
#define XF_SEARCH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"

typedef struct xf_store xf_store;

/* One chunk as written. */
typedef struct xf_store_chunk {
    int64_t seq;
    const char *heading, *anchor, *text; /* NUL-terminated UTF-8 */
    uint32_t line0, line1;
    const float *vec; /* dim floats */
} xf_store_chunk;

/* One search result; strings are heap copies owned by the caller (xf_store_hits_free). */
typedef struct xf_store_hit {
    int64_t chunk_id;
    float score;
    char *path, *heading, *anchor, *text;
    uint32_t line0, line1;
} xf_store_hit;

typedef struct xf_store_ops {
    const char *name; /* "sqlite", "postgresql" */
    xf_status (*open)(const char *db, int read_only, xf_store **out);
    void (*close)(xf_store *s);
    xf_status (*begin)(xf_store *s);
    xf_status (*commit)(xf_store *s);
    xf_status (*rollback)(xf_store *s);
    /* *value = heap copy, or NULL when the key is absent. */
    xf_status (*meta_get)(xf_store *s, const char *key, char **value);
    xf_status (*meta_set)(xf_store *s, const char *key, const char *value);
    /* Create the tables (and the vector column / index of dimension dim) when missing. */
    xf_status (*init_schema)(xf_store *s, size_t dim);
    /* *id = -1 when the path is not indexed; *hash = heap copy or NULL. */
    xf_status (*doc_find)(xf_store *s, const char *path, int64_t *id, char **hash);
    xf_status (*doc_delete)(xf_store *s, int64_t id);
    xf_status (*doc_insert)(xf_store *s, const char *path, const char *hash, const char *format,
                            size_t n_chunks, int64_t *id);
    xf_status (*chunks_insert)(xf_store *s, int64_t doc_id, const xf_store_chunk *c, size_t n, size_t dim);
    /* Every indexed path with its id: callback returns non-zero to stop. */
    xf_status (*doc_each)(xf_store *s, int (*fn)(void *user, int64_t id, const char *path), void *user);
    xf_status (*counts)(xf_store *s, size_t *n_docs, size_t *n_chunks);
    /* Top k by dot product with q (dim floats), best first; exact != 0 asks for an exact scan
     * where the store also has an approximate index (ef = its search breadth, 0 = default). */
    xf_status (*search)(xf_store *s, const float *q, size_t dim, size_t k, int exact, size_t ef,
                        xf_store_hit **hits, size_t *n);
} xf_store_ops;

struct xf_store {
    const xf_store_ops *ops;
};

extern const xf_store_ops xf_store_sqlite_ops;
extern const xf_store_ops xf_store_pg_ops;

/* The ops for a db string: postgresql:// or postgres:// URIs (and "host=... dbname=..."
 * connection strings) go to PostgreSQL, anything else is a SQLite file path. */
const xf_store_ops *xf_store_ops_for(const char *db);

void xf_store_hits_free(xf_store_hit *h, size_t n);
/* Fill one hit with copies of the strings; XF_ERR_NOMEM when a copy fails. */
xf_status xf_store_hit_set(xf_store_hit *x, int64_t chunk_id, float score, const char *path, const char *heading,
                           const char *anchor, const char *text, uint32_t line0, uint32_t line1);

/* Exact top-k over an in-memory matrix of rows (SIMD dot products): the indices of the k best
 * rows into top[] (best first; ties: lower row first) and their scores. Returns how many
 * (min(k, rows)). */
size_t xf_topk_rows(const float *M, size_t rows, size_t dim, const float *q, size_t k,
                    size_t *top, float *scores, float *scratch, size_t scratch_rows);

#endif
