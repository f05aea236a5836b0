/* bench_search.c — scale of the search stores with synthetic vectors (no model): N chunks of
 * dimension D (normalised; drawn around 1000 random centres, as real embeddings cluster) are
 * written through the store API (SQLite file, or PostgreSQL+pgvector where the HNSW index is
 * built after the bulk load), then Q query vectors are searched for their top-k. Prints one JSON
 * object: insert throughput (chunks/s), index build time, the first (cold) query, and warm query
 * latency p50 / p99 in ms; with --truth FILE, the recall@k of these results against the ids'
 * row numbers written there by an exact run (same seed -> same vectors, same order).
 *
 * usage: bench_search --db STORE --n N [--dim 384] [--queries 200] [--k 10] [--exact]
 *                     [--ef N] [--truth-out FILE | --truth FILE] [--no-load]
 * --no-load queries the store of an earlier run with the same --n (no insert, no index build).
 * Otherwise the store must be new (SQLite: a file that does not exist); PostgreSQL tables are dropped.
 */
#define _POSIX_C_SOURCE 200809L
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "search/store.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* xorshift64*, uniform in (0, 1) */
    g_rng ^= g_rng >> 12, g_rng ^= g_rng << 25, g_rng ^= g_rng >> 27;
    return ((double)((g_rng * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) { return sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()); }

static void normalize(float *v, size_t d) {
    double s = 0;
    for (size_t k = 0; k < d; k++) s += (double)v[k] * v[k];
    for (size_t k = 0; k < d; k++) v[k] = (float)(v[k] / sqrt(s));
}

#define N_CENTRES 1000
static float *g_centres;
static void draw(float *v, size_t d) { /* a centre plus noise */
    size_t c = (size_t)(urand() * N_CENTRES) % N_CENTRES;
    for (size_t k = 0; k < d; k++) v[k] = g_centres[c * d + k] + 0.35f * (float)gauss() / sqrtf((float)d) * 4;
    normalize(v, d);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what) {
    fprintf(stderr, "bench_search: %s: %s\n", what, xf_errmsg());
    exit(1);
}

/* pgvector: drop / create the HNSW index around the bulk load (libpq directly). */
static double pg_sql(const char *db, const char *sql) {
    PGconn *c = PQconnectdb(db);
    double t0 = bench_now();
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench_search: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    PQfinish(c);
    return bench_now() - t0;
}

int main(int argc, char **argv) {
    const char *db = NULL, *truth_out = NULL, *truth_in = NULL;
    size_t n = 10000, dim = 384, nq = 200, k = 10, ef = 0;
    int exact = 0, load = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--db")) db = v, i++;
        else if (!strcmp(a, "--n")) n = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--dim")) dim = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--queries")) nq = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--k")) k = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--ef")) ef = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--exact")) exact = 1;
        else if (!strcmp(a, "--no-load")) load = 0;
        else if (!strcmp(a, "--truth-out")) truth_out = v, i++;
        else if (!strcmp(a, "--truth")) truth_in = v, i++;
        else {
            fprintf(stderr, "bench_search: unknown argument %s\n", a);
            return 2;
        }
    }
    if (!db || !n || !dim || !nq || !k) {
        fprintf(stderr, "usage: bench_search --db STORE --n N [--dim D] [--queries Q] [--k K] [--exact] [--ef N]\n");
        return 2;
    }
    const xf_store_ops *ops = xf_store_ops_for(db);
    int pg = ops == &xf_store_pg_ops;
    xf_store *s;
    if (ops->open(db, 0, &s)) die("open");
    if (pg && load) pg_sql(db, "DROP TABLE IF EXISTS xf_chunks, xf_documents, xf_meta"); /* a fresh index */
    if (load && ops->init_schema(s, dim)) die("creating the tables");
    if (pg && load) pg_sql(db, "DROP INDEX IF EXISTS xf_chunks_hnsw");
    g_centres = malloc(N_CENTRES * dim * sizeof(float));
    for (size_t i = 0; i < N_CENTRES * dim; i++) g_centres[i] = (float)gauss();
    for (size_t c = 0; c < N_CENTRES; c++) normalize(g_centres + c * dim, dim);
    /* insert: documents of 1000 chunks, a transaction per 10 documents */
    const size_t per_doc = 1000;
    float *vec = malloc(per_doc * dim * sizeof(float));
    xf_store_chunk *rows = calloc(per_doc, sizeof *rows);
    double t0 = bench_now();
    for (size_t d0 = 0, doc = 0; d0 < n; d0 += per_doc, doc++) {
        size_t m = n - d0 < per_doc ? n - d0 : per_doc;
        for (size_t i = 0; i < m; i++) {
            draw(vec + i * dim, dim);
            rows[i] = (xf_store_chunk){(int64_t)i, "Synthetic", "", "synthetic chunk text", 1, 1, vec + i * dim};
        }
        if (!load) continue; /* the same draws, so the queries are the same */
        char path[64];
        snprintf(path, sizeof path, "/synthetic/doc%07zu", doc);
        int64_t id;
        if (doc % 10 == 0 && ops->begin(s)) die("begin");
        if (ops->doc_insert(s, path, "synthetic", "text", m, &id) || ops->chunks_insert(s, id, rows, m, dim)) die("insert");
        if ((doc % 10 == 9 || d0 + m >= n) && ops->commit(s)) die("commit");
    }
    double t_insert = bench_now() - t0, t_index = 0;
    if (pg && load) t_index = pg_sql(db, "SET maintenance_work_mem = '2GB'; CREATE INDEX xf_chunks_hnsw ON xf_chunks USING hnsw (embedding vector_ip_ops)");
    /* queries */
    double *lat = malloc(nq * sizeof *lat), cold = 0;
    float *q = malloc(dim * sizeof *q);
    long long *got = malloc(nq * k * sizeof *got);
    for (size_t i = 0; i < nq; i++) {
        draw(q, dim);
        xf_store_hit *h;
        size_t nh;
        double t = bench_now();
        if (ops->search(s, q, dim, k, exact, ef ? ef : (4 * k > 200 ? 4 * k : 200), &h, &nh)) die("search");
        lat[i] = (bench_now() - t) * 1e3;
        for (size_t j = 0; j < k; j++) got[i * k + j] = j < nh ? h[j].chunk_id : -1;
        xf_store_hits_free(h, nh);
        if (i == 0) cold = lat[0];
    }
    double recall = -1;
    if (truth_out) {
        FILE *f = fopen(truth_out, "wb");
        fwrite(got, sizeof *got, nq * k, f);
        fclose(f);
    }
    if (truth_in) { /* ids are 1..n in insertion order in both stores (fresh databases) */
        long long *t = malloc(nq * k * sizeof *t);
        FILE *f = fopen(truth_in, "rb");
        if (!f || fread(t, sizeof *t, nq * k, f) != nq * k) die("reading --truth");
        fclose(f);
        size_t hit = 0;
        for (size_t i = 0; i < nq; i++)
            for (size_t j = 0; j < k; j++)
                for (size_t l = 0; l < k; l++) hit += got[i * k + j] == t[i * k + l] && t[i * k + l] >= 0;
        recall = (double)hit / (double)(nq * k);
        free(t);
    }
    qsort(lat + 1, nq - 1, sizeof *lat, cmp_d); /* warm queries: all but the first */
    size_t w = nq - 1;
    double p50 = w ? lat[1 + w / 2] : cold, p99 = w ? lat[1 + (size_t)(0.99 * (double)(w - 1))] : cold;
    if (!load) t_insert = 0;
    printf("{\"store\": \"%s\", \"n\": %zu, \"dim\": %zu, \"k\": %zu, \"exact\": %d, \"insert_chunks_per_s\": %.0f, "
           "\"index_build_s\": %.1f, \"cold_query_ms\": %.2f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"recall\": %.4f}\n",
           ops->name, n, dim, k, exact || !pg, t_insert > 0 ? (double)n / t_insert : 0.0, t_index, cold, p50, p99, recall);
    ops->close(s);
    free(vec), free(rows), free(lat), free(q), free(got), free(g_centres);
    return 0;
}
