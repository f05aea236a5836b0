/* test_search_index.c — the search API end to end on the SQLite store with the tiny BERT of
 * tests/data (fast, always there): add / unchanged / update / remove-missing, no duplicates,
 * result scores equal to the cosine of the query with the chunk's embedding text, the store
 * refusing another model (name or dimension), a non-index file, a locked database, read-only
 * handles, reranking refused, and kill -9 in the middle of indexing (forked child): nothing
 * committed is lost, and a rerun completes without duplicates. */
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "xfmr.h"

static char g_dir[256];

static double xf_t_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", g_dir, name);
    return b;
}

static void write_file(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    fputs(s, f);
    fclose(f);
}

static int sql(const char *db, const char *stmt) {
    sqlite3 *h;
    if (sqlite3_open(db, &h) != SQLITE_OK) return -1;
    int rc = sqlite3_exec(h, stmt, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}

static long long sql_int(const char *db, const char *q) {
    sqlite3 *h;
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_open(db, &h) != SQLITE_OK) return -1;
    if (sqlite3_prepare_v2(h, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static const char *DOCS[3][2] = {
    {"a.md", "# Cooking\n\nHow to boil an egg: put it in boiling water for seven minutes.\n\n"
             "## Bread\n\nKnead the dough, let it rise, bake at 220 degrees.\n"},
    {"b.html", "<html><body><nav>menu</nav><h1>Astronomy</h1><p>The moon orbits the earth.</p>"
               "<h2>Stars</h2><p>The sun is a star.</p></body></html>"},
    {"c.txt", "Plain text about trains.\n\nTrains run on rails and stop at stations.\n"},
};

static void test_basic(xf_model *m) {
    const char *db = tmp("basic.db");
    xf_index *ix = NULL;
    CHECK(xf_index_open(db, m, NULL, &ix) == XF_OK);
    if (!ix) return;
    xf_index_result r;
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        CHECK(xf_index_add_text(ix, tmp(DOCS[i][0]), DOCS[i][1], strlen(DOCS[i][1]), &r) == XF_OK);
        CHECK(r.change == XF_INDEX_ADDED && r.n_chunks > 0);
        total += r.n_chunks;
    }
    CHECK(xf_index_commit(ix) == XF_OK);
    size_t nd = 0, nc = 0;
    CHECK(xf_index_stats(ix, &nd, &nc) == XF_OK && nd == 3 && nc == total);
    /* unchanged content: nothing embedded */
    CHECK(xf_index_add_text(ix, tmp(DOCS[0][0]), DOCS[0][1], strlen(DOCS[0][1]), &r) == XF_OK);
    CHECK(r.change == XF_INDEX_UNCHANGED && r.n_chunks == 0);
    /* changed: replaced, not duplicated */
    const char *v2 = "# Cooking\n\nOnly one paragraph now.\n";
    CHECK(xf_index_add_text(ix, tmp(DOCS[0][0]), v2, strlen(v2), &r) == XF_OK);
    CHECK(r.change == XF_INDEX_UPDATED && r.n_chunks == 1);
    /* binary */
    CHECK(xf_index_add_text(ix, tmp("bin.txt"), "ab\0cd", 5, &r) == XF_OK && r.change == XF_INDEX_SKIPPED);
    /* search: sorted, and each score is the cosine of query and the chunk's embedding text */
    xf_search_params sp = xf_search_default_params();
    sp.k = 50;
    xf_search_hit *h = NULL;
    size_t n = 0;
    CHECK(xf_search(ix, "the moon and the stars", &sp, &h, &n) == XF_OK);
    CHECK(xf_index_stats(ix, &nd, &nc) == XF_OK && n == nc && nd == 3);
    size_t dim = xf_model_embedding_dim(m);
    float *qv = malloc(dim * sizeof *qv), *cv = malloc(dim * sizeof *cv);
    const char *q = "the moon and the stars";
    xf_embed(m, &q, 1, 1, qv, NULL);
    int sorted = 1, scores_ok = 1, nav = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && h[i].score > h[i - 1].score) sorted = 0;
        char text[4096];
        snprintf(text, sizeof text, "%s%s%s", h[i].heading, h[i].heading[0] ? "\n" : "", h[i].text);
        const char *t = text;
        xf_embed(m, &t, 1, 1, cv, NULL);
        float cos = xf_cosine(qv, cv, dim);
        if (cos - h[i].score > 1e-5f || h[i].score - cos > 1e-5f) {
            scores_ok = 0;
            fprintf(stderr, "hit %zu: score %.7f, cosine %.7f\n", i, (double)h[i].score, (double)cos);
        }
        if (strstr(h[i].text, "menu")) nav = 1;
        if (strstr(h[i].text, "sun is a star")) CHECK(!strcmp(h[i].heading, "Astronomy > Stars"));
    }
    CHECK(sorted && scores_ok && !nav);
    free(qv);
    free(cv);
    xf_search_hits_free(h, n);
    /* reranking is refused until cross-encoders exist */
    sp.rerank = m;
    CHECK(xf_search(ix, "x", &sp, &h, &n) == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "not available yet"));
    sp.k = 0;
    sp.rerank = NULL;
    CHECK(xf_search(ix, "x", &sp, &h, &n) == XF_ERR_RANGE);
    xf_index_free(ix);
    /* no duplicates in the file: chunks = sum of the documents' counts */
    CHECK(sql_int(db, "SELECT count(*) FROM xf_chunks") == sql_int(db, "SELECT sum(n_chunks) FROM xf_documents"));
    /* read-only handle: searching works, writing is refused */
    xf_index_params ip = xf_index_default_params();
    ip.read_only = 1;
    CHECK(xf_index_open(db, m, &ip, &ix) == XF_OK);
    CHECK(xf_index_add_text(ix, tmp("x.txt"), "x", 1, &r) == XF_ERR_INVALID_ARG);
    xf_index_free(ix);
    char *name = NULL, *path = NULL;
    size_t d = 0;
    CHECK(xf_index_model(db, &name, &path, &d) == XF_OK && name && !strcmp(name, "bert") && d == dim);
    CHECK(path && path[0] == '/' && strstr(path, "tests/data/tiny/bert"));
    free(name);
    free(path);
}

static void test_remove_missing(xf_model *m) {
    const char *db = tmp("rm.db");
    xf_index *ix = NULL;
    CHECK(xf_index_open(db, m, NULL, &ix) == XF_OK);
    if (!ix) return;
    for (int i = 0; i < 3; i++) {
        write_file(tmp(DOCS[i][0]), DOCS[i][1]);
        CHECK(xf_index_add_file(ix, tmp(DOCS[i][0]), NULL) == XF_OK);
    }
    unlink(tmp(DOCS[1][0]));
    size_t removed = 0, nd, nc;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s/", g_dir);
    CHECK(xf_index_remove_missing(ix, "/nonexistent/", &removed) == XF_OK && removed == 0);
    CHECK(xf_index_remove_missing(ix, prefix, &removed) == XF_OK && removed == 1);
    CHECK(xf_index_stats(ix, &nd, &nc) == XF_OK && nd == 2);
    CHECK(xf_index_add_file(ix, tmp("missing.txt"), NULL) == XF_ERR_IO && strstr(xf_errmsg(), "missing.txt"));
    xf_index_free(ix);
    CHECK(sql_int(db, "SELECT count(*) FROM xf_chunks") == sql_int(db, "SELECT sum(n_chunks) FROM xf_documents"));
}

static void test_mismatch(xf_model *m) {
    const char *db = tmp("mm.db");
    xf_index *ix = NULL;
    CHECK(xf_index_open(db, m, NULL, &ix) == XF_OK);
    xf_index_free(ix);
    ix = NULL;
    CHECK(sql(db, "UPDATE xf_meta SET value='768' WHERE key='dim'") == SQLITE_OK);
    CHECK(xf_index_open(db, m, NULL, &ix) == XF_ERR_FORMAT && !ix);
    CHECK_MSG(strstr(xf_errmsg(), "768") && strstr(xf_errmsg(), "dimension 32"), "%s", xf_errmsg());
    CHECK(sql(db, "UPDATE xf_meta SET value='32' WHERE key='dim'; UPDATE xf_meta SET value='other-model' WHERE key='model'") == SQLITE_OK);
    CHECK(xf_index_open(db, m, NULL, &ix) == XF_ERR_FORMAT && strstr(xf_errmsg(), "other-model"));
    /* not a database at all */
    write_file(tmp("junk.db"), "this is not a database, just some text that is long enough to look like a header......");
    CHECK(xf_index_open(tmp("junk.db"), m, NULL, &ix) == XF_ERR_FORMAT && strstr(xf_errmsg(), "not a valid SQLite"));
    /* a SQLite file that is not an index, opened for searching */
    CHECK(sql(tmp("other.db"), "CREATE TABLE t(x)") == SQLITE_OK);
    xf_index_params ip = xf_index_default_params();
    ip.read_only = 1;
    CHECK(xf_index_open(tmp("other.db"), m, &ip, &ix) == XF_ERR_FORMAT && strstr(xf_errmsg(), "not an xfmr index"));
    CHECK_MSG(xf_index_open(tmp("absent.db"), m, &ip, &ix) == XF_ERR_NOT_FOUND, "%s", xf_errmsg());
    /* bad parameters */
    ip = xf_index_default_params();
    ip.chunk_tokens = 100000;
    CHECK(xf_index_open(tmp("p.db"), m, &ip, &ix) == XF_ERR_RANGE);
    ip.chunk_tokens = 32;
    ip.overlap_tokens = 16;
    CHECK(xf_index_open(tmp("p.db"), m, &ip, &ix) == XF_ERR_RANGE);
}

static void test_locked(xf_model *m) {
    const char *db = tmp("lock.db");
    xf_index *ix = NULL;
    CHECK(xf_index_open(db, m, NULL, &ix) == XF_OK);
    if (!ix) return;
    sqlite3 *other;
    CHECK(sqlite3_open(db, &other) == SQLITE_OK);
    CHECK(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
    xf_index_result r;
    xf_status st = xf_index_add_text(ix, tmp("c.txt"), DOCS[2][1], strlen(DOCS[2][1]), &r);
    CHECK_MSG(st == XF_ERR_IO && strstr(xf_errmsg(), "locked"), "status %d: %s", st, xf_errmsg());
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    CHECK(xf_index_add_text(ix, tmp("c.txt"), DOCS[2][1], strlen(DOCS[2][1]), &r) == XF_OK && r.change == XF_INDEX_ADDED);
    xf_index_free(ix);
}

#define KILL_DOCS 120

static void doc_text(int i, char *buf, size_t n) {
    snprintf(buf, n, "Document number %d.\n\nIt talks about topic %d and item %d.\n\nA third paragraph %d.\n", i,
             i % 17, i * 7, i);
}

static void child_index(const char *db, int fd) {
    xf_model *m = NULL;
    if (xf_model_load(xf_t_src("tests/data/tiny/bert"), NULL, &m) != XF_OK) _exit(3);
    xf_index *ix = NULL;
    if (xf_index_open(db, m, NULL, &ix) != XF_OK) _exit(4);
    for (int i = 0; i < KILL_DOCS; i++) {
        char name[64], text[256];
        snprintf(name, sizeof name, "doc%04d.txt", i);
        doc_text(i, text, sizeof text);
        if (xf_index_add_text(ix, name, text, strlen(text), NULL) != XF_OK) _exit(5);
        if (i % 5 == 4) {
            if (xf_index_commit(ix) != XF_OK) _exit(6);
            if (write(fd, "c", 1) != 1) _exit(7);
        }
    }
    _exit(0);
}

static void test_kill9(xf_model *m) {
    const char *db = tmp("kill.db");
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_index(db, p[1]);
    }
    close(p[1]);
    char c;
    int commits = 0;
    while (commits < 5 && read(p[0], &c, 1) == 1) commits++; /* wait for 5 commits, then kill */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(p[0]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    long long before = sql_int(db, "SELECT count(*) FROM xf_documents");
    CHECK_MSG(before >= 25 && before < KILL_DOCS, "%lld documents after the kill", before);
    CHECK(sql_int(db, "SELECT count(*) FROM xf_chunks") == sql_int(db, "SELECT sum(n_chunks) FROM xf_documents"));
    /* rerun: everything committed is unchanged, the rest is added, nothing twice */
    xf_index *ix = NULL;
    CHECK(xf_index_open(db, m, NULL, &ix) == XF_OK);
    if (!ix) return;
    size_t counts[4] = {0, 0, 0, 0};
    for (int i = 0; i < KILL_DOCS; i++) {
        char name[64], text[256];
        xf_index_result r;
        snprintf(name, sizeof name, "doc%04d.txt", i);
        doc_text(i, text, sizeof text);
        if (xf_index_add_text(ix, name, text, strlen(text), &r) == XF_OK) counts[r.change]++;
    }
    xf_index_free(ix);
    CHECK_MSG((long long)counts[XF_INDEX_UNCHANGED] == before, "unchanged %zu, committed before %lld",
              counts[XF_INDEX_UNCHANGED], before);
    CHECK(counts[XF_INDEX_ADDED] + counts[XF_INDEX_UNCHANGED] == KILL_DOCS && counts[XF_INDEX_UPDATED] == 0);
    CHECK(sql_int(db, "SELECT count(*) FROM xf_documents") == KILL_DOCS);
    CHECK(sql_int(db, "SELECT count(*) FROM xf_chunks") == sql_int(db, "SELECT sum(n_chunks) FROM xf_documents"));
    CHECK(sql_int(db, "SELECT count(*) FROM (SELECT doc_id, seq FROM xf_chunks GROUP BY doc_id, seq HAVING count(*) > 1)") == 0);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/xf_search_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    xf_model *m = NULL;
    CHECK(xf_model_load(xf_t_src("tests/data/tiny/bert"), NULL, &m) == XF_OK);
    if (m) {
        double t0 = xf_t_now();
        test_basic(m);
        test_remove_missing(m);
        test_mismatch(m);
        double t1 = xf_t_now();
        test_locked(m);
        double t2 = xf_t_now();
        test_kill9(m);
        fprintf(stderr, "times: basic %.2f s, locked %.2f s, kill -9 %.2f s\n", t1 - t0, t2 - t1, xf_t_now() - t2);
    }
    xf_model_free(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    printf("%d passed, %d failed\n", xf_t_passed, xf_t_failed);
    return xf_t_failed ? 1 : 0;
}
