/* cmd_index.c — `xfmr index`: index files and folders (text, Markdown, HTML) into a search
 * store (a SQLite file or PostgreSQL with pgvector) through the library's xf_index_* API: walks
 * folders, reads each file, skips unchanged ones, removes documents whose files are gone, and
 * draws a progress bar. Unreadable files are warnings; a store error stops the run (what was
 * committed stays, and a rerun continues from there). */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

#define MAX_FILE_BYTES ((size_t)64 << 20)
#define MAX_DEPTH 64

enum { OPT_DB = 1, OPT_CHUNKER, OPT_CHUNK_TOKENS, OPT_OVERLAP, OPT_BATCH, OPT_ALL_FILES };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS, CLI_OPTS_MAX_LENGTH,
    {OPT_DB, 0, "db", 1},
    {OPT_CHUNKER, 0, "chunker", 1},
    {OPT_CHUNK_TOKENS, 0, "chunk-tokens", 1},
    {OPT_OVERLAP, 0, "overlap", 1},
    {OPT_BATCH, 0, "batch-size", 1},
    {OPT_ALL_FILES, 0, "all-files", 0},
};

void cmd_index_help(FILE *f) {
    fputs("usage: xfmr index [-m MODEL] --db STORE [OPTIONS] FILE|FOLDER...\n"
          "\n"
          "Index documents for `xfmr search`: each file is cut into chunks, each chunk embedded\n"
          "with the model and stored with its vector, heading path and source lines.\n"
          "  HTML (.html .htm .xhtml)  parsed with libxml2; chunks follow the page structure:\n"
          "                            sections under their headings, paragraphs, lists, tables,\n"
          "                            code blocks, definition lists; navigation, headers,\n"
          "                            footers, sidebars, scripts, styles and hidden elements\n"
          "                            are dropped\n"
          "  Markdown (.md .markdown)  by headings, code fences, list items, table rows\n"
          "  anything else             plain text, by paragraphs (blank lines)\n"
          "Each chunk's heading path (\"Page > Section > Term\") is prepended to its text when\n"
          "embedding, and chunks stay within the model's token limit. Folders are walked\n"
          "recursively for .txt .text .md .markdown .html .htm .xhtml .rst files (hidden\n"
          "files and folders skipped); files named on the command line are always indexed.\n"
          "Binary files (NUL bytes in the first 8 KiB) are skipped.\n"
          "\n"
          "Incremental: a file whose content (SHA-256) and chunking settings are unchanged is\n"
          "not embedded again; a changed one has its chunks replaced; documents under a\n"
          "given FOLDER whose files no longer exist are removed. Work is committed every few\n"
          "documents: an interrupted run keeps what was committed, and running the same\n"
          "command again finishes the rest without duplicates.\n"
          "\n"
          "Options:\n"
          "      --db STORE        where the index lives (required): a SQLite file, created if\n"
          "                        missing, or postgresql://USER@HOST/DB (PostgreSQL with the\n"
          "                        pgvector extension; an HNSW index is created)\n",
          f);
    cli_help_model_options(f);
    fputs("                        (default model: the one the index was built with, else\n"
          "                        " CLI_DEFAULT_ENCODER ")\n"
          "      --chunker KIND    dom (default): by document structure; fixed: windows of\n"
          "                        --chunk-tokens tokens over the text, ignoring structure\n"
          "      --chunk-tokens N  tokens per chunk, heading path and special tokens included\n"
          "                        (default: the model's limit, e.g. 256 for all-MiniLM-L6-v2)\n"
          "      --overlap N       fixed chunker: tokens shared by consecutive windows (0)\n"
          "      --batch-size N    chunks embedded together, 1..4096 (default 32)\n"
          "      --all-files       in folders, index every file, not only the extensions above\n"
          "  -h, --help            show this help\n"
          "\n"
          "A progress bar is shown on stderr when it is a terminal; a summary line at the end.\n"
          "\n"
          "Examples:\n"
          "  xfmr index --db docs.db /usr/share/doc/python3.11/html/library\n"
          "  xfmr index --db docs.db README.md notes/\n"
          "  xfmr index --db postgresql://me@localhost/search --chunker fixed --overlap 32 docs/\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

typedef struct file_list {
    char **paths;
    size_t n, cap;
    char **roots; /* folders given, for removing vanished documents */
    size_t n_roots, cap_roots;
} file_list;

static int push(char ***v, size_t *n, size_t *cap, const char *s) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        char **p = realloc(*v, c * sizeof *p);
        if (!p) return -1;
        *v = p;
        *cap = c;
    }
    if (!((*v)[*n] = strdup(s))) return -1;
    (*n)++;
    return 0;
}

static int wanted(const char *name, int all) {
    static const char *const EXT[] = {"txt", "text", "md", "markdown", "html", "htm", "xhtml", "rst", NULL};
    if (all) return 1;
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (const char *const *e = EXT; *e; e++)
        if (!strcasecmp(dot + 1, *e)) return 1;
    return 0;
}

/* Regular files under dir (recursively; hidden entries and symbolic links skipped). */
static int walk(file_list *fl, const char *dir, int all, int depth) {
    if (depth > MAX_DEPTH) return 0;
    DIR *d = opendir(dir);
    if (!d) {
        cli_note("warning: cannot read folder '%s': %s", dir, strerror(errno));
        return 0;
    }
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) {
            rc = -1;
            break;
        }
        snprintf(p, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode)) rc = walk(fl, p, all, depth + 1);
            else if (S_ISREG(st.st_mode) && wanted(e->d_name, all)) rc = push(&fl->paths, &fl->n, &fl->cap, p);
        }
        free(p);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void file_list_free(file_list *fl) {
    for (size_t i = 0; i < fl->n; i++) free(fl->paths[i]);
    for (size_t i = 0; i < fl->n_roots; i++) free(fl->roots[i]);
    free(fl->paths);
    free(fl->roots);
}

/* Whole file into memory, refusing files over MAX_FILE_BYTES. 0, or -1 after a warning. */
static int read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_note("warning: cannot open '%s': %s (skipped)", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_FILE_BYTES) {
        cli_note("warning: '%s' is not a regular file of at most %zu MiB (skipped)", path, MAX_FILE_BYTES >> 20);
        fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    char *p = malloc(n + 1);
    size_t got = p ? fread(p, 1, n, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (!p || got != n || err) {
        cli_note("warning: cannot read '%s' (skipped)", path);
        free(p);
        return -1;
    }
    p[n] = '\0';
    *data = p;
    *len = n;
    return 0;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_index_model(const char *db, char **model) {
    char *name = NULL, *path = NULL;
    size_t dim;
    *model = NULL;
    if (xf_index_model(db, &name, &path, &dim) != XF_OK) return -1;
    struct stat st;
    if (path && stat(path, &st) == 0) {
        *model = path;
        free(name);
    } else {
        *model = name;
        free(path);
    }
    return 0;
}

/* The model to index with: -m, else the one recorded in an existing index, else the default. */
static int open_index(cli_model_opts *mo, const char *db, const xf_index_params *ip, xf_model **model,
                      xf_index **ix) {
    char *recorded = NULL;
    if (!mo->model && cli_index_model(db, &recorded) == 0) mo->model = recorded;
    int rc = cli_load_model(mo, 1, model);
    if (rc == CLI_EXIT_OK && xf_index_open(db, *model, ip, ix) != XF_OK) rc = cli_lib_error();
    if (recorded) mo->model = NULL;
    free(recorded);
    return rc;
}

int cmd_index(int argc, char **argv) {
    cli_parser p;
    cli_parser_init(&p, "index", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    xf_index_params ip = xf_index_default_params();
    const char *db = NULL, *arg;
    int id, all = 0;
    long v;
    file_list fl = {0};
    char **args = NULL;
    size_t n_args = 0, cap_args = 0;
    int rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (id = cli_next(&p, &arg)) != CLI_DONE) {
        int shared = cli_model_option(&p, id, arg, &mo);
        if (shared < 0 || id == CLI_BAD) rc = CLI_EXIT_USAGE;
        if (shared || rc) continue;
        switch (id) {
        case CLI_HELP: cmd_index_help(stdout); free(args); return CLI_EXIT_OK;
        case CLI_ARG:
            if (push(&args, &n_args, &cap_args, arg)) rc = cli_error("out of memory");
            break;
        case OPT_DB: db = arg; break;
        case OPT_CHUNKER:
            if (!strcmp(arg, "dom")) ip.chunker = XF_CHUNKER_DOM;
            else if (!strcmp(arg, "fixed")) ip.chunker = XF_CHUNKER_FIXED;
            else rc = cli_usage_error("index", "--chunker must be dom or fixed, not '%s'", arg);
            break;
        case OPT_CHUNK_TOKENS:
            if (cli_parse_int("index", "--chunk-tokens", arg, 8, 1000000, &v)) rc = CLI_EXIT_USAGE;
            ip.chunk_tokens = (size_t)v;
            break;
        case OPT_OVERLAP:
            if (cli_parse_int("index", "--overlap", arg, 0, 1000000, &v)) rc = CLI_EXIT_USAGE;
            ip.overlap_tokens = (size_t)v;
            break;
        case OPT_BATCH:
            if (cli_parse_int("index", "--batch-size", arg, 1, 4096, &v)) rc = CLI_EXIT_USAGE;
            ip.batch_size = (size_t)v;
            break;
        case OPT_ALL_FILES: all = 1; break;
        }
    }
    if (!rc && !db) rc = cli_usage_error("index", "--db STORE is required (a SQLite file or a postgresql:// URI)");
    if (!rc && !n_args) rc = cli_usage_error("index", "no files or folders to index");
    if (!rc && ip.overlap_tokens && ip.chunker != XF_CHUNKER_FIXED)
        rc = cli_usage_error("index", "--overlap applies to --chunker fixed only");
    /* Collect the files first: the progress bar needs the total. */
    for (size_t i = 0; i < n_args && !rc; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0) {
            rc = cli_error("'%s' does not exist", args[i]);
        } else if (S_ISDIR(st.st_mode)) {
            char *abs = realpath(args[i], NULL);
            if (!abs || push(&fl.roots, &fl.n_roots, &fl.cap_roots, abs) || walk(&fl, args[i], all, 0))
                rc = cli_error("out of memory");
            free(abs);
        } else if (push(&fl.paths, &fl.n, &fl.cap, args[i])) {
            rc = cli_error("out of memory");
        }
    }
    for (size_t i = 0; i < n_args; i++) free(args[i]);
    free(args);
    if (rc) {
        file_list_free(&fl);
        return rc;
    }
    qsort(fl.paths, fl.n, sizeof *fl.paths, cmp_str);

    xf_model *model = NULL;
    xf_index *ix = NULL;
    rc = open_index(&mo, db, &ip, &model, &ix);
    size_t counts[4] = {0, 0, 0, 0}, chunks = 0, failed = 0, removed = 0;
    double t0 = seconds();
    cli_progress bar;
    cli_progress_start(&bar, "files", fl.n, 1);
    for (size_t i = 0; i < fl.n && !rc; i++) {
        char *data;
        size_t len;
        char *abs = realpath(fl.paths[i], NULL);
        if (!abs || read_file(abs, &data, &len)) {
            if (!abs) cli_note("warning: cannot resolve '%s' (skipped)", fl.paths[i]);
            free(abs);
            failed++;
            continue;
        }
        xf_index_result r;
        if (xf_index_add_text(ix, abs, data, len, &r) != XF_OK) {
            rc = cli_lib_error();
        } else {
            counts[r.change]++;
            chunks += r.n_chunks;
            if (r.change == XF_INDEX_SKIPPED) cli_note("note: '%s' looks binary (skipped)", fl.paths[i]);
        }
        free(data);
        free(abs);
        cli_progress_update(&bar, i + 1);
    }
    if (!rc) cli_progress_finish(&bar, fl.n);
    for (size_t i = 0; i < fl.n_roots && !rc; i++) {
        size_t n = strlen(fl.roots[i]);
        char *prefix = malloc(n + 2);
        if (!prefix) {
            rc = cli_error("out of memory");
            break;
        }
        snprintf(prefix, n + 2, "%s%s", fl.roots[i], n && fl.roots[i][n - 1] == '/' ? "" : "/");
        size_t k = 0;
        if (xf_index_remove_missing(ix, prefix, &k) != XF_OK) rc = cli_lib_error();
        removed += k;
        free(prefix);
    }
    if (ix && xf_index_commit(ix) != XF_OK && !rc) rc = cli_lib_error();
    if (!rc) {
        double dt = seconds() - t0;
        size_t nd = 0, nc = 0;
        if (xf_index_stats(ix, &nd, &nc) != XF_OK) rc = cli_lib_error();
        else
            cli_note("%zu files: %zu added, %zu updated, %zu unchanged, %zu skipped, %zu unreadable, %zu removed; "
                     "%zu chunks embedded in %.1f s (%.1f chunks/s); the index holds %zu documents, %zu chunks",
                     fl.n, counts[XF_INDEX_ADDED], counts[XF_INDEX_UPDATED], counts[XF_INDEX_UNCHANGED],
                     counts[XF_INDEX_SKIPPED], failed, removed, chunks, dt, dt > 0 ? (double)chunks / dt : 0.0,
                     nd, nc);
    }
    xf_index_free(ix);
    xf_model_free(model);
    file_list_free(&fl);
    return rc;
}
