/* bench_decode.c — prefill and decode speed of an xfmr decoder session (e.g. a GGUF file), the
 * counterpart of llama.cpp's `llama-bench -p P -n G` (see bench/bench_decode.py). Prints JSON:
 *   {"model": ..., "weights": "stored" | "int8", "threads": N, "prompt": P, "gen": G, "n_params": ..., "weight_bytes_f32": ...,
 *    "prefill_tok_s": median, "decode_tok_s": median, "runs": [{"prefill_s": .., "decode_s": ..,
 *    "prefill_tok_s": .., "decode_tok_s": ..}, ...], "peak_rss_bytes": ru_maxrss of the process}
 * Model load and session creation are excluded. Each run, as llama-bench does it:
 *   prefill: reset the session, then one xf_session_eval of the P prompt ids (logits of the last);
 *   decode:  reset the session, then G calls of xf_session_eval with one token each, starting from
 *            the first prompt id, the next id being the greedy arg max of the logits (computed
 *            here, inside the timed loop) — so decode runs at context 0 .. G-1, like llama-bench's
 *            tg test, which also starts from an empty KV cache.
 * Prompt ids: the text of FILE (default tests/data/corpus.txt) tokenized with the model's own
 * tokenizer, repeated if shorter than P. llama-bench uses random ids instead; the speed of a
 * dense forward pass does not depend on which ids are fed.
 * One untimed warm-up run (a short prefill + a few decode steps) precedes the R timed runs.
 *
 * --depth D decodes at depth: each decode run first evaluates D prompt ids untimed (llama-bench's
 * -d), then times the G steps (wall and process CPU seconds). --quest N [--quest-page P] decodes
 * with Quest (xf_session_params.quest_budget / quest_page).
 *
 * --depths D1,D2,... (ascending) decodes at several depths in one process: the context grows
 * (untimed) to each depth in turn and G steps are timed there (once: --runs is ignored), so one
 * prefill to the last depth serves them all; prints one JSON line per depth. --kv-policy NAME
 * --kv-budget N and --kv-type T set the session's cache (xf_session_params); --rope-scaling KIND
 * --rope-factor F stretch the model (xf_model_params) for depths past its trained context.
 *
 * --weights int8 loads the model with XF_WEIGHTS_INT8 (GGUF files: activations quantized per 32
 * for the decode GEMV, kernels/qgemv_q8.h); default stored.
 *
 * usage: bench_decode MODEL [--threads N] [--prompt P] [--gen G] [--runs R] [--text FILE] [--weights stored|int8]
 *              [--depth D | --depths D1,D2,...] [--quest N] [--quest-page P] [--kv-policy NAME --kv-budget N]
 *              [--kv-type f32|f16|q8|q4] [--rope-scaling KIND --rope-factor F] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "xfmr.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int32_t argmax(const float *x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

static int fail(const char *what) {
    fprintf(stderr, "bench_decode: %s: %s\n", what, xf_errmsg());
    return 1;
}

static long arg_long(const char *name, const char *v, long lo, long hi) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "bench_decode: %s must be an integer in [%ld, %ld], got \"%s\"\n", name, lo, hi, v);
        exit(2);
    }
    return x;
}

/* Read a whole file; NULL on failure (message printed). */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) fprintf(stderr, "bench_decode: out of memory reading %s\n", path);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *text_path = "tests/data/corpus.txt";
    long threads = 0, n_prompt = 512, n_gen = 128, runs = 5, depth = 0, quest = 0, quest_page = 0;
    int int8 = 0;
    const char *kv_policy = NULL, *rope_scaling = NULL, *depths_arg = NULL;
    long kv_budget = 0, n_depths = 0, depths[32];
    double rope_factor = 0;
    xf_kv_type kv_type = XF_KV_F32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && strcmp(a, "--kv-policy") == 0)
            kv_policy = argv[++i];
        else if (i + 1 < argc && strcmp(a, "--kv-budget") == 0)
            kv_budget = arg_long(a, argv[++i], 1, 1 << 24);
        else if (i + 1 < argc && strcmp(a, "--kv-type") == 0) {
            static const char *names[] = {"f32", "f16", "q8", "q4"};
            const char *t = argv[++i];
            int k = 0;
            while (k < 4 && strcmp(t, names[k]) != 0) k++;
            if (k == 4) {
                fprintf(stderr, "bench_decode: --kv-type %s is not f32, f16, q8 or q4\n", t);
                return 2;
            }
            kv_type = (xf_kv_type)k;
        } else if (i + 1 < argc && strcmp(a, "--rope-scaling") == 0)
            rope_scaling = argv[++i];
        else if (i + 1 < argc && strcmp(a, "--rope-factor") == 0)
            rope_factor = atof(argv[++i]);
        else if (i + 1 < argc && strcmp(a, "--depths") == 0) {
            depths_arg = argv[++i];
            for (const char *c = depths_arg; *c && n_depths < 32;) {
                char *end;
                depths[n_depths] = strtol(c, &end, 10);
                if (end == c || depths[n_depths] < 1 || (n_depths && depths[n_depths] <= depths[n_depths - 1])) {
                    fprintf(stderr, "bench_decode: --depths %s is not an ascending list of positive numbers\n", depths_arg);
                    return 2;
                }
                n_depths++;
                c = *end == ',' ? end + 1 : end;
                if (*end && *end != ',') break;
            }
            depth = depths[n_depths - 1];
        } else if (i + 1 < argc && strcmp(a, "--threads") == 0)
            threads = arg_long(a, argv[++i], 0, 1024);
        else if (i + 1 < argc && strcmp(a, "--prompt") == 0)
            n_prompt = arg_long(a, argv[++i], 1, 1 << 20);
        else if (i + 1 < argc && strcmp(a, "--gen") == 0)
            n_gen = arg_long(a, argv[++i], 1, 1 << 20);
        else if (i + 1 < argc && strcmp(a, "--depth") == 0)
            depth = arg_long(a, argv[++i], 0, 1 << 20);
        else if (i + 1 < argc && strcmp(a, "--quest") == 0)
            quest = arg_long(a, argv[++i], 0, 1 << 20);
        else if (i + 1 < argc && strcmp(a, "--quest-page") == 0)
            quest_page = arg_long(a, argv[++i], 0, 1024);
        else if (i + 1 < argc && strcmp(a, "--runs") == 0)
            runs = arg_long(a, argv[++i], 1, 100);
        else if (i + 1 < argc && strcmp(a, "--weights") == 0 &&
                 (strcmp(argv[i + 1], "stored") == 0 || strcmp(argv[i + 1], "int8") == 0))
            int8 = strcmp(argv[++i], "int8") == 0;
        else if (i + 1 < argc && strcmp(a, "--text") == 0)
            text_path = argv[++i];
        else if (a[0] != '-' && !model_path)
            model_path = a;
        else {
            fprintf(stderr,
                    "usage: %s MODEL [--threads N] [--prompt P] [--gen G] [--runs R] [--text FILE] [--weights stored|int8]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "usage: %s MODEL [--threads N] [--prompt P] [--gen G] [--runs R] [--text FILE] [--weights stored|int8]\n",
                argv[0]);
        return 2;
    }

    xf_model_params mp = xf_model_default_params();
    mp.n_threads = (int)threads;
    mp.weights = int8 ? XF_WEIGHTS_INT8 : XF_WEIGHTS_AS_STORED;
    mp.rope_scaling = rope_scaling, mp.rope_factor = rope_factor;
    xf_model *m = NULL;
    if (xf_model_load(model_path, &mp, &m) != XF_OK) return fail(model_path);
    size_t vocab = xf_model_vocab_size(m);
    xf_model_info info = xf_model_info_init();
    if (xf_model_get_info(m, &info) != XF_OK) return fail("xf_model_get_info");
    const xf_tokenizer *tok = xf_model_tokenizer(m);
    if (!tok) {
        fprintf(stderr, "bench_decode: %s has no tokenizer\n", model_path);
        return 1;
    }

    /* Prompt ids: the text, tokenized, repeated up to n_prompt. */
    size_t text_len = 0;
    char *text = read_file(text_path, &text_len);
    if (!text) return 1;
    xf_encoding enc;
    if (xf_tokenize(tok, text, text_len, NULL, 0, 0, &enc) != XF_OK) return fail(text_path);
    free(text);
    if (enc.n == 0) {
        fprintf(stderr, "bench_decode: %s gives no tokens\n", text_path);
        return 1;
    }
    const long n_ids = n_prompt > depth ? n_prompt : depth;
    int32_t *ids = malloc((size_t)n_ids * sizeof *ids);
    float *logits = malloc(vocab * sizeof *logits);
    double *pre = malloc((size_t)runs * sizeof *pre), *dec = malloc((size_t)runs * sizeof *dec);
    double *dec_cpu = malloc((size_t)runs * sizeof *dec_cpu);
    if (!ids || !logits || !pre || !dec || !dec_cpu) {
        fprintf(stderr, "bench_decode: out of memory\n");
        return 1;
    }
    for (long i = 0; i < n_ids; i++) ids[i] = enc.ids[(size_t)i % enc.n];
    xf_encoding_free(&enc);

    size_t n_warm = (size_t)(n_prompt < 32 ? n_prompt : 32), n_ctx = (size_t)(n_prompt > n_gen ? n_prompt : n_gen);
    if (n_ctx < (size_t)(depth + n_gen * (n_depths ? n_depths : 1))) n_ctx = (size_t)(depth + n_gen * (n_depths ? n_depths : 1));
    if (n_ctx < n_warm + 4) n_ctx = n_warm + 4;
    xf_session *s = NULL;
    xf_session_params sp = xf_session_default_params();
    sp.n_ctx = n_ctx;
    sp.quest_budget = (size_t)quest, sp.quest_page = (size_t)quest_page;
    sp.kv_policy = kv_policy, sp.kv_budget = (size_t)kv_budget, sp.kv_type = kv_type;
    if (xf_session_create_ex(m, &sp, &s) != XF_OK) return fail("xf_session_create");

    /* Warm-up (untimed): touches the weights, the caches and the thread pool. */
    if (xf_session_eval(s, ids, n_warm, logits) != XF_OK)
        return fail("xf_session_eval (warm-up)");
    for (int i = 0; i < 4; i++) {
        int32_t next = argmax(logits, vocab);
        if (xf_session_eval(s, &next, 1, logits) != XF_OK) return fail("xf_session_eval (warm-up)");
    }

    if (n_depths) { /* one context, grown to each depth in turn; G timed steps at each */
        xf_session_reset(s);
        long at = 0; /* prompt ids evaluated */
        for (long k = 0; k < n_depths; k++) {
            const double p0 = now(), pc0 = cpu_now();
            if (xf_session_eval(s, ids + at, (size_t)(depths[k] - at), logits) != XF_OK) return fail("xf_session_eval (depth)");
            const double fill = now() - p0, fill_cpu = cpu_now() - pc0;
            at = depths[k];
            int32_t next = argmax(logits, vocab);
            const double t0 = now(), c0 = cpu_now();
            for (long g = 0; g < n_gen; g++) {
                if (xf_session_eval(s, &next, 1, logits) != XF_OK) return fail("xf_session_eval (decode)");
                next = argmax(logits, vocab);
            }
            const double w = now() - t0, c = cpu_now() - c0;
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            printf("{\"model\": \"%s\", \"threads\": %ld, \"depth\": %ld, \"gen\": %ld, \"decode_tok_s\": %.2f, "
                   "\"decode_tok_cpu_s\": %.2f, \"fill_tokens\": %ld, \"fill_s\": %.3f, \"fill_cpu_s\": %.3f, \"quest\": %ld, "
                   "\"kv_policy\": \"%s\", \"kv_budget\": %ld, \"kv_type\": %d, \"peak_rss_bytes\": %lld}\n",
                   model_path, threads, depths[k], n_gen, (double)n_gen / w, (double)n_gen / c,
                   depths[k] - (k ? depths[k - 1] : 0), fill, fill_cpu, quest, kv_policy ? kv_policy : "keep-all",
                   kv_budget, (int)kv_type, (long long)ru.ru_maxrss * 1024LL);
            fflush(stdout);
        }
        free(ids), free(logits), free(pre), free(dec), free(dec_cpu);
        xf_session_free(s);
        xf_model_free(m);
        return 0;
    }
    for (long r = 0; r < runs; r++) {
        xf_session_reset(s);
        double t0 = now();
        if (xf_session_eval(s, ids, (size_t)n_prompt, logits) != XF_OK) return fail("xf_session_eval (prefill)");
        pre[r] = now() - t0;

        xf_session_reset(s);
        int32_t next = ids[0];
        if (depth) { /* the context decoding starts from (untimed) */
            if (xf_session_eval(s, ids, (size_t)depth, logits) != XF_OK) return fail("xf_session_eval (depth)");
            next = argmax(logits, vocab);
        }
        t0 = now();
        const double c0 = cpu_now();
        for (long g = 0; g < n_gen; g++) {
            if (xf_session_eval(s, &next, 1, logits) != XF_OK) return fail("xf_session_eval (decode)");
            next = argmax(logits, vocab);
        }
        dec[r] = now() - t0;
        dec_cpu[r] = cpu_now() - c0;
    }

    printf("{\"model\": \"%s\", \"weights\": \"%s\", \"threads\": %ld, \"prompt\": %ld, \"gen\": %ld, \"n_params\": %llu, "
           "\"weight_bytes_file\": %llu, \"weight_bytes_f32\": %llu, \"runs\": [",
           model_path, int8 ? "int8" : "stored", threads, n_prompt, n_gen, (unsigned long long)info.n_params,
           (unsigned long long)info.weight_bytes, (unsigned long long)info.n_params * 4ULL);
    for (long r = 0; r < runs; r++)
        printf("%s{\"prefill_s\": %.5f, \"decode_s\": %.5f, \"decode_cpu_s\": %.5f, \"prefill_tok_s\": %.2f, "
               "\"decode_tok_s\": %.2f}",
               r ? ", " : "", pre[r], dec[r], dec_cpu[r], (double)n_prompt / pre[r], (double)n_gen / dec[r]);
    double pre_med = median(pre, (int)runs), dec_med = median(dec, (int)runs), cpu_med = median(dec_cpu, (int)runs);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("], \"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f, \"decode_tok_cpu_s\": %.2f, \"depth\": %ld, "
           "\"quest\": %ld, \"quest_page\": %ld, \"n_ctx\": %zu, \"peak_rss_bytes\": %lld}\n",
           (double)n_prompt / pre_med, (double)n_gen / dec_med, (double)n_gen / cpu_med, depth, quest, quest_page, n_ctx,
           (long long)ru.ru_maxrss * 1024LL);

    free(ids), free(logits), free(pre), free(dec), free(dec_cpu);
    xf_session_free(s);
    xf_model_free(m);
    return 0;
}
