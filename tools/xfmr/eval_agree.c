/* eval_agree.c — `xfmr eval --task agree --ref REF`: how closely the model under test follows its
 * reference (the dense model a method changed).
 *   encoders: the cosine of each text's embedding with the reference's (mean and min) over the
 *             --prompts lines, or over the queries and docs of the --pairs;
 *   decoders: over the first --kl-tokens tokens of the --text sets, in windows of --window
 *             tokens, the mean KL(ref || model) of the next-token distributions and the share
 *             of positions whose arg max agrees; and over the --prompts (plain continuation, no
 *             chat template) the share of greedy replies of --max-tokens tokens that are the
 *             same text.
 * The time spent in each model is reported with the cost, so a faster method shows it. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

#define KL_WINDOW_CAP 1024

typedef struct timers {
    double model_s, ref_s;
    double model_tokens, ref_tokens;
} timers;

/* ------------------------------------------------------------------------------ encoders */

static int agree_encoders(eval_ctx *c, cJSON *obj, timers *tm, double *texts_done) {
    cli_texts lines = {0};
    eval_pairs pairs = {0};
    const char **texts = NULL;
    const size_t *lens = NULL;
    size_t n = 0;
    int rc;
    if (c->o->prompts) {
        if (cli_read_all_lines(c->o->prompts, &lines)) return CLI_EXIT_FAIL;
        n = c->o->limit && lines.n > (size_t)c->o->limit ? (size_t)c->o->limit : lines.n;
        texts = (const char **)lines.texts;
        lens = lines.lens;
        cJSON_AddStringToObject(obj, "prompts", c->o->prompts);
        rc = n ? CLI_EXIT_OK : cli_error("%s: no texts", c->o->prompts);
    } else {
        char *path = eval_data_path(c, c->o->pairs, "debian/pairs.jsonl", "--pairs or --prompts");
        if (!path) return CLI_EXIT_FAIL;
        rc = eval_pairs_read(path, (size_t)c->o->limit, &pairs);
        cJSON_AddStringToObject(obj, "pairs", path);
        free(path);
        n = 2 * pairs.n;
        texts = rc ? NULL : malloc((n ? n : 1) * sizeof *texts);
        if (!rc && !texts) rc = cli_error("out of memory");
        for (size_t i = 0; !rc && i < pairs.n; i++) {
            texts[i] = pairs.query[i];
            texts[pairs.n + i] = pairs.doc[i];
        }
    }
    const size_t dim = xf_model_embedding_dim(c->m);
    if (!rc && xf_model_embedding_dim(c->ref) != dim)
        rc = cli_error("%s gives %zu-dimensional embeddings and --ref %s %zu: they cannot be compared",
                       c->name, dim, c->ref_name, xf_model_embedding_dim(c->ref));
    float *a = NULL, *b = NULL;
    if (!rc) {
        eval_heading(c, "agree: %zu texts, embedding cosine with %s", n, c->ref_name);
        a = malloc(n * dim * sizeof *a);
        b = malloc(n * dim * sizeof *b);
        if (!a || !b) rc = cli_error("out of memory for %zu embeddings", 2 * n);
    }
    size_t ta = 0, tb = 0;
    double t0 = eval_now();
    if (!rc) rc = eval_embed(c, c->m, "model", texts, lens, n, a, &ta, NULL);
    double t1 = eval_now();
    if (!rc) rc = eval_embed(c, c->ref, "ref", texts, lens, n, b, &tb, NULL);
    tm->model_s = t1 - t0;
    tm->ref_s = eval_now() - t1;
    tm->model_tokens = (double)ta;
    tm->ref_tokens = (double)tb;
    if (!rc) {
        double sum = 0, mn = INFINITY;
        size_t worst = 0;
        for (size_t i = 0; i < n; i++) {
            const float *x = a + i * dim, *y = b + i * dim;
            double nx = sqrt((double)eval_dot(x, x, dim)), ny = sqrt((double)eval_dot(y, y, dim));
            double cos = nx > 0 && ny > 0 ? (double)eval_dot(x, y, dim) / (nx * ny) : 0;
            sum += cos;
            if (cos < mn) {
                mn = cos;
                worst = i;
            }
        }
        cJSON_AddNumberToObject(obj, "texts", (double)n);
        eval_json_num(obj, "cosine_mean", sum / (double)n);
        eval_json_num(obj, "cosine_min", mn);
        cJSON_AddNumberToObject(obj, "cosine_min_text", (double)worst);
        eval_row(c, "cosine mean", "%.6f", sum / (double)n);
        eval_row(c, "cosine min", "%.6f (text %zu)", mn, worst);
        *texts_done = (double)n;
    }
    free(a);
    free(b);
    if (!c->o->prompts) free(texts);
    cli_texts_free(&lines);
    eval_pairs_free(&pairs);
    return rc;
}

/* ------------------------------------------------------------------------------ decoders */

/* The two models must read the same ids: same vocabulary size, same tokens for a sample. */
static int same_tokenizer(eval_ctx *c, const char *sample, size_t len) {
    if (xf_model_vocab_size(c->m) != xf_model_vocab_size(c->ref))
        return cli_error("%s has %zu logits and --ref %s %zu: they cannot be compared", c->name,
                         xf_model_vocab_size(c->m), c->ref_name, xf_model_vocab_size(c->ref));
    xf_encoding ea, eb;
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    int rc = CLI_EXIT_OK;
    if (len > 4096) len = 4096;
    if (xf_tokenize(xf_model_tokenizer(c->m), sample, len, NULL, 0, 0, &ea) != XF_OK ||
        xf_tokenize(xf_model_tokenizer(c->ref), sample, len, NULL, 0, 0, &eb) != XF_OK)
        rc = cli_lib_error();
    else if (ea.n != eb.n || memcmp(ea.ids, eb.ids, ea.n * sizeof *ea.ids))
        rc = cli_error("%s and --ref %s tokenize text differently: they cannot be compared",
                       c->name, c->ref_name);
    xf_encoding_free(&ea);
    xf_encoding_free(&eb);
    return rc;
}

/* KL and top-1 agreement over the first kl_tokens positions of the text sets. */
static int agree_kl(eval_ctx *c, cJSON *obj, timers *tm) {
    eval_textset sets[EVAL_MAX_LIST];
    size_t n_sets = 0;
    int rc = eval_read_textsets(c, sets, &n_sets);
    if (!rc) rc = same_tokenizer(c, sets[0].texts[0], sets[0].lens[0]);
    const size_t V = xf_model_vocab_size(c->m), W = cli_ppl_window(c->m, c->o->window, KL_WINDOW_CAP);
    const size_t want = (size_t)c->o->kl_tokens;
    float *la = NULL, *lb = NULL;
    if (!rc) {
        la = malloc(W * V * sizeof *la);
        lb = malloc(W * V * sizeof *lb);
        if (!la || !lb) rc = cli_error("out of memory for 2 x %zu x %zu logits (see --window)", W, V);
    }
    double kl_sum = 0, kl_max = 0;
    size_t positions = 0, same = 0;
    cli_progress bar;
    cli_progress_start(&bar, "KL", want, 0);
    bar.unit = "tokens";
    for (size_t k = 0; !rc && k < n_sets && positions < want; k++)
        for (size_t f = 0; !rc && f < sets[k].n && positions < want; f++) {
            xf_encoding e;
            memset(&e, 0, sizeof e);
            if (xf_tokenize(xf_model_tokenizer(c->m), sets[k].texts[f], sets[k].lens[f], NULL, 0, 0,
                            &e) != XF_OK) {
                rc = cli_lib_error();
                break;
            }
            for (size_t b = 0; !rc && b + 1 < e.n && positions < want; b += W) {
                size_t L = e.n - b < W ? e.n - b : W;
                if (L > want - positions) L = want - positions;
                double t0 = eval_now();
                if (xf_model_logits(c->m, e.ids + b, L, la) != XF_OK) rc = cli_lib_error();
                double t1 = eval_now();
                if (!rc && xf_model_logits(c->ref, e.ids + b, L, lb) != XF_OK) rc = cli_lib_error();
                tm->model_s += t1 - t0;
                tm->ref_s += eval_now() - t1;
                tm->model_tokens += (double)L;
                tm->ref_tokens += (double)L;
                for (size_t t = 0; !rc && t < L; t++) {
                    int top;
                    double kl = eval_kl_logits(lb + t * V, la + t * V, V, &top);
                    kl_sum += kl;
                    if (kl > kl_max || kl != kl) kl_max = kl;
                    same += (size_t)top;
                    positions++;
                }
                cli_progress_update(&bar, positions);
            }
            xf_encoding_free(&e);
        }
    cli_progress_finish(&bar, positions);
    if (!rc && positions == 0) rc = cli_error("the --text sets have no tokens to compare");
    if (!rc) {
        cJSON_AddNumberToObject(obj, "kl_positions", (double)positions);
        cJSON_AddNumberToObject(obj, "kl_window", (double)W);
        eval_json_num(obj, "kl_mean", kl_sum / (double)positions);
        eval_json_num(obj, "kl_max", kl_max);
        eval_json_num(obj, "top1_agree", (double)same / (double)positions);
        eval_row(c, "KL mean", "%.6g nats over %zu positions (max %.4g)",
                 kl_sum / (double)positions, positions, kl_max);
        eval_row(c, "top-1 agree", "%.4f", (double)same / (double)positions);
    }
    free(la);
    free(lb);
    for (size_t k = 0; k < n_sets; k++) eval_textset_free(&sets[k]);
    return rc;
}

/* Greedy continuations of the prompts by both models: the share that are the same text. */
static int agree_greedy(eval_ctx *c, cJSON *obj, timers *tm, double *prompts_done) {
    char *path = eval_data_path(c, c->o->prompts, "prompts.txt", "--prompts");
    if (!path) return CLI_EXIT_FAIL;
    cli_texts lines;
    if (cli_read_all_lines(path, &lines)) {
        free(path);
        return CLI_EXIT_FAIL;
    }
    size_t n = c->o->limit && lines.n > (size_t)c->o->limit ? (size_t)c->o->limit : lines.n;
    int rc = n ? CLI_EXIT_OK : cli_error("%s: no prompts", path);
    int32_t **ids = calloc(n ? n : 1, sizeof *ids);
    size_t *lens = calloc(n ? n : 1, sizeof *lens), longest = 0;
    if (!rc && (!ids || !lens)) rc = cli_error("out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        rc = cli_encode_prompt(xf_model_tokenizer(c->m), lines.texts[i], lines.lens[i], 0, &ids[i], &lens[i]);
        if (!rc && lens[i] == 0) rc = cli_error("%s:%zu: the prompt has no tokens", path, i + 1);
        if (lens[i] > longest) longest = lens[i];
    }
    xf_model_info info = xf_model_info_init();
    size_t ctx = longest + (size_t)c->o->max_tokens;
    if (!rc && xf_model_get_info(c->m, &info) == XF_OK && ctx > info.max_position)
        rc = cli_error("a prompt of %zu tokens plus --max-tokens %ld exceeds the context of %zu",
                       longest, c->o->max_tokens, info.max_position);
    eval_gen ga, gb;
    memset(&ga, 0, sizeof ga);
    memset(&gb, 0, sizeof gb);
    if (!rc) rc = eval_gen_begin(c, c->m, ctx + 1, c->o->max_tokens, 0, &ga);
    if (!rc) rc = eval_gen_begin(c, c->ref, ctx + 1, c->o->max_tokens, 0, &gb);
    size_t equal = 0, done = 0;
    long first_diff = -1;
    cli_progress bar;
    cli_progress_start(&bar, "greedy", n, 0);
    bar.unit = "prompts";
    for (size_t i = 0; !rc && i < n; i++) {
        char *ra = NULL, *rb = NULL;
        double t0 = eval_now();
        rc = eval_gen_reply(&ga, ids[i], lens[i], &ra);
        double t1 = eval_now();
        if (!rc) rc = eval_gen_reply(&gb, ids[i], lens[i], &rb);
        tm->model_s += t1 - t0;
        tm->ref_s += eval_now() - t1;
        tm->model_tokens += (double)ga.g.n_hist;
        tm->ref_tokens += (double)gb.g.n_hist;
        if (!rc) {
            if (!strcmp(ra, rb)) equal++;
            else if (first_diff < 0) first_diff = (long)i;
            done++;
        }
        free(ra);
        free(rb);
        cli_progress_update(&bar, i + 1);
    }
    cli_progress_finish(&bar, done);
    if (!rc) {
        cJSON_AddStringToObject(obj, "prompts", path);
        cJSON_AddNumberToObject(obj, "greedy_prompts", (double)n);
        cJSON_AddNumberToObject(obj, "greedy_tokens", (double)c->o->max_tokens);
        eval_json_num(obj, "greedy_equal", (double)equal / (double)n);
        eval_row(c, "greedy equal", "%zu of %zu prompts (%ld tokens each)", equal, n,
                 c->o->max_tokens);
        if (first_diff >= 0) eval_row(c, "", "first difference: prompt %ld", first_diff + 1);
        *prompts_done = (double)n;
    }
    eval_gen_end(&ga);
    eval_gen_end(&gb);
    for (size_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(lens);
    cli_texts_free(&lines);
    free(path);
    return rc;
}

int eval_run_agree(eval_ctx *c, cJSON *obj) {
    timers tm = {0, 0, 0, 0};
    eval_cost cost;
    eval_cost_start(&cost);
    cJSON_AddStringToObject(obj, "ref", c->ref_name);
    int rc;
    double items = 0;
    const char *unit = "texts";
    if (c->kind == EVAL_ENCODER) {
        rc = agree_encoders(c, obj, &tm, &items);
    } else {
        eval_heading(c, "agree: next-token distributions and greedy text vs %s", c->ref_name);
        rc = agree_kl(c, obj, &tm);
        if (!rc) rc = agree_greedy(c, obj, &tm, &items);
        unit = "prompts";
    }
    if (rc) return rc;
    cJSON *t = cJSON_AddObjectToObject(obj, "time");
    eval_json_num(t, "model_s", tm.model_s);
    eval_json_num(t, "ref_s", tm.ref_s);
    eval_json_num(t, "model_tokens_per_s", tm.model_s > 0 ? tm.model_tokens / tm.model_s : NAN);
    eval_json_num(t, "ref_tokens_per_s", tm.ref_s > 0 ? tm.ref_tokens / tm.ref_s : NAN);
    eval_row(c, "speed", "model %.1f tokens/s, ref %.1f tokens/s (%.2fx)",
             tm.model_s > 0 ? tm.model_tokens / tm.model_s : NAN,
             tm.ref_s > 0 ? tm.ref_tokens / tm.ref_s : NAN,
             tm.model_s > 0 && tm.ref_s > 0 ? (tm.model_tokens / tm.model_s) / (tm.ref_tokens / tm.ref_s) : NAN);
    const char *const units[] = {unit, "tokens"};
    const double counts[] = {items, tm.model_tokens + tm.ref_tokens};
    eval_cost_finish(&cost, c, obj, units, counts, 2);
    return CLI_EXIT_OK;
}
