/* cmd_eval.c — `xfmr eval`, the project's yardstick: measures a model (any model xfmr loads, with
 * the options that change it) on one or more tasks — retrieval, ppl, agree (with --ref),
 * passkey, needle — and prints a table and, with --json, a JSON report; every task reports its
 * cost (wall time, throughput, peak RSS). The tasks live in eval_*.c (see eval.h). */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "eval.h"

static const eval_task TASKS[] = {
    {"retrieval", "MRR@10, nDCG@10, recall@1/10 of an encoder on {\"query\", \"doc\"} pairs",
     EVAL_ENCODER, 0, eval_run_retrieval},
    {"ppl", "perplexity of a decoder on text files (sliding window)", EVAL_DECODER, 0,
     eval_run_ppl},
    {"agree", "agreement with --ref: embedding cosine; decoder KL, top-1, greedy text",
     EVAL_ENCODER | EVAL_DECODER, 1, eval_run_agree},
    {"passkey", "find a number hidden in filler text, per (length, depth)", EVAL_DECODER, 0,
     eval_run_passkey},
    {"needle", "find a sentence hidden in essays, per (length, depth)", EVAL_DECODER, 0,
     eval_run_needle},
};
#define N_TASKS (sizeof TASKS / sizeof TASKS[0])

enum {
    OPT_REF = 1, OPT_TASK, OPT_JSON, OPT_DATA_DIR, OPT_PAIRS, OPT_TEXT, OPT_PROMPTS, OPT_HAYSTACK,
    OPT_LIMIT, OPT_BATCH, OPT_WINDOW, OPT_STRIDE, OPT_KL_TOKENS, OPT_MAX_TOKENS, OPT_LENGTHS,
    OPT_DEPTHS, OPT_CASES, OPT_SEED, OPT_CHAT_TEMPLATE, OPT_NO_CHAT, OPT_SAVE_PROMPTS, OPT_DECODE_PPL, OPT_PPL_PROMPT
};

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS, CLI_OPTS_ROPE, CLI_OPTS_SPARSITY, CLI_OPTS_KV, CLI_OPTS_MAX_LENGTH, CLI_OPTS_ADAPTIVE, CLI_OPTS_PROBSPARSE,
    {OPT_REF, 0, "ref", 1}, {OPT_TASK, 't', "task", 1}, {OPT_JSON, 0, "json", 1},
    {OPT_DATA_DIR, 0, "data-dir", 1}, {OPT_PAIRS, 0, "pairs", 1}, {OPT_TEXT, 0, "text", 1},
    {OPT_PROMPTS, 0, "prompts", 1}, {OPT_HAYSTACK, 0, "haystack", 1}, {OPT_LIMIT, 0, "limit", 1},
    {OPT_BATCH, 0, "batch-size", 1}, {OPT_WINDOW, 0, "window", 1}, {OPT_STRIDE, 0, "stride", 1},
    {OPT_KL_TOKENS, 0, "kl-tokens", 1}, {OPT_MAX_TOKENS, 0, "max-tokens", 1},
    {OPT_LENGTHS, 0, "lengths", 1}, {OPT_DEPTHS, 0, "depths", 1}, {OPT_CASES, 0, "cases", 1},
    {OPT_SEED, 0, "seed", 1}, {OPT_CHAT_TEMPLATE, 0, "chat-template", 1},
    {OPT_NO_CHAT, 0, "no-chat", 0}, {OPT_SAVE_PROMPTS, 0, "save-prompts", 1}, {OPT_DECODE_PPL, 0, "decode-ppl", 0},
    {OPT_PPL_PROMPT, 0, "ppl-prompt", 1},
};

void cmd_eval_help(FILE *f) {
    fputs("usage: xfmr eval -m MODEL [--ref REFMODEL] --task TASK[,TASK...] [OPTIONS]\n"
          "\n"
          "Measure the quality of MODEL, and what it costs: each task prints a table section\n"
          "(and, with --json, a JSON report) with its scores, wall time, throughput and the\n"
          "process's peak resident memory. MODEL is any model xfmr loads (a Hugging Face folder\n"
          "or a GGUF file) with the options that change it (--weights ...); --ref is the\n"
          "reference it is compared with, loaded as stored.\n"
          "\n"
          "Tasks:\n",
          f);
    for (size_t k = 0; k < N_TASKS; k++)
        fprintf(f, "  %-10s %s%s\n", TASKS[k].name, TASKS[k].summary,
                TASKS[k].needs_ref ? " (needs --ref)" : "");
    fputs("\n"
          "Options:\n"
          "  -m, --model MODEL     the model under test (folder, .gguf file or fetched name)\n"
          "      --ref MODEL       the reference model of --task agree; with retrieval, measured\n"
          "                        in the same run, the model's metrics and docs/s relative to it\n"
          "  -t, --task LIST       tasks to run, comma-separated, in this order\n"
          "      --json FILE       also write the results as JSON to FILE ('-' = stdout; the\n"
          "                        table then goes to stderr)\n"
          "      --threads N       compute threads, 0..1024 (default: 0 = the CPUs usable)\n"
          "      --max-length N    truncate encoder inputs to N tokens (default: the model's)\n"
          CLI_HELP_WEIGHTS CLI_HELP_ROPE CLI_HELP_SPARSITY
          "\n"
          CLI_HELP_ADAPTIVE CLI_HELP_PROBSPARSE
          "\n"
          "Data (defaults under --data-dir, made by scripts/fetch_eval_data.sh; docs/EVAL.md):\n"
          "      --data-dir DIR    default: $XFMR_EVAL_DATA, else .cache/eval\n"
          "      --pairs FILE      JSON lines {\"query\", \"doc\"} (retrieval; encoder agree)\n"
          "                        (default: DIR/debian/pairs.jsonl)\n"
          "      --text PATH       a text file, or a folder of *.txt files: one set (ppl,\n"
          "                        decoder agree); repeatable (default: DIR/pg_essays and\n"
          "                        DIR/docs)\n"
          "      --prompts FILE    one prompt per line (decoder agree; default DIR/prompts.txt),\n"
          "                        or texts to embed (encoder agree; default: the pairs' texts)\n"
          "      --haystack PATH   text file or folder of *.txt (needle; default DIR/pg_essays)\n"
          "      --limit N         use only the first N pairs / prompts / texts (default: all)\n"
          "\n"
          "Task options:\n"
          "      --batch-size N    texts per encoder batch, 1..4096 (default 32)\n"
          "      --window N        tokens per window (ppl, agree KL; default: the model's\n"
          "                        context, at most 1024)\n"
          "      --stride N        tokens between ppl windows (default: window / 2)\n"
          "      --decode-ppl      ppl as generation sees it: consecutive windows, each a\n"
          "                        session fed one token at a time (slow); the mode of ppl\n"
          "                        whenever --kv-type or --kv-policy is given\n"
          "      --ppl-prompt N    with --decode-ppl (implied): each window's first N tokens\n"
          "                        are read as one prompt and not scored, the rest one token\n"
          "                        at a time (what SnapKV compresses is a prompt; default 0)\n"
          "      --kl-tokens N     tokens of the --text sets scored by the decoder agree KL\n"
          "                        (default 4096)\n"
          "      --max-tokens N    greedy tokens per prompt for decoder agree (default 32)\n"
          "      --lengths LIST    prompt lengths in tokens (passkey, needle; default\n"
          "                        1024,2048,4096); each plus the answer must fit the context\n"
          "      --depths LIST     where the key sits, fractions of the text from 0 (start) to\n"
          "                        1 (end) (default 0,0.25,0.5,0.75,1)\n"
          "      --cases N         cases per (length, depth), 1..100000 (default 5)\n"
          "      --seed S          seed of the passkeys, needles and haystack offsets (default 0)\n"
          "      --chat-template NAME  chat format of passkey/needle prompts (default: the\n"
          "                        model's own, when it has one)\n"
          "      --no-chat         plain prompts even when the model has a chat template\n"
          "      --save-prompts FILE  write each passkey/needle case as a JSON line: the prompt\n"
          "                        as the model saw it, the key, the expected answer, the reply\n"
          CLI_HELP_KV
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  scripts/fetch_eval_data.sh\n"
          "  xfmr eval -m all-MiniLM-L6-v2 --task retrieval --json minilm.json\n"
          "  xfmr eval -m all-MiniLM-L6-v2 --weights int8 --ref all-MiniLM-L6-v2 --task agree\n"
          "  xfmr eval -m SmolLM2-135M-Instruct --task ppl,passkey --lengths 1024,2048 --cases 3\n"
          "\n",
          f);
    cli_help_exit_codes(f);
}

/* "a,b,c" -> items via the callback; returns 0 or a usage exit code. */
typedef int (*item_fn)(const char *item, void *ctx);
static int split_list(const char *opt, const char *s, item_fn fn, void *ctx) {
    char buf[512];
    if (strlen(s) >= sizeof buf || !s[0])
        return cli_usage_error("eval", "invalid value '%s' for %s", s, opt);
    strcpy(buf, s);
    for (char *tok = buf, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        int rc = fn(tok, ctx);
        if (rc) return rc;
    }
    return 0;
}

static int add_length(const char *item, void *ctx) {
    eval_opts *o = ctx;
    long v;
    if (cli_parse_int("eval", "--lengths", item, 16, 10000000, &v)) return CLI_EXIT_USAGE;
    if (o->n_lengths == EVAL_MAX_LIST)
        return cli_usage_error("eval", "at most %d --lengths", EVAL_MAX_LIST);
    o->lengths[o->n_lengths++] = (size_t)v;
    return 0;
}

static int add_depth(const char *item, void *ctx) {
    eval_opts *o = ctx;
    double v;
    if (cli_parse_double("eval", "--depths", item, &v)) return CLI_EXIT_USAGE;
    if (v < 0 || v > 1)
        return cli_usage_error("eval", "--depths: %s is not a fraction from 0 to 1", item);
    if (o->n_depths == EVAL_MAX_LIST)
        return cli_usage_error("eval", "at most %d --depths", EVAL_MAX_LIST);
    o->depths[o->n_depths++] = v;
    return 0;
}

typedef struct task_list {
    const eval_task *t[N_TASKS];
    size_t n;
} task_list;

static int add_task(const char *item, void *ctx) {
    task_list *l = ctx;
    for (size_t k = 0; k < N_TASKS; k++)
        if (!strcmp(TASKS[k].name, item)) {
            for (size_t i = 0; i < l->n; i++)
                if (l->t[i] == &TASKS[k])
                    return cli_usage_error("eval", "task '%s' is given twice", item);
            l->t[l->n++] = &TASKS[k];
            return 0;
        }
    char names[256] = "";
    for (size_t k = 0; k < N_TASKS; k++) {
        if (k) strcat(names, ", ");
        strcat(names, TASKS[k].name);
    }
    return cli_usage_error("eval", "unknown task '%s' (tasks: %s)", item, names);
}

static int parse(int argc, char **argv, eval_opts *o, task_list *tl) {
    cli_parser p;
    cli_parser_init(&p, "eval", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    memset(o, 0, sizeof *o);
    memset(tl, 0, sizeof *tl);
    cli_model_opts_init(&o->mo);
    o->kl_tokens = 4096;
    o->max_tokens = 32;
    o->cases = 5;
    const char *arg;
    int id, rc = 0;
    while (!rc && (id = cli_next(&p, &arg)) != CLI_DONE) {
        if (id == CLI_BAD) return CLI_EXIT_USAGE;
        int shared = cli_model_option(&p, id, arg, &o->mo);
        if (shared < 0) return CLI_EXIT_USAGE;
        if (shared) continue;
        switch (id) {
        case CLI_HELP: cmd_eval_help(stdout); return -1;
        case CLI_ARG: return cli_usage_error("eval", "unexpected argument '%s'", arg);
        case OPT_REF: o->ref = arg; break;
        case OPT_TASK:
            if (o->tasks) return cli_usage_error("eval", "give the tasks in one --task list");
            o->tasks = arg;
            rc = split_list("--task", arg, add_task, tl);
            break;
        case OPT_JSON: o->json = arg; break;
        case OPT_DATA_DIR: o->data_dir = arg; break;
        case OPT_PAIRS: o->pairs = arg; break;
        case OPT_TEXT:
            if (o->n_texts == EVAL_MAX_LIST)
                return cli_usage_error("eval", "at most %d --text paths", EVAL_MAX_LIST);
            o->texts[o->n_texts++] = arg;
            break;
        case OPT_PROMPTS: o->prompts = arg; break;
        case OPT_HAYSTACK: o->haystack = arg; break;
        case OPT_LIMIT: rc = cli_parse_int("eval", "--limit", arg, 1, 100000000, &o->limit); break;
        case OPT_BATCH: rc = cli_parse_int("eval", "--batch-size", arg, 1, 4096, &o->batch_size); break;
        case OPT_WINDOW: rc = cli_parse_int("eval", "--window", arg, 2, 10000000, &o->window); break;
        case OPT_STRIDE: rc = cli_parse_int("eval", "--stride", arg, 1, 10000000, &o->stride); break;
        case OPT_KL_TOKENS:
            rc = cli_parse_int("eval", "--kl-tokens", arg, 2, 100000000, &o->kl_tokens);
            break;
        case OPT_MAX_TOKENS:
            rc = cli_parse_int("eval", "--max-tokens", arg, 1, 100000, &o->max_tokens);
            break;
        case OPT_LENGTHS: o->n_lengths = 0; rc = split_list("--lengths", arg, add_length, o); break;
        case OPT_DEPTHS: o->n_depths = 0; rc = split_list("--depths", arg, add_depth, o); break;
        case OPT_CASES: rc = cli_parse_int("eval", "--cases", arg, 1, 100000, &o->cases); break;
        case OPT_SEED: {
            long v;
            rc = cli_parse_int("eval", "--seed", arg, 0, 2147483647L, &v);
            o->seed = (uint64_t)v;
            break;
        }
        case OPT_CHAT_TEMPLATE: o->chat_template = arg; break;
        case OPT_NO_CHAT: o->no_chat = 1; break;
        case OPT_SAVE_PROMPTS: o->save_prompts = arg; break;
        case OPT_DECODE_PPL: o->decode_ppl = 1; break;
        case OPT_PPL_PROMPT: rc = cli_parse_int("eval", "--ppl-prompt", arg, 0, 1000000, &o->ppl_prompt); break;
        case CLI_OPT_KV_POLICY:
        case CLI_OPT_KV_BUDGET:
        case CLI_OPT_KV_TYPE:
        case CLI_OPT_QUEST:
        case CLI_OPT_QUEST_PAGE:
            rc = cli_kv_option(&p, id, arg, &o->kv_policy, &o->kv_budget, &o->kv_type, &o->quest, &o->quest_page) < 0
                     ? -1
                     : 0;
            break;
        }
        if (rc) return rc < 0 ? CLI_EXIT_USAGE : rc;
    }
    if (!o->mo.model) return cli_usage_error("eval", "missing the model: -m MODEL");
    if (!tl->n) return cli_usage_error("eval", "missing the tasks: --task TASK[,TASK...]");
    if (cli_kv_check("eval", o->kv_policy, o->kv_budget, o->quest, o->quest_page)) return CLI_EXIT_USAGE;
    if (o->window && o->stride > o->window)
        return cli_usage_error("eval", "--stride %ld is larger than --window %ld", o->stride,
                               o->window);
    if (o->chat_template && o->no_chat)
        return cli_usage_error("eval", "--chat-template and --no-chat exclude each other");
    if (o->chat_template) {
        xf_chat_template *t = NULL;
        if (xf_chat_template_from_name(o->chat_template, &t) != XF_OK)
            return cli_usage_error("eval", "unknown --chat-template '%s' (known: %s)",
                                   o->chat_template, xf_chat_template_names());
        xf_chat_template_free(t);
    }
    for (size_t k = 0; k < tl->n; k++)
        if (tl->t[k]->needs_ref && !o->ref)
            return cli_usage_error("eval", "task '%s' compares with a reference: give --ref MODEL",
                                   tl->t[k]->name);
    if (!o->n_lengths) {
        static const size_t def[] = {1024, 2048, 4096};
        memcpy(o->lengths, def, sizeof def);
        o->n_lengths = 3;
    }
    if (!o->n_depths) {
        static const double def[] = {0, 0.25, 0.5, 0.75, 1};
        memcpy(o->depths, def, sizeof def);
        o->n_depths = 5;
    }
    return CLI_EXIT_OK;
}

/* Encoder or decoder: only a decoder can hold a session. */
static int model_kind(xf_model *m, const char *name, int *kind) {
    xf_session *s = NULL;
    xf_status st = xf_session_create(m, 1, &s);
    xf_session_free(s);
    if (st == XF_OK) *kind = EVAL_DECODER;
    else if (st == XF_ERR_UNSUPPORTED) *kind = EVAL_ENCODER;
    else return cli_error("%s: cannot tell whether it is an encoder or a decoder: %s", name, xf_errmsg());
    return CLI_EXIT_OK;
}

static const char *kind_name(int kind) {
    return kind == EVAL_DECODER ? "a decoder (language model)" : "an encoder (embedding model)";
}

/* The model under test, with every option that changes it; the reference as stored. */
static int eval_load_model(const eval_opts *o, int is_ref, xf_model **m, int *kind) {
    cli_model_opts mo = o->mo;
    if (is_ref) { /* as stored: no weight format, rope scaling, sparsity, pruning or early exit */
        cli_model_opts plain;
        cli_model_opts_init(&plain);
        plain.model = o->ref;
        plain.default_model = mo.default_model;
        plain.threads = mo.threads;
        plain.max_length = mo.max_length;
        mo = plain;
    }
    int rc = cli_load_model(&mo, 1, m);
    if (!rc) rc = model_kind(*m, mo.model, kind);
    return rc;
}

static void add_model_json(cJSON *obj, const char *key, const char *name, xf_model *m, int kind) {
    cJSON *j = cJSON_AddObjectToObject(obj, key);
    cJSON_AddStringToObject(j, "name", name);
    cJSON_AddStringToObject(j, "kind", kind == EVAL_DECODER ? "decoder" : "encoder");
    xf_model_info info = xf_model_info_init();
    if (xf_model_get_info(m, &info) == XF_OK) {
        cJSON_AddStringToObject(j, "path", info.path ? info.path : "");
        cJSON_AddStringToObject(j, "architecture", info.architecture ? info.architecture : "");
        cJSON_AddNumberToObject(j, "params", (double)info.n_params);
        cJSON_AddNumberToObject(j, "file_bytes", (double)info.file_bytes);
        cJSON_AddStringToObject(j, "dtypes", info.dtypes ? info.dtypes : "");
        cJSON_AddNumberToObject(j, "context", (double)info.max_position);
    }
}

static int write_json(const char *path, cJSON *root) {
    char *text = cJSON_Print(root);
    if (!text) return cli_error("out of memory");
    cli_out out;
    if (cli_out_open(&out, path)) {
        free(text);
        return CLI_EXIT_FAIL;
    }
    fputs(text, out.f);
    fputc('\n', out.f);
    free(text);
    return cli_out_close(&out, 1) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_eval(int argc, char **argv) {
    eval_opts o;
    task_list tl;
    int rc = parse(argc, argv, &o, &tl);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    eval_ctx c;
    memset(&c, 0, sizeof c);
    c.o = &o;
    c.name = o.mo.model;
    c.ref_name = o.ref;
    c.table = o.json && !strcmp(o.json, "-") ? stderr : stdout;
    if ((rc = eval_load_model(&o, 0, &c.m, &c.kind))) return rc;
    for (size_t k = 0; k < tl.n && !rc; k++)
        if (!(tl.t[k]->kinds & c.kind))
            rc = cli_error("task '%s' measures %s; %s is %s", tl.t[k]->name,
                           kind_name(tl.t[k]->kinds), o.mo.model, kind_name(c.kind));
    if (!rc && o.ref) {
        rc = eval_load_model(&o, 1, &c.ref, &c.ref_kind);
        if (!rc && c.ref_kind != c.kind)
            rc = cli_error("--ref %s is %s but %s is %s: they cannot be compared", o.ref,
                           kind_name(c.ref_kind), o.mo.model, kind_name(c.kind));
    }
    cJSON *root = cJSON_CreateObject(), *tasks = NULL;
    if (!rc && !root) rc = cli_error("out of memory");
    cli_out saved = {0};
    if (!rc && o.save_prompts) {
        if (!strcmp(o.save_prompts, "-")) rc = cli_error("--save-prompts needs a file, not stdout");
        else if (cli_out_open(&saved, o.save_prompts)) rc = CLI_EXIT_FAIL;
        c.prompts_out = saved.f;
    }
    if (!rc) {
        cJSON_AddStringToObject(root, "xfmr", xf_version());
        add_model_json(root, "model", o.mo.model, c.m, c.kind);
        if (c.ref) add_model_json(root, "ref", o.ref, c.ref, c.ref_kind);
        cJSON *opt = cJSON_AddObjectToObject(root, "options");
        cJSON_AddStringToObject(opt, "weights",
                                o.mo.weights == XF_WEIGHTS_INT8   ? "int8"
                                : o.mo.weights == XF_WEIGHTS_INT4 ? "int4"
                                : o.mo.weights == XF_WEIGHTS_A8   ? "a8"
                                : o.mo.weights == XF_WEIGHTS_BF16 ? "bf16"
                                : o.mo.weights == XF_WEIGHTS_F32  ? "f32"
                                                                  : "stored");
        if (o.mo.sparsity != XF_SPARSITY_NONE) {
            if (o.mo.sparsity == XF_SPARSITY_2_4)
                cJSON_AddStringToObject(opt, "sparsity", "2:4");
            else
                cJSON_AddNumberToObject(opt, "sparsity", o.mo.sparsity_ratio);
            cJSON_AddStringToObject(opt, "sparsity_method",
                                    o.mo.sparsity_method == XF_SPARSE_WANDA       ? "wanda"
                                    : o.mo.sparsity_method == XF_SPARSE_SPARSEGPT ? "sparsegpt"
                                                                                  : "magnitude");
            if (o.mo.calib) cJSON_AddStringToObject(opt, "calib", o.mo.calib);
            if (o.mo.sparse_head) cJSON_AddBoolToObject(opt, "sparse_head", 1);
        }
        cJSON_AddNumberToObject(opt, "threads", (double)o.mo.threads);
        if (o.mo.rope_scaling) {
            cJSON_AddStringToObject(opt, "rope_scaling", o.mo.rope_scaling);
            cJSON_AddNumberToObject(opt, "rope_factor", o.mo.rope_factor);
        }
        cJSON_AddStringToObject(opt, "kv_policy", o.kv_policy ? o.kv_policy : "keep-all");
        if (o.kv_policy) cJSON_AddNumberToObject(opt, "kv_budget", (double)o.kv_budget);
        if (o.decode_ppl) cJSON_AddTrueToObject(opt, "decode_ppl");
        if (o.ppl_prompt) cJSON_AddNumberToObject(opt, "ppl_prompt", (double)o.ppl_prompt);
        cJSON_AddStringToObject(opt, "kv_type", cli_kv_type_name(o.kv_type));
        if (o.quest) cJSON_AddNumberToObject(opt, "quest", (double)o.quest);
        if (o.quest) cJSON_AddNumberToObject(opt, "quest_page", (double)(o.quest_page ? o.quest_page : 16));
        if (cli_adaptive_on(&o.mo)) {
            cJSON_AddNumberToObject(opt, "keep", o.mo.keep);
            if (o.mo.keep_schedule) cJSON_AddStringToObject(opt, "keep_schedule", o.mo.keep_schedule);
            cJSON_AddStringToObject(opt, "pool_pruned", o.mo.pool_pruned == 2 ? "rejoin" : o.mo.pool_pruned ? "yes" : "no");
            cJSON_AddBoolToObject(opt, "merge", o.mo.merge);
            cJSON_AddNumberToObject(opt, "keep_min", (double)o.mo.keep_min);
            if (o.mo.exit_cos <= 1.0) cJSON_AddNumberToObject(opt, "exit_cos", o.mo.exit_cos);
            if (o.mo.exit_target > 0) cJSON_AddNumberToObject(opt, "exit_target", o.mo.exit_target);
            cJSON_AddNumberToObject(opt, "exit_min_layers", (double)o.mo.exit_min_layers);
        }
        tasks = cJSON_AddObjectToObject(root, "tasks");
        fprintf(c.table, "model %s (%s)%s%s\n", o.mo.model,
                c.kind == EVAL_DECODER ? "decoder" : "encoder", o.ref ? ", reference " : "",
                o.ref ? o.ref : "");
    }
    for (size_t k = 0; k < tl.n && !rc; k++) {
        cJSON *obj = cJSON_AddObjectToObject(tasks, tl.t[k]->name);
        rc = obj ? tl.t[k]->run(&c, obj) : cli_error("out of memory");
    }
    if (saved.f && cli_out_close(&saved, !rc) && !rc) rc = CLI_EXIT_FAIL;
    if (!rc && o.json) rc = write_json(o.json, root);
    cJSON_Delete(root);
    xf_model_free(c.ref);
    xf_model_free(c.m);
    return rc;
}
