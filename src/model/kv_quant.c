/* kv_quant.c — the quantized KV-cache formats (kv_cache.h): their sizes, how a row or a group is
 * quantized, and the tile reader the attention kernel streams them through.
 *
 * q8: each slot's keys and values as rows of blocks of 32 channels, an IEEE-half scale d and 32
 *     int8 q (x = d q; d = max|x| / 127, q = round(x / d)): llama.cpp's Q8_0 cache type, 8.5 bits
 *     a value. Rows are independent, so eviction moves them like float rows.
 * q4: KIVI (Liu et al., 2024): keys per channel and values per token, asymmetric 4-bit (half
 *     scale s and half minimum m, x = m + s q, q in 0..15) in groups of 32, 5 bits a value. A key
 *     group is one channel over 32 consecutive slots, so slots are quantized 32 at a time: the
 *     newest n - nq < 32 slots (the residual) stay float32 until their group is complete. */
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "io/gguf.h"
#include "kernels/ops.h"
#include "kernels/qmatmul.h"
#include "model/kv_cache.h"

static float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return xf_f16_to_f32(h);
}

static void put_half(uint8_t *p, float x) {
    const uint16_t h = xf_f32_to_f16(x);
    memcpy(p, &h, sizeof h);
}

size_t xf_kv_row_bytes(int type, size_t kv_dim) {
    const size_t blocks = (kv_dim + XF_KV_QBLOCK - 1) / XF_KV_QBLOCK;
    switch (type) {
    case XF_KV_F16: return kv_dim * sizeof(uint16_t);
    case XF_KV_Q8: return blocks * XF_KV_Q8_BYTES;
    case XF_KV_Q4: return blocks * XF_KV_Q4_BYTES; /* a value row; a key group is the same per slot */
    default: return kv_dim * sizeof(float);
    }
}

/* One q8 block of n <= 32 values. */
static void q8_block(const float *x, size_t n, uint8_t *dst) {
    float amax = 0.0f;
    for (size_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(dst, d);
    for (size_t i = 0; i < XF_KV_QBLOCK; i++) dst[2 + i] = (uint8_t)(int8_t)(i < n ? (int)roundf(x[i] * id) : 0);
}

void xf_kv_q8_row(const float *x, size_t kv_dim, uint8_t *dst) {
    for (size_t c = 0; c < kv_dim; c += XF_KV_QBLOCK, dst += XF_KV_Q8_BYTES)
        q8_block(x + c, kv_dim - c < XF_KV_QBLOCK ? kv_dim - c : XF_KV_QBLOCK, dst);
}

void xf_kv_q4_block(const float *x, size_t stride, size_t n, uint8_t *dst) {
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) lo = fminf(lo, x[i * stride]), hi = fmaxf(hi, x[i * stride]);
    if (!n) lo = hi = 0.0f;
    put_half(dst, (hi - lo) / 15.0f);
    put_half(dst + 2, lo);
    const float s = half_at(dst), m = half_at(dst + 2), is = s != 0.0f ? 1.0f / s : 0.0f; /* as stored */
    memset(dst + 4, 0, XF_KV_QBLOCK / 2);
    for (size_t i = 0; i < n; i++) {
        const float q = roundf((x[i * stride] - m) * is);
        const int qi = q < 0.0f ? 0 : q > 15.0f ? 15 : (int)q;
        dst[4 + i / 2] |= (uint8_t)(qi << (4 * (i & 1)));
    }
}

/* Value i of a q4 block whose scale and minimum (half_at(blk), half_at(blk + 2)) are sc and mn:
 * callers read those once per block. */
static inline float q4_at(const uint8_t *blk, float sc, float mn, size_t i) {
    return mn + sc * (float)((blk[4 + i / 2] >> (4 * (i & 1))) & 15);
}

void xf_kv_q4_seal(xf_kv_layer *L) {
    const size_t d = L->kv_dim, rb = xf_kv_row_bytes(XF_KV_Q4, d);
    uint8_t *kg = (uint8_t *)L->k + L->nq / XF_KV_QBLOCK * d * XF_KV_Q4_BYTES;
    for (size_t c = 0; c < d; c++) xf_kv_q4_block(L->rk + c, d, XF_KV_QBLOCK, kg + c * XF_KV_Q4_BYTES);
    for (size_t t = 0; t < XF_KV_QBLOCK; t++) {
        uint8_t *row = (uint8_t *)L->v + (L->nq + t) * rb;
        for (size_t c = 0; c < d; c += XF_KV_QBLOCK, row += XF_KV_Q4_BYTES)
            xf_kv_q4_block(L->rv + t * d + c, 1, d - c < XF_KV_QBLOCK ? d - c : XF_KV_QBLOCK, row);
    }
    L->nq += XF_KV_QBLOCK;
}

void xf_kv_tile(const void *layer, int values, size_t j0, size_t nk, size_t col, size_t dh, size_t dp, float *dst) {
    const xf_kv_layer *L = layer;
    const size_t d = L->kv_dim, rb = xf_kv_row_bytes(L->type, d);
    const uint8_t *base = values ? L->v : L->k;
    size_t r = 0;
    if (L->type == XF_KV_Q4 && !values) { /* the key groups (per channel) in the tile, then the residual */
        for (; r < nk && j0 + r < L->nq; r++) memset(dst + r * dp + dh, 0, (dp - dh) * sizeof *dst);
        /* per run of slots in one group: the blocks of up to 64 channels (consecutive in memory)
         * decoded whole (xf_q4kivi_to_f32: q4_at's values), then the run's slots put in their rows */
        float blkv[64 * XF_KV_QBLOCK];
        for (size_t i0 = 0; i0 < r;) {
            const size_t j = j0 + i0, g = j / XF_KV_QBLOCK, k0 = j % XF_KV_QBLOCK, run = XF_KV_QBLOCK - k0;
            const size_t i1 = i0 + run < r ? i0 + run : r;
            for (size_t c0 = 0; c0 < dh; c0 += 64) {
                const size_t nc = dh - c0 < 64 ? dh - c0 : 64;
                xf_q4kivi_to_f32(base + (g * d + col + c0) * XF_KV_Q4_BYTES, nc, blkv);
                for (size_t i = i0; i < i1; i++)
                    for (size_t c = 0; c < nc; c++) dst[i * dp + c0 + c] = blkv[c * XF_KV_QBLOCK + k0 + i - i0];
            }
            i0 = i1;
        }
    }
    if (L->type == XF_KV_Q8 && col % XF_KV_QBLOCK == 0 && dh % XF_KV_QBLOCK == 0 && dp == dh && r < nk) {
        /* whole blocks, rows packed: llama.cpp's Q8_0 blocks, so the vectorized GGUF dequantizer
         * (d x q, the same product as below) does all the tile's rows; the loop below took a
         * quarter of a 4K SmolLM2 prefill reading the cache a value at a time */
        xf_qdequant_rows(XF_GGML_Q8_0, base + (col / XF_KV_QBLOCK) * XF_KV_Q8_BYTES, rb, j0 + r, j0 + nk, dh, dst + r * dp);
        return;
    }
    for (; r < nk; r++) {
        const size_t j = j0 + r;
        float *o = dst + r * dp;
        if (L->type == XF_KV_Q4 && j >= L->nq) {
            memcpy(o, (values ? L->rv : L->rk) + (j - L->nq) * d + col, dh * sizeof *o);
        } else if (L->type == XF_KV_Q4 && col % XF_KV_QBLOCK == 0 && dh % XF_KV_QBLOCK == 0) {
            const uint8_t *row = base + j * rb + col / XF_KV_QBLOCK * XF_KV_Q4_BYTES;
            xf_q4kivi_to_f32(row, dh / XF_KV_QBLOCK, o); /* whole blocks: q4_at's values */
        } else if (L->type == XF_KV_Q4) {
            const uint8_t *row = base + j * rb;
            for (size_t c = 0; c < dh;) { /* a block's scale and minimum once for its run of columns */
                const size_t e = col + c, b = e / XF_KV_QBLOCK, end = (b + 1) * XF_KV_QBLOCK - col;
                const uint8_t *blk = row + b * XF_KV_Q4_BYTES;
                const float sc = half_at(blk), mn = half_at(blk + 2);
                for (; c < dh && c < end; c++) o[c] = q4_at(blk, sc, mn, (col + c) % XF_KV_QBLOCK);
            }
        } else if (L->type == XF_KV_Q8) {
            const uint8_t *row = base + j * rb;
            for (size_t c = 0; c < dh;) { /* a block's scale once for its run of columns */
                const size_t e = col + c, b = e / XF_KV_QBLOCK, end = (b + 1) * XF_KV_QBLOCK - col;
                const uint8_t *blk = row + b * XF_KV_Q8_BYTES;
                const float s = half_at(blk);
                for (; c < dh && c < end; c++) o[c] = s * (float)(int8_t)blk[2 + (col + c) % XF_KV_QBLOCK];
            }
        } else if (L->type == XF_KV_F16) {
            xf_f16_to_f32_row((const uint16_t *)base + j * d + col, dh, o);
        } else {
            memcpy(o, (const float *)base + j * d + col, dh * sizeof *o);
        }
        for (size_t c = dh; c < dp; c++) o[c] = 0.0f;
    }
}

const char *xf_kv_type_name(int type) {
    switch (type) {
    case XF_KV_F32: return "f32";
    case XF_KV_F16: return "f16";
    case XF_KV_Q8: return "q8";
    case XF_KV_Q4: return "q4";
    default: return NULL;
    }
}
