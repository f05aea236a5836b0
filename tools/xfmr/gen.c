/* gen.c — text generation shared by `xfmr generate` and `xfmr chat`: the sampling options and
 * their help, the chat template choice, prompt encoding, and the generation loop (session
 * prefill, sampling, streaming detokenization, stop ids and stop strings). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void cli_gen_opts_init(cli_gen_opts *g) {
    memset(g, 0, sizeof *g);
    g->sp = xf_sampler_default_params();
    g->max_tokens = 128;
}

/* A seed from the system's random source, else from the clock and the process id. Kept to 32
 * bits so that it is easy to retype with --seed. */
static uint64_t random_seed(void) {
    uint32_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    int ok = f && fread(&s, sizeof s, 1, f) == 1;
    if (f) fclose(f);
    if (!ok) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec ^ ((uint32_t)getpid() << 16);
    }
    return s;
}

void cli_gen_sampling(cli_gen_opts *g, const xf_model *m) {
    xf_sampler_params p = xf_sampler_default_params();
    p.temperature = CLI_DEFAULT_TEMPERATURE;
    p.top_k = CLI_DEFAULT_TOP_K;
    p.top_p = CLI_DEFAULT_TOP_P;
    p.min_p = CLI_DEFAULT_MIN_P;
    g->sampling_source = "xfmr's defaults";
    const char *src = NULL;
    if (xf_model_sampler_defaults(m, &p, &src) != XF_OK)
        cli_note("warning: ignoring the model's sampling settings: %s", xf_errmsg());
    else if (src)
        g->sampling_source = src;
    const xf_sampler_params *u = &g->sp;
    if (g->given & CLI_GIVEN_TEMPERATURE) p.temperature = u->temperature;
    if (g->given & CLI_GIVEN_TOP_K) p.top_k = u->top_k;
    if (g->given & CLI_GIVEN_TOP_P) p.top_p = u->top_p;
    if (g->given & CLI_GIVEN_MIN_P) p.min_p = u->min_p;
    if (g->given & CLI_GIVEN_REPEAT_PENALTY) p.repetition_penalty = u->repetition_penalty;
    p.presence_penalty = u->presence_penalty;
    p.frequency_penalty = u->frequency_penalty;
    p.seed = g->given & CLI_GIVEN_SEED ? u->seed : random_seed();
    g->sp = p;
}

void cli_gen_describe(const cli_gen_opts *g, FILE *f) {
    const xf_sampler_params *p = &g->sp;
    if (p->temperature == 0.0f)
        fputs("greedy (temperature 0)", f);
    else
        fprintf(f, "temperature %g, top-k %d, top-p %g, min-p %g", (double)p->temperature, (int)p->top_k,
                (double)p->top_p, (double)p->min_p);
    fprintf(f, ", repeat-penalty %g", (double)p->repetition_penalty);
    if (p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f)
        fprintf(f, ", presence-penalty %g, frequency-penalty %g", (double)p->presence_penalty,
                (double)p->frequency_penalty);
    fprintf(f, ", seed %llu (defaults: %s)", (unsigned long long)p->seed, g->sampling_source);
}

static int parse_float(const cli_parser *p, const char *arg, float *out) {
    double v;
    if (cli_parse_double(p->cmd, p->optname, arg, &v)) return -1;
    *out = (float)v;
    return 1;
}

static const char *const kv_type_names[] = {"f32", "f16", "q8", "q4"}; /* xf_kv_type order */

const char *cli_kv_type_name(int type) {
    return type >= 0 && type < 4 ? kv_type_names[type] : "?";
}

int cli_kv_option(const cli_parser *p, int id, const char *arg, const char **policy, long *budget, int *type,
                  long *quest, long *quest_page) {
    switch (id) {
    case CLI_OPT_KV_TYPE:
        for (int t = 0; t < 4; t++)
            if (!strcmp(arg, kv_type_names[t])) return *type = t, 1;
        cli_usage_error(p->cmd, "invalid value '%s' for --kv-type: expected f32, f16, q8 or q4", arg);
        return -1;
    case CLI_OPT_KV_POLICY: /* the names are checked by the library, which lists them */
        *policy = arg;
        return 1;
    case CLI_OPT_KV_BUDGET: return cli_parse_int(p->cmd, "--kv-budget", arg, 1, 100000000, budget) ? -1 : 1;
    case CLI_OPT_QUEST: return cli_parse_int(p->cmd, "--quest", arg, 1, 100000000, quest) ? -1 : 1;
    case CLI_OPT_QUEST_PAGE: return cli_parse_int(p->cmd, "--quest-page", arg, 1, 1024, quest_page) ? -1 : 1;
    default: return 0;
    }
}

int cli_kv_check(const char *cmd, const char *policy, long budget, long quest, long quest_page) {
    if (budget && (!policy || !strcmp(policy, "keep-all"))) {
        cli_usage_error(cmd, "--kv-budget %ld has no effect without an evicting --kv-policy (streaming, h2o, "
                             "h2o-head, snapkv or snapkv-head)", budget);
        return -1;
    }
    if (quest_page && !quest) {
        cli_usage_error(cmd, "--quest-page %ld has no effect without --quest N", quest_page);
        return -1;
    }
    return 0;
}

int cli_gen_option(const cli_parser *p, int id, const char *arg, cli_gen_opts *g) {
    long v;
    int kv = cli_kv_option(p, id, arg, &g->kv_policy, &g->kv_budget, &g->kv_type, &g->quest, &g->quest_page);
    if (kv) return kv;
    switch (id) {
    case CLI_OPT_MAX_TOKENS:
        return cli_parse_int(p->cmd, "--max-tokens", arg, 1, 10000000, &g->max_tokens) ? -1 : 1;
    case CLI_OPT_CTX: return cli_parse_int(p->cmd, "--ctx", arg, 1, 10000000, &g->ctx) ? -1 : 1;
    case CLI_OPT_TOP_K:
        if (cli_parse_int(p->cmd, "--top-k", arg, 0, 2147483647L, &v)) return -1;
        g->sp.top_k = (int32_t)v;
        g->given |= CLI_GIVEN_TOP_K;
        return 1;
    case CLI_OPT_SEED: {
        char *end = NULL;
        errno = 0;
        unsigned long long s = strtoull(arg, &end, 10);
        if (!arg[0] || *end || errno == ERANGE || arg[0] == '-' || arg[0] == ' ' || arg[0] == '+' ||
            arg[0] == '\t') {
            cli_usage_error(p->cmd, "invalid value '%s' for --seed: expected an integer from 0 to "
                                    "18446744073709551615", arg);
            return -1;
        }
        g->sp.seed = (uint64_t)s;
        g->given |= CLI_GIVEN_SEED;
        return 1;
    }
    case CLI_OPT_TEMPERATURE: g->given |= CLI_GIVEN_TEMPERATURE; return parse_float(p, arg, &g->sp.temperature);
    case CLI_OPT_TOP_P: g->given |= CLI_GIVEN_TOP_P; return parse_float(p, arg, &g->sp.top_p);
    case CLI_OPT_MIN_P: g->given |= CLI_GIVEN_MIN_P; return parse_float(p, arg, &g->sp.min_p);
    case CLI_OPT_REPEAT_PENALTY:
        g->given |= CLI_GIVEN_REPEAT_PENALTY;
        return parse_float(p, arg, &g->sp.repetition_penalty);
    case CLI_OPT_PRESENCE_PENALTY: return parse_float(p, arg, &g->sp.presence_penalty);
    case CLI_OPT_FREQUENCY_PENALTY: return parse_float(p, arg, &g->sp.frequency_penalty);
    case CLI_OPT_STOP:
        if (!arg[0]) {
            cli_usage_error(p->cmd, "--stop needs a non-empty string");
            return -1;
        }
        if (g->n_stops == CLI_MAX_STOPS) {
            cli_usage_error(p->cmd, "at most %d --stop strings", CLI_MAX_STOPS);
            return -1;
        }
        g->stops[g->n_stops++] = arg;
        return 1;
    case CLI_OPT_SYSTEM: g->system = arg; return 1;
    case CLI_OPT_VERBOSE: g->verbose = 1; return 1;
    case CLI_OPT_IGNORE_EOS: g->ignore_eos = 1; return 1;
    case CLI_OPT_CHAT_TEMPLATE: g->chat_template = arg; return 1;
    default: return 0;
    }
}

int cli_gen_check(const char *cmd, const cli_gen_opts *g) {
    if (cli_kv_check(cmd, g->kv_policy, g->kv_budget, g->quest, g->quest_page)) return -1;
    /* One parameter at a time, so that the message names the option. */
    static const char *const names[] = {"--temperature", "--top-k", "--top-p", "--min-p",
                                        "--repeat-penalty", "--presence-penalty",
                                        "--frequency-penalty"};
    for (int k = 0; k < 7; k++) {
        xf_sampler_params p = xf_sampler_default_params();
        switch (k) {
        case 0: p.temperature = g->sp.temperature; break;
        case 1: p.top_k = g->sp.top_k; break;
        case 2: p.top_p = g->sp.top_p; break;
        case 3: p.min_p = g->sp.min_p; break;
        case 4: p.repetition_penalty = g->sp.repetition_penalty; break;
        case 5: p.presence_penalty = g->sp.presence_penalty; break;
        case 6: p.frequency_penalty = g->sp.frequency_penalty; break;
        }
        xf_sampler *s = NULL;
        if (xf_sampler_create(&p, 2, &s) != XF_OK) {
            const char *msg = xf_errmsg(), *colon = strstr(msg, ": ");
            cli_usage_error(cmd, "invalid value for %s: %s", names[k], colon ? colon + 2 : msg);
            return -1;
        }
        xf_sampler_free(s);
    }
    if (g->chat_template) {
        xf_chat_template *t = NULL;
        if (xf_chat_template_from_name(g->chat_template, &t) != XF_OK) {
            cli_usage_error(cmd, "unknown --chat-template '%s' (known: %s)", g->chat_template,
                            xf_chat_template_names());
            return -1;
        }
        xf_chat_template_free(t);
    }
    return 0;
}

void cli_help_gen_options(FILE *f, int with_chat) {
    fputs("Sampling: each option not given takes the model's own setting (generation_config.json\n"
          "of a model folder, read as transformers does: greedy unless it sets do_sample; or a\n"
          "GGUF file's general.sampling.* keys), else xfmr's default (llama.cpp's) shown here.\n"
          "  -n, --max-tokens N    most tokens to generate, 1..10000000 (default: 128)\n"
          "      --temperature T   >= 0; 0 = greedy (default: 0.8)\n"
          "      --top-k K         keep the K most likely tokens, 0 = off (default: 40)\n"
          "      --top-p P         nucleus sampling, in (0, 1]; 1 = off (default: 0.95)\n"
          "      --min-p P         drop tokens below P x the top probability, in [0, 1)\n"
          "                        (default: 0.05; 0 = off)\n"
          "      --repeat-penalty R  > 0; 1 = off (default: 1)\n"
          "      --presence-penalty P, --frequency-penalty P\n"
          "                        OpenAI-style penalties (default: 0)\n"
          "      --seed S          seed of the sampler's random numbers, 0..2^64-1 (default: a\n"
          "                        random one, shown by --verbose; the same seed and options\n"
          "                        give the same text)\n"
          "      --stop STR        stop when the text contains STR (not printed); repeatable\n"
          "      --ignore-eos      do not stop at the end-of-sequence / end-of-turn tokens\n"
          "                        (they are never sampled)\n",
          f);
    if (with_chat) fputs("      --chat            format the prompt as a chat user turn\n", f);
    fputs("      --system TEXT     system message of the chat\n"
          "      --chat-template NAME  use this chat format instead of the model's own\n"
          "                        (chatml, smollm2, qwen2, llama3, llama2, mistral, zephyr)\n"
          "      --ctx N           context size in tokens, prompt included\n"
          "                        (default: the model's max_position_embeddings)\n" CLI_HELP_KV
          "      --threads N       compute threads, 0..1024 (default: 0 = the CPUs usable)\n" CLI_HELP_WEIGHTS CLI_HELP_ROPE CLI_HELP_PROBSPARSE CLI_HELP_SPARSITY
          "  -v, --verbose         print the sampling settings, their source and the seed\n",
          f);
}

int cli_chat_template(const xf_model *m, const char *override, xf_chat_template **out) {
    *out = NULL;
    if (override) {
        if (xf_chat_template_from_name(override, out) != XF_OK)
            return cli_error("unknown chat template '%s' (known: %s)", override,
                             xf_chat_template_names());
        return CLI_EXIT_OK;
    }
    xf_status st = xf_chat_template_from_model(m, out); /* the model's own, rendered as Jinja */
    if (st == XF_ERR_NOT_FOUND)
        return cli_error("the model has no chat template (tokenizer_config.json \"chat_template\" "
                         "or GGUF tokenizer.chat_template); choose one with --chat-template NAME "
                         "(%s)", xf_chat_template_names());
    if (st != XF_OK) return cli_lib_error();
    return CLI_EXIT_OK;
}

/* Special ids the post-processor puts before (*pre) and after (*post) a text, found by encoding
 * "" and "a": their common prefix is the part before. */
int cli_added_specials(const xf_tokenizer *tok, size_t *pre, size_t *post) {
    xf_encoding e0, e1;
    memset(&e0, 0, sizeof e0);
    memset(&e1, 0, sizeof e1);
    if (xf_tokenize(tok, "", 0, NULL, 0, 0, &e0) != XF_OK ||
        xf_tokenize(tok, "a", 1, NULL, 0, 0, &e1) != XF_OK) {
        xf_encoding_free(&e0);
        xf_encoding_free(&e1);
        return cli_lib_error();
    }
    size_t k = 0;
    while (k < e0.n && k < e1.n && e0.ids[k] == e1.ids[k]) k++;
    *pre = k;
    *post = e0.n - k;
    xf_encoding_free(&e0);
    xf_encoding_free(&e1);
    return CLI_EXIT_OK;
}

int cli_encode_prompt(const xf_tokenizer *tok, const char *text, size_t len, int strip_bos,
                      int32_t **ids, size_t *n) {
    size_t pre = 0, post = 0;
    int rc = cli_added_specials(tok, &pre, &post);
    if (rc) return rc;
    xf_encoding e;
    memset(&e, 0, sizeof e);
    if (xf_tokenize(tok, text, len, NULL, 0, 0, &e) != XF_OK) return cli_lib_error();
    size_t first = strip_bos ? pre : 0, count = e.n >= pre + post ? e.n - post - first : 0;
    int32_t *out = malloc((count ? count : 1) * sizeof *out);
    if (!out) {
        xf_encoding_free(&e);
        return cli_error("out of memory");
    }
    if (count) memcpy(out, e.ids + first, count * sizeof *out);
    xf_encoding_free(&e);
    *ids = out;
    *n = count;
    return CLI_EXIT_OK;
}

void cli_gen_end(cli_gen *g) {
    xf_session_free(g->s);
    xf_sampler_free(g->smp);
    xf_detok_stream_free(g->ds);
    free(g->logits);
    free(g->hist);
    memset(g, 0, sizeof *g);
}

int cli_gen_begin(cli_gen *g, xf_model *m, const cli_gen_opts *o, const xf_chat_template *tmpl) {
    memset(g, 0, sizeof *g);
    g->m = m;
    g->tok = xf_model_tokenizer(m);
    g->vocab = xf_model_vocab_size(m);
    g->max_tokens = o->max_tokens;
    g->ignore_eos = o->ignore_eos;
    xf_session_params sp = xf_session_default_params();
    sp.n_ctx = (size_t)o->ctx;
    sp.kv_policy = o->kv_policy;
    sp.kv_budget = (size_t)o->kv_budget;
    sp.kv_type = (xf_kv_type)o->kv_type;
    sp.quest_budget = (size_t)o->quest;
    sp.quest_page = (size_t)o->quest_page;
    if (xf_session_create_ex(m, &sp, &g->s) != XF_OK ||
        xf_sampler_create(&o->sp, g->vocab, &g->smp) != XF_OK ||
        xf_detok_stream_create(g->tok, 1, &g->ds) != XF_OK) {
        int rc = cli_lib_error();
        cli_gen_end(g);
        return rc;
    }
    g->cap = xf_session_n_ctx(g->s);
    g->logits = malloc(g->vocab * sizeof *g->logits);
    g->hist = malloc((g->cap ? g->cap : 1) * sizeof *g->hist);
    if (!g->logits || !g->hist) {
        cli_gen_end(g);
        return cli_error("out of memory");
    }
    int32_t eos = xf_model_eos_id(m);
    if (eos >= 0) g->stop_ids[g->n_stop_ids++] = eos;
    for (size_t k = 0; k < o->n_stops; k++) g->stops[g->n_stops++] = o->stops[k];
    if (tmpl) {
        size_t n;
        const char *const *st = xf_chat_template_stops(tmpl, &n);
        for (size_t k = 0; k < n; k++) {
            int32_t id = xf_tokenizer_token_to_id(g->tok, st[k]);
            if (id >= 0 && g->n_stop_ids < CLI_MAX_STOPS + 1) g->stop_ids[g->n_stop_ids++] = id;
            if (g->n_stops < 2 * CLI_MAX_STOPS) g->stops[g->n_stops++] = st[k];
        }
    }
    return CLI_EXIT_OK;
}

int cli_buf_add(cli_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) return -1;
        b->s = p;
        b->cap = cap;
    }
    if (n) memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
    return 0;
}

size_t cli_find_stop(const char *const *stops, size_t n_stops, const char *s, size_t n) {
    size_t best = n;
    for (size_t k = 0; k < n_stops; k++) {
        size_t l = strlen(stops[k]);
        for (size_t i = 0; i + l <= n && i < best; i++)
            if (!memcmp(s + i, stops[k], l)) {
                best = i;
                break;
            }
    }
    return best;
}

size_t cli_stop_prefix(const char *const *stops, size_t n_stops, const char *s, size_t n) {
    size_t keep = 0;
    for (size_t k = 0; k < n_stops; k++) {
        size_t l = strlen(stops[k]);
        for (size_t m = l - 1; m > keep; m--)
            if (m <= n && !memcmp(s + n - m, stops[k], m)) {
                keep = m;
                break;
            }
    }
    return keep;
}

static int is_stop_id(const cli_gen *g, int32_t id) {
    for (size_t k = 0; k < g->n_stop_ids; k++)
        if (g->stop_ids[k] == id) return 1;
    return 0;
}

static int emit(FILE *out, cli_buf *reply, const char *s, size_t n) {
    if (n == 0) return 0;
    if (fwrite(s, 1, n, out) != n || fflush(out) != 0) return cli_error("cannot write the output");
    if (reply && cli_buf_add(reply, s, n)) return cli_error("out of memory");
    return 0;
}

static int eval(cli_gen *g, const int32_t *ids, size_t n) {
    if (xf_session_eval(g->s, ids, n, g->logits) != XF_OK) return cli_lib_error();
    memcpy(g->hist + g->n_hist, ids, n * sizeof *ids);
    g->n_hist += n;
    return CLI_EXIT_OK;
}

int cli_gen_run(cli_gen *g, const int32_t *ids, size_t n, FILE *out, char **reply_out) {
    if (reply_out) *reply_out = NULL;
    g->n_prompt_eval = g->n_generated = 0;
    g->t_prompt = g->t_gen = 0;
    g->interrupted = 0;
    const size_t n_ctx = xf_session_n_ctx(g->s);
    if (n == 0) return cli_error("the prompt is empty (no tokens)");
    if (n >= n_ctx)
        return cli_error("the prompt has %zu tokens: it does not fit the context of %zu tokens "
                         "(leave room for at least one generated token; see --ctx)", n, n_ctx);
    /* Reuse the session when what it holds is a prefix of the new prompt. */
    size_t keep = g->n_hist <= n && !memcmp(g->hist, ids, g->n_hist * sizeof *ids) ? g->n_hist : 0;
    if (keep == n) keep = 0; /* need the logits after the last prompt token */
    if (keep == 0) {
        xf_session_reset(g->s);
        g->n_hist = 0;
    }
    double t0 = cli_now();
    int rc = eval(g, ids + keep, n - keep);
    g->n_prompt_eval = n - keep;
    g->t_prompt = cli_now() - t0;
    t0 = cli_now();
    if (rc) return rc;
    cli_buf pending = {0}, reply = {0};
    const char *text;
    size_t len;
    int stopped = 0;
    for (long t = 0; t < g->max_tokens && !rc && !stopped; t++) {
        int32_t id;
        if (g->interrupt && *g->interrupt) {
            g->interrupted = 1;
            break;
        }
        if (g->ignore_eos)
            for (size_t k = 0; k < g->n_stop_ids; k++) g->logits[g->stop_ids[k]] = -INFINITY;
        if (xf_sampler_sample(g->smp, g->logits, g->hist, g->n_hist, &id) != XF_OK) {
            rc = cli_lib_error();
            break;
        }
        g->n_generated++;
        if (is_stop_id(g, id)) break;
        if (xf_detok_stream_push(g->ds, id, &text, &len) != XF_OK) {
            rc = cli_lib_error();
            break;
        }
        if (cli_buf_add(&pending, text, len)) {
            rc = cli_error("out of memory");
            break;
        }
        size_t at = cli_find_stop(g->stops, g->n_stops, pending.s ? pending.s : "", pending.n);
        if (at < pending.n) {
            rc = emit(out, reply_out ? &reply : NULL, pending.s, at);
            pending.n = 0;
            stopped = 1;
            break;
        }
        size_t hold = cli_stop_prefix(g->stops, g->n_stops, pending.s, pending.n);
        rc = emit(out, reply_out ? &reply : NULL, pending.s, pending.n - hold);
        memmove(pending.s, pending.s + pending.n - hold, hold);
        pending.n = hold;
        if (t + 1 == g->max_tokens) break;
        if (g->n_hist >= n_ctx) {
            cli_note("the context of %zu tokens is full", n_ctx);
            break;
        }
        if (!rc) rc = eval(g, &id, 1);
    }
    if (xf_detok_stream_flush(g->ds, &text, &len) == XF_OK && !stopped && !rc &&
        !cli_buf_add(&pending, text, len)) {
        size_t at = cli_find_stop(g->stops, g->n_stops, pending.s ? pending.s : "", pending.n);
        rc = emit(out, reply_out ? &reply : NULL, pending.s, at);
    }
    free(pending.s);
    g->t_gen = cli_now() - t0;
    if (!rc && reply_out) {
        *reply_out = reply.s ? reply.s : calloc(1, 1);
        if (!*reply_out) rc = cli_error("out of memory");
    } else {
        free(reply.s);
    }
    return rc;
}

void cli_gen_report(const cli_gen *g, const cli_gen_opts *o) {
    const double tp = g->t_prompt > 0 ? g->t_prompt : 1e-9, tg = g->t_gen > 0 ? g->t_gen : 1e-9;
    fflush(stdout);
    fprintf(stderr, "xfmr: prompt %zu tokens in %.2f s (%.1f tokens/s), generated %zu tokens in %.2f s "
                    "(%.1f tokens/s)%s; seed %llu\n",
            g->n_prompt_eval, g->t_prompt, (double)g->n_prompt_eval / tp, g->n_generated, g->t_gen,
            (double)g->n_generated / tg, g->interrupted ? ", interrupted" : "",
            (unsigned long long)o->sp.seed);
}
