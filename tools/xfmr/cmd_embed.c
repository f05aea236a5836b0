/* cmd_embed.c — `xfmr embed`: embeds texts, one per input line, and writes one vector per line
 * as JSON lines, a JSON array, CSV/TSV rows or a NumPy .npy matrix (chosen by --format or by the
 * extension of -o FILE). Streams: reads, embeds and writes chunk by chunk so
 * inputs of any size run in bounded memory, with a progress bar on a terminal. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

#define CHUNK_TEXTS 256              /* texts per xf_embed_n call (rounded up to the batch size) */
#define CHUNK_BYTES ((size_t)64 << 20) /* ... or fewer when they hold this many bytes */
#define PROGRESS_MIN 64

enum { OPT_OUTPUT = 1, OPT_FORMAT, OPT_BATCH };
enum { FORMAT_JSONL, FORMAT_JSON, FORMAT_NPY, FORMAT_CSV, FORMAT_TSV, FORMAT_GUESS };
static const char *const FORMAT_NAMES[] = {"jsonl", "json", "npy", "csv", "tsv"};
#define N_FORMATS 5

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL,
    CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS, CLI_OPTS_SPARSITY,
    CLI_OPTS_MAX_LENGTH, CLI_OPTS_ADAPTIVE, CLI_OPTS_PROBSPARSE,
    {OPT_OUTPUT, 'o', "output", 1},
    {OPT_FORMAT, 0, "format", 1},
    {OPT_BATCH, 0, "batch-size", 1},
};

void cmd_embed_help(FILE *f) {
    fputs("usage: xfmr embed [-m MODEL] [OPTIONS] [FILE]\n"
          "\n"
          "Embed texts, one per line of FILE (or stdin when FILE is missing or '-'), and write\n"
          "one vector per input line, in input order. Every line is one text: empty lines are\n"
          "embedded as the empty string, a trailing \"\\r\" is dropped, invalid UTF-8 is read with\n"
          "U+FFFD replacement, and NUL bytes are kept: the tokenizer's normalizer removes them\n"
          "like other control characters. Lines longer than the model's input limit are\n"
          "truncated (one notice at the end says how many); lines over 16 MiB are an error.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_options(f);
    fputs(CLI_HELP_SPARSITY, f);
    fputs("  -o, --output FILE     write to FILE instead of stdout (not the input file itself);\n"
          "                        FILE appears only when complete (written under a temporary\n"
          "                        name, then renamed)\n"
          "      --format FORMAT   jsonl: one {\"index\": i, \"embedding\": [...]} per line, floats\n"
          "                        printed with 9 significant digits (exact round trip);\n"
          "                        json: one JSON array of those objects;\n"
          "                        npy: a NumPy .npy file, float32 '<f4', shape (lines, dim);\n"
          "                        csv / tsv: one line of dim numbers per text, no header.\n"
          "                        Default: from the extension of -o FILE (.jsonl .json .npy\n"
          "                        .csv .tsv), else jsonl. npy needs -o FILE or a redirected\n"
          "                        stdout\n"
          "      --batch-size N    texts run through the model together, 1..4096 (default 32)\n"
          "  -h, --help            show this help\n"
          "\n" CLI_HELP_ADAPTIVE CLI_HELP_PROBSPARSE
          "\n"
          "A progress bar is shown on stderr when it is a terminal and there are more than 64\n"
          "texts.\n"
          "\n"
          "Examples:\n"
          "  xfmr embed -m all-MiniLM-L6-v2 texts.txt > vectors.jsonl\n"
          "  printf 'first text\\nsecond text\\n' | xfmr embed\n"
          "  xfmr embed -o vectors.npy --threads 4 texts.txt\n"
          "  python3 -c 'import numpy; print(numpy.load(\"vectors.npy\").shape)'\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

typedef struct chunk {
    size_t cap;       /* texts */
    char *arena;      /* the texts, NUL-terminated, back to back (lens: they may hold NULs) */
    size_t arena_len, arena_cap;
    size_t *offs, *lens;
    const char **ptrs;
    float *vecs;
} chunk;

static int chunk_init(chunk *c, size_t cap, size_t dim) {
    memset(c, 0, sizeof *c);
    c->cap = cap;
    c->arena_cap = 1 << 16;
    c->arena = malloc(c->arena_cap);
    c->offs = malloc(cap * sizeof *c->offs);
    c->lens = malloc(cap * sizeof *c->lens);
    c->ptrs = malloc(cap * sizeof *c->ptrs);
    c->vecs = malloc(cap * (dim ? dim : 1) * sizeof *c->vecs);
    return c->arena && c->offs && c->lens && c->ptrs && c->vecs ? 0 : -1;
}

static void chunk_free(chunk *c) {
    free(c->arena);
    free(c->offs);
    free(c->lens);
    free(c->ptrs);
    free(c->vecs);
}

static int chunk_add(chunk *c, size_t n, const char *text, size_t len) {
    if (c->arena_len + len + 1 > c->arena_cap) {
        size_t cap = c->arena_cap;
        while (cap < c->arena_len + len + 1) cap *= 2;
        char *p = realloc(c->arena, cap);
        if (!p) return -1;
        c->arena = p;
        c->arena_cap = cap;
    }
    c->offs[n] = c->arena_len;
    c->lens[n] = len;
    memcpy(c->arena + c->arena_len, text, len);
    c->arena[c->arena_len + len] = '\0';
    c->arena_len += len + 1;
    return 0;
}

/* Fill c with up to c->cap lines. Returns the count, or -1 on error; *eof set at the end. */
static long chunk_fill(chunk *c, cli_lines *in, int *eof) {
    size_t n = 0;
    c->arena_len = 0;
    while (n < c->cap && c->arena_len < CHUNK_BYTES) {
        const char *line;
        size_t len;
        int rc = cli_lines_next(in, &line, &len);
        if (rc < 0) return -1;
        if (rc == 0) {
            *eof = 1;
            break;
        }
        if (chunk_add(c, n, line, len)) {
            cli_error("out of memory reading line %zu", in->lineno);
            return -1;
        }
        n++;
    }
    for (size_t k = 0; k < n; k++) c->ptrs[k] = c->arena + c->offs[k];
    return (long)n;
}

typedef struct embed_opts {
    cli_model_opts mo;
    const char *input, *output;
    int format;
    long batch;
} embed_opts;

/* The format an output file name asks for by its extension (jsonl when unknown). */
static int format_of(const char *path) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash)) return FORMAT_JSONL;
    for (int k = 0; k < N_FORMATS; k++)
        if (!strcasecmp(dot + 1, FORMAT_NAMES[k])) return k;
    return FORMAT_JSONL;
}

static int parse(int argc, char **argv, embed_opts *o) {
    cli_parser p;
    cli_parser_init(&p, "embed", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    cli_model_opts_init(&o->mo);
    o->input = o->output = NULL;
    o->format = FORMAT_GUESS;
    o->batch = 32;
    const char *arg;
    int id, n_inputs = 0;
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        int shared = cli_model_option(&p, id, arg, &o->mo);
        if (shared < 0 || id == CLI_BAD) return CLI_EXIT_USAGE;
        if (shared) continue;
        switch (id) {
        case CLI_HELP: cmd_embed_help(stdout); return -1;
        case CLI_ARG:
            if (n_inputs++) return cli_usage_error("embed", "expected at most one input FILE");
            o->input = arg;
            break;
        case OPT_OUTPUT: o->output = arg; break;
        case OPT_FORMAT:
            o->format = -1;
            for (int k = 0; k < N_FORMATS; k++)
                if (!strcmp(arg, FORMAT_NAMES[k])) o->format = k;
            if (o->format < 0)
                return cli_usage_error("embed", "invalid value '%s' for --format: expected "
                                                "jsonl, json, npy, csv or tsv", arg);
            break;
        case OPT_BATCH:
            if (cli_parse_int("embed", "--batch-size", arg, 1, 4096, &o->batch))
                return CLI_EXIT_USAGE;
            break;
        }
    }
    int to_stdout = !o->output || !strcmp(o->output, "-");
    if (o->format == FORMAT_GUESS) o->format = to_stdout ? FORMAT_JSONL : format_of(o->output);
    if (cli_same_file(o->input, o->output))
        return cli_usage_error("embed", "the output '%s' is the input file: refusing to overwrite "
                                        "it (give another -o FILE)", o->output);
    if (o->format == FORMAT_NPY && to_stdout && isatty(fileno(stdout)))
        return cli_usage_error("embed", "--format npy writes binary data: give -o FILE or "
                                        "redirect stdout");
    return CLI_EXIT_OK;
}

/* Text rows of one chunk; a JSON array opens before the first row and closes in run(). */
static void write_rows(FILE *out, int format, size_t first, const float *v, size_t n, size_t dim) {
    switch (format) {
    case FORMAT_CSV: cli_delim_rows(out, ',', v, n, dim); break;
    case FORMAT_TSV: cli_delim_rows(out, '\t', v, n, dim); break;
    case FORMAT_JSON:
        for (size_t r = 0; r < n; r++) {
            fprintf(out, "%s{\"index\": %zu, \"embedding\": ", first + r ? ",\n" : "[\n", first + r);
            cli_json_floats(out, v + r * dim, dim);
            fputc('}', out);
        }
        break;
    default: cli_jsonl_rows(out, first, v, n, dim);
    }
}

/* Read, embed and write every chunk. Returns an exit code. */
static int run(xf_model *model, cli_lines *in, FILE *out, const embed_opts *o, cli_npy *npy) {
    size_t dim = xf_model_embedding_dim(model), batch = (size_t)o->batch;
    size_t cap = (CHUNK_TEXTS + batch - 1) / batch * batch;
    chunk c;
    if (chunk_init(&c, cap, dim)) {
        chunk_free(&c);
        return cli_error("out of memory");
    }
    cli_progress prog;
    long long total = isatty(fileno(stderr)) ? cli_lines_count(in) : -1;
    cli_progress_start(&prog, "embedding", total > 0 ? (size_t)total : 0, PROGRESS_MIN);
    size_t done = 0, n_truncated = 0;
    int eof = 0, rc = CLI_EXIT_OK;
    while (!eof && rc == CLI_EXIT_OK) {
        long n = chunk_fill(&c, in, &eof);
        if (n < 0) {
            rc = CLI_EXIT_FAIL;
            break;
        }
        if (n == 0) break;
        xf_embed_stats st = {0, 0, 0};
        if (xf_embed_n(model, c.ptrs, c.lens, (size_t)n, batch, c.vecs, &st) != XF_OK) {
            rc = cli_lib_error();
            break;
        }
        n_truncated += st.n_truncated;
        if (o->format == FORMAT_NPY) {
            if (cli_npy_rows(npy, c.vecs, (size_t)n)) rc = CLI_EXIT_FAIL;
        } else {
            write_rows(out, o->format, done, c.vecs, (size_t)n, dim);
            if (ferror(out)) rc = cli_error("cannot write the output");
        }
        done += (size_t)n;
        cli_progress_update(&prog, done);
    }
    cli_progress_finish(&prog, done);
    if (rc == CLI_EXIT_OK && o->format == FORMAT_NPY && cli_npy_finish(npy))
        rc = CLI_EXIT_FAIL;
    if (rc == CLI_EXIT_OK && o->format == FORMAT_JSON) fputs(done ? "\n]\n" : "[]\n", out);
    if (rc == CLI_EXIT_OK) cli_report_truncation(model, n_truncated, done);
    chunk_free(&c);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    embed_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    cli_lines in;
    if (cli_lines_open(&in, o.input)) return CLI_EXIT_FAIL;
    xf_model *model = NULL;
    rc = cli_load_model(&o.mo, 1, &model);
    cli_out out = {NULL, NULL, NULL, NULL};
    cli_npy npy;
    memset(&npy, 0, sizeof npy);
    if (rc == CLI_EXIT_OK && cli_out_open(&out, o.output)) rc = CLI_EXIT_FAIL;
    if (rc == CLI_EXIT_OK && o.format == FORMAT_NPY &&
        cli_npy_begin(&npy, out.f, xf_model_embedding_dim(model)))
        rc = CLI_EXIT_FAIL;
    if (rc == CLI_EXIT_OK) rc = run(model, &in, out.f, &o, &npy);
    if (npy.spool) fclose(npy.spool);
    if (cli_out_close(&out, rc == CLI_EXIT_OK) && rc == CLI_EXIT_OK) rc = CLI_EXIT_FAIL;
    xf_model_free(model);
    cli_lines_close(&in);
    return rc;
}
