/* fuzz_serve.c — libFuzzer harness: the request handling of `xfmr serve` (tools/xfmr/serve_*.c)
 * without its HTTP layer. Byte 0 picks the endpoint (and method), the rest is the request body,
 * handed to srv_handle as libmicrohttpd would; a stream is drained to its end. The models are the
 * tiny test models (tests/data/tiny/bert and llama, the latter with the built-in chatml
 * template), each with its worker thread, loaded once, and a search store (POST /v1/search) of
 * two small documents indexed with the tiny bert into a temporary SQLite file (removed at exit);
 * the limits are small so that every input is quick. Every answer must be a status with a JSON body (or a complete stream). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "serve.h"

static srv_server g_srv;
static srv_model g_models[2];

static void load(srv_model *m, const char *rel, int decoder) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 1;
    m->srv = &g_srv;
    m->path = strdup(fz_src(rel));
    m->id = strdup(decoder ? "llama" : "bert");
    if (!m->path || !m->id || xf_model_load(m->path, &p, &m->m) != XF_OK) abort();
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->tmpl_mu, NULL);
    pthread_cond_init(&m->work_cv, NULL);
    pthread_cond_init(&m->done_cv, NULL);
    m->tok = xf_model_tokenizer(m->m);
    m->decoder = decoder;
    m->dim = xf_model_embedding_dim(m->m);
    m->max_len = xf_model_max_length(m->m);
    m->vocab = xf_model_vocab_size(m->m);
    if (decoder) {
        m->n_ctx = 64;
        if (xf_chat_template_from_name("chatml", &m->tmpl) != XF_OK) abort();
        m->sp = xf_sampler_default_params();
        m->eos = xf_model_eos_id(m->m);
        m->decode_batch = 1;
    }
    if (pthread_create(&m->thread, NULL, decoder ? srv_gen_worker : srv_embed_worker, m)) abort();
    m->started = 1;
}

static char g_dir[] = "/tmp/fuzz_serve_XXXXXX";
static char g_db[64];

static void remove_store(void) {
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    char p[96];
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(p, sizeof p, "%s%s", g_db, sfx[i]);
        unlink(p);
    }
    rmdir(g_dir);
}

/* A store of two documents indexed with the tiny bert, served as "docs". */
static void make_store(void) {
    if (!mkdtemp(g_dir)) abort();
    snprintf(g_db, sizeof g_db, "%s/docs.db", g_dir);
    atexit(remove_store);
    xf_index *ix;
    static const char md[] = "# Paths\n\n## Joining\nos.path.join joins paths.\n\n## Splitting\nos.path.split.\n";
    static const char txt[] = "Bake the bread.\n\nLet the dough rise.\n";
    if (xf_index_open(g_db, g_models[0].m, NULL, &ix) != XF_OK || xf_index_add_text(ix, "/d/a.md", md, strlen(md), NULL) ||
        xf_index_add_text(ix, "/d/b.txt", txt, strlen(txt), NULL) || xf_index_commit(ix))
        abort();
    xf_index_free(ix);
    char *dbs[1] = {g_db};
    if (srv_stores_open(&g_srv, dbs, 1) != 0) abort();
}

static void init(void) {
    srv_limits *l = &g_srv.lim;
    l->max_body = 1 << 16;
    l->max_inputs = 8;
    l->max_tokens = 4;
    l->default_tokens = 4;
    l->max_sessions = 2;
    l->max_queue = 4;
    l->max_connections = 4;
    l->timeout = 30;
    l->batch_wait = 0;
    l->batch_texts = 16;
    g_srv.models = g_models;
    g_srv.n_models = 2;
    load(&g_models[0], "tests/data/tiny/bert", 0);
    load(&g_models[1], "tests/data/tiny/llama", 1);
    make_store();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        init();
        ready = 1;
    }
    if (size < 1) return 0;
    static const char *const routes[][2] = {
        {"POST", "/v1/embeddings"}, {"POST", "/v1/chat/completions"}, {"POST", "/v1/completions"},
        {"POST", "/embed"},         {"POST", "/tokenize"},            {"GET", "/v1/models"},
        {"GET", "/info"},           {"GET", "/metrics"},              {"POST", "/rerank"},
        {"GET", "/nothing?x=1"},    {"GET", "/v1/embeddings"},        {"GET", "/health"}};
    const size_t n_routes = sizeof routes / sizeof routes[0];
    const char *const *rt = routes[data[0] % n_routes];
    char *body = malloc(size);
    if (!body) abort();
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    srv_reply r;
    memset(&r, 0, sizeof r);
    srv_handle(&g_srv, rt[0], rt[1], body, size - 1, -1, &r);
    if (r.stream) {
        srv_buf out = {0}, last = {0};
        int rc, n = 0;
        while ((rc = srv_stream_next(&r, -1, &out)) == 1) {
            if (++n > 1000) __builtin_trap(); /* a stream must end */
            last.n = 0;
            srv_buf_add(&last, out.s, out.n);
        }
        if (rc != 0) __builtin_trap();
        if (last.n < 14 || memcmp(last.s + last.n - 14, "data: [DONE]\n\n", 14)) __builtin_trap();
        srv_buf_free(&out);
        srv_buf_free(&last);
    } else if (r.status < 200 || r.status > 599 || (r.status >= 400 && (!r.body.s || !strstr(r.body.s, "\"message\"")))) {
        __builtin_trap();
    }
    srv_reply_free(&r);
    free(body);
    return 0;
}
