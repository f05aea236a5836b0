/* sha256.h — SHA-256 (FIPS 180-4), for content hashes of indexed files. */
#ifndef XF_CORE_SHA256_H
#define XF_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct xf_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t buf[64];
    size_t n_buf;
} xf_sha256;

void xf_sha256_init(xf_sha256 *s);
void xf_sha256_update(xf_sha256 *s, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL into hex[65]. */
void xf_sha256_hex(xf_sha256 *s, char hex[65]);

#endif
