/* ppl.c — the perplexity of one text, shared by `xfmr perplexity` and `xfmr eval --task ppl`:
 * tokenize it as one text, run the library's strided sliding window (xf_perplexity_progress) with
 * a progress bar over the windows, which also counts them. Or, for KV-cache settings, score it as
 * generation sees it: sessions fed one token at a time (cli_text_perplexity_decode). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

size_t cli_ppl_window(xf_model *m, long window, size_t cap) {
    if (window > 0) return (size_t)window;
    xf_model_info info = xf_model_info_init();
    size_t w = xf_model_get_info(m, &info) == XF_OK ? info.max_position : 0;
    return cap && w > cap ? cap : w;
}

static void on_window(void *user, size_t done, size_t total) {
    cli_progress *p = user;
    p->total = total;
    cli_progress_update(p, done);
}

int cli_text_perplexity(xf_model *m, const char *name, const char *text, size_t len, size_t window,
                        size_t stride, cli_ppl *out) {
    memset(out, 0, sizeof *out);
    const size_t limit = cli_ppl_window(m, 0, 0);
    if (window > limit)
        return cli_error("--window %zu is above the model's max_position_embeddings (%zu)", window, limit);
    if (!stride) stride = window / 2 ? window / 2 : 1;
    if (stride > window) stride = window;
    out->window = window;
    out->stride = stride;
    xf_encoding enc;
    memset(&enc, 0, sizeof enc);
    int rc = CLI_EXIT_OK;
    if (xf_tokenize(xf_model_tokenizer(m), text, len, NULL, 0, 0, &enc) != XF_OK) {
        rc = cli_lib_error();
    } else if (enc.n < 2) {
        rc = cli_error("'%s' has %zu token%s: perplexity needs at least 2", name, enc.n,
                       enc.n == 1 ? "" : "s");
    } else {
        cli_progress prog;
        cli_progress_start(&prog, "perplexity", 0, 1);
        prog.unit = "windows";
        if (xf_perplexity_progress(m, enc.ids, enc.n, window, stride, &out->ppl, &out->nll_sum, &out->scored,
                                   on_window, &prog) != XF_OK)
            rc = cli_lib_error();
        out->tokens = enc.n;
        out->windows = prog.total; /* the windows xf_perplexity ran */
        cli_progress_finish(&prog, out->windows);
    }
    xf_encoding_free(&enc);
    return rc;
}

/* ------------------------------------------------------------- as generation sees it */

#define DECODE_BATCH 8 /* windows decoded side by side (one batched step per token) */

/* out += the NLL of token `target` under the logits row [V] (log-sum-exp in double). */
static void add_nll(cli_ppl *out, const float *row, size_t V, int32_t target) {
    double mx = -INFINITY, sum = 0;
    for (size_t v = 0; v < V; v++) mx = row[v] > mx ? row[v] : mx;
    for (size_t v = 0; v < V; v++) sum += exp((double)row[v] - mx);
    out->nll_sum += mx + log(sum) - (double)row[target];
    out->scored++;
}

int cli_text_perplexity_decode(xf_model *m, const char *name, const char *text, size_t len, size_t window,
                               size_t prompt, const xf_session_params *sp, cli_ppl *out) {
    memset(out, 0, sizeof *out);
    out->window = out->stride = window;
    xf_encoding enc;
    memset(&enc, 0, sizeof enc);
    if (xf_tokenize(xf_model_tokenizer(m), text, len, NULL, 0, 0, &enc) != XF_OK) return cli_lib_error();
    int rc = CLI_EXIT_OK;
    if (enc.n < 2) {
        rc = cli_error("'%s' has %zu token%s: perplexity needs at least 2", name, enc.n, enc.n == 1 ? "" : "s");
        xf_encoding_free(&enc);
        return rc;
    }
    const size_t n_win = (enc.n + window - 1) / window, B = n_win < DECODE_BATCH ? n_win : DECODE_BATCH;
    const size_t V = xf_model_vocab_size(m);
    xf_session *ss[DECODE_BATCH] = {0}, *act[DECODE_BATCH];
    size_t act_w[DECODE_BATCH];
    int32_t ids[DECODE_BATCH];
    float *logits = malloc(B * V * sizeof *logits);
    xf_session_params p = *sp;
    if (!p.kv_policy) p.n_ctx = window; /* keep-all: a window's tokens; an evicting policy keeps its budget */
    for (size_t b = 0; b < B && !rc; b++)
        if (xf_session_create_ex(m, &p, &ss[b]) != XF_OK) rc = cli_lib_error();
    if (!logits && !rc) rc = cli_error("out of memory");
    cli_progress prog;
    cli_progress_start(&prog, "perplexity", enc.n, 1);
    prog.unit = "tokens";
    size_t fed = 0;
    for (size_t w0 = 0; w0 < n_win && !rc; w0 += B) { /* windows w0 .. w0 + B - 1, side by side */
        const size_t nb = n_win - w0 < B ? n_win - w0 : B;
        size_t maxL = 0, Lb[DECODE_BATCH], pb[DECODE_BATCH]; /* window b's length, the tokens read as its prompt */
        for (size_t b = 0; b < nb && !rc; b++) {
            const size_t begin = (w0 + b) * window, L = Lb[b] = enc.n - begin < window ? enc.n - begin : window;
            maxL = L > maxL ? L : maxL;
            pb[b] = prompt < L - 1 ? prompt : L - 1;
            xf_session_reset(ss[b]);
            if (!pb[b]) continue;
            if (xf_session_eval(ss[b], enc.ids + begin, pb[b], logits) != XF_OK) rc = cli_lib_error();
            else add_nll(out, logits, V, enc.ids[begin + pb[b]]); /* the prompt predicts the token after it */
            fed += pb[b];
        }
        for (size_t t = 0; t + 1 < maxL && !rc; t++) { /* token t of every window still running */
            size_t na = 0;
            for (size_t b = 0; b < nb; b++) {
                const size_t begin = (w0 + b) * window;
                if (t < pb[b] || t + 1 >= Lb[b]) continue; /* in its prompt; its last token predicts nothing here */
                act[na] = ss[b], act_w[na] = begin, ids[na++] = enc.ids[begin + t];
            }
            if (!na) continue;
            if (xf_session_step_batch(act, na, ids, logits) != XF_OK) {
                rc = cli_lib_error();
                break;
            }
            for (size_t i = 0; i < na; i++) add_nll(out, logits + i * V, V, enc.ids[act_w[i] + t + 1]);
            fed += na;
            cli_progress_update(&prog, fed);
        }
        out->windows += nb;
    }
    cli_progress_finish(&prog, fed);
    out->tokens = enc.n;
    out->ppl = out->scored ? exp(out->nll_sum / (double)out->scored) : NAN;
    for (size_t b = 0; b < B; b++) xf_session_free(ss[b]);
    free(logits);
    xf_encoding_free(&enc);
    return rc;
}
