/* cmd_convert.c — `xfmr convert`: a model as xfmr loads it (Hugging Face folder or GGUF file)
 * written as one GGUF file that llama.cpp loads and xfmr reloads bit-exactly (xf_model_save). */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

enum { OPT_OUTPUT = 1, OPT_OUTTYPE };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_WEIGHTS, CLI_OPTS_SPARSITY, {OPT_OUTPUT, 'o', "output", 1}, {OPT_OUTTYPE, 0, "outtype", 1},
};

void cmd_convert_help(FILE *f) {
    fputs("usage: xfmr convert [MODEL | -m MODEL] -o OUT.gguf [--outtype f32|f16|dense] [--weights W]\n"
          "                    [--sparsity 2:4|RATIO [--sparsity-method wanda|sparsegpt --calib FILE] [--sparse-head]]\n"
          "\n"
          "Write MODEL — a Hugging Face folder or a GGUF file, as xfmr loads it — as one GGUF\n"
          "file: llama.cpp's architecture keys and tensor names (bert, llama, qwen2, gpt2;\n"
          "Mistral as llama with its window), the tokenizer (tokenizer.ggml.*) and the chat\n"
          "template, GGUF quantized weights kept as their blocks. llama.cpp loads the file, and\n"
          "xfmr reloads it with bitwise the same outputs. What only xfmr understands goes under\n"
          "\"xfmr.\" keys (sentence-transformers pooling and normalization, query-head groups of\n"
          "different sizes); a model other readers would get wrong is named so that they refuse\n"
          "it (e.g. \"xfmr-llama\"). See docs/GGUF.md, \"Writing GGUF\".\n"
          "\n"
          "The file is written under a temporary name beside OUT.gguf and renamed at the end:\n"
          "OUT.gguf never holds a partial file, also when the disk fills up.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_option(f, CLI_DEFAULT_ENCODER);
    fputs("  -o, --output FILE     the GGUF file to write (required; replaced if it exists)\n"
          "      --outtype TYPE    f32 (default: exactly the weights the model computes with) or\n"
          "                        f16 (2-D float weights as IEEE half, half the size; norms,\n"
          "                        biases, position and token-type embeddings stay f32;\n"
          "                        quantized GGUF weights are kept either way), or dense (f32,\n"
          "                        2:4 sparse weights as float rows with their zeros)\n"
          "      --weights FORMAT  stored (default), int8 or bf16: reduce the linear layers at\n"
          "                        load and write the values they stand for (reload with the\n"
          "                        same --weights to run them that way again, bitwise)\n"
          CLI_HELP_SPARSITY
          "                        (2:4 weights are written compressed — kept values, int8 /\n"
          "                        int4 with --weights int8|int4, and 2-bit indices: xfmr's\n"
          "                        GGUF types S24 / S24Q8 / S24Q4, which llama.cpp cannot\n"
          "                        load — and reload as they are; --outtype dense writes them\n"
          "                        as float rows with their zeros, a file llama.cpp loads)\n"
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr convert -m all-MiniLM-L6-v2 -o minilm.gguf\n"
          "  xfmr convert -m ./my-llama-folder -o my-llama-f16.gguf --outtype f16\n"
          "  xfmr embed -m minilm.gguf texts.txt\n"
          "  xfmr convert -m SmolLM2-135M-Instruct --sparsity 2:4 --sparsity-method wanda \\\n"
          "      --calib calib.txt -o smollm2-24.gguf\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

typedef struct save_bars {
    cli_progress write;  /* bytes of the file */
    cli_progress search; /* candidates of a --max-ppl-increase search */
} save_bars;

static void on_progress(void *user, size_t done, size_t total) {
    cli_progress *p = &((save_bars *)user)->write;
    if (!p->what) {
        cli_progress_start(p, "writing", total >> 20, 0);
        p->unit = "MiB";
    }
    cli_progress_update(p, done >> 20);
}

/* After each candidate mixture of --max-ppl-increase: a note with what it measured, and the bar. */
static void on_search(void *user, size_t done, size_t total, double bpw, double loss) {
    cli_progress *p = &((save_bars *)user)->search;
    if (!p->what) {
        cli_progress_start(p, "searching", total, 0);
        p->unit = "candidates";
    }
    cli_note("candidate %zu (of at most %zu): %.4f bits per weight, quality loss %+.4f %%", done, total, bpw, loss);
    cli_progress_update(p, done);
}

int cmd_convert(int argc, char **argv) {
    cli_parser p;
    cli_parser_init(&p, "convert", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *arg, *out = NULL;
    int id, n_models = 0;
    xf_save_params sp = xf_save_default_params();
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        int shared = cli_model_option(&p, id, arg, &mo);
        if (shared < 0 || id == CLI_BAD) return CLI_EXIT_USAGE;
        if (shared) {
            n_models += id == CLI_OPT_MODEL;
            continue;
        }
        switch (id) {
        case CLI_HELP: cmd_convert_help(stdout); return CLI_EXIT_OK;
        case CLI_ARG: mo.model = arg, n_models++; break;
        case OPT_OUTPUT: out = arg; break;
        case OPT_OUTTYPE:
            if (!strcmp(arg, "f32")) sp.outtype = XF_SAVE_F32;
            else if (!strcmp(arg, "f16")) sp.outtype = XF_SAVE_F16;
            else if (!strcmp(arg, "dense")) sp.outtype = XF_SAVE_DENSE;
            else return cli_usage_error("convert", "--outtype must be f32, f16 or dense, not '%s'", arg);
            break;
        }
    }
    if (n_models > 1) return cli_usage_error("convert", "expected one MODEL");
    if (!out || !*out) return cli_usage_error("convert", "give the GGUF file to write with -o OUT.gguf");
    int rc = cli_check_output("convert", out);
    if (rc) return rc;
    xf_model *model = NULL;
    rc = cli_load_model(&mo, 0, &model); /* a model without a tokenizer is saved without one */
    if (rc) return rc;
    rc = cli_save_gguf(model, out, &sp);
    xf_model_free(model);
    return rc;
}

int cli_check_output(const char *cmd, const char *out) {
    struct stat sb;
    if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_usage_error(cmd, "-o %s is a directory; give a file name such as %s/model.gguf", out, out);
    return CLI_EXIT_OK;
}

int cli_save_gguf(xf_model *model, const char *out, xf_save_params *sp) {
    /* a file-size limit (ulimit -f) becomes a write error and the temporary file is removed,
     * instead of the process being killed with it on the disk */
    signal(SIGXFSZ, SIG_IGN);
    save_bars prog;
    memset(&prog, 0, sizeof prog);
    sp->progress = on_progress;
    sp->progress_user = &prog;
    if (sp->max_ppl_increase > 0) sp->search_progress = on_search;
    if (xf_model_save(model, out, sp) != XF_OK) return cli_lib_error();
    char size[32];
    struct stat sb;
    if (prog.write.what) cli_progress_finish(&prog.write, prog.write.total);
    cli_note("wrote %s (%s)", out, cli_human_bytes(stat(out, &sb) == 0 ? (uint64_t)sb.st_size : 0, size, sizeof size));
    return CLI_EXIT_OK;
}
