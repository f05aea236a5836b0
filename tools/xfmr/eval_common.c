/* eval_common.c — helpers shared by the tasks of `xfmr eval`: data paths, the cost meter (wall
 * time, throughput, peak RSS), table rows, JSON numbers, embedding with a progress bar, and
 * greedy generation on top of the CLI's generation engine (gen.c). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "eval.h"

#define EMBED_CHUNK 256 /* texts per xf_embed_n call, so that the bar moves */

char *eval_data_path(const eval_ctx *c, const char *given, const char *rel, const char *option) {
    if (given) return strdup(given);
    const char *dir = c->o->data_dir;
    if (!dir) dir = getenv("XFMR_EVAL_DATA");
    if (!dir || !dir[0]) dir = ".cache/eval";
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    if (!p) {
        cli_error("out of memory");
        return NULL;
    }
    snprintf(p, n, "%s/%s", dir, rel);
    struct stat st;
    if (stat(p, &st) != 0) {
        cli_error("no %s given and the default '%s' does not exist: run scripts/fetch_eval_data.sh "
                  "(or set --data-dir / XFMR_EVAL_DATA to where it put the data)", option, p);
        free(p);
        return NULL;
    }
    return p;
}

double eval_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double eval_cpu_now(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return NAN;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

void eval_cost_start(eval_cost *k) {
    k->t0 = eval_now();
    k->cpu0 = eval_cpu_now();
}

static double peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return NAN;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

void eval_cost_finish(const eval_cost *k, eval_ctx *c, cJSON *obj, const char *const *units,
                      const double *counts, size_t n) {
    double wall = eval_now() - k->t0, cpu = eval_cpu_now() - k->cpu0, rss = peak_rss_mib();
    cJSON *cost = cJSON_AddObjectToObject(obj, "cost");
    eval_json_num(cost, "wall_s", wall);
    eval_json_num(cost, "cpu_s", cpu);
    char line[256];
    int at = snprintf(line, sizeof line, "%.1f s (CPU %.1f s)", wall, cpu);
    for (size_t i = 0; i < n; i++) {
        if (!(counts[i] > 0)) continue;
        char key[64];
        snprintf(key, sizeof key, "%s_per_s", units[i]);
        double rate = wall > 0 ? counts[i] / wall : NAN;
        eval_json_num(cost, key, rate);
        if (at > 0 && (size_t)at < sizeof line)
            at += snprintf(line + at, sizeof line - (size_t)at, ", %.3g %s/s", rate, units[i]);
    }
    eval_json_num(cost, "peak_rss_mib", rss);
    if (at > 0 && (size_t)at < sizeof line)
        snprintf(line + at, sizeof line - (size_t)at, ", peak RSS %.0f MiB", rss);
    eval_row(c, "cost", "%s", line);
}

void eval_heading(eval_ctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputc('\n', c->table);
    vfprintf(c->table, fmt, ap);
    fputc('\n', c->table);
    va_end(ap);
}

void eval_row(eval_ctx *c, const char *label, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(c->table, "  %-14s ", label);
    vfprintf(c->table, fmt, ap);
    fputc('\n', c->table);
    va_end(ap);
}

cJSON *eval_json_num(cJSON *obj, const char *name, double v) {
    return isfinite(v) ? cJSON_AddNumberToObject(obj, name, v) : cJSON_AddNullToObject(obj, name);
}

int eval_embed(eval_ctx *c, xf_model *m, const char *what, const char *const *texts,
               const size_t *lens, size_t n, float *out, size_t *tokens, size_t *truncated) {
    const size_t dim = xf_model_embedding_dim(m);
    size_t tok = 0, trunc = 0;
    cli_progress bar;
    cli_progress_start(&bar, what, n, EMBED_CHUNK);
    for (size_t i = 0; i < n; i += EMBED_CHUNK) {
        size_t k = n - i < EMBED_CHUNK ? n - i : EMBED_CHUNK;
        xf_embed_stats st;
        size_t batch = c->o->batch_size > 0 ? (size_t)c->o->batch_size : 0;
        if (xf_embed_n(m, texts + i, lens ? lens + i : NULL, k, batch, out + i * dim, &st) !=
            XF_OK) {
            cli_progress_finish(&bar, i);
            return cli_lib_error();
        }
        tok += st.n_tokens;
        trunc += st.n_truncated;
        cli_progress_update(&bar, i + k);
    }
    cli_progress_finish(&bar, n);
    if (tokens) *tokens = tok;
    if (truncated) *truncated = trunc;
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ generation */

int eval_gen_begin(eval_ctx *c, xf_model *m, size_t n_ctx, long max_tokens, int use_chat,
                   eval_gen *e) {
    memset(e, 0, sizeof *e);
    int rc = CLI_EXIT_OK;
    if (use_chat && !c->o->no_chat && (c->o->chat_template || xf_model_chat_template(m)))
        if ((rc = cli_chat_template(m, c->o->chat_template, &e->tmpl))) {
            cli_note("or pass --no-chat to use plain prompts");
            return rc;
        }
    e->sink = fopen("/dev/null", "w");
    if (!e->sink) {
        eval_gen_end(e);
        return cli_error("cannot open /dev/null");
    }
    cli_gen_opts go;
    cli_gen_opts_init(&go);
    go.sp.temperature = 0; /* greedy */
    go.max_tokens = max_tokens;
    go.ctx = (long)n_ctx;
    go.kv_policy = c->o->kv_policy;
    go.kv_budget = c->o->kv_budget;
    go.kv_type = c->o->kv_type;
    go.quest = c->o->quest;
    go.quest_page = c->o->quest_page;
    if ((rc = cli_gen_begin(&e->g, m, &go, e->tmpl))) eval_gen_end(e);
    return rc;
}

int eval_gen_prompt(eval_gen *e, const char *user, const char *answer_prefix, int32_t **ids,
                    size_t *n) {
    char *rendered = NULL, *text;
    size_t len = 0;
    if (e->tmpl) {
        xf_chat_message msg = {"user", user};
        if (xf_chat_render(e->tmpl, &msg, 1, 1, &rendered, &len) != XF_OK) return cli_lib_error();
    }
    const char *head = rendered ? rendered : user;
    size_t hl = rendered ? len : strlen(user), al = answer_prefix ? strlen(answer_prefix) : 0;
    const char *sep = !rendered && al ? " " : "";
    text = malloc(hl + strlen(sep) + al + 1);
    if (!text) {
        free(rendered);
        return cli_error("out of memory");
    }
    memcpy(text, head, hl);
    memcpy(text + hl, sep, strlen(sep));
    if (al) memcpy(text + hl + strlen(sep), answer_prefix, al);
    len = hl + strlen(sep) + al;
    text[len] = '\0';
    free(rendered);
    int rc = cli_encode_prompt(e->g.tok, text, len, e->tmpl && xf_chat_template_adds_bos(e->tmpl),
                               ids, n);
    free(text);
    return rc;
}

int eval_gen_reply(eval_gen *e, const int32_t *ids, size_t n, char **reply) {
    return cli_gen_run(&e->g, ids, n, e->sink, reply);
}

void eval_gen_end(eval_gen *e) {
    cli_gen_end(&e->g);
    xf_chat_template_free(e->tmpl);
    if (e->sink) fclose(e->sink);
    memset(e, 0, sizeof *e);
}
