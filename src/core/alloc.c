/* alloc.c — allocation wrappers: overflow-checked sizes, aligned buffers. */
#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int xf_mul_ok(size_t n, size_t size, size_t *out) {
    if (size != 0 && n > SIZE_MAX / size) return 0;
    *out = n * size;
    return 1;
}

void *xf_malloc(size_t n) { return malloc(n ? n : 1); }

void *xf_calloc(size_t count, size_t size) {
    size_t t;
    if (!xf_mul_ok(count, size, &t)) return NULL;
    return calloc(t ? count : 1, t ? size : 1);
}

void *xf_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }

char *xf_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = xf_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void *xf_aligned_alloc(size_t n) {
    size_t r = (n + 63) & ~(size_t)63;
    if (r < n) return NULL;
    return aligned_alloc(64, r ? r : 64);
}
