/* safetensors.h — read-only, memory-mapped reader of Hugging Face .safetensors files.
 *
 * Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 *   {"__metadata__": {...}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 * then the data region; offsets are relative to the start of the data region (byte 8 + N).
 * Every length, offset and shape is checked against the file size and against overflow, tensors
 * must not overlap, and shape x dtype size must equal end - begin.
 */
#ifndef XF_IO_SAFETENSORS_H
#define XF_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "xfmr.h"

#define XF_MAX_DIMS 8

typedef struct xf_st_tensor {
    const char *name; /* owned by the file handle */
    xf_dtype dtype;
    int ndim;
    int64_t shape[XF_MAX_DIMS];
    uint64_t n_elements;
    const void *data; /* points into the mapping */
    uint64_t nbytes;
} xf_st_tensor;

typedef struct xf_safetensors xf_safetensors;

xf_status xf_st_open(const char *path, xf_safetensors **out);
void xf_st_close(xf_safetensors *st);

size_t xf_st_count(const xf_safetensors *st);
/* i-th tensor in file order (sorted by data offset), or NULL if i >= xf_st_count. */
const xf_st_tensor *xf_st_at(const xf_safetensors *st, size_t i);
/* Tensor by exact name, or NULL. */
const xf_st_tensor *xf_st_find(const xf_safetensors *st, const char *name);
const char *xf_st_path(const xf_safetensors *st);
uint64_t xf_st_file_size(const xf_safetensors *st);

/* Added: a "__metadata__" string (e.g. key "format" -> "pt"), owned by the handle, or NULL. */
const char *xf_st_metadata(const xf_safetensors *st, const char *key);
/* Added: file offset of the data region (8 + header length). Tensor data is aligned to its
 * element size only if this is a multiple of 8 (as writers pad it) and data_offsets are. */
uint64_t xf_st_data_offset(const xf_safetensors *st);

#endif
