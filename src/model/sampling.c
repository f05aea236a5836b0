/* sampling.c — next-token sampling (xfmr.h, "sessions / generation"): penalties, temperature,
 * top-k / top-p / min-p filters and a seeded xoshiro256** PRNG. All buffers are allocated at
 * creation; sampling never allocates. Probabilities are computed in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/error.h"
#include "kernels/ops.h"
#include "model/sampling.h"
#include "xfmr.h"

typedef struct cand {
    float l;
    int32_t id;
} cand;

struct xf_sampler {
    xf_sampler_params p;
    size_t V;
    uint64_t s[4];   /* xoshiro256** state */
    cand *c;         /* [V] candidates */
    double *prob;    /* [V] unnormalised probabilities of the candidates */
    uint32_t *count; /* [V] occurrences in the history (zero between calls) */
};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t *s) {
    const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform double in [0, 1). */
static double next_unit(uint64_t *s) { return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

static xf_status bad(const char *name, double v, const char *want) {
    return xf_error(XF_ERR_INVALID_ARG, "sampler: %s %g is invalid (%s)", name, v, want);
}

xf_status xf_sampler_check(const xf_sampler_params *params) {
    const xf_sampler_params p = *params;
    if (!(p.temperature >= 0.0f) || isinf(p.temperature)) return bad("temperature", p.temperature, "must be finite and >= 0");
    if (p.top_k < 0) return bad("top_k", p.top_k, "must be >= 0; 0 disables it");
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return bad("top_p", p.top_p, "must be in (0, 1]; 1 disables it");
    if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) return bad("min_p", p.min_p, "must be in [0, 1); 0 disables it");
    if (!(p.repetition_penalty > 0.0f) || isinf(p.repetition_penalty))
        return bad("repetition_penalty", p.repetition_penalty, "must be finite and > 0; 1 disables it");
    if (!isfinite(p.presence_penalty)) return bad("presence_penalty", p.presence_penalty, "must be finite");
    if (!isfinite(p.frequency_penalty)) return bad("frequency_penalty", p.frequency_penalty, "must be finite");
    return XF_OK;
}

xf_status xf_sampler_create(const xf_sampler_params *params, size_t vocab_size, xf_sampler **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_sampler_create: NULL out");
    *out = NULL;
    xf_sampler_params p = xf_sampler_default_params();
    /* The first layout with struct_size is today's: older callers cannot exist yet. */
    xf_status st = params ? xf_struct_in(&p, sizeof p, params, sizeof p, "xf_sampler_params") : XF_OK;
    if (!st) st = xf_sampler_check(&p);
    if (st) return st;
    if (vocab_size == 0 || vocab_size > INT32_MAX)
        return xf_error(XF_ERR_INVALID_ARG, "sampler: vocab_size %zu is invalid (1 .. %d)", vocab_size, INT32_MAX);
    xf_sampler *s = xf_calloc(1, sizeof *s);
    if (!s) return xf_error(XF_ERR_NOMEM, "cannot allocate a sampler");
    s->p = p;
    s->V = vocab_size;
    s->c = xf_malloc(vocab_size * sizeof *s->c);
    s->prob = xf_malloc(vocab_size * sizeof *s->prob);
    s->count = xf_calloc(vocab_size, sizeof *s->count);
    if (!s->c || !s->prob || !s->count) {
        xf_sampler_free(s);
        return xf_error(XF_ERR_NOMEM, "cannot allocate a sampler for %zu tokens", vocab_size);
    }
    uint64_t x = p.seed;
    for (int i = 0; i < 4; i++) s->s[i] = splitmix64(&x);
    *out = s;
    return XF_OK;
}

void xf_sampler_free(xf_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s->prob);
    free(s->count);
    free(s);
}

/* Decreasing logit, then increasing id: a total order, so the sort is deterministic. */
static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->l != y->l) return x->l > y->l ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int32_t argmax(const float *l, size_t V) {
    size_t best = 0;
    for (size_t i = 1; i < V; i++)
        if (l[i] > l[best]) best = i;
    return (int32_t)best;
}

xf_status xf_sampler_sample(xf_sampler *s, float *logits, const int32_t *history, size_t n_hist, int32_t *out) {
    if (!s || !logits || !out || (n_hist && !history))
        return xf_error(XF_ERR_INVALID_ARG, "xf_sampler_sample: NULL argument");
    const size_t V = s->V;
    const xf_sampler_params *p = &s->p;
    for (size_t i = 0; i < n_hist; i++)
        if (history[i] < 0 || (size_t)history[i] >= V)
            return xf_error(XF_ERR_RANGE, "sampler: history[%zu] = %d is outside the vocabulary of %zu", i, history[i], V);
    const int penalties = p->repetition_penalty != 1.0f || p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f;
    if (p->temperature == 0.0f && !penalties) { /* greedy: NaN -> -inf and the argmax in one vector scan */
        size_t best;
        xf_argmax_nan(logits, V, &best);
        *out = (int32_t)best;
        return XF_OK;
    }
    for (size_t i = 0; i < V; i++)
        if (logits[i] != logits[i]) logits[i] = -INFINITY;

    /* 1-2. penalties, once per distinct token of the history */
    if (penalties) {
        for (size_t i = 0; i < n_hist; i++) s->count[history[i]]++;
        for (size_t i = 0; i < n_hist; i++) {
            uint32_t n = s->count[history[i]];
            if (!n) continue;
            float *l = &logits[history[i]];
            if (p->repetition_penalty != 1.0f) *l = *l > 0.0f ? *l / p->repetition_penalty : *l * p->repetition_penalty;
            *l -= p->presence_penalty + p->frequency_penalty * (float)n;
            s->count[history[i]] = 0;
        }
    }
    /* 3. greedy */
    if (p->temperature == 0.0f) {
        *out = argmax(logits, V);
        return XF_OK;
    }
    size_t n = 0;
    for (size_t i = 0; i < V; i++) {
        logits[i] /= p->temperature;
        if (logits[i] > -INFINITY) s->c[n++] = (cand){logits[i], (int32_t)i};
    }
    if (n == 0) { /* every logit is -inf */
        *out = argmax(logits, V);
        return XF_OK;
    }
    /* 4. top-k; sorted order also serves top-p */
    const int sorted = (p->top_k > 0 && (size_t)p->top_k < n) || p->top_p < 1.0f;
    if (sorted) {
        qsort(s->c, n, sizeof *s->c, cand_cmp);
        if (p->top_k > 0 && (size_t)p->top_k < n) n = (size_t)p->top_k;
    }
    float mx = s->c[0].l;
    for (size_t i = 1; i < n; i++) mx = s->c[i].l > mx ? s->c[i].l : mx;
    double sum = 0.0, pmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        s->prob[i] = exp((double)s->c[i].l - mx);
        sum += s->prob[i];
        pmax = s->prob[i] > pmax ? s->prob[i] : pmax;
    }
    /* 5. top-p: keep token i (by decreasing probability) while the mass before it is < top_p */
    if (p->top_p < 1.0f) {
        double cum = 0.0, lim = (double)p->top_p * sum;
        size_t k = 0;
        while (k < n && (k == 0 || cum < lim)) cum += s->prob[k++];
        n = k;
        sum = cum;
    }
    /* 6. min-p, relative to the most probable token */
    if (p->min_p > 0.0f) {
        double thr = (double)p->min_p * pmax;
        size_t k = 0;
        sum = 0.0;
        for (size_t i = 0; i < n; i++)
            if (s->prob[i] >= thr) {
                s->c[k] = s->c[i];
                s->prob[k] = s->prob[i];
                sum += s->prob[k++];
            }
        n = k;
    }
    /* 7. draw */
    double u = next_unit(s->s) * sum, acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        acc += s->prob[i];
        if (u < acc) {
            *out = s->c[i].id;
            return XF_OK;
        }
    }
    *out = s->c[n - 1].id; /* rounding: u landed at the very end */
    return XF_OK;
}
