/* cmd_info.c — `xfmr info`: loads a model and describes it (architecture, sizes, the encoder's
 * pooling or the decoder's attention, RoPE and chat facts, parameter count, dtypes, bytes, files),
 * for people or, with --json, for programs. */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <sys/stat.h>

#include "cli.h"

enum { OPT_JSON = 1 };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL,
    CLI_OPTS_ROPE,
    {OPT_JSON, 0, "json", 0},
};

void cmd_info_help(FILE *f) {
    fputs("usage: xfmr info [MODEL | -m MODEL] [--json]\n"
          "\n"
          "Load a model and describe it. Every model: architecture, kind (encoder or decoder),\n"
          "layers, hidden size, attention heads, intermediate size, vocabulary size, maximum\n"
          "position, whether it has a tokenizer, parameter count, weight dtypes, weight bytes,\n"
          "and the weight files with their sizes. Encoders add the maximum input length, the\n"
          "embedding width, pooling and normalization; decoders the key/value heads, head size,\n"
          "RoPE base, sliding window, tied embeddings, end-of-sequence id and chat template.\n"
          "Models with windowed layers list each layer's attention span (full, window W, local N),\n"
          "and a sparse prefill given (--block-sparse, --vertical-slash) is named.\n"
          "Only the weights' description is needed: a folder without tokenizer.json works.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_option(f, CLI_DEFAULT_ENCODER);
    fputs(CLI_HELP_ROPE "      --json            print one JSON object instead of a table\n"
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr info all-MiniLM-L6-v2\n"
          "  xfmr info " CLI_DEFAULT_DECODER "\n"
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

/* What an info line shows: the facts of xf_model_info plus the decoder's chat metadata. */
typedef struct facts {
    xf_model_info in;
    size_t dim;
    int32_t eos;
    const char *chat; /* "jinja", "none" or "not recognised" */
} facts;

static void print_table(const facts *x) {
    const xf_model_info *in = &x->in;
    char a[32], b[32];
    printf("%-14s %s\n", "path", in->path ? in->path : "?");
    printf("%-14s %s\n", "architecture", in->architecture ? in->architecture : "?");
    printf("%-14s %s\n", "kind", in->is_decoder ? "decoder" : "encoder");
    printf("%-14s %zu\n", "layers", in->n_layers);
    printf("%-14s %zu\n", "hidden", in->hidden);
    printf("%-14s %zu\n", "heads", in->n_heads);
    if (in->is_decoder) {
        printf("%-14s %zu\n", "kv heads", in->n_kv_heads);
        printf("%-14s %zu\n", "head dim", in->head_dim);
    }
    printf("%-14s %zu\n", "intermediate", in->intermediate);
    printf("%-14s %zu\n", "vocab", in->vocab_size);
    printf("%-14s %zu\n", "max position", in->max_position);
    const char *sp = in->attn_spans;
    if (sp && (strstr(sp, "window") || strstr(sp, "local"))) { /* some layer is windowed: say which */
        const size_t first = strcspn(sp, ",");
        int same = 1;
        for (const char *c = sp + first; *c && same; c += 1 + first) /* every entry equals the first */
            same = strncmp(c + 1, sp, first) == 0 && (c[1 + first] == ',' || !c[1 + first]);
        if (same) printf("%-14s %.*s (every layer)\n", "attention", (int)first, sp);
        else printf("%-14s %s\n", "attention", sp);
    }
    if (in->attn_prefill) printf("%-14s %s\n", "prefill attn", in->attn_prefill);
    if (in->is_decoder) {
        if (in->rope_scaling && strcmp(in->rope_scaling, "default") != 0)
            printf("%-14s %s x%g over %zu trained positions, theta %g\n", "rope", in->rope_scaling, in->rope_factor,
                   in->rope_orig_ctx, in->rope_theta);
        else if (in->rope_theta > 0)
            printf("%-14s %g\n", "rope theta", in->rope_theta);
        if (in->sliding_window) printf("%-14s %zu\n", "sliding window", in->sliding_window);
        printf("%-14s %s\n", "tied embed", in->tied_embeddings ? "yes" : "no");
        if (x->eos >= 0) printf("%-14s %ld\n", "eos id", (long)x->eos);
        else printf("%-14s %s\n", "eos id", "none");
        printf("%-14s %s\n", "chat template", x->chat);
    } else {
        printf("%-14s %zu tokens\n", "max length", in->max_length);
        printf("%-14s %zu\n", "embedding dim", x->dim);
        printf("%-14s %s\n", "pooling", in->pooling ? in->pooling : "?");
        printf("%-14s %s\n", "normalize", in->normalize ? "yes" : "no");
    }
    printf("%-14s %s\n", "tokenizer", in->has_tokenizer ? "yes" : "no");
    printf("%-14s %s (%llu)\n", "parameters", cli_human_count(in->n_params, a, sizeof a),
           (unsigned long long)in->n_params);
    printf("%-14s %s\n", "dtypes", in->dtypes ? in->dtypes : "?");
    if (in->dtypes && (strstr(in->dtypes, "S24") || strstr(in->dtypes, "FP4S") || strstr(in->dtypes, "FP8S")))
        printf("%-14s %s\n", "", "xfmr's own tensor types (S24*: 2:4 compressed; FP4S / FP8S): llama.cpp cannot load this file");
    if (in->quantization) printf("%-14s %s\n", "quantization", in->quantization);
    printf("%-14s %s (%llu bytes)\n", "weight bytes", cli_human_bytes(in->weight_bytes, a, sizeof a),
           (unsigned long long)in->weight_bytes);
    printf("%-14s %s (%llu bytes)\n", "file bytes", cli_human_bytes(in->file_bytes, b, sizeof b),
           (unsigned long long)in->file_bytes);
    for (size_t k = 0; k < in->n_files; k++)
        printf("%-14s %s (%s)\n", k ? "" : "files", in->files[k],
               cli_human_bytes(file_size(in->files[k]), a, sizeof a));
}

static void print_json(const facts *x) {
    const xf_model_info *in = &x->in;
    FILE *f = stdout;
    fputs("{\n  \"path\": ", f);
    cli_json_string(f, in->path);
    fputs(",\n  \"architecture\": ", f);
    cli_json_string(f, in->architecture);
    fprintf(f, ",\n  \"kind\": \"%s\",\n  \"n_layers\": %zu,\n  \"hidden\": %zu,\n  \"n_heads\": %zu,"
               "\n  \"intermediate\": %zu,\n  \"vocab_size\": %zu,\n  \"max_position\": %zu,",
            in->is_decoder ? "decoder" : "encoder", in->n_layers, in->hidden, in->n_heads, in->intermediate,
            in->vocab_size, in->max_position);
    if (in->is_decoder) {
        fprintf(f, "\n  \"n_kv_heads\": %zu,\n  \"head_dim\": %zu,\n  \"rope_theta\": %.9g,"
                   "\n  \"sliding_window\": %zu,\n  \"tied_embeddings\": %s,\n  \"eos_token_id\": ",
                in->n_kv_heads, in->head_dim, in->rope_theta, in->sliding_window,
                in->tied_embeddings ? "true" : "false");
        if (x->eos >= 0) fprintf(f, "%ld", (long)x->eos);
        else fputs("null", f);
        fputs(",\n  \"chat_template\": ", f);
        cli_json_string(f, x->chat);
        if (in->rope_scaling) {
            fputs(",\n  \"rope_scaling\": ", f);
            cli_json_string(f, in->rope_scaling);
            fprintf(f, ",\n  \"rope_factor\": %.17g,\n  \"rope_orig_ctx\": %zu", in->rope_factor, in->rope_orig_ctx);
        }
    } else {
        fprintf(f, "\n  \"max_length\": %zu,\n  \"embedding_dim\": %zu,\n  \"pooling\": ", in->max_length,
                x->dim);
        cli_json_string(f, in->pooling);
        fprintf(f, ",\n  \"normalize\": %s", in->normalize ? "true" : "false");
    }
    if (in->attn_spans) {
        fputs(",\n  \"attn_spans\": ", f);
        cli_json_string(f, in->attn_spans);
    }
    if (in->attn_prefill) {
        fputs(",\n  \"attn_prefill\": ", f);
        cli_json_string(f, in->attn_prefill);
    }
    fprintf(f, ",\n  \"has_tokenizer\": %s,\n  \"n_params\": %llu,\n  \"dtypes\": ",
            in->has_tokenizer ? "true" : "false", (unsigned long long)in->n_params);
    cli_json_string(f, in->dtypes);
    if (in->quantization) {
        fputs(",\n  \"quantization\": ", f);
        cli_json_string(f, in->quantization);
    }
    fprintf(f, ",\n  \"weight_bytes\": %llu,\n  \"file_bytes\": %llu,\n  \"files\": [",
            (unsigned long long)in->weight_bytes, (unsigned long long)in->file_bytes);
    for (size_t k = 0; k < in->n_files; k++) {
        fputs(k ? ",\n    {\"path\": " : "\n    {\"path\": ", f);
        cli_json_string(f, in->files[k]);
        fprintf(f, ", \"bytes\": %llu}", (unsigned long long)file_size(in->files[k]));
    }
    fputs(in->n_files ? "\n  ]\n}\n" : "]\n}\n", f);
}

/* The chat template for a decoder: "jinja" (its own template, which the Jinja engine parses), "none", or
 * "not recognised" (a construct outside the engine's subset). */
static const char *chat_name(const xf_model *m, char *buf, size_t size) {
    const char *text = xf_model_chat_template(m);
    if (!text) return "none";
    xf_chat_template *t = NULL;
    if (xf_chat_template_detect(text, &t) != XF_OK) return "not recognised";
    snprintf(buf, size, "%s", xf_chat_template_name(t));
    xf_chat_template_free(t);
    return buf;
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
            n_models += id == CLI_OPT_MODEL;
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
    int rc = cli_load_model(&mo, 0, &model);
    if (rc) return rc;
    facts x;
    char name[64];
    memset(&x, 0, sizeof x);
    x.in = xf_model_info_init();
    if (xf_model_get_info(model, &x.in) != XF_OK) {
        rc = cli_lib_error();
    } else {
        x.dim = xf_model_embedding_dim(model);
        x.eos = x.in.is_decoder ? xf_model_eos_id(model) : -1;
        x.chat = x.in.is_decoder ? chat_name(model, name, sizeof name) : NULL;
        if (json) print_json(&x);
        else print_table(&x);
    }
    xf_model_free(model);
    return rc;
}
