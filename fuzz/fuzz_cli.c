/* fuzz_cli.c — libFuzzer harness: the xfmr command-line tool's own parsers. Byte 0 picks:
 *   even: the rest is an input file of texts, read line by line (cli_lines_*: counting, CRLF,
 *         NUL bytes, long lines) and all at once (cli_read_all_lines);
 *   odd:  the rest, split at NUL bytes, is an argument vector for the option parser (cli_next:
 *         long/short options, "--opt=value", "--", bundled flags), whose option values go
 *         through cli_parse_int and cli_parse_double. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz_common.h"

#define MAX_ARGS 64

static void lines(const uint8_t *data, size_t size) {
    const char *path = fz_write("input.txt", data, size);
    cli_lines r;
    if (cli_lines_open(&r, path) == 0) {
        long long n = cli_lines_count(&r), got = 0;
        const char *line;
        size_t len;
        int rc;
        while ((rc = cli_lines_next(&r, &line, &len)) == 1) {
            if (line[len] != '\0') __builtin_trap();
            got++;
        }
        if (rc == 0 && n >= 0 && got != n) __builtin_trap();
        cli_lines_close(&r);
    }
    cli_texts t;
    if (cli_read_all_lines(path, &t) == 0) cli_texts_free(&t);
}

static void args(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf) abort();
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = "fuzz";
    for (size_t i = 0; i <= size && argc < MAX_ARGS; i += strlen(buf + i) + 1) argv[argc++] = buf + i;
    argv[argc] = NULL;
    static const cli_opt opts[] = {
        CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_MAX_LENGTH, {1, 'n', "count", 1},
        {2, 't', "temperature", 1}, {3, 'q', "quiet", 0}, {4, 0, "json", 0},
    };
    cli_parser p;
    cli_parser_init(&p, "fuzz", argc, argv, opts, sizeof opts / sizeof opts[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *arg;
    int id;
    while ((id = cli_next(&p, &arg)) != CLI_DONE && id != CLI_BAD && id != CLI_HELP) {
        long l;
        double d;
        if (id == CLI_ARG) {
            if (!arg) __builtin_trap();
        } else if (cli_model_option(&p, id, arg, &mo) != 0) {
            continue;
        } else if (id == 1) {
            (void)cli_parse_int("fuzz", p.optname, arg, -5, 1000000, &l);
        } else if (id == 2) {
            (void)cli_parse_double("fuzz", p.optname, arg, &d);
        } else if (arg) {
            __builtin_trap(); /* flags take no value */
        }
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1) args(data + 1, size - 1);
    else lines(data + 1, size - 1);
    return 0;
}
