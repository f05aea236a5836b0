/* abi.h — how the library reads the public parameter structs that carry their own size (first
 * member size_t struct_size, set by the *_default_params() inlines of xfmr.h), so that the
 * structs can grow without breaking programs built against an older header. */
#ifndef XF_CORE_ABI_H
#define XF_CORE_ABI_H

#include <stddef.h>

#include "xfmr.h"

/* Copy the caller's struct src over *dst (the library's defaults, `size` bytes). Its struct_size
 * must be from `min` (the size of the first layout that had struct_size) to `size`: an older,
 * smaller layout keeps the defaults for the fields it lacks. Another size is XF_ERR_INVALID_ARG
 * naming `what` (e.g. "xf_model_params"): not initialised with *_default_params(), or a newer
 * header than this library. */
xf_status xf_struct_in(void *dst, size_t size, const void *src, size_t min, const char *what);

/* Write the library's struct src (`size` bytes, struct_size first) into the caller's *dst, whose
 * struct_size (at least `min`) says how much room it has: fields beyond it are not written, a
 * newer, larger layout gets zeros in the fields this library does not know. */
xf_status xf_struct_out(void *dst, const void *src, size_t size, size_t min, const char *what);

#endif
