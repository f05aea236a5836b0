/* fuzz_common.h — helpers shared by the libFuzzer harnesses: the parsers under test take paths,
 * so each input is written to a file in a private temporary folder (tmpfs when available) and
 * the parser is pointed at it. Also: silence the library's diagnostics, split inputs in parts. */
#ifndef XF_FUZZ_COMMON_H
#define XF_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The harness's private folder (created on first use, removed at exit). */
const char *fz_dir(void);
/* Write data to <fz_dir>/<name> (replacing it, creating subfolders named in `name` is not
 * supported: use fz_mkdir first) and return the full path (static buffer, 8 rotating slots). */
const char *fz_write(const char *name, const uint8_t *data, size_t size);
/* Create <fz_dir>/<name> as a folder (no error if it exists); returns the path (slot). */
const char *fz_mkdir(const char *name);
/* Remove <fz_dir>/<name> if present. */
void fz_unlink(const char *name);
/* Absolute path of a file under the source tree (slot). */
const char *fz_src(const char *rel);

/* Cut the input at the first occurrence of the separator byte sequence "\n--\n": *a gets the
 * part before it, *b the rest (empty if absent). Returns the number of parts (1 or 2). */
int fz_split2(const uint8_t *data, size_t size, const uint8_t **a, size_t *na,
              const uint8_t **b, size_t *nb);

#endif
