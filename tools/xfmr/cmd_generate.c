/* cmd_generate.c — `xfmr generate`: continue a prompt (or answer it as a chat user turn with
 * --chat) with a decoder model, streaming the text as it is sampled, then the speed on stderr. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_PROMPT = 1, OPT_FILE, OPT_CHAT };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS, CLI_OPTS_ROPE, CLI_OPTS_PROBSPARSE, CLI_OPTS_SPARSITY, CLI_OPTS_GEN, {OPT_PROMPT, 'p', "prompt", 1},
    {OPT_FILE, 'f', "file", 1}, {OPT_CHAT, 0, "chat", 0},
};

void cmd_generate_help(FILE *f) {
    fputs("usage: xfmr generate [-m MODEL] (-p PROMPT | -f FILE) [OPTIONS]\n"
          "\n"
          "Generate text with a decoder model (" CLI_DECODER_ARCHS "): the prompt is tokenized\n"
          "(the special tokens the tokenizer appends after a text, such as an end-of-sequence\n"
          "marker, are left out), evaluated, and the continuation is sampled token by token and\n"
          "printed as it comes, followed by a newline; then one line on stderr gives the prompt\n"
          "and generation speed (tokens/s) and the seed. Generation stops at the model's\n"
          "end-of-sequence token (eos_token_id), at the chat template's end-of-turn token, at a\n"
          "--stop string, after --max-tokens tokens, or when the context is full.\n"
          "With --chat the prompt is the user message of a chat formatted with the model's chat\n"
          "template (tokenizer_config.json / GGUF), or with --chat-template NAME.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_option(f, CLI_DEFAULT_DECODER);
    fputs("  -p, --prompt PROMPT   the prompt text; '-' reads it from stdin\n"
          "  -f, --file FILE       read the prompt from FILE ('-' = stdin); one final newline\n"
          "                        of a file or stdin is dropped\n",
          f);
    cli_help_gen_options(f, 1);
    fputs("  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr generate --chat -p \"What is the capital of France?\"\n"
          "  xfmr generate -m " CLI_DEFAULT_DECODER " -p \"The capital of France is\" --temperature 0\n"
          "  xfmr generate --chat -f question.txt --temperature 0.7 --top-p 0.9 --seed 42\n"
          "  echo \"Write a haiku about C.\" | xfmr generate --chat -p -\n"
          "  xfmr generate -m path/to/model.gguf -p \"1, 2, 3,\" --max-tokens 20 --stop \"10\"\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

typedef struct gen_args {
    cli_model_opts mo;
    cli_gen_opts go;
    const char *prompt, *file;
    int chat;
} gen_args;

static int parse(int argc, char **argv, gen_args *o) {
    cli_parser p;
    cli_parser_init(&p, "generate", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    memset(o, 0, sizeof *o);
    cli_model_opts_init(&o->mo);
    o->mo.default_model = CLI_DEFAULT_DECODER;
    cli_gen_opts_init(&o->go);
    const char *arg;
    int id;
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        if (id == CLI_BAD) return CLI_EXIT_USAGE;
        int shared = cli_model_option(&p, id, arg, &o->mo);
        if (!shared) shared = cli_gen_option(&p, id, arg, &o->go);
        if (shared < 0) return CLI_EXIT_USAGE;
        if (shared) continue;
        switch (id) {
        case CLI_HELP: cmd_generate_help(stdout); return -1;
        case CLI_ARG: return cli_usage_error("generate", "unexpected argument '%s' (give the "
                                                         "prompt with -p)", arg);
        case OPT_PROMPT: o->prompt = arg; break;
        case OPT_FILE: o->file = arg; break;
        case OPT_CHAT: o->chat = 1; break;
        }
    }
    if (o->prompt && o->file) return cli_usage_error("generate", "give either -p or -f, not both");
    if (o->prompt && !strcmp(o->prompt, "-")) o->file = "-", o->prompt = NULL;
    if (!o->prompt && !o->file) return cli_usage_error("generate", "missing the prompt: -p PROMPT or -f FILE");
    if (!o->chat && (o->go.system || o->go.chat_template))
        return cli_usage_error("generate", "--system and --chat-template need --chat");
    return cli_gen_check("generate", &o->go) ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

/* The prompt of -f FILE / -p -: the file's bytes less one final "\n" (or "\r\n"). */
static int read_prompt(const char *path, int chat, char **out, size_t *len) {
    int rc = cli_read_file(path, out, len);
    if (rc) return rc;
    if (*len && (*out)[*len - 1] == '\n') (*out)[--*len] = '\0';
    if (*len && (*out)[*len - 1] == '\r') (*out)[--*len] = '\0';
    if (chat && strlen(*out) != *len) {
        free(*out);
        *out = NULL;
        return cli_error("'%s' holds NUL bytes: not accepted in a chat message", path);
    }
    return CLI_EXIT_OK;
}

int cmd_generate(int argc, char **argv) {
    gen_args o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    char *from_file = NULL;
    size_t prompt_len = o.prompt ? strlen(o.prompt) : 0;
    if (o.file && (rc = read_prompt(o.file, o.chat, &from_file, &prompt_len))) return rc;
    const char *prompt = from_file ? from_file : o.prompt;
    xf_model *m = NULL;
    if ((rc = cli_load_model(&o.mo, 1, &m))) {
        free(from_file);
        return rc;
    }
    cli_gen_sampling(&o.go, m);
    if (o.go.verbose) {
        fputs("xfmr: sampling: ", stderr);
        cli_gen_describe(&o.go, stderr);
        fputc('\n', stderr);
    }
    xf_chat_template *tmpl = NULL;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    cli_gen g;
    memset(&g, 0, sizeof g);
    if (o.chat && !(rc = cli_chat_template(m, o.go.chat_template, &tmpl))) {
        xf_chat_message msgs[2];
        size_t k = 0;
        if (o.go.system) msgs[k++] = (xf_chat_message){"system", o.go.system};
        msgs[k++] = (xf_chat_message){"user", prompt};
        if (xf_chat_render(tmpl, msgs, k, 1, &text, NULL) != XF_OK) rc = cli_lib_error();
    }
    if (!rc)
        rc = cli_encode_prompt(xf_model_tokenizer(m), text ? text : prompt, text ? strlen(text) : prompt_len,
                               tmpl && xf_chat_template_adds_bos(tmpl), &ids, &n);
    if (!rc) rc = cli_gen_begin(&g, m, &o.go, tmpl);
    if (!rc) {
        rc = cli_gen_run(&g, ids, n, stdout, NULL);
        if (!rc) {
            fputc('\n', stdout);
            cli_gen_report(&g, &o.go);
        }
    }
    cli_gen_end(&g);
    free(ids);
    free(text);
    free(from_file);
    xf_chat_template_free(tmpl);
    xf_model_free(m);
    return rc;
}
