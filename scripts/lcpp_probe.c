/* lcpp_probe.c — a small client of llama.cpp's C API (include/llama.h) for
 * scripts/check_gguf_llamacpp.py: it loads a GGUF file with llama.cpp and prints, one result per
 * input line on stdin,
 *   tokenize MODEL   "T id id ..."        the line tokenized (special tokens added; those written
 *                                        in the text parsed, as Hugging Face tokenizers do)
 *   embed MODEL      "T ids" + "E x x ..."  tokens, then the model's pooled embedding
 *   embed_ids MODEL  "E x x ..."          the pooled embedding of the ids given on the line
 *   greedy MODEL N   "G id id ..."        N greedy tokens after the prompt ids given on the line
 *   logits MODEL     "L x x ..."          next-token logits after the prompt ids on the line
 * Built by scripts/check_gguf_llamacpp.py against the llama.cpp that bench/build_llamacpp.sh
 * builds; not part of xfmr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static int read_ids(char *line, llama_token *ids, int cap) {
    int n = 0;
    for (char *t = strtok(line, " \t\r\n"); t && n < cap; t = strtok(NULL, " \t\r\n")) ids[n++] = (llama_token)atoi(t);
    return n;
}

static int argmax(const float *v, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: lcpp_probe tokenize|embed|embed_ids|greedy|logits MODEL [N] < lines\n");
        return 2;
    }
    const char *mode = argv[1];
    const int embed = !strcmp(mode, "embed") || !strcmp(mode, "embed_ids"), n_gen = argc > 3 ? atoi(argv[3]) : 0;
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[2], mp);
    if (!model) {
        fprintf(stderr, "lcpp_probe: llama.cpp could not load %s\n", argv[2]);
        return 1;
    }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 2048;
    cp.n_batch = cp.n_ubatch = 2048;
    cp.n_threads = cp.n_threads_batch = 2;
    cp.embeddings = embed;
    /* F32 keys and values (llama.cpp's default is F16): the cache then rounds nothing that xfmr's
     * F32 cache keeps, so what remains between the two is the arithmetic */
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ctx = strcmp(mode, "tokenize") ? llama_init_from_model(model, cp) : NULL;
    if (strcmp(mode, "tokenize") && !ctx) {
        fprintf(stderr, "lcpp_probe: no llama.cpp context for %s\n", argv[2]);
        return 1;
    }
    const int encoder_only = llama_model_has_encoder(model) && !llama_model_has_decoder(model);
    static char line[1 << 20];
    static llama_token ids[4096];
    const int n_embd = llama_model_n_embd(model);
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        int n;
        if (!strcmp(mode, "tokenize") || !strcmp(mode, "embed")) {
            n = llama_tokenize(vocab, line, (int32_t)len, ids, 4096, true, true); /* special tokens in the text parsed, as Hugging Face does */
            if (n < 0) n = 0;
            printf("T");
            for (int i = 0; i < n; i++) printf(" %d", ids[i]);
            printf("\n");
            if (!embed) continue;
        } else {
            n = read_ids(line, ids, 4096 - (n_gen > 0 ? n_gen : 0));
        }
        if (ctx) llama_memory_clear(llama_get_memory(ctx), true);
        if (n == 0) {
            printf("%s\n", embed ? "E" : !strcmp(mode, "greedy") ? "G" : "L");
            continue;
        }
        struct llama_batch b = llama_batch_get_one(ids, n);
        int rc = encoder_only ? llama_encode(ctx, b) : llama_decode(ctx, b);
        if (rc) {
            fprintf(stderr, "lcpp_probe: %s failed (%d)\n", encoder_only ? "llama_encode" : "llama_decode", rc);
            return 1;
        }
        if (embed) {
            const float *e = llama_get_embeddings_seq(ctx, 0);
            if (!e) e = llama_get_embeddings_ith(ctx, -1);
            printf("E");
            for (int i = 0; e && i < n_embd; i++) printf(" %.9g", e[i]);
            printf("\n");
        } else if (!strcmp(mode, "logits")) {
            const float *l = llama_get_logits_ith(ctx, -1);
            printf("L");
            for (int i = 0; i < n_vocab; i++) printf(" %.9g", l[i]);
            printf("\n");
        } else {
            printf("G");
            for (int k = 0; k < n_gen; k++) {
                llama_token t = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
                printf(" %d", t);
                struct llama_batch one = llama_batch_get_one(&t, 1);
                if ((rc = llama_decode(ctx, one))) {
                    fprintf(stderr, "lcpp_probe: llama_decode failed (%d)\n", rc);
                    return 1;
                }
            }
            printf("\n");
        }
        fflush(stdout);
    }
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
