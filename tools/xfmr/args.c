/* args.c — command-line option parsing shared by all xfmr subcommands: a small table-driven
 * parser (long and short options, "--opt=value", "--"), integer validation, usage errors,
 * the shared model options (-m, --threads, --max-length) and the shared help paragraphs. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv, const cli_opt *opts,
                     size_t n_opts) {
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->i = 1; /* argv[0] is the command name */
    p->opts = opts;
    p->n_opts = n_opts;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "xfmr%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'xfmr %s%s--help' for more information.\n", cmd ? cmd : "",
            cmd ? " " : "");
    return CLI_EXIT_USAGE;
}

static const cli_opt *find_long(const cli_parser *p, const char *name, size_t len) {
    for (size_t k = 0; k < p->n_opts; k++)
        if (strlen(p->opts[k].long_name) == len && !strncmp(p->opts[k].long_name, name, len))
            return &p->opts[k];
    return NULL;
}

static const cli_opt *find_short(const cli_parser *p, char c) {
    for (size_t k = 0; k < p->n_opts; k++)
        if (p->opts[k].short_name && p->opts[k].short_name == c) return &p->opts[k];
    return NULL;
}

int cli_next(cli_parser *p, const char **arg) {
    static char spelled[64];
    *arg = NULL;
    if (p->i >= p->argc) return CLI_DONE;
    const char *a = p->argv[p->i++];
    if (p->only_args || a[0] != '-' || a[1] == '\0') { /* positional, or "-" (stdin) */
        *arg = a;
        return CLI_ARG;
    }
    if (!strcmp(a, "--")) {
        p->only_args = 1;
        return cli_next(p, arg);
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return CLI_HELP;
    const cli_opt *o;
    const char *inline_val = NULL;
    if (a[1] == '-') {
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        o = find_long(p, name, len);
        if (!o) {
            cli_usage_error(p->cmd, "unknown option '%.*s'", (int)(len + 2), a);
            return CLI_BAD;
        }
        snprintf(spelled, sizeof spelled, "--%s", o->long_name);
        if (eq) {
            if (!o->has_arg) {
                cli_usage_error(p->cmd, "option '%s' takes no value", spelled);
                return CLI_BAD;
            }
            inline_val = eq + 1;
        }
    } else {
        o = find_short(p, a[1]);
        if (!o || (!o->has_arg && a[2] != '\0')) {
            cli_usage_error(p->cmd, "unknown option '%s'", a);
            return CLI_BAD;
        }
        snprintf(spelled, sizeof spelled, "-%c", a[1]);
        if (a[2] != '\0') inline_val = a + 2;
    }
    p->optname = spelled;
    if (o->has_arg) {
        if (inline_val) {
            *arg = inline_val;
        } else if (p->i < p->argc) {
            *arg = p->argv[p->i++];
        } else {
            cli_usage_error(p->cmd, "option '%s' requires a value", spelled);
            return CLI_BAD;
        }
    }
    return o->id;
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno == ERANGE || v < lo || v > hi ||
        s[0] == ' ' || s[0] == '\t') {
        cli_usage_error(cmd, "invalid value '%s' for %s: expected an integer from %ld to %ld", s,
                        opt, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *opt, const char *s, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno == ERANGE || s[0] == ' ' || s[0] == '\t' ||
        v != v || v - v != 0) {
        cli_usage_error(cmd, "invalid value '%s' for %s: expected a finite number", s, opt);
        return -1;
    }
    *out = v;
    return 0;
}

void cli_model_opts_init(cli_model_opts *mo) {
    mo->model = NULL;
    mo->default_model = CLI_DEFAULT_ENCODER;
    mo->threads = 0;
    mo->max_length = 0;
    mo->weights = XF_WEIGHTS_AS_STORED;
    mo->rope_scaling = NULL;
    mo->rope_factor = 0.0;
    mo->rope_orig_ctx = 0;
    mo->attn_window = 0;
    mo->full_layers = NULL;
    mo->attn_sinks = 0;
    mo->block_sparse = 0;
    mo->vertical_slash = 0;
    mo->attn_probsparse = 0;
    mo->probsparse_factor = 0.0;
    mo->probsparse_exact = 0;
    mo->keep = 1.0;
    mo->keep_schedule = NULL;
    mo->pool_pruned = 1;
    mo->merge = 0;
    mo->keep_min = 64;
    mo->exit_cos = 2.0;
    mo->exit_min_layers = 2;
    mo->exit_target = 0.0;
    mo->exit_calib = NULL;
    mo->sparsity = XF_SPARSITY_NONE;
    mo->sparsity_ratio = 0.0f;
    mo->sparsity_method = XF_SPARSE_MAGNITUDE;
    mo->calib = NULL;
    mo->calib_tokens = 0;
    mo->sparse_head = 0;
}

int cli_model_option(const cli_parser *p, int id, const char *arg, cli_model_opts *mo) {
    switch (id) {
    case CLI_OPT_MODEL:
        if (arg[0] == '\0') {
            cli_usage_error(p->cmd, "option '%s' needs a model folder or name", p->optname);
            return -1;
        }
        mo->model = arg;
        return 1;
    case CLI_OPT_THREADS:
        return cli_parse_int(p->cmd, "--threads", arg, 0, 1024, &mo->threads) ? -1 : 1;
    case CLI_OPT_WEIGHTS:
        if (!strcmp(arg, "stored") || !strcmp(arg, "int8") || !strcmp(arg, "bf16") || !strcmp(arg, "f32") ||
            !strcmp(arg, "int4") || !strcmp(arg, "a8")) {
            mo->weights = !strcmp(arg, "int4") ? XF_WEIGHTS_INT4
                          : arg[0] == 'i'   ? XF_WEIGHTS_INT8
                          : arg[0] == 'a' ? XF_WEIGHTS_A8
                          : arg[0] == 'b' ? XF_WEIGHTS_BF16
                          : arg[0] == 'f' ? XF_WEIGHTS_F32
                                          : XF_WEIGHTS_AS_STORED;
            return 1;
        }
        cli_usage_error(p->cmd, "option '--weights' takes 'stored', 'int8', 'a8', 'bf16', 'f32' or 'int4' (with --sparsity 2:4), not '%s'", arg);
        return -1;
    case CLI_OPT_SPARSITY: {
        if (!strcmp(arg, "2:4")) {
            mo->sparsity = XF_SPARSITY_2_4;
            return 1;
        }
        double r;
        char *end = NULL;
        r = strtod(arg, &end);
        if (arg[0] && end && *end == '\0' && r > 0.0 && r < 1.0) {
            mo->sparsity = XF_SPARSITY_UNSTRUCTURED;
            mo->sparsity_ratio = (float)r;
            return 1;
        }
        cli_usage_error(p->cmd, "option '--sparsity' takes '2:4' or a ratio in (0, 1) such as 0.5, not '%s'%s", arg,
                        strchr(arg, ':') ? " (of N:M patterns only 2:4 has kernels)" : "");
        return -1;
    }
    case CLI_OPT_SPARSITY_METHOD:
        if (!strcmp(arg, "magnitude") || !strcmp(arg, "wanda") || !strcmp(arg, "sparsegpt")) {
            mo->sparsity_method = arg[0] == 'w' ? XF_SPARSE_WANDA : arg[0] == 's' ? XF_SPARSE_SPARSEGPT : XF_SPARSE_MAGNITUDE;
            return 1;
        }
        cli_usage_error(p->cmd, "option '--sparsity-method' takes 'magnitude', 'wanda' or 'sparsegpt', not '%s'", arg);
        return -1;
    case CLI_OPT_CALIB:
        if (arg[0] == '\0') {
            cli_usage_error(p->cmd, "option '--calib' needs a text file");
            return -1;
        }
        mo->calib = arg;
        return 1;
    case CLI_OPT_SPARSE_HEAD: mo->sparse_head = 1; return 1;
    case CLI_OPT_CALIB_TOKENS:
        return cli_parse_int(p->cmd, "--calib-tokens", arg, 2, 1000000, &mo->calib_tokens) ? -1 : 1;
    case CLI_OPT_MAX_LENGTH:
        return cli_parse_int(p->cmd, "--max-length", arg, 1, 1000000, &mo->max_length) ? -1 : 1;
    case CLI_OPT_ROPE_SCALING: /* the names are checked by the library, which lists them */
        mo->rope_scaling = arg;
        return 1;
    case CLI_OPT_ROPE_FACTOR:
        if (cli_parse_double(p->cmd, "--rope-factor", arg, &mo->rope_factor)) return -1;
        if (mo->rope_factor > 0.0) return 1;
        cli_usage_error(p->cmd, "option '--rope-factor' must be > 0, not '%s'", arg);
        return -1;
    case CLI_OPT_ROPE_ORIG_CTX:
        return cli_parse_int(p->cmd, "--rope-orig-ctx", arg, 1, 1 << 24, &mo->rope_orig_ctx) ? -1 : 1;
    case CLI_OPT_ATTN_WINDOW:
        return cli_parse_int(p->cmd, "--attn-window", arg, 1, 1 << 24, &mo->attn_window) ? -1 : 1;
    case CLI_OPT_FULL_LAYERS: mo->full_layers = arg; return 1; /* checked by the library */
    case CLI_OPT_ATTN_SINKS:
        return cli_parse_int(p->cmd, "--attn-sinks", arg, 0, 1 << 24, &mo->attn_sinks) ? -1 : 1;
    case CLI_OPT_BLOCK_SPARSE:
        if (cli_parse_double(p->cmd, "--block-sparse", arg, &mo->block_sparse)) return -1;
        if (mo->block_sparse > 0 && mo->block_sparse <= 1) return 1;
        cli_usage_error(p->cmd, "--block-sparse %s is outside (0, 1]: the share of key blocks a prompt tile reads", arg);
        return -1;
    case CLI_OPT_VERTICAL_SLASH:
        if (cli_parse_double(p->cmd, "--vertical-slash", arg, &mo->vertical_slash)) return -1;
        if (mo->vertical_slash > 0 && mo->vertical_slash <= 1) return 1;
        cli_usage_error(p->cmd, "--vertical-slash %s is outside (0, 1]: the share of the keys a prompt query reads", arg);
        return -1;
    case CLI_OPT_KEEP:
        if (cli_parse_double(p->cmd, "--keep", arg, &mo->keep)) return -1;
        if (mo->keep > 0 && mo->keep <= 1) return 1;
        cli_usage_error(p->cmd, "--keep %s is outside (0, 1]: the share of each text's tokens the last layer sees", arg);
        return -1;
    case CLI_OPT_KEEP_SCHEDULE: mo->keep_schedule = arg; return 1;
    case CLI_OPT_MERGE: mo->merge = 1; return 1;
    case CLI_OPT_POOL_PRUNED:
        if (!strcmp(arg, "yes") || !strcmp(arg, "no") || !strcmp(arg, "rejoin")) {
            mo->pool_pruned = arg[0] == 'y' ? 1 : arg[0] == 'r' ? 2 : 0;
            return 1;
        }
        cli_usage_error(p->cmd, "option '--pool-pruned' takes 'yes', 'no' or 'rejoin', not '%s'", arg);
        return -1;
    case CLI_OPT_EXIT_COS:
        if (cli_parse_double(p->cmd, "--exit-cos", arg, &mo->exit_cos)) return -1;
        if (mo->exit_cos > 0) return 1;
        cli_usage_error(p->cmd, "--exit-cos %s must be above 0 (a cosine; above 1 turns early exit off)", arg);
        return -1;
    case CLI_OPT_EXIT_MIN_LAYERS:
        return cli_parse_int(p->cmd, "--exit-min-layers", arg, 2, 100000, &mo->exit_min_layers) ? -1 : 1;
    case CLI_OPT_EXIT_TARGET:
        if (cli_parse_double(p->cmd, "--exit-target", arg, &mo->exit_target)) return -1;
        if (mo->exit_target > 0 && mo->exit_target <= 1) return 1;
        cli_usage_error(p->cmd, "--exit-target %s is outside (0, 1]: a cosine to the full-depth embedding", arg);
        return -1;
    case CLI_OPT_EXIT_CALIB: mo->exit_calib = arg; return 1;
    case CLI_OPT_ATTN:
        if (!strcmp(arg, "dense") || !strcmp(arg, "probsparse")) {
            mo->attn_probsparse = !strcmp(arg, "probsparse");
            return 1;
        }
        cli_usage_error(p->cmd, "--attn '%s' is not dense or probsparse", arg);
        return -1;
    case CLI_OPT_PROBSPARSE_FACTOR:
        if (cli_parse_double(p->cmd, "--probsparse-factor", arg, &mo->probsparse_factor)) return -1;
        if (mo->probsparse_factor > 0 && mo->probsparse_factor <= 1000) return 1;
        cli_usage_error(p->cmd, "--probsparse-factor %s is outside (0, 1000]", arg);
        return -1;
    case CLI_OPT_PROBSPARSE_EXACT: mo->probsparse_exact = 1; return 1;
    case CLI_OPT_KEEP_MIN: return cli_parse_int(p->cmd, "--keep-min", arg, 1, 1000000, &mo->keep_min) ? -1 : 1;
    default:
        return 0;
    }
}

void cli_help_model_option(FILE *f, const char *default_model) {
    fprintf(f,
            "  -m, --model MODEL     model folder, .gguf file, or the name of a fetched model\n"
            "                        (default: %s)\n",
            default_model);
}

void cli_help_model_options(FILE *f) {
    cli_help_model_option(f, CLI_DEFAULT_ENCODER);
    fputs("      --threads N       compute threads, 0..1024 (default: 0 = the CPUs usable)\n"
          "      --max-length N    truncate inputs to N tokens, 1..1000000\n"
          "                        (default: the model's own limit)\n" CLI_HELP_WEIGHTS,
          f);
}

void cli_help_models(FILE *f) {
    fputs("Models:\n"
          "  MODEL is a folder in Hugging Face layout (config.json, model.safetensors,\n"
          "  tokenizer.json, ...), a GGUF file, or the short name of a fetched model, looked up\n"
          "  in order in\n"
          "    $XFMR_MODELS/NAME\n"
          "    ./models/NAME\n"
          "    models/NAME of the source tree the xfmr binary was built in\n"
          "    ~/.cache/xfmr/models/NAME\n"
          "  scripts/fetch_models.sh fetches " CLI_FETCHABLE ".\n",
          f);
}

void cli_help_exit_codes(FILE *f) {
    fputs("Exit status:\n"
          "  0 success, 1 runtime or input error, 2 usage error\n",
          f);
}
