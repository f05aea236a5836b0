/* file.h — small file helpers: bounded whole-file reads, read-only mmap, path joining. */
#ifndef XF_CORE_FILE_H
#define XF_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"

/* Largest file xf_read_file accepts by default (JSON configs, tokenizer.json). */
#ifndef XF_READ_FILE_MAX /* raise it at build time with -DXF_READ_FILE_MAX=... */
#define XF_READ_FILE_MAX ((size_t)256 << 20)
#endif

/* Read a whole file into a NUL-terminated heap buffer (free with free()). Files larger than
 * max_bytes are refused with XF_ERR_RANGE. *len (may be NULL) gets the byte count. */
xf_status xf_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

/* A read-only memory map of a whole file. */
typedef struct xf_mmap {
    const uint8_t *data;
    uint64_t size;
} xf_mmap;

xf_status xf_mmap_open(const char *path, xf_mmap *out);
void xf_mmap_close(xf_mmap *m);

/* 1 if path names an existing regular file / directory. */
int xf_is_file(const char *path);
int xf_is_dir(const char *path);
/* Size of a regular file, or -1. */
int64_t xf_file_size(const char *path);

/* dir + "/" + name into a new heap string (NULL on allocation failure). */
char *xf_path_join(const char *dir, const char *name);

#endif
