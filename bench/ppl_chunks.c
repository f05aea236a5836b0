/* ppl_chunks.c — perplexity of a decoder by llama.cpp's llama-perplexity method, with xfmr's model,
 * so that the same GGUF file can be compared in both (docs/QUANTIZATION.md):
 *   the text tokenized as one (only the tokens the tokenizer adds itself), cut into
 *   floor(tokens / n_ctx) chunks of n_ctx tokens (at most --chunks); each chunk run alone, its
 *   first token replaced by BOS when --bos ID is given (llama.cpp does so when the vocabulary's
 *   add_bos is set); the predictions of tokens n_ctx/2 + 1 .. n_ctx - 1 from the positions before
 *   them scored (log-softmax in double); PPL = exp(sum NLL / count).
 * --steps K: each chunk through a session (xf_session_eval): the unscored first half K tokens a
 * call, the scored half token by token (K = 1: every token alone, where GEMVs run); with --weights
 * int8 the GGUF blocks then multiply activations quantized per 32 with integer dots (llama.cpp's
 * CPU numerics for quantized weights, docs/GGUF.md), and --kv f16 keeps the KV cache in half as
 * llama.cpp's default does. With --weights a8 every length runs the same products, so K only
 * changes the speed: --steps N_CTX/2 is bitwise --steps 1 (xf_session_eval's contract) at half
 * the decode steps. Default: one whole-chunk forward, float activations, no cache.
 * Usage: ppl_chunks MODEL TEXTFILE N_CTX [--chunks N] [--bos ID] [--threads N] [--steps K]
 *                   [--weights int8|a8] [--kv f16]
 * (--weights a8: XF_WEIGHTS_A8, activations quantized per 32 in every product, prefill included)
 * Prints: chunks, scored tokens, PPL (as llama-perplexity's "Final estimate: PPL = ..."). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfmr.h"

static double token_nll(const float *row, size_t V, int32_t target) {
    double mx = -INFINITY, sum = 0;
    for (size_t v = 0; v < V; v++)
        if ((double)row[v] > mx) mx = row[v];
    for (size_t v = 0; v < V; v++) sum += exp((double)row[v] - mx);
    return mx + log(sum) - (double)row[target];
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL TEXTFILE N_CTX [--chunks N] [--bos ID] [--threads N]\n", argv[0]);
        return 2;
    }
    long n_ctx = atol(argv[3]), max_chunks = -1, bos = -1, threads = 0;
    long steps = 0;
    int int8 = 0, kv16 = 0;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--chunks")) max_chunks = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--bos")) bos = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--weights") && !strcmp(argv[i + 1], "int8")) int8 = 1;
        else if (!strcmp(argv[i], "--weights") && !strcmp(argv[i + 1], "a8")) int8 = 2;
        else if (!strcmp(argv[i], "--weights") && !strcmp(argv[i + 1], "stored")) int8 = 0;
        else if (!strcmp(argv[i], "--kv") && !strcmp(argv[i + 1], "f16")) kv16 = 1;
        else return fprintf(stderr, "unknown option %s\n", argv[i]), 2;
    }
    if (steps < 0) return fprintf(stderr, "--steps must be 0 (whole chunk) or a token count\n"), 2;
    if (n_ctx < 4) return fprintf(stderr, "N_CTX must be at least 4\n"), 2;
    FILE *f = fopen(argv[2], "rb");
    if (!f) return perror(argv[2]), 1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) return fprintf(stderr, "cannot read %s\n", argv[2]), 1;
    fclose(f);
    xf_model_params mp = xf_model_default_params();
    mp.n_threads = (int)threads;
    if (int8) mp.weights = int8 == 2 ? XF_WEIGHTS_A8 : XF_WEIGHTS_INT8;
    xf_model *m = NULL;
    xf_encoding enc = {0};
    if (xf_model_load(argv[1], &mp, &m) != XF_OK ||
        xf_tokenize(xf_model_tokenizer(m), text, (size_t)len, NULL, 0, 0, &enc) != XF_OK) {
        fprintf(stderr, "%s\n", xf_errmsg());
        return 1;
    }
    const size_t V = xf_model_vocab_size(m), C = (size_t)n_ctx, first = C / 2;
    size_t n_chunks = enc.n / C;
    if (max_chunks >= 0 && (size_t)max_chunks < n_chunks) n_chunks = (size_t)max_chunks;
    if (n_chunks < 1) return fprintf(stderr, "%zu tokens: fewer than one chunk of %zu\n", enc.n, C), 1;
    float *logits = malloc(C * V * sizeof *logits);
    int32_t *ids = malloc(C * sizeof *ids);
    double nll = 0;
    size_t count = 0;
    for (size_t k = 0; k < n_chunks; k++) {
        memcpy(ids, enc.ids + k * C, C * sizeof *ids);
        if (bos >= 0) ids[0] = (int32_t)bos;
        if (steps) { /* the first half steps tokens a call, then token by token; the scored rows kept */
            xf_session_params sp = xf_session_default_params();
            sp.n_ctx = C;
            if (kv16) sp.kv_type = XF_KV_F16;
            xf_session *s = NULL;
            if (xf_session_create_ex(m, &sp, &s) != XF_OK) return fprintf(stderr, "%s\n", xf_errmsg()), 1;
            for (size_t t = 0, n; t < C; t += n) {
                n = t < first ? (first - t < (size_t)steps ? first - t : (size_t)steps) : 1;
                if (xf_session_eval(s, ids + t, n, logits + (t + n - 1 >= first ? t + n - 1 : 0) * V) != XF_OK)
                    return fprintf(stderr, "%s\n", xf_errmsg()), 1;
            }
            xf_session_free(s);
        } else if (xf_model_logits(m, ids, C, logits) != XF_OK) {
            return fprintf(stderr, "%s\n", xf_errmsg()), 1;
        }
        for (size_t t = first; t + 1 < C; t++) nll += token_nll(logits + t * V, V, enc.ids[k * C + t + 1]), count++;
    }
    printf("chunks %zu, n_ctx %zu, scored %zu, PPL = %.6f\n", n_chunks, C, count, exp(nll / (double)count));
    free(logits), free(ids), free(text);
    xf_encoding_free(&enc);
    xf_model_free(m);
    return 0;
}
