/* serve_http.c — the HTTP layer of `xfmr serve` on libmicrohttpd: one thread per connection
 * (the handlers wait for the model workers), request bodies bounded by --max-body (413 at once
 * when Content-Length or the bytes received pass it), optional API key (Authorization: Bearer),
 * server-sent events for streams (chunked), and a graceful shutdown on SIGTERM / SIGINT: stop
 * accepting, let the requests in flight finish within --grace seconds, then fail the rest. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

typedef struct conn {
    srv_server *s;
    srv_buf body;
    int rejected;    /* a response was queued before the body ended (413) */
    int too_big;     /* the body passed --max-body: dropped, 413 at its end */
    uint64_t received;
    int ep;
    double t0;
    int fd;
    srv_reply reply;
    srv_buf sse;     /* SSE bytes not yet handed to MHD */
    size_t sse_off;
} conn;

static void count(srv_server *s, int ep, int status) {
    atomic_fetch_add(&s->req_total[ep], 1);
    if (status >= 400 && status < 500) atomic_fetch_add(&s->req_4xx[ep], 1);
    if (status >= 500) atomic_fetch_add(&s->req_5xx[ep], 1);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, conn *k, const srv_reply *r) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->body.n, r->body.s ? r->body.s : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
    if (r->status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    count(k->s, k->ep, r->status);
    return rc;
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    conn *k = cls;
    if (k->sse_off == k->sse.n) {
        k->sse_off = 0;
        int rc = srv_stream_next(&k->reply, k->fd, &k->sse);
        if (rc < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (rc == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = k->sse.n - k->sse_off;
    if (n > max) n = max;
    memcpy(buf, k->sse.s + k->sse_off, n);
    k->sse_off += n;
    return (ssize_t)n;
}

static int auth_ok(struct MHD_Connection *c, const char *key) {
    if (!key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    size_t a = strlen(h), b = strlen(key);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < a && i < b; i++) diff |= (unsigned char)(h[i] ^ key[i]);
    return diff == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    srv_server *s = cls;
    conn *k = *con_cls;
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k) return MHD_NO;
        k->s = s;
        k->t0 = cli_now();
        k->ep = SRV_EP_OTHER;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : -1;
        *con_cls = k;
        atomic_fetch_add(&s->inflight, 1);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->lim.max_body) {
            srv_reply r = {0};
            srv_error(&r, 413, NULL, "body_too_large", "the request body has %s bytes: at most %zu (--max-body)", cl,
                      s->lim.max_body);
            k->rejected = 1;
            enum MHD_Result rc = send_reply(c, k, &r);
            srv_buf_free(&r.body);
            return rc;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* A body that grows past the limit without a Content-Length saying so (chunked): the
         * rest is read and dropped, then 413; one that goes on past 4x the limit is cut off. */
        k->received += *upload_size;
        if (k->received > s->lim.max_body) {
            srv_buf_free(&k->body);
            k->too_big = 1;
            if (k->received / 4 > s->lim.max_body) return MHD_NO;
        } else if (srv_buf_add(&k->body, upload, *upload_size)) {
            return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (k->too_big) {
        srv_reply r = {0};
        srv_error(&r, 413, NULL, "body_too_large", "the request body has %llu bytes: at most %zu (--max-body)",
                  (unsigned long long)k->received, s->lim.max_body);
        k->rejected = 1;
        enum MHD_Result rc = send_reply(c, k, &r);
        srv_buf_free(&r.body);
        return rc;
    }
    if (k->rejected) return MHD_YES;
    srv_reply *r = &k->reply;
    size_t plen = strcspn(url, "?");
    int open = plen == 7 && !strncmp(url, "/health", 7);
    if (!open && !auth_ok(c, s->api_key)) {
        srv_error(r, 401, NULL, "invalid_api_key", "missing or wrong API key: send \"Authorization: Bearer KEY\"");
        return send_reply(c, k, r);
    }
    /* The body is in: from now on the connection may be quiet while the request waits for the
     * model (a queued stream can wait long for its first token), so --idle-timeout, meant for
     * slow senders and idle keep-alive, gives way to --timeout until the answer is complete. */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)s->lim.timeout + 5u);
    k->ep = srv_handle(s, method, url, k->body.s ? k->body.s : "", k->body.n, k->fd, r);
    if (!r->stream) return send_reply(c, k, r);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_reader, k, NULL);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    count(s, k->ep, 200);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    srv_server *s = cls;
    conn *k = *con_cls;
    if (!k) return;
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, s->lim.idle_timeout);
    if (k->reply.stream) {
        srv_model *m = k->reply.stream_model;
        pthread_mutex_lock(&m->mu);
        if (!k->reply.stream->finished && !k->reply.stream->cancelled) {
            k->reply.stream->cancelled = 1;
            atomic_fetch_add(&s->req_cancelled, 1);
        }
        pthread_mutex_unlock(&m->mu);
    }
    atomic_fetch_add(&s->lat_us_sum[k->ep], (unsigned long)((cli_now() - k->t0) * 1e6));
    srv_reply_free(&k->reply);
    srv_buf_free(&k->body);
    srv_buf_free(&k->sse);
    free(k);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static void log_mhd(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    /* A stream whose client went away ends this way: counted in /metrics, not worth a line. */
    if (strstr(fmt, "application error generating response")) return;
    fputs("xfmr serve: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

int srv_http_run(srv_server *s, const char *host, int port) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0 || !ai) return cli_error("serve: cannot use --host '%s': %s", host, gai_strerror(gai));
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->lim.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->lim.idle_timeout, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    char addr[INET6_ADDRSTRLEN] = "";
    if (ai->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, addr, sizeof addr);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr, sizeof addr);
    int v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (!d) return cli_error("serve: cannot listen on %s port %d (in use, or not allowed?)", host, port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "xfmr serve: listening on http://%s%s%s:%u/ (", v6 ? "[" : "", addr, v6 ? "]" : "",
            di ? (unsigned)di->port : (unsigned)port);
    for (size_t k = 0; k < s->n_models; k++)
        fprintf(stderr, "%s%s: %s", k ? ", " : "", s->models[k].id, s->models[k].decoder ? "generation"
                : s->models[k].n_labels == 1 ? "rerank" : s->models[k].n_labels ? "predict" : "embeddings");
    fprintf(stderr, ")\n");
    fflush(stderr);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "xfmr serve: %s: shutting down (%ld request%s in flight, up to %d s to finish)\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT", (long)atomic_load(&s->inflight),
            atomic_load(&s->inflight) == 1 ? "" : "s", s->lim.grace);
    atomic_store(&s->shutting_down, 1);
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    double until = cli_now() + s->lim.grace;
    while (atomic_load(&s->inflight) > 0 && cli_now() < until) {
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    long left = atomic_load(&s->inflight);
    if (left > 0) {
        fprintf(stderr, "xfmr serve: failing the %ld request%s still running\n", left, left == 1 ? "" : "s");
        for (size_t k = 0; k < s->n_models; k++) {
            pthread_mutex_lock(&s->models[k].mu);
            s->models[k].cancel_all = 1;
            pthread_cond_broadcast(&s->models[k].work_cv);
            pthread_mutex_unlock(&s->models[k].mu);
        }
        /* Let the failed requests send their error (a stream: its error event and [DONE]). */
        until = cli_now() + 5;
        while (atomic_load(&s->inflight) > 0 && cli_now() < until) {
            struct timespec ts = {0, 20000000L};
            nanosleep(&ts, NULL);
        }
    }
    MHD_stop_daemon(d);
    fprintf(stderr, "xfmr serve: stopped\n");
    return CLI_EXIT_OK;
}
