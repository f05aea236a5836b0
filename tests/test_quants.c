/* test_quants.c — the ggml block-format reference kernels (src/kernels/quants.c) against vectors
 * from the `gguf` Python package (tests/data/quants/<TYPE>.bin, made by
 * scripts/make_quant_vectors.py; format described there). gguf.quants.dequantize computes in
 * float32 in ggml's order of operations, so dequantization must match bit for bit. The dot must
 * equal the double-precision dot of the dequantized row within 1e-5 of sum |w x|. The trait table
 * must agree with xf_ggml_type_size / xf_ggml_type_name and be NULL for every other id. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/gguf.h"
#include "kernels/quants.h"

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(sz > 0 ? (size_t)sz : 1);
    if (sz < 0 || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)sz;
    return buf;
}

/* Checks the dot over elements [e0, e1) (block-aligned) against the double dot of ref. */
static void check_dot(const xf_quant_traits *t, const unsigned char *blocks, const float *ref, size_t e0,
                      size_t e1, const char *what) {
    size_t n = e1 - e0;
    float *x = malloc((n ? n : 1) * sizeof *x);
    double exact = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = xf_t_frand();
        exact += (double)ref[e0 + i] * x[i];
        mag += fabs((double)ref[e0 + i] * x[i]);
    }
    float got = t->dot(blocks + e0 / t->block_size * t->type_size, x, n);
    double err = fabs((double)got - exact);
    CHECK_MSG(err <= 1e-5 * mag + 1e-30, "%s dot (%s, n=%zu): got %.9g, dequantized dot %.9g (|err| %.3g, sum|wx| %.3g)",
              t->name, what, n, got, exact, err, mag);
    free(x);
}

static void test_type(const char *name, int type) {
    char rel[64];
    snprintf(rel, sizeof rel, "tests/data/quants/%s.bin", name);
    size_t len = 0;
    unsigned char *buf = slurp(xf_t_src(rel), &len);
    CHECK_MSG(buf != NULL, "cannot read %s", rel);
    if (!buf) return;
    const xf_quant_traits *t = xf_quant_traits_of(type);
    CHECK_MSG(t != NULL, "no traits for %s", name);
    CHECK(len >= 32 && memcmp(buf, "XFQV", 4) == 0 && rd32(buf + 4) == 1);
    if (!t || len < 32) {
        free(buf);
        return;
    }
    uint32_t ftype = rd32(buf + 8), bs = rd32(buf + 12), ts = rd32(buf + 16), nb = rd32(buf + 20);
    CHECK_MSG(ftype == (uint32_t)type && bs == t->block_size && ts == t->type_size,
              "%s: file header (type %u, %u/%u) disagrees with traits (%zu/%zu)", name, ftype, bs, ts,
              t->block_size, t->type_size);
    size_t n = (size_t)nb * bs;
    if (ftype != (uint32_t)type || bs != t->block_size || ts != t->type_size || len != 32 + (size_t)nb * ts + n * 4) {
        CHECK_MSG(0, "%s: bad file size %zu", name, len);
        free(buf);
        return;
    }
    /* Copy the blocks to an odd address: the kernels must not assume any alignment. */
    unsigned char *blk_store = malloc((size_t)nb * ts + 1), *blocks = blk_store + 1;
    memcpy(blocks, buf + 32, (size_t)nb * ts);
    float *ref = malloc(n * sizeof *ref), *out = malloc(n * sizeof *out);
    memcpy(ref, buf + 32 + (size_t)nb * ts, n * 4); /* the tests assume a little-endian host */

    /* dequant: bit-exact */
    memset(out, 0xAB, n * 4);
    t->dequant(blocks, out, n);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&out[i], &ref[i], 4) != 0 && bad++ == 0) first = i;
    CHECK_MSG(bad == 0, "%s dequant: %zu of %zu elements differ, first at %zu: got %.9g want %.9g", name, bad, n,
              first, out[first], ref[first]);
    /* the first block alone writes exactly one block */
    memset(out, 0xAB, n * 4);
    t->dequant(blocks, out, bs);
    CHECK(memcmp(out, ref, (size_t)bs * 4) == 0);
    if (n > bs) {
        uint32_t pat;
        memcpy(&pat, &out[bs], 4);
        CHECK_MSG(pat == 0xABABABABu, "%s dequant of one block wrote past it", name);
    }
    t->dequant(blocks, out, 0); /* no-op */

    /* dot: from the first block after the last non-finite value (F16/BF16 hold infinities) */
    size_t e0 = 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(ref[i])) e0 = (i / bs + 1) * bs;
    check_dot(t, blocks, ref, e0, n, "whole row");
    check_dot(t, blocks, ref, n - bs, n, "last block");
    check_dot(t, blocks, ref, e0, e0, "empty");
    if (bs == 1 && n - e0 > 37) check_dot(t, blocks, ref, e0, e0 + 37, "37, tail");
    /* the dot must see the same weights as dequant: x = one-hot picks w[i] exactly */
    {
        float *x = calloc(n, sizeof *x);
        size_t i = n - 1 - (size_t)((n - e0) / 3);
        x[i - e0] = 1.0f;
        if (e0 < n) {
            float got = t->dot(blocks + e0 / bs * ts, x, n - e0);
            CHECK_MSG(memcmp(&got, &ref[i], 4) == 0 || (got == 0 && ref[i] == 0), "%s one-hot dot: %.9g vs %.9g",
                      name, got, ref[i]);
        }
        free(x);
    }
    printf("%-5s %2u blocks x %3u elems (%3u B): dequant %s, dot ok\n", name, nb, bs, ts,
           bad == 0 ? "bit-exact" : "MISMATCH");
    free(blk_store), free(ref), free(out), free(buf);
}

static void test_traits(void) {
    static const int want[] = {XF_GGML_F32,  XF_GGML_F16,  XF_GGML_BF16, XF_GGML_Q8_0, XF_GGML_Q4_0,
                               XF_GGML_Q4_1, XF_GGML_Q5_0, XF_GGML_Q5_1, XF_GGML_Q2_K, XF_GGML_Q3_K,
                               XF_GGML_Q4_K, XF_GGML_Q5_K, XF_GGML_Q6_K, XF_GGML_MXFP4};
    size_t found = 0;
    for (int id = -2; id < 256; id++) {
        const xf_quant_traits *t = xf_quant_traits_of(id);
        int expected = 0;
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) expected |= want[i] == id;
        CHECK_MSG((t != NULL) == expected, "traits of id %d: %s", id, t ? "present" : "NULL");
        if (!t) continue;
        found++;
        uint32_t be = 0, bb = 0;
        CHECK_MSG(xf_ggml_type_size((uint32_t)id, &be, &bb) == 0 && be == t->block_size && bb == t->type_size,
                  "%s: traits %zu/%zu vs xf_ggml_type_size %u/%u", t->name, t->block_size, t->type_size, be, bb);
        CHECK_MSG(strcmp(t->name, xf_ggml_type_name((uint32_t)id)) == 0, "name %s vs %s", t->name,
                  xf_ggml_type_name((uint32_t)id));
        CHECK(t->ggml_type == id && t->dequant && t->dot);
    }
    CHECK(found == sizeof want / sizeof want[0]);
    /* xfmr's own ids: FP4S, and nothing either side of it */
    const xf_quant_traits *f = xf_quant_traits_of(XF_GGML_FP4S);
    uint32_t be = 0, bb = 0;
    CHECK(f && f->block_size == 32 && f->type_size == 18 && !strcmp(f->name, "FP4S") &&
          !strcmp(xf_ggml_type_name(XF_GGML_FP4S), "FP4S") && xf_ggml_type_size(XF_GGML_FP4S, &be, &bb) == 0 && be == 32 &&
          bb == 18 && xf_qblock_bytes(XF_GGML_FP4S) == 18);
    const xf_quant_traits *f8 = xf_quant_traits_of(XF_GGML_FP8S);
    CHECK(f8 && f8->block_size == 32 && f8->type_size == 34 && !strcmp(f8->name, "FP8S") && xf_qblock_bytes(XF_GGML_FP8S) == 34);
    /* after FP8S: the 2:4 row types (sized per row, no block traits: tests/test_s24_gguf.c), then nothing */
    CHECK(!xf_quant_traits_of(XF_GGML_FP4S - 1) && !xf_quant_traits_of(XF_GGML_S24) && !xf_quant_traits_of(XF_GGML_S24Q4 + 1) &&
          xf_ggml_type_size(XF_GGML_FP4S - 1, NULL, NULL) != 0 && xf_ggml_type_size(XF_GGML_S24Q4 + 1, NULL, NULL) != 0 &&
          xf_ggml_type_size(XF_GGML_S24Q8, &be, &bb) == 0 && be == 4 && bb == 0 &&
          !strcmp(xf_ggml_type_name(XF_GGML_S24Q4 + 1), "unknown"));
    CHECK(xf_quant_traits_of(1000) == NULL && xf_quant_traits_of(-1) == NULL && xf_quant_traits_of(XF_GGML_Q8_K) == NULL);
}

/* Direct calls of the named functions agree with the table (and a hand-made Q4_0 block). */
static void test_named(void) {
    unsigned char b[18] = {0x00, 0x3C}; /* d = 1.0 */
    for (int j = 0; j < 16; j++) b[2 + j] = (unsigned char)(j | (15 - j) << 4);
    float w[32];
    xf_dequant_q4_0_ref(b, w, 32);
    int ok = 1;
    for (int j = 0; j < 16; j++) ok &= w[j] == (float)(j - 8) && w[j + 16] == (float)(7 - j);
    CHECK_MSG(ok, "hand-made Q4_0 block");
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = 1.0f;
    CHECK(xf_dot_q4_0_f32_ref(b, x, 32) == -16.0f); /* sum over j < 16 of (j - 8) + (7 - j) */
}

/* FP4S blocks made by hand: each format's codes decode to the values its bit fields define (sign,
 * exponent, mantissa, bias 1; INT4 code - 8) once the block's scale undoes the integer factor. */
static void test_fp4s_formats(void) {
    static const float scale[4] = {0.5f, 0.25f, 1.0f, 1.0f}; /* 1 / the factor of each format's integers */
    for (int f = 0; f < 4; f++) {
        unsigned char b[18];
        uint32_t bits;
        memcpy(&bits, &scale[f], 4);
        const uint32_t s = bits >> 17 | (uint32_t)f << 14;
        b[0] = (unsigned char)s, b[1] = (unsigned char)(s >> 8);
        for (int j = 0; j < 16; j++) b[2 + j] = (unsigned char)(j | (15 - j) << 4);
        float w[32], x[32];
        xf_dequant_fp4s_ref(b, w, 32);
        int ok = 1;
        double dot = 0;
        for (int j = 0; j < 32; j++) {
            const int c = j < 16 ? j : 31 - j, sg = c >> 3;
            float v;
            if (f == 0) { /* E2M1: e = bits 2..1, m = bit 0 */
                const int e = (c >> 1) & 3, m = c & 1;
                v = e ? (1.0f + m / 2.0f) * (float)(1 << (e - 1)) : m / 2.0f;
            } else if (f == 1) { /* E1M2: e = bit 2, m = bits 1..0 */
                const int e = (c >> 2) & 1, m = c & 3;
                v = e ? 1.0f + m / 4.0f : m / 4.0f;
            } else if (f == 2) { /* E3M0: e = bits 2..0, no mantissa: 0 or 2^(e - 1) */
                const int e = c & 7;
                v = e ? (float)(1 << (e - 1)) : 0.0f;
            } else {
                v = (float)(c - 8);
            }
            if (f < 3 && sg) v = -v;
            ok &= w[j] == v;
            x[j] = (float)(j % 5) - 2.0f;
            dot += (double)v * x[j];
        }
        CHECK_MSG(ok, "hand-made FP4S block, format %d", f);
        CHECK_MSG(xf_dot_fp4s_f32_ref(b, x, 32) == (float)dot, "FP4S dot, format %d", f);
    }
}

/* FP8S: with D = 2^120 (E4M3) / 2^112 (E5M2) every finite code decodes to its format's value
 * (sign, exponent bits, mantissa bits, bias 7 / 15, subnormals at exponent 0). */
static void test_fp8s_formats(void) {
    for (int f = 0; f < 2; f++) {
        const int mb = f ? 2 : 3, bias = f ? 15 : 7;
        const float D = f ? 0x1p112f : 0x1p120f;
        uint32_t bits;
        memcpy(&bits, &D, 4);
        const uint32_t s = bits >> 17 | (uint32_t)f << 14;
        int bad = 0;
        for (int c0 = 0; c0 < 256; c0 += 32) {
            unsigned char b[34];
            b[0] = (unsigned char)s, b[1] = (unsigned char)(s >> 8);
            for (int j = 0; j < 32; j++) b[2 + j] = (unsigned char)(c0 + j);
            float w[32];
            xf_dequant_fp8s_ref(b, w, 32);
            for (int j = 0; j < 32; j++) {
                const int c = c0 + j, e = (c & 0x7f) >> mb, m = c & ((1 << mb) - 1);
                if ((c & 0x7f) > (f ? 0x7b : 0x7e)) continue; /* NaN / Inf codes: never written */
                float v = e ? ldexpf(1.0f + (float)m / (float)(1 << mb), e - bias) : ldexpf((float)m / (float)(1 << mb), 1 - bias);
                if (c & 0x80) v = -v;
                bad += w[j] != v;
            }
        }
        CHECK_MSG(bad == 0, "FP8S format %d: %d codes decode wrong", f, bad);
    }
}

int main(void) {
    static const struct {
        const char *name;
        int type;
    } types[] = {{"F32", XF_GGML_F32},   {"F16", XF_GGML_F16},   {"BF16", XF_GGML_BF16}, {"Q8_0", XF_GGML_Q8_0},
                 {"Q4_0", XF_GGML_Q4_0}, {"Q4_1", XF_GGML_Q4_1}, {"Q5_0", XF_GGML_Q5_0}, {"Q5_1", XF_GGML_Q5_1},
                 {"Q2_K", XF_GGML_Q2_K}, {"Q3_K", XF_GGML_Q3_K}, {"Q4_K", XF_GGML_Q4_K}, {"Q5_K", XF_GGML_Q5_K},
                 {"Q6_K", XF_GGML_Q6_K}, {"MXFP4", XF_GGML_MXFP4}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) test_type(types[i].name, types[i].type);
    test_traits();
    test_named();
    test_fp4s_formats();
    test_fp8s_formats();
    return xf_t_report();
}
