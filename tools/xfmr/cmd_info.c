/* cmd_info.c — `xfmr info`: loads a model and describes it (architecture, sizes, pooling,
 * parameter count, dtypes, bytes, files), for people or, with --json, for programs. */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <sys/stat.h>

#include "cli.h"

enum { OPT_JSON = 1 };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL,
    {OPT_JSON, 0, "json", 0},
};

void cmd_info_help(FILE *f) {
    fputs("usage: xfmr info [MODEL | -m MODEL] [--json]\n"
          "\n"
          "Load a model and describe it: architecture, number of layers, hidden size, attention\n"
          "heads, intermediate size, vocabulary size, maximum position, maximum input length\n"
          "(tokens), embedding width, pooling, normalization, parameter count, weight dtypes,\n"
          "weight bytes, and the weight files with their sizes.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_option(f);
    fputs("      --json            print one JSON object instead of a table\n"
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr info all-MiniLM-L6-v2\n"
          "  xfmr info -m ./models/all-MiniLM-L6-v2 --json\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void print_table(const xf_model_info *in, size_t dim) {
    char a[32], b[32];
    printf("%-14s %s\n", "path", in->path ? in->path : "?");
    printf("%-14s %s\n", "architecture", in->architecture ? in->architecture : "?");
    printf("%-14s %zu\n", "layers", in->n_layers);
    printf("%-14s %zu\n", "hidden", in->hidden);
    printf("%-14s %zu\n", "heads", in->n_heads);
    printf("%-14s %zu\n", "intermediate", in->intermediate);
    printf("%-14s %zu\n", "vocab", in->vocab_size);
    printf("%-14s %zu\n", "max position", in->max_position);
    printf("%-14s %zu tokens\n", "max length", in->max_length);
    printf("%-14s %zu\n", "embedding dim", dim);
    printf("%-14s %s\n", "pooling", in->pooling ? in->pooling : "?");
    printf("%-14s %s\n", "normalize", in->normalize ? "yes" : "no");
    printf("%-14s %s (%llu)\n", "parameters", cli_human_count(in->n_params, a, sizeof a),
           (unsigned long long)in->n_params);
    printf("%-14s %s\n", "dtypes", in->dtypes ? in->dtypes : "?");
    printf("%-14s %s (%llu bytes)\n", "weight bytes", cli_human_bytes(in->weight_bytes, a, sizeof a),
           (unsigned long long)in->weight_bytes);
    printf("%-14s %s (%llu bytes)\n", "file bytes", cli_human_bytes(in->file_bytes, b, sizeof b),
           (unsigned long long)in->file_bytes);
    for (size_t k = 0; k < in->n_files; k++)
        printf("%-14s %s (%s)\n", k ? "" : "files", in->files[k],
               cli_human_bytes(file_size(in->files[k]), a, sizeof a));
}

static void print_json(const xf_model_info *in, size_t dim) {
    FILE *f = stdout;
    fputs("{\n  \"path\": ", f);
    cli_json_string(f, in->path);
    fputs(",\n  \"architecture\": ", f);
    cli_json_string(f, in->architecture);
    fprintf(f, ",\n  \"n_layers\": %zu,\n  \"hidden\": %zu,\n  \"n_heads\": %zu,"
               "\n  \"intermediate\": %zu,\n  \"vocab_size\": %zu,\n  \"max_position\": %zu,"
               "\n  \"max_length\": %zu,\n  \"embedding_dim\": %zu,\n  \"pooling\": ",
            in->n_layers, in->hidden, in->n_heads, in->intermediate, in->vocab_size,
            in->max_position, in->max_length, dim);
    cli_json_string(f, in->pooling);
    fprintf(f, ",\n  \"normalize\": %s,\n  \"n_params\": %llu,\n  \"dtypes\": ",
            in->normalize ? "true" : "false", (unsigned long long)in->n_params);
    cli_json_string(f, in->dtypes);
    fprintf(f, ",\n  \"weight_bytes\": %llu,\n  \"file_bytes\": %llu,\n  \"files\": [",
            (unsigned long long)in->weight_bytes, (unsigned long long)in->file_bytes);
    for (size_t k = 0; k < in->n_files; k++) {
        fputs(k ? ",\n    {\"path\": " : "\n    {\"path\": ", f);
        cli_json_string(f, in->files[k]);
        fprintf(f, ", \"bytes\": %llu}", (unsigned long long)file_size(in->files[k]));
    }
    fputs(in->n_files ? "\n  ]\n}\n" : "]\n}\n", f);
}

int cmd_info(int argc, char **argv) {
    cli_parser p;
    cli_parser_init(&p, "info", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *arg;
    int id, json = 0, n_models = 0;
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        int shared = cli_model_option(&p, id, arg, &mo);
        if (shared < 0 || id == CLI_BAD) return CLI_EXIT_USAGE;
        if (shared) {
            n_models++;
            continue;
        }
        switch (id) {
        case CLI_HELP: cmd_info_help(stdout); return CLI_EXIT_OK;
        case CLI_ARG: mo.model = arg, n_models++; break;
        case OPT_JSON: json = 1; break;
        }
    }
    if (n_models > 1) return cli_usage_error("info", "expected one MODEL");
    xf_model *model = NULL;
    int rc = cli_load_model(&mo, &model);
    if (rc) return rc;
    xf_model_info info;
    memset(&info, 0, sizeof info);
    if (xf_model_get_info(model, &info) != XF_OK) {
        rc = cli_lib_error();
    } else {
        size_t dim = xf_model_embedding_dim(model);
        if (json) print_json(&info, dim);
        else print_table(&info, dim);
    }
    xf_model_free(model);
    return rc;
}
