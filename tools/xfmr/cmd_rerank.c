/* cmd_rerank.c — `xfmr classify` (labels of texts or text pairs with a sequence classifier) and
 * `xfmr rerank` (documents sorted by a cross-encoder's relevance to a query); docs/RERANK.md. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_FILE = 1, OPT_JSON, OPT_PAIRS, OPT_ALL, OPT_QUERY, OPT_TOP_K, OPT_RAW, OPT_ACT, OPT_BATCH };

static const cli_opt CLASSIFY_OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS, CLI_OPTS_MAX_LENGTH,
    {OPT_FILE, 'f', "file", 1}, {OPT_JSON, 0, "json", 0}, {OPT_PAIRS, 0, "pairs", 0},
    {OPT_ALL, 0, "all", 0}, {OPT_ACT, 0, "activation", 1}, {OPT_BATCH, 0, "batch-size", 1},
};

static const cli_opt RERANK_OPTS[] = {
    CLI_OPTS_MODEL, CLI_OPTS_THREADS, CLI_OPTS_WEIGHTS, CLI_OPTS_MAX_LENGTH,
    {OPT_QUERY, 'q', "query", 1}, {OPT_TOP_K, 'k', "top-k", 1}, {OPT_JSON, 0, "json", 0},
    {OPT_RAW, 0, "raw-scores", 0}, {OPT_BATCH, 0, "batch-size", 1},
};

static void help_model(FILE *f) {
    fputs("  -m, --model MODEL     a cross-encoder / sequence classifier (required): a Hugging Face\n"
          "                        folder with a BertForSequenceClassification head, a\n"
          "                        sentence-transformers CrossEncoder folder, or a GGUF file\n"
          "      --threads N       worker threads (default: the CPUs usable)\n"
          "      --max-length N    truncate each input (the pair, special tokens included) to N\n"
          "                        tokens, longest_first (default: the model's limit)\n"
          "      --weights FORMAT  as-stored (default), f32, bf16 or int8\n"
          "      --batch-size N    inputs run through the model together (default 32)\n",
          f);
}

void cmd_classify_help(FILE *f) {
    fputs("usage: xfmr classify -m MODEL [OPTIONS] TEXT...\n"
          "       xfmr classify -m MODEL [OPTIONS] --file FILE\n"
          "\n"
          "Classify texts (or text pairs) with a sequence-classification model and print, for\n"
          "each input, the most likely label, its score and the text:\n"
          "  positive  0.8731  I loved this film\n"
          "Labels come from the model's config.json (id2label); a model without them shows\n"
          "LABEL_0, LABEL_1, ... as transformers does. Scores are what transformers'\n"
          "text-classification pipeline computes by default: config.json problem_type\n"
          "single_label_classification -> softmax over the labels, multi_label_classification\n"
          "-> sigmoid of each, regression -> the raw output; without it, softmax (sigmoid for\n"
          "a model with one output).\n"
          "\n"
          "Options:\n",
          f);
    help_model(f);
    fputs("  -f, --file FILE       classify every line of FILE ('-' = stdin)\n"
          "      --pairs           a TAB in a line (or argument) splits it into a text pair,\n"
          "                        encoded [CLS] a [SEP] b [SEP] (NLI, paraphrase, ...)\n"
          "      --all             print every label's score, not only the best\n"
          "      --activation F    softmax, sigmoid or none (the raw logits) instead of the default\n"
          "      --json            one JSON object per input: {\"index\", \"label\", \"score\",\n"
          "                        \"scores\": [{\"label\", \"score\"}...], \"logits\": [...]}\n"
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr classify -m distilbert-sst2 \"I loved this film\" \"What a waste of time\"\n"
          "  xfmr classify -m nli-model --pairs --json --file premises_hypotheses.tsv\n"
          "\n",
          f);
    cli_help_exit_codes(f);
}

void cmd_rerank_help(FILE *f) {
    fputs("usage: xfmr rerank -m MODEL --query QUERY [OPTIONS] [DOCS]\n"
          "\n"
          "Score every document of DOCS (one per line; '-' or none = stdin) for its relevance to\n"
          "QUERY with a cross-encoder (each pair encoded [CLS] query [SEP] document [SEP], token\n"
          "types 0 / 1, truncated longest_first as sentence-transformers' CrossEncoder does), and\n"
          "print the documents best first:\n"
          "  0.9331  [3]  Paris is the capital and largest city of France.\n"
          "(score, the document's line number from 0, the document). Scores are what\n"
          "CrossEncoder.predict / .rank return: the model's activation (Sigmoid for one output,\n"
          "or the activation_fn its config_sentence_transformers.json names) over the logit.\n"
          "\n"
          "Options:\n",
          f);
    help_model(f);
    fputs("  -q, --query QUERY     the query (required)\n"
          "  -k, --top-k N         print the N best documents only\n"
          "      --raw-scores      print the logits, without the activation\n"
          "      --json            one JSON object per document, best first:\n"
          "                        {\"rank\", \"index\", \"score\", \"text\"}\n"
          "  -h, --help            show this help\n"
          "\n"
          "Examples:\n"
          "  xfmr rerank -m cross-encoder/ms-marco-MiniLM-L6-v2 -q \"capital of France\" docs.txt\n"
          "  xfmr search --db docs.db \"query\" | cut -f3 | xfmr rerank -m CE -q \"query\" -k 5\n"
          "\n",
          f);
    cli_help_exit_codes(f);
}

/* Parse the options both commands share; returns -1 to continue, else an exit code. */
static int shared_opts(cli_parser *p, cli_model_opts *mo, int id, const char *arg, long *batch) {
    int shared = cli_model_option(p, id, arg, mo);
    if (shared < 0 || id == CLI_BAD) return CLI_EXIT_USAGE;
    if (shared) return 0;
    if (id == OPT_BATCH) return cli_parse_int(p->cmd, "--batch-size", arg, 1, 1 << 20, batch) ? CLI_EXIT_USAGE : 0;
    return -1;
}

static int load(cli_model_opts *mo, const char *cmd, xf_model **model) {
    if (!mo->model) return cli_usage_error(cmd, "give the model: -m MODEL (a cross-encoder or classifier)");
    int rc = cli_load_model(mo, 1, model);
    if (rc == CLI_EXIT_OK && xf_model_n_labels(*model) == 0) {
        rc = cli_error("%s has no sequence-classification head (a BertForSequenceClassification / CrossEncoder "
                       "model is needed; for embeddings use `xfmr embed`)", mo->model);
        xf_model_free(*model);
        *model = NULL;
    }
    return rc;
}

static const char *label_name(const xf_model *m, size_t i, char *buf, size_t cap) {
    const char *l = NULL;
    if (xf_model_label(m, i, &l) == XF_OK) return l;
    snprintf(buf, cap, "LABEL_%zu", i);
    return buf;
}

void cli_scores(float *v, size_t n, xf_score_fn f) {
    if (f == XF_SCORE_SIGMOID)
        for (size_t i = 0; i < n; i++) v[i] = 1.0f / (1.0f + expf(-v[i]));
    if (f != XF_SCORE_SOFTMAX) return;
    float mx = v[0], s = 0;
    for (size_t i = 1; i < n; i++) mx = v[i] > mx ? v[i] : mx;
    for (size_t i = 0; i < n; i++) s += v[i] = expf(v[i] - mx);
    for (size_t i = 0; i < n; i++) v[i] /= s;
}

int cmd_classify(int argc, char **argv) {
    cli_parser p;
    cli_parser_init(&p, "classify", argc, argv, CLASSIFY_OPTS, sizeof CLASSIFY_OPTS / sizeof CLASSIFY_OPTS[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *file = NULL, *arg, *act_name = NULL;
    int id, json = 0, pairs = 0, all = 0, rc;
    long batch = 0;
    cli_texts t = {NULL, NULL, 0};
    size_t cap = 0;
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        if ((rc = shared_opts(&p, &mo, id, arg, &batch)) >= 0) {
            if (rc) return cli_texts_free(&t), rc;
            continue;
        }
        switch (id) {
        case CLI_HELP: cli_texts_free(&t); cmd_classify_help(stdout); return CLI_EXIT_OK;
        case CLI_ARG:
            if (t.n == cap) {
                cap = cap ? 2 * cap : 8;
                char **nt = realloc(t.texts, cap * sizeof *nt);
                if (nt) t.texts = nt;
                size_t *nl = nt ? realloc(t.lens, cap * sizeof *nl) : NULL;
                if (!nl) return cli_texts_free(&t), cli_error("out of memory");
                t.lens = nl;
            }
            if (!(t.texts[t.n] = strdup(arg))) return cli_texts_free(&t), cli_error("out of memory");
            t.lens[t.n++] = strlen(arg);
            break;
        case OPT_FILE: file = arg; break;
        case OPT_JSON: json = 1; break;
        case OPT_PAIRS: pairs = 1; break;
        case OPT_ALL: all = 1; break;
        case OPT_ACT: act_name = arg; break;
        }
    }
    int act = -1; /* an xf_score_fn, or -1: the model's */
    if (act_name) {
        act = !strcmp(act_name, "none")      ? XF_SCORE_NONE
              : !strcmp(act_name, "softmax") ? XF_SCORE_SOFTMAX
              : !strcmp(act_name, "sigmoid") ? XF_SCORE_SIGMOID
                                             : -2;
        if (act == -2) return cli_texts_free(&t), cli_usage_error("classify", "--activation '%s' is not softmax, sigmoid or none", act_name);
    }
    if (file && t.n) return cli_texts_free(&t), cli_usage_error("classify", "give either texts or --file");
    if (!file && !t.n) return cli_usage_error("classify", "give texts to classify, or --file FILE");
    if (file && cli_read_all_lines(file, &t)) return CLI_EXIT_FAIL;
    if (!t.n) return cli_error("'%s' has no lines to classify", file);
    xf_model *model = NULL;
    rc = load(&mo, "classify", &model);
    size_t L = model ? xf_model_n_labels(model) : 0;
    if (act < 0 && model) act = xf_model_score_fn(model); /* problem_type, as transformers' pipeline */
    char **second = rc ? NULL : calloc(t.n, sizeof *second);
    float *logits = rc ? NULL : malloc(t.n * L * sizeof *logits), *sc = rc ? NULL : malloc(L * sizeof *sc);
    if (!rc && (!second || !logits || !sc)) rc = cli_error("out of memory");
    for (size_t i = 0; !rc && pairs && i < t.n; i++) {
        char *tab = memchr(t.texts[i], '\t', t.lens[i]);
        if (tab) *tab = '\0', second[i] = tab + 1;
    }
    if (!rc && xf_classify(model, (const char *const *)t.texts, (const char *const *)second, t.n, (size_t)batch, logits))
        rc = cli_lib_error();
    for (size_t i = 0; !rc && i < t.n; i++) {
        memcpy(sc, logits + i * L, L * sizeof *sc);
        cli_scores(sc, L, (xf_score_fn)act);
        size_t best = 0;
        for (size_t j = 1; j < L; j++) best = sc[j] > sc[best] ? j : best;
        char buf[32];
        if (json) {
            printf("{\"index\": %zu, \"label\": ", i);
            cli_json_string(stdout, label_name(model, best, buf, sizeof buf));
            printf(", \"score\": %.9g, \"scores\": [", (double)sc[best]);
            for (size_t j = 0; j < L; j++) {
                printf("%s{\"label\": ", j ? ", " : "");
                cli_json_string(stdout, label_name(model, j, buf, sizeof buf));
                printf(", \"score\": %.9g}", (double)sc[j]);
            }
            fputs("], \"logits\": ", stdout);
            cli_json_floats(stdout, logits + i * L, L);
            fputs("}\n", stdout);
            continue;
        }
        for (size_t j = 0; j < L; j++) {
            if (!all && j != best) continue;
            printf("%s%s %.4f", all && j ? "  " : "", label_name(model, j, buf, sizeof buf), (double)sc[j]);
        }
        printf("  %s%s%s\n", t.texts[i], second[i] ? "\t" : "", second[i] ? second[i] : "");
    }
    free(second);
    free(logits);
    free(sc);
    xf_model_free(model);
    cli_texts_free(&t);
    return rc;
}

static const float *g_scores;
static int by_score(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (g_scores[i] != g_scores[j]) return g_scores[i] < g_scores[j] ? 1 : -1;
    return i < j ? -1 : i > j; /* stable: the earlier document first */
}

int cmd_rerank(int argc, char **argv) {
    cli_parser p;
    cli_parser_init(&p, "rerank", argc, argv, RERANK_OPTS, sizeof RERANK_OPTS / sizeof RERANK_OPTS[0]);
    cli_model_opts mo;
    cli_model_opts_init(&mo);
    const char *file = NULL, *query = NULL, *arg;
    int id, json = 0, raw = 0, rc, n_pos = 0;
    long batch = 0, top_k = 0;
    while ((id = cli_next(&p, &arg)) != CLI_DONE) {
        if ((rc = shared_opts(&p, &mo, id, arg, &batch)) >= 0) {
            if (rc) return rc;
            continue;
        }
        switch (id) {
        case CLI_HELP: cmd_rerank_help(stdout); return CLI_EXIT_OK;
        case CLI_ARG:
            if (n_pos++) return cli_usage_error("rerank", "expected one documents file (one document per line)");
            file = arg;
            break;
        case OPT_QUERY: query = arg; break;
        case OPT_TOP_K:
            if (cli_parse_int("rerank", "--top-k", arg, 1, 1L << 40, &top_k)) return CLI_EXIT_USAGE;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_RAW: raw = 1; break;
        }
    }
    if (!query) return cli_usage_error("rerank", "give the query: --query QUERY");
    cli_texts t = {NULL, NULL, 0};
    if (cli_read_all_lines(file ? file : "-", &t)) return CLI_EXIT_FAIL;
    if (!t.n) return cli_error("%s has no documents to rerank (one per line)", file ? file : "stdin");
    xf_model *model = NULL;
    rc = load(&mo, "rerank", &model);
    float *s = rc ? NULL : malloc(t.n * sizeof *s);
    size_t *order = rc ? NULL : malloc(t.n * sizeof *order);
    if (!rc && (!s || !order)) rc = cli_error("out of memory");
    if (!rc && xf_rerank(model, query, (const char *const *)t.texts, t.n, (size_t)batch, raw, s)) rc = cli_lib_error();
    if (!rc) {
        for (size_t i = 0; i < t.n; i++) order[i] = i;
        g_scores = s;
        qsort(order, t.n, sizeof *order, by_score);
        size_t n = top_k && (size_t)top_k < t.n ? (size_t)top_k : t.n;
        for (size_t r = 0; r < n; r++) {
            size_t i = order[r];
            if (json) {
                printf("{\"rank\": %zu, \"index\": %zu, \"score\": %.9g, \"text\": ", r + 1, i, (double)s[i]);
                cli_json_string_n(stdout, t.texts[i], t.lens[i]);
                fputs("}\n", stdout);
            } else {
                printf("%.4f  [%zu]  %s\n", (double)s[i], i, t.texts[i]);
            }
        }
    }
    free(s);
    free(order);
    xf_model_free(model);
    cli_texts_free(&t);
    return rc;
}
