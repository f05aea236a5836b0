/* cmd_quantize.c — `xfmr quantize`: a model (Hugging Face folder or GGUF file) written as a GGUF
 * file with its weight matrices quantized to one GGUF type, block for block as llama.cpp's
 * llama-quantize writes them (xf_save_params.quantize, src/quant/). */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

enum { OPT_OUTPUT = 1, OPT_TYPE, OPT_PURE, OPT_CALIB, OPT_CALIB_TOKENS, OPT_TARGET_BPW, OPT_MIX_TYPES, OPT_MAX_PPL };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL, {OPT_OUTPUT, 'o', "output", 1}, {OPT_TYPE, 't', "type", 1}, {OPT_PURE, 0, "pure", 0},
    {OPT_CALIB, 0, "calib", 1}, {OPT_CALIB_TOKENS, 0, "calib-tokens", 1}, {OPT_TARGET_BPW, 0, "target-bpw", 1},
    {OPT_MIX_TYPES, 0, "mix-types", 1}, {OPT_MAX_PPL, 0, "max-ppl-increase", 1},
};

#define TYPES "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, MXFP4, FP4S, FP8S"

void cmd_quantize_help(FILE *f) {
    fputs("usage: xfmr quantize [MODEL | -m MODEL] --type TYPE [-o OUT.gguf] [--pure]\n"
          "                     [--calib FILE [--calib-tokens N]]\n"
          "       xfmr quantize [MODEL | -m MODEL] --target-bpw B --calib FILE [--mix-types LIST]\n"
          "                     [-o OUT.gguf] [--calib-tokens N]\n"
          "       xfmr quantize [MODEL | -m MODEL] --max-ppl-increase P% --calib FILE\n"
          "                     [--mix-types LIST] [-o OUT.gguf] [--calib-tokens N]\n"
          "\n"
          "Write MODEL — a Hugging Face folder or a GGUF file — as one GGUF file whose weight\n"
          "matrices are quantized to TYPE, as llama.cpp's llama-quantize does without an\n"
          "importance matrix: the same blocks for the same weights, so llama.cpp loads the file\n"
          "and computes what xfmr computes. Norms, biases, position and token-type embeddings stay\n"
          "F32; a tied token embedding (or the output matrix) gets Q6_K, or Q8_0 when its width is\n"
          "no multiple of 256 or TYPE is Q8_0 or MXFP4; a matrix whose width is no multiple of\n"
          "the type's block falls back like llama-quantize (Q4_K -> Q5_0, Q5_K -> Q5_1,\n"
          "Q6_K -> Q8_0, else F16). A GGUF source that is already quantized (e.g. SmolLM2 Q4_1)\n"
          "is dequantized and quantized again, except that a matrix already in the type it gets\n"
          "keeps its blocks (as llama-quantize; not with --calib's searched scales). See\n"
          "docs/QUANTIZATION.md for what each type costs in quality.\n"
          "\n"
          "The file is written under a temporary name beside OUT.gguf and renamed at the end:\n"
          "OUT.gguf never holds a partial file.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_option(f, CLI_DEFAULT_ENCODER);
    fputs("  -t, --type TYPE       " TYPES "\n"
          "                        (bits per weight: 8.5, 4.5, 5, 5.5, 6, 4.5, 5.5, 6.5625, 4.25,\n"
          "                        4.5, 8.5); FP4S is xfmr's own searched FP4 (format E2M1 /\n"
          "                        E1M2 / E3M0 / INT4 and scale chosen per block of 32), FP8S\n"
          "                        its FP8 (E4M3 / E5M2 per block): only xfmr loads them,\n"
          "                        llama.cpp refuses the file\n"
          "  -o, --output FILE     the GGUF file to write (replaced if it exists; default\n"
          "                        NAME-TYPE.gguf in the current directory, NAME the model's)\n"
          "      --pure            every matrix in TYPE, the token embedding / output too\n"
          "                        (llama-quantize --pure)\n"
          "      --calib FILE      with --type Q4_0: search each block's scale (clipping ratio)\n"
          "                        to minimise the output error on the activations of FILE's\n"
          "                        text (searched INT4; standard Q4_0 blocks); with FP4S or\n"
          "                        FP8S: weigh their search by them (without: unweighted)\n"
          "      --calib-tokens N  tokens of FILE used, 2..1000000 (default: 4096)\n"
          "      --target-bpw B    mixed precision instead of --type: one standard type per\n"
          "                        matrix of the blocks, chosen by its activation-weighted\n"
          "                        quantization error on --calib FILE's text, so that those\n"
          "                        matrices average B bits per weight or just under (within\n"
          "                        what their sizes allow); a B the types cannot reach is an\n"
          "                        error naming the range\n"
          "      --max-ppl-increase P%\n"
          "                        mixed precision with a quality target: the smallest\n"
          "                        --target-bpw mixture whose perplexity on --calib FILE's\n"
          "                        text is at most P % above the model's (encoders: whose\n"
          "                        embeddings of FILE's first 256 lines keep a mean cosine\n"
          "                        of at least 1 - P/100 to the model's), found by bisection\n"
          "                        over the bits per weight: at most 9 candidates, each\n"
          "                        written, loaded and measured; a P even the largest\n"
          "                        mixture misses is an error, and nothing is written\n"
          "      --mix-types LIST  the types a mixture may use (default: MXFP4, Q4_0, Q4_K,\n"
          "                        Q4_1, Q5_0, Q5_K, Q5_1, Q6_K, Q8_0), e.g. Q4_0,Q8_0\n"
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr quantize -m all-MiniLM-L6-v2 --type Q8_0 -o minilm-q8_0.gguf\n"
          "  xfmr quantize -m SmolLM2-135M-Instruct --type Q4_K\n"
          "  xfmr quantize -m all-MiniLM-L6-v2 --target-bpw 4.5 --calib calib.txt -o minilm-mix45.gguf\n"
          "  xfmr quantize -m SmolLM2-135M-Instruct --max-ppl-increase 2% --calib calib.txt\n"
          "  xfmr embed -m minilm-q8_0.gguf texts.txt\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

/* NAME-TYPE.gguf: NAME the last component of the model path without a trailing '/' or ".gguf". */
static char *default_output(const char *model, const char *type) {
    size_t end = strlen(model), start;
    while (end > 1 && model[end - 1] == '/') end--;
    for (start = end; start > 0 && model[start - 1] != '/'; start--) {}
    if (end - start > 5 && !strncmp(model + end - 5, ".gguf", 5)) end -= 5;
    const size_t n = end - start + strlen(type) + 7;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%.*s-%s.gguf", (int)(end - start), model + start, type);
    return out;
}

int cmd_quantize(int argc, char **argv) {
    cli_parser p;
    cli_parser_init(&p, "quantize", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *arg, *out = NULL, *type = NULL, *calib = NULL, *mix_types = NULL;
    double target_bpw = 0, max_ppl = 0;
    long calib_tokens = 0;
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
        case CLI_HELP: cmd_quantize_help(stdout); return CLI_EXIT_OK;
        case CLI_ARG: mo.model = arg, n_models++; break;
        case OPT_OUTPUT: out = arg; break;
        case OPT_TYPE: type = arg; break;
        case OPT_PURE: sp.quantize_pure = 1; break;
        case OPT_CALIB: calib = arg; break;
        case OPT_TARGET_BPW:
            if (cli_parse_double("quantize", "--target-bpw", arg, &target_bpw)) return CLI_EXIT_USAGE;
            if (!(target_bpw > 0 && target_bpw < 64))
                return cli_usage_error("quantize", "--target-bpw %s is no number of bits per weight", arg);
            break;
        case OPT_MIX_TYPES: mix_types = arg; break;
        case OPT_MAX_PPL: {
            char num[64];
            size_t len = strlen(arg);
            if (len && arg[len - 1] == '%') len--;
            if (len >= sizeof num) return cli_usage_error("quantize", "--max-ppl-increase %s is no percentage", arg);
            memcpy(num, arg, len);
            num[len] = '\0';
            if (cli_parse_double("quantize", "--max-ppl-increase", num, &max_ppl)) return CLI_EXIT_USAGE;
            if (!(max_ppl > 0 && max_ppl < 1e6))
                return cli_usage_error("quantize", "--max-ppl-increase %s is no percentage above 0 (e.g. 2%%)", arg);
            break;
        }
        case OPT_CALIB_TOKENS:
            if (cli_parse_int("quantize", "--calib-tokens", arg, 2, 1000000, &calib_tokens)) return CLI_EXIT_USAGE;
            break;
        }
    }
    if (n_models > 1) return cli_usage_error("quantize", "expected one MODEL");
    if (max_ppl > 0 && (type || target_bpw > 0))
        return cli_usage_error("quantize", "--max-ppl-increase chooses the types and the size itself: give it without %s",
                               type ? "--type" : "--target-bpw");
    if (max_ppl > 0 && !calib)
        return cli_usage_error("quantize", "--max-ppl-increase needs --calib FILE: the text each candidate is measured on");
    if (max_ppl > 0 && sp.quantize_pure) return cli_usage_error("quantize", "--pure is for --type, not --max-ppl-increase");
    if (target_bpw > 0 && type)
        return cli_usage_error("quantize", "--target-bpw chooses the types itself: give it or --type, not both");
    if (mix_types && !(target_bpw > 0) && !(max_ppl > 0))
        return cli_usage_error("quantize", "--mix-types needs --target-bpw or --max-ppl-increase");
    if (target_bpw > 0 && !calib)
        return cli_usage_error("quantize", "--target-bpw needs --calib FILE: calibration text to weigh each matrix's error");
    if (target_bpw > 0 && sp.quantize_pure) return cli_usage_error("quantize", "--pure is for --type, not --target-bpw");
    if (!type && !(target_bpw > 0) && !(max_ppl > 0))
        return cli_usage_error("quantize", "give the type to quantize to with --type (one of " TYPES "), --target-bpw or "
                               "--max-ppl-increase");
    static const char *const known[] = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "MXFP4", "FP4S", "FP8S"};
    const char *canon = NULL;
    for (size_t i = 0; type && i < sizeof known / sizeof known[0] && !canon; i++)
        if (!strcasecmp(known[i], type)) canon = known[i];
    if (type && !canon) return cli_usage_error("quantize", "unknown --type '%s'; valid types: " TYPES, type);
    sp.quantize = canon;
    char mix_name[32];
    if (target_bpw > 0) {
        snprintf(mix_name, sizeof mix_name, "mix%g", target_bpw);
        canon = mix_name;
        sp.target_bpw = target_bpw;
        sp.mix_types = mix_types;
    } else if (max_ppl > 0) {
        snprintf(mix_name, sizeof mix_name, "ppl%g", max_ppl);
        canon = mix_name;
        sp.max_ppl_increase = max_ppl;
        sp.mix_types = mix_types;
    }
    if (out && !*out) return cli_usage_error("quantize", "-o needs a file name");
    if (calib && !sp.target_bpw && !sp.max_ppl_increase && strcmp(canon, "Q4_0") && strcmp(canon, "FP4S") && strcmp(canon, "FP8S"))
        return cli_usage_error("quantize", "--calib searches Q4_0, FP4S or FP8S blocks: use it with --type Q4_0, FP4S or FP8S, not %s",
                               canon);
    char *calib_text = NULL;
    size_t calib_len = 0;
    if (calib && cli_read_file(calib, &calib_text, &calib_len)) return CLI_EXIT_FAIL;
    sp.calib_text = calib_text;
    sp.calib_max_tokens = (size_t)calib_tokens;
    char *own_out = NULL;
    if (!out && !(out = own_out = default_output(mo.model ? mo.model : CLI_DEFAULT_ENCODER, canon))) {
        free(calib_text);
        return cli_usage_error("quantize", "out of memory");
    }
    int rc = cli_check_output("quantize", out);
    xf_model *model = NULL;
    if (!rc) rc = cli_load_model(&mo, 0, &model);
    if (!rc) rc = cli_save_gguf(model, out, &sp);
    xf_model_free(model);
    free(own_out);
    free(calib_text);
    return rc;
}
