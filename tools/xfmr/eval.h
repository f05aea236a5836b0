/* eval.h — internal interface of `xfmr eval` (tools/xfmr/cmd_eval.c and eval_*.c): the options,
 * the loaded models, the task table, the cost meter, and the metric functions (eval_metrics.c,
 * which has no other dependency so that tests link it alone).
 *
 * A task is one entry of EVAL_TASKS (cmd_eval.c): a name, the model kinds it accepts, whether it
 * needs --ref, and a run function that fills a cJSON object and prints its table section. A
 * method issue that adds an option (a quantization, a KV policy, ...) adds it to eval_opts and to
 * the one place that loads the model under test (eval_load_model) or creates its sessions
 * (eval_gen_begin): every task then measures the changed model, and --ref stays the reference. */
#ifndef XFMR_EVAL_H
#define XFMR_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* ------------------------------------------------------------------- metrics (eval_metrics.c) */

/* Indices of the k highest scores[0..n) (k <= n) into idx[0..k), by decreasing score, equal
 * scores by increasing index (as sentence-transformers' InformationRetrievalEvaluator sorts). */
void eval_topk(const float *scores, size_t n, size_t k, size_t *idx);
/* Retrieval metrics of one query from its ranked list ranked[0..n_ranked) and its relevant doc
 * ids rel[0..n_rel) (n_rel >= 1), with sentence-transformers' definitions:
 *   MRR@k     1 / (1-based rank of the first relevant doc in the top k), 0 if none;
 *   nDCG@k    DCG of the top k (binary gains, 1 / log2(rank + 1)) / DCG of min(n_rel, k) hits;
 *   recall@k  relevant docs in the top k / n_rel. */
double eval_mrr_at_k(const size_t *ranked, size_t n_ranked, const size_t *rel, size_t n_rel,
                     size_t k);
double eval_ndcg_at_k(const size_t *ranked, size_t n_ranked, const size_t *rel, size_t n_rel,
                      size_t k);
double eval_recall_at_k(const size_t *ranked, size_t n_ranked, const size_t *rel, size_t n_rel,
                        size_t k);
/* Paired percentile bootstrap of the ratio sum(a) / sum(b) over n paired per-query values
 * (e.g. a model's and its reference's MRR@10 on the same queries): `resamples` resamplings of the
 * queries with replacement (a fixed-seed generator: the same data gives the same interval), the
 * central `level` (0.95) interval into *lo, *hi; resamples whose sum(b) is 0 are dropped. NAN when
 * n = 0 or fewer than 2 resamples are usable. Returns -1 when out of memory, else 0. */
int eval_ratio_ci(const double *a, const double *b, size_t n, size_t resamples, double level, double *lo,
                  double *hi);
/* Dot product of two float vectors, in float with eight partial sums. */
float eval_dot(const float *a, const float *b, size_t n);
/* KL(softmax(ref) || softmax(model)) of one row of n logits, in double; *same_top1 (may be NULL)
 * gets 1 when both arg maxes (lowest index on ties) are the same token. Non-finite logits are
 * treated as -inf; a row with no finite logit gives NAN. */
double eval_kl_logits(const float *ref, const float *model, size_t n, int *same_top1);
/* Index of the largest value (the lowest index on ties; NaN never wins). */
size_t eval_argmax(const float *v, size_t n);

/* -------------------------------------------------------------------------------- options */

#define EVAL_MAX_LIST 32 /* most --text paths, --lengths, --depths */

typedef struct eval_opts {
    cli_model_opts mo;      /* -m and the options of the model under test */
    const char *ref;        /* --ref: the reference model (loaded as stored), NULL = none */
    const char *tasks;      /* --task list */
    const char *json;       /* --json FILE ('-' = stdout), NULL = none */
    const char *data_dir;   /* --data-dir (default $XFMR_EVAL_DATA or .cache/eval) */
    const char *pairs;      /* --pairs FILE (retrieval, encoder agree) */
    const char *texts[EVAL_MAX_LIST]; /* --text PATH (ppl, decoder agree) */
    size_t n_texts;
    const char *prompts;    /* --prompts FILE (agree) */
    const char *haystack;   /* --haystack PATH (needle) */
    long limit;             /* --limit N: first N pairs / prompts / texts, 0 = all */
    long batch_size;        /* --batch-size (encoders) */
    long window, stride;    /* --window, --stride (ppl, KL) */
    long kl_tokens;         /* --kl-tokens: tokens scored by the decoder agree KL */
    long max_tokens;        /* --max-tokens: greedy tokens per prompt (decoder agree) */
    size_t lengths[EVAL_MAX_LIST], n_lengths; /* --lengths (passkey, needle) */
    double depths[EVAL_MAX_LIST];              /* --depths */
    size_t n_depths;
    long cases;             /* --cases per (length, depth) */
    uint64_t seed;          /* --seed */
    const char *chat_template; /* --chat-template NAME */
    int no_chat;            /* --no-chat: plain prompts even when the model has a template */
    const char *save_prompts; /* --save-prompts FILE: passkey/needle cases as JSON lines */
    const char *kv_policy;  /* --kv-policy (passkey, needle) */
    long kv_budget;         /* --kv-budget */
    int kv_type;            /* --kv-type (xf_kv_type) */
    long quest;             /* --quest N (0 = dense decode attention) */
    long quest_page;        /* --quest-page N (0 = 16) */
    int decode_ppl;         /* --decode-ppl: ppl through sessions, one token at a time */
    long ppl_prompt;        /* --ppl-prompt N: each decoded window's first N tokens read as a prompt */
} eval_opts;

/* --------------------------------------------------------------------------- run context */

enum { EVAL_ENCODER = 1, EVAL_DECODER = 2 };

typedef struct eval_ctx {
    const eval_opts *o;
    xf_model *m, *ref;        /* ref is NULL without --ref */
    int kind, ref_kind;       /* EVAL_ENCODER or EVAL_DECODER */
    const char *name, *ref_name; /* as given on the command line, for messages */
    FILE *table;              /* where the readable table goes */
    FILE *prompts_out;        /* --save-prompts, or NULL */
} eval_ctx;

typedef struct eval_task {
    const char *name;
    const char *summary;
    int kinds;     /* EVAL_ENCODER | EVAL_DECODER: the models it measures */
    int needs_ref; /* 1: --ref is required */
    /* Fill obj with the results, print the table section; returns an exit code. */
    int (*run)(eval_ctx *c, cJSON *obj);
} eval_task;

int eval_run_retrieval(eval_ctx *c, cJSON *obj);
int eval_run_ppl(eval_ctx *c, cJSON *obj);
int eval_run_agree(eval_ctx *c, cJSON *obj);
int eval_run_passkey(eval_ctx *c, cJSON *obj);
int eval_run_needle(eval_ctx *c, cJSON *obj);

/* ------------------------------------------------------------ shared helpers (eval_common.c) */

/* A data path: the option's value if given, else <data dir>/<rel>; the result is malloc'ed.
 * When the default does not exist, prints an error naming the option and the fetch script and
 * returns NULL. */
char *eval_data_path(const eval_ctx *c, const char *given, const char *rel, const char *option);

/* Cost of one task: wall time, CPU time of all threads (getrusage: shows contention when the
 * machine is shared), throughput, peak resident memory (ru_maxrss, the process's peak so far). */
typedef struct eval_cost {
    double t0, cpu0;
} eval_cost;
double eval_now(void);
double eval_cpu_now(void); /* CPU seconds of all the process's threads so far */
void eval_cost_start(eval_cost *k);
/* Adds "cost": {"wall_s", "cpu_s", "<unit>_per_s" for each unit with a count > 0, "peak_rss_mib"} to obj
 * and prints one "cost" line; units/counts have n entries (e.g. "tokens", "texts"). */
void eval_cost_finish(const eval_cost *k, eval_ctx *c, cJSON *obj, const char *const *units,
                      const double *counts, size_t n);

/* Table output: a task heading and "  label   value" rows. */
void eval_heading(eval_ctx *c, const char *fmt, ...) CLI_PRINTF(2, 3);
void eval_row(eval_ctx *c, const char *label, const char *fmt, ...) CLI_PRINTF(3, 4);

/* JSON number that stays valid JSON (NaN / inf become null). */
cJSON *eval_json_num(cJSON *obj, const char *name, double v);

/* Embed texts with progress ("what"), all at once into out[n * dim]; *tokens (may be NULL)
 * gets the tokens processed, *truncated the texts cut to the model's limit. */
int eval_embed(eval_ctx *c, xf_model *m, const char *what, const char *const *texts,
               const size_t *lens, size_t n, float *out, size_t *tokens, size_t *truncated);

/* The {"query", "doc"} pairs of a JSONL file (blank lines skipped; other fields ignored). On a
 * malformed line prints an error naming the file, line and field, and returns nonzero. */
typedef struct eval_pairs {
    char **query, **doc;
    size_t n;
} eval_pairs;
int eval_pairs_read(const char *path, size_t limit, eval_pairs *out);
void eval_pairs_free(eval_pairs *p);

/* Text inputs: a file, or a folder whose *.txt files are read in name order. */
typedef struct eval_textset {
    char *name;   /* the path given */
    char **files; /* file paths */
    char **texts; /* contents (NUL-terminated; may contain NUL bytes) */
    size_t *lens;
    size_t n;
} eval_textset;
int eval_textset_read(const char *path, eval_textset *out);
void eval_textset_free(eval_textset *t);
/* The --text sets (at most EVAL_MAX_LIST), or the defaults DIR/pg_essays and DIR/docs; each keeps
 * its first --limit files. (eval_ppl.c) */
int eval_read_textsets(eval_ctx *c, eval_textset *sets, size_t *n_sets);

/* Greedy generation on a decoder (the chat template applied unless --no-chat or the model has
 * none): a session of n_ctx tokens, temperature 0, at most max_tokens new tokens. */
typedef struct eval_gen {
    cli_gen g;
    xf_chat_template *tmpl; /* NULL: plain prompts */
    FILE *sink;             /* where cli_gen streams the reply (discarded) */
} eval_gen;
int eval_gen_begin(eval_ctx *c, xf_model *m, size_t n_ctx, long max_tokens, int use_chat,
                   eval_gen *e);
/* The prompt ids of user text (rendered with the template when there is one) followed by
 * answer_prefix (may be NULL), which starts the model's answer. */
int eval_gen_prompt(eval_gen *e, const char *user, const char *answer_prefix, int32_t **ids,
                    size_t *n);
/* Greedy reply (malloc'ed) to prompt ids (e->g.n_hist then counts the tokens evaluated). */
int eval_gen_reply(eval_gen *e, const int32_t *ids, size_t n, char **reply);
void eval_gen_end(eval_gen *e);

#endif /* XFMR_EVAL_H */
