/* test_alloc_fail.c — allocation-failure injection (core/alloc.h xf_alloc_fail_after): for
 * N = 1, 2, 3, ... the N-th library allocation fails during one whole scenario:
 *   tokenizers: load tokenizer.json (WordPiece, SentencePiece BPE, byte-level BPE) and a GGUF
 *     tokenizer, encode a text pair, decode, stream-decode;
 *   embed: load the tiny BERT sentence-transformers folder (tests/data/tiny/bert), embed texts;
 *   generate: load a tiny decoder (safetensors llama and gpt2; a quantized GGUF llama with its
 *     GGUF tokenizer, tests/data/tiny/llama_q.gguf), full forward (xf_model_logits), session + sampler, prefill and
 *     decode a few tokens, perplexity;
 *   chat: detect and render a chat template;
 *   embed and generate again with linear weights quantized to int8 at load.
 * Every run must either succeed (a failure the library could absorb) or return an error status
 * with a non-empty xf_errmsg(); nothing may crash, and under LeakSanitizer (the sanitizer pass of
 * scripts/test.sh) nothing may leak. cJSON's allocations are routed through the injector too
 * (cJSON_InitHooks). The scan stops when a run makes no more than N allocations.
 * XF_T_ALLOC_STRIDE=k tests every k-th N only (default 1; scenarios with more than 3000
 * allocations are sampled at about 3000 points). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/json.h"
#include "harness.h"
#include "xfmr.h"

typedef xf_status (*scenario_fn)(const char *arg);

static xf_weight_format g_weights = XF_WEIGHTS_AS_STORED; /* for the model scenarios */

static xf_status tokenizer_scenario(const char *path) {
    xf_tokenizer *tok = NULL;
    size_t n = strlen(path);
    xf_status st = n > 5 && !strcmp(path + n - 5, ".gguf") ? xf_tokenizer_load_gguf(path, &tok)
                                                           : xf_tokenizer_load(path, &tok);
    if (st != XF_OK) return st;
    static const char text[] = "Hello, world! don't stop \xc3\xa9t\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd 123";
    xf_encoding enc = {0};
    if ((st = xf_tokenize(tok, text, sizeof text - 1, "a second text", 13, 0, &enc)) == XF_OK) {
        char *out = NULL;
        if ((st = xf_detokenize(tok, enc.ids, enc.n, 0, &out, NULL)) == XF_OK) free(out);
        xf_detok_stream *s = NULL;
        if (st == XF_OK && (st = xf_detok_stream_create(tok, 1, &s)) == XF_OK) {
            const char *t;
            for (size_t i = 0; i < enc.n && st == XF_OK; i++) st = xf_detok_stream_push(s, enc.ids[i], &t, NULL);
            if (st == XF_OK) st = xf_detok_stream_flush(s, &t, NULL);
            xf_detok_stream_free(s);
        }
        xf_encoding_free(&enc);
    }
    xf_tokenizer_free(tok);
    return st;
}

static xf_status embed_scenario(const char *dir) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.weights = g_weights;
    xf_model *m = NULL;
    xf_status st = xf_model_load(dir, &p, &m);
    if (st != XF_OK) return st;
    const char *texts[] = {"hello world", "The quick brown fox jumps over the lazy dog.", "a"};
    float *out = malloc(3 * xf_model_embedding_dim(m) * sizeof *out);
    if (!out) abort();
    xf_embed_stats stats;
    st = xf_embed(m, texts, 3, 2, out, &stats);
    free(out);
    xf_model_free(m);
    return st;
}

static xf_status generate_scenario(const char *dir) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.weights = g_weights;
    xf_model *m = NULL;
    xf_status st = xf_model_load(dir, &p, &m);
    if (st != XF_OK) return st;
    const size_t V = xf_model_vocab_size(m);
    const int32_t prompt[] = {5, 17, 42, 99, 7, 3};
    float *logits = malloc(6 * V * sizeof *logits);
    if (!logits) abort();
    xf_session *s = NULL;
    xf_sampler *smp = NULL;
    if ((st = xf_model_logits(m, prompt, 6, logits)) != XF_OK) goto done;
    double ppl;
    if ((st = xf_perplexity(m, prompt, 6, 4, 2, &ppl, NULL, NULL)) != XF_OK) goto done;
    if ((st = xf_session_create(m, 16, &s)) != XF_OK) goto done;
    xf_sampler_params sp = xf_sampler_default_params();
    sp.temperature = 0.8f, sp.top_k = 20, sp.top_p = 0.9f, sp.repetition_penalty = 1.1f, sp.seed = 7;
    if ((st = xf_sampler_create(&sp, V, &smp)) != XF_OK) goto done;
    int32_t hist[16];
    memcpy(hist, prompt, sizeof prompt);
    size_t n = 6;
    if ((st = xf_session_eval(s, prompt, 6, logits)) != XF_OK) goto done;
    for (int k = 0; k < 4; k++) {
        if ((st = xf_sampler_sample(smp, logits, hist, n, &hist[n])) != XF_OK) goto done;
        if ((st = xf_session_eval(s, &hist[n], 1, logits)) != XF_OK) goto done;
        n++;
    }
done:
    xf_sampler_free(smp);
    xf_session_free(s);
    free(logits);
    xf_model_free(m);
    return st;
}

static xf_status chat_scenario(const char *unused) {
    (void)unused;
    xf_chat_template *t = NULL;
    static const char tmpl[] = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                               "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
    xf_status st = xf_chat_template_detect(tmpl, &t);
    if (st == XF_ERR_UNSUPPORTED) st = xf_chat_template_from_name("llama2", &t);
    if (st != XF_OK) return st;
    xf_chat_message msgs[] = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};
    char *out = NULL;
    if ((st = xf_chat_render(t, msgs, 4, 1, &out, NULL)) == XF_OK) free(out);
    xf_chat_template_free(t);
    return st;
}

static void *hook_malloc(size_t n) { return xf_malloc(n); }

/* Run fn(arg) with the N-th allocation failing, for every N (stride k) until a run completes
 * without reaching N. */
static void scan(const char *name, scenario_fn fn, const char *arg) {
    unsigned long stride = 1;
    const char *e = getenv("XF_T_ALLOC_STRIDE");
    if (e && atol(e) > 0) stride = (unsigned long)atol(e);
    /* A clean run first: it must succeed, and tells how many allocations there are. */
    xf_alloc_fail_after(0);
    xf_status st = fn(arg);
    unsigned long total = xf_alloc_count();
    CHECK_MSG(st == XF_OK, "%s(%s) without injection: %s", name, arg ? arg : "", xf_errmsg());
    if (st != XF_OK) return;
    /* Large scenarios (tens of thousands of allocations) are sampled: ~3000 runs each. */
    if (total / 3000 > stride) stride = total / 3000;
    unsigned long absorbed = 0, failed = 0, bad = 0, n;
    for (n = 1;; n += stride) {
        xf_error_clear();
        xf_alloc_fail_after(n);
        st = fn(arg);
        int hit = xf_alloc_failed();
        xf_alloc_fail_after(0);
        if (!hit) break; /* fewer than n allocations: the scan is complete */
        if (st == XF_OK) {
            absorbed++;
        } else {
            failed++;
            const char *msg = xf_errmsg();
            if (!msg || !*msg) {
                if (bad++ < 5) fprintf(stderr, "%s: allocation %lu failed: status %s without a message\n", name, n,
                                       xf_status_str(st));
                xf_t_failed++;
            } else {
                xf_t_passed++;
            }
        }
    }
    CHECK_MSG(n > total / 2, "%s: scan stopped at %lu of ~%lu allocations", name, n, total);
    printf("%s(%s): %lu allocations (every %lu-th failed), %lu failures reported, %lu absorbed, %lu without message\n", name,
           arg ? strrchr(arg, '/') + 1 : "", total, stride, failed, absorbed, bad);
}

int main(void) {
    cJSON_Hooks hooks = {hook_malloc, free};
    cJSON_InitHooks(&hooks);
    scan("chat", chat_scenario, NULL);
    scan("tokenizer", tokenizer_scenario, xf_t_src("tests/data/tiny/llama/tokenizer.json"));
    scan("tokenizer", tokenizer_scenario, xf_t_src("tests/data/spm_meta_tokenizer.json"));
    scan("tokenizer", tokenizer_scenario, xf_t_src("tests/data/spm_tokenizer.gguf"));
    scan("embed", embed_scenario, xf_t_src("tests/data/tiny/bert"));
    scan("generate", generate_scenario, xf_t_src("tests/data/tiny/llama"));
    scan("generate", generate_scenario, xf_t_src("tests/data/tiny/gpt2"));
    scan("generate", generate_scenario, xf_t_src("tests/data/tiny/llama_q.gguf"));
    /* Linear weights quantized to int8 at load. */
    g_weights = XF_WEIGHTS_INT8;
    scan("embed-int8", embed_scenario, xf_t_src("tests/data/tiny/bert"));
    scan("generate-int8", generate_scenario, xf_t_src("tests/data/tiny/llama"));
    return xf_t_report();
}
