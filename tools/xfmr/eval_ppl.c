/* eval_ppl.c — `xfmr eval --task ppl`: the perplexity of a decoder on sets of text files. Each
 * file is one sequence scored by the strided sliding window of `xfmr perplexity` (ppl.c, which
 * calls xf_perplexity); a set's perplexity is exp(sum of the files' NLL sums / sum of their
 * scored predictions), so every scored token weighs the same. With a KV-cache setting (or
 * --decode-ppl) each file is scored as generation sees it instead (cli_text_perplexity_decode):
 * the cache only exists in sessions. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

#define DEFAULT_WINDOW_CAP 1024

/* The --text sets, or the default ones (the essays and the /usr/share/doc texts). */
int eval_read_textsets(eval_ctx *c, eval_textset *sets, size_t *n_sets) {
    static const char *const defaults[] = {"pg_essays", "docs"};
    const eval_opts *o = c->o;
    size_t n = o->n_texts ? o->n_texts : 2;
    int rc = CLI_EXIT_OK;
    *n_sets = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        char *path = eval_data_path(c, o->n_texts ? o->texts[k] : NULL, defaults[k % 2], "--text");
        if (!path) return CLI_EXIT_FAIL;
        rc = eval_textset_read(path, &sets[k]);
        free(path);
        if (!rc) {
            *n_sets = k + 1;
            if (o->limit && sets[k].n > (size_t)o->limit) { /* keep the first --limit files */
                for (size_t i = (size_t)o->limit; i < sets[k].n; i++) {
                    free(sets[k].files[i]);
                    free(sets[k].texts[i]);
                }
                sets[k].n = (size_t)o->limit;
            }
        }
    }
    return rc;
}

int eval_run_ppl(eval_ctx *c, cJSON *obj) {
    eval_textset sets[EVAL_MAX_LIST];
    size_t n_sets = 0, n_files = 0, done = 0;
    int rc = eval_read_textsets(c, sets, &n_sets);
    const size_t window = cli_ppl_window(c->m, c->o->window, DEFAULT_WINDOW_CAP);
    /* KV-cache settings act only in sessions: score as generation does */
    const int decode = c->o->decode_ppl || c->o->ppl_prompt || c->o->kv_type || c->o->kv_policy || c->o->quest;
    if (!rc && c->o->ppl_prompt && (size_t)c->o->ppl_prompt + 2 > window)
        rc = cli_usage_error("eval", "--ppl-prompt %ld leaves no token to score in a window of %zu (at most %zu)",
                             c->o->ppl_prompt, window, window - 2);
    xf_session_params sp = xf_session_default_params();
    sp.kv_type = (xf_kv_type)c->o->kv_type;
    sp.kv_policy = c->o->kv_policy;
    sp.kv_budget = (size_t)c->o->kv_budget;
    sp.quest_budget = (size_t)c->o->quest;
    sp.quest_page = (size_t)c->o->quest_page;
    for (size_t k = 0; k < n_sets; k++) n_files += sets[k].n;
    if (!rc) eval_heading(c, "ppl: %zu set%s, %zu file%s (window %zu%s)", n_sets, n_sets == 1 ? "" : "s", n_files,
                          n_files == 1 ? "" : "s", window, decode ? ", decoded one token at a time" : "");
    eval_cost cost;
    eval_cost_start(&cost);
    cJSON *arr = cJSON_AddArrayToObject(obj, "sets");
    cli_progress bar;
    cli_progress_start(&bar, "ppl", n_files, 1);
    bar.unit = "files";
    size_t all_tokens = 0;
    for (size_t k = 0; k < n_sets && !rc; k++) {
        double nll = 0;
        size_t tokens = 0, scored = 0, windows = 0, stride = 0;
        for (size_t i = 0; i < sets[k].n && !rc; i++) {
            cli_ppl r;
            rc = decode ? cli_text_perplexity_decode(c->m, sets[k].files[i], sets[k].texts[i], sets[k].lens[i], window,
                                                     (size_t)c->o->ppl_prompt, &sp, &r)
                        : cli_text_perplexity(c->m, sets[k].files[i], sets[k].texts[i], sets[k].lens[i], window,
                                              (size_t)c->o->stride, &r);
            if (rc) break;
            nll += r.nll_sum;
            tokens += r.tokens;
            scored += r.scored;
            windows += r.windows;
            stride = r.stride;
            cli_progress_update(&bar, ++done);
        }
        if (rc) break;
        all_tokens += tokens;
        double ppl = scored ? exp(nll / (double)scored) : NAN;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, s);
        cJSON_AddStringToObject(s, "text", sets[k].name);
        cJSON_AddStringToObject(s, "mode", decode ? "decode" : "window");
        cJSON_AddNumberToObject(s, "files", (double)sets[k].n);
        cJSON_AddNumberToObject(s, "tokens", (double)tokens);
        cJSON_AddNumberToObject(s, "windows", (double)windows);
        cJSON_AddNumberToObject(s, "window", (double)window);
        cJSON_AddNumberToObject(s, "stride", (double)stride);
        cJSON_AddNumberToObject(s, "scored", (double)scored);
        eval_json_num(s, "nll", scored ? nll / (double)scored : NAN);
        eval_json_num(s, "perplexity", ppl);
        char label[64];
        const char *base = strrchr(sets[k].name, '/');
        snprintf(label, sizeof label, "%s", base && base[1] ? base + 1 : sets[k].name);
        eval_row(c, label, "ppl %.4f  nll %.4f  %zu tokens in %zu file%s (stride %zu)", ppl,
                 scored ? nll / (double)scored : NAN, tokens, sets[k].n, sets[k].n == 1 ? "" : "s",
                 stride);
    }
    cli_progress_finish(&bar, done);
    if (!rc) {
        const char *const units[] = {"tokens"};
        const double counts[] = {(double)all_tokens};
        eval_cost_finish(&cost, c, obj, units, counts, 1);
    }
    for (size_t k = 0; k < n_sets; k++) eval_textset_free(&sets[k]);
    return rc;
}
