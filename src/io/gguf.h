/* gguf.h — read-only, memory-mapped reader of GGUF files (versions 2 and 3), parser only.
 *
 * Layout (all integers little-endian; "str" = u64 byte length + that many bytes, no NUL):
 *   u32 magic "GGUF" (bytes 47 47 55 46) | u32 version | u64 tensor_count | u64 kv_count
 *   kv_count x  { str key | u32 value_type | value }
 *       value: fixed-size scalar, str, or array = { u32 elem_type | u64 count | count values }
 *   tensor_count x { str name | u32 n_dims | u64 dims[n_dims] | u32 ggml_type | u64 offset }
 *   padding to general.alignment (default 32) | data section (tensor offsets are relative to it)
 * dims[0] is the fastest-varying (row length). Nothing is copied but keys and tensor names (as
 * NUL-terminated strings); values and tensor data are pointers into the mapping, valid until
 * xf_gguf_close. See docs/GGUF.md for every check made on open.
 */
#ifndef XF_IO_GGUF_H
#define XF_IO_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"

#define XF_GGUF_MAX_DIMS 4
#define XF_GGUF_MAX_TENSORS 1000000u
#define XF_GGUF_MAX_KV 1000000u
#define XF_GGUF_MAX_STRING ((uint64_t)64 << 20) /* 64 MiB */
#define XF_GGUF_MAX_DEPTH 8                     /* arrays nested at most this deep */
#define XF_GGUF_MAX_ALIGNMENT (1u << 20)        /* 1 MiB */
#define XF_GGUF_DEFAULT_ALIGNMENT 32u

/* Metadata value types (the numbering of the GGUF spec). */
typedef enum xf_gguf_type {
    XF_GGUF_UINT8 = 0,
    XF_GGUF_INT8 = 1,
    XF_GGUF_UINT16 = 2,
    XF_GGUF_INT16 = 3,
    XF_GGUF_UINT32 = 4,
    XF_GGUF_INT32 = 5,
    XF_GGUF_FLOAT32 = 6,
    XF_GGUF_BOOL = 7,
    XF_GGUF_STRING = 8,
    XF_GGUF_ARRAY = 9,
    XF_GGUF_UINT64 = 10,
    XF_GGUF_INT64 = 11,
    XF_GGUF_FLOAT64 = 12,
    XF_GGUF_TYPE_COUNT
} xf_gguf_type;

/* ggml tensor types whose sizes the reader knows (ids of ggml's enum ggml_type). */
typedef enum xf_ggml_type {
    XF_GGML_F32 = 0,
    XF_GGML_F16 = 1,
    XF_GGML_Q4_0 = 2,
    XF_GGML_Q4_1 = 3,
    XF_GGML_Q5_0 = 6,
    XF_GGML_Q5_1 = 7,
    XF_GGML_Q8_0 = 8,
    XF_GGML_Q2_K = 10,
    XF_GGML_Q3_K = 11,
    XF_GGML_Q4_K = 12,
    XF_GGML_Q5_K = 13,
    XF_GGML_Q6_K = 14,
    XF_GGML_Q8_K = 15,
    XF_GGML_I8 = 24,
    XF_GGML_I16 = 25,
    XF_GGML_I32 = 26,
    XF_GGML_I64 = 27,
    XF_GGML_F64 = 28,
    XF_GGML_BF16 = 30,
    XF_GGML_MXFP4 = 39, /* 32 E2M1 values with an E8M0 scale: 17 bytes */
    /* xfmr's own types, ids far above ggml's (which llama.cpp refuses as invalid types): */
    XF_GGML_FP4S = 4096, /* 32 searched FP4 codes (E2M1 / E1M2 / E3M0 / INT4 per block) with an
                          * E8M6 scale: 18 bytes (kernels/quants.h) */
    XF_GGML_FP8S = 4097, /* 32 FP8 codes (E4M3 / E5M2 per block) with an E8M6 scale: 34 bytes */
    /* 2:4 sparse weights (kernels/sparse24.h), sized per row, not per block (xf_ggml_row_bytes):
     * dims [K, N] are the dense shape, the data the compressed form in sections (all rows of one
     * section, then all rows of the next; docs/GGUF.md), IB = xf_s24_idx_row_bytes(K) = 4 ceil(K / 32): */
    XF_GGML_S24 = 4098,   /* f32 values [N][K/2] | 2-bit indices [N][IB]             (K % 4 == 0) */
    XF_GGML_S24Q8 = 4099, /* f32 scales [N] | int8 values [N][K/2] | indices [N][IB]  (K % 4 == 0) */
    XF_GGML_S24Q4 = 4100  /* f16 scales [N][K/32] | nibbles [N][K/4] | indices [N][IB] (K % 32 == 0) */
} xf_ggml_type;

/* 1 for xfmr's 2:4 row types (XF_GGML_S24, _S24Q8, _S24Q4), 0 otherwise. */
int xf_ggml_is_s24(uint32_t type);
/* The sections of one row of K elements of a 2:4 row type: bytes per row of each, in file order;
 * returns their number (3 for S24Q8 / S24Q4, 2 for S24), 0 when type is not one or K does not fit
 * it (not a multiple of 4, or of 32 for S24Q4). */
int xf_ggml_s24_sections(uint32_t type, uint64_t K, uint64_t sec[3]);
/* Bytes of one row of K elements of a supported type (block types K / block x bytes per block),
 * 0 when the type is not supported or K is not a multiple of its block. */
uint64_t xf_ggml_row_bytes(uint32_t type, uint64_t K);

/* Name of a metadata value type ("uint32", "string", ...; "unknown" otherwise). */
const char *xf_gguf_type_name(uint32_t type);
/* Name of a ggml type id ("Q4_K", ...; also names ids the reader does not support, "unknown"
 * for ids ggml never had). */
const char *xf_ggml_type_name(uint32_t type);
/* Block size (elements) and block byte size of a supported ggml type; 0 if supported, -1 if not.
 * The 2:4 row types give the multiple that K must be as the block and 0 bytes (their size is per
 * row: xf_ggml_row_bytes). */
int xf_ggml_type_size(uint32_t type, uint32_t *block_elems, uint32_t *block_bytes);

typedef struct xf_gguf_tensor {
    const char *name;                  /* NUL-terminated copy, owned by the handle */
    uint32_t n_dims;                   /* 1..XF_GGUF_MAX_DIMS */
    uint64_t dims[XF_GGUF_MAX_DIMS];   /* dims[0] fastest-varying; unused entries are 1 */
    uint32_t type;                     /* ggml type id (a supported xf_ggml_type) */
    uint64_t offset;                   /* relative to the data section */
    uint64_t n_elements;
    uint64_t nbytes;
    const void *data;                  /* points into the mapping */
} xf_gguf_tensor;

typedef struct xf_gguf xf_gguf;
/* An array value (possibly an element of another array); owned by the handle. */
typedef struct xf_gguf_arr xf_gguf_arr;

xf_status xf_gguf_open(const char *path, xf_gguf **out);
void xf_gguf_close(xf_gguf *g);

const char *xf_gguf_path(const xf_gguf *g);
uint32_t xf_gguf_version(const xf_gguf *g);
uint64_t xf_gguf_file_size(const xf_gguf *g);
uint32_t xf_gguf_alignment(const xf_gguf *g);
/* File offset of the data section (end of the header, aligned). */
uint64_t xf_gguf_data_offset(const xf_gguf *g);

/* ------------------------------------------------------------------ metadata */

size_t xf_gguf_kv_count(const xf_gguf *g);
/* Key of the i-th pair in file order (NUL-terminated copy), or NULL if i is out of range. */
const char *xf_gguf_key(const xf_gguf *g, size_t i);
/* Value type of the i-th pair, or XF_GGUF_TYPE_COUNT if i is out of range. */
xf_gguf_type xf_gguf_kv_type(const xf_gguf *g, size_t i);
/* Index of key, or -1. */
int64_t xf_gguf_find(const xf_gguf *g, const char *key);

/* Typed getters by key. A missing key is XF_ERR_NOT_FOUND, a value of another type
 * XF_ERR_FORMAT (messages name the file and key); *out is untouched on failure. */
xf_status xf_gguf_get_u8(const xf_gguf *g, const char *key, uint8_t *out);
xf_status xf_gguf_get_i8(const xf_gguf *g, const char *key, int8_t *out);
xf_status xf_gguf_get_u16(const xf_gguf *g, const char *key, uint16_t *out);
xf_status xf_gguf_get_i16(const xf_gguf *g, const char *key, int16_t *out);
xf_status xf_gguf_get_u32(const xf_gguf *g, const char *key, uint32_t *out);
xf_status xf_gguf_get_i32(const xf_gguf *g, const char *key, int32_t *out);
xf_status xf_gguf_get_u64(const xf_gguf *g, const char *key, uint64_t *out);
xf_status xf_gguf_get_i64(const xf_gguf *g, const char *key, int64_t *out);
xf_status xf_gguf_get_f32(const xf_gguf *g, const char *key, float *out);
xf_status xf_gguf_get_f64(const xf_gguf *g, const char *key, double *out);
xf_status xf_gguf_get_bool(const xf_gguf *g, const char *key, int *out);
/* Any integer type, converted; a value that does not fit is XF_ERR_RANGE (writers differ on
 * u32 vs u64 for the same key, so loaders should prefer these). */
xf_status xf_gguf_get_uint(const xf_gguf *g, const char *key, uint64_t *out);
xf_status xf_gguf_get_int(const xf_gguf *g, const char *key, int64_t *out);
/* A string: pointer into the mapping and byte length. NOT NUL-terminated. */
xf_status xf_gguf_get_str(const xf_gguf *g, const char *key, const char **s, size_t *len);
/* An array value. */
xf_status xf_gguf_get_arr(const xf_gguf *g, const char *key, const xf_gguf_arr **out);

/* Element type and count of an array. */
xf_gguf_type xf_gguf_arr_type(const xf_gguf_arr *a);
uint64_t xf_gguf_arr_count(const xf_gguf_arr *a);
/* Raw little-endian element data (count x element size bytes) for arrays of fixed-size
 * elements; NULL for arrays of strings or arrays. Not necessarily aligned: memcpy from it. */
const void *xf_gguf_arr_data(const xf_gguf_arr *a);
/* Element i of an array of strings (pointer into the mapping, NOT NUL-terminated). */
xf_status xf_gguf_arr_str(const xf_gguf_arr *a, uint64_t i, const char **s, size_t *len);
/* Element i of an array of arrays, or NULL (out of range / not an array of arrays). */
const xf_gguf_arr *xf_gguf_arr_sub(const xf_gguf_arr *a, uint64_t i);

/* ------------------------------------------------------------------- tensors */

size_t xf_gguf_tensor_count(const xf_gguf *g);
/* i-th tensor info in file order, or NULL. */
const xf_gguf_tensor *xf_gguf_tensor_at(const xf_gguf *g, size_t i);
/* Tensor by exact name, or NULL. */
const xf_gguf_tensor *xf_gguf_find_tensor(const xf_gguf *g, const char *name);

#endif
