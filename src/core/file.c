/* file.c — bounded whole-file reads and read-only mmaps, with messages naming the file. */
#define _POSIX_C_SOURCE 200809L
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

/* Open a regular file read-only; *fd and *sb on success. */
static xf_status open_regular(const char *path, int *fd, struct stat *sb) {
    *fd = open(path, O_RDONLY);
    if (*fd < 0)
        return xf_error(errno == ENOENT ? XF_ERR_NOT_FOUND : XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(*fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
        close(*fd);
        return xf_error(XF_ERR_IO, "%s: not a regular file", path);
    }
    return XF_OK;
}

xf_status xf_read_file(const char *path, size_t max_bytes, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    int fd;
    struct stat sb;
    xf_status st = open_regular(path, &fd, &sb);
    if (st) return st;
    if ((uint64_t)sb.st_size > max_bytes) {
        close(fd);
        return xf_error(XF_ERR_RANGE, "%s: file is %lld bytes, more than the %zu-byte limit", path,
                        (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = xf_malloc(n + 1);
    if (!buf) {
        close(fd);
        return xf_error(XF_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            close(fd);
            return xf_error(XF_ERR_IO, "%s: read failed after %zu of %zu bytes", path, got, n);
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return XF_OK;
}

xf_status xf_mmap_open(const char *path, xf_mmap *out) {
    out->data = NULL;
    out->size = 0;
    int fd;
    struct stat sb;
    xf_status st = open_regular(path, &fd, &sb);
    if (st) return st;
    if (sb.st_size == 0) { /* mmap of 0 bytes fails; an empty map is still a valid answer */
        close(fd);
        return XF_OK;
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return xf_error(XF_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    out->data = p;
    out->size = (uint64_t)sb.st_size;
    return XF_OK;
}

void xf_mmap_close(xf_mmap *m) {
    if (m && m->data) munmap((void *)m->data, (size_t)m->size);
    if (m) {
        m->data = NULL;
        m->size = 0;
    }
}

int xf_is_file(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int xf_is_dir(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int64_t xf_file_size(const char *path) {
    struct stat sb;
    if (!path || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return -1;
    return (int64_t)sb.st_size;
}

char *xf_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = xf_malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/') s[k++] = '/';
    memcpy(s + k, name, b + 1);
    return s;
}
