/* gguf_write.h — a GGUF version 3 writer (the format gguf.h reads; all integers little-endian).
 *
 * Metadata and tensor infos are collected in memory in the order they are added; tensor data is
 * asked for only while the file is written (a pointer to the bytes, or a callback that streams
 * them), so a model is never copied whole. xf_gguf_writer_write writes through core/outfile.h: a
 * temporary file beside the target, renamed into place at the end, removed on any error.
 *
 *   xf_gguf_writer *w; xf_gguf_writer_create(&w);
 *   xf_gguf_set_str(w, "general.architecture", "llama", 5);
 *   xf_gguf_set_u32(w, "llama.block_count", 30);
 *   uint64_t dims[2] = {576, 49152};            // innermost first, as gguf.h reports them
 *   xf_gguf_add_tensor(w, "token_embd.weight", XF_GGML_Q8_0, 2, dims, data, NULL, NULL);
 *   xf_gguf_writer_write(w, "out.gguf", NULL, NULL);
 *   xf_gguf_writer_free(w);
 *
 * Checks (XF_ERR_INVALID_ARG naming the key or tensor): keys and tensor names are unique,
 * non-empty, without NUL bytes, keys at most 65535 bytes and tensor names at most 63 (ggml's
 * GGML_MAX_NAME - 1); strings at most XF_GGUF_MAX_STRING bytes; value and element types 0..12;
 * arrays nest at most XF_GGUF_MAX_DEPTH deep; tensor n_dims 1..4 with every dim >= 1, a type with
 * a known size (gguf.h) and dims[0] a multiple of its block size; "general.alignment", when set,
 * a u32 power of two in [1, XF_GGUF_MAX_ALIGNMENT]. Every size is overflow-checked. */
#ifndef XF_IO_GGUF_WRITE_H
#define XF_IO_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "io/gguf.h"
#include "xfmr.h"

typedef struct xf_gguf_writer xf_gguf_writer;

xf_status xf_gguf_writer_create(xf_gguf_writer **out);
void xf_gguf_writer_free(xf_gguf_writer *w);

/* ---------------------------------------------------------------- metadata */

/* 1 if key was set. */
int xf_gguf_writer_has(const xf_gguf_writer *w, const char *key);
xf_status xf_gguf_set_u8(xf_gguf_writer *w, const char *key, uint8_t v);
xf_status xf_gguf_set_i8(xf_gguf_writer *w, const char *key, int8_t v);
xf_status xf_gguf_set_u16(xf_gguf_writer *w, const char *key, uint16_t v);
xf_status xf_gguf_set_i16(xf_gguf_writer *w, const char *key, int16_t v);
xf_status xf_gguf_set_u32(xf_gguf_writer *w, const char *key, uint32_t v);
xf_status xf_gguf_set_i32(xf_gguf_writer *w, const char *key, int32_t v);
xf_status xf_gguf_set_u64(xf_gguf_writer *w, const char *key, uint64_t v);
xf_status xf_gguf_set_i64(xf_gguf_writer *w, const char *key, int64_t v);
xf_status xf_gguf_set_f32(xf_gguf_writer *w, const char *key, float v);
xf_status xf_gguf_set_f64(xf_gguf_writer *w, const char *key, double v);
xf_status xf_gguf_set_bool(xf_gguf_writer *w, const char *key, int v);
/* A string of len bytes (need not be NUL-terminated; s may be NULL when len is 0). */
xf_status xf_gguf_set_str(xf_gguf_writer *w, const char *key, const char *s, size_t len);
/* An array of n fixed-size values of elem_type (any type but string and array), given in host
 * order: data holds n elements of that type's C size (bool: one byte each, nonzero = true). */
xf_status xf_gguf_set_arr(xf_gguf_writer *w, const char *key, xf_gguf_type elem_type, const void *data, uint64_t n);
/* An array of n strings; lens[i] is the byte length of s[i] (lens NULL: strlen). */
xf_status xf_gguf_set_arr_str(xf_gguf_writer *w, const char *key, const char *const *s, const size_t *lens,
                              uint64_t n);
/* Copy pair i of an open GGUF (any type, nested arrays included) under its own key. */
xf_status xf_gguf_copy_kv(xf_gguf_writer *w, const xf_gguf *g, size_t i);

/* ---------------------------------------------------------------- tensors */

/* Where a tensor's bytes go while the file is written. */
typedef struct xf_gguf_sink xf_gguf_sink;
/* Append n bytes of the tensor being written. */
xf_status xf_gguf_sink_write(xf_gguf_sink *s, const void *p, size_t n);
/* Streams exactly the tensor's byte size into s (checked after it returns). */
typedef xf_status (*xf_gguf_emit_fn)(void *user, xf_gguf_sink *s);

/* Add a tensor of ggml type `type` with dims[0..n_dims) (innermost first). Its bytes are data
 * (the tensor's byte size of them, read when the file is written; must stay valid until then) or,
 * when data is NULL, what emit(user, sink) streams. Offsets are laid out in the order tensors are
 * added, each aligned to general.alignment (default 32). */
xf_status xf_gguf_add_tensor(xf_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *dims,
                             const void *data, xf_gguf_emit_fn emit, void *user);

/* ---------------------------------------------------------------- output */

/* Called after every tensor (and once before the first) with the bytes written and the total. */
typedef void (*xf_gguf_progress_fn)(void *user, uint64_t done, uint64_t total);

/* Write the file (see the top of this header); progress may be NULL. Messages name path. The
 * writer can be written again (e.g. to another path). */
xf_status xf_gguf_writer_write(xf_gguf_writer *w, const char *path, xf_gguf_progress_fn progress, void *user);
/* Total bytes the file will have. */
uint64_t xf_gguf_writer_size(const xf_gguf_writer *w);

#endif
