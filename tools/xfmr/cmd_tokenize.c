/* cmd_tokenize.c — `xfmr tokenize`: shows how a model's tokenizer splits texts (one per input
 * line, or --text), as token ids, token strings, or JSON with ids, tokens and type ids. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_TEXT = 1, OPT_PAIR, OPT_TOKENS, OPT_JSON, OPT_NO_SPECIAL, OPT_NULL };
enum { SHOW_IDS, SHOW_TOKENS, SHOW_JSON };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL,
    CLI_OPTS_MAX_LENGTH,
    {OPT_TEXT, 0, "text", 1},
    {OPT_PAIR, 0, "pair", 1},
    {OPT_TOKENS, 0, "tokens", 0},
    {OPT_JSON, 0, "json", 0},
    {OPT_NO_SPECIAL, 0, "no-special", 0},
    {OPT_NULL, '0', "null", 0},
};

void cmd_tokenize_help(FILE *f) {
    fputs("usage: xfmr tokenize [-m MODEL] [OPTIONS] [FILE | --text TEXT]\n"
          "\n"
          "Tokenize texts with the model's tokenizer (special tokens included) and print one\n"
          "line per text: the token ids separated by spaces (default), the token strings\n"
          "(--tokens), or a JSON object (--json). Texts are the lines of FILE (stdin when FILE\n"
          "is missing or '-'; same line rules as `xfmr embed`), or the single --text TEXT.\n"
          "Only the tokenizer is loaded, not the weights: the tokenizer.json of a model folder,\n"
          "or the tokenizer.ggml.* metadata of a GGUF file, as the other commands load it.\n"
          "\n"
          "Options:\n",
          f);
    cli_help_model_option(f, CLI_DEFAULT_ENCODER);
    fputs("      --text TEXT       tokenize TEXT instead of reading lines\n"
          "      --pair TEXT       a second sequence, encoded after each text (type id 1)\n"
          "      --max-length N    truncate to N tokens (special tokens included),\n"
          "                        1..1000000 (default: no truncation)\n"
          "      --no-special      leave out the special tokens the tokenizer adds around a\n"
          "                        text (BOS/EOS, [CLS]/[SEP]): Hugging Face's\n"
          "                        add_special_tokens=False\n"
          "  -0, --null            texts in FILE end with NUL bytes instead of newlines, so\n"
          "                        they may contain newlines (as xargs -0)\n"
          "      --tokens          print token strings instead of ids\n"
          "      --json            print {\"ids\": [...], \"tokens\": [...], \"type_ids\": [...]}\n"
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr tokenize --text \"Hello, world!\"\n"
          "  xfmr tokenize --tokens --text \"unaffable\"\n"
          "  xfmr tokenize --json --text \"a question\" --pair \"a passage\"\n"
          "  xfmr tokenize -m all-MiniLM-L6-v2 texts.txt > ids.txt\n"
          "  xfmr tokenize -m " CLI_DEFAULT_DECODER " --tokens --text \"Hello, world!\"\n"
          "\n",
          f);
    cli_help_models(f);
    fputc('\n', f);
    cli_help_exit_codes(f);
}

typedef struct tok_opts {
    cli_model_opts mo;
    const char *input, *text, *pair;
    int show, no_special, null_sep;
    size_t pre, post; /* --no-special: special ids the template puts before / after a text */
} tok_opts;

static void print_tokens(FILE *f, const xf_tokenizer *tok, const xf_encoding *e, int json) {
    if (json) fputc('[', f);
    for (size_t k = 0; k < e->n; k++) {
        const char *s = xf_tokenizer_id_to_token(tok, e->ids[k]);
        if (json) {
            if (k) fputs(", ", f);
            cli_json_string(f, s);
        } else {
            if (k) fputc(' ', f);
            if (s) fputs(s, f);
            else fprintf(f, "<%ld>", (long)e->ids[k]);
        }
    }
    if (json) fputc(']', f);
}

static void print_encoding(FILE *f, const xf_tokenizer *tok, const xf_encoding *e, int show) {
    switch (show) {
    case SHOW_IDS:
        for (size_t k = 0; k < e->n; k++) fprintf(f, k ? " %ld" : "%ld", (long)e->ids[k]);
        break;
    case SHOW_TOKENS: print_tokens(f, tok, e, 0); break;
    case SHOW_JSON:
        fputs("{\"ids\": ", f);
        cli_json_ints(f, e->ids, e->n);
        fputs(", \"tokens\": ", f);
        print_tokens(f, tok, e, 1);
        fputs(", \"type_ids\": ", f);
        cli_json_ints(f, e->type_ids, e->n);
        fputc('}', f);
        break;
    }
    fputc('\n', f);
}

static int encode_print(const xf_tokenizer *tok, const tok_opts *o, const char *text,
                        size_t len) {
    xf_encoding enc;
    memset(&enc, 0, sizeof enc);
    if (xf_tokenize(tok, text, len, o->pair, o->pair ? strlen(o->pair) : 0,
                    (size_t)o->mo.max_length, &enc) != XF_OK)
        return cli_lib_error();
    if (o->no_special) { /* drop the template's special ids around the text */
        size_t keep = enc.n >= o->pre + o->post ? enc.n - o->pre - o->post : 0;
        memmove(enc.ids, enc.ids + o->pre, keep * sizeof *enc.ids);
        memmove(enc.type_ids, enc.type_ids + o->pre, keep * sizeof *enc.type_ids);
        enc.n = keep;
    }
    print_encoding(stdout, tok, &enc, o->show);
    xf_encoding_free(&enc);
    return ferror(stdout) ? cli_error("cannot write the output") : CLI_EXIT_OK;
}

static int parse(int argc, char **argv, tok_opts *o) {
    cli_parser p;
    cli_parser_init(&p, "tokenize", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    memset(o, 0, sizeof *o);
    cli_model_opts_init(&o->mo);
    const char *arg;
    int id, n_inputs = 0, n_shows = 0;
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        int shared = cli_model_option(&p, id, arg, &o->mo);
        if (shared < 0 || id == CLI_BAD) return CLI_EXIT_USAGE;
        if (shared) continue;
        switch (id) {
        case CLI_HELP: cmd_tokenize_help(stdout); return -1;
        case CLI_ARG:
            if (n_inputs++) return cli_usage_error("tokenize", "expected at most one input FILE");
            o->input = arg;
            break;
        case OPT_TEXT: o->text = arg; break;
        case OPT_PAIR: o->pair = arg; break;
        case OPT_TOKENS: o->show = SHOW_TOKENS, n_shows++; break;
        case OPT_JSON: o->show = SHOW_JSON, n_shows++; break;
        case OPT_NO_SPECIAL: o->no_special = 1; break;
        case OPT_NULL: o->null_sep = 1; break;
        }
    }
    if (o->text && o->input)
        return cli_usage_error("tokenize", "give either FILE or --text, not both");
    if (n_shows > 1) return cli_usage_error("tokenize", "give at most one of --tokens, --json");
    if (o->no_special && o->pair) return cli_usage_error("tokenize", "--no-special works on single texts, not with --pair");
    if (o->no_special && o->mo.max_length)
        return cli_usage_error("tokenize", "--no-special cannot be combined with --max-length");
    if (o->null_sep && o->text) return cli_usage_error("tokenize", "--null is for FILE input, not --text");
    return CLI_EXIT_OK;
}

int cmd_tokenize(int argc, char **argv) {
    tok_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    cli_lines in;
    memset(&in, 0, sizeof in);
    if (!o.text && cli_lines_open(&in, o.input)) return CLI_EXIT_FAIL;
    in.null_sep = o.null_sep;
    char *path = cli_resolve_model(o.mo.model, o.mo.default_model);
    xf_tokenizer *tok = NULL;
    if (!path) rc = CLI_EXIT_FAIL;
    else if (xf_tokenizer_load_model(path, &tok) != XF_OK) rc = cli_lib_error();
    free(path);
    if (rc == CLI_EXIT_OK && o.no_special) rc = cli_added_specials(tok, &o.pre, &o.post);
    if (rc == CLI_EXIT_OK && o.text) {
        rc = encode_print(tok, &o, o.text, strlen(o.text));
    } else if (rc == CLI_EXIT_OK) {
        const char *line;
        size_t len;
        int got;
        while (rc == CLI_EXIT_OK && (got = cli_lines_next(&in, &line, &len)) != 0)
            rc = got < 0 ? CLI_EXIT_FAIL : encode_print(tok, &o, line, len);
    }
    xf_tokenizer_free(tok);
    if (!o.text) cli_lines_close(&in);
    return rc;
}
