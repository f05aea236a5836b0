/* strmap.h — open-addressing hash map from byte strings to int32 (tokenizer vocabularies). */
#ifndef XF_TOKENIZER_STRMAP_H
#define XF_TOKENIZER_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"

typedef struct xf_strmap_slot {
    size_t off;    /* key offset in the arena (keys are NUL-terminated there) */
    uint32_t len;  /* key length in bytes */
    uint32_t hash; /* low 32 bits of the key hash; 0 marks an empty slot (hashes are |1) */
    int32_t val;
} xf_strmap_slot;

typedef struct xf_strmap {
    xf_strmap_slot *slots;
    size_t cap;   /* power of two, or 0 */
    size_t n;     /* number of keys */
    char *arena;  /* key bytes */
    size_t arena_len, arena_cap;
} xf_strmap;

/* Insert or replace key -> val. XF_ERR_NOMEM / XF_ERR_RANGE (key >= 4 GiB) on failure. */
xf_status xf_strmap_put(xf_strmap *m, const char *key, size_t len, int32_t val);
/* 1 and *val if found, else 0. */
int xf_strmap_get(const xf_strmap *m, const char *key, size_t len, int32_t *val);
/* The NUL-terminated key stored in a slot (valid until the next put). */
const char *xf_strmap_key(const xf_strmap *m, const xf_strmap_slot *s);
void xf_strmap_free(xf_strmap *m);

#endif
