/* cmd_chat.c — `xfmr chat`: a multi-turn conversation with a decoder model. User lines come
 * from stdin (a terminal, or a file/pipe for scripts); every turn the whole conversation is
 * rendered with the chat template and tokenized, the session keeps the tokens it already holds
 * when they are a prefix of the new prompt, and the reply is streamed. Commands /help, /reset,
 * /exit; Ctrl-C stops a reply (and quits at the prompt), Ctrl-D quits. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const cli_opt OPTS[] = {CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS, CLI_OPTS_ROPE, CLI_OPTS_SPARSITY, CLI_OPTS_GEN};

#define CHAT_COMMANDS                                                                      \
    "  /help    show the commands\n"                                                       \
    "  /reset   forget the conversation (the --system message stays)\n"                    \
    "  /exit    quit (also /quit, end of input Ctrl-D, or Ctrl-C at the prompt)\n"          \
    "  Ctrl-C   while the model writes: stop the reply and return to the prompt\n"

void cmd_chat_help(FILE *f) {
    fputs("usage: xfmr chat [-m MODEL] [OPTIONS]\n"
          "\n"
          "Chat with an instruction-tuned decoder model (" CLI_DECODER_ARCHS "). Each line read\n"
          "from stdin is a user message (a banner and a prompt \"> \" are shown when stdin is a\n"
          "terminal); the reply is streamed to stdout and ends with a newline. The whole\n"
          "conversation is formatted with the model's chat template (or --chat-template NAME)\n"
          "every turn. Lines that are one word starting with '/' are commands, never sent to\n"
          "the model:\n" CHAT_COMMANDS
          "Empty lines are ignored. When the conversation no longer fits the context, the\n"
          "message is refused with an error and /reset starts over. A reply stopped with\n"
          "Ctrl-C stays in the conversation as far as it got.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_option(f, CLI_DEFAULT_DECODER);
    cli_help_gen_options(f, 0);
    fputs("  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr chat\n"
          "  xfmr chat -m " CLI_DEFAULT_DECODER " --temperature 0.7 --top-p 0.9 --verbose\n"
          "  xfmr chat -m path/to/qwen2.5-instruct.gguf --system \"Answer in one sentence.\"\n"
          "  printf 'hi\\n/exit\\n' | xfmr chat -m path/to/model-folder --chat-template chatml\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

typedef struct chat_args {
    cli_model_opts mo;
    cli_gen_opts go;
} chat_args;

static int parse(int argc, char **argv, chat_args *o) {
    cli_parser p;
    cli_parser_init(&p, "chat", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
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
        if (id == CLI_HELP) {
            cmd_chat_help(stdout);
            return -1;
        }
        if (id == CLI_ARG) return cli_usage_error("chat", "unexpected argument '%s'", arg);
    }
    return cli_gen_check("chat", &o->go) ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

typedef struct conv {
    xf_chat_message *msgs;
    char **owned; /* contents, freed with the conversation */
    size_t n, cap;
} conv;

static int conv_add(conv *c, const char *role, char *content) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        xf_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (m) c->msgs = m;
        char **o = m ? realloc(c->owned, cap * sizeof *o) : NULL;
        if (!o) {
            free(content);
            return cli_error("out of memory");
        }
        c->owned = o;
        c->cap = cap;
    }
    c->msgs[c->n] = (xf_chat_message){role, content};
    c->owned[c->n++] = content;
    return CLI_EXIT_OK;
}

static void conv_truncate(conv *c, size_t n) {
    while (c->n > n) free(c->owned[--c->n]);
}

/* One turn: render, encode, generate. On failure the user message is taken back. */
static int turn(cli_gen *g, const xf_chat_template *tmpl, conv *c, size_t n_before) {
    char *text = NULL, *reply = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = CLI_EXIT_OK;
    if (xf_chat_render(tmpl, c->msgs, c->n, 1, &text, NULL) != XF_OK) rc = cli_lib_error();
    if (!rc)
        rc = cli_encode_prompt(g->tok, text, strlen(text), xf_chat_template_adds_bos(tmpl), &ids, &n);
    if (!rc) rc = cli_gen_run(g, ids, n, stdout, &reply);
    if (!rc) {
        fputc('\n', stdout);
        fflush(stdout);
        rc = conv_add(c, "assistant", reply);
        if (g->interrupted) cli_note("reply stopped (Ctrl-C)");
    } else {
        free(reply);
    }
    if (rc) conv_truncate(c, n_before);
    free(ids);
    free(text);
    return rc;
}

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

/* Ctrl-C sets g_interrupted instead of ending the process; reads are not restarted, so that
 * Ctrl-C at the prompt ends the wait for input. */
static void catch_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

static void banner(const cli_gen_opts *o, const xf_model *m, const xf_chat_template *tmpl) {
    xf_model_info info = xf_model_info_init();
    xf_model_get_info(m, &info);
    fprintf(stderr, "xfmr chat: %s (%s, chat template %s)\nsampling: ", info.path ? info.path : "?",
            info.architecture ? info.architecture : "?", xf_chat_template_name(tmpl));
    cli_gen_describe(o, stderr);
    fputs("\nType a message and Enter. Commands:\n" CHAT_COMMANDS, stderr);
}

/* A line that is one word starting with '/' (a command): 1 handled (*quit set for /exit), 0 not
 * a command (a message). */
static int command(const char *line, size_t len, conv *c, size_t n_base, int tty, int *quit) {
    if (line[0] != '/' || strcspn(line, " \t") != len) return 0;
    if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) {
        *quit = 1;
    } else if (!strcmp(line, "/reset")) {
        conv_truncate(c, n_base);
        if (tty) cli_note("conversation reset");
    } else if (!strcmp(line, "/help")) {
        fputs("Commands:\n" CHAT_COMMANDS, stdout);
        fflush(stdout);
    } else {
        cli_error("unknown command '%s' (/help lists the commands)", line);
    }
    return 1;
}

int cmd_chat(int argc, char **argv) {
    chat_args o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    xf_model *m = NULL;
    if ((rc = cli_load_model(&o.mo, 1, &m))) return rc;
    cli_gen_sampling(&o.go, m);
    xf_chat_template *tmpl = NULL;
    cli_gen g;
    memset(&g, 0, sizeof g);
    cli_lines in;
    memset(&in, 0, sizeof in);
    conv c = {0};
    if (!(rc = cli_chat_template(m, o.go.chat_template, &tmpl)) &&
        !(rc = cli_gen_begin(&g, m, &o.go, tmpl)) && cli_lines_open_interactive(&in))
        rc = CLI_EXIT_FAIL;
    size_t n_base = 0;
    if (!rc && o.go.system) {
        char *s = strdup(o.go.system);
        rc = s ? conv_add(&c, "system", s) : cli_error("out of memory");
        n_base = c.n;
    }
    const int tty = isatty(fileno(stdin));
    if (!rc) {
        catch_sigint();
        g.interrupt = &g_interrupted;
        if (tty) banner(&o.go, m, tmpl);
        else if (o.go.verbose) {
            fputs("xfmr: sampling: ", stderr);
            cli_gen_describe(&o.go, stderr);
            fputc('\n', stderr);
        }
    }
    const char *line;
    size_t len;
    int quit = 0;
    while (!rc && !quit) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        g_interrupted = 0;
        int got = cli_lines_next(&in, &line, &len);
        if (got == CLI_LINES_INTERRUPTED) break; /* Ctrl-C at the prompt */
        if (got < 0) rc = CLI_EXIT_FAIL;
        if (got <= 0) break;
        if (len == 0 || strspn(line, " \t") == len) continue;
        if (command(line, len, &c, n_base, tty, &quit)) continue;
        if (strlen(line) != len) { /* NUL bytes: the template API takes C strings */
            cli_error("line %zu: NUL bytes are not accepted in a chat message", in.lineno);
            continue;
        }
        char *msg = strdup(line);
        size_t before = c.n;
        if (!msg || conv_add(&c, "user", msg)) {
            rc = cli_error("out of memory");
            break;
        }
        int trc = turn(&g, tmpl, &c, before);
        if (trc && !tty) rc = CLI_EXIT_FAIL; /* scripts: stop at an error */
        if (!trc && o.go.verbose) cli_gen_report(&g, &o.go);
    }
    if (tty && !rc) fputc('\n', stdout);
    conv_truncate(&c, 0);
    free(c.msgs);
    free(c.owned);
    if (in.rbuf) cli_lines_close(&in);
    cli_gen_end(&g);
    xf_chat_template_free(tmpl);
    xf_model_free(m);
    return rc;
}
