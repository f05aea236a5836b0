/* attention.c — the tiled online-softmax attention kernel of attention.h and its scalar reference.
 *
 * One call owns a block of query rows (positions x heads of one key/value group). Their queries are
 * copied once, pre-scaled, into a row tile; then for each key block that some row sees, K is
 * transposed into a [dh][XF_ATTN_KEYS] tile (and V copied into a padded tile when dh is not a
 * multiple of 8), the score tile S = Q K^T is computed with register-blocked vector FMAs, and each
 * row updates its running max m, running sum l and output accumulator A (rescaled by e^(m_old -
 * m_new) when the max grows) before A += P V. Key blocks sit at multiples of XF_ATTN_KEYS from key 0
 * and a row skips every block it does not see, so a row's operations never depend on which other
 * rows share its block. */
#include "kernels/attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/attention_tiles.h"
#include "kernels/cpu.h"
#include "kernels/ops.h"
#include "kernels/simd.h"

#define BK XF_ATTN_KEYS

/* The 16-wide AVX-512 tiles write each FMA chain explicitly; the portable tiles get theirs from the
 * compiler contracting a * b + c (-ffp-contract=fast on src/kernels), which it does only when
 * optimizing. An unoptimized build keeps the portable tiles at every level, so the levels still
 * agree bit for bit there. */
#if defined(XF_ATTN_AVX512) && defined(__OPTIMIZE__)
#define XF_ATTN_WIDE 1
#endif

static inline size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }
static inline size_t max_rows(size_t group) { return xf_attention_qblock(group) * group; }

size_t xf_attention_scratch(size_t group, size_t dh) {
    const size_t R = max_rows(group), dp = pad8(dh);
    return R * (2 * dp + BK) + 3 * pad8(R) + 3 * BK * dp;
}

/* Masking by key positions (a cache with evicted or reordered slots, or tokens dropped from a
 * windowed bidirectional problem) rather than by indices. */
static inline int by_pos(const xf_attn_problem *p) { return (p->causal || p->window) && p->k_pos; }

static inline int64_t q_position(const xf_attn_problem *p, size_t t) {
    return p->q_pos ? (int64_t)p->q_pos[t] : (int64_t)(p->q_pos0 + t);
}

static inline int pos_visible(const xf_attn_problem *p, int64_t qp, int64_t kp) {
    if (!p->causal) return kp > qp - (int64_t)p->window && kp < qp + (int64_t)p->window; /* bidirectional window */
    return kp <= qp && (!p->window || kp > qp - (int64_t)p->window || kp < (int64_t)p->sinks);
}

/* Keys [0, sinks) that stay visible outside a window (none without a window). */
static inline size_t n_sinks(const xf_attn_problem *p) { return p->causal && p->window ? p->sinks : 0; }

/* Keys [*lo, *hi) that query position t sees through its window (by index; with positions: the
 * whole cache, masked per key); the sinks [0, n_sinks) come on top. */
static inline void key_range(const xf_attn_problem *p, size_t t, size_t *lo, size_t *hi) {
    if ((!p->causal && !p->window) || by_pos(p)) {
        *lo = 0, *hi = p->n_k;
        return;
    }
    const size_t qp = p->q_pos0 + t;
    *lo = p->window && qp + 1 > p->window ? qp + 1 - p->window : 0;
    if (p->causal) *hi = qp + 1;
    else *hi = qp + p->window < p->n_k ? qp + p->window : p->n_k; /* bidirectional window: |j - qp| < W */
}

/* Whether query t may see a key of block [j0, j1); with positions, kmin / kmax are the block's
 * smallest and largest key positions (a row that passes may still see none: it is masked). */
static inline int sees_block(const xf_attn_problem *p, size_t t, size_t j0, size_t j1, int64_t kmin, int64_t kmax) {
    if (by_pos(p)) {
        const int64_t qp = q_position(p, t);
        if (!p->causal) return kmin < qp + (int64_t)p->window && kmax > qp - (int64_t)p->window;
        return kmin <= qp && (!p->window || kmax > qp - (int64_t)p->window || kmin < (int64_t)p->sinks);
    }
    size_t lo, hi;
    key_range(p, t, &lo, &hi);
    return hi > j0 && (lo < j1 || j0 < n_sinks(p));
}

/* Whether query t of key/value head g reads key j's block under a block-sparse selection. */
static inline int tile_reads(const xf_attn_problem *p, size_t g, size_t t, size_t j) {
    return !p->kblocks || p->kblocks[(g * p->kblocks_nqt + t / BK) * p->kblocks_ld + j / BK];
}

/* Rows [j0, j0 + nk) of a half-precision K or V block (columns koff.., stride ld) into floats
 * dst [nk][dp], zero padded. */
static void halves_to_tile(const uint16_t *src, size_t ld, size_t nk, size_t dh, size_t dp, float *dst) {
    for (size_t j = 0; j < nk; j++) {
        xf_f16_to_f32_row(src + j * ld, dh, dst + j * dp);
        for (size_t d = dh; d < dp; d++) dst[j * dp + d] = 0.0f;
    }
}

/* S[nr rows][nc vectors of 8 keys] = Qs Kt: each score a sequential sum over d (the same order in
 * every tile shape). */
XF_INLINE void score_tile(const float *q, size_t dp, const float *kt, float *s, int nr, int nc) {
    xf_v8 acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++) acc[i][c] = xf_v8_splat(0.0f);
    for (size_t d = 0; d < dp; d++) {
        xf_v8 k[4];
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++) k[c] = xf_v8_load(kt + d * BK + 8 * c);
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++) {
            const float qi = q[i * dp + d]; /* scalar x vector: GCC 12 broadcasts these well, */
#pragma GCC unroll 4
            for (int c = 0; c < nc; c++) acc[i][c] += qi * k[c]; /* a splat constructor in a target clone it does not */
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++) xf_v8_store(s + i * BK + 8 * c, acc[i][c]);
}

/* A[nr rows][nc vectors of 8 dims] += P V over keys [0, nk): each output a sequential sum over keys. */
XF_INLINE void pv_tile(const float *pr, const float *v, size_t ldv, float *a, size_t dp, size_t nk, int nr, int nc) {
    xf_v8 acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++) acc[i][c] = xf_v8_load(a + i * dp + 8 * c);
    for (size_t j = 0; j < nk; j++) {
        xf_v8 vv[4];
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++) vv[c] = xf_v8_load(v + j * ldv + 8 * c);
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++) {
            const float pij = pr[i * BK + j];
#pragma GCC unroll 4
            for (int c = 0; c < nc; c++) acc[i][c] += pij * vv[c];
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++) xf_v8_store(a + i * dp + 8 * c, acc[i][c]);
}

/* Rows [ra, rb) x nv key vectors of the score tile: 4 rows x 2 vectors at a time, then the last 1-3
 * rows (a decode step's few heads of a group) together, 4 vectors at a time: enough independent
 * FMA chains to cover the FMA latency. */
#define XF_ATT_REST(tile, n, NC, ...)                 \
    switch (n) {                                      \
    case 3: tile(__VA_ARGS__, 3, NC); break;          \
    case 2: tile(__VA_ARGS__, 2, NC); break;          \
    default: tile(__VA_ARGS__, 1, NC); break;         \
    }
XF_INLINE void scores(const float *Qs, size_t dp, const float *Kt, float *S, size_t ra, size_t rb, size_t nv) {
    size_t r = ra;
    for (; r + 4 <= rb; r += 4) {
        size_t c = 0;
        for (; c + 2 <= nv; c += 2) score_tile(Qs + r * dp, dp, Kt + c * 8, S + r * BK + c * 8, 4, 2);
        if (c < nv) score_tile(Qs + r * dp, dp, Kt + c * 8, S + r * BK + c * 8, 4, 1);
    }
    if (r < rb) {
        const int n = (int)(rb - r);
        size_t c = 0;
        for (; c + 4 <= nv; c += 4) XF_ATT_REST(score_tile, n, 4, Qs + r * dp, dp, Kt + c * 8, S + r * BK + c * 8)
        for (; c + 2 <= nv; c += 2) XF_ATT_REST(score_tile, n, 2, Qs + r * dp, dp, Kt + c * 8, S + r * BK + c * 8)
        if (c < nv) XF_ATT_REST(score_tile, n, 1, Qs + r * dp, dp, Kt + c * 8, S + r * BK + c * 8)
    }
}

/* A rows [ra, rb) += P V (V rows of stride ldv, dp columns): 4 rows x 16 dims at a time, then the
 * last 1-3 rows together, 32 dims at a time. */
XF_INLINE void accumulate(const float *S, const float *V, size_t ldv, float *A, size_t dp, size_t ra, size_t rb,
                          size_t nk) {
    const size_t nd = dp / 8;
    size_t r = ra;
    for (; r + 4 <= rb; r += 4) {
        size_t c = 0;
        for (; c + 2 <= nd; c += 2) pv_tile(S + r * BK, V + c * 8, ldv, A + r * dp + c * 8, dp, nk, 4, 2);
        if (c < nd) pv_tile(S + r * BK, V + c * 8, ldv, A + r * dp + c * 8, dp, nk, 4, 1);
    }
    if (r < rb) {
        const int n = (int)(rb - r);
        size_t c = 0;
        for (; c + 4 <= nd; c += 4) XF_ATT_REST(pv_tile, n, 4, S + r * BK, V + c * 8, ldv, A + r * dp + c * 8, dp, nk)
        for (; c + 2 <= nd; c += 2) XF_ATT_REST(pv_tile, n, 2, S + r * BK, V + c * 8, ldv, A + r * dp + c * 8, dp, nk)
        if (c < nd) XF_ATT_REST(pv_tile, n, 1, S + r * BK, V + c * 8, ldv, A + r * dp + c * 8, dp, nk)
    }
}
#undef XF_ATT_REST

#if defined(__clang__)
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (xf_v8i){__VA_ARGS__})
#endif

/* dst[c * ldd + i] = src[i * lds + c] for an 8 x 8 block (unpack, shuffle, swap 128-bit halves). */
XF_INLINE void transpose8(const float *src, size_t lds, float *dst, size_t ldd) {
    xf_v8 r[8], t[8], u[8];
    for (int i = 0; i < 8; i++) r[i] = xf_v8_load(src + i * lds);
    for (int i = 0; i < 8; i += 2) {
        t[i] = SHUF(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = SHUF(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4)
        for (int k = 0; k < 2; k++) {
            u[i + 2 * k] = SHUF(t[i + k], t[i + k + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[i + 2 * k + 1] = SHUF(t[i + k], t[i + k + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int c = 0; c < 4; c++) {
        xf_v8_store(dst + c * ldd, SHUF(u[c], u[c + 4], 0, 1, 2, 3, 8, 9, 10, 11));
        xf_v8_store(dst + (c + 4) * ldd, SHUF(u[c], u[c + 4], 4, 5, 6, 7, 12, 13, 14, 15));
    }
}

XF_INLINE float hmax8(xf_v8 v) {
    float m = v[0];
    for (int i = 1; i < 8; i++) m = v[i] > m ? v[i] : m;
    return m;
}

XF_INLINE void xf_attention_body(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1,
                  float *scratch) {
    if (q0 >= q1 || h0 >= h1) return;
    const size_t dh = p->dh, dp = pad8(dh), nh = h1 - h0, R = (q1 - q0) * nh, Rc = max_rows(p->group);
    const size_t koff = kv_head * dh, hbase = (p->h_off ? p->h_off[kv_head] : kv_head * p->group) + h0;
    float *Qs = scratch, *A = Qs + Rc * dp, *S = A + Rc * dp, *m = S + Rc * BK, *l = m + pad8(Rc);
    float *al = l + pad8(Rc), *Kt = al + pad8(Rc), *Vt = Kt + dp * BK, *Kf = Vt + dp * BK;
    const int bp = by_pos(p);
    const xf_v8i lane = {0, 1, 2, 3, 4, 5, 6, 7};
    const float scale = p->scale;

    for (size_t r = 0; r < R; r++) {
        const float *q = p->Q + (q0 + r / nh) * p->ldq + (hbase + r % nh) * dh;
        float *qs = Qs + r * dp;
        size_t d = 0;
        for (; d + 8 <= dh; d += 8) xf_v8_store(qs + d, xf_v8_load(q + d) * scale);
        for (; d < dh; d++) qs[d] = q[d] * scale;
        for (; d < dp; d++) qs[d] = 0.0f;
        memset(A + r * dp, 0, dp * sizeof *A);
        m[r] = -INFINITY, l[r] = 0.0f;
    }
    size_t lo_all, hi_all, lo, hi;
    key_range(p, q0, &lo_all, &hi); /* ranges only move right with t */
    key_range(p, q1 - 1, &lo, &hi_all);
    const size_t sinks = n_sinks(p);
    for (size_t j0 = sinks ? 0 : lo_all / BK * BK; j0 < hi_all; j0 += BK) {
        const size_t j1 = j0 + BK < hi_all ? j0 + BK : hi_all, nk = j1 - j0, nv = (nk + 7) / 8;
        if (j0 >= sinks && j1 <= lo_all) continue; /* between the sinks and every row's window */
        int64_t kmin = INT64_MAX, kmax = INT64_MIN;
        for (size_t j = j0; bp && j < j1; j++) {
            kmin = p->k_pos[j] < kmin ? p->k_pos[j] : kmin;
            kmax = p->k_pos[j] > kmax ? p->k_pos[j] : kmax;
        }
        size_t ta = q0, tb = q1; /* the positions that see this block: a contiguous run */
        /* (a block-sparse selection keeps this a run: a call spans at most two query tiles) */
        while (ta < tb && !(sees_block(p, ta, j0, j1, kmin, kmax) && tile_reads(p, kv_head, ta, j0))) ta++;
        while (tb > ta && !(sees_block(p, tb - 1, j0, j1, kmin, kmax) && tile_reads(p, kv_head, tb - 1, j0))) tb--;
        if (ta == tb) continue;
        const size_t ra = (ta - q0) * nh, rb = (tb - q0) * nh;

        /* K^T tile (zero-padded to dp rows and whole vectors of 16 keys); V as is, or padded to dp columns */
        const float *Kb;
        size_t ldk = p->ldk;
        if (p->kv_tile) {
            p->kv_tile(p->kv_ctx, 0, j0, nk, koff, dh, dp, Kf);
            Kb = Kf, ldk = dp;
        } else if (p->kv_f16) {
            halves_to_tile((const uint16_t *)p->K + j0 * p->ldk + koff, p->ldk, nk, dh, dp, Kf);
            Kb = Kf, ldk = dp;
        } else {
            Kb = (const float *)p->K + j0 * p->ldk + koff;
        }
        const size_t nk8 = nk & ~(size_t)7, dh8 = dh & ~(size_t)7;
        for (size_t j = 0; j < nk8; j += 8)
            for (size_t d = 0; d < dh8; d += 8) transpose8(Kb + j * ldk + d, ldk, Kt + d * BK + j, BK);
        for (size_t j = 0; j < nk; j++)
            for (size_t d = j < nk8 ? dh8 : 0; d < dh; d++) Kt[d * BK + j] = Kb[j * ldk + d];
        const size_t nkp = (nk + 15) & ~(size_t)15; /* zero padded to whole vectors of 16 keys */
        for (size_t d = 0; d < dp; d++)
            for (size_t j = d < dh ? nk : 0; j < nkp; j++) Kt[d * BK + j] = 0.0f;
        const int vtile = p->kv_f16 || p->kv_tile != NULL;
        const float *Vb = vtile ? Vt : (const float *)p->V + j0 * p->ldv + koff;
        size_t ldvb = vtile ? dp : p->ldv;
        if (p->kv_tile) {
            p->kv_tile(p->kv_ctx, 1, j0, nk, koff, dh, dp, Vt);
        } else if (p->kv_f16) {
            halves_to_tile((const uint16_t *)p->V + j0 * p->ldv + koff, p->ldv, nk, dh, dp, Vt);
        } else if (dh != dp) {
            for (size_t j = 0; j < nk; j++) {
                memcpy(Vt + j * dp, Vb + j * ldvb, dh * sizeof *Vt);
                memset(Vt + j * dp + dh, 0, (dp - dh) * sizeof *Vt);
            }
            Vb = Vt, ldvb = dp;
        }

#ifdef XF_ATTN_WIDE
        const int wide = xf_isa_level() == XF_ISA_AVX512; /* 16-wide tiles: the same bits, twice the width */
        if (wide) xf_attn_scores_avx512(Qs, dp, Kt, S, ra, rb, nkp / 16);
        else scores(Qs, dp, Kt, S, ra, rb, nv);
#else
        scores(Qs, dp, Kt, S, ra, rb, nv);
#endif

        /* the block's key biases, zero past nk (those keys are masked) */
        float kbias[BK], *kb = p->k_bias ? kbias : NULL;
        if (kb) {
            memcpy(kb, p->k_bias + j0, nk * sizeof *kb);
            memset(kb + nk, 0, (BK - nk) * sizeof *kb);
        }
        /* per row: add the key biases, mask the keys it does not see, new running max */
        for (size_t r = ra; r < rb; r++) {
            key_range(p, q0 + r / nh, &lo, &hi);
            const int klo = (int)((lo > j0 ? lo : j0) - j0), khi = (int)((hi < j1 ? hi : j1) - j0);
            const int ks = !bp && sinks > j0 ? (int)(sinks - j0) : 0; /* keys [0, ks) are sinks */
            float *s = S + r * BK;
            xf_v8 mx = xf_v8_splat(-INFINITY);
            if (bp) { /* by key position, per key */
                const int64_t qp = q_position(p, q0 + r / nh);
                for (size_t j = 0; j < nv * 8; j++)
                    if (j >= nk || !pos_visible(p, qp, p->k_pos[j0 + j])) s[j] = -INFINITY;
            }
            for (size_t v = 0; v < nv; v++) {
                xf_v8 x = xf_v8_load(s + v * 8);
                if (kb) {
                    x += xf_v8_load(kb + v * 8);
                    xf_v8_store(s + v * 8, x);
                }
                if (((int)v * 8 < klo && (int)v * 8 + 8 > ks) || (int)v * 8 + 8 > khi) {
                    const xf_v8i idx = lane + (int)v * 8;
                    x = xf_v8_select(((idx >= klo) | (idx < ks)) & (idx < khi), x, xf_v8_splat(-INFINITY));
                    xf_v8_store(s + v * 8, x);
                }
                mx = xf_v8_max(mx, x);
            }
            const float bm = hmax8(mx), mn = bm > m[r] ? bm : m[r];
            /* -inf on a row's first block seen: its A and l are still 0; 0 while it has seen no key */
            al[r] = mn == -INFINITY ? 0.0f : m[r] - mn;
            m[r] = mn;
        }
        /* rescale factors e^(m_old - m_new), 8 rows at a time */
        for (size_t r = ra; r < rb; r += 8) {
            float t[8] = {0};
            const size_t n = rb - r < 8 ? rb - r : 8;
            memcpy(t, al + r, n * sizeof *t);
            xf_v8_store(t, xf_v8_exp(xf_v8_load(t)));
            memcpy(al + r, t, n * sizeof *t);
        }
        /* probabilities P = e^(s - m), running sums, rescaled accumulators */
        for (size_t r = ra; r < rb; r++) {
            float *s = S + r * BK;
            const float mr = m[r];
            const xf_v8 ninf = xf_v8_splat(-INFINITY);
            xf_v8 sum = xf_v8_splat(0.0f);
            for (size_t v = 0; v < nv; v++) {
                const xf_v8 x = xf_v8_load(s + v * 8);
                const xf_v8 e = xf_v8_select(x > ninf, xf_v8_exp(x - mr), xf_v8_splat(0.0f));
                xf_v8_store(s + v * 8, e);
                sum += e;
            }
            const float a = al[r];
            l[r] = l[r] * a + xf_v8_hsum(sum);
            if (a != 1.0f) {
                float *ar = A + r * dp;
                for (size_t d = 0; d < dp; d += 8) xf_v8_store(ar + d, xf_v8_load(ar + d) * a);
            }
        }
#ifdef XF_ATTN_WIDE
        if (wide) xf_attn_accumulate_avx512(S, Vb, ldvb, A, dp, ra, rb, nk);
        else accumulate(S, Vb, ldvb, A, dp, ra, rb, nk);
#else
        accumulate(S, Vb, ldvb, A, dp, ra, rb, nk);
#endif
    }
    for (size_t r = 0; r < R; r++) {
        float *o = p->O + (q0 + r / nh) * p->ldo + (hbase + r % nh) * dh;
        const float inv = 1.0f / l[r], *ar = A + r * dp;
        size_t d = 0;
        for (; d + 8 <= dh; d += 8) xf_v8_store(o + d, xf_v8_load(ar + d) * inv);
        for (; d < dh; d++) o[d] = ar[d] * inv;
    }
}
XF_DISPATCH_VOID(xf_attention,
                 (const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1,
                  float *scratch),
                 (p, kv_head, h0, h1, q0, q1, scratch), )

/* Element d of key/value row j (columns from koff) as a float. */
static inline float kv_at(const xf_attn_problem *p, int values, size_t j, size_t col) {
    const void *base = values ? p->V : p->K;
    const size_t ld = values ? p->ldv : p->ldk;
    float x;
    if (p->kv_tile) return p->kv_tile(p->kv_ctx, values, j, 1, col, 1, 1, &x), x;
    return p->kv_f16 ? xf_f16_to_f32(((const uint16_t *)base)[j * ld + col]) : ((const float *)base)[j * ld + col];
}

void xf_attention_keys(const xf_attn_problem *p, size_t j0, size_t nk, size_t col, size_t dh, float *dst) {
    if (p->kv_tile) {
        p->kv_tile(p->kv_ctx, 0, j0, nk, col, dh, dh, dst);
        return;
    }
    for (size_t j = 0; j < nk; j++)
        if (p->kv_f16) halves_to_tile((const uint16_t *)p->K + (j0 + j) * p->ldk + col, p->ldk, 1, dh, dh, dst + j * dh);
        else memcpy(dst + j * dh, (const float *)p->K + (j0 + j) * p->ldk + col, dh * sizeof *dst);
}

/* Whether query t of key/value head g sees key j (the reference's plain mask). */
static inline int ref_visible(const xf_attn_problem *p, size_t g, size_t t, size_t j) {
    if (!tile_reads(p, g, t, j)) return 0;
    if (by_pos(p)) return pos_visible(p, q_position(p, t), p->k_pos[j]);
    size_t lo, hi;
    key_range(p, t, &lo, &hi);
    return j < hi && (j >= lo || j < n_sinks(p));
}

static inline size_t head_base(const xf_attn_problem *p, size_t kv_head) {
    return p->h_off ? p->h_off[kv_head] : kv_head * p->group;
}

size_t xf_attention_keys_seen(const xf_attn_problem *p, size_t t) {
    size_t lo, hi;
    key_range(p, t, &lo, &hi);
    return hi;
}

void xf_attention_mask_row(const xf_attn_problem *p, size_t kv_head, size_t t, float *s, size_t n) {
    if (by_pos(p) || p->kblocks) {
        for (size_t j = 0; j < n; j++)
            if (!ref_visible(p, kv_head, t, j)) s[j] = -INFINITY;
        return;
    }
    size_t lo, hi;
    key_range(p, t, &lo, &hi);
    const size_t ns = n_sinks(p);
    for (size_t j = ns; j < lo && j < n; j++) s[j] = -INFINITY; /* before the window, past the sinks */
    for (size_t j = hi; j < n; j++) s[j] = -INFINITY;
}

/* Scores of query t, head h against every key (double), -inf where masked; returns the max. */
static double ref_scores(const xf_attn_problem *p, size_t kv_head, size_t t, size_t h, double *s) {
    const float *q = p->Q + t * p->ldq + h * p->dh;
    const size_t koff = kv_head * p->dh;
    double mx = -INFINITY;
    for (size_t j = 0; j < p->n_k; j++) {
        if (!ref_visible(p, kv_head, t, j)) {
            s[j] = -INFINITY;
            continue;
        }
        double d2 = 0.0;
        for (size_t d = 0; d < p->dh; d++) d2 += (double)q[d] * kv_at(p, 0, j, koff + d);
        s[j] = d2 * p->scale + (p->k_bias ? p->k_bias[j] : 0.0f);
        mx = s[j] > mx ? s[j] : mx;
    }
    return mx;
}

void xf_attention_ref(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1) {
    const size_t dh = p->dh, koff = kv_head * dh, hb = head_base(p, kv_head);
    double *s = malloc((p->n_k ? p->n_k : 1) * sizeof *s), *acc = malloc((dh ? dh : 1) * sizeof *acc);
    if (!s || !acc) { /* no exit from the library: the caller's comparison fails on NaN outputs instead */
        for (size_t t = q0; t < q1; t++)
            for (size_t h = hb + h0; h < hb + h1; h++)
                for (size_t d = 0; d < dh; d++) p->O[t * p->ldo + h * dh + d] = NAN;
        free(s), free(acc);
        return;
    }
    for (size_t t = q0; t < q1; t++)
        for (size_t h = hb + h0; h < hb + h1; h++) {
            const double mx = ref_scores(p, kv_head, t, h, s);
            double sum = 0.0;
            memset(acc, 0, dh * sizeof *acc);
            for (size_t j = 0; j < p->n_k; j++) {
                if (s[j] == -INFINITY) continue;
                const double e = exp(s[j] - mx);
                sum += e;
                for (size_t d = 0; d < dh; d++) acc[d] += e * kv_at(p, 1, j, koff + d);
            }
            for (size_t d = 0; d < dh; d++) p->O[t * p->ldo + h * dh + d] = (float)(acc[d] / sum);
        }
    free(s);
    free(acc);
}

void xf_attention_weights(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1,
                          float *acc, size_t ldacc) {
    const size_t hb = head_base(p, kv_head);
    double *s = malloc((p->n_k ? p->n_k : 1) * sizeof *s);
    if (!s) return; /* the policy then sees no new weight: it keeps its previous scores */
    for (size_t t = q0; t < q1; t++)
        for (size_t h = hb + h0; h < hb + h1; h++) {
            const double mx = ref_scores(p, kv_head, t, h, s);
            double sum = 0.0;
            for (size_t j = 0; j < p->n_k; j++) sum += s[j] == -INFINITY ? 0.0 : (s[j] = exp(s[j] - mx));
            float *a = acc + (h - hb - h0) * ldacc;
            for (size_t j = 0; j < p->n_k; j++)
                if (s[j] != -INFINITY) a[j] += (float)(s[j] / sum);
        }
    free(s);
}

static xf_attn_problem single_row(const float *q, const float *K, size_t ldk, const float *V, size_t ldv,
                                  size_t n_keys, size_t dh, float scale, float *out) {
    xf_attn_problem p = {.Q = q, .K = K, .V = V, .O = out, .ldq = dh, .ldk = ldk, .ldv = ldv, .ldo = dh,
                         .n_q = 1, .n_k = n_keys, .dh = dh, .group = 1, .scale = scale};
    return p;
}

void xf_attention_cached(const float *q, const float *K, size_t ldk, const float *V, size_t ldv,
                         size_t n_keys, size_t dh, float scale, float *out, float *scratch) {
    xf_attn_problem p = single_row(q, K, ldk, V, ldv, n_keys, dh, scale, out);
    xf_attention(&p, 0, 0, 1, 0, 1, scratch);
}

void xf_attention_cached_ref(const float *q, const float *K, size_t ldk, const float *V, size_t ldv,
                             size_t n_keys, size_t dh, float scale, float *out) {
    xf_attn_problem p = single_row(q, K, ldk, V, ldv, n_keys, dh, scale, out);
    xf_attention_ref(&p, 0, 0, 1, 0, 1);
}
