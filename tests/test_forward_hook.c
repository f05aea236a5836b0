/* test_forward_hook.c — the one forward loop can be stopped or shrunk between layers, as early
 * exit and token pruning need (model/forward.h), on the tiny BERT:
 *   - a hook that stops after layer k gives bitwise the model cut to k + 1 layers;
 *   - a hook that drops tokens after layer 0 gives bitwise: run layer 0, drop the same tokens
 *     by hand, run the remaining layers from there (first_layer);
 *   - embeddings pool the tokens that remain (a hook dropping each text's last token after the
 *     last layer = mean over the other rows of the full run). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/ops.h"
#include "model/forward.h"
#include "model/model.h"
#include "xfmr.h"

#define H 32
enum { S0 = 9, S1 = 6, T = S0 + S1 };

static const int32_t k_ids[T] = {2, 40, 41, 42, 43, 44, 45, 46, 3, 2, 50, 51, 52, 53, 3};

typedef struct {
    size_t stop_after, drop_at;
    const unsigned char *keep;
} hook_ctx;

static xf_status hook(void *ctx, xf_fwd *f, size_t layer, int *stop) {
    const hook_ctx *h = ctx;
    if (layer == h->drop_at && h->keep) {
        xf_status st = xf_fwd_keep_tokens(f, H, h->keep);
        if (st) return st;
    }
    *stop = layer == h->stop_after;
    return XF_OK;
}

/* Forward of the two-sequence batch into X (positions 0.. per sequence) with an optional hook. */
static xf_status run(xf_model *m, xf_fwd_ws *ws, hook_ctx *hc, float *X, size_t *off, int32_t *pos) {
    int32_t types[T] = {0};
    off[0] = 0, off[1] = S0, off[2] = T;
    for (size_t t = 0; t < T; t++) pos[t] = (int32_t)(t < S0 ? t : t - S0);
    xf_fwd f = {.n_seq = 2, .off = off, .pos = pos, .ids = k_ids, .type_ids = types, .X = X,
                .hook = hc ? hook : NULL, .hook_ctx = hc};
    xf_status st = xf_fwd_check(m, &f);
    return st ? st : xf_forward(m, &f, ws);
}

int main(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", xf_t_src("tests/data/tiny/bert"));
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(dir, NULL, &m) == XF_OK, "%s", xf_errmsg());
    if (!m) return xf_t_report();
    CHECK(m->plan.n_layers == 2 && m->plan.hidden == H);
    xf_fwd_ws ws = {0};
    CHECK(xf_fwd_reserve(m, &ws, T, 2) == XF_OK);
    float A[T * H], B[T * H];
    size_t offA[3], offB[3];
    int32_t posA[T], posB[T];

    /* stop after layer 0 == a one-layer model */
    hook_ctx stop0 = {0, (size_t)-1, NULL};
    CHECK(run(m, &ws, &stop0, A, offA, posA) == XF_OK);
    m->plan.n_layers = 1;
    CHECK(run(m, &ws, NULL, B, offB, posB) == XF_OK);
    m->plan.n_layers = 2;
    CHECK_MSG(!memcmp(A, B, sizeof A), "stopping after layer 0 differs from a one-layer model");

    /* drop tokens after layer 0 == layer 0, drop by hand, layers 1.. */
    static const unsigned char keep[T] = {1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1};
    hook_ctx drop0 = {(size_t)-1, 0, keep};
    CHECK(run(m, &ws, &drop0, A, offA, posA) == XF_OK);
    CHECK(offA[1] == S0 - 2 && offA[2] == T - 3 && posA[1] == 2 && posA[S0 - 2 + 2] == 3);
    CHECK(run(m, &ws, &stop0, B, offB, posB) == XF_OK);
    int32_t ids_unused[T] = {0};
    xf_fwd f = {.n_seq = 2, .off = offB, .pos = posB, .ids = ids_unused, .X = B, .first_layer = 1};
    CHECK(xf_fwd_keep_tokens(&f, H, keep) == XF_OK);
    CHECK(xf_forward(m, &f, &ws) == XF_OK && f.layers_run == 2);
    CHECK_MSG(!memcmp(A, B, offA[2] * H * sizeof *A), "dropping tokens in the loop differs from doing it by hand");
    static const unsigned char none[T] = {0};
    f.first_layer = 2;
    CHECK(xf_fwd_keep_tokens(&f, H, none) == XF_ERR_INVALID_ARG); /* a sequence may not become empty */

    /* pooling reads what remains: drop each text's last token after the last layer */
    unsigned char keep_last[T];
    for (size_t t = 0; t < T; t++) keep_last[t] = t != S0 - 1 && t != T - 1;
    hook_ctx drop_last = {(size_t)-1, 1, keep_last};
    m->hook = hook, m->hook_ctx = &drop_last;
    int32_t types[T] = {0};
    xf_encoding enc[2] = {{(int32_t *)k_ids, types, S0, 0}, {(int32_t *)k_ids + S0, types, S1, 0}};
    float emb[2 * H], want[2 * H];
    CHECK(xf_embed_encodings(m, enc, 2, 0, emb) == XF_OK);
    m->hook = NULL;
    CHECK(run(m, &ws, NULL, A, offA, posA) == XF_OK);
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < H; i++) {
            float sum = 0;
            const size_t n = (s ? S1 : S0) - 1;
            for (size_t t = 0; t < n; t++) sum += A[(offA[s] + t) * H + i];
            want[s * H + i] = sum / (float)n;
        }
    for (size_t s = 0; m->layout.normalize && s < 2; s++) xf_l2_normalize(want + s * H, H, 1e-12f);
    CHECK_MSG(!memcmp(emb, want, sizeof emb), "embeddings do not pool exactly the tokens the hook kept");

    xf_fwd_ws_free(&ws);
    xf_model_free(m);
    return xf_t_report();
}
