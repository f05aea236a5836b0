/* eval_data.c — reading the inputs of `xfmr eval`: {"query", "doc"} pairs from JSON lines, and
 * text sets (a file, or a folder of *.txt files read in name order). Every malformed input is an
 * error that names the file, the line and the field. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval.h"

void eval_pairs_free(eval_pairs *p) {
    for (size_t i = 0; i < p->n; i++) {
        free(p->query[i]);
        free(p->doc[i]);
    }
    free(p->query);
    free(p->doc);
    memset(p, 0, sizeof *p);
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* A string field of a pair, copied; prints the error and returns NULL when missing. */
static char *field(const cJSON *row, const char *name, const char *path, size_t lineno) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, name);
    if (!cJSON_IsString(v) || !v->valuestring) {
        cli_error("%s:%zu: field \"%s\" is %s", path, lineno, name,
                  v ? "not a string" : "missing");
        return NULL;
    }
    char *s = strdup(v->valuestring);
    if (!s) cli_error("out of memory");
    return s;
}

int eval_pairs_read(const char *path, size_t limit, eval_pairs *out) {
    memset(out, 0, sizeof *out);
    cli_lines r;
    if (cli_lines_open(&r, path)) return CLI_EXIT_FAIL;
    size_t cap = 0;
    const char *line;
    size_t len;
    int got, rc = CLI_EXIT_OK;
    while (!rc && (!limit || out->n < limit) && (got = cli_lines_next(&r, &line, &len)) != 0) {
        if (got < 0) {
            rc = CLI_EXIT_FAIL;
            break;
        }
        if (blank(line, len)) continue;
        if (memchr(line, '\0', len)) {
            rc = cli_error("%s:%zu: a NUL byte in the line", path, r.lineno);
            break;
        }
        const char *end = NULL;
        cJSON *row = cJSON_ParseWithLengthOpts(line, len, &end, 0);
        if (row && end && end < line + len && !blank(end, (size_t)(line + len - end))) {
            rc = cli_error("%s:%zu: text after the JSON object (column %zu)", path, r.lineno,
                           (size_t)(end - line + 1));
            cJSON_Delete(row);
            break;
        }
        if (!row || !cJSON_IsObject(row)) {
            size_t col = row ? 1 : (size_t)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - line + 1 : 1);
            rc = cli_error("%s:%zu: not a JSON object%s (near column %zu)", path, r.lineno,
                           row ? "" : ": malformed JSON", col);
            cJSON_Delete(row);
            break;
        }
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            char **q = realloc(out->query, ncap * sizeof *q);
            if (q) out->query = q;
            char **d = q ? realloc(out->doc, ncap * sizeof *d) : NULL;
            if (!d) {
                cJSON_Delete(row);
                rc = cli_error("out of memory");
                break;
            }
            out->doc = d;
            cap = ncap;
        }
        char *qs = field(row, "query", path, r.lineno), *ds = qs ? field(row, "doc", path, r.lineno) : NULL;
        cJSON_Delete(row);
        if (!ds) {
            free(qs);
            rc = CLI_EXIT_FAIL;
            break;
        }
        out->query[out->n] = qs;
        out->doc[out->n++] = ds;
    }
    cli_lines_close(&r);
    if (!rc && out->n == 0) rc = cli_error("%s: no {\"query\", \"doc\"} pairs in the file", path);
    if (rc) eval_pairs_free(out);
    return rc;
}

/* ----------------------------------------------------------------------------- text sets */

void eval_textset_free(eval_textset *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->files[i]);
        free(t->texts[i]);
    }
    free(t->files);
    free(t->texts);
    free(t->lens);
    free(t->name);
    memset(t, 0, sizeof *t);
}

static int txt_name(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 && !strcmp(d->d_name + n - 4, ".txt");
}

int eval_textset_read(const char *path, eval_textset *out) {
    memset(out, 0, sizeof *out);
    out->name = strdup(path);
    struct stat st;
    if (!out->name) return cli_error("out of memory");
    if (stat(path, &st) != 0) {
        eval_textset_free(out);
        return cli_error("text '%s' does not exist", path);
    }
    struct dirent **ents = NULL;
    int n_ents = 1;
    if (S_ISDIR(st.st_mode)) {
        n_ents = scandir(path, &ents, txt_name, alphasort);
        if (n_ents < 0) {
            eval_textset_free(out);
            return cli_error("cannot list the folder '%s'", path);
        }
        if (n_ents == 0) {
            free(ents);
            eval_textset_free(out);
            return cli_error("the folder '%s' has no *.txt files", path);
        }
    }
    size_t n = (size_t)n_ents;
    out->files = calloc(n, sizeof *out->files);
    out->texts = calloc(n, sizeof *out->texts);
    out->lens = calloc(n, sizeof *out->lens);
    int rc = out->files && out->texts && out->lens ? CLI_EXIT_OK : cli_error("out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        if (ents) {
            size_t l = strlen(path) + strlen(ents[i]->d_name) + 2;
            out->files[i] = malloc(l);
            if (out->files[i]) snprintf(out->files[i], l, "%s/%s", path, ents[i]->d_name);
        } else {
            out->files[i] = strdup(path);
        }
        out->n = i + 1;
        if (!out->files[i]) rc = cli_error("out of memory");
        else rc = cli_read_file(out->files[i], &out->texts[i], &out->lens[i]);
    }
    for (int i = 0; ents && i < n_ents; i++) free(ents[i]);
    free(ents);
    if (rc) eval_textset_free(out);
    return rc;
}
