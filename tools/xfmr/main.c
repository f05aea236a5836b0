/* main.c — entry point of the xfmr command-line tool: dispatches to the subcommands and
 * handles the global --help, --version and `help CMD`. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_command COMMANDS[] = {
    {"embed", "embed texts (one per line) into vectors: JSON lines or .npy", cmd_embed,
     cmd_embed_help},
    {"tokenize", "show the token ids / tokens of texts", cmd_tokenize, cmd_tokenize_help},
    {"similarity", "cosine similarity of two texts, or of all lines of a file", cmd_similarity,
     cmd_similarity_help},
    {"info", "describe a model: architecture, sizes, pooling, parameters, files", cmd_info,
     cmd_info_help},
    {"generate", "generate text from a prompt with a decoder model (" CLI_DECODER_ARCHS ")",
     cmd_generate, cmd_generate_help},
    {"chat", "chat with an instruction-tuned decoder model, multi-turn", cmd_chat, cmd_chat_help},
    {"perplexity", "perplexity of a decoder model on a text file (sliding window)",
     cmd_perplexity, cmd_perplexity_help},
    {"eval", "measure a model: retrieval, perplexity, agreement, passkey/needle; with its cost",
     cmd_eval, cmd_eval_help},
    {"index", "index text, Markdown and HTML files for semantic search (SQLite, PostgreSQL)",
     cmd_index, cmd_index_help},
    {"search", "search an index made by `xfmr index` for the chunks closest to a query",
     cmd_search, cmd_search_help},
    {"convert", "write a model as one GGUF file (llama.cpp loads it, xfmr reloads it exactly)",
     cmd_convert, cmd_convert_help},
    {"serve", "serve models over HTTP: OpenAI- and TEI-compatible API, batched across requests",
     cmd_serve, cmd_serve_help},
    {"quantize", "write a model with its weights quantized to a GGUF type (Q4_0, Q4_K, MXFP4, ...)",
     cmd_quantize, cmd_quantize_help},
    {"classify", "label texts or text pairs with a sequence classifier (labels from config.json)",
     cmd_classify, cmd_classify_help},
    {"rerank", "sort documents by a cross-encoder's relevance to a query", cmd_rerank, cmd_rerank_help},
    {"compress", "prune heads, slice FFNs, 2:4-sparsify (and quantize) a model into one GGUF file",
     cmd_compress, cmd_compress_help},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static const cli_command *find_command(const char *name) {
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (!strcmp(COMMANDS[k].name, name)) return &COMMANDS[k];
    return NULL;
}

static void main_help(FILE *f) {
    fputs("usage: xfmr COMMAND [OPTIONS] [ARGS]\n"
          "       xfmr --help | --version | help COMMAND\n"
          "\n"
          "xfmr runs Transformer models on the CPU from a Hugging Face model folder or a GGUF\n"
          "file: text-embedding models (sentence-transformers / BERT family; default\n"
          CLI_DEFAULT_ENCODER ") and decoder language models (" CLI_DECODER_ARCHS ";\n"
          "default " CLI_DEFAULT_DECODER ") for generation, chat and perplexity.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t k = 0; k < N_COMMANDS; k++)
        fprintf(f, "  %-11s %s\n", COMMANDS[k].name, COMMANDS[k].summary);
    fputs("\n"
          "Options:\n"
          "  -h, --help      show this help (or `xfmr COMMAND --help` for a command)\n"
          "  -V, --version   show the version\n"
          "\n"
          "Examples:\n"
          "  xfmr embed -m all-MiniLM-L6-v2 texts.txt > vectors.jsonl\n"
          "  xfmr embed -o vectors.npy texts.txt\n"
          "  xfmr similarity \"A man is eating food.\" \"A man eats bread.\"\n"
          "  xfmr tokenize --text \"Hello world\" --tokens\n"
          "  xfmr info all-MiniLM-L6-v2\n"
          "  xfmr generate --chat -p \"What is the capital of France?\"\n"
          "  xfmr generate -m " CLI_DEFAULT_DECODER " -p \"Once upon a time\" --temperature 0\n"
          "  xfmr chat\n"
          "  xfmr perplexity -m " CLI_DEFAULT_DECODER " wiki.test.raw\n"
          "  xfmr eval -m all-MiniLM-L6-v2 --task retrieval\n"
          "  xfmr index --db docs.db /usr/share/doc/python3.11/html/library\n"
          "  xfmr search --db docs.db \"how do I join two paths\"\n"
          "  xfmr convert -m all-MiniLM-L6-v2 -o minilm.gguf\n"
          "  xfmr serve -m all-MiniLM-L6-v2 -m " CLI_DEFAULT_DECODER " --port 8080\n"
          "\n",
          f);
    cli_help_models(f);
    fputs("\n"
          "Environment:\n"
          "  XF_ISA=scalar|avx2|avxvnni|avx512  run a lower instruction set's kernels than the CPU's\n"
          "                  (for comparisons; avx512 leaves AMX out, avx2 AVX-VNNI)\n"
          "  XF_I8_EXACT=1   --weights int8 on a CPU without VNNI: 8-bit activations (the bits of\n"
          "                  the VNNI machines) instead of the faster 7-bit default\n"
          "  XFMR_MODELS, XFMR_EVAL_DATA, XFMR_API_KEY: see above, `eval --help`, `serve --help`\n"
          "\n",
          f);
    cli_help_exit_codes(f);
}

/* The kernels' environment variables, checked before any command runs: a misspelt value would
 * otherwise be ignored silently and a comparison run on the wrong kernels. */
static int check_environment(void) {
    static const char *const isas[] = {"scalar", "avx2", "avxvnni", "avx512"};
    const char *isa = getenv("XF_ISA"), *exact = getenv("XF_I8_EXACT");
    if (isa && *isa) {
        int ok = 0;
        for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) ok |= !strcmp(isa, isas[k]);
        if (!ok) return cli_usage_error(NULL, "XF_ISA='%s' is not one of scalar, avx2, avxvnni, avx512", isa);
    }
    if (exact && *exact && strcmp(exact, "0") && strcmp(exact, "1"))
        return cli_usage_error(NULL, "XF_I8_EXACT='%s' is not 0 or 1", exact);
    return CLI_EXIT_OK;
}

static int version(void) {
    if (strcmp(xf_version(), XFMR_VERSION))
        printf("xfmr %s (library %s)\n", XFMR_VERSION, xf_version());
    else
        printf("xfmr %s\n", XFMR_VERSION);
    printf("cpu: %s\n", xf_cpu_features()); /* the kernels this machine runs (XF_ISA lowers them) */
    return CLI_EXIT_OK;
}

static int help_command(int argc, char **argv) {
    if (argc < 3) {
        main_help(stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 3) return cli_usage_error("help", "expected one command name");
    const cli_command *c = find_command(argv[2]);
    if (!c) return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
    c->help(stdout);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        main_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *a = argv[1];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
        main_help(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(a, "-V") || !strcmp(a, "--version")) return version();
    if (!strcmp(a, "help")) return help_command(argc, argv);
    const int env = check_environment();
    if (env != CLI_EXIT_OK) return env;
    const cli_command *c = find_command(a);
    if (!c) {
        if (a[0] == '-') return cli_usage_error(NULL, "unknown option '%s'", a);
        return cli_usage_error(NULL, "unknown command '%s' (commands: embed, tokenize, "
                                     "similarity, info, generate, chat, perplexity, eval, index, "
                                     "search, convert, serve, quantize, classify, rerank)", a);
    }
    int rc = c->run(argc - 1, argv + 1);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) rc = cli_error("cannot write the output");
    return rc;
}
