/* store_pg.c — the scale-out store: PostgreSQL with the pgvector extension, through libpq. Same
 * tables as the SQLite store; vectors in a vector(dim) column with an HNSW index (inner product:
 * the vectors are normalised, so it ranks by cosine). Search uses the index (approximate,
 * hnsw.ef_search = ef) or, when asked, an exact sequential scan (index scans disabled for the
 * query). Vectors travel as pgvector's text form with 9 significant digits (exact for float32). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "search/store.h"
#include "tokenizer/tok_buf.h"

#define HNSW_MAX_DIM 2000 /* pgvector's limit for indexed vector columns */

typedef struct pg {
    xf_store base;
    PGconn *c;
    char *where; /* the connection string with any password masked, for messages */
    char *vbuf;  /* vector text */
    size_t vcap;
} pg;

/* "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db". */
static char *mask_password(const char *db) {
    char *s = xf_strdup(db);
    if (!s) return NULL;
    char *scheme = strstr(s, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;
    char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at && colon && colon < at) {
        size_t n = strlen(s) + 4;
        char *m = malloc(n);
        if (m) snprintf(m, n, "%.*s:***%s", (int)(colon - s), s, at);
        free(s);
        return m;
    }
    char *pw = strstr(s, "password=");
    if (pw) {
        const char *end = pw + 9;
        while (*end && *end != ' ' && *end != '&') end++;
        size_t n = strlen(s) + 4;
        char *m = malloc(n);
        if (m) snprintf(m, n, "%.*s***%s", (int)(pw + 9 - s), s, end);
        free(s);
        return m;
    }
    return s;
}

static xf_status fail(pg *s, const char *what, const PGresult *r) {
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(s->c);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
    return xf_error(XF_ERR_IO, "%s: %s: %.*s", s->where, what, (int)n, msg);
}

/* Run a statement with text parameters; *out gets the result when wanted (PQclear it). */
static xf_status run(pg *s, const char *sql, int n, const char *const *vals, const char *what, PGresult **out) {
    PGresult *r = PQexecParams(s->c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        xf_status st = fail(s, what, r);
        PQclear(r);
        return st;
    }
    if (out) *out = r;
    else PQclear(r);
    return XF_OK;
}

static void pg_close(xf_store *b) {
    pg *s = (pg *)b;
    if (!s) return;
    if (s->c) PQfinish(s->c);
    free(s->where);
    free(s->vbuf);
    free(s);
}

static xf_status pg_open(const char *db, int read_only, xf_store **out) {
    *out = NULL;
    pg *s = xf_calloc(1, sizeof *s);
    if (!s || !(s->where = mask_password(db))) {
        free(s);
        return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    s->base.ops = &xf_store_pg_ops;
    s->c = PQconnectdb(db);
    xf_status st = XF_OK;
    if (PQstatus(s->c) != CONNECTION_OK) {
        st = fail(s, "cannot connect", NULL);
    } else {
        PQsetClientEncoding(s->c, "UTF8");
        /* quiet NOTICEs ("relation already exists, skipping") */
        st = run(s, "SET client_min_messages = warning", 0, NULL, "setting up", NULL);
        if (!st && !read_only) {
            st = run(s, "CREATE EXTENSION IF NOT EXISTS vector", 0, NULL,
                     "the pgvector extension is not available (install pgvector on the server)", NULL);
        }
    }
    if (st) {
        pg_close(&s->base);
        return st;
    }
    *out = &s->base;
    return XF_OK;
}

static xf_status pg_begin(xf_store *b) { return run((pg *)b, "BEGIN", 0, NULL, "starting a transaction", NULL); }
static xf_status pg_commit(xf_store *b) { return run((pg *)b, "COMMIT", 0, NULL, "committing", NULL); }
static xf_status pg_rollback(xf_store *b) {
    pg *s = (pg *)b;
    if (PQtransactionStatus(s->c) == PQTRANS_IDLE) return XF_OK;
    return run(s, "ROLLBACK", 0, NULL, "rolling back", NULL);
}

static xf_status pg_init_schema(xf_store *b, size_t dim) {
    pg *s = (pg *)b;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS xf_meta(key text PRIMARY KEY, value text NOT NULL);"
             "CREATE TABLE IF NOT EXISTS xf_documents(id bigserial PRIMARY KEY, path text NOT NULL UNIQUE,"
             " hash text NOT NULL, format text NOT NULL, n_chunks bigint NOT NULL);"
             "CREATE TABLE IF NOT EXISTS xf_chunks(id bigserial PRIMARY KEY,"
             " doc_id bigint NOT NULL REFERENCES xf_documents(id) ON DELETE CASCADE,"
             " seq bigint NOT NULL, heading text NOT NULL, anchor text NOT NULL, line_start bigint NOT NULL,"
             " line_end bigint NOT NULL, text text NOT NULL, embedding vector(%zu) NOT NULL);"
             "CREATE INDEX IF NOT EXISTS xf_chunks_doc ON xf_chunks(doc_id);",
             dim);
    PGresult *r = PQexec(s->c, sql); /* several statements: simple protocol */
    xf_status st = PQresultStatus(r) == PGRES_COMMAND_OK ? XF_OK : fail(s, "creating the tables", r);
    PQclear(r);
    if (!st && dim <= HNSW_MAX_DIM)
        st = run(s, "CREATE INDEX IF NOT EXISTS xf_chunks_hnsw ON xf_chunks USING hnsw (embedding vector_ip_ops)",
                 0, NULL, "creating the HNSW index", NULL);
    return st;
}

static char *val_dup(const PGresult *r, int row, int col) { return xf_strdup(PQgetvalue(r, row, col)); }

static xf_status pg_meta_get(xf_store *b, const char *key, char **value) {
    pg *s = (pg *)b;
    *value = NULL;
    PGresult *r;
    xf_status st = run(s, "SELECT to_regclass('xf_meta') IS NOT NULL", 0, NULL, "reading the index metadata", &r);
    if (st) return st;
    int exists = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!exists) return XF_OK;
    if ((st = run(s, "SELECT value FROM xf_meta WHERE key = $1", 1, &key, "reading the index metadata", &r))) return st;
    if (PQntuples(r) == 1 && !(*value = val_dup(r, 0, 0))) st = xf_error(XF_ERR_NOMEM, "out of memory");
    PQclear(r);
    return st;
}

static xf_status pg_meta_set(xf_store *b, const char *key, const char *value) {
    const char *v[2] = {key, value};
    return run((pg *)b, "INSERT INTO xf_meta(key, value) VALUES($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
               2, v, "writing the index metadata", NULL);
}

static xf_status pg_doc_find(xf_store *b, const char *path, int64_t *id, char **hash) {
    pg *s = (pg *)b;
    *id = -1;
    *hash = NULL;
    PGresult *r;
    xf_status st = run(s, "SELECT id, hash FROM xf_documents WHERE path = $1", 1, &path, "looking up a document", &r);
    if (st) return st;
    if (PQntuples(r) == 1) {
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        if (!(*hash = val_dup(r, 0, 1))) st = xf_error(XF_ERR_NOMEM, "out of memory");
    }
    PQclear(r);
    return st;
}

static xf_status pg_doc_delete(xf_store *b, int64_t id) {
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)id);
    const char *p = v;
    return run((pg *)b, "DELETE FROM xf_documents WHERE id = $1", 1, &p, "deleting a document", NULL);
}

static xf_status pg_doc_insert(xf_store *b, const char *path, const char *hash, const char *format,
                               size_t n_chunks, int64_t *id) {
    pg *s = (pg *)b;
    char n[32];
    snprintf(n, sizeof n, "%zu", n_chunks);
    const char *v[4] = {path, hash, format, n};
    PGresult *r;
    xf_status st = run(s, "INSERT INTO xf_documents(path, hash, format, n_chunks) VALUES($1, $2, $3, $4) RETURNING id",
                       4, v, "adding a document", &r);
    if (st) return st;
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return XF_OK;
}

/* pgvector's text form "[a,b,...]" of v into s->vbuf. */
static xf_status vec_text(pg *s, const float *v, size_t dim) {
    size_t need = dim * 18 + 3;
    if (need > s->vcap) {
        char *p = realloc(s->vbuf, need);
        if (!p) return xf_error(XF_ERR_NOMEM, "out of memory");
        s->vbuf = p;
        s->vcap = need;
    }
    size_t n = 0;
    s->vbuf[n++] = '[';
    for (size_t k = 0; k < dim; k++) n += (size_t)snprintf(s->vbuf + n, s->vcap - n, k ? ",%.9g" : "%.9g", (double)v[k]);
    s->vbuf[n++] = ']';
    s->vbuf[n] = '\0';
    return XF_OK;
}

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static xf_status copy_field(xf_tok_buf *b, const char *s, int last) {
    xf_status st = XF_OK;
    for (const char *p = s; *p && !st; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : NULL;
        st = esc ? xf_buf_append(b, esc, 2) : xf_buf_append(b, p, 1);
    }
    return st ? st : xf_buf_append(b, last ? "\n" : "\t", 1);
}

/* All rows of a document in one COPY (one round trip instead of one per chunk). */
static xf_status pg_chunks_insert(xf_store *b, int64_t doc_id, const xf_store_chunk *c, size_t n, size_t dim) {
    pg *s = (pg *)b;
    if (n == 0) return XF_OK;
    PGresult *r = PQexec(s->c, "COPY xf_chunks(doc_id, seq, heading, anchor, line_start, line_end, text, embedding)"
                               " FROM STDIN");
    xf_status st = PQresultStatus(r) == PGRES_COPY_IN ? XF_OK : fail(s, "adding chunks", r);
    PQclear(r);
    if (st) return st;
    xf_tok_buf line = {0};
    for (size_t i = 0; i < n && !st; i++) {
        char num[96];
        line.len = 0;
        snprintf(num, sizeof num, "%lld\t%lld\t", (long long)doc_id, (long long)c[i].seq);
        st = xf_buf_append(&line, num, strlen(num));
        if (!st) st = copy_field(&line, c[i].heading, 0);
        if (!st) st = copy_field(&line, c[i].anchor, 0);
        snprintf(num, sizeof num, "%u\t%u\t", c[i].line0, c[i].line1);
        if (!st) st = xf_buf_append(&line, num, strlen(num));
        if (!st) st = copy_field(&line, c[i].text, 0);
        if (!st) st = vec_text(s, c[i].vec, dim);
        if (!st) st = copy_field(&line, s->vbuf, 1);
        if (!st && PQputCopyData(s->c, line.data, (int)line.len) != 1) st = fail(s, "adding chunks", NULL);
    }
    xf_buf_free(&line);
    if (PQputCopyEnd(s->c, st ? "client error" : NULL) != 1 && !st) st = fail(s, "adding chunks", NULL);
    while ((r = PQgetResult(s->c))) { /* the COPY's outcome */
        if (!st && PQresultStatus(r) != PGRES_COMMAND_OK) st = fail(s, "adding chunks", r);
        PQclear(r);
    }
    return st;
}

static xf_status pg_doc_each(xf_store *b, int (*fn)(void *, int64_t, const char *), void *user) {
    pg *s = (pg *)b;
    PGresult *r;
    xf_status st = run(s, "SELECT id, path FROM xf_documents ORDER BY path", 0, NULL, "listing documents", &r);
    if (st) return st;
    for (int i = 0; i < PQntuples(r); i++)
        if (fn(user, strtoll(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1))) break;
    PQclear(r);
    return XF_OK;
}

static xf_status pg_counts(xf_store *b, size_t *n_docs, size_t *n_chunks) {
    PGresult *r;
    xf_status st = run((pg *)b, "SELECT (SELECT count(*) FROM xf_documents), (SELECT count(*) FROM xf_chunks)", 0,
                       NULL, "counting", &r);
    if (st) return st;
    *n_docs = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    *n_chunks = (size_t)strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return XF_OK;
}

static xf_status pg_search(xf_store *b, const float *q, size_t dim, size_t k, int exact, size_t ef,
                           xf_store_hit **hits, size_t *n_hits) {
    pg *s = (pg *)b;
    *hits = NULL;
    *n_hits = 0;
    char kk[32], setting[96];
    snprintf(kk, sizeof kk, "%zu", k);
    if (exact) snprintf(setting, sizeof setting, "SET LOCAL enable_indexscan = off");
    else snprintf(setting, sizeof setting, "SET LOCAL hnsw.ef_search = %zu", ef > 1000 ? 1000 : ef);
    xf_status st = vec_text(s, q, dim);
    if (!st) st = pg_begin(b);
    if (st) return st;
    PGresult *r = NULL;
    st = run(s, setting, 0, NULL, "setting up the search", NULL);
    const char *v[2] = {s->vbuf, kk};
    /* Exact: ties by id, as the SQLite scan. HNSW: the index gives the order (one sort key). */
    if (!st)
        st = run(s, exact ? "SELECT c.id, -(c.dist), d.path, c.heading, c.anchor, c.text, c.line_start, c.line_end FROM"
                            " (SELECT id, doc_id, heading, anchor, text, line_start, line_end, embedding <#> $1::vector"
                            " AS dist FROM xf_chunks ORDER BY embedding <#> $1::vector, id LIMIT $2::bigint) c"
                            " JOIN xf_documents d ON d.id = c.doc_id ORDER BY c.dist, c.id"
                          : "SELECT c.id, -(c.dist), d.path, c.heading, c.anchor, c.text, c.line_start, c.line_end FROM"
                            " (SELECT id, doc_id, heading, anchor, text, line_start, line_end, embedding <#> $1::vector"
                            " AS dist FROM xf_chunks ORDER BY embedding <#> $1::vector LIMIT $2::bigint) c"
                            " JOIN xf_documents d ON d.id = c.doc_id ORDER BY c.dist, c.id",
                 2, v, "searching", &r);
    xf_status st2 = st ? pg_rollback(b) : pg_commit(b);
    if (!st) st = st2;
    if (st) {
        PQclear(r);
        return st;
    }
    int n = PQntuples(r);
    xf_store_hit *h = xf_calloc(n ? (size_t)n : 1, sizeof *h);
    if (!h) st = xf_error(XF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && !st; i++) {
        st = xf_store_hit_set(&h[i], strtoll(PQgetvalue(r, i, 0), NULL, 10), strtof(PQgetvalue(r, i, 1), NULL),
                              PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
                              (uint32_t)strtoul(PQgetvalue(r, i, 6), NULL, 10),
                              (uint32_t)strtoul(PQgetvalue(r, i, 7), NULL, 10));
    }
    PQclear(r);
    if (st) {
        xf_store_hits_free(h, n > 0 ? (size_t)n : 0);
        return st;
    }
    *hits = h;
    *n_hits = (size_t)n;
    return XF_OK;
}

const xf_store_ops xf_store_pg_ops = {
    "postgresql", pg_open, pg_close, pg_begin, pg_commit, pg_rollback, pg_meta_get, pg_meta_set,
    pg_init_schema, pg_doc_find, pg_doc_delete, pg_doc_insert, pg_chunks_insert, pg_doc_each,
    pg_counts, pg_search};
