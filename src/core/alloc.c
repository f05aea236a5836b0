/* alloc.c — allocation wrappers: overflow-checked sizes, aligned buffers, and the test-only
 * "fail the n-th allocation" switch (xf_alloc_fail_after). */
#include "core/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_ulong g_fail_at;   /* 0: injection off; else the call number that fails */
static atomic_ulong g_calls;     /* allocator calls since the switch was last set */
static atomic_int g_failed;      /* the injected failure has happened */

void xf_alloc_fail_after(unsigned long n) {
    atomic_store(&g_fail_at, 0);
    atomic_store(&g_calls, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_fail_at, n);
}

unsigned long xf_alloc_count(void) { return atomic_load(&g_calls); }
int xf_alloc_failed(void) { return atomic_load(&g_failed); }

/* 1 if this allocation must fail (injection armed and this is the chosen call). */
static int inject(void) {
    unsigned long at = atomic_load_explicit(&g_fail_at, memory_order_relaxed);
    unsigned long k = atomic_fetch_add_explicit(&g_calls, 1, memory_order_relaxed) + 1;
    if (at == 0 || k != at) return 0;
    atomic_store(&g_failed, 1);
    return 1;
}

int xf_mul_ok(size_t n, size_t size, size_t *out) {
    if (size != 0 && n > SIZE_MAX / size) return 0;
    *out = n * size;
    return 1;
}

void *xf_malloc(size_t n) {
    if (inject()) return NULL;
    return malloc(n ? n : 1);
}

void *xf_calloc(size_t count, size_t size) {
    size_t t;
    if (!xf_mul_ok(count, size, &t)) return NULL;
    if (inject()) return NULL;
    return calloc(t ? count : 1, t ? size : 1);
}

void *xf_realloc(void *p, size_t n) {
    if (inject()) return NULL;
    return realloc(p, n ? n : 1);
}

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
    if (inject()) return NULL;
    return aligned_alloc(64, r ? r : 64);
}
