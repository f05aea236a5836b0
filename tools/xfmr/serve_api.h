/* serve_api.h — helpers shared by the endpoint files of `xfmr serve` (serve_api.c,
 * serve_embed_api.c, serve_gen_api.c): JSON writing and the checked reading of request fields. */
#ifndef XFMR_SERVE_API_H
#define XFMR_SERVE_API_H

#include <cjson/cJSON.h>

#include "serve.h"

/* A JSON string of s[0..n) (valid UTF-8 assumed), or of a C string (NULL -> null). */
void srv_json_str(srv_buf *b, const char *s, size_t n);
void srv_json_cstr(srv_buf *b, const char *s);

/* Parse the body as a JSON object; NULL with a 400 set in r. */
cJSON *srv_parse_body(const char *body, size_t len, srv_reply *r);
/* Optional fields: 0 absent (or null), 1 read, -1 wrong type / value (400 set in r). */
int srv_get_string(const cJSON *o, const char *name, const char **out, srv_reply *r);
int srv_get_number(const cJSON *o, const char *name, double lo, double hi, int integer, double *out,
                   srv_reply *r);
int srv_get_bool(const cJSON *o, const char *name, int *out, srv_reply *r);
/* The model the request names ("model"), or the first of the kind (SRV_KIND_*, -1 any); a named
 * model of another kind is a 400 naming both kinds. */
srv_model *srv_request_model(srv_server *s, const cJSON *req, int want_kind, srv_reply *r);

/* Endpoints. tei: TEI's /embed instead of OpenAI's /v1/embeddings; chat: chat completions
 * instead of text completions. */
void srv_api_embeddings(srv_server *s, const char *body, size_t len, srv_reply *r, int tei);
void srv_api_tokenize(srv_server *s, const char *body, size_t len, srv_reply *r);
/* TEI's POST /rerank and POST /predict on a cross-encoder / classifier (serve_rerank_api.c). */
void srv_api_rerank(srv_server *s, const char *body, size_t len, srv_reply *r);
void srv_api_predict(srv_server *s, const char *body, size_t len, srv_reply *r);
/* POST /v1/search over the --index stores (serve_search_api.c). */
void srv_api_search(srv_server *s, const char *body, size_t len, srv_reply *r);
void srv_api_generate(srv_server *s, const char *body, size_t len, int client_fd, srv_reply *r, int chat);

#endif /* XFMR_SERVE_API_H */
