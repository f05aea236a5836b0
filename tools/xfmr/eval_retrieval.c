/* eval_retrieval.c — `xfmr eval --task retrieval`: an encoder on {"query", "doc"} pairs. Every doc
 * is a candidate for every query and query i's one relevant doc is doc i; docs are ranked by the
 * exact cosine similarity of the embeddings (all pairs, no index), and MRR@10, nDCG@10,
 * recall@1 and recall@10 are averaged over the queries as sentence-transformers'
 * InformationRetrievalEvaluator does (scripts/eval_st_retrieval.py is the reference). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

#define TOP_K 10

static void normalize_rows(float *v, size_t rows, size_t dim) {
    for (size_t r = 0; r < rows; r++) {
        float *x = v + r * dim;
        double ss = 0;
        for (size_t i = 0; i < dim; i++) ss += (double)x[i] * x[i];
        if (ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (size_t i = 0; i < dim; i++) x[i] *= inv;
        }
    }
}

/* Mean metrics over the queries; scores are the cosines of each query with every doc. */
static void score(const float *q, const float *d, size_t n, size_t dim, double out[4]) {
    float *s = malloc(n * sizeof *s);
    size_t top[TOP_K], k = n < TOP_K ? n : TOP_K;
    double sum[4] = {0, 0, 0, 0};
    cli_progress bar;
    cli_progress_start(&bar, "ranking", n, 256);
    bar.unit = "queries";
    for (size_t i = 0; s && i < n; i++) {
        for (size_t j = 0; j < n; j++) s[j] = eval_dot(q + i * dim, d + j * dim, dim);
        eval_topk(s, n, k, top);
        sum[0] += eval_mrr_at_k(top, k, &i, 1, 10);
        sum[1] += eval_ndcg_at_k(top, k, &i, 1, 10);
        sum[2] += eval_recall_at_k(top, k, &i, 1, 1);
        sum[3] += eval_recall_at_k(top, k, &i, 1, 10);
        cli_progress_update(&bar, i + 1);
    }
    cli_progress_finish(&bar, n);
    for (int m = 0; m < 4; m++) out[m] = s ? sum[m] / (double)n : NAN;
    if (!s) cli_error("out of memory");
    free(s);
}

int eval_run_retrieval(eval_ctx *c, cJSON *obj) {
    char *path = eval_data_path(c, c->o->pairs, "debian/pairs.jsonl", "--pairs");
    if (!path) return CLI_EXIT_FAIL;
    eval_pairs p;
    int rc = eval_pairs_read(path, (size_t)c->o->limit, &p);
    if (rc) {
        free(path);
        return rc;
    }
    const size_t n = p.n, dim = xf_model_embedding_dim(c->m);
    eval_heading(c, "retrieval: %s, %zu queries x %zu candidate docs (exact cosine)", path, n, n);
    cJSON_AddStringToObject(obj, "pairs", path);
    cJSON_AddNumberToObject(obj, "queries", (double)n);
    eval_cost cost;
    eval_cost_start(&cost);
    float *q = malloc(n * dim * sizeof *q), *d = malloc(n * dim * sizeof *d);
    size_t tq = 0, td = 0, trq = 0, trd = 0;
    if (!q || !d) rc = cli_error("out of memory for %zu x %zu embeddings", 2 * n, dim);
    if (!rc) rc = eval_embed(c, c->m, "queries", (const char *const *)p.query, NULL, n, q, &tq, &trq);
    if (!rc) rc = eval_embed(c, c->m, "docs", (const char *const *)p.doc, NULL, n, d, &td, &trd);
    if (!rc) {
        double m[4];
        normalize_rows(q, n, dim);
        normalize_rows(d, n, dim);
        score(q, d, n, dim, m);
        if (!isfinite(m[0])) rc = CLI_EXIT_FAIL;
        static const char *const names[4] = {"mrr@10", "ndcg@10", "recall@1", "recall@10"};
        cJSON *mj = cJSON_AddObjectToObject(obj, "metrics");
        for (int k = 0; k < 4 && !rc; k++) {
            eval_json_num(mj, names[k], m[k]);
            eval_row(c, names[k], "%.4f", m[k]);
        }
        cJSON_AddNumberToObject(obj, "tokens", (double)(tq + td));
        cJSON_AddNumberToObject(obj, "truncated_docs", (double)trd);
        cJSON_AddNumberToObject(obj, "truncated_queries", (double)trq);
        eval_row(c, "inputs", "%zu tokens; %zu of %zu docs truncated to %zu tokens", tq + td, trd,
                 n, xf_model_max_length(c->m));
        const char *const units[] = {"texts", "tokens"};
        const double counts[] = {2.0 * (double)n, (double)(tq + td)};
        if (!rc) eval_cost_finish(&cost, c, obj, units, counts, 2);
    }
    free(q);
    free(d);
    free(path);
    eval_pairs_free(&p);
    return rc;
}
