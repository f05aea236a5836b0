/* cmd_perplexity.c — `xfmr perplexity`: the perplexity of a decoder model on a text file, by the
 * strided sliding-window method of the Hugging Face guide (xf_perplexity_progress), with a
 * progress bar over the windows on a terminal. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_WINDOW = 1, OPT_STRIDE, OPT_JSON };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS, CLI_OPTS_ROPE, CLI_OPTS_PROBSPARSE, CLI_OPTS_SPARSITY, {OPT_WINDOW, 0, "window", 1}, {OPT_STRIDE, 0, "stride", 1},
    {OPT_JSON, 0, "json", 0},
};

void cmd_perplexity_help(FILE *f) {
    fputs("usage: xfmr perplexity [-m MODEL] [OPTIONS] FILE\n"
          "\n"
          "Perplexity of a decoder model (" CLI_DECODER_ARCHS ") on the text of FILE ('-' =\n"
          "stdin), by\n"
          "the strided sliding-window method of the Hugging Face guide \"Perplexity of\n"
          "fixed-length models\": the whole file is tokenized as one text (with only the special\n"
          "tokens the tokenizer itself adds), windows of --window tokens start every --stride\n"
          "tokens, and each window scores the tokens the previous one did not reach, with the\n"
          "rest of the window as context. Prints the number of tokens, of windows, of scored\n"
          "tokens, the mean negative log-likelihood and the perplexity. A progress bar over the\n"
          "windows is shown on stderr when it is a terminal.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_option(f, CLI_DEFAULT_DECODER);
    fputs("      --window N        tokens per window, 2..(the model's max_position_embeddings)\n"
          "                        (default: the model's max_position_embeddings)\n"
          "      --stride N        tokens between window starts, 1..window (default: window / 2)\n"
          "      --json            print {\"tokens\", \"windows\", \"scored\", \"nll\", \"perplexity\",\n"
          "                        \"window\", \"stride\"} instead\n"
          "      --threads N       compute threads, 0..1024 (default: 0 = the CPUs usable)\n" CLI_HELP_WEIGHTS CLI_HELP_ROPE CLI_HELP_PROBSPARSE CLI_HELP_SPARSITY
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr perplexity wiki.test.raw\n"
          "  xfmr perplexity -m " CLI_DEFAULT_DECODER " --window 1024 --stride 512 --json book.txt\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

typedef struct ppl_args {
    cli_model_opts mo;
    const char *input;
    long window, stride;
    int json;
} ppl_args;

static int parse(int argc, char **argv, ppl_args *o) {
    cli_parser p;
    cli_parser_init(&p, "perplexity", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    memset(o, 0, sizeof *o);
    cli_model_opts_init(&o->mo);
    o->mo.default_model = CLI_DEFAULT_DECODER;
    const char *arg;
    int id, n_inputs = 0;
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        if (id == CLI_BAD) return CLI_EXIT_USAGE;
        int shared = cli_model_option(&p, id, arg, &o->mo);
        if (shared < 0) return CLI_EXIT_USAGE;
        if (shared) continue;
        switch (id) {
        case CLI_HELP: cmd_perplexity_help(stdout); return -1;
        case CLI_ARG:
            if (n_inputs++) return cli_usage_error("perplexity", "expected one input FILE");
            o->input = arg;
            break;
        case OPT_WINDOW:
            if (cli_parse_int("perplexity", "--window", arg, 2, 10000000, &o->window)) return CLI_EXIT_USAGE;
            break;
        case OPT_STRIDE:
            if (cli_parse_int("perplexity", "--stride", arg, 1, 10000000, &o->stride)) return CLI_EXIT_USAGE;
            break;
        case OPT_JSON: o->json = 1; break;
        }
    }
    if (!o->input) return cli_usage_error("perplexity", "missing the input FILE");
    if (o->window && o->stride > o->window)
        return cli_usage_error("perplexity", "--stride %ld is larger than --window %ld", o->stride,
                               o->window);
    return CLI_EXIT_OK;
}

int cmd_perplexity(int argc, char **argv) {
    ppl_args o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    char *text = NULL;
    size_t len = 0;
    if ((rc = cli_read_file(o.input, &text, &len))) return rc;
    xf_model *m = NULL;
    if ((rc = cli_load_model(&o.mo, 1, &m))) {
        free(text);
        return rc;
    }
    cli_ppl r;
    if (!(rc = cli_text_perplexity(m, o.input, text, len, cli_ppl_window(m, o.window, 0),
                                   (size_t)o.stride, &r))) {
        if (o.json) {
            printf("{\"tokens\": %zu, \"windows\": %zu, \"window\": %zu, \"stride\": %zu, "
                   "\"scored\": %zu, \"nll\": %.9g, \"perplexity\": %.9g}\n",
                   r.tokens, r.windows, r.window, r.stride, r.scored, r.nll_sum / (double)r.scored, r.ppl);
        } else {
            printf("tokens      %zu\n"
                   "windows     %zu (window %zu, stride %zu)\n"
                   "scored      %zu\n"
                   "nll         %.6f\n"
                   "perplexity  %.4f\n",
                   r.tokens, r.windows, r.window, r.stride, r.scored, r.nll_sum / (double)r.scored, r.ppl);
        }
    }
    xf_model_free(m);
    free(text);
    return rc;
}
