/* cmd_serve.c — `xfmr serve`: an HTTP server (OpenAI- and TEI-compatible) for one or more
 * models: options, loading the models and starting one worker thread per model, then the HTTP
 * layer (serve_http.c) until SIGTERM. Built only with libmicrohttpd (XF_HAVE_MHD); without it
 * the command says so. See docs/SERVE.md. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#ifdef XF_HAVE_MHD
#include "serve.h"
#endif

void cmd_serve_help(FILE *f) {
    fputs("usage: xfmr serve -m MODEL [-m MODEL ...] [OPTIONS]\n"
          "\n"
          "Serve models over HTTP until SIGTERM / Ctrl-C: OpenAI-compatible POST /v1/embeddings,\n"
          "/v1/chat/completions (\"stream\": true for server-sent events), /v1/completions and\n"
          "GET /v1/models; TEI-compatible POST /embed, /tokenize, GET /health, /info; Prometheus\n"
          "GET /metrics; POST /v1/search over stores made by `xfmr index` (--index).\n"
          "Embedding requests that arrive together run as one batch; generation\n"
          "runs the decode steps of all active requests as one batched step (continuous\n"
          "batching). A request names its model by \"model\" (the folder or file base name);\n"
          "without one it gets the first embedding / generation model. See docs/SERVE.md.\n"
          "\n"
          "Options:\n"
          "  -m, --model MODEL     a model to serve (repeatable: encoders and decoders)\n"
          "      --host ADDR       address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
          "      --port N          TCP port (default 8080; 0 = any free port, printed at start)\n"
          "      --api-key KEY     require \"Authorization: Bearer KEY\" (except GET /health);\n"
          "                        default: $XFMR_API_KEY when set, else no key\n"
          "      --threads N       threads per model (default: the CPUs usable)\n"
          CLI_HELP_WEIGHTS
          "                        (every model served)\n"
          "      --ctx N           context of a generation session (default: the model's,\n"
          "                        at most 8192)\n"
          "      --index STORE     serve a search index made by `xfmr index` (a SQLite file\n"
          "                        or a postgresql:// URI; repeatable) on POST /v1/search;\n"
          "                        the embedding model it was built with must be served (-m)\n"
          CLI_HELP_ADAPTIVE
          "                        (applied to every model served: give encoders only)\n"
          "Limits:\n"
          "      --max-body BYTES  request body size (default 8388608); larger: 413\n"
          "      --max-inputs N    texts per embedding / tokenize request (default 2048)\n"
          "      --max-tokens N    tokens one request may generate, and the default when it\n"
          "                        asks for none (default 1024)\n"
          "      --max-sessions N  generation requests run at once per model, 1..64 (default 8)\n"
          "      --max-queue N     requests waiting per model before 503 (default 256)\n"
          "      --max-connections N  HTTP connections at once (default 256)\n"
          "      --timeout S       seconds a generation may run (default 600); then 504\n"
          "      --idle-timeout S  seconds a connection may stay silent (default 30)\n"
          "      --grace S         seconds requests in flight get at shutdown (default 10)\n"
          "      --batch-wait-ms MS  how long an embedding batch may wait for requests that\n"
          "                        are being parsed (default 2; none when no other is)\n"
          "      --batch-texts N   most texts in one embedding batch (default 256)\n"
          "      --decode-batch N  most sessions in one batched decode step (default: 8 for\n"
          "                        GGUF block-quantized weights, whose kernels are fastest and\n"
          "                        bitwise a lone session's up to 8 rows; else --max-sessions)\n"
          "      --no-prefix-cache  evaluate every prompt whole (default: a prompt starts from\n"
          "                        the longest prefix it shares with a prompt a session holds;\n"
          "                        only with caches that keep every token: f32, f16, q8)\n"
          "KV cache of every generation session (docs/LONG_CONTEXT.md; default f32, keep all):\n"
          CLI_HELP_KV
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr serve -m all-MiniLM-L6-v2 -m " CLI_DEFAULT_DECODER "\n"
          "  curl -s localhost:8080/v1/embeddings -H 'Content-Type: application/json' \\\n"
          "       -d '{\"model\": \"all-MiniLM-L6-v2\", \"input\": \"A man is eating food.\"}'\n"
          "  xfmr serve -m all-MiniLM-L6-v2 --index docs.db\n"
          "  curl -s localhost:8080/v1/search -d '{\"query\": \"how do I join two paths\", \"top_k\": 3}'\n"
          "  curl -sN localhost:8080/v1/chat/completions -d '{\"messages\": [{\"role\": \"user\",\n"
          "       \"content\": \"What is the capital of France?\"}], \"stream\": true}'\n"
          "  xfmr serve -m " CLI_DEFAULT_DECODER " --max-sessions 16 --kv-type q8 --kv-policy h2o \\\n"
          "       --kv-budget 1024 --ctx 8192   (each session keeps 1,024 q8 tokens a layer)\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

#ifndef XF_HAVE_MHD

int cmd_serve(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_error("serve: this xfmr was built without libmicrohttpd (install libmicrohttpd-dev, "
                     "e.g. scripts/install_deps.sh, and rebuild)");
}

#else

enum {
    OPT_HOST = 1, OPT_PORT, OPT_API_KEY, OPT_CTX, OPT_MAX_BODY, OPT_MAX_INPUTS, OPT_MAX_TOKENS, OPT_MAX_SESSIONS,
    OPT_MAX_QUEUE, OPT_MAX_CONN, OPT_TIMEOUT, OPT_IDLE, OPT_GRACE, OPT_BATCH_WAIT, OPT_BATCH_TEXTS, OPT_DECODE_BATCH,
    OPT_INDEX, OPT_NO_PREFIX_CACHE
};

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS, CLI_OPTS_ADAPTIVE, CLI_OPTS_KV, {OPT_HOST, 0, "host", 1}, {OPT_PORT, 0, "port", 1},
    {OPT_API_KEY, 0, "api-key", 1}, {OPT_CTX, 0, "ctx", 1}, {OPT_MAX_BODY, 0, "max-body", 1},
    {OPT_MAX_INPUTS, 0, "max-inputs", 1}, {OPT_MAX_TOKENS, 0, "max-tokens", 1},
    {OPT_MAX_SESSIONS, 0, "max-sessions", 1}, {OPT_MAX_QUEUE, 0, "max-queue", 1},
    {OPT_MAX_CONN, 0, "max-connections", 1}, {OPT_TIMEOUT, 0, "timeout", 1}, {OPT_IDLE, 0, "idle-timeout", 1},
    {OPT_GRACE, 0, "grace", 1}, {OPT_BATCH_WAIT, 0, "batch-wait-ms", 1}, {OPT_BATCH_TEXTS, 0, "batch-texts", 1},
    {OPT_DECODE_BATCH, 0, "decode-batch", 1}, {OPT_INDEX, 0, "index", 1}, {OPT_NO_PREFIX_CACHE, 0, "no-prefix-cache", 0},
};

static void model_free(srv_model *m) {
    xf_chat_template_free(m->tmpl);
    xf_model_free(m->m);
    free(m->id);
    free(m->path);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->tmpl_mu);
    pthread_cond_destroy(&m->work_cv);
    pthread_cond_destroy(&m->done_cv);
}

static int model_load(srv_server *s, srv_model *sm, const cli_model_opts *mo_base, const char *name, long ctx,
                      size_t decode_batch) {
    cli_model_opts mo = *mo_base;
    mo.model = name;
    sm->srv = s;
    pthread_mutex_init(&sm->mu, NULL);
    pthread_mutex_init(&sm->tmpl_mu, NULL);
    pthread_cond_init(&sm->work_cv, NULL);
    pthread_cond_init(&sm->done_cv, NULL);
    sm->path = cli_resolve_model(name, NULL);
    if (!sm->path) return CLI_EXIT_FAIL;
    const char *base = strrchr(sm->path, '/');
    base = base && base[1] ? base + 1 : sm->path;
    sm->id = strdup(base);
    if (!sm->id) return cli_error("out of memory");
    size_t l = strlen(sm->id);
    if (l > 5 && !strcmp(sm->id + l - 5, ".gguf")) sm->id[l - 5] = '\0';
    for (size_t k = 0; k < (size_t)(sm - s->models); k++)
        if (!strcmp(s->models[k].id, sm->id))
            return cli_usage_error("serve", "two models are named '%s': serve models with different names", sm->id);
    int rc = cli_load_model(&mo, 1, &sm->m);
    if (rc) return rc;
    xf_model_info in = xf_model_info_init();
    if (xf_model_get_info(sm->m, &in) != XF_OK) return cli_lib_error();
    sm->tok = xf_model_tokenizer(sm->m);
    sm->decoder = in.is_decoder;
    sm->dim = xf_model_embedding_dim(sm->m);
    sm->n_labels = xf_model_n_labels(sm->m);
    sm->max_len = xf_model_max_length(sm->m);
    sm->vocab = xf_model_vocab_size(sm->m);
    if (sm->decoder) {
        size_t n = in.max_position ? in.max_position : 2048;
        if (n > 8192) n = 8192;
        if (ctx > 0) n = (size_t)ctx;
        if (n > in.max_position && in.max_position)
            return cli_usage_error("serve", "--ctx %ld is larger than %s's %zu positions", ctx, sm->id, in.max_position);
        sm->n_ctx = n;
        /* The KV settings are checked here, once (a bad policy name, budget or cache type stops the
         * start), with a session made as the worker will make them; whether its sessions may share
         * prompt prefixes is the library's answer for that session (a copy onto itself). */
        xf_session_params sp = s->kv;
        sp.n_ctx = n;
        xf_session *probe = NULL;
        if (xf_session_create_ex(sm->m, &sp, &probe) != XF_OK)
            return cli_error("serve: %s: the KV-cache options: %s", sm->id, xf_errmsg());
        sm->share_prefix = xf_session_copy_prefix(probe, probe, 0) == XF_OK;
        if (!sm->share_prefix && !s->lim.no_prefix_cache)
            cli_note("serve: %s: no prefix cache (%s)", sm->id, xf_errmsg());
        xf_session_free(probe);
        xf_status st = xf_chat_template_from_model(sm->m, &sm->tmpl);
        if (st != XF_OK && st != XF_ERR_NOT_FOUND)
            cli_note("serve: %s: chat template not usable, /v1/chat/completions refused: %s", sm->id, xf_errmsg());
        cli_gen_opts go;
        cli_gen_opts_init(&go);
        cli_gen_sampling(&go, sm->m);
        sm->sp = go.sp;
        sm->eos = xf_model_eos_id(sm->m);
        int quantized = in.dtypes && (strstr(in.dtypes, "Q") || strstr(in.dtypes, "IQ"));
        sm->decode_batch = decode_batch ? decode_batch : quantized ? 8 : s->lim.max_sessions;
    }
    return CLI_EXIT_OK;
}

int srv_models_start(srv_server *s, const cli_model_opts *mo, char **names, size_t n, long ctx, size_t decode_batch) {
    s->models = calloc(n, sizeof *s->models);
    if (!s->models) return cli_error("out of memory");
    for (size_t k = 0; k < n; k++) {
        s->n_models = k + 1;
        int rc = model_load(s, &s->models[k], mo, names[k], ctx, decode_batch);
        if (rc) return rc;
    }
    for (size_t k = 0; k < n; k++) {
        srv_model *m = &s->models[k];
        if (pthread_create(&m->thread, NULL, m->decoder ? srv_gen_worker : srv_embed_worker, m))
            return cli_error("serve: cannot start the worker thread of %s", m->id);
        m->started = 1;
    }
    return CLI_EXIT_OK;
}

void srv_models_stop(srv_server *s) {
    for (size_t k = 0; k < s->n_models; k++) {
        srv_model *m = &s->models[k];
        if (m->started) {
            pthread_mutex_lock(&m->mu);
            m->stop = 1;
            pthread_cond_broadcast(&m->work_cv);
            pthread_mutex_unlock(&m->mu);
            pthread_join(m->thread, NULL);
        }
        model_free(m);
    }
    free(s->models);
    s->models = NULL;
    s->n_models = 0;
}

static int parse_size(cli_parser *p, const char *arg, long lo, long hi, size_t *out) {
    long v;
    if (cli_parse_int("serve", p->optname, arg, lo, hi, &v)) return -1;
    *out = (size_t)v;
    return 0;
}

int cmd_serve(int argc, char **argv) {
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    srv_server srv;
    memset(&srv, 0, sizeof srv);
    srv_limits *lim = &srv.lim;
    lim->max_body = 8u << 20;
    lim->max_inputs = 2048;
    lim->max_tokens = 1024;
    lim->max_sessions = 8;
    lim->max_queue = 256;
    lim->max_connections = 256;
    lim->timeout = 600;
    lim->idle_timeout = 30;
    lim->grace = 10;
    lim->batch_wait = 0.002;
    lim->batch_texts = 256;
    const char *host = "127.0.0.1";
    long port = 8080, ctx = 0;
    size_t decode_batch = 0;
    const char *kv_policy = NULL;
    long kv_budget = 0, quest = 0, quest_page = 0;
    int kv_type = XF_KV_F32;
    srv.api_key = getenv("XFMR_API_KEY");
    if (srv.api_key && !srv.api_key[0]) srv.api_key = NULL;
    char **names = calloc((size_t)argc + 1, sizeof *names), **dbs = calloc((size_t)argc + 1, sizeof *dbs);
    size_t n_names = 0, n_dbs = 0;
    if (!names || !dbs) {
        free(names);
        free(dbs);
        return cli_error("out of memory");
    }
    cli_parser p;
    cli_parser_init(&p, "serve", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    const char *arg;
    int id, bad = 0;
    size_t tmp = 0;
    double d;
    while (!bad && (id = cli_next(&p, &arg)) != CLI_DONE) {
        switch (id) {
        case CLI_HELP:
            cmd_serve_help(stdout);
            free(names);
            free(dbs);
            return CLI_EXIT_OK;
        case CLI_BAD: bad = 1; break;
        case CLI_ARG: bad = 1; cli_usage_error("serve", "unexpected argument '%s' (models are given with -m)", arg); break;
        case CLI_OPT_MODEL:
            if (!arg[0]) {
                bad = 1;
                cli_usage_error("serve", "-m needs a model folder or name");
            } else {
                names[n_names++] = (char *)arg;
            }
            break;
        case OPT_HOST: host = arg; break;
        case OPT_PORT: bad = cli_parse_int("serve", "--port", arg, 0, 65535, &port) != 0; break;
        case OPT_API_KEY:
            if (!arg[0]) {
                bad = 1;
                cli_usage_error("serve", "--api-key needs a non-empty key");
            }
            srv.api_key = arg;
            break;
        case OPT_CTX: bad = cli_parse_int("serve", "--ctx", arg, 2, 10000000, &ctx) != 0; break;
        case OPT_MAX_BODY: bad = parse_size(&p, arg, 64, 1L << 32, &lim->max_body) != 0; break;
        case OPT_MAX_INPUTS: bad = parse_size(&p, arg, 1, 1000000, &lim->max_inputs) != 0; break;
        case OPT_MAX_TOKENS: bad = parse_size(&p, arg, 1, 10000000, &lim->max_tokens) != 0; break;
        case OPT_MAX_SESSIONS: bad = parse_size(&p, arg, 1, 64, &lim->max_sessions) != 0; break;
        case OPT_MAX_QUEUE: bad = parse_size(&p, arg, 1, 1000000, &lim->max_queue) != 0; break;
        case OPT_MAX_CONN: bad = parse_size(&p, arg, 1, 100000, &lim->max_connections) != 0; break;
        case OPT_TIMEOUT:
        case OPT_IDLE:
        case OPT_GRACE:
            bad = parse_size(&p, arg, id == OPT_GRACE ? 0 : 1, 1000000, &tmp) != 0;
            if (id == OPT_TIMEOUT) lim->timeout = (double)tmp;
            if (id == OPT_IDLE) lim->idle_timeout = (unsigned)tmp;
            if (id == OPT_GRACE) lim->grace = (int)tmp;
            break;
        case OPT_BATCH_WAIT:
            bad = cli_parse_double("serve", "--batch-wait-ms", arg, &d) != 0;
            if (!bad && !(d >= 0 && d <= 10000)) {
                bad = 1;
                cli_usage_error("serve", "--batch-wait-ms %s: expected 0 to 10000", arg);
            }
            lim->batch_wait = d / 1000.0;
            break;
        case OPT_BATCH_TEXTS: bad = parse_size(&p, arg, 1, 100000, &lim->batch_texts) != 0; break;
        case OPT_DECODE_BATCH: bad = parse_size(&p, arg, 1, 64, &decode_batch) != 0; break;
        case OPT_NO_PREFIX_CACHE: lim->no_prefix_cache = 1; break;
        case OPT_INDEX:
            if (!arg[0]) {
                bad = 1;
                cli_usage_error("serve", "--index needs a store made by `xfmr index` (a file or postgresql:// URI)");
            }
            dbs[n_dbs++] = (char *)arg;
            break;
        default: {
            int r = cli_kv_option(&p, id, arg, &kv_policy, &kv_budget, &kv_type, &quest, &quest_page);
            if (r == 0) r = cli_model_option(&p, id, arg, &mo);
            if (r <= 0) bad = 1;
        }
        }
    }
    if (!bad) bad = cli_kv_check("serve", kv_policy, kv_budget, quest, quest_page) != 0;
    if (!bad && n_names == 0) {
        bad = 1;
        cli_usage_error("serve", "give at least one model with -m (e.g. -m " CLI_DEFAULT_ENCODER " -m "
                                 CLI_DEFAULT_DECODER ")");
    }
    if (bad) {
        free(names);
        free(dbs);
        return CLI_EXIT_USAGE;
    }
    lim->default_tokens = lim->max_tokens;
    srv.kv = xf_session_default_params();
    srv.kv.kv_policy = kv_policy;
    srv.kv.kv_budget = (size_t)kv_budget;
    srv.kv.kv_type = (xf_kv_type)kv_type;
    srv.kv.quest_budget = (size_t)quest;
    srv.kv.quest_page = (size_t)quest_page;
    /* SIGTERM / SIGINT are taken by sigwait in the HTTP layer: block them before any thread
     * starts (every thread inherits the mask); a peer that hangs up must not kill us. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    srv.t_start = (double)time(NULL);
    srv.t_start_mono = cli_now();
    int rc = srv_models_start(&srv, &mo, names, n_names, ctx, decode_batch);
    if (!rc) rc = srv_stores_open(&srv, dbs, n_dbs);
    if (!rc) rc = srv_http_run(&srv, host, (int)port);
    srv_stores_close(&srv); /* they borrow the models */
    srv_models_stop(&srv);
    free(names);
    free(dbs);
    return rc;
}

#endif /* XF_HAVE_MHD */
