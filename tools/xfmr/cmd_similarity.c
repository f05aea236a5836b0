/* cmd_similarity.c — `xfmr similarity`: cosine similarity of two texts, or the matrix of
 * similarities between all lines of a file printed as an aligned table. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define LABEL_MAX 32 /* display columns of a row label before it is cut with "..." */

enum { OPT_FILE = 1 };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL,
    CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS,
    CLI_OPTS_MAX_LENGTH,
    {OPT_FILE, 'f', "file", 1},
};

void cmd_similarity_help(FILE *f) {
    fputs("usage: xfmr similarity [-m MODEL] [OPTIONS] TEXT_A TEXT_B\n"
          "       xfmr similarity [-m MODEL] [OPTIONS] --file FILE\n"
          "\n"
          "Print the cosine similarity of the embeddings of TEXT_A and TEXT_B as a number with\n"
          "4 decimals (1.0000 = same direction). With --file, embed every line of FILE (same\n"
          "line rules as `xfmr embed`; '-' = stdin) and print the matrix of similarities of\n"
          "all pairs as a table: row i is line i (its text cut to 32 columns), column j is\n"
          "line j.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_options(f);
    fputs("  -f, --file FILE       compare all lines of FILE with each other\n"
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr similarity \"A man is eating food.\" \"A man is eating a piece of bread.\"\n"
          "  xfmr similarity -m all-MiniLM-L6-v2 --file sentences.txt\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

/* Display columns of the len bytes at s: UTF-8 code points (NUL bytes included). */
static size_t columns(const char *s, size_t len) {
    size_t cols = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) cols++;
    return cols;
}

/* Print text (len bytes) cut to at most width display columns (control characters, NUL
 * included, shown as spaces), padded with spaces to width. */
static void print_label(const char *s, size_t len, size_t width) {
    size_t cols = 0, total = columns(s, len);
    size_t keep = total <= width ? total : width - 3;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80) {
            if (cols == keep) break;
            cols++;
        }
        putchar(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    if (total > width) fputs("...", stdout), cols += 3;
    for (; cols < width; cols++) putchar(' ');
}

static size_t label_width(const cli_texts *t) {
    size_t w = 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t cols = columns(t->texts[i], t->lens[i]);
        if (cols > w) w = cols;
    }
    return w < LABEL_MAX ? w : LABEL_MAX;
}

static void print_matrix(const cli_texts *t, const float *vecs, size_t dim) {
    size_t n = t->n, idx_w = 1, lw = label_width(t);
    for (size_t k = n - 1; k >= 10; k /= 10) idx_w++;
    printf("%*s  %*s", (int)idx_w, "", (int)lw, "");
    for (size_t j = 0; j < n; j++) printf("  %7zu", j);
    putchar('\n');
    for (size_t i = 0; i < n; i++) {
        printf("%*zu  ", (int)idx_w, i);
        print_label(t->texts[i], t->lens[i], lw);
        for (size_t j = 0; j < n; j++)
            printf("  %7.4f", (double)xf_cosine(vecs + i * dim, vecs + j * dim, dim));
        putchar('\n');
    }
}

int cmd_similarity(int argc, char **argv) {
    cli_parser p;
    cli_parser_init(&p, "similarity", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *file = NULL, *pos[2] = {NULL, NULL}, *arg;
    int id, n_pos = 0;
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        int shared = cli_model_option(&p, id, arg, &mo);
        if (shared < 0 || id == CLI_BAD) return CLI_EXIT_USAGE;
        if (shared) continue;
        switch (id) {
        case CLI_HELP: cmd_similarity_help(stdout); return CLI_EXIT_OK;
        case CLI_ARG:
            if (n_pos >= 2) return cli_usage_error("similarity", "expected two texts");
            pos[n_pos++] = arg;
            break;
        case OPT_FILE: file = arg; break;
        }
    }
    if (file && n_pos) return cli_usage_error("similarity", "give either two texts or --file");
    if (!file && n_pos != 2) return cli_usage_error("similarity", "expected two texts");

    cli_texts t = {NULL, NULL, 0};
    if (file) {
        if (cli_read_all_lines(file, &t)) return CLI_EXIT_FAIL;
        if (t.n == 0) {
            cli_texts_free(&t);
            return cli_error("'%s' has no lines to compare", file);
        }
    }
    xf_model *model = NULL;
    int rc = cli_load_model(&mo, 1, &model);
    size_t n = file ? t.n : 2, dim = model ? xf_model_embedding_dim(model) : 0;
    float *vecs = rc == CLI_EXIT_OK ? malloc(n * (dim ? dim : 1) * sizeof *vecs) : NULL;
    if (rc == CLI_EXIT_OK && !vecs) rc = cli_error("out of memory");
    xf_embed_stats st = {0, 0, 0};
    const char *const *texts = file ? (const char *const *)t.texts : pos;
    const size_t *lens = file ? t.lens : NULL; /* argv texts hold no NUL bytes: strlen */
    if (rc == CLI_EXIT_OK && xf_embed_n(model, texts, lens, n, 0, vecs, &st) != XF_OK)
        rc = cli_lib_error();
    if (rc == CLI_EXIT_OK) {
        cli_report_truncation(model, st.n_truncated, n);
        if (file) print_matrix(&t, vecs, dim);
        else printf("%.4f\n", (double)xf_cosine(vecs, vecs + dim, dim));
    }
    free(vecs);
    xf_model_free(model);
    cli_texts_free(&t);
    return rc;
}
