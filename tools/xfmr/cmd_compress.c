/* cmd_compress.c — `xfmr compress`: structural compression of a model (xf_model_compress: Pre-LN ->
 * Pre-RMSNorm, head pruning, FFN slicing, low-rank FFNs, 2:4 sparsity), optionally with GGUF
 * quantization on saving, written as one GGUF file xfmr reloads (docs/COMPRESSION.md). */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

enum { OPT_OUTPUT = 1, OPT_METHOD, OPT_HEADS, OPT_FFN, OPT_RANK, OPT_SPARSE_METHOD, OPT_CALIB, OPT_CALIB_TOKENS, OPT_OUTTYPE, OPT_SPARSE_HEAD };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_WEIGHTS, CLI_OPTS_THREADS, {OPT_OUTPUT, 'o', "output", 1}, {OPT_METHOD, 0, "method", 1},
    {OPT_HEADS, 0, "heads-prune", 1}, {OPT_FFN, 0, "ffn-keep", 1}, {OPT_RANK, 0, "rank", 1},
    {OPT_SPARSE_METHOD, 0, "sparsity-method", 1}, {OPT_CALIB, 0, "calib", 1}, {OPT_CALIB_TOKENS, 0, "calib-tokens", 1},
    {OPT_OUTTYPE, 0, "outtype", 1}, {OPT_SPARSE_HEAD, 0, "sparse-head", 0},
};

static const char *const k_quant[] = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "MXFP4"};
#define N_QUANT (sizeof k_quant / sizeof k_quant[0])

void cmd_compress_help(FILE *f) {
    fputs("usage: xfmr compress [MODEL | -m MODEL] --method METHOD[,METHOD...] [options]\n"
          "                     [--calib FILE] -o OUT.gguf\n"
          "\n"
          "Compress MODEL — a Hugging Face folder or a GGUF file — and write it as one GGUF file\n"
          "that xfmr loads (`xfmr eval` measures it). Methods run in this order, each on the\n"
          "model the previous ones left, calibrated on --calib FILE's text where they need it:\n"
          "\n"
          "  rmsnorm   GPT-2 style Pre-LN -> Pre-RMSNorm, exact: the residual stream recentred,\n"
          "            LayerNorm gains and biases folded into the next linear layers\n"
          "  heads     remove the least important attention heads of each layer (--heads-prune);\n"
          "            importance: the output norm of each head's contribution over FILE;\n"
          "            a key/value head goes only with its whole query group\n"
          "  ffn       keep the most important FFN neurons of each layer (--ffn-keep; nested,\n"
          "            MatFormer-style slicing): mean |activation| x ||W_down column|| over FILE\n"
          "  lowrank   each FFN matrix as its best rank-r approximation on FFN inputs of FILE\n"
          "            (activation-aware SVD), r giving the parameters of --ffn-keep's slice or\n"
          "            --rank (stored multiplied out, as a dense matrix, in this version)\n"
          "  2:4       2:4 sparsity of the blocks' linear weights (also: sparse), by magnitude,\n"
          "            wanda or sparsegpt (--sparsity-method), written compressed: the kept\n"
          "            values and 2-bit indices (xfmr's GGUF types S24*, which only xfmr loads;\n"
          "            --outtype dense: float rows with their zeros, for llama.cpp)\n"
          "  q8, q4    with 2:4: the kept values in 8 bits (a scale per row) or 4 bits (a scale\n"
          "            per 16 values; inputs a multiple of 32), e.g. --method 2:4,q4\n"
          "  Q8_0 ... quantize the weight matrices on saving, as `xfmr quantize --type` (one of\n"
          "            Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, MXFP4)\n"
          "\n"
          "The file is written under a temporary name beside OUT.gguf and renamed at the end.\n"
          "Pruned layers are written with their own head counts and widths (per-layer GGUF\n"
          "arrays; query-head groups of unequal size under an \"xfmr-\" architecture name that\n"
          "other readers refuse).\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_option(f, CLI_DEFAULT_ENCODER);
    fputs("  -o, --output FILE     the GGUF file to write (required; replaced if it exists)\n"
          "      --method LIST     methods, comma-separated (required), e.g. heads,ffn or heads,Q8_0\n"
          "      --heads-prune F   fraction of each layer's query heads removed, 0 <= F < 1\n"
          "                        (round(F x heads), at least one kept), or one per layer:\n"
          "                        0.5,0.25,0,...\n"
          "      --ffn-keep F      fraction of each layer's FFN neurons kept, 0 < F <= 1, or one\n"
          "                        per layer (Mix'n'Match)\n"
          "      --rank R          lowrank: this rank for every FFN matrix (at most min(rows, cols))\n"
          "      --sparsity-method M  magnitude (default), wanda or sparsegpt, for 2:4\n"
          "      --sparse-head     with 2:4: the LM head 2:4 too, by the same method and kept\n"
          "                        values (a head tied to the embedding is untied and written\n"
          "                        as output.weight; default: dense head; decoders only)\n"
          "      --calib FILE      calibration text (heads, ffn, lowrank, wanda, sparsegpt)\n"
          "      --calib-tokens N  tokens of FILE used, 2..1000000 (default: 4096)\n"
          "      --outtype TYPE    f32 (default), f16 for the float weights written, or dense\n"
          "                        (f32, and 2:4 weights as float rows with their zeros)\n"
          "      --threads N       compute threads of the calibration passes (default: all)\n",
          f);
    fputs(CLI_HELP_WEIGHTS
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr compress -m all-MiniLM-L6-v2 --method heads --heads-prune 0.25 \\\n"
          "      --calib calib.txt -o minilm-heads25.gguf\n"
          "  xfmr compress -m SmolLM2-135M-Instruct --weights f32 --method ffn,Q8_0 \\\n"
          "      --ffn-keep 0.75 --calib calib.txt -o smollm2-ffn75-q8.gguf\n"
          "  xfmr compress -m SmolLM2-135M-Instruct --method 2:4,q8 --sparse-head -o smollm2-s24q8.gguf\n"
          "  xfmr eval -m minilm-heads25.gguf --task retrieval\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

/* "F" or "F,F,..." into *one or a list (*list, *n; free()). */
static int parse_fracs(const char *opt, const char *s, float *one, float **list, size_t *n) {
    free(*list);
    *list = NULL, *n = 0;
    if (!strchr(s, ',')) {
        double v;
        if (cli_parse_double("compress", opt, s, &v)) return -1;
        *one = (float)v;
        return 0;
    }
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    if (!(*list = malloc(cap * sizeof **list))) return cli_usage_error("compress", "out of memory"), -1;
    char buf[64];
    for (const char *p = s;; p++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= sizeof buf) return cli_usage_error("compress", "%s: value %zu is too long", opt, *n + 1), -1;
        memcpy(buf, p, len), buf[len] = 0;
        double v;
        if (cli_parse_double("compress", opt, buf, &v)) return -1;
        (*list)[(*n)++] = (float)v;
        if (!e) break;
        p = e;
    }
    return 0;
}

/* Split LIST into the library's methods (*lib, malloc'ed) and at most one GGUF type (*quant). */
static int split_methods(const char *list, char **lib, const char **quant) {
    *lib = calloc(strlen(list) + 1, 1);
    if (!*lib) return cli_usage_error("compress", "out of memory"), -1;
    for (const char *p = list;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *q = NULL;
        for (size_t k = 0; k < N_QUANT; k++)
            if (strlen(k_quant[k]) == len && !strncasecmp(p, k_quant[k], len)) q = k_quant[k];
        if (q) {
            if (*quant) return cli_usage_error("compress", "--method: two quantization types (%s, %s)", *quant, q), -1;
            *quant = q;
        } else {
            if (**lib) strcat(*lib, ",");
            strncat(*lib, p, len);
        }
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static void on_progress(void *user, const char *stage, size_t done, size_t total) {
    cli_progress *p = user;
    if (p->what != stage) {
        if (p->what) cli_progress_finish(p, p->total);
        cli_progress_start(p, stage, total, 0);
        p->unit = "layers";
    }
    cli_progress_update(p, done);
}

int cmd_compress(int argc, char **argv) {
    cli_parser p;
    cli_parser_init(&p, "compress", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *arg, *out = NULL, *methods = NULL, *calib = NULL, *quant = NULL;
    long calib_tokens = 0, rank = 0;
    int id, n_models = 0, rc = CLI_EXIT_USAGE;
    float *heads = NULL, *ffn = NULL;
    char *lib = NULL, *calib_text = NULL;
    xf_model *model = NULL;
    xf_compress_params cp = xf_compress_default_params();
    xf_save_params sp = xf_save_default_params();
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        int shared = cli_model_option(&p, id, arg, &mo);
        if (shared < 0 || id == CLI_BAD) goto done;
        if (shared) {
            n_models += id == CLI_OPT_MODEL;
            continue;
        }
        switch (id) {
        case CLI_HELP: cmd_compress_help(stdout); rc = CLI_EXIT_OK; goto done;
        case CLI_ARG: mo.model = arg, n_models++; break;
        case OPT_OUTPUT: out = arg; break;
        case OPT_METHOD: methods = arg; break;
        case OPT_HEADS:
            if (parse_fracs("--heads-prune", arg, &cp.heads_prune, &heads, &cp.n_heads_prune_layers)) goto done;
            break;
        case OPT_FFN:
            if (parse_fracs("--ffn-keep", arg, &cp.ffn_keep, &ffn, &cp.n_ffn_keep_layers)) goto done;
            break;
        case OPT_RANK:
            if (cli_parse_int("compress", "--rank", arg, 1, 1000000, &rank)) goto done;
            break;
        case OPT_SPARSE_METHOD:
            if (!strcmp(arg, "magnitude")) cp.sparse_method = XF_SPARSE_MAGNITUDE;
            else if (!strcmp(arg, "wanda")) cp.sparse_method = XF_SPARSE_WANDA;
            else if (!strcmp(arg, "sparsegpt")) cp.sparse_method = XF_SPARSE_SPARSEGPT;
            else {
                cli_usage_error("compress", "--sparsity-method must be magnitude, wanda or sparsegpt, not '%s'", arg);
                goto done;
            }
            break;
        case OPT_SPARSE_HEAD: cp.sparse_head = 1; break;
        case OPT_CALIB: calib = arg; break;
        case OPT_CALIB_TOKENS:
            if (cli_parse_int("compress", "--calib-tokens", arg, 2, 1000000, &calib_tokens)) goto done;
            break;
        case OPT_OUTTYPE:
            if (!strcmp(arg, "f32")) sp.outtype = XF_SAVE_F32;
            else if (!strcmp(arg, "f16")) sp.outtype = XF_SAVE_F16;
            else if (!strcmp(arg, "dense")) sp.outtype = XF_SAVE_DENSE;
            else {
                cli_usage_error("compress", "--outtype must be f32, f16 or dense, not '%s'", arg);
                goto done;
            }
            break;
        }
    }
    cp.heads_prune_layers = heads, cp.ffn_keep_layers = ffn;
    cp.lowrank_rank = (size_t)rank;
    if (n_models > 1) { cli_usage_error("compress", "expected one MODEL"); goto done; }
    if (!methods || !*methods) {
        cli_usage_error("compress", "give the methods with --method (rmsnorm, heads, ffn, lowrank, 2:4, or a GGUF type such as Q8_0)");
        goto done;
    }
    if (!out || !*out) { cli_usage_error("compress", "give the GGUF file to write with -o OUT.gguf"); goto done; }
    if (split_methods(methods, &lib, &quant)) goto done;
    sp.quantize = quant;
    if ((rc = cli_check_output("compress", out))) goto done;
    if (calib) {
        size_t len = 0;
        if (cli_read_file(calib, &calib_text, &len)) { rc = CLI_EXIT_FAIL; goto done; }
    }
    cp.methods = lib;
    cp.calib_text = calib_text;
    cp.calib_max_tokens = (size_t)calib_tokens;
    if ((rc = cli_load_model(&mo, 0, &model))) goto done;
    if (*lib) {
        cli_progress prog;
        memset(&prog, 0, sizeof prog);
        cp.progress = on_progress;
        cp.progress_user = &prog;
        xf_status st = xf_model_compress(model, &cp);
        if (prog.what) cli_progress_finish(&prog, prog.total);
        if (st) {
            rc = st == XF_ERR_INVALID_ARG || st == XF_ERR_RANGE ? (cli_error("%s", xf_errmsg()), CLI_EXIT_USAGE)
                                                                : cli_lib_error();
            goto done;
        }
    }
    rc = cli_save_gguf(model, out, &sp);
done:
    xf_model_free(model);
    free(heads), free(ffn), free(lib), free(calib_text);
    return rc;
}
