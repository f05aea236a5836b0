/* store_sqlite.c — the embedded store: one SQLite file holding documents, chunks and their
 * vectors (float32 BLOBs). Search is an exact scan: the vectors are read once into memory (and
 * again only when the file changed: PRAGMA data_version) and scored with the SIMD dot kernel. A
 * busy database waits up to XF_SQLITE_BUSY_MS, then fails with a message saying it is locked. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "search/store.h"

#ifndef XF_SQLITE_BUSY_MS
#define XF_SQLITE_BUSY_MS 2000
#endif
#define SCAN_ROWS 4096

typedef struct sq {
    xf_store base;
    sqlite3 *db;
    char *path;
    /* vectors in memory for search */
    float *mat;
    int64_t *ids;
    size_t n, dim;
    int64_t data_version; /* -1: cache not loaded / stale */
    int64_t changes;      /* this connection's sqlite3_total_changes() when loaded */
} sq;

static xf_status fail(sq *s, int rc, const char *what) {
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    int code = rc & 0xff;
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        return xf_error(XF_ERR_IO, "%s: %s: the database is locked by another process (another "
                                   "xfmr index?); try again when it has finished", s->path, what);
    if (code == SQLITE_READONLY)
        return xf_error(XF_ERR_IO, "%s: %s: the database is read-only (%s)", s->path, what, msg);
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
        return xf_error(XF_ERR_FORMAT, "%s: %s: not a valid SQLite database (%s)", s->path, what, msg);
    return xf_error(XF_ERR_IO, "%s: %s: %s", s->path, what, msg);
}

static xf_status exec(sq *s, const char *sql, const char *what) {
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? XF_OK : fail(s, rc, what);
}

static xf_status prep(sq *s, const char *sql, sqlite3_stmt **st) {
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? XF_OK : fail(s, rc, "preparing a query");
}

static void sq_close(xf_store *base) {
    sq *s = (sq *)base;
    if (!s) return;
    if (s->db) sqlite3_close(s->db);
    free(s->path);
    free(s->mat);
    free(s->ids);
    free(s);
}

static xf_status sq_open(const char *db, int read_only, xf_store **out) {
    *out = NULL;
    sq *s = xf_calloc(1, sizeof *s);
    if (!s) return xf_error(XF_ERR_NOMEM, "out of memory");
    s->base.ops = &xf_store_sqlite_ops;
    s->data_version = -1;
    s->path = xf_strdup(db);
    if (!s->path) {
        sq_close(&s->base);
        return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    if (read_only && access(db, F_OK) != 0) {
        sq_close(&s->base);
        return xf_error(XF_ERR_NOT_FOUND, "%s: no index there (create it with `xfmr index --db %s FILES`)", db, db);
    }
    int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(db, &s->db, flags, NULL);
    xf_status st = XF_OK;
    if (rc != SQLITE_OK) {
        st = fail(s, rc, "opening");
    }
    if (!st && !read_only && sqlite3_db_readonly(s->db, "main") == 1)
        st = xf_error(XF_ERR_IO, "%s: the database is read-only (no write permission): cannot index into it", db);
    if (!st) sqlite3_busy_timeout(s->db, XF_SQLITE_BUSY_MS);
    if (!st) st = exec(s, "PRAGMA foreign_keys=ON", "setting up");
    if (!st) st = exec(s, "SELECT count(*) FROM sqlite_master", "reading");
    if (st) {
        sq_close(&s->base);
        return st;
    }
    *out = &s->base;
    return XF_OK;
}

static xf_status sq_begin(xf_store *b) { return exec((sq *)b, "BEGIN IMMEDIATE", "starting a transaction"); }
static xf_status sq_commit(xf_store *b) { return exec((sq *)b, "COMMIT", "committing"); }
static xf_status sq_rollback(xf_store *b) {
    sq *s = (sq *)b;
    if (sqlite3_get_autocommit(s->db)) return XF_OK;
    return exec(s, "ROLLBACK", "rolling back");
}

static xf_status sq_init_schema(xf_store *b, size_t dim) {
    (void)dim;
    return exec((sq *)b,
                "CREATE TABLE IF NOT EXISTS xf_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS xf_documents(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,"
                " hash TEXT NOT NULL, format TEXT NOT NULL, n_chunks INTEGER NOT NULL);"
                "CREATE TABLE IF NOT EXISTS xf_chunks(id INTEGER PRIMARY KEY,"
                " doc_id INTEGER NOT NULL REFERENCES xf_documents(id) ON DELETE CASCADE,"
                " seq INTEGER NOT NULL, heading TEXT NOT NULL, anchor TEXT NOT NULL,"
                " line_start INTEGER NOT NULL, line_end INTEGER NOT NULL, text TEXT NOT NULL,"
                " embedding BLOB NOT NULL);"
                "CREATE INDEX IF NOT EXISTS xf_chunks_doc ON xf_chunks(doc_id);",
                "creating the tables");
}

static char *col_dup(sqlite3_stmt *q, int i) {
    const unsigned char *t = sqlite3_column_text(q, i);
    return xf_strdup(t ? (const char *)t : "");
}

static xf_status sq_meta_get(xf_store *b, const char *key, char **value) {
    sq *s = (sq *)b;
    *value = NULL;
    sqlite3_stmt *q;
    /* A database without the tables (new, or not an index) has no metadata. */
    int exists = 0;
    xf_status st = prep(s, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='xf_meta'", &q);
    if (st) return st;
    exists = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    if (!exists) return XF_OK;
    if ((st = prep(s, "SELECT value FROM xf_meta WHERE key=?", &q))) return st;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *value = col_dup(q, 0);
        if (!*value) st = xf_error(XF_ERR_NOMEM, "out of memory");
    } else if (rc != SQLITE_DONE) {
        st = fail(s, rc, "reading the index metadata");
    }
    sqlite3_finalize(q);
    return st;
}

static xf_status sq_meta_set(xf_store *b, const char *key, const char *value) {
    sq *s = (sq *)b;
    sqlite3_stmt *q;
    xf_status st = prep(s, "INSERT OR REPLACE INTO xf_meta(key, value) VALUES(?, ?)", &q);
    if (st) return st;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? XF_OK : fail(s, rc, "writing the index metadata");
}

static xf_status sq_doc_find(xf_store *b, const char *path, int64_t *id, char **hash) {
    sq *s = (sq *)b;
    *id = -1;
    *hash = NULL;
    sqlite3_stmt *q;
    xf_status st = prep(s, "SELECT id, hash FROM xf_documents WHERE path=?", &q);
    if (st) return st;
    sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        if (!(*hash = col_dup(q, 1))) st = xf_error(XF_ERR_NOMEM, "out of memory");
    } else if (rc != SQLITE_DONE) {
        st = fail(s, rc, "looking up a document");
    }
    sqlite3_finalize(q);
    return st;
}

static xf_status sq_doc_delete(xf_store *b, int64_t id) {
    sq *s = (sq *)b;
    sqlite3_stmt *q;
    xf_status st = prep(s, "DELETE FROM xf_documents WHERE id=?", &q);
    if (st) return st;
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? XF_OK : fail(s, rc, "deleting a document");
}

static xf_status sq_doc_insert(xf_store *b, const char *path, const char *hash, const char *format,
                               size_t n_chunks, int64_t *id) {
    sq *s = (sq *)b;
    sqlite3_stmt *q;
    xf_status st = prep(s, "INSERT INTO xf_documents(path, hash, format, n_chunks) VALUES(?, ?, ?, ?)", &q);
    if (st) return st;
    sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, format, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)n_chunks);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return fail(s, rc, "adding a document");
    *id = sqlite3_last_insert_rowid(s->db);
    return XF_OK;
}

static xf_status sq_chunks_insert(xf_store *b, int64_t doc_id, const xf_store_chunk *c, size_t n, size_t dim) {
    sq *s = (sq *)b;
    sqlite3_stmt *q;
    xf_status st = prep(s, "INSERT INTO xf_chunks(doc_id, seq, heading, anchor, line_start, line_end, text,"
                           " embedding) VALUES(?, ?, ?, ?, ?, ?, ?, ?)", &q);
    if (st) return st;
    for (size_t i = 0; i < n && !st; i++) {
        sqlite3_bind_int64(q, 1, doc_id);
        sqlite3_bind_int64(q, 2, c[i].seq);
        sqlite3_bind_text(q, 3, c[i].heading, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, c[i].anchor, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, c[i].line0);
        sqlite3_bind_int64(q, 6, c[i].line1);
        sqlite3_bind_text(q, 7, c[i].text, -1, SQLITE_STATIC);
        sqlite3_bind_blob(q, 8, c[i].vec, (int)(dim * sizeof(float)), SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_DONE) st = fail(s, rc, "adding a chunk");
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    return st;
}

static xf_status sq_doc_each(xf_store *b, int (*fn)(void *, int64_t, const char *), void *user) {
    sq *s = (sq *)b;
    sqlite3_stmt *q;
    xf_status st = prep(s, "SELECT id, path FROM xf_documents ORDER BY path", &q);
    if (st) return st;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        if (fn(user, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1))) break;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail(s, rc, "listing documents");
    sqlite3_finalize(q);
    return st;
}

static xf_status count_of(sq *s, const char *sql, size_t *n) {
    sqlite3_stmt *q;
    xf_status st = prep(s, sql, &q);
    if (st) return st;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) *n = (size_t)sqlite3_column_int64(q, 0);
    else st = fail(s, rc, "counting");
    sqlite3_finalize(q);
    return st;
}

static xf_status sq_counts(xf_store *b, size_t *n_docs, size_t *n_chunks) {
    sq *s = (sq *)b;
    xf_status st = count_of(s, "SELECT count(*) FROM xf_documents", n_docs);
    return st ? st : count_of(s, "SELECT count(*) FROM xf_chunks", n_chunks);
}

/* Load every vector into memory (when not loaded or the file changed since). */
static xf_status load_vectors(sq *s, size_t dim) {
    size_t ver = 0;
    xf_status st = count_of(s, "PRAGMA data_version", &ver);
    if (st) return st;
    if (s->data_version == (int64_t)ver && s->dim == dim && s->changes == sqlite3_total_changes(s->db))
        return XF_OK;
    free(s->mat);
    free(s->ids);
    s->mat = NULL, s->ids = NULL, s->n = 0, s->data_version = -1;
    size_t n;
    if ((st = count_of(s, "SELECT count(*) FROM xf_chunks", &n))) return st;
    size_t bytes;
    if (!xf_mul_ok(n ? n : 1, dim * sizeof(float), &bytes) || !(s->mat = xf_malloc(bytes)) ||
        !(s->ids = xf_malloc((n ? n : 1) * sizeof *s->ids)))
        return xf_error(XF_ERR_NOMEM, "%s: out of memory for %zu vectors of %zu floats", s->path, n, dim);
    sqlite3_stmt *q;
    if ((st = prep(s, "SELECT id, embedding FROM xf_chunks ORDER BY id", &q))) return st;
    size_t i = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && i < n) {
        const void *v = sqlite3_column_blob(q, 1);
        int nb = sqlite3_column_bytes(q, 1);
        if (!v || (size_t)nb != dim * sizeof(float)) {
            st = xf_error(XF_ERR_FORMAT, "%s: chunk %lld has a vector of %d bytes, expected %zu (dimension %zu)",
                          s->path, (long long)sqlite3_column_int64(q, 0), nb, dim * sizeof(float), dim);
            break;
        }
        s->ids[i] = sqlite3_column_int64(q, 0);
        memcpy(s->mat + i * dim, v, dim * sizeof(float));
        i++;
    }
    if (!st && rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail(s, rc, "reading vectors");
    sqlite3_finalize(q);
    if (st) return st;
    s->n = i;
    s->dim = dim;
    s->data_version = (int64_t)ver;
    s->changes = sqlite3_total_changes(s->db);
    return XF_OK;
}

static xf_status sq_search(xf_store *b, const float *qv, size_t dim, size_t k, int exact, size_t ef,
                           xf_store_hit **hits, size_t *n_hits) {
    (void)exact, (void)ef; /* always exact */
    sq *s = (sq *)b;
    *hits = NULL;
    *n_hits = 0;
    xf_status st = load_vectors(s, dim);
    if (st) return st;
    if (k > s->n) k = s->n;
    if (k == 0) return XF_OK;
    size_t *top = xf_malloc(k * sizeof *top);
    float *sc = xf_malloc(k * sizeof *sc), *scratch = xf_malloc(SCAN_ROWS * sizeof *scratch);
    xf_store_hit *h = xf_calloc(k, sizeof *h);
    sqlite3_stmt *q = NULL;
    if (!top || !sc || !scratch || !h) st = xf_error(XF_ERR_NOMEM, "out of memory for %zu results", k);
    size_t got = 0;
    if (!st) {
        got = xf_topk_rows(s->mat, s->n, dim, qv, k, top, sc, scratch, SCAN_ROWS);
        st = prep(s, "SELECT d.path, c.heading, c.anchor, c.text, c.line_start, c.line_end FROM xf_chunks c"
                     " JOIN xf_documents d ON d.id = c.doc_id WHERE c.id = ?", &q);
    }
    size_t filled = 0;
    for (size_t i = 0; i < got && !st; i++) {
        sqlite3_bind_int64(q, 1, s->ids[top[i]]);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            const char *t[4];
            for (int c = 0; c < 4; c++) t[c] = sqlite3_column_text(q, c) ? (const char *)sqlite3_column_text(q, c) : "";
            st = xf_store_hit_set(&h[filled++], s->ids[top[i]], sc[i], t[0], t[1], t[2], t[3],
                                  (uint32_t)sqlite3_column_int64(q, 4), (uint32_t)sqlite3_column_int64(q, 5));
        } else if (rc != SQLITE_DONE) {
            st = fail(s, rc, "reading a chunk");
        }
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    free(top);
    free(sc);
    free(scratch);
    if (st) {
        xf_store_hits_free(h, k);
        return st;
    }
    *hits = h;
    *n_hits = filled;
    return XF_OK;
}

const xf_store_ops xf_store_sqlite_ops = {
    "sqlite", sq_open, sq_close, sq_begin, sq_commit, sq_rollback, sq_meta_get, sq_meta_set,
    sq_init_schema, sq_doc_find, sq_doc_delete, sq_doc_insert, sq_chunks_insert, sq_doc_each,
    sq_counts, sq_search};
