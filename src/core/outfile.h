/* outfile.h — writing a file so that it is never seen half-written: the bytes go to a temporary
 * file beside the target (same directory, so the final rename stays on one file system), which
 * is flushed to disk and renamed over the target only when everything was written; on any error,
 * or xf_outfile_abort, the temporary file is removed and the target is left as it was. */
#ifndef XF_CORE_OUTFILE_H
#define XF_CORE_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"

typedef struct xf_outfile xf_outfile;

/* Start writing path. XF_ERR_INVALID_ARG when path is empty or an existing directory, XF_ERR_IO
 * (naming path and the system's reason) when its directory does not exist or is not writable. */
xf_status xf_outfile_open(const char *path, xf_outfile **out);
/* Append n bytes (buffered). After a failure every later call fails with the same status and
 * the file can only be aborted. Messages name the target path and the system's reason (e.g. "No
 * space left on device", "File too large"). */
xf_status xf_outfile_write(xf_outfile *f, const void *p, size_t n);
/* Bytes written so far. */
uint64_t xf_outfile_size(const xf_outfile *f);
/* Flush, fsync, close and rename into place; frees f, also on failure (then the temporary file
 * is removed). */
xf_status xf_outfile_commit(xf_outfile *f);
/* Close and remove the temporary file; frees f. NULL is a no-op. */
void xf_outfile_abort(xf_outfile *f);

#endif
