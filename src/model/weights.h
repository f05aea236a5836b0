/* weights.h — typed weight tensors and the set of weight files a model is loaded from.
 *
 * A model never touches file formats: it asks the weight set for a tensor by name and shape and
 * gets an xf_weight. xf_weight_get serves F32 (mmapped when the file already holds aligned F32,
 * converted once at load otherwise); xf_weight_get_stored also serves GGUF quantized blocks as they
 * are in the file (their block format, formats.h), which xf_linear and xf_embed_rows dispatch on. */
#ifndef XF_MODEL_WEIGHTS_H
#define XF_MODEL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "xfmr.h"

struct xf_format; /* formats.h: how `data` is laid out and multiplied */

typedef struct xf_weight {
    const struct xf_format *fmt; /* layout of `data` (formats.h); &xf_fmt_f32 for plain floats */
    size_t rows, cols;           /* 2-D view: [rows, cols]; vectors are [1, n] */
    const void *data;            /* NULL: the weight is absent (e.g. a layer without bias) */
    const char *name;            /* tensor name (owned by the weight set) */
    size_t row_bytes;            /* formats with addressable rows: bytes from one row to the next */
    const float *scale;          /* i8: [rows] dequantization scales */
    int isa;                     /* f32p: the xf_gemm_isa the panels are laid out for */
    int act_q8;                  /* GGUF block formats: 1 to multiply with activations quantized per 32 (short
                                    inputs: decode), 2 for every input length (XF_WEIGHTS_A8: prefill, encoders) */
} xf_weight;

/* A dimension to take from the tensor itself (xf_weight_get*): shapes come from the file; the
 * caller checks what it needs (e.g. cols == hidden). */
#define XF_ANY ((size_t)-1)

typedef struct xf_weight_set xf_weight_set;

/* Open every file (safetensors) of a model. */
xf_status xf_weight_set_open(char *const *paths, size_t n, xf_weight_set **out);
/* A GGUF file as a weight set (takes ownership of g, closed with the set, also on failure).
 * Tensors are asked for by their Hugging Face names and found under llama.cpp's names
 * (io/gguf_model.h); quantized ones are dequantized to F32 once, at the first xf_weight_get, and
 * for arch "llama" the rows of Q / K are un-permuted per head of head_dim rows (rows / head_dim
 * heads, so layers with pruned heads un-permute too). */
struct xf_gguf;
xf_status xf_weight_set_open_gguf(struct xf_gguf *g, const char *arch, size_t head_dim, xf_weight_set **out);
void xf_weight_set_free(xf_weight_set *ws);

/* 1 if a tensor of that name exists in any file. */
int xf_weight_set_has(const xf_weight_set *ws, const char *name);
/* Fetch tensor `name` as F32 (fmt &xf_fmt_f32) with exactly the given shape (ndim 1 or 2); a
 * dimension given as XF_ANY is taken from the tensor. */
xf_status xf_weight_get(xf_weight_set *ws, const char *name, int ndim, size_t d0, size_t d1,
                        xf_weight *out);
/* A 2-D weight [d0, d1] for xf_linear / xf_embed_rows: as xf_weight_get, except that a GGUF tensor
 * of a type with quantized kernels (kernels/qmatmul.h) keeps its blocks (its GGUF block format,
 * data into the mapping; an owned copy with rows un-permuted for llama's Q / K). Check fmt before
 * reading data as floats. */
xf_status xf_weight_get_stored(xf_weight_set *ws, const char *name, size_t d0, size_t d1, xf_weight *out);
/* (A GGUF tensor of xfmr's 2:4 types S24* comes as its s24 / s24q8 / s24q4 weight; for GPT-2's
 * Conv1D names, asked as [in, out], it is the [out, in] linear the file holds: check fmt.) */

/* 1 if data points into one of the set's file mappings (read-only, maybe shared with other
 * weights), 0 for memory of the set's own or elsewhere. */
int xf_weight_set_mapped(const xf_weight_set *ws, const void *data);

/* Hand a buffer (converted weights) to the set, to be freed with it; on failure the caller
 * still owns buf. */
xf_status xf_weight_set_adopt(xf_weight_set *ws, void *buf);

/* Drop the pages behind a weight served straight from a file mapping (after it was converted to
 * another layout and will not be read as it is), so that they stop counting in the resident set;
 * a no-op for converted copies. */
void xf_weight_release(xf_weight_set *ws, const xf_weight *w);

/* bytes of memory owned by the set (freed with it), 64-byte aligned, for a weight (`name` in
 * errors) that the products stream: asked for in transparent huge pages as xf_weight_to_hugepages
 * does (carved one after another from 2 MiB-aligned 16 MiB blocks, or a block of the tensor's own
 * 2 MiB multiple when it is larger), or plain aligned memory where that cannot be had. NULL (error set) when no memory. */
void *xf_weight_set_alloc(xf_weight_set *ws, size_t bytes, const char *name);

/* Move a weight of `bytes` bytes served straight from a file mapping into memory of the set's
 * own, asked for in transparent huge pages (MADV_HUGEPAGE), and drop the mapped pages: a GEMV
 * that streams the whole weight every token misses the TLB once per 2 MiB instead of once per 4
 * KiB page (the page cache of a mapped file is rarely in huge pages). The copies are carved (64-byte
 * aligned) one after another from 16 MiB huge-page blocks, a larger weight getting a block of its
 * own (xf_weight_set_alloc's memory). A no-op (XF_OK) for an owned copy or where the copy cannot be allocated; the bytes are
 * the same either way. */
xf_status xf_weight_to_hugepages(xf_weight_set *ws, xf_weight *w, size_t bytes);

/* The open GGUF file behind a GGUF weight set (its metadata stays readable), NULL for safetensors. */
const struct xf_gguf *xf_weight_set_gguf(const xf_weight_set *ws);

/* Facts for xf_model_info: total bytes of tensors as stored, total file bytes, the dtypes present
 * ("F32" / "F16,F32" ...), file paths. */
uint64_t xf_weight_set_tensor_bytes(const xf_weight_set *ws);
uint64_t xf_weight_set_file_bytes(const xf_weight_set *ws);
const char *xf_weight_set_dtypes(const xf_weight_set *ws);
size_t xf_weight_set_n_files(const xf_weight_set *ws);
const char *const *xf_weight_set_paths(const xf_weight_set *ws);

#endif
