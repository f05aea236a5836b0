/* serve.h — internals of `xfmr serve` (docs/SERVE.md): the served models and their worker
 * threads (serve_embed.c: embedding requests batched across clients; serve_gen.c: generation with
 * continuous batching), the JSON requests and answers (serve_api.c) and the HTTP layer on
 * libmicrohttpd (serve_http.c). Every call into a model runs on that model's one worker thread:
 * the library lets only one call at a time use a model (sessions share its thread pool), so the
 * HTTP threads only parse, tokenize, render chat templates and wait. */
#ifndef XFMR_SERVE_H
#define XFMR_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

#define SRV_MAX_STOPS 16  /* request "stop" strings (OpenAI allows 4) + template stops */
#define SRV_ERR_MAX 512

/* Limits of one server (command-line options). */
typedef struct srv_limits {
    size_t max_body;        /* request body bytes */
    size_t max_inputs;      /* texts of one embedding request */
    size_t max_tokens;      /* tokens one request may generate (and default when absent) */
    size_t default_tokens;  /* max_tokens when a request gives none */
    size_t max_sessions;    /* generation sessions run at once per model (the batch) */
    size_t max_queue;       /* requests waiting per model before 503 */
    size_t max_connections; /* HTTP connections at once */
    double timeout;         /* seconds per request */
    unsigned idle_timeout;  /* seconds a connection may stay silent (slow senders, idle keep-alive) */
    int grace;              /* seconds in-flight requests get at shutdown */
    double batch_wait;      /* seconds an embedding batch waits for more requests */
    size_t batch_texts;     /* most texts in one embedding batch */
    int no_prefix_cache;    /* --no-prefix-cache: every prompt evaluated whole (serve_gen.c) */
} srv_limits;

/* A text grown by appends (gen.c). */
typedef cli_buf srv_buf;
#define srv_buf_add cli_buf_add
int srv_buf_printf(srv_buf *b, const char *fmt, ...) CLI_PRINTF(2, 3);
void srv_buf_free(srv_buf *b);

/* ---------------------------------------------------------------- jobs */

/* An embedding request: encodings made by the HTTP thread, vectors written by the worker (for a
 * cross-encoder / classifier model: the logits, n_labels per encoding). */
typedef struct srv_embed_job {
    xf_encoding *encs;
    size_t n;
    float *out;                 /* n x dim (classifiers: n x n_labels) */
    int done;                   /* under the model's mutex */
    int failed;
    char err[SRV_ERR_MAX];
    pthread_cond_t cv;          /* the worker wakes this job's thread alone */
    struct srv_embed_job *next;
} srv_embed_job;

/* A generation request. Shared by the HTTP thread and the worker (refs); fields below "out"
 * are under the model's mutex. */
typedef struct srv_gen_job {
    int32_t *ids;               /* prompt */
    size_t n_ids;
    xf_sampler_params sp;
    size_t max_tokens;
    char *stops[SRV_MAX_STOPS]; /* text-level stops (owned) */
    size_t n_stops;
    int32_t stop_ids[SRV_MAX_STOPS + 1];
    size_t n_stop_ids;
    double deadline;            /* cli_now() seconds */
    /* out: */
    srv_buf text;               /* text generated so far */
    size_t n_completion;        /* tokens sampled */
    int finished;               /* 1: finish_reason set, or failed */
    const char *finish_reason;  /* "stop" or "length" */
    int failed;
    int http_status;            /* of a failure */
    char err[SRV_ERR_MAX];
    int cancelled;              /* the client went away or the deadline passed */
    int refs;
    struct srv_gen_job *next;
} srv_gen_job;

/* ---------------------------------------------------------------- models */

typedef struct srv_server srv_server;

typedef struct srv_model {
    srv_server *srv;
    char *id;                   /* the name clients use: base name of the path */
    char *path;
    xf_model *m;
    const xf_tokenizer *tok;
    int decoder;
    size_t dim, max_len, vocab, n_ctx;
    size_t n_labels;            /* outputs of a cross-encoder / classifier head; 0: an embedding model */
    xf_chat_template *tmpl;     /* decoders; NULL when the model has none */
    pthread_mutex_t tmpl_mu;    /* chat rendering, one at a time */
    xf_sampler_params sp;       /* sampling defaults (the model's, else xfmr's) */
    int32_t eos;
    /* Most sessions in one xf_session_step_batch: GGUF block-quantized weights take a GEMV path
     * up to 4 rows (bitwise a lone session's result, and cheaper per row) and a GEMM path above,
     * which costs more than two 4-row steps on such models; float weights batch without limit.
     * --decode-batch overrides. */
    size_t decode_batch;
    /* The sessions keep every token in order (an f32, f16 or q8 cache, no evicting --kv-policy, no
     * --quest): a new prompt may start from a prefix another one holds (serve_gen.c). */
    int share_prefix;
    /* worker */
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;     /* the worker waits for jobs */
    pthread_cond_t done_cv;     /* HTTP threads wait for results */
    srv_embed_job *eq_head, *eq_tail;
    srv_gen_job *gq_head, *gq_tail;
    size_t queued, active;
    int stop;
    int cancel_all;             /* shutdown past its grace: fail every job */
    /* statistics (atomics: read by /metrics) */
    atomic_ulong n_batches, n_batched_items, n_tokens_in, n_tokens_out;
    atomic_ulong n_tokens_cached; /* prompt tokens copied from a shared prefix (serve_gen.c) */
    atomic_ulong kv_bytes;        /* KV cache its sessions hold now (after the last step) */
} srv_model;

/* A search store made by `xfmr index` (--index), searched by POST /v1/search
 * (serve_search_api.c); its queries are embedded by the model it was built with. */
typedef struct srv_store {
    char *id;                   /* the name requests use: the file's base name without .db */
    char *db;
    xf_index *ix;               /* read-only; not thread-safe: under mu */
    srv_model *model;
    size_t n_chunks;
    pthread_mutex_t mu;
} srv_store;

struct srv_server {
    srv_model *models;
    size_t n_models;
    srv_store *stores;
    size_t n_stores;
    srv_limits lim;
    /* The KV cache of every generation session (--kv-type, --kv-policy, --kv-budget, --quest,
     * --quest-page; docs/LONG_CONTEXT.md); n_ctx is each model's. */
    xf_session_params kv;
    const char *api_key;
    atomic_int shutting_down;
    atomic_long inflight;
    atomic_long embed_inflight; /* requests in the endpoints that embed (embeddings, search, rerank):
                                   an encoder's worker waits for company only while some of them
                                   are not yet queued (being parsed and tokenized) */
    double t_start;             /* time(NULL) at start */
    double t_start_mono;        /* cli_now() at start */
    /* request counters by endpoint and class */
    atomic_ulong req_total[16], req_4xx[16], req_5xx[16];
    atomic_ulong req_cancelled;
    /* latency sums, seconds x 1e6 */
    atomic_ulong lat_us_sum[16];
};

/* Load every model, start its worker. 0, or an exit code after printing the error. */
int srv_models_start(srv_server *s, const cli_model_opts *mo, char **names, size_t n, long ctx,
                     size_t decode_batch);
void srv_models_stop(srv_server *s);
/* Open the stores (--index) read-only, each with the served embedding model it was built with
 * (another model: an error naming both); 0, or an exit code after printing the error. */
int srv_stores_open(srv_server *s, char **dbs, size_t n);
void srv_stores_close(srv_server *s);
/* What a served model does: its endpoints. */
enum { SRV_KIND_EMBED = 0, SRV_KIND_GEN = 1, SRV_KIND_CLS = 2 };
static inline int srv_kind(const srv_model *m) {
    return m->decoder ? SRV_KIND_GEN : m->n_labels ? SRV_KIND_CLS : SRV_KIND_EMBED;
}
/* The model a request names (NULL name: the first of the kind, SRV_KIND_*; -1 = any). */
srv_model *srv_find_model(srv_server *s, const char *name, int want_kind);

/* serve_embed.c: the encoder's worker. Submit and wait for the vectors (job->done). */
void *srv_embed_worker(void *arg);
void srv_embed_submit_wait(srv_model *m, srv_embed_job *job);

/* serve_gen.c: the decoder's worker. Submit (job->refs counts the worker's reference);
 * returns -1 when the queue is full (503). */
void *srv_gen_worker(void *arg);
int srv_gen_submit(srv_model *m, srv_gen_job *job);
/* Drop a reference (under no lock); frees the job at 0. */
void srv_gen_release(srv_model *m, srv_gen_job *job);
void srv_gen_job_free(srv_gen_job *job);

/* ---------------------------------------------------------------- requests (serve_api.c) */

/* An answer: HTTP status and body (JSON), or a stream (for SSE). */
typedef struct srv_reply {
    int status;
    srv_buf body;
    const char *content_type;   /* static */
    /* streaming generation: the job and how to format its events */
    srv_gen_job *stream;
    srv_model *stream_model;
    int stream_chat;            /* chat.completion.chunk vs text_completion */
    char stream_id[48];
    long created;
    size_t n_prompt;
    int include_usage;
} srv_reply;

/* OpenAI-shaped error body {"error": {"message", "type", "param", "code"}} with status. */
void srv_error(srv_reply *r, int status, const char *param, const char *code, const char *fmt, ...)
    CLI_PRINTF(5, 6);

/* Endpoint indices (metrics). */
enum {
    SRV_EP_EMBEDDINGS, SRV_EP_CHAT, SRV_EP_COMPLETIONS, SRV_EP_MODELS, SRV_EP_EMBED, SRV_EP_TOKENIZE,
    SRV_EP_HEALTH, SRV_EP_INFO, SRV_EP_RERANK, SRV_EP_METRICS, SRV_EP_PREDICT, SRV_EP_SEARCH, SRV_EP_OTHER,
    SRV_EP_COUNT
};
extern const char *const srv_endpoint_names[SRV_EP_COUNT];

/* Route a request: method, path and body (NUL-terminated, len bytes). client_fd (-1 unknown)
 * lets a waiting request notice that the client went away. Fills *r. Returns the endpoint index. */
int srv_handle(srv_server *s, const char *method, const char *url, const char *body, size_t len,
               int client_fd, srv_reply *r);

/* Streaming: the next SSE bytes of r->stream into out (blocking until there are some);
 * returns 1 with out filled, 0 at the end (after "data: [DONE]"), -1 when the client is gone. */
int srv_stream_next(srv_reply *r, int client_fd, srv_buf *out);
void srv_reply_free(srv_reply *r);

/* 1 when the peer of fd has hung up. */
int srv_client_gone(int fd);

/* Run the HTTP server until SIGTERM / SIGINT (serve_http.c). Returns an exit code. */
int srv_http_run(srv_server *s, const char *host, int port);

#endif /* XFMR_SERVE_H */
