/* cmd_search.c — `xfmr search`: the best chunks of an index (`xfmr index`) for a query, as text
 * or JSON, through the library's xf_search; one query from the command line or many from a
 * file (--queries, one per line, JSON lines out). */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SNIPPET_COLS 240

enum { OPT_DB = 1, OPT_K, OPT_JSON, OPT_EXACT, OPT_EF, OPT_RERANK, OPT_QUERIES };

static const cli_opt OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS,
    {OPT_DB, 0, "db", 1},
    {OPT_K, 'k', "top-k", 1},
    {OPT_JSON, 0, "json", 0},
    {OPT_EXACT, 0, "exact", 0},
    {OPT_EF, 0, "ef-search", 1},
    {OPT_RERANK, 0, "rerank", 1},
    {OPT_QUERIES, 0, "queries", 1},
};

void cmd_search_help(FILE *f) {
    fputs("usage: xfmr search --db STORE [OPTIONS] QUERY...\n"
          "       xfmr search --db STORE [OPTIONS] --queries FILE\n"
          "\n"
          "Find the chunks of an index (made by `xfmr index`) closest in meaning to a query:\n"
          "the query is embedded with the index's model and compared by cosine similarity.\n"
          "The words of QUERY... are joined with spaces. Each result shows its score, the file\n"
          "with the section anchor (HTML) and source lines, the heading path and the text.\n"
          "\n"
          "Options:\n"
          "      --db STORE        the index: a SQLite file or a postgresql:// URI (required)\n"
          "  -k, --top-k N         results per query, 1..10000 (default 10)\n"
          "      --json            JSON output: {\"query\": ..., \"results\": [{\"rank\", \"score\",\n"
          "                        \"path\", \"anchor\", \"heading\", \"line_start\", \"line_end\",\n"
          "                        \"text\", \"chunk_id\"}, ...]}\n"
          "      --queries FILE    one query per line of FILE ('-' = stdin); one JSON object\n"
          "                        per query and line (JSON lines)\n"
          "      --exact           PostgreSQL: exact scan instead of the HNSW index (SQLite\n"
          "                        always searches exactly)\n"
          "      --ef-search N     PostgreSQL HNSW search breadth, 1..1000 (default max(200, 4k))\n"
          "      --rerank MODEL    re-rank with a cross-encoder: not available yet\n"
          "  -m, --model MODEL     the model to embed queries with (default: the one the index\n"
          "                        was built with; another one is refused)\n"
          "      --threads N       compute threads (default: the CPUs usable)\n"
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr search --db docs.db \"how do I join two paths\"\n"
          "  xfmr search --db docs.db -k 3 --json \"parse command-line options\"\n"
          "  xfmr search --db postgresql://me@localhost/search --queries questions.txt\n"
          "\n",
          f);
    cli_help_exit_codes(f);
}

/* The text in one line: whitespace runs as one space, cut after SNIPPET_COLS characters. */
static void print_snippet(const char *s) {
    size_t cols = 0;
    int space = 0;
    for (; *s && cols < SNIPPET_COLS; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == 0x7f) {
            space = cols > 0;
            continue;
        }
        if (space) putchar(' '), cols++;
        space = 0;
        putchar(c);
        if ((c & 0xC0) != 0x80) cols++;
    }
    if (*s) fputs("...", stdout);
}

static void print_text(const char *query, const xf_search_hit *h, size_t n) {
    if (n == 0) printf("no results for \"%s\" (is the index empty?)\n", query);
    for (size_t i = 0; i < n; i++) {
        printf("%2zu. %.4f  %s%s%s", i + 1, (double)h[i].score, h[i].path, h[i].anchor[0] ? "#" : "", h[i].anchor);
        if (h[i].line_start)
            printf(h[i].line_end > h[i].line_start ? " (lines %u-%u)" : " (line %u)", h[i].line_start, h[i].line_end);
        putchar('\n');
        if (h[i].heading[0]) printf("    %s\n", h[i].heading);
        fputs("    ", stdout);
        print_snippet(h[i].text);
        putchar('\n');
    }
}

static void print_json(const char *query, const xf_search_hit *h, size_t n) {
    fputs("{\"query\": ", stdout);
    cli_json_string(stdout, query);
    fputs(", \"results\": [", stdout);
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"rank\": %zu, \"score\": %.7g, \"path\": ", i ? ", " : "", i + 1, (double)h[i].score);
        cli_json_string(stdout, h[i].path);
        fputs(", \"anchor\": ", stdout);
        cli_json_string(stdout, h[i].anchor);
        fputs(", \"heading\": ", stdout);
        cli_json_string(stdout, h[i].heading);
        printf(", \"line_start\": %u, \"line_end\": %u, \"text\": ", h[i].line_start, h[i].line_end);
        cli_json_string(stdout, h[i].text);
        printf(", \"chunk_id\": %lld}", (long long)h[i].chunk_id);
    }
    fputs("]}\n", stdout);
}

static int run_query(xf_index *ix, const char *q, const xf_search_params *sp, int json) {
    xf_search_hit *h = NULL;
    size_t n = 0;
    if (xf_search(ix, q, sp, &h, &n) != XF_OK) return cli_lib_error();
    if (json) print_json(q, h, n);
    else print_text(q, h, n);
    xf_search_hits_free(h, n);
    return CLI_EXIT_OK;
}

int cmd_search(int argc, char **argv) {
    cli_parser p;
    cli_parser_init(&p, "search", argc, argv, OPTS, sizeof OPTS / sizeof OPTS[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    xf_search_params sp = xf_search_default_params();
    const char *db = NULL, *queries = NULL, *rerank = NULL, *arg;
    int id, json = 0;
    long v;
    size_t qcap = 0, qlen = 0;
    char *query = NULL;
    int rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (id = cli_next(&p, &arg)) != CLI_DONE) {
        int shared = cli_model_option(&p, id, arg, &mo);
        if (shared < 0 || id == CLI_BAD) rc = CLI_EXIT_USAGE;
        if (shared || rc) continue;
        switch (id) {
        case CLI_HELP: cmd_search_help(stdout); free(query); return CLI_EXIT_OK;
        case CLI_ARG: { /* words of the query joined with spaces */
            size_t n = strlen(arg);
            if (qlen + n + 2 > qcap) {
                qcap = 2 * (qlen + n + 2);
                char *q = realloc(query, qcap);
                if (!q) {
                    rc = cli_error("out of memory");
                    break;
                }
                query = q;
            }
            if (qlen) query[qlen++] = ' ';
            memcpy(query + qlen, arg, n + 1);
            qlen += n;
            break;
        }
        case OPT_DB: db = arg; break;
        case OPT_K:
            if (cli_parse_int("search", "--top-k", arg, 1, 10000, &v)) rc = CLI_EXIT_USAGE;
            sp.k = (size_t)v;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_EXACT: sp.exact = 1; break;
        case OPT_EF:
            if (cli_parse_int("search", "--ef-search", arg, 1, 1000, &v)) rc = CLI_EXIT_USAGE;
            sp.ef_search = (size_t)v;
            break;
        case OPT_RERANK: rerank = arg; break;
        case OPT_QUERIES: queries = arg; break;
        }
    }
    if (!rc && !db) rc = cli_usage_error("search", "--db STORE is required (the index made by `xfmr index`)");
    if (!rc && !query && !queries) rc = cli_usage_error("search", "no query given");
    if (!rc && query && queries) rc = cli_usage_error("search", "give either a QUERY or --queries FILE");
    if (!rc && rerank)
        rc = cli_error("--rerank %s: reranking with a cross-encoder is not available yet (it comes with "
                       "cross-encoder support); search without --rerank", rerank);
    char *recorded = NULL;
    xf_model *model = NULL;
    xf_index *ix = NULL;
    if (!rc && cli_index_model(db, &recorded) != 0) rc = cli_lib_error();
    if (!rc && !mo.model) mo.model = recorded;
    if (!rc) rc = cli_load_model(&mo, 1, &model);
    xf_index_params ip = xf_index_default_params();
    ip.read_only = 1;
    if (!rc && xf_index_open(db, model, &ip, &ix) != XF_OK) rc = cli_lib_error();
    if (!rc && query) rc = run_query(ix, query, &sp, json);
    if (!rc && queries) {
        cli_lines in;
        if (cli_lines_open(&in, queries)) {
            rc = CLI_EXIT_FAIL;
        } else {
            const char *line;
            size_t len;
            int r = 0;
            while (!rc && (r = cli_lines_next(&in, &line, &len)) > 0) rc = run_query(ix, line, &sp, 1);
            if (!rc && r < 0) rc = CLI_EXIT_FAIL;
            cli_lines_close(&in);
        }
    }
    xf_index_free(ix);
    xf_model_free(model);
    free(recorded);
    free(query);
    return rc;
}
