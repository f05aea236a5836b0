/* alloc.h — the library's allocation entry points (one place to add failure injection and caps). */
#ifndef XF_CORE_ALLOC_H
#define XF_CORE_ALLOC_H

#include <stddef.h>

/* malloc/calloc/realloc that return NULL on size overflow; free() releases them. */
void *xf_malloc(size_t n);
void *xf_calloc(size_t count, size_t size);
void *xf_realloc(void *p, size_t n);
/* n * size into *out; 0 on overflow. */
int xf_mul_ok(size_t n, size_t size, size_t *out);
/* Heap copy of a string (NULL on failure / NULL input). */
char *xf_strdup(const char *s);
/* 64-byte aligned allocation (free with free()); NULL on failure. */
void *xf_aligned_alloc(size_t n);

/* Test-only allocation-failure injection (not part of the public API).
 * xf_alloc_fail_after(n), n >= 1: the n-th call to any of the allocators above from now on
 * (counted process-wide) returns NULL, and every later one succeeds again; n = 0 disarms it.
 * xf_alloc_count() returns how many allocator calls were made since the last
 * xf_alloc_fail_after() call, and xf_alloc_failed() whether the injected failure has happened.
 * The counters are atomics, so worker threads may allocate concurrently. */
void xf_alloc_fail_after(unsigned long n);
unsigned long xf_alloc_count(void);
int xf_alloc_failed(void);

#endif
