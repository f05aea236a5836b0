/* eval_retrieval.c — `xfmr eval --task retrieval`: an encoder on {"query", "doc"} pairs. Every doc
 * is a candidate for every query and query i's one relevant doc is doc i; docs are ranked by the
 * exact cosine similarity of the embeddings (all pairs, no index), and MRR@10, nDCG@10,
 * recall@1 and recall@10 are averaged over the queries as sentence-transformers'
 * InformationRetrievalEvaluator does (scripts/eval_st_retrieval.py is the reference). With --ref
 * the reference model is measured in the same run, and the model's metrics and document
 * throughput are also given relative to it (the yardstick of adaptive compute, docs/ADAPTIVE.md). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

#define TOP_K 10
#define CI_RESAMPLES 2000

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

/* Mean metrics over the queries; scores are the cosines of each query with every doc. Each query's
 * MRR@10 and nDCG@10 also go into per_q[0..n) and per_q[n..2n) (for the confidence interval). */
static void score(const float *q, const float *d, size_t n, size_t dim, double out[4], double *per_q) {
    float *s = malloc(n * sizeof *s);
    size_t top[TOP_K], k = n < TOP_K ? n : TOP_K;
    double sum[4] = {0, 0, 0, 0};
    cli_progress bar;
    cli_progress_start(&bar, "ranking", n, 256);
    bar.unit = "queries";
    for (size_t i = 0; s && i < n; i++) {
        for (size_t j = 0; j < n; j++) s[j] = eval_dot(q + i * dim, d + j * dim, dim);
        eval_topk(s, n, k, top);
        sum[0] += per_q[i] = eval_mrr_at_k(top, k, &i, 1, 10);
        sum[1] += per_q[n + i] = eval_ndcg_at_k(top, k, &i, 1, 10);
        sum[2] += eval_recall_at_k(top, k, &i, 1, 1);
        sum[3] += eval_recall_at_k(top, k, &i, 1, 10);
        cli_progress_update(&bar, i + 1);
    }
    cli_progress_finish(&bar, n);
    for (int m = 0; m < 4; m++) out[m] = s ? sum[m] / (double)n : NAN;
    if (!s) cli_error("out of memory");
    free(s);
}

/* One model's pass over the pairs: embeddings, metrics, and the time of the docs. */
typedef struct side {
    double m[4];
    size_t tq, td, trq, trd;
    double doc_wall, doc_cpu;
    double *per_q; /* [2n]: each query's MRR@10, then each query's nDCG@10 */
} side;

static int run_side(eval_ctx *c, xf_model *m, const char *who, const eval_pairs *p, side *r) {
    const size_t n = p->n, dim = xf_model_embedding_dim(m);
    float *q = malloc(n * dim * sizeof *q), *d = malloc(n * dim * sizeof *d);
    r->per_q = malloc(2 * n * sizeof *r->per_q);
    int rc = !q || !d || !r->per_q ? cli_error("out of memory for %zu x %zu embeddings", 2 * n, dim) : CLI_EXIT_OK;
    char what[64];
    snprintf(what, sizeof what, "%squeries", who);
    if (!rc) rc = eval_embed(c, m, what, (const char *const *)p->query, NULL, n, q, &r->tq, &r->trq);
    const double w0 = eval_now(), c0 = eval_cpu_now();
    snprintf(what, sizeof what, "%sdocs", who);
    if (!rc) rc = eval_embed(c, m, what, (const char *const *)p->doc, NULL, n, d, &r->td, &r->trd);
    r->doc_wall = eval_now() - w0, r->doc_cpu = eval_cpu_now() - c0;
    if (!rc) {
        normalize_rows(q, n, dim);
        normalize_rows(d, n, dim);
        score(q, d, n, dim, r->m, r->per_q);
        if (!isfinite(r->m[0])) rc = CLI_EXIT_FAIL;
    }
    free(q);
    free(d);
    return rc;
}

static const char *const NAMES[4] = {"mrr@10", "ndcg@10", "recall@1", "recall@10"};

static void add_metrics(cJSON *obj, const side *r) {
    cJSON *mj = cJSON_AddObjectToObject(obj, "metrics");
    for (int k = 0; k < 4; k++) eval_json_num(mj, NAMES[k], r->m[k]);
}

static void add_doc_time(cJSON *obj, const side *r, size_t n) {
    cJSON *t = cJSON_AddObjectToObject(obj, "docs_time");
    eval_json_num(t, "wall_s", r->doc_wall);
    eval_json_num(t, "cpu_s", r->doc_cpu);
    eval_json_num(t, "texts_per_s", r->doc_wall > 0 ? (double)n / r->doc_wall : NAN);
    eval_json_num(t, "texts_per_cpu_s", r->doc_cpu > 0 ? (double)n / r->doc_cpu : NAN);
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
    const size_t n = p.n;
    eval_heading(c, "retrieval: %s, %zu queries x %zu candidate docs (exact cosine)", path, n, n);
    cJSON_AddStringToObject(obj, "pairs", path);
    cJSON_AddNumberToObject(obj, "queries", (double)n);
    eval_cost cost;
    eval_cost_start(&cost);
    side r, rr;
    memset(&r, 0, sizeof r);
    memset(&rr, 0, sizeof rr);
    xf_adaptive_stats as = xf_adaptive_stats_init();
    xf_model_adaptive_stats(c->m, &as, 1); /* from here on */
    rc = run_side(c, c->m, "", &p, &r);
    if (!rc) {
        add_metrics(obj, &r);
        for (int k = 0; k < 4; k++) eval_row(c, NAMES[k], "%.4f", r.m[k]);
        cJSON_AddNumberToObject(obj, "tokens", (double)(r.tq + r.td));
        cJSON_AddNumberToObject(obj, "truncated_docs", (double)r.trd);
        cJSON_AddNumberToObject(obj, "truncated_queries", (double)r.trq);
        eval_row(c, "inputs", "%zu tokens; %zu of %zu docs truncated to %zu tokens", r.tq + r.td, r.trd, n,
                 xf_model_max_length(c->m));
        add_doc_time(obj, &r, n);
        eval_row(c, "docs", "%.1f s (CPU %.1f s): %.3g docs/s, %.3g docs per CPU s", r.doc_wall, r.doc_cpu,
                 (double)n / r.doc_wall, (double)n / r.doc_cpu);
        if (xf_model_adaptive_stats(c->m, &as, 0) == XF_OK && as.n_texts) {
            cJSON *a = cJSON_AddObjectToObject(obj, "adaptive");
            cJSON_AddNumberToObject(a, "texts", (double)as.n_texts);
            eval_json_num(a, "mean_layers", as.mean_layers);
            cJSON_AddNumberToObject(a, "token_layers", (double)as.token_layers);
            cJSON_AddNumberToObject(a, "token_layers_dense", (double)as.token_layers_dense);
            eval_row(c, "adaptive", "mean depth %.3f layers; %.1f%% of the dense token-layers (queries and docs)",
                     as.mean_layers, 100.0 * (double)as.token_layers / (double)as.token_layers_dense);
        }
    }
    if (!rc && c->ref) {
        rc = run_side(c, c->ref, "ref ", &p, &rr);
        if (!rc) {
            cJSON *rj = cJSON_AddObjectToObject(obj, "ref");
            add_metrics(rj, &rr);
            add_doc_time(rj, &rr, n);
            cJSON *rel = cJSON_AddObjectToObject(obj, "relative");
            cJSON *ci = cJSON_AddObjectToObject(obj, "relative_ci95");
            for (int k = 0; k < 4; k++) {
                const double ratio = rr.m[k] > 0 ? r.m[k] / rr.m[k] : NAN;
                eval_json_num(rel, NAMES[k], ratio);
                double lo = NAN, hi = NAN; /* MRR@10 and nDCG@10: paired bootstrap over the queries */
                if (k < 2 && eval_ratio_ci(r.per_q + k * n, rr.per_q + k * n, n, CI_RESAMPLES, 0.95, &lo, &hi)) {
                    rc = cli_error("out of memory");
                    break;
                }
                if (k >= 2) {
                    eval_row(c, NAMES[k], "ref %.4f, model/ref %.4f", rr.m[k], ratio);
                    continue;
                }
                cJSON *iv = cJSON_AddArrayToObject(ci, NAMES[k]);
                cJSON_AddItemToArray(iv, isfinite(lo) ? cJSON_CreateNumber(lo) : cJSON_CreateNull());
                cJSON_AddItemToArray(iv, isfinite(hi) ? cJSON_CreateNumber(hi) : cJSON_CreateNull());
                eval_row(c, NAMES[k], "ref %.4f, model/ref %.4f (95%% CI %.4f-%.4f, paired bootstrap over queries)",
                         rr.m[k], ratio, lo, hi);
            }
            const double sw = r.doc_wall > 0 ? rr.doc_wall / r.doc_wall : NAN, sc = r.doc_cpu > 0 ? rr.doc_cpu / r.doc_cpu : NAN;
            eval_json_num(rel, "docs_per_s", sw);
            eval_json_num(rel, "docs_per_cpu_s", sc);
            eval_row(c, "docs speed", "%.3fx the reference's docs/s (wall), %.3fx per CPU second", sw, sc);
        }
    }
    if (!rc) {
        const char *const units[] = {"texts", "tokens"};
        const double counts[] = {(c->ref ? 4.0 : 2.0) * (double)n, (double)(r.tq + r.td + rr.tq + rr.td)};
        eval_cost_finish(&cost, c, obj, units, counts, 2);
    }
    free(r.per_q);
    free(rr.per_q);
    free(path);
    eval_pairs_free(&p);
    return rc;
}
