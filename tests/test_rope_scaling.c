/* test_rope_scaling.c — the rotary scaling variants (kernels/rope_scaling.c) against transformers'
 * formulas, and the model paths that use them:
 *   - inverse frequencies and attention factors of every variant vs tests/data/rope_goldens.txt
 *     (scripts/make_rope_goldens.py: transformers' rope init functions written out in double);
 *   - the tables carry YaRN's attention factor on cos and sin;
 *   - xf_model_params override: "linear" x2 on tiny/llama_rope_linear reproduces transformers'
 *     logits of that model (ref_logits.bin), "none" drops the config's scaling;
 *   - dynamic NTK: within the trained length bitwise the plain model; past it, a forward's rows
 *     equal static NTK with the factor of that length (factor L / L0 - (factor - 1)), bitwise;
 *     a session's prompt gets the base of its whole length;
 *   - bad overrides are refused with messages naming the value. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/rope.h"
#include "xfmr.h"

static double num_of(const char *line, const char *key, double dflt) {
    char k[40];
    snprintf(k, sizeof k, " %s=", key);
    const char *p = strstr(line, k);
    return p ? strtod(p + strlen(k), NULL) : dflt;
}

static void test_goldens(void) {
    size_t len = 0, n = 0;
    char *text = xf_t_slurp(xf_t_src("tests/data/rope_goldens.txt"), &len);
    CHECK_MSG(text != NULL, "cannot read tests/data/rope_goldens.txt");
    if (!text) return;
    xf_t_span *lines = xf_t_split_lines(text, len, &n);
    size_t cases = 0;
    for (size_t l = 0; l < n; l++) {
        char *line = lines[l].p;
        line[lines[l].n] = '\0';
        if (!*line || *line == '#') continue;
        char name[64] = "", kind[16] = "";
        const char *kp = strstr(line, " kind=");
        if (sscanf(line, "%63s", name) != 1 || !kp || sscanf(kp + 6, "%15s", kind) != 1) {
            CHECK_MSG(0, "rope_goldens.txt line %zu unreadable", l + 1);
            continue;
        }
        xf_rope_params p = {0};
        const xf_rope_variant *v = xf_rope_variant_named(kind);
        CHECK_MSG(v != NULL, "%s: variant \"%s\" unknown", name, kind);
        if (!v) continue;
        p.kind = v->kind;
        p.head_dim = (size_t)num_of(line, "dim", 0);
        p.theta = num_of(line, "theta", 0);
        p.factor = num_of(line, "factor", 1.0);
        p.original_max_position = num_of(line, "orig", 0);
        p.low_freq_factor = num_of(line, "low", 0);
        p.high_freq_factor = num_of(line, "high", 0);
        p.beta_fast = num_of(line, "beta_fast", 0);
        p.beta_slow = num_of(line, "beta_slow", 0);
        p.attention_factor = num_of(line, "attn", 0);
        p.mscale = num_of(line, "mscale", 0);
        p.mscale_all_dim = num_of(line, "mscale_all_dim", 0);
        p.no_truncate = num_of(line, "truncate", 1) == 0;
        p.seq_len = num_of(line, "seq_len", 0);
        const char *bar = strchr(line, '|');
        if (!bar || p.head_dim < 2 || p.head_dim > 256) {
            CHECK_MSG(0, "%s: malformed golden", name);
            continue;
        }
        char *end;
        const double af_want = strtod(bar + 1, &end);
        bar = strchr(end, '|');
        double want[128], got[128];
        const size_t half = p.head_dim / 2;
        size_t k = 0;
        for (const char *q = bar ? bar + 1 : ""; k < half; k++) {
            want[k] = strtod(q, &end);
            if (end == q) break;
            q = end;
        }
        CHECK_MSG(k == half, "%s: %zu of %zu frequencies in the golden", name, k, half);
        xf_rope_inv_freq(&p, got);
        double worst = 0;
        for (size_t i = 0; i < k; i++) worst = fmax(worst, fabs(got[i] - want[i]) / want[i]);
        CHECK_MSG(worst <= 1e-12, "%s: inv_freq relative error %.3g", name, worst);
        const double af = xf_rope_attention_factor(&p);
        CHECK_MSG(fabs(af - af_want) <= 1e-14 * af_want, "%s: attention factor %.17g, want %.17g", name, af, af_want);
        /* the tables: af cos / af sin of pos x inv_freq, rounded to float */
        float ct[3 * 128], st[3 * 128];
        const int32_t pos[3] = {0, 77, 5000};
        xf_rope_rows_at(&p, pos, 3, ct, st);
        double te = 0;
        for (size_t t = 0; t < 3; t++)
            for (size_t i = 0; i < half; i++) {
                te = fmax(te, fabs(ct[t * half + i] - af * cos(pos[t] * got[i])));
                te = fmax(te, fabs(st[t * half + i] - af * sin(pos[t] * got[i])));
            }
        CHECK_MSG(te <= 2e-7 * af, "%s: table error %.3g", name, te);
        cases++;
    }
    CHECK_MSG(cases >= 18, "only %zu golden cases", cases);
    printf("rope goldens: %zu cases checked against transformers' formulas (1e-12)\n", cases);
    free(lines);
    free(text);
}

/* Logits of ids under a model loaded from tests/data/tiny/<name> with a rotary override. */
static int logits_of(const char *name, const char *scaling, double factor, size_t orig, const int32_t *ids,
                     size_t n, float **out, size_t *V) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", xf_t_src("tests/data/tiny"), name);
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.rope_scaling = scaling;
    p.rope_factor = factor;
    p.rope_orig_ctx = orig;
    xf_model *m = NULL;
    xf_status st = xf_model_load(dir, &p, &m);
    CHECK_MSG(st == XF_OK, "%s (%s): %s", name, scaling ? scaling : "config", xf_errmsg());
    if (st) return -1;
    *V = xf_model_vocab_size(m);
    *out = malloc(n * *V * sizeof **out);
    st = xf_model_logits(m, ids, n, *out);
    CHECK_MSG(st == XF_OK, "%s logits: %s", name, xf_errmsg());
    xf_model_free(m);
    return st ? -1 : 0;
}

static double max_rel(const float *a, const float *b, size_t n) {
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(b[i])), md = fmax(md, fabs((double)a[i] - b[i]));
    return md / mx;
}

static void test_override_linear(void) {
    /* ref_logits.bin of llama_rope_linear: transformers with rope_scaling linear x2 */
    size_t len = 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/llama_rope_linear/ref_logits.bin", xf_t_src("tests/data/tiny"));
    unsigned char *buf = (unsigned char *)xf_t_slurp(path, &len);
    CHECK_MSG(buf != NULL, "cannot read %s", path);
    if (!buf) return;
    size_t pos = 4, checked = 0;
    uint32_t n_prompts;
    memcpy(&n_prompts, buf, 4);
    for (uint32_t k = 0; k < n_prompts && pos + 4 <= len; k++) {
        uint32_t n;
        memcpy(&n, buf + pos, 4);
        pos += 4;
        const int32_t *ids = (const int32_t *)(buf + pos);
        const float *want = (const float *)(buf + pos + 4 * n);
        float *lin = NULL, *none = NULL;
        size_t V = 0;
        if (logits_of("llama_rope_linear", "linear", 2.0, 0, ids, n, &lin, &V) == 0 &&
            logits_of("llama_rope_linear", "none", 0.0, 0, ids, n, &none, &V) == 0) {
            pos += 4 * n + (size_t)n * V * 4;
            const double e = max_rel(lin, want, n * V), d = max_rel(none, want, n * V);
            CHECK_MSG(e <= 1e-4, "override linear x2, len %u: %.3g from transformers", n, e);
            if (n > 1) CHECK_MSG(d > 1e-3, "override none, len %u: still the linear model (%.3g)", n, d);
            checked++;
        } else {
            k = n_prompts;
        }
        free(lin), free(none);
    }
    CHECK(checked == n_prompts);
    free(buf);
}

static void test_dynamic(void) {
    int32_t ids[100];
    for (int i = 0; i < 100; i++) ids[i] = (i * 37 + 11) % 320;
    float *dyn = NULL, *plain = NULL, *ntk = NULL;
    size_t V = 0;
    /* 40 tokens within L0 = 64: the plain base */
    if (logits_of("llama", "dynamic", 2.0, 64, ids, 40, &dyn, &V) == 0 &&
        logits_of("llama", NULL, 0.0, 0, ids, 40, &plain, &V) == 0)
        CHECK_MSG(memcmp(dyn, plain, 40 * V * 4) == 0, "dynamic within L0 differs from plain");
    free(dyn), free(plain), dyn = plain = NULL;
    /* 100 tokens past L0 = 64: static NTK with factor 2 x 100 / 64 - 1 = 2.125 */
    if (logits_of("llama", "dynamic", 2.0, 64, ids, 100, &dyn, &V) == 0 &&
        logits_of("llama", "ntk", 2.125, 64, ids, 100, &ntk, &V) == 0 &&
        logits_of("llama", NULL, 0.0, 0, ids, 100, &plain, &V) == 0) {
        CHECK_MSG(memcmp(dyn, ntk, 100 * V * 4) == 0, "dynamic past L0 differs from ntk x2.125: %.3g",
                  max_rel(dyn, ntk, 100 * V));
        CHECK_MSG(max_rel(dyn, plain, 100 * V) > 1e-4, "dynamic past L0 is the plain model");
    }
    /* a session given the 100 tokens in one call: the same last row */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/llama", xf_t_src("tests/data/tiny"));
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2, p.rope_scaling = "dynamic", p.rope_factor = 2.0, p.rope_orig_ctx = 64;
    xf_model *m = NULL;
    xf_session *s = NULL;
    if (dyn && xf_model_load(dir, &p, &m) == XF_OK && xf_session_create(m, 0, &s) == XF_OK) {
        float *last = malloc(V * sizeof *last);
        xf_status st = xf_session_eval(s, ids, 100, last);
        CHECK_MSG(st == XF_OK, "session: %s", xf_errmsg());
        if (!st) CHECK_MSG(max_rel(last, dyn + 99 * V, V) <= 1e-5, "session last row %.3g from the forward",
                           max_rel(last, dyn + 99 * V, V));
        free(last);
    } else {
        CHECK_MSG(!dyn, "session: %s", xf_errmsg());
    }
    xf_session_free(s);
    xf_model_free(m);
    free(dyn), free(plain), free(ntk);
}

static void test_errors(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/llama", xf_t_src("tests/data/tiny"));
    xf_model_params p = xf_model_default_params();
    xf_model *m = NULL;
    p.rope_scaling = "bogus";
    CHECK(xf_model_load(dir, &p, &m) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "bogus") && !m);
    p.rope_scaling = "yarn";
    CHECK(xf_model_load(dir, &p, &m) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "rope_factor") && !m);
    p.rope_factor = -2;
    CHECK(xf_model_load(dir, &p, &m) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "-2") && !m);
    p.rope_scaling = NULL, p.rope_factor = 2;
    CHECK(xf_model_load(dir, &p, &m) == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), "need rope_scaling") && !m);
    /* yarn x4 over 128 trained positions: 512 positions are accepted */
    p.rope_scaling = "yarn", p.rope_factor = 4;
    xf_status st = xf_model_load(dir, &p, &m);
    CHECK_MSG(st == XF_OK, "yarn x4: %s", xf_errmsg());
    if (m) {
        int32_t ids[300];
        for (int i = 0; i < 300; i++) ids[i] = i % 320;
        float *lg = malloc(300 * xf_model_vocab_size(m) * sizeof *lg);
        CHECK_MSG(xf_model_logits(m, ids, 300, lg) == XF_OK, "yarn x4, 300 tokens: %s", xf_errmsg());
        free(lg);
        xf_model_free(m);
    }
}

int main(void) {
    test_goldens();
    test_override_linear();
    test_dynamic();
    test_errors();
    return xf_t_report();
}
