/* fuzz_safetensors.c — libFuzzer harness: arbitrary bytes as a .safetensors file. Opens it
 * (header length, JSON header, dtypes, shapes, offsets, overlap checks), then walks every
 * tensor and its data so that any pointer the reader accepted is really inside the file. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write("model.safetensors", data, size);
    xf_safetensors *st = NULL;
    if (xf_st_open(path, &st) != XF_OK) return 0;
    volatile uint8_t sink = 0;
    size_t n = xf_st_count(st);
    uint64_t fsize = xf_st_file_size(st);
    for (size_t i = 0; i < n; i++) {
        const xf_st_tensor *t = xf_st_at(st, i);
        if (!t || xf_st_find(st, t->name) == NULL) __builtin_trap();
        if (t->nbytes > fsize) __builtin_trap();
        /* Touch the first and last byte: a span past the mapping faults (a crash). */
        if (t->nbytes) {
            const uint8_t *p = t->data;
            sink ^= p[0];
            sink ^= p[t->nbytes - 1];
        }
    }
    (void)xf_st_metadata(st, "format");
    (void)xf_st_data_offset(st);
    (void)sink;
    xf_st_close(st);
    return 0;
}
