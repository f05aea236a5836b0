/* outfile.c — a file written through a temporary file beside it and renamed into place at the end
 * (outfile.h). The temporary file is ".<name>.<pid>.<n>.tmp" in the target's directory, created
 * with O_EXCL and mode 0666 minus the umask (as a plain fopen would make the target). */
#define _POSIX_C_SOURCE 200809L
#include "core/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

#define OUT_BUF (1u << 20)

struct xf_outfile {
    char *path, *tmp;
    int fd;
    unsigned char *buf;
    size_t fill;
    uint64_t size;
    xf_status failed; /* sticky first failure */
};

static atomic_uint g_counter;

static xf_status io_error(xf_outfile *f, const char *what, int err) {
    f->failed = xf_error(XF_ERR_IO, "cannot %s %s: %s", what, f->path, strerror(err));
    return f->failed;
}

xf_status xf_outfile_open(const char *path, xf_outfile **out) {
    *out = NULL;
    if (!path || !*path) return xf_error(XF_ERR_INVALID_ARG, "output path is empty");
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return xf_error(XF_ERR_INVALID_ARG, "output path %s is a directory; give a file name", path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) return xf_error(XF_ERR_INVALID_ARG, "output path %s names no file", path);
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0; /* with the '/' */
    xf_outfile *f = xf_calloc(1, sizeof *f);
    size_t cap = dir_len + strlen(base) + 64;
    if (!f || !(f->path = xf_strdup(path)) || !(f->tmp = xf_malloc(cap)) || !(f->buf = xf_malloc(OUT_BUF))) {
        if (f) free(f->path), free(f->tmp), free(f->buf);
        free(f);
        return xf_error(XF_ERR_NOMEM, "out of memory opening %s", path);
    }
    f->fd = -1;
    int err = 0;
    for (int attempt = 0; attempt < 100 && f->fd < 0; attempt++) {
        snprintf(f->tmp, cap, "%.*s.%s.%ld.%u.tmp", (int)dir_len, path, base, (long)getpid(),
                 atomic_fetch_add(&g_counter, 1u));
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        err = errno;
        if (f->fd < 0 && err != EEXIST) break;
    }
    if (f->fd < 0) {
        xf_status st = xf_error(XF_ERR_IO, "cannot create %s (temporary file %s): %s", path, f->tmp, strerror(err));
        free(f->path), free(f->tmp), free(f->buf), free(f);
        return st;
    }
    *out = f;
    return XF_OK;
}

static xf_status flush(xf_outfile *f) {
    size_t done = 0;
    while (done < f->fill) {
        ssize_t w = write(f->fd, f->buf + done, f->fill - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return io_error(f, "write", w < 0 ? errno : EIO);
        done += (size_t)w;
    }
    f->fill = 0;
    return XF_OK;
}

xf_status xf_outfile_write(xf_outfile *f, const void *p, size_t n) {
    if (f->failed) return f->failed;
    const unsigned char *s = p;
    while (n) {
        size_t k = OUT_BUF - f->fill < n ? OUT_BUF - f->fill : n;
        memcpy(f->buf + f->fill, s, k);
        f->fill += k, f->size += k, s += k, n -= k;
        if (f->fill == OUT_BUF) {
            xf_status st = flush(f);
            if (st) return st;
        }
    }
    return XF_OK;
}

uint64_t xf_outfile_size(const xf_outfile *f) { return f ? f->size : 0; }

static void release(xf_outfile *f, int remove_tmp) {
    if (f->fd >= 0) close(f->fd);
    if (remove_tmp) unlink(f->tmp);
    free(f->path), free(f->tmp), free(f->buf), free(f);
}

xf_status xf_outfile_commit(xf_outfile *f) {
    xf_status st = f->failed ? f->failed : flush(f);
    if (!st && fsync(f->fd) != 0 && errno != EINVAL && errno != EROFS) st = io_error(f, "write", errno);
    if (!st) {
        int fd = f->fd;
        f->fd = -1;
        if (close(fd) != 0) st = io_error(f, "write", errno);
    }
    if (!st && rename(f->tmp, f->path) != 0) st = io_error(f, "create", errno);
    release(f, st != XF_OK);
    return st;
}

void xf_outfile_abort(xf_outfile *f) {
    if (f) release(f, 1);
}
