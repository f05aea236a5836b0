/* harness.h — a minimal test harness: CHECK macros, per-run counters, test data paths. */
#ifndef XF_TEST_HARNESS_H
#define XF_TEST_HARNESS_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"

extern int xf_t_passed, xf_t_failed, xf_t_skipped;

/* Exit status of a test that could not run all its checks (ctest SKIP_RETURN_CODE). */
#define XF_T_SKIP_CODE 77
/* Record that part of the test could not run (a model, tool or data file is missing) and print
 * "SKIP: why". xf_t_report then returns XF_T_SKIP_CODE (when nothing failed), or 1 when
 * XF_REQUIRE_ALL=1 is set, as CI sets it: a skip there is a failure. */
void xf_t_skip(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            xf_t_passed++;                                                            \
        } else {                                                                      \
            xf_t_failed++;                                                            \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        if (cond) {                                                                   \
            xf_t_passed++;                                                            \
        } else {                                                                      \
            xf_t_failed++;                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

/* Absolute path of a file under the source tree (static buffer, rotates over 8 slots). */
const char *xf_t_src(const char *rel);
/* Path of the default model folder (models/all-MiniLM-L6-v2 under the source tree, or
 * $XFMR_TEST_MODEL). Returns NULL, after recording a skip (xf_t_skip), when it is not there. */
const char *xf_t_model_dir(void);
/* Path of the fetched SmolLM2-135M-Instruct Q4_1 GGUF (or $XFMR_SMOLLM2_GGUF), or NULL after
 * recording a skip. */
const char *xf_t_smollm2(void);
/* The model at path loaded with n_threads 2 and weight format wf, or NULL after a failed CHECK
 * naming the path and the library's error. */
xf_model *xf_t_load(const char *path, xf_weight_format wf);
/* Load with weights wf and the sparsity fields (2 threads); NULL after printing the error (no CHECK:
 * callers test failures too). */
xf_model *xf_t_load_sparse(const char *path, xf_weight_format wf, xf_sparsity sp, xf_sparsity_method method, const char *calib);
/* How much of a heavy test to run: the positive integer in environment variable env when it is
 * set, else `sanitized` in a sanitizer build (XF_T_SANITIZED, defined by tests/CMakeLists.txt
 * when XF_SANITIZE=ON), else `release`. */
size_t xf_t_knob(const char *env, size_t release, size_t sanitized);
/* Write a temporary file with the given bytes; returns its path (static buffer slot). */
const char *xf_t_tmpfile(const char *name, const void *data, size_t len);
/* A line of a file: p points into the buffer it was split from (not NUL-terminated). */
typedef struct {
    char *p;
    size_t n;
} xf_t_span;
/* Whole file into a heap buffer (free()); NULL if it cannot be read. */
char *xf_t_slurp(const char *path, size_t *len);
/* Split on '\n' (heap array, free()); the empty piece after a final newline is dropped. */
xf_t_span *xf_t_split_lines(char *b, size_t len, size_t *count);
/* Space-separated decimal integers of p[0..n) into out (at most cap); returns how many. */
size_t xf_t_parse_ints(const char *p, size_t n, int32_t *out, size_t cap);

/* Write a safetensors file of n float32 tensors: names[i], ndim[i] (1 or 2) dims shape[i][0..),
 * data[i]. Returns 0, or -1 (after printing why). */
int xf_t_write_safetensors(const char *path, size_t n, const char *const *names, const int *ndim,
                           const size_t (*shape)[2], const float *const *data);
/* The golden corpus (tests/data/corpus.txt) and a golden file of one line per corpus line, read
 * and split; xf_t_corpus_load returns 0 (after a failed CHECK) when either cannot be read. */
typedef struct {
    char *text, *gold;
    xf_t_span *lines, *golds;
    size_t n_lines, n_golds;
} xf_t_corpus;
int xf_t_corpus_load(xf_t_corpus *c, const char *golden_rel);
void xf_t_corpus_free(xf_t_corpus *c);
/* FNV-1a 64 of ids as little-endian int32 (the "COUNT HASH" goldens of the Python scripts). */
uint64_t xf_t_ids_hash(const int32_t *ids, size_t n);
/* A "COUNT HASH" golden line; 0 if malformed. */
int xf_t_parse_hash(const xf_t_span *line, size_t *count, uint64_t *hash);

/* Random numbers for kernel tests: uniform in [-1, 1) from a xorshift generator with a fixed seed
 * (the same sequence on every run), and a heap vector of n of them times amp (free()). */
float xf_t_frand(void);
float *xf_t_randv(size_t n, float amp);
/* The same generator's state: reseed it, or draw 32 bits ((state >> 16) after a step). */
void xf_t_seed(uint64_t seed);
uint32_t xf_t_rand32(void);
/* A random finite IEEE half (magnitude 2^-10 .. 2^5, either sign), little-endian at p. */
void xf_t_put_half(uint8_t *p);
/* N rows of K weights of GGUF block type `type` (XF_GGML_Q*): random bytes, random finite halves in
 * the block's scale fields (every quant bit pattern, no NaN / inf scales); *rb = bytes per row.
 * Heap (free()); NULL for a type without kernels. */
uint8_t *xf_t_random_qrows(int type, size_t N, size_t K, size_t *rb);
/* Uniform in [-1, 1] from xf_t_rand32 (6 decimal places). */
float xf_t_frand32(void);
/* For Y = X W^T (X [T, K], W [N, K] as floats, a and b [T, N]): the largest |a - b| relative to
 * sum_k |w_k x_k| of its output — the error scale of a dot product, so that cancellation in the
 * sum does not inflate it. */
double xf_t_dot_err(const float *a, const float *b, const float *W, const float *X, size_t T, size_t N, size_t K);
/* Normalized error ||a - b|| / ||b|| (||a - b|| when b is zero). */
double xf_t_nerr(const float *a, const float *b, size_t n);
/* Attention of one query head q over the keys j < n with vis[j] != 0 (rows of K and V at stride
 * ld, dh columns), in double: the plain masked reference of the sparse-attention tests. At least
 * one key must be visible. */
void xf_t_attention_masked(const float *q, const float *K, const float *V, size_t ld, size_t n, size_t dh,
                           double scale, const unsigned char *vis, double *out);

/* A growing little-endian byte buffer for tests that write binary files in memory (GGUF).
 * Zero-initialize; free(b.p) when done. Exits the test (status 2) if memory runs out. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} xf_t_buf;
void xf_t_put(xf_t_buf *b, const void *d, size_t n);
void xf_t_u8(xf_t_buf *b, uint8_t v);
void xf_t_u16(xf_t_buf *b, uint16_t v);
void xf_t_u32(xf_t_buf *b, uint32_t v);
void xf_t_u64(xf_t_buf *b, uint64_t v);
void xf_t_f32(xf_t_buf *b, float v);
void xf_t_f64(xf_t_buf *b, double v);
/* A GGUF string: u64 length, then the bytes (no NUL). */
void xf_t_str(xf_t_buf *b, const char *s);
/* GGUF file header: magic, version, tensor count, metadata count. */
void xf_t_gguf_header(xf_t_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);

/* The outputs of a model on fixed inputs: decoders' logits over 24 ids and 4 session steps after
 * a 16-id prefill; encoders' embeddings of 3 id sequences. Heap array of *n floats (free()). */
struct xf_model;
float *xf_t_model_outputs(struct xf_model *m, size_t *n);
/* The sparse-prefill checks every such method shares (block-sparse, vertical-slash), on three
 * loads of one decoder: `one` (density 1) gives bitwise `dense`'s last logits after a 500-id
 * prompt, `sparse` changes them (finite, by more than 1e-4; also with kv_type 1..3 — f16, q8, q4
 * caches — where kv_types is 1), and a 250-id prompt (too short to be sparse) leaves them bitwise
 * dense. `what` names the method in messages. */
void xf_t_check_sparse_prefill(struct xf_model *dense, struct xf_model *one, struct xf_model *sparse, int kv_types,
                               const char *what);
/* Save model m as GGUF to path (xf_model_save, outtype an xf_save_float), reload it (weights an
 * xf_weight_format) and CHECK that the reloaded model gives bitwise the same outputs — decoders:
 * logits of 24 fixed ids and 4 session steps; encoders: embeddings of 3 fixed id sequences — as
 * m, and the same tokens for the first 200 corpus lines — and that saving the reloaded model gives
 * the same file byte for byte. Returns the reloaded model (xf_model_free) or NULL. */
struct xf_model;
struct xf_model *xf_t_save_reload(struct xf_model *m, const char *path, int outtype, int weights);

/* The test's own output directory, made empty on first use ($TMPDIR or /tmp, exits the test
 * (status 2) if it cannot), and the path of name in it (one of 8 buffers of its own, reused in
 * turn: copy a path that must outlive 8 more calls). */
const char *xf_t_outdir(void);
const char *xf_t_out(const char *name);
/* Files in dir whose names end in ".tmp" (temporary files an interrupted write left behind). */
int xf_t_count_tmp(const char *dir);
/* A full disk: path is made to hold a few bytes, then write(arg, path) runs with the file-size
 * limit (RLIMIT_FSIZE) lowered to limit bytes and SIGXFSZ ignored; CHECKs that it fails with
 * XF_ERR_IO naming path and "File too large", that path still holds its old bytes and that no
 * temporary file is left beside it. path is removed afterwards. */
void xf_t_check_full_disk(const char *path, size_t limit, int (*write)(void *arg, const char *path), void *arg);

/* Print "N passed, N failed, N skipped" and return the process exit code: 1 on a failure, else
 * XF_T_SKIP_CODE after a skip (1 under XF_REQUIRE_ALL=1), else 0. */
int xf_t_report(void);

#endif
