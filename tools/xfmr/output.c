/* output.c — writing xfmr results: opening/closing the output (stdout, or -o FILE written as a
 * temporary file renamed into place on success), the same-file check, JSON helpers (escaped
 * strings, int and round-tripping float arrays, the jsonl embedding rows), CSV/TSV rows, the
 * NumPy .npy v1.0 writer, and human-readable counts and byte sizes. */
#define _XOPEN_SOURCE 700 /* realpath */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* A temporary file beside path ("<dir>/.<name>.XXXXXX"), opened for writing, with the mode a
 * new file would get (or path's own mode when it exists). */
static FILE *open_temp(const char *path, char **tmp_out) {
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) return NULL;
    snprintf(tmp, n, "%.*s.%s.XXXXXX", (int)dir_len, path, path + dir_len);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return NULL;
    }
    struct stat st;
    mode_t mode;
    if (stat(path, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    FILE *f = fchmod(fd, mode) == 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int err = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        errno = err;
        return NULL;
    }
    *tmp_out = tmp;
    return f;
}

int cli_out_open(cli_out *o, const char *path) {
    o->f = stdout;
    o->path = NULL;
    o->tmp = o->target = NULL;
    if (!path || !strcmp(path, "-")) return 0;
    struct stat st;
    int special = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
    if (special && S_ISDIR(st.st_mode)) {
        o->f = NULL;
        cli_error("cannot write '%s': it is a directory", path);
        return -1;
    }
    /* Through a symbolic link: the temporary file goes beside the file it points to. */
    o->target = special ? NULL : realpath(path, NULL);
    o->f = special ? fopen(path, "wb") : open_temp(o->target ? o->target : path, &o->tmp);
    if (!o->f) {
        cli_error("cannot open '%s' for writing: %s", path, strerror(errno));
        free(o->target);
        o->target = NULL;
        return -1;
    }
    o->path = path;
    return 0;
}

int cli_out_close(cli_out *o, int ok) {
    if (!o->f) return ok ? 0 : -1;
    int failed = fflush(o->f) != 0 || ferror(o->f);
    int err = errno;
    if (o->path && fclose(o->f) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    if (!failed && ok && o->tmp && rename(o->tmp, o->target ? o->target : o->path) != 0) {
        failed = 1;
        err = errno;
    }
    if (failed && ok)
        cli_error("cannot write %s%s%s: %s", o->path ? "'" : "", o->path ? o->path : "the output",
                  o->path ? "'" : "", strerror(err));
    if ((failed || !ok) && o->tmp) unlink(o->tmp);
    free(o->tmp);
    free(o->target);
    o->tmp = o->target = NULL;
    o->f = NULL;
    return failed || !ok ? -1 : 0;
}

int cli_same_file(const char *in_path, const char *path) {
    struct stat a, b;
    if (!path || !strcmp(path, "-") || stat(path, &b) != 0) return 0;
    int got = !in_path || !strcmp(in_path, "-") ? fstat(fileno(stdin), &a) : stat(in_path, &a);
    return got == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* ------------------------------------------------------------------------ JSON */

/* Length of the valid UTF-8 character starting at s[0] (n bytes left), or 0. */
static size_t utf8_char_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return len;
}

/* Invalid UTF-8 bytes are written as \ufffd, so the output is always valid JSON. */
void cli_json_string_n(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c >= 0x80) {
            size_t len = utf8_char_len((const unsigned char *)s + k, n - k);
            if (len) fwrite(s + k, 1, len, f), k += len - 1;
            else fputs("\\ufffd", f);
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
    }
    fputc('"', f);
}

void cli_json_string(FILE *f, const char *s) {
    if (!s) fputs("null", f);
    else cli_json_string_n(f, s, strlen(s));
}

void cli_json_floats(FILE *f, const float *v, size_t n) {
    fputc('[', f);
    for (size_t k = 0; k < n; k++) {
        if (k) fputs(", ", f);
        if (isfinite(v[k])) fprintf(f, "%.9g", (double)v[k]);
        else fputs("null", f); /* JSON has no NaN / Infinity */
    }
    fputc(']', f);
}

void cli_json_ints(FILE *f, const int32_t *v, size_t n) {
    fputc('[', f);
    for (size_t k = 0; k < n; k++) fprintf(f, k ? ", %ld" : "%ld", (long)v[k]);
    fputc(']', f);
}

void cli_delim_rows(FILE *f, char sep, const float *v, size_t rows, size_t dim) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t k = 0; k < dim; k++) {
            if (k) fputc(sep, f);
            const float x = v[r * dim + k];
            if (isfinite(x)) fprintf(f, "%.9g", (double)x);
            else fputs(x != x ? "nan" : x > 0 ? "inf" : "-inf", f);
        }
        fputc('\n', f);
    }
}

void cli_jsonl_rows(FILE *f, size_t first_index, const float *v, size_t rows, size_t dim) {
    for (size_t r = 0; r < rows; r++) {
        fprintf(f, "{\"index\": %zu, \"embedding\": ", first_index + r);
        cli_json_floats(f, v + r * dim, dim);
        fputs("}\n", f);
    }
}

/* ------------------------------------------------------------------------- npy */

#define NPY_HEADER_TOTAL 128 /* magic + version + length + dict, a multiple of 64 */

static int write_npy_header(FILE *f, size_t rows, size_t dim) {
    char dict[NPY_HEADER_TOTAL];
    size_t room = NPY_HEADER_TOTAL - 10;
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, dim);
    if (n < 0 || (size_t)n >= room) return -1;
    memset(dict + n, ' ', room - (size_t)n);
    dict[room - 1] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(room & 0xff), (unsigned char)(room >> 8)};
    return fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, room, f) == room ? 0 : -1;
}

static int is_big_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

static int write_le_floats(FILE *f, const float *v, size_t n) {
    if (!is_big_endian()) return fwrite(v, sizeof *v, n, f) == n ? 0 : -1;
    for (size_t k = 0; k < n; k++) {
        unsigned char b[4], s[4];
        memcpy(b, &v[k], 4);
        s[0] = b[3], s[1] = b[2], s[2] = b[1], s[3] = b[0];
        if (fwrite(s, 1, 4, f) != 4) return -1;
    }
    return 0;
}

int cli_npy_begin(cli_npy *w, FILE *f, size_t dim) {
    memset(w, 0, sizeof *w);
    w->f = f;
    w->dim = dim;
    struct stat st;
    if (fflush(f) == 0 && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (w->start = ftello(f)) >= 0) {
        /* Seekable: write a placeholder header now and the real shape at the end. */
        if (write_npy_header(f, 0, dim)) {
            cli_error("cannot write the .npy header: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    w->spool = tmpfile();
    if (!w->spool) {
        cli_error("cannot create a temporary file to spool the .npy output: %s",
                  strerror(errno));
        return -1;
    }
    return 0;
}

int cli_npy_rows(cli_npy *w, const float *v, size_t rows) {
    if (write_le_floats(w->spool ? w->spool : w->f, v, rows * w->dim)) {
        cli_error("cannot write the .npy data: %s", strerror(errno));
        return -1;
    }
    w->rows += rows;
    return 0;
}

int cli_npy_finish(cli_npy *w) {
    int rc = 0;
    if (!w->spool) {
        if (fflush(w->f) || fseeko(w->f, (off_t)w->start, SEEK_SET) ||
            write_npy_header(w->f, w->rows, w->dim) || fseeko(w->f, 0, SEEK_END))
            rc = -1;
    } else {
        rc = write_npy_header(w->f, w->rows, w->dim);
        char buf[1 << 16];
        size_t got;
        rewind(w->spool);
        while (!rc && (got = fread(buf, 1, sizeof buf, w->spool)) > 0)
            if (fwrite(buf, 1, got, w->f) != got) rc = -1;
        if (ferror(w->spool)) rc = -1;
        fclose(w->spool);
        w->spool = NULL;
    }
    if (rc) cli_error("cannot write the .npy output: %s", strerror(errno));
    return rc;
}

/* ---------------------------------------------------------------- human units */

/* n scaled by powers of `base` with unit[u] appended; small values print exactly. */
static const char *human(uint64_t n, double base, const char *const unit[5], char *buf, size_t size) {
    double v = (double)n;
    int u = 0;
    while (v >= base && u < 4) v /= base, u++;
    if (u == 0) snprintf(buf, size, "%llu%s", (unsigned long long)n, unit[0]);
    else snprintf(buf, size, "%.1f%s", v, unit[u]);
    return buf;
}

const char *cli_human_count(uint64_t n, char *buf, size_t size) {
    static const char *const unit[] = {"", " K", " M", " B", " T"};
    return human(n, 1000.0, unit, buf, size);
}

const char *cli_human_bytes(uint64_t n, char *buf, size_t size) {
    static const char *const unit[] = {" B", " KiB", " MiB", " GiB", " TiB"};
    return human(n, 1024.0, unit, buf, size);
}
