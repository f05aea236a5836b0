/* harness.c — counters, skips, paths and temp files shared by the C tests. */
#include "harness.h"

#include "io/gguf.h"
#include "kernels/quants.h"

#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfmr.h"

int xf_t_passed, xf_t_failed, xf_t_skipped;

void xf_t_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP: ");
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    xf_t_skipped++;
}

static char *slot(void) {
    static char bufs[8][4096];
    static int k;
    return bufs[k++ & 7];
}

const char *xf_t_src(const char *rel) {
    char *b = slot();
    snprintf(b, 4096, "%s/%s", XF_SOURCE_DIR, rel);
    return b;
}

const char *xf_t_model_dir(void) {
    const char *env = getenv("XFMR_TEST_MODEL");
    const char *p = env && *env ? env : xf_t_src("models/all-MiniLM-L6-v2");
    char *b = slot();
    snprintf(b, 4096, "%s/config.json", p);
    struct stat sb;
    if (stat(b, &sb) != 0) {
        xf_t_skip("model not found at %s (scripts/fetch_models.sh all-MiniLM-L6-v2)", p);
        return NULL;
    }
    snprintf(b, 4096, "%s", p);
    return b;
}

size_t xf_t_knob(const char *env, size_t release, size_t sanitized) {
    const char *v = getenv(env);
    if (v && *v && strtoul(v, NULL, 10) > 0) return (size_t)strtoul(v, NULL, 10);
#ifdef XF_T_SANITIZED
    (void)release;
    return sanitized;
#else
    (void)sanitized;
    return release;
#endif
}

const char *xf_t_tmpfile(const char *name, const void *data, size_t len) {
    char *b = slot();
    const char *tmp = getenv("TMPDIR");
    snprintf(b, 4096, "%s/xfmr_test_%d_%s", tmp && *tmp ? tmp : "/tmp", (int)getpid(), name);
    FILE *f = fopen(b, "wb");
    if (!f) return NULL;
    if (len && fwrite(data, 1, len, f) != len) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    return b;
}

void xf_t_put(xf_t_buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            fprintf(stderr, "test harness: out of memory (%zu bytes)\n", cap);
            exit(2);
        }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
void xf_t_u8(xf_t_buf *b, uint8_t v) { xf_t_put(b, &v, 1); }
void xf_t_u16(xf_t_buf *b, uint16_t v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    xf_t_put(b, x, 2);
}
void xf_t_u32(xf_t_buf *b, uint32_t v) {
    uint8_t x[4];
    for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i));
    xf_t_put(b, x, 4);
}
void xf_t_u64(xf_t_buf *b, uint64_t v) {
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i));
    xf_t_put(b, x, 8);
}
void xf_t_f32(xf_t_buf *b, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    xf_t_u32(b, u);
}
void xf_t_f64(xf_t_buf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    xf_t_u64(b, u);
}
void xf_t_str(xf_t_buf *b, const char *s) {
    xf_t_u64(b, strlen(s));
    xf_t_put(b, s, strlen(s));
}
void xf_t_gguf_header(xf_t_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    xf_t_put(b, "GGUF", 4);
    xf_t_u32(b, version);
    xf_t_u64(b, n_tensors);
    xf_t_u64(b, n_kv);
}

const char *xf_t_smollm2(void) {
    const char *env = getenv("XFMR_SMOLLM2_GGUF");
    const char *p = env && *env ? env : xf_t_src("models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf");
    if (access(p, R_OK) == 0) return p;
    xf_t_skip("%s is absent (scripts/fetch_models.sh SmolLM2-135M-Instruct)", p);
    return NULL;
}

xf_model *xf_t_load(const char *path, xf_weight_format wf) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.weights = wf;
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(path, &p, &m) == XF_OK, "%s: %s", path, xf_errmsg());
    return m;
}

xf_model *xf_t_load_sparse(const char *path, xf_weight_format wf, xf_sparsity sp, xf_sparsity_method method, const char *calib) {
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    p.weights = wf;
    p.sparsity = sp;
    p.sparsity_method = method;
    p.calib_text = calib;
    xf_model *m = NULL;
    if (xf_model_load(path, &p, &m) != XF_OK) fprintf(stderr, "load %s: %s\n", path, xf_errmsg());
    return m;
}

int xf_t_report(void) {
    printf("%d passed, %d failed, %d skipped\n", xf_t_passed, xf_t_failed, xf_t_skipped);
    if (xf_t_failed) return 1;
    if (!xf_t_skipped) return 0;
    const char *all = getenv("XF_REQUIRE_ALL");
    if (all && !strcmp(all, "1")) {
        printf("FAIL: XF_REQUIRE_ALL=1 and %d part(s) of this test were skipped\n", xf_t_skipped);
        return 1;
    }
    return XF_T_SKIP_CODE;
}

char *xf_t_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n == cap) b = realloc(b, cap *= 2);
        size_t r = fread(b + n, 1, cap - n, f);
        if (!r) break;
        n += r;
    }
    fclose(f);
    *len = n;
    return b;
}

xf_t_span *xf_t_split_lines(char *b, size_t len, size_t *count) {
    size_t n = 0, cap = 1024;
    xf_t_span *s = malloc(cap * sizeof *s);
    char *p = b, *end = b + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        if (n == cap) s = realloc(s, (cap *= 2) * sizeof *s);
        s[n].p = p;
        s[n++].n = (size_t)(nl - p);
        p = nl + 1;
    }
    *count = n;
    return s;
}

size_t xf_t_parse_ints(const char *p, size_t n, int32_t *out, size_t cap) {
    size_t k = 0;
    const char *end = p + n;
    while (p < end && k < cap) {
        while (p < end && *p == ' ') p++;
        if (p >= end) break;
        out[k++] = (int32_t)strtol(p, NULL, 10);
        while (p < end && *p != ' ') p++;
    }
    return k;
}

static unsigned long long g_rng = 0x9E3779B97F4A7C15ULL;

float xf_t_frand(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

void xf_t_seed(uint64_t seed) { g_rng = seed; }

uint32_t xf_t_rand32(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

void xf_t_put_half(uint8_t *p) {
    uint16_t h = (uint16_t)((xf_t_rand32() & 0x8000) | (uint32_t)(5 + xf_t_rand32() % 16) << 10 |
                            (xf_t_rand32() & 0x3ff));
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

uint8_t *xf_t_random_qrows(int type, size_t N, size_t K, size_t *rb) {
    static const struct {
        int type, halves[2]; /* byte offsets of the block's half fields (-1: none) */
    } k[] = {{XF_GGML_Q8_0, {0, -1}}, {XF_GGML_Q4_0, {0, -1}},  {XF_GGML_Q4_1, {0, 2}},    {XF_GGML_Q5_0, {0, -1}},
             {XF_GGML_Q5_1, {0, 2}},  {XF_GGML_Q2_K, {80, 82}}, {XF_GGML_Q3_K, {108, -1}}, {XF_GGML_Q4_K, {0, 2}},
             {XF_GGML_Q5_K, {0, 2}},  {XF_GGML_Q6_K, {208, -1}}, {XF_GGML_FP4S, {-1, -1}}, {XF_GGML_FP8S, {-1, -1}},
             {XF_GGML_MXFP4, {-1, -1}}};
    const xf_quant_traits *q = xf_quant_traits_of(type);
    size_t i = 0;
    while (i < sizeof k / sizeof k[0] && k[i].type != type) i++;
    if (!q || i == sizeof k / sizeof k[0]) return NULL;
    *rb = K / q->block_size * q->type_size;
    uint8_t *W = malloc(N * *rb);
    if (!W) return NULL;
    for (size_t b = 0; b < N * *rb; b++) W[b] = (uint8_t)xf_t_rand32();
    for (size_t b = 0; b < N * K / q->block_size; b++)
        for (int h = 0; h < 2; h++)
            if (k[i].halves[h] >= 0) xf_t_put_half(W + b * q->type_size + k[i].halves[h]);
    if (type == XF_GGML_FP4S) /* any format, an E8M6 scale 2^-10 .. 2^6 as the halves above (exponent 117 .. 132) */
        for (size_t b = 0; b < N * K / 32; b++) {
            const uint32_t s = (xf_t_rand32() & 3u) << 14 | (117u + xf_t_rand32() % 16) << 6 | (xf_t_rand32() & 63);
            W[b * 18] = (uint8_t)s, W[b * 18 + 1] = (uint8_t)(s >> 8);
        }
    if (type == XF_GGML_MXFP4) /* an E8M0 exponent 2^-10 .. 2^5 (the halved scale: e 118 .. 133) */
        for (size_t b = 0; b < N * K / 32; b++) W[b * 17] = (uint8_t)(118u + xf_t_rand32() % 16);
    if (type == XF_GGML_FP8S) /* E4M3 or E5M2, a scale that puts the middle codes near 1 */
        for (size_t b = 0; b < N * K / 32; b++) {
            const uint32_t f = xf_t_rand32() & 1u, e = 127u + (f ? 108u : 116u) + xf_t_rand32() % 8;
            const uint32_t s = f << 14 | e << 6 | (xf_t_rand32() & 63);
            W[b * 34] = (uint8_t)s, W[b * 34 + 1] = (uint8_t)(s >> 8);
        }
    return W;
}

float xf_t_frand32(void) { return (float)(xf_t_rand32() % 2000001) / 1000000.0f - 1.0f; }

double xf_t_dot_err(const float *a, const float *b, const float *W, const float *X, size_t T, size_t N, size_t K) {
    double worst = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t o = 0; o < N; o++) {
            double mag = 1e-30;
            for (size_t k = 0; k < K; k++) mag += fabs((double)W[o * K + k] * X[t * K + k]);
            double e = fabs((double)a[t * N + o] - b[t * N + o]) / mag;
            if (e > worst) worst = e;
        }
    return worst;
}

float *xf_t_randv(size_t n, float amp) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++) v[i] = amp * xf_t_frand();
    return v;
}

double xf_t_nerr(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

void xf_t_attention_masked(const float *q, const float *K, const float *V, size_t ld, size_t n, size_t dh,
                           double scale, const unsigned char *vis, double *out) {
    double mx = -INFINITY, sum = 0, *s = malloc((n ? n : 1) * sizeof *s);
    if (!s) exit(2);
    for (size_t j = 0; j < n; j++) {
        s[j] = -INFINITY;
        if (!vis[j]) continue;
        double d = 0;
        for (size_t k = 0; k < dh; k++) d += (double)q[k] * K[j * ld + k];
        s[j] = d * scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    for (size_t k = 0; k < dh; k++) out[k] = 0;
    for (size_t j = 0; j < n; j++) {
        if (s[j] == -INFINITY) continue;
        const double e = exp(s[j] - mx);
        sum += e;
        for (size_t k = 0; k < dh; k++) out[k] += e * V[j * ld + k];
    }
    for (size_t k = 0; k < dh; k++) out[k] /= sum;
    free(s);
}

int xf_t_write_safetensors(const char *path, size_t n, const char *const *names, const int *ndim,
                           const size_t (*shape)[2], const float *const *data) {
    size_t cap = 256 + n * 512, len = 0, off = 0;
    char *h = malloc(cap);
    FILE *f = h ? fopen(path, "wb") : NULL;
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        free(h);
        return -1;
    }
    len += (size_t)snprintf(h + len, cap - len, "{");
    for (size_t i = 0; i < n; i++) {
        size_t cnt = shape[i][0] * (ndim[i] == 2 ? shape[i][1] : 1);
        if (ndim[i] == 2)
            len += (size_t)snprintf(h + len, cap - len, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[%zu,%zu]}",
                                    i ? "," : "", names[i], shape[i][0], shape[i][1], off, off + 4 * cnt);
        else
            len += (size_t)snprintf(h + len, cap - len, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}",
                                    i ? "," : "", names[i], shape[i][0], off, off + 4 * cnt);
        off += 4 * cnt;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8) h[len++] = ' ';
    uint64_t hl = len;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hl >> (8 * i));
    int ok = fwrite(le, 1, 8, f) == 8 && fwrite(h, 1, len, f) == len;
    for (size_t i = 0; i < n && ok; i++) {
        size_t cnt = shape[i][0] * (ndim[i] == 2 ? shape[i][1] : 1);
        ok = fwrite(data[i], 4, cnt, f) == cnt;
    }
    ok = fclose(f) == 0 && ok;
    free(h);
    if (!ok) fprintf(stderr, "cannot write %s\n", path);
    return ok ? 0 : -1;
}

int xf_t_corpus_load(xf_t_corpus *c, const char *golden_rel) {
    size_t clen = 0, glen = 0;
    memset(c, 0, sizeof *c);
    c->text = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &clen);
    c->gold = xf_t_slurp(xf_t_src(golden_rel), &glen);
    CHECK_MSG(c->text && c->gold, "cannot read tests/data/corpus.txt or %s", golden_rel);
    if (!c->text || !c->gold) {
        xf_t_corpus_free(c);
        return 0;
    }
    c->lines = xf_t_split_lines(c->text, clen, &c->n_lines);
    c->golds = xf_t_split_lines(c->gold, glen, &c->n_golds);
    return 1;
}

void xf_t_corpus_free(xf_t_corpus *c) {
    free(c->lines);
    free(c->golds);
    free(c->text);
    free(c->gold);
    memset(c, 0, sizeof *c);
}

uint64_t xf_t_ids_hash(const int32_t *ids, size_t n) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) h = (h ^ (((uint32_t)ids[i] >> (8 * k)) & 0xFF)) * 0x100000001B3ull;
    return h;
}

int xf_t_parse_hash(const xf_t_span *line, size_t *count, uint64_t *hash) {
    char b[64];
    unsigned long long n, h;
    snprintf(b, sizeof b, "%.*s", (int)(line->n < 63 ? line->n : 63), line->p);
    if (sscanf(b, "%llu %llx", &n, &h) != 2) return 0;
    *count = (size_t)n;
    *hash = (uint64_t)h;
    return 1;
}

/* ------------------------------------------------------------ save and reload (GGUF) */

/* The outputs of a model on fixed inputs: decoders' logits over 24 ids and 4 session steps after
 * a 16-id prefill; encoders' embeddings of 3 id sequences. Heap array of *n floats (free()). */
float *xf_t_model_outputs(xf_model *m, size_t *n) {
    const size_t V = xf_model_vocab_size(m), T = 24;
    int32_t ids[24];
    for (size_t i = 0; i < T; i++) ids[i] = (int32_t)((i * 37 + 11) % V);
    float *out = malloc((T + 4) * V * sizeof *out);
    if (!out) return NULL;
    xf_status st = xf_model_logits(m, ids, T, out);
    if (st == XF_ERR_UNSUPPORTED) { /* an encoder */
        const size_t D = xf_model_embedding_dim(m), lens[3] = {5, 12, 24};
        xf_encoding enc[3];
        int32_t types[24] = {0};
        for (int k = 0; k < 3; k++) enc[k] = (xf_encoding){ids, types, lens[k], 0};
        *n = 3 * D;
        if (xf_embed_encodings(m, enc, 3, 2, out) == XF_OK) return out;
        fprintf(stderr, "embedding: %s\n", xf_errmsg());
        free(out);
        return NULL;
    }
    xf_session *s = NULL;
    if (st || xf_session_create(m, 64, &s) || xf_session_eval(s, ids, 16, out + T * V)) {
        fprintf(stderr, "logits: %s\n", xf_errmsg());
        xf_session_free(s);
        free(out);
        return NULL;
    }
    for (size_t k = 1; k < 4; k++)
        if (xf_session_eval(s, ids + 15 + k, 1, out + (T + k) * V)) {
            fprintf(stderr, "session: %s\n", xf_errmsg());
            xf_session_free(s);
            free(out);
            return NULL;
        }
    xf_session_free(s);
    *n = (T + 4) * V;
    return out;
}

/* Tokens of the first lines of the corpus equal under both tokenizers. */
static int same_tokens(const xf_tokenizer *a, const xf_tokenizer *b, size_t max_lines) {
    size_t len, n_lines;
    char *buf = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &len);
    xf_t_span *lines = buf ? xf_t_split_lines(buf, len, &n_lines) : NULL;
    int same = lines != NULL;
    for (size_t i = 0; same && i < n_lines && i < max_lines; i++) {
        xf_encoding x, y;
        if (xf_tokenize(a, lines[i].p, lines[i].n, NULL, 0, 0, &x)) return 0;
        if (xf_tokenize(b, lines[i].p, lines[i].n, NULL, 0, 0, &y)) {
            xf_encoding_free(&x);
            return 0;
        }
        same = x.n == y.n && !memcmp(x.ids, y.ids, x.n * sizeof *x.ids) && !memcmp(x.type_ids, y.type_ids, x.n * sizeof *x.ids);
        if (!same) fprintf(stderr, "corpus line %zu tokenizes differently after saving\n", i + 1);
        xf_encoding_free(&x), xf_encoding_free(&y);
    }
    free(lines), free(buf);
    return same;
}

xf_model *xf_t_save_reload(xf_model *m, const char *path_arg, int outtype, int weights) {
    char path[4096];
    snprintf(path, sizeof path, "%s", path_arg); /* the caller's may be a buffer slot reused below */
    xf_save_params sp = xf_save_default_params();
    sp.outtype = (xf_save_float)outtype;
    CHECK_MSG(xf_model_save(m, path, &sp) == XF_OK, "saving %s: %s", path, xf_errmsg());
    xf_model_params mp = xf_model_default_params();
    mp.weights = (xf_weight_format)weights;
    mp.n_threads = 2;
    xf_model *r = NULL;
    CHECK_MSG(xf_model_load(path, &mp, &r) == XF_OK, "reloading %s: %s", path, xf_errmsg());
    if (!r) return NULL;
    size_t na = 0, nb = 0;
    float *a = xf_t_model_outputs(m, &na), *b = xf_t_model_outputs(r, &nb);
    CHECK_MSG(a && b && na == nb && !memcmp(a, b, na * sizeof *b), "%s: outputs after saving and reloading differ", path);
    free(a), free(b);
    const xf_tokenizer *ta = xf_model_tokenizer(m), *tb = xf_model_tokenizer(r);
    CHECK_MSG(!ta == !tb, "%s: the tokenizer was %s", path, ta ? "lost" : "invented");
    if (ta && tb) CHECK_MSG(same_tokens(ta, tb, 200), "%s: tokens differ", path);
    /* saving the reloaded model gives the same file */
    char again[4200];
    snprintf(again, sizeof again, "%s.again", path);
    CHECK_MSG(xf_model_save(r, again, &sp) == XF_OK, "saving %s: %s", again, xf_errmsg());
    size_t n1 = 0, n2 = 0;
    char *f1 = xf_t_slurp(path, &n1), *f2 = xf_t_slurp(again, &n2);
    CHECK_MSG(f1 && f2 && n1 == n2 && !memcmp(f1, f2, n1), "%s: saving the reloaded model gives another file", path);
    free(f1), free(f2);
    unlink(again);
    return r;
}

/* ------------------------------------------------------------ output files */

static char g_outdir[1024];

const char *xf_t_outdir(void) {
    if (!g_outdir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(g_outdir, sizeof g_outdir, "%s/xfmr_test_%d_XXXXXX", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        if (!mkdtemp(g_outdir)) {
            fprintf(stderr, "test harness: cannot create %s\n", g_outdir);
            exit(2);
        }
    }
    return g_outdir;
}

const char *xf_t_out(const char *name) {
    static char bufs[8][4096]; /* a ring of its own: xf_t_src and friends never overwrite these */
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 4096, "%s/%s", xf_t_outdir(), name);
    return b;
}

int xf_t_count_tmp(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        n += l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0;
    }
    if (d) closedir(d);
    return n;
}

void xf_t_check_full_disk(const char *path_arg, size_t limit, int (*write)(void *arg, const char *path), void *arg) {
    static const char old[] = "old contents";
    char path[4096];
    snprintf(path, sizeof path, "%s", path_arg);
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs(old, f) >= 0 && fclose(f) == 0);
    struct rlimit was, lim;
    getrlimit(RLIMIT_FSIZE, &was);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim.rlim_cur = (rlim_t)limit;
    lim.rlim_max = was.rlim_max;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int st = write(arg, path);
    setrlimit(RLIMIT_FSIZE, &was);
    signal(SIGXFSZ, prev);
    CHECK_MSG(st == XF_ERR_IO && strstr(xf_errmsg(), path) && strstr(xf_errmsg(), "File too large"),
              "writing %s under a %zu-byte limit: status %d, \"%s\"", path, limit, st, xf_errmsg());
    size_t n = 0;
    char *got = xf_t_slurp(path, &n);
    CHECK_MSG(got && n == strlen(old) && !memcmp(got, old, n), "%s changed although its write failed", path);
    free(got);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    CHECK_MSG(xf_t_count_tmp(slash ? dir : ".") == 0, "a temporary file was left beside %s", path);
    unlink(path);
}

/* The last logits of a session (n_ctx 512, cache type kv_type) after ids[0..n). */
static float *session_logits(xf_model *m, const int32_t *ids, size_t n, int kv_type) {
    const size_t V = xf_model_vocab_size(m);
    float *out = malloc(V * sizeof *out);
    xf_session *s = NULL;
    xf_session_params sp = xf_session_default_params();
    sp.n_ctx = 512;
    sp.kv_type = (xf_kv_type)kv_type;
    CHECK(out && xf_session_create_ex(m, &sp, &s) == XF_OK);
    CHECK_MSG(s && out && xf_session_eval(s, ids, n, out) == XF_OK, "%s", xf_errmsg());
    xf_session_free(s);
    return out;
}

void xf_t_check_sparse_prefill(xf_model *dense, xf_model *one, xf_model *sparse, int kv_types, const char *what) {
    enum { N = 500 };
    const size_t V = xf_model_vocab_size(dense);
    int32_t ids[N];
    for (size_t i = 0; i < N; i++) ids[i] = (int32_t)((i * 13 + 3) % V);
    float *b = session_logits(one, ids, N, 0);
    double diff = 0;
    for (int type = 0; type <= (kv_types ? 3 : 0); type++) {
        float *a = session_logits(dense, ids, N, type), *c = session_logits(sparse, ids, N, type);
        double d = 0;
        for (size_t i = 0; i < V; i++) {
            CHECK(isfinite(c[i]));
            d = fmax(d, fabs(c[i] - a[i]));
        }
        if (!type) {
            CHECK_MSG(memcmp(a, b, V * 4) == 0, "%s: density 1 is not the dense model", what);
            diff = d;
        }
        CHECK_MSG(d > 1e-4 && d < 10 * diff + 1e-3, "%s, kv type %d: a 500-token prompt moves the logits by %.3g "
                  "(f32 cache: %.3g)", what, type, d, diff);
        free(a), free(c);
    }
    free(b);
    /* A session prefills a sparse model in steps of up to 2,048 tokens (session.c), so this prompt
     * is one step estimating one pattern, as the whole-sequence forward does: the same logits. */
    float *whole = malloc((size_t)N * V * sizeof *whole), *c = session_logits(sparse, ids, N, 0);
    CHECK_MSG(whole && xf_model_logits(sparse, ids, N, whole) == XF_OK, "%s", xf_errmsg());
    double dw = 0, amax = 0;
    for (size_t i = 0; whole && i < V; i++) {
        dw = fmax(dw, fabs(c[i] - whole[(N - 1) * V + i]));
        amax = fmax(amax, fabs(whole[(N - 1) * V + i]));
    }
    CHECK_MSG(whole && dw <= 1e-5 * amax + 1e-6, "%s: a %d-token session prompt is %.3g from the whole-sequence forward",
              what, (int)N, dw);
    free(whole), free(c);
    float *a = session_logits(dense, ids, 250, 0);
    c = session_logits(sparse, ids, 250, 0);
    CHECK_MSG(memcmp(a, c, V * 4) == 0, "%s: a 250-token prompt is not left dense", what);
    free(a), free(c);
}
