/* harness.h — a minimal test harness: CHECK macros, per-run counters, test data paths. */
#ifndef XF_TEST_HARNESS_H
#define XF_TEST_HARNESS_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

extern int xf_t_passed, xf_t_failed;

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
 * $XFMR_TEST_MODEL). Returns NULL, after printing why, when it is not there. */
const char *xf_t_model_dir(void);
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

/* Random numbers for kernel tests: uniform in [-1, 1) from a xorshift generator with a fixed seed
 * (the same sequence on every run), and a heap vector of n of them times amp (free()). */
float xf_t_frand(void);
float *xf_t_randv(size_t n, float amp);
/* Normalized error ||a - b|| / ||b|| (||a - b|| when b is zero). */
double xf_t_nerr(const float *a, const float *b, size_t n);

/* Print "N passed, N failed" and return the process exit code. */
int xf_t_report(void);

#endif
