/* lines.c — reading input texts for xfmr, one per line, from a file or stdin: streams with a
 * bounded line length (CLI_MAX_LINE_BYTES), strips "\n" / "\r\n", keeps NUL bytes (texts
 * travel with their lengths) — or NUL-separated texts, which keep their newlines — counts the lines of a regular file for the progress bar, and can
 * slurp a whole (small) file for commands that need every text at once. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define READ_CHUNK ((size_t)1 << 16)

int cli_lines_open(cli_lines *r, const char *path) {
    memset(r, 0, sizeof *r);
    if (!path || !strcmp(path, "-")) {
        r->f = stdin;
        r->name = "<stdin>";
        if (isatty(fileno(stdin)))
            cli_note("reading texts from the terminal, one per line; end with Ctrl-D");
    } else {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            cli_error("cannot read '%s': it is a directory", path);
            return -1;
        }
        r->f = fopen(path, "rb");
        if (!r->f) {
            cli_error("cannot open '%s': %s", path, strerror(errno));
            return -1;
        }
        r->owned = 1;
        r->name = path;
    }
    r->rbuf = malloc(READ_CHUNK);
    r->cap = 256;
    r->line = malloc(r->cap);
    if (!r->rbuf || !r->line) {
        cli_lines_close(r);
        cli_error("out of memory");
        return -1;
    }
    return 0;
}

int cli_lines_open_interactive(cli_lines *r) {
    memset(r, 0, sizeof *r);
    r->f = stdin;
    r->name = "<stdin>";
    r->interactive = 1;
    r->rbuf = malloc(READ_CHUNK);
    r->cap = 256;
    r->line = malloc(r->cap);
    if (!r->rbuf || !r->line) {
        cli_lines_close(r);
        cli_error("out of memory");
        return -1;
    }
    return 0;
}

void cli_lines_close(cli_lines *r) {
    if (r->owned && r->f) fclose(r->f);
    free(r->rbuf);
    free(r->line);
    memset(r, 0, sizeof *r);
}

/* Append n bytes to the current line (of length len); -1 when it would exceed the limit. */
static int append(cli_lines *r, size_t *len, const char *src, size_t n) {
    if (*len + n > CLI_MAX_LINE_BYTES) {
        cli_error("line %zu of %s is longer than %zu MiB", r->lineno + 1, r->name,
                  CLI_MAX_LINE_BYTES >> 20);
        return -1;
    }
    if (*len + n + 1 > r->cap) {
        size_t cap = r->cap;
        while (cap < *len + n + 1) cap *= 2;
        char *p = realloc(r->line, cap);
        if (!p) {
            cli_error("out of memory reading line %zu of %s", r->lineno + 1, r->name);
            return -1;
        }
        r->line = p;
        r->cap = cap;
    }
    memcpy(r->line + *len, src, n);
    *len += n;
    return 0;
}

int cli_lines_next(cli_lines *r, const char **line, size_t *len_out) {
    size_t len = 0;
    int got_any = 0, complete = 0;
    while (!complete) {
        if (r->rpos == r->rlen) {
            if (r->eof) break;
            if (r->interactive) { /* return each line as soon as it is typed */
                int c;
                r->rlen = 0;
                errno = 0;
                while (r->rlen < READ_CHUNK && (c = getc(r->f)) != EOF) {
                    r->rbuf[r->rlen++] = (char)c;
                    if (c == '\n') break;
                }
                if (r->rlen == 0 && ferror(r->f) && errno == EINTR) { /* Ctrl-C at the prompt */
                    clearerr(r->f);
                    return CLI_LINES_INTERRUPTED;
                }
            } else {
                r->rlen = fread(r->rbuf, 1, READ_CHUNK, r->f);
            }
            r->rpos = 0;
            if (r->rlen == 0) {
                if (ferror(r->f)) {
                    cli_error("cannot read '%s': %s", r->name, strerror(errno));
                    return -1;
                }
                r->eof = 1;
                break;
            }
        }
        const char *start = r->rbuf + r->rpos;
        size_t avail = r->rlen - r->rpos;
        const char *nl = memchr(start, r->null_sep ? '\0' : '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if (append(r, &len, start, take)) return -1;
        r->rpos += take + (nl ? 1 : 0);
        got_any = 1;
        complete = nl != NULL;
    }
    if (!got_any) return 0;
    r->lineno++;
    if (len > 0 && r->line[len - 1] == '\r' && !r->null_sep) len--;
    r->line[len] = '\0';
    *line = r->line;
    *len_out = len;
    return 1;
}

long long cli_lines_count(cli_lines *r) {
    struct stat st;
    if (fstat(fileno(r->f), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    off_t start = ftello(r->f);
    if (start < 0) return -1;
    long long n = 0;
    char last = '\n';
    size_t got;
    while ((got = fread(r->rbuf, 1, READ_CHUNK, r->f)) > 0) {
        for (const char *p = r->rbuf, *end = r->rbuf + got;
             (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
            n++;
        last = r->rbuf[got - 1];
    }
    if (last != '\n') n++;
    clearerr(r->f);
    if (fseeko(r->f, start, SEEK_SET) != 0) return -1;
    return n;
}

int cli_read_all_lines(const char *path, cli_texts *out) {
    memset(out, 0, sizeof *out);
    cli_lines r;
    if (cli_lines_open(&r, path)) return -1;
    size_t cap = 0;
    const char *line;
    size_t len;
    int rc;
    while ((rc = cli_lines_next(&r, &line, &len)) == 1) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **p = realloc(out->texts, ncap * sizeof *p);
            if (p) out->texts = p;
            size_t *l = p ? realloc(out->lens, ncap * sizeof *l) : NULL;
            if (!l) {
                rc = -1;
                cli_error("out of memory");
                break;
            }
            out->lens = l;
            cap = ncap;
        }
        char *copy = malloc(len + 1);
        if (!copy) {
            rc = -1;
            cli_error("out of memory");
            break;
        }
        memcpy(copy, line, len + 1);
        out->lens[out->n] = len;
        out->texts[out->n++] = copy;
    }
    cli_lines_close(&r);
    if (rc < 0) {
        cli_texts_free(out);
        return -1;
    }
    return 0;
}

void cli_texts_free(cli_texts *t) {
    for (size_t k = 0; k < t->n; k++) free(t->texts[k]);
    free(t->texts);
    free(t->lens);
    memset(t, 0, sizeof *t);
}

int cli_read_file(const char *path, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    int is_stdin = !strcmp(path, "-");
    struct stat st;
    if (!is_stdin && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_error("cannot read '%s': it is a directory", path);
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return cli_error("cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *p = cap < ((size_t)1 << 31) ? realloc(buf, cap * 2 + 1) : NULL;
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    int err = ferror(f);
    if (!is_stdin) fclose(f);
    if (!buf) return cli_error("'%s' is too large to read into memory", path);
    if (err) {
        free(buf);
        return cli_error("cannot read '%s'", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CLI_EXIT_OK;
}
