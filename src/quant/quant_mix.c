/* quant_mix.c — mixed precision by sensitivity (quant_mix.h): per-matrix activation-weighted
 * quantization errors of each ladder type, and the greedy allocation of bits that meets a target. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/gguf.h"
#include "kernels/quants.h"
#include "quant/quant_mix.h"
#include "quant/quantize.h"

/* ---------------------------------------------------------------- the ladder */

static const char *const k_default = "MXFP4,Q4_0,Q4_K,Q4_1,Q5_0,Q5_K,Q5_1,Q6_K,Q8_0";

xf_status xf_mix_ladder_parse(const char *list, xf_mix_ladder *out) {
    memset(out, 0, sizeof *out);
    if (!list || !*list) list = k_default;
    const char *p = list;
    while (*p) {
        const char *e = p;
        while (*e && *e != ',') e++;
        char name[16];
        size_t len = (size_t)(e - p);
        while (len && p[0] == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        if (!len || len >= sizeof name)
            return xf_error(XF_ERR_INVALID_ARG, "mixed-precision types \"%s\": an empty or too long name", list);
        memcpy(name, p, len);
        name[len] = 0;
        const int t = xf_quantize_type_by_name(name);
        if (t < 0)
            return xf_error(XF_ERR_INVALID_ARG, "mixed-precision types: unknown type \"%s\"; valid types: %s", name,
                            xf_quantize_type_list());
        if (t == XF_GGML_FP4S)
            return xf_error(XF_ERR_INVALID_ARG, "mixed-precision types: \"%s\" is xfmr's own type; a mixture holds "
                            "standard GGUF types only, which llama.cpp runs", name);
        for (int k = 0; k < out->n; k++)
            if (out->type[k] == t) return xf_error(XF_ERR_INVALID_ARG, "mixed-precision types: \"%s\" given twice", name);
        if (out->n == XF_MIX_MAX_TYPES) return xf_error(XF_ERR_INVALID_ARG, "mixed-precision types: too many");
        const xf_quant_traits *tr = xf_quant_traits_of(t);
        if (!tr) return xf_error(XF_ERR_UNSUPPORTED, "mixed-precision types: no kernels for \"%s\"", name);
        /* insertion by bits (stable: equal bits keep the order given) */
        const double bits = 8.0 * (double)tr->type_size / (double)tr->block_size;
        int k = out->n;
        while (k > 0 && out->bits[k - 1] > bits) {
            out->type[k] = out->type[k - 1], out->bits[k] = out->bits[k - 1], out->block[k] = out->block[k - 1];
            k--;
        }
        out->type[k] = t, out->bits[k] = bits, out->block[k] = tr->block_size;
        out->n++;
        p = *e ? e + 1 : e;
    }
    return XF_OK;
}

int xf_mix_fits(const xf_mix_ladder *L, int k, size_t cols) { return cols && cols % L->block[k] == 0; }

/* The cheapest and dearest bits per weight of matrix t (16: no ladder type fits, F16). */
static void bits_span(const xf_mix_tensor *t, const xf_mix_ladder *L, double *lo, double *hi) {
    *lo = *hi = -1;
    for (int k = 0; k < L->n; k++)
        if (xf_mix_fits(L, k, t->cols)) {
            if (*lo < 0) *lo = L->bits[k];
            *hi = L->bits[k];
        }
    if (*lo < 0) *lo = *hi = 16.0;
}

void xf_mix_range(const xf_mix_tensor *t, size_t n, const xf_mix_ladder *L, double *lo, double *hi) {
    double a = 0, b = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        double l, h;
        bits_span(&t[i], L, &l, &h);
        const double sz = (double)t[i].rows * (double)t[i].cols;
        a += l * sz, b += h * sz, w += sz;
    }
    *lo = w > 0 ? a / w : 0;
    *hi = w > 0 ? b / w : 0;
}

/* ---------------------------------------------------------------- errors */

#define CHUNK 16
#define N_SUMS (XF_MIX_MAX_TYPES + 1) /* errors, then the signal */

typedef struct err_task {
    const xf_mix_tensor *t;
    const xf_mix_ladder *L;
    double *sums; /* [nth][N_SUMS] */
    int failed;
} err_task;

static void err_part(void *ctx, int ith, int nth) {
    err_task *k = ctx;
    const xf_mix_tensor *t = k->t;
    const size_t cols = t->cols;
    size_t r0, r1;
    xf_split_range(t->rows, 1, ith, nth, &r0, &r1);
    double *sum = k->sums + (size_t)ith * N_SUMS;
    if (r0 >= r1) return;
    float *w = xf_malloc(CHUNK * cols * sizeof *w), *dq = xf_malloc(CHUNK * cols * sizeof *dq);
    unsigned char *q = xf_malloc(CHUNK * cols * 2);
    if (!w || !dq || !q) {
        k->failed = 1;
        free(w), free(dq), free(q);
        return;
    }
    for (size_t a = r0; a < r1; a += CHUNK) {
        const size_t nr = r1 - a < CHUNK ? r1 - a : CHUNK;
        t->get_rows(t->user, a, a + nr, w);
        for (size_t r = 0; r < nr; r++)
            for (size_t j = 0; j < cols; j++) {
                const double v = w[r * cols + j];
                sum[XF_MIX_MAX_TYPES] += (t->imp ? t->imp[j] : 1.0) * v * v;
            }
        for (int ty = 0; ty < k->L->n; ty++) {
            if (!xf_mix_fits(k->L, ty, cols)) continue;
            const xf_quant_traits *tr = xf_quant_traits_of(k->L->type[ty]);
            const xf_quantize_fn qf = xf_quantizer(k->L->type[ty]);
            const size_t rb = cols / tr->block_size * tr->type_size;
            double e = 0;
            for (size_t r = 0; r < nr; r++) {
                qf(w + r * cols, q + r * rb, cols);
                tr->dequant(q + r * rb, dq + r * cols, cols);
                for (size_t j = 0; j < cols; j++) {
                    const double d = (double)w[r * cols + j] - (double)dq[r * cols + j];
                    e += (t->imp ? t->imp[j] : 1.0) * d * d;
                }
            }
            sum[ty] += e;
        }
    }
    free(w), free(dq), free(q);
}

xf_status xf_mix_errors(xf_mix_tensor *t, size_t n, const xf_mix_ladder *L, xf_pool *pool,
                        void (*progress)(void *user, size_t done, size_t total), void *user) {
    const int nth = pool ? xf_pool_size(pool) : 1;
    double *sums = xf_calloc((size_t)nth * N_SUMS, sizeof *sums);
    if (!sums) return xf_error(XF_ERR_NOMEM, "out of memory for the mixed-precision errors");
    xf_status st = XF_OK;
    for (size_t i = 0; i < n && !st; i++) {
        memset(sums, 0, (size_t)nth * N_SUMS * sizeof *sums);
        err_task k = {&t[i], L, sums, 0};
        if (pool) xf_pool_run(pool, err_part, &k);
        else err_part(&k, 0, 1);
        if (k.failed) {
            st = xf_error(XF_ERR_NOMEM, "out of memory quantizing \"%s\" for its errors", t[i].name);
            break;
        }
        for (int ty = 0; ty < XF_MIX_MAX_TYPES; ty++) {
            double e = 0;
            for (int h = 0; h < nth; h++) e += sums[(size_t)h * N_SUMS + ty];
            t[i].err[ty] = ty < L->n && xf_mix_fits(L, ty, t[i].cols) ? e : -1.0;
        }
        double s = 0;
        for (int h = 0; h < nth; h++) s += sums[(size_t)h * N_SUMS + XF_MIX_MAX_TYPES];
        t[i].signal = s;
        for (int ty = 0; ty < L->n; ty++)
            if (!isfinite(t[i].err[ty])) st = xf_error(XF_ERR_INVALID_ARG, "tensor \"%s\": its quantization error is not finite", t[i].name);
        if (progress) progress(user, i + 1, n);
    }
    free(sums);
    return st;
}

/* ---------------------------------------------------------------- allocation */

typedef struct upgrade {
    size_t tensor;
    int from, to;   /* ladder indices, consecutive on the tensor's hull */
    int step;       /* position on the hull (0 first) */
    double gain;    /* normalized error removed per extra bit of the whole matrix */
    double cost;    /* extra bits of the whole matrix */
} upgrade;

static int by_gain(const void *a, const void *b) {
    const upgrade *x = a, *y = b;
    if (x->gain != y->gain) return x->gain > y->gain ? -1 : 1;
    if (x->tensor != y->tensor) return x->tensor < y->tensor ? -1 : 1;
    return x->step - y->step;
}

/* The lower convex hull of matrix t's (bits, error) points over the fitting types, cheapest first:
 * idx[0..*m) ladder indices with strictly falling errors and falling error per bit. */
static void hull(const xf_mix_tensor *t, const xf_mix_ladder *L, int *idx, int *m) {
    int pts[XF_MIX_MAX_TYPES], np = 0;
    for (int k = 0; k < L->n; k++) {
        if (t->err[k] < 0) continue;
        if (np && L->bits[pts[np - 1]] == L->bits[k]) { /* equal bits: the lower error */
            if (t->err[k] < t->err[pts[np - 1]]) pts[np - 1] = k;
            continue;
        }
        pts[np++] = k;
    }
    *m = 0;
    for (int a = 0; a < np; a++) {
        const int k = pts[a];
        if (*m && t->err[k] >= t->err[idx[*m - 1]]) continue; /* more bits, no less error */
        while (*m >= 2) { /* drop the last point when it lies on or above the chord */
            const int p = idx[*m - 2], q = idx[*m - 1];
            const double s1 = (t->err[p] - t->err[q]) / (L->bits[q] - L->bits[p]);
            const double s2 = (t->err[q] - t->err[k]) / (L->bits[k] - L->bits[q]);
            if (s2 >= s1) (*m)--;
            else break;
        }
        idx[(*m)++] = k;
    }
}

xf_status xf_mix_allocate(xf_mix_tensor *t, size_t n, const xf_mix_ladder *L, double target, double *bpw) {
    double lo, hi;
    xf_mix_range(t, n, L, &lo, &hi);
    if (!(target >= lo - 1e-9 && target <= hi + 1e-9))
        return xf_error(XF_ERR_INVALID_ARG, "target of %g bits per weight cannot be met: the mixture's types reach %.4f to "
                        "%.4f bits per weight over these %zu matrices", target, lo, hi, n);
    upgrade *u = xf_malloc((n * XF_MIX_MAX_TYPES + 1) * sizeof *u);
    int *at = xf_calloc(n + 1, sizeof *at); /* hull step each matrix has reached */
    if (!u || !at) {
        free(u), free(at);
        return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    size_t nu = 0;
    double used = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        int idx[XF_MIX_MAX_TYPES], m;
        hull(&t[i], L, idx, &m);
        const double sz = (double)t[i].rows * (double)t[i].cols;
        total += sz;
        if (!m) {
            t[i].choice = -1;
            used += 16.0 * sz;
            continue;
        }
        t[i].choice = idx[0];
        used += L->bits[idx[0]] * sz;
        /* the noise-to-signal ratio, so that matrices of different scales compare */
        const double norm = t[i].signal > 0 ? 1.0 / t[i].signal : 0.0;
        for (int s = 0; s + 1 < m; s++) {
            const double cost = (L->bits[idx[s + 1]] - L->bits[idx[s]]) * sz;
            u[nu++] = (upgrade){i, idx[s], idx[s + 1], s, (t[i].err[idx[s]] - t[i].err[idx[s + 1]]) * norm / cost, cost};
        }
    }
    qsort(u, nu, sizeof *u, by_gain);
    const double budget = target * total;
    int prefix = 1;
    for (size_t i = 0; i < n; i++) t[i].core = t[i].choice;
    for (size_t k = 0; k < nu; k++) {
        const upgrade *g = &u[k];
        if (at[g->tensor] != g->step) continue; /* an earlier step of this matrix did not fit */
        if (used + g->cost > budget * (1 + 1e-12)) {
            prefix = 0; /* from here on: the fill of the leftover */
            continue;
        }
        used += g->cost;
        t[g->tensor].choice = g->to;
        if (prefix) t[g->tensor].core = g->to;
        at[g->tensor]++;
    }
    free(u), free(at);
    if (bpw) *bpw = total > 0 ? used / total : 0;
    return XF_OK;
}
