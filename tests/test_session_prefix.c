/* test_session_prefix.c — shared prompt prefixes (xf_session_copy_prefix, xf_session_eval_rest):
 * a prompt evaluated after copying the first tokens of another session's prompt leaves the
 * session bitwise as evaluating the whole prompt in an empty session does (the last logits and the
 * logits of the decode steps after it, which read every cached key and value), for GGUF block
 * weights (float, int8 and W8A8 activations), float weights and SmolLM2 (prompts of one and two
 * chunks, the last one short or not); held tokens the whole prompt's forward would compute
 * otherwise (a donor's decode steps, a short prompt, a short last chunk) are dropped and evaluated
 * again. Whether the prefix was really reused is seen by perturbing the copied keys: the logits
 * must then change exactly when reuse is expected. Errors: more tokens than held, two models, an
 * evicting policy, a q4 cache. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "xfmr.h"

enum { STEPS = 3 };

/* The whole prompt in an empty session, then STEPS decode steps: logits (1 + STEPS) x V. */
static int whole(xf_model *m, const int32_t *ids, size_t n, float *lg) {
    const size_t V = xf_model_vocab_size(m);
    xf_session *s = NULL;
    int ok = xf_session_create(m, 0, &s) == XF_OK && xf_session_eval(s, ids, n, lg) == XF_OK;
    for (size_t k = 0; ok && k < STEPS; k++) {
        const int32_t t = (int32_t)((k * 7 + 3) % V);
        ok = xf_session_eval(s, &t, 1, lg + (k + 1) * V) == XF_OK;
    }
    xf_session_free(s);
    return ok;
}

/* A donor evaluates dids[0..dn) and `dsteps` decode steps (its tokens dids[dn..dn+dsteps)); the
 * session b gets its first p tokens (b == donor when self), perturbed when `poke`, then the
 * rest of ids[0..n) and the STEPS steps; compared with the whole prompt. Returns 1 when the
 * logits are bitwise the whole prompt's. */
static int via_prefix(xf_model *m, const int32_t *dids, size_t dn, size_t dsteps, const int32_t *ids, size_t n,
                      size_t p, int self, int poke, const char *what) {
    const size_t V = xf_model_vocab_size(m);
    float *la = malloc((1 + STEPS) * V * 4), *lb = malloc((1 + STEPS) * V * 4);
    xf_session *d = NULL, *b = NULL;
    int ok = whole(m, ids, n, la) && xf_session_create(m, 0, &d) == XF_OK && xf_session_create(m, 0, &b) == XF_OK &&
             xf_session_eval(d, dids, dn, NULL) == XF_OK;
    for (size_t k = 0; ok && k < dsteps; k++) ok = xf_session_eval(d, dids + dn + k, 1, NULL) == XF_OK;
    xf_session *dst = self ? d : b;
    ok = ok && xf_session_copy_prefix(dst, d, p) == XF_OK && xf_session_n_past(dst) == p;
    if (ok && poke && p) {
        xf_kv_layer *L = &xf_session_cache(dst)->layers[0];
        for (size_t j = 0; j < L->kv_dim; j++) ((float *)L->k)[j] += 0.5f; /* token 0's keys */
    }
    ok = ok && xf_session_eval_rest(dst, ids, n, lb) == XF_OK && xf_session_n_past(dst) == n;
    for (size_t k = 0; ok && k < STEPS; k++) {
        const int32_t t = (int32_t)((k * 7 + 3) % V);
        ok = xf_session_eval(dst, &t, 1, lb + (k + 1) * V) == XF_OK;
    }
    CHECK_MSG(ok, "%s: %s", what, xf_errmsg());
    const int same = ok && !memcmp(la, lb, (1 + STEPS) * V * 4);
    xf_session_free(d);
    xf_session_free(b);
    free(la), free(lb);
    return same;
}

/* Token ids: the first `share` of a and b equal, the rest different. */
static void prompts(int32_t *a, size_t na, int32_t *b, size_t nb, size_t share, size_t V) {
    for (size_t k = 0; k < na; k++) a[k] = (int32_t)((k * 13 + 1) % V);
    for (size_t k = 0; k < nb; k++) b[k] = k < share ? a[k] : (int32_t)((k * 17 + 5) % V);
}

/* Each case twice: unperturbed (must equal the whole prompt) and with the copied keys perturbed
 * (must differ exactly when `reused`). */
static void both(xf_model *m, const int32_t *dids, size_t dn, size_t dsteps, const int32_t *ids, size_t n, size_t p,
                 int self, int reused, const char *name, const char *what) {
    CHECK_MSG(via_prefix(m, dids, dn, dsteps, ids, n, p, self, 0, what), "%s: %s: not bitwise the whole prompt", name,
              what);
    CHECK_MSG(via_prefix(m, dids, dn, dsteps, ids, n, p, self, 1, what) == !reused, "%s: %s: the prefix was %s", name,
              what, reused ? "not reused" : "reused");
}

static void test_tiny(const char *file, int weights, int exact) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), file);
    xf_model *m = xf_t_load(dir, (xf_weight_format)weights);
    if (!m) return;
    char name[64];
    snprintf(name, sizeof name, "%s weights %d", file, weights);
    const size_t V = xf_model_vocab_size(m);
    int32_t a[64], b[64];
    /* llama_q.gguf holds 64 positions: prompts up to 56, then STEPS steps */
    prompts(a, 56, b, 56, 30, V);
    both(m, b, 45, 0, a, 50, 30, 0, exact, name, "wide donor, wide prompt");
    both(m, b, 45, 0, a, 50, 30, 1, exact, name, "the donor cut to its prefix");
    both(m, b, 45, 0, a, 50, 12, 0, exact, name, "part of the shared tokens");
    both(m, b, 45, 0, a, 50, 0, 0, 0, name, "nothing copied");
    both(m, b, 20, 0, a, 50, 15, 0, 0, name, "a short donor prompt (its own path)");
    both(m, b, 45, 0, a, 20, 15, 0, 0, name, "a short prompt (its own path)");
    /* the donor's prompt, its decode steps, more: only its prompt's tokens are reused */
    prompts(b, 56, a, 56, 56, V); /* a == b */
    both(m, b, 40, 5, a, 50, 45, 0, exact, name, "a donor's decode steps dropped");
    both(m, b, 40, 0, a, 41, 40, 0, exact, name, "one token left");
    xf_model_free(m);
}

/* SmolLM2 (chunks of 256): a second chunk of 44 tokens (wide) and of 14 (short: the donor's tokens
 * of the first chunk only). */
static void test_smollm2(int weights) {
    const char *path = xf_t_smollm2();
    if (!path) return;
    xf_model *m = xf_t_load(path, (xf_weight_format)weights);
    if (!m) return;
    const size_t V = xf_model_vocab_size(m);
    int32_t *a = malloc(400 * 4), *b = malloc(400 * 4);
    prompts(a, 300, b, 300, 280, V);
    char name[32];
    snprintf(name, sizeof name, "SmolLM2 weights %d", weights);
    if (xf_t_knob("XF_T_PREFIX_FULL", 1, 0)) { /* prompts of 300 tokens: not in sanitizer builds */
        both(m, b, 290, 0, a, 300, 270, 0, 1, name, "two chunks, the second wide");
        both(m, b, 290, 0, a, 270, 265, 0, 1, name, "two chunks, the second short");
    }
    prompts(a, 60, b, 60, 31, V);
    both(m, b, 40, 0, a, 38, 31, 0, 1, name, "a chat-sized prompt");
    free(a), free(b);
    xf_model_free(m);
}

/* Several sessions at once (xf_session_eval_rest_batch): a copied prefix, an empty session, a
 * short prompt, a prefix with a donor's decode steps, the donor itself cut; each bitwise as its
 * whole prompt alone. */
static void test_batch(const char *dir, int weights) {
    xf_model *m = xf_t_load(dir, (xf_weight_format)weights);
    if (!m) return;
    enum { N = 5 };
    const size_t V = xf_model_vocab_size(m);
    static const size_t lens[N] = {50, 40, 20, 48, 45}, copy[N] = {30, 0, 12, 44, 35};
    int32_t base[64], ids[300];
    prompts(base, 64, base, 64, 64, V);
    size_t at = 0;
    for (size_t i = 0; i < N; at += lens[i], i++)
        for (size_t k = 0; k < lens[i]; k++) ids[at + k] = k < copy[i] ? base[k] : (int32_t)((k * 11 + i * 3 + 2) % V);
    xf_session *d = NULL, *ss[N] = {0};
    int ok = xf_session_create(m, 0, &d) == XF_OK && xf_session_eval(d, base, 40, NULL) == XF_OK;
    for (size_t k = 0; ok && k < 6; k++) ok = xf_session_eval(d, base + 40 + k, 1, NULL) == XF_OK;
    for (size_t i = 0; ok && i < N - 1; i++) ok = xf_session_create(m, 0, &ss[i]) == XF_OK;
    ss[N - 1] = d;
    for (size_t i = 0; ok && i < N; i++) ok = xf_session_copy_prefix(ss[i], d, copy[i]) == XF_OK;
    float *la = malloc(N * V * 4), *lb = malloc((1 + STEPS) * V * 4), *lc = malloc(STEPS * V * 4);
    ok = ok && xf_session_eval_rest_batch(ss, N, ids, lens, la) == XF_OK;
    CHECK_MSG(ok, "%s: batch: %s", dir, xf_errmsg());
    at = 0;
    for (size_t i = 0; ok && i < N; at += lens[i], i++) {
        for (size_t k = 0; k < STEPS; k++) {
            const int32_t t = (int32_t)((k * 7 + 3) % V);
            CHECK(xf_session_eval(ss[i], &t, 1, lc + k * V) == XF_OK);
        }
        CHECK(whole(m, ids + at, lens[i], lb));
        CHECK_MSG(!memcmp(la + i * V, lb, V * 4) && !memcmp(lc, lb + V, STEPS * V * 4),
                  "%s weights %d: batched rest %zu is not bitwise its whole prompt", dir, weights, i);
    }
    for (size_t i = 0; i < N; i++) xf_session_free(ss[i]);
    free(la), free(lb), free(lc);
    xf_model_free(m);
}

static void test_errors(void) {
    char dir[4096], dir2[4096];
    snprintf(dir, sizeof dir, "%s/llama_q.gguf", xf_t_src("tests/data/tiny"));
    snprintf(dir2, sizeof dir2, "%s/llama", xf_t_src("tests/data/tiny"));
    xf_model *m = xf_t_load(dir, XF_WEIGHTS_AS_STORED), *m2 = xf_t_load(dir2, XF_WEIGHTS_AS_STORED);
    if (!m || !m2) {
        xf_model_free(m), xf_model_free(m2);
        return;
    }
    xf_session *a = NULL, *b = NULL, *c = NULL, *ev = NULL, *q4 = NULL;
    xf_session_params p = xf_session_default_params();
    int ok = xf_session_create(m, 0, &a) == XF_OK && xf_session_create(m, 0, &b) == XF_OK &&
             xf_session_create(m2, 0, &c) == XF_OK;
    p.kv_policy = "streaming", p.kv_budget = 16;
    ok = ok && xf_session_create_ex(m, &p, &ev) == XF_OK;
    p = xf_session_default_params();
    p.kv_type = XF_KV_Q4;
    ok = ok && xf_session_create_ex(m, &p, &q4) == XF_OK;
    CHECK_MSG(ok, "sessions: %s", xf_errmsg());
    int32_t ids[40];
    for (size_t k = 0; k < 40; k++) ids[k] = (int32_t)(k % 50 + 1);
    if (ok) {
        CHECK(xf_session_eval(a, ids, 40, NULL) == XF_OK);
        CHECK(xf_session_copy_prefix(b, a, 41) == XF_ERR_RANGE);
        CHECK(xf_session_copy_prefix(c, a, 10) == XF_ERR_INVALID_ARG);
        CHECK(xf_session_copy_prefix(ev, a, 10) == XF_ERR_UNSUPPORTED);
        CHECK(xf_session_copy_prefix(q4, a, 10) == XF_ERR_UNSUPPORTED);
        CHECK(xf_session_copy_prefix(NULL, a, 10) == XF_ERR_INVALID_ARG);
        CHECK(xf_session_eval_rest(b, ids, 0, NULL) == XF_ERR_INVALID_ARG);
        ids[5] = -1;
        CHECK(xf_session_eval_rest(b, ids, 40, NULL) == XF_ERR_RANGE && xf_session_n_past(b) == 0);
        ids[5] = 1;
        xf_session *two[2] = {a, a};
        size_t l2[2] = {20, 20};
        CHECK(xf_session_eval_rest_batch(two, 2, ids, l2, NULL) == XF_ERR_INVALID_ARG);
        two[1] = b, ids[25] = 9999;
        CHECK(xf_session_eval_rest_batch(two, 2, ids, l2, NULL) == XF_ERR_RANGE && xf_session_n_past(a) == 40);
        ids[25] = 1;
        /* an evicting session is evaluated whole */
        CHECK(xf_session_eval_rest(ev, ids, 40, NULL) == XF_OK);
    }
    xf_session_free(a), xf_session_free(b), xf_session_free(c), xf_session_free(ev), xf_session_free(q4);
    xf_model_free(m), xf_model_free(m2);
}

int main(void) {
    test_tiny("llama_q.gguf", XF_WEIGHTS_AS_STORED, 1);
    /* its float tensors become xf's int8 format, whose products are not known to be row-exact */
    test_tiny("llama_q.gguf", XF_WEIGHTS_INT8, 0);
    test_tiny("llama_q.gguf", XF_WEIGHTS_A8, 0);
    test_tiny("llama", XF_WEIGHTS_AS_STORED, 1); /* float weights */
    test_tiny("llama", XF_WEIGHTS_BF16, 0); /* bf16 products: evaluated whole */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/llama_q.gguf", xf_t_src("tests/data/tiny"));
    test_batch(dir, XF_WEIGHTS_AS_STORED);
    snprintf(dir, sizeof dir, "%s/llama", xf_t_src("tests/data/tiny"));
    test_batch(dir, XF_WEIGHTS_AS_STORED);
    const char *smol = xf_t_smollm2();
    if (smol) test_batch(smol, XF_WEIGHTS_AS_STORED);
    test_errors();
    test_smollm2(XF_WEIGHTS_AS_STORED);
    if (xf_t_knob("XF_T_PREFIX_FULL", 1, 0)) /* every product on GGUF blocks, int8 activations to 28-32 rows */
        test_smollm2(XF_WEIGHTS_INT8);
    return xf_t_report();
}
