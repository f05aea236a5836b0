/* topk.c — exact top-k over an in-memory matrix: scores from the SIMD dot kernel in blocks of
 * rows, the k best kept in a min-heap (worst at the root), then sorted best first. Deterministic:
 * equal scores rank the lower row first. Also the store selector and hit-list release. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "kernels/dot.h"
#include "search/store.h"

/* a is worse than b */
static int worse(float sa, size_t ra, float sb, size_t rb) { return sa < sb || (sa == sb && ra > rb); }

static void sift_down(size_t *top, float *sc, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(sc[l], top[l], sc[m], top[m])) m = l;
        if (r < n && worse(sc[r], top[r], sc[m], top[m])) m = r;
        if (m == i) return;
        float ts = sc[i];
        size_t tr = top[i];
        sc[i] = sc[m], top[i] = top[m];
        sc[m] = ts, top[m] = tr;
        i = m;
    }
}

static void sift_up(size_t *top, float *sc, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!worse(sc[i], top[i], sc[p], top[p])) return;
        float ts = sc[i];
        size_t tr = top[i];
        sc[i] = sc[p], top[i] = top[p];
        sc[p] = ts, top[p] = tr;
        i = p;
    }
}

size_t xf_topk_rows(const float *M, size_t rows, size_t dim, const float *q, size_t k,
                    size_t *top, float *scores, float *scratch, size_t scratch_rows) {
    size_t n = 0;
    if (k == 0 || scratch_rows == 0) return 0;
    for (size_t r0 = 0; r0 < rows; r0 += scratch_rows) {
        size_t nr = rows - r0 < scratch_rows ? rows - r0 : scratch_rows;
        xf_dot_rows(M + r0 * dim, nr, dim, q, scratch);
        for (size_t i = 0; i < nr; i++) {
            float s = scratch[i];
            if (s != s) continue; /* NaN never ranks */
            if (n < k) {
                top[n] = r0 + i, scores[n] = s;
                sift_up(top, scores, n++);
            } else if (worse(scores[0], top[0], s, r0 + i)) {
                top[0] = r0 + i, scores[0] = s;
                sift_down(top, scores, n, 0);
            }
        }
    }
    /* heap sort: repeatedly move the worst to the end -> best first */
    for (size_t m = n; m > 1; m--) {
        float ts = scores[0];
        size_t tr = top[0];
        scores[0] = scores[m - 1], top[0] = top[m - 1];
        scores[m - 1] = ts, top[m - 1] = tr;
        sift_down(top, scores, m - 1, 0);
    }
    return n;
}

const xf_store_ops *xf_store_ops_for(const char *db) {
    if (!strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11) || strstr(db, "dbname="))
        return &xf_store_pg_ops;
    return &xf_store_sqlite_ops;
}

void xf_store_hits_free(xf_store_hit *h, size_t n) {
    if (!h) return;
    for (size_t i = 0; i < n; i++) {
        free(h[i].path);
        free(h[i].heading);
        free(h[i].anchor);
        free(h[i].text);
    }
    free(h);
}

xf_status xf_store_hit_set(xf_store_hit *x, int64_t chunk_id, float score, const char *path, const char *heading,
                           const char *anchor, const char *text, uint32_t line0, uint32_t line1) {
    x->chunk_id = chunk_id;
    x->score = score;
    x->path = xf_strdup(path), x->heading = xf_strdup(heading), x->anchor = xf_strdup(anchor), x->text = xf_strdup(text);
    x->line0 = line0, x->line1 = line1;
    return x->path && x->heading && x->anchor && x->text ? XF_OK : xf_error(XF_ERR_NOMEM, "out of memory");
}
