/* strmap.c — open-addressing (linear probing) string -> int32 map with a key arena. */
#include "tokenizer/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static uint64_t hash_bytes(const char *p, size_t n) {
    /* FNV-1a with a final avalanche (murmur3 fmix64). */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static size_t find_slot(const xf_strmap *m, const char *key, size_t len, uint64_t h, int *found) {
    size_t mask = m->cap - 1, i = (size_t)(h >> 32) & mask;
    uint32_t h32 = (uint32_t)h | 1u;
    for (;;) {
        const xf_strmap_slot *s = &m->slots[i];
        if (s->hash == 0) {
            *found = 0;
            return i;
        }
        if (s->hash == h32 && s->len == len && memcmp(m->arena + s->off, key, len) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static xf_status rehash(xf_strmap *m, size_t ncap) {
    xf_strmap_slot *ns = xf_calloc(ncap, sizeof *ns);
    if (!ns) return xf_error(XF_ERR_NOMEM, "tokenizer: out of memory for a hash table of %zu slots", ncap);
    for (size_t k = 0; k < m->cap; k++) {
        xf_strmap_slot *s = &m->slots[k];
        if (!s->hash) continue;
        uint64_t h = hash_bytes(m->arena + s->off, s->len);
        size_t i = (size_t)(h >> 32) & (ncap - 1);
        while (ns[i].hash) i = (i + 1) & (ncap - 1);
        ns[i] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return XF_OK;
}

xf_status xf_strmap_put(xf_strmap *m, const char *key, size_t len, int32_t val) {
    if (len >= UINT32_MAX) return xf_error(XF_ERR_RANGE, "tokenizer: key of %zu bytes is too long", len);
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        if (ncap < m->cap) return xf_error(XF_ERR_NOMEM, "tokenizer: hash table too large");
        xf_status st = rehash(m, ncap);
        if (st) return st;
    }
    uint64_t h = hash_bytes(key, len);
    int found;
    size_t i = find_slot(m, key, len, h, &found);
    if (found) {
        m->slots[i].val = val;
        return XF_OK;
    }
    if (len + 1 > m->arena_cap - m->arena_len || !m->arena) {
        size_t nc = m->arena_cap ? m->arena_cap : 4096;
        while (nc - m->arena_len < len + 1) {
            if (nc > SIZE_MAX / 2) return xf_error(XF_ERR_NOMEM, "tokenizer: key arena too large");
            nc *= 2;
        }
        char *na = xf_realloc(m->arena, nc);
        if (!na) return xf_error(XF_ERR_NOMEM, "tokenizer: out of memory for vocabulary keys");
        m->arena = na;
        m->arena_cap = nc;
    }
    memcpy(m->arena + m->arena_len, key, len);
    m->arena[m->arena_len + len] = '\0';
    m->slots[i].off = m->arena_len;
    m->slots[i].len = (uint32_t)len;
    m->slots[i].hash = (uint32_t)h | 1u;
    m->slots[i].val = val;
    m->arena_len += len + 1;
    m->n++;
    return XF_OK;
}

int xf_strmap_get(const xf_strmap *m, const char *key, size_t len, int32_t *val) {
    if (!m->cap) return 0;
    int found;
    size_t i = find_slot(m, key, len, hash_bytes(key, len), &found);
    if (found && val) *val = m->slots[i].val;
    return found;
}

const char *xf_strmap_key(const xf_strmap *m, const xf_strmap_slot *s) { return m->arena + s->off; }

void xf_strmap_free(xf_strmap *m) {
    free(m->slots);
    free(m->arena);
    memset(m, 0, sizeof *m);
}
