/* cli.h — shared declarations of the xfmr command-line tool: option parsing, model resolution,
 * line input, output writers, progress/diagnostics, and the subcommand entry points.
 * Internal to tools/xfmr/; the tool itself uses only the public <xfmr.h>. */
#ifndef XFMR_CLI_H
#define XFMR_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "xfmr.h"

/* Exit codes. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* Default models: embed, similarity, tokenize and info take the encoder; generate, chat and
 * perplexity the decoder. CLI_FETCHABLE lists the names scripts/fetch_models.sh knows (the `cli`
 * test checks the two agree, and that help texts name no other model). */
#define CLI_DEFAULT_ENCODER "all-MiniLM-L6-v2"
#define CLI_DEFAULT_DECODER "SmolLM2-135M-Instruct"
#define CLI_FETCHABLE CLI_DEFAULT_ENCODER ", " CLI_DEFAULT_DECODER
/* The decoder architectures the library runs (its model_type list less bert). */
#define CLI_DECODER_ARCHS "llama, qwen2, mistral, gpt2"
#define CLI_MAX_LINE_BYTES ((size_t)16 << 20) /* longest accepted input line */

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif

/* ------------------------------------------------------------ subcommands (cmd_*.c) */

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    void (*help)(FILE *f);
} cli_command;

int cmd_embed(int argc, char **argv);
void cmd_embed_help(FILE *f);
int cmd_tokenize(int argc, char **argv);
void cmd_tokenize_help(FILE *f);
int cmd_similarity(int argc, char **argv);
void cmd_similarity_help(FILE *f);
int cmd_info(int argc, char **argv);
void cmd_info_help(FILE *f);
int cmd_generate(int argc, char **argv);
void cmd_generate_help(FILE *f);
int cmd_chat(int argc, char **argv);
void cmd_chat_help(FILE *f);
int cmd_perplexity(int argc, char **argv);
void cmd_perplexity_help(FILE *f);
int cmd_eval(int argc, char **argv);
void cmd_eval_help(FILE *f);
int cmd_index(int argc, char **argv);
void cmd_index_help(FILE *f);
int cmd_search(int argc, char **argv);
void cmd_search_help(FILE *f);
/* The model an index was built with, for -m: its recorded path when it still exists, else its
 * name (*model malloc'ed). 0, or -1 with the library's error (not printed). */
int cli_index_model(const char *db, char **model);
int cmd_convert(int argc, char **argv);
void cmd_convert_help(FILE *f);
int cmd_serve(int argc, char **argv);
void cmd_serve_help(FILE *f);
int cmd_quantize(int argc, char **argv);
void cmd_quantize_help(FILE *f);
int cmd_classify(int argc, char **argv);
void cmd_classify_help(FILE *f);
int cmd_rerank(int argc, char **argv);
/* One input's n classifier logits into scores in place (softmax, sigmoid of each, or as they are):
 * `xfmr classify` and serve's /predict. */
void cli_scores(float *v, size_t n, xf_score_fn f);
void cmd_rerank_help(FILE *f);
int cmd_compress(int argc, char **argv);
void cmd_compress_help(FILE *f);
/* Usage error (exit code) when -o out names a directory, else CLI_EXIT_OK. */
int cli_check_output(const char *cmd, const char *out);
/* xf_model_save(model, out, sp) with a progress bar on a terminal and "wrote OUT (SIZE)"; sets
 * sp's progress fields. Returns the exit code. */
int cli_save_gguf(xf_model *model, const char *out, xf_save_params *sp);

/* ------------------------------------------------------------------ options (args.c) */

typedef struct cli_opt {
    int id;           /* > 0, returned by cli_next */
    char short_name;  /* 0 if none */
    const char *long_name;
    int has_arg;
} cli_opt;

enum { CLI_ARG = 0, CLI_DONE = -1, CLI_BAD = -2, CLI_HELP = -3 };

typedef struct cli_parser {
    const char *cmd; /* "embed", ... for messages */
    int argc;
    char **argv;
    int i;           /* next argv index */
    int only_args;   /* after "--" */
    const cli_opt *opts;
    size_t n_opts;
    const char *optname; /* spelling of the last option returned, for messages */
} cli_parser;

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv, const cli_opt *opts,
                     size_t n_opts);
/* Next option id (value in *arg when it takes one), CLI_ARG (positional in *arg), CLI_DONE,
 * CLI_HELP (-h/--help), or CLI_BAD (message already printed: exit CLI_EXIT_USAGE). */
int cli_next(cli_parser *p, const char **arg);

/* Print "xfmr CMD: <message>" and a hint to run --help on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Parse a whole-string decimal integer in [lo, hi]; on failure print a usage error naming
 * the option and value and return -1. */
int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
/* Parse a whole-string finite decimal number (range checks are left to the caller or the
 * library); on failure print a usage error naming the option and value and return -1. */
int cli_parse_double(const char *cmd, const char *opt, const char *s, double *out);

/* Options shared by commands that load a model. */
typedef struct cli_model_opts {
    const char *model; /* -m/--model, NULL = default_model */
    const char *default_model; /* CLI_DEFAULT_ENCODER unless the command sets another */
    long threads;      /* --threads, 0 = the CPUs usable */
    long max_length;   /* --max-length, 0 = the model's limit */
    xf_weight_format weights; /* --weights */
    const char *rope_scaling; /* --rope-scaling, NULL = as the model says */
    double rope_factor;       /* --rope-factor, 0 = none given */
    long rope_orig_ctx;       /* --rope-orig-ctx, 0 = the model's max_position_embeddings */
    /* adaptive compute of encoders (adaptive.c, docs/ADAPTIVE.md) */
    double keep;               /* --keep: share of tokens the last layer sees, 1 = no pruning */
    const char *keep_schedule; /* --keep-schedule LIST */
    int pool_pruned;           /* --pool-pruned yes|no|rejoin: 1, 0, 2 */
    int merge;                 /* --merge: token merging instead of pruning */
    long keep_min;             /* --keep-min N */
    double exit_cos;           /* --exit-cos: > 1 = off */
    long exit_min_layers;      /* --exit-min-layers */
    double exit_target;        /* --exit-target: calibrated early exit, 0 = off */
    const char *exit_calib;    /* --exit-calib FILE: calibration texts, one per line */
    xf_sparsity sparsity;     /* --sparsity */
    float sparsity_ratio;     /* --sparsity RATIO (unstructured) */
    xf_sparsity_method sparsity_method; /* --sparsity-method */
    const char *calib;        /* --calib FILE (Wanda) */
    long calib_tokens;        /* --calib-tokens, 0 = the library's default */
    int sparse_head;          /* --sparse-head: the LM head 2:4 too */
    long attn_window;         /* --attn-window N, 0 = the model's own attention spans */
    const char *full_layers;  /* --full-layers LIST */
    long attn_sinks;          /* --attn-sinks N, 0 = a plain window */
    double block_sparse;      /* --block-sparse D: block-sparse prefill density, 0 = dense */
    double vertical_slash;    /* --vertical-slash D: vertical-slash prefill density, 0 = dense */
    int attn_probsparse;      /* --attn probsparse (1) or dense (0) */
    double probsparse_factor; /* --probsparse-factor C, 0 = not given (5 with --attn probsparse) */
    int probsparse_exact;     /* --probsparse-exact */
} cli_model_opts;

enum {
    CLI_OPT_MODEL = 1000, CLI_OPT_THREADS, CLI_OPT_MAX_LENGTH, CLI_OPT_WEIGHTS, CLI_OPT_ROPE_SCALING,
    CLI_OPT_ROPE_FACTOR, CLI_OPT_ROPE_ORIG_CTX, CLI_OPT_KEEP, CLI_OPT_KEEP_SCHEDULE, CLI_OPT_POOL_PRUNED,
    CLI_OPT_EXIT_COS, CLI_OPT_EXIT_MIN_LAYERS, CLI_OPT_EXIT_TARGET, CLI_OPT_EXIT_CALIB, CLI_OPT_KEEP_MIN, CLI_OPT_MERGE,
    CLI_OPT_SPARSITY, CLI_OPT_SPARSITY_METHOD, CLI_OPT_CALIB, CLI_OPT_CALIB_TOKENS, CLI_OPT_ATTN_WINDOW,
    CLI_OPT_FULL_LAYERS, CLI_OPT_ATTN_SINKS, CLI_OPT_BLOCK_SPARSE,
    CLI_OPT_ATTN, CLI_OPT_PROBSPARSE_FACTOR, CLI_OPT_PROBSPARSE_EXACT, CLI_OPT_VERTICAL_SLASH,
    CLI_OPT_SPARSE_HEAD
};
/* ProbSparse attention (Informer; encoders and decoder prefill; docs/ADAPTIVE.md). */
#define CLI_OPTS_PROBSPARSE                                                                         \
    {CLI_OPT_ATTN, 0, "attn", 1}, {CLI_OPT_PROBSPARSE_FACTOR, 0, "probsparse-factor", 1},            \
        {CLI_OPT_PROBSPARSE_EXACT, 0, "probsparse-exact", 0}
#define CLI_HELP_PROBSPARSE                                                                         \
    "      --attn KIND       dense (default) or probsparse: in each layer without a window, each\n" \
    "                        head's u = C*ceil(ln L) queries with the most peaked scores get full\n" \
    "                        attention, the others the mean of the values (Informer)\n"            \
    "      --probsparse-factor C  the factor C of --attn probsparse (default 5, Informer's)\n"     \
    "      --probsparse-exact  rank the queries on all their keys, not on C*ceil(ln L) sampled\n"
/* Long context for decoders (docs/LONG_CONTEXT.md): rotary scaling and mixed attention spans. */
#define CLI_OPTS_ROPE                                                                          \
    {CLI_OPT_ROPE_SCALING, 0, "rope-scaling", 1}, {CLI_OPT_ROPE_FACTOR, 0, "rope-factor", 1},  \
        {CLI_OPT_ROPE_ORIG_CTX, 0, "rope-orig-ctx", 1}, {CLI_OPT_ATTN_WINDOW, 0, "attn-window", 1}, \
        {CLI_OPT_FULL_LAYERS, 0, "full-layers", 1}, {CLI_OPT_ATTN_SINKS, 0, "attn-sinks", 1},      \
        {CLI_OPT_BLOCK_SPARSE, 0, "block-sparse", 1}, {CLI_OPT_VERTICAL_SLASH, 0, "vertical-slash", 1}
#define CLI_HELP_ROPE                                                                          \
    "      --rope-scaling KIND  stretch the rotary positions past the trained context: none,\n" \
    "                        linear, ntk, dynamic (dynamic NTK) or yarn (default: as the\n"     \
    "                        model's config.json rope_scaling / GGUF rope.scaling.* say)\n"     \
    "      --rope-factor F   the stretch (> 0, e.g. 4: the model then takes F x its trained\n"  \
    "                        context); required with --rope-scaling other than none\n"         \
    "      --rope-orig-ctx N the trained context (default: max_position_embeddings)\n"            \
    "      --attn-window N   mixed spans: a sliding window of N positions in every layer but\n" \
    "                        those of --full-layers (default: the model's own attention)\n"   \
    "      --full-layers LIST  layers that keep full attention with --attn-window, e.g.\n"     \
    "                        0,-1 (negative: from the last)\n"                                 \
    "      --attn-sinks N    with --attn-window: the first N positions stay visible to every\n" \
    "                        window (StreamingLLM's attention sinks; 4 is the paper's choice;\n" \
    "                        default 0 = a plain window)\n"                                       \
    "      --block-sparse D  block-sparse prefill attention: each tile of 64 prompt tokens\n"  \
    "                        reads only its ~D x (blocks of 64 keys) of highest estimated\n"   \
    "                        score, plus the first, its own and the 3 before (0 < D <= 1;\n"   \
    "                        default dense)\n"                                                 \
    "      --vertical-slash D  vertical-slash prefill attention (MInference): the prompt's last\n" \
    "                        64 queries pick the key columns and query-key diagonals with the\n" \
    "                        most attention; every query reads ~D x the keys among them, plus\n"  \
    "                        the first 64 keys and the 128 nearest (0 < D <= 1; default dense)\n"
/* Options of token pruning and early exit (encoders). */
#define CLI_OPTS_ADAPTIVE                                                                           \
    {CLI_OPT_KEEP, 0, "keep", 1}, {CLI_OPT_KEEP_SCHEDULE, 0, "keep-schedule", 1},                  \
        {CLI_OPT_POOL_PRUNED, 0, "pool-pruned", 1}, {CLI_OPT_EXIT_COS, 0, "exit-cos", 1},           \
        {CLI_OPT_EXIT_MIN_LAYERS, 0, "exit-min-layers", 1}, {CLI_OPT_EXIT_TARGET, 0, "exit-target", 1}, \
        {CLI_OPT_EXIT_CALIB, 0, "exit-calib", 1}, {CLI_OPT_KEEP_MIN, 0, "keep-min", 1},             \
        {CLI_OPT_MERGE, 0, "merge", 0}
#define CLI_HELP_ADAPTIVE                                                                          \
    "Adaptive compute (encoders; docs/ADAPTIVE.md):\n"                                             \
    "      --keep K          token pruning: after each layer a text keeps the tokens that\n"       \
    "                        received the most attention, so that the last layer sees a\n"       \
    "                        share K of them (geometric schedule), 0 < K <= 1 (default 1 =\n"   \
    "                        off); [CLS]/[SEP] and other special tokens always stay\n"          \
    "      --keep-schedule LIST  the share each layer after the first sees, n_layers - 1\n"     \
    "                        non-increasing numbers in (0, 1] (overrides --keep)\n"            \
    "      --keep-min N      pruning leaves every text at least N tokens (default 64: short\n"  \
    "                        texts such as queries run dense)\n"                              \
    "      --pool-pruned yes|no|rejoin  pruned tokens count in mean pooling with the state\n"   \
    "                        they left with (yes, default), are dropped from it (no), or\n"    \
    "                        rejoin for the last layer (rejoin: token dropping)\n"             \
    "      --merge           reach --keep's shares by token merging (ToMe) instead: the most\n" \
    "                        similar tokens are averaged into one row, attention weighs a\n"   \
    "                        row by the tokens it holds, pooling sees every token\n"           \
    "      --exit-cos C      early exit: a text stops after the first layer whose pooled\n"      \
    "                        output has cosine >= C with the previous layer's (0 < C; > 1 =\n" \
    "                        off, the default)\n"                                               \
    "      --exit-min-layers N  never exit before N layers (default 2)\n"                      \
    "      --exit-target T   calibrated early exit: the smallest threshold that keeps every\n"  \
    "                        text of --exit-calib FILE (one per line) at cosine >= T with\n"   \
    "                        its full-depth embedding\n"
/* Sparsity made at load (docs/COMPRESSION.md): five options */
#define CLI_OPTS_SPARSITY                                                                          \
    {CLI_OPT_SPARSITY, 0, "sparsity", 1}, {CLI_OPT_SPARSITY_METHOD, 0, "sparsity-method", 1},      \
        {CLI_OPT_CALIB, 0, "calib", 1}, {CLI_OPT_CALIB_TOKENS, 0, "calib-tokens", 1},             \
        {CLI_OPT_SPARSE_HEAD, 0, "sparse-head", 0}
#define CLI_HELP_SPARSITY                                                                          \
    "      --sparsity S      prune the blocks' linear weights at load: 2:4 (2 of every 4\n"        \
    "                        inputs kept, stored compressed, sparse kernels) or a ratio in\n"     \
    "                        (0, 1) of each output's weights set to 0 (unstructured, dense)\n"   \
    "      --sparsity-method M  magnitude (default), wanda (|w| x input norm over --calib) or\n"  \
    "                        sparsegpt (masks and kept weights updated from the inverse\n"      \
    "                        Hessian of each layer's inputs over --calib)\n"                    \
    "      --calib FILE      calibration text for wanda and sparsegpt\n"                          \
    "      --calib-tokens N  tokens of FILE used, 2..1000000 (default: 4096)\n"                 \
    "      --sparse-head     with --sparsity 2:4: the LM head 2:4 too, by the same method\n"     \
    "                        (a head tied to the embedding is untied; default: dense head)\n"
#define CLI_OPTS_WEIGHTS {CLI_OPT_WEIGHTS, 0, "weights", 1}
#define CLI_HELP_WEIGHTS                                                                       \
    "      --weights FORMAT  stored (default: as the file holds them; F16/BF16 become F32)\n"   \
    "                        or int8 (linear layers quantized at load, one scale per output\n" \
    "                        channel, activations per token and 64 inputs; ~2x faster;\n" \
    "                        7-bit activations on CPUs without VNNI, XF_I8_EXACT=1: 8)\n" \
    "                        (on GGUF blocks: the blocks as stored, decode activations\n" \
    "                        quantized as llama.cpp does, per 32 or per 256 for K-quants;\n" \
    "                        K-quant prefill too (int8 GEMM), other types' in float)\n" \
    "                        or a8 (as int8, and on\n" \
    "                        GGUF blocks the activations of every product quantized per\n" \
    "                        32, prefill and encoders too: W4A8 / W8A8)\n" \
    "                        or bf16 (linear layers and activations rounded to bfloat16,\n" \
    "                        fp32 sums; ~1.7x faster on CPUs with AVX512_BF16)\n" \
    "                        or f32 (GGUF quantized blocks dequantized to float32 at load)\n"
#define CLI_OPTS_MODEL {CLI_OPT_MODEL, 'm', "model", 1}
#define CLI_OPTS_THREADS {CLI_OPT_THREADS, 0, "threads", 1}
#define CLI_OPTS_MAX_LENGTH {CLI_OPT_MAX_LENGTH, 0, "max-length", 1}

void cli_model_opts_init(cli_model_opts *mo);
/* Handle one of the shared options: 1 handled, 0 not a shared option, -1 bad value (printed). */
int cli_model_option(const cli_parser *p, int id, const char *arg, cli_model_opts *mo);

/* Help paragraphs shared by all commands. */
void cli_help_model_option(FILE *f, const char *default_model); /* -m/--model line */
void cli_help_model_options(FILE *f);   /* -m (default encoder), --threads, --max-length lines */
void cli_help_models(FILE *f);          /* where models come from */
void cli_help_exit_codes(FILE *f);

/* --------------------------------------------------------------------- models (model.c) */

/* Resolve MODEL (path or short name; NULL = fallback) to a path. On failure print where it
 * looked and return NULL. The result is malloc'ed. */
char *cli_resolve_model(const char *model, const char *fallback);
/* Resolve and load a model with the shared options. Returns CLI_EXIT_OK, or an exit code after
 * printing the error. need_tokenizer: a model without one is an error naming the command. */
int cli_load_model(const cli_model_opts *mo, int need_tokenizer, xf_model **out);
/* Apply the adaptive-compute options (token pruning, early exit, calibration) to a loaded model;
 * no-op when none is given. Returns CLI_EXIT_OK or an exit code after printing the error. */
int cli_apply_adaptive(const cli_model_opts *mo, xf_model *model);
/* 1 when mo asks for token pruning or early exit. */
int cli_adaptive_on(const cli_model_opts *mo);
/* Print "xfmr: error: <xf_errmsg()>" and return CLI_EXIT_FAIL. */
int cli_lib_error(void);
/* After embedding: print the single truncation notice if any input was truncated. */
void cli_report_truncation(const xf_model *model, size_t n_truncated, size_t n_total);

/* ----------------------------------------------------------------- line input (lines.c) */

typedef struct cli_lines {
    FILE *f;
    const char *name; /* for messages */
    int owned;        /* fclose on close */
    char *line;       /* current line (NUL-terminated; may also contain NUL bytes) */
    size_t cap;
    char *rbuf;       /* read buffer */
    size_t rpos, rlen;
    size_t lineno;    /* 1-based number of the line last returned */
    int eof;
    int interactive;  /* read up to each newline, not in blocks (cli_lines_open_interactive) */
    int null_sep;     /* texts end at NUL bytes, not newlines, and keep their "\r" (set after open) */
} cli_lines;

/* Open path (NULL or "-" = stdin). Returns 0, or prints an error and returns -1. */
int cli_lines_open(cli_lines *r, const char *path);
/* Next line: 1 with *line and *len set (valid until the next call), 0 at end, -1 on error
 * (printed). The trailing "\n" and one "\r" before it are removed; NUL bytes are kept, so
 * use *len, not strlen. */
int cli_lines_next(cli_lines *r, const char **line, size_t *len);
/* Number of lines left in a regular, seekable input (without consuming it), or -1. Call
 * before the first cli_lines_next. */
long long cli_lines_count(cli_lines *r);
void cli_lines_close(cli_lines *r);
/* Open stdin for a conversation: no notice, and lines are returned as soon as they are typed
 * (read byte by byte up to the newline instead of in blocks). A read interrupted by a signal
 * (Ctrl-C) makes cli_lines_next return CLI_LINES_INTERRUPTED, with nothing printed. */
int cli_lines_open_interactive(cli_lines *r);
enum { CLI_LINES_INTERRUPTED = -2 };

/* All lines of a file in memory (for commands that need every text at once). */
typedef struct cli_texts {
    char **texts;  /* NUL-terminated, but may contain NUL bytes: use lens */
    size_t *lens;  /* byte lengths */
    size_t n;
} cli_texts;
int cli_read_all_lines(const char *path, cli_texts *out);
void cli_texts_free(cli_texts *t);
/* A whole file ('-' = stdin) into memory: *out is NUL-terminated (the text may hold NUL bytes;
 * use *len) and malloc'ed. Returns CLI_EXIT_OK, or an exit code after printing the error. */
int cli_read_file(const char *path, char **out, size_t *len);

/* --------------------------------------------------------------------- output (output.c) */

typedef struct cli_out {
    FILE *f;
    const char *path; /* NULL for stdout */
    char *tmp;        /* the temporary file written until cli_out_close renames it to path */
    char *target;     /* path with symbolic links resolved, when it exists */
} cli_out;

/* Open path for writing (NULL or "-" = stdout). A regular file (or a new one) is written as a
 * temporary file beside it, renamed over path by a successful cli_out_close: path never holds a
 * half-written output, and an existing file is untouched on failure. Other files (/dev/null, a
 * FIFO) are written directly. Returns 0, or prints an error and returns -1. */
int cli_out_open(cli_out *o, const char *path);
/* Flush and close; on success (ok != 0 and every write done) the output takes its place, else
 * the temporary file is removed. Returns 0 when everything was written, else prints an error and
 * returns -1. */
int cli_out_close(cli_out *o, int ok);
/* 1 when path is an existing file that is the same file (device and inode) as in_path, or as
 * stdin when in_path is NULL or "-". */
int cli_same_file(const char *in_path, const char *path);

void cli_json_string(FILE *f, const char *s);            /* quoted, escaped; NULL -> null */
void cli_json_string_n(FILE *f, const char *s, size_t n);
void cli_json_floats(FILE *f, const float *v, size_t n); /* [a, b, ...] with %.9g */
void cli_json_ints(FILE *f, const int32_t *v, size_t n);
/* One {"index": i, "embedding": [...]} line per row. */
void cli_jsonl_rows(FILE *f, size_t first_index, const float *v, size_t rows, size_t dim);
/* One line per row: the floats (%.9g) separated by sep (',' for CSV, '\t' for TSV). */
void cli_delim_rows(FILE *f, char sep, const float *v, size_t rows, size_t dim);

/* NumPy .npy v1.0 writer for a float32 (rows, dim) matrix whose row count is only known at
 * the end: rewrites the header of a seekable file, or spools rows to a temporary file. */
typedef struct cli_npy {
    FILE *f;     /* final destination */
    FILE *spool; /* non-NULL when rows go to a temporary file first */
    long long start;
    size_t dim, rows;
} cli_npy;
int cli_npy_begin(cli_npy *w, FILE *f, size_t dim);
int cli_npy_rows(cli_npy *w, const float *v, size_t rows);
int cli_npy_finish(cli_npy *w);

/* "22.7 M" / "86.6 MiB" into buf. */
const char *cli_human_count(uint64_t n, char *buf, size_t size);
const char *cli_human_bytes(uint64_t n, char *buf, size_t size);

/* ------------------------------------------------- progress and diagnostics (progress.c) */

typedef struct cli_progress {
    int enabled;
    size_t total; /* 0 = unknown */
    size_t min_items;
    double t0, last_draw;
    int drawn;
    const char *what;
    const char *unit; /* "texts" unless changed after cli_progress_start */
} cli_progress;

/* Enabled when stderr is a terminal and more than min_items items are (or turn out to be)
 * processed. total = 0 when unknown. */
void cli_progress_start(cli_progress *p, const char *what, size_t total, size_t min_items);
/* Seconds of a monotonic clock (for rates). */
double cli_now(void);
void cli_progress_update(cli_progress *p, size_t done);
void cli_progress_finish(cli_progress *p, size_t done);

/* "xfmr: error: ..." on stderr (clearing a progress bar first). */
int cli_error(const char *fmt, ...) CLI_PRINTF(1, 2); /* returns CLI_EXIT_FAIL */
void cli_note(const char *fmt, ...) CLI_PRINTF(1, 2); /* "xfmr: ..." */

/* --------------------------------------- perplexity of a text (ppl.c: perplexity, eval) */

typedef struct cli_ppl {
    size_t window, stride; /* as run */
    size_t tokens;  /* tokens of the text */
    size_t windows; /* windows run through the model */
    size_t scored;  /* predictions scored (the weights of xf_perplexity) */
    double nll_sum; /* sum of the windows' mean NLL x weight */
    double ppl;     /* exp(nll_sum / scored) */
} cli_ppl;

/* The window --window 0 means: the model's max_position_embeddings, capped at cap (0 = no cap). */
size_t cli_ppl_window(xf_model *m, long window, size_t cap);
/* Tokenize text (with only the special tokens the tokenizer adds) and run xf_perplexity_progress
 * with window / stride (stride 0 = window / 2), a progress bar over the windows on a terminal.
 * name is the file for messages. Returns CLI_EXIT_OK, or an exit code after printing the error
 * (a window above max_position_embeddings, fewer than 2 tokens, a library error). */
int cli_text_perplexity(xf_model *m, const char *name, const char *text, size_t len, size_t window,
                        size_t stride, cli_ppl *out);
/* The perplexity as generation sees it, for KV-cache settings (quantized caches, eviction): the
 * text in consecutive windows of `window` tokens, each a fresh session of parameters sp (n_ctx set
 * to the window when nothing is evicted) fed one token at a time, every token after a window's
 * first scored from the logits of the step before it; up to 8 windows decode side by side
 * (xf_session_step_batch). prompt > 0: each window's first min(prompt, its length - 1) tokens are
 * read as one prompt (xf_session_eval: what a prompt-time policy such as SnapKV compresses), not
 * scored, the token after them scored from the prompt's last logits. A progress bar over the
 * tokens on a terminal. */
int cli_text_perplexity_decode(xf_model *m, const char *name, const char *text, size_t len, size_t window,
                               size_t prompt, const xf_session_params *sp, cli_ppl *out);

/* ------------------------------------------- text generation (gen.c: generate, chat) */

#define CLI_MAX_STOPS 16

/* Sampling and generation options shared by `generate` and `chat`. */
typedef struct cli_gen_opts {
    xf_sampler_params sp;              /* the options given; the rest filled by cli_gen_sampling */
    unsigned given;                    /* CLI_GIVEN_* bits: sampling options on the command line */
    const char *sampling_source;       /* after cli_gen_sampling: where the defaults came from */
    long max_tokens;                   /* --max-tokens, default 128 */
    int verbose;                       /* -v/--verbose: settings, seed and speed on stderr */
    int ignore_eos;                    /* --ignore-eos: never sample the stop tokens */
    long ctx;                          /* --ctx, 0 = the model's max_position_embeddings */
    const char *stops[CLI_MAX_STOPS];  /* --stop, text-level */
    size_t n_stops;
    const char *system;                /* --system */
    const char *chat_template;         /* --chat-template NAME, NULL = the model's */
    const char *kv_policy;             /* --kv-policy NAME, NULL = keep every token */
    long kv_budget;                    /* --kv-budget N */
    int kv_type;                       /* --kv-type f32|f16|q8|q4 (xf_kv_type), default f32 */
    long quest;                        /* --quest N: Quest's keys per decode step, 0 = all */
    long quest_page;                   /* --quest-page N: slots per Quest page, 0 = 16 */
} cli_gen_opts;

enum {
    CLI_OPT_MAX_TOKENS = 1100, CLI_OPT_TEMPERATURE, CLI_OPT_TOP_K, CLI_OPT_TOP_P, CLI_OPT_MIN_P,
    CLI_OPT_REPEAT_PENALTY, CLI_OPT_PRESENCE_PENALTY, CLI_OPT_FREQUENCY_PENALTY, CLI_OPT_SEED,
    CLI_OPT_STOP, CLI_OPT_SYSTEM, CLI_OPT_CHAT_TEMPLATE, CLI_OPT_CTX, CLI_OPT_VERBOSE,
    CLI_OPT_IGNORE_EOS, CLI_OPT_KV_POLICY, CLI_OPT_KV_BUDGET, CLI_OPT_KV_TYPE, CLI_OPT_QUEST,
    CLI_OPT_QUEST_PAGE
};
enum {
    CLI_GIVEN_TEMPERATURE = 1, CLI_GIVEN_TOP_K = 2, CLI_GIVEN_TOP_P = 4, CLI_GIVEN_MIN_P = 8,
    CLI_GIVEN_REPEAT_PENALTY = 16, CLI_GIVEN_SEED = 32
};
/* Sampling defaults when the model ships none (llama.cpp's; docs/CLI.md says why). */
#define CLI_DEFAULT_TEMPERATURE 0.8f
#define CLI_DEFAULT_TOP_K 40
#define CLI_DEFAULT_TOP_P 0.95f
#define CLI_DEFAULT_MIN_P 0.05f
/* KV eviction (generate, chat, eval; docs/LONG_CONTEXT.md). */
#define CLI_OPTS_KV                                                                        \
    {CLI_OPT_KV_POLICY, 0, "kv-policy", 1}, {CLI_OPT_KV_BUDGET, 0, "kv-budget", 1}, \
        {CLI_OPT_KV_TYPE, 0, "kv-type", 1}, {CLI_OPT_QUEST, 0, "quest", 1}, {CLI_OPT_QUEST_PAGE, 0, "quest-page", 1}
#define CLI_HELP_KV                                                                            \
    "      --kv-policy NAME  KV-cache eviction: keep-all (default), streaming (4 attention\n"  \
    "                        sinks + recent tokens), h2o (heavy hitters + recent), snapkv\n"   \
    "                        (prompt keys chosen by its last 32 queries' attention); h2o-head,\n" \
    "                        snapkv-head: the same, chosen per key/value head\n"              \
    "      --kv-budget N     tokens per layer an evicting policy keeps (needed by, and only\n" \
    "                        with, the evicting policies)\n"                            \
    "      --kv-type TYPE    KV-cache values: f32 (default, exact), f16, q8 (8.5 bits, blocks\n" \
    "                        of 32 per token) or q4 (KIVI: keys per channel, values per token,\n" \
    "                        5 bits; keep-all only)\n"                                            \
    "      --quest N         Quest sparse attention at decode: each new token reads only the\n" \
    "                        ~N cached keys (in pages) that can score highest for it, plus the\n" \
    "                        first and the newest page (default 0 = every key; prefill and\n" \
    "                        sliding-window layers stay dense)\n"                                   \
    "      --quest-page N    slots per Quest page, 1..1024 (default 16; with --quest)\n"
/* Handle --kv-policy / --kv-budget / --kv-type / --quest / --quest-page: 1 handled, 0 not one of
 * them, -1 bad value (printed). */
int cli_kv_option(const cli_parser *p, int id, const char *arg, const char **policy, long *budget, int *type,
                  long *quest, long *quest_page);
/* "f32", "f16", "q8" or "q4": the --kv-type name of an xf_kv_type. */
const char *cli_kv_type_name(int type);
/* The KV options together: a --kv-budget without an evicting --kv-policy, or a --quest-page without
 * --quest, would be ignored: a usage error printed, -1; else 0. */
int cli_kv_check(const char *cmd, const char *policy, long budget, long quest, long quest_page);
/* Option table entries of cli_gen_opts (plus CLI_OPTS_MODEL, CLI_OPTS_THREADS). */
#define CLI_OPTS_GEN                                                                           \
    {CLI_OPT_MAX_TOKENS, 'n', "max-tokens", 1}, {CLI_OPT_TEMPERATURE, 0, "temperature", 1},    \
    {CLI_OPT_TOP_K, 0, "top-k", 1}, {CLI_OPT_TOP_P, 0, "top-p", 1},                            \
    {CLI_OPT_MIN_P, 0, "min-p", 1}, {CLI_OPT_REPEAT_PENALTY, 0, "repeat-penalty", 1},          \
    {CLI_OPT_PRESENCE_PENALTY, 0, "presence-penalty", 1},                                     \
    {CLI_OPT_FREQUENCY_PENALTY, 0, "frequency-penalty", 1}, {CLI_OPT_SEED, 0, "seed", 1},      \
    {CLI_OPT_STOP, 0, "stop", 1}, {CLI_OPT_SYSTEM, 0, "system", 1},                            \
    {CLI_OPT_CHAT_TEMPLATE, 0, "chat-template", 1}, {CLI_OPT_CTX, 0, "ctx", 1},                \
    {CLI_OPT_VERBOSE, 'v', "verbose", 0}, {CLI_OPT_IGNORE_EOS, 0, "ignore-eos", 0}, CLI_OPTS_KV

void cli_gen_opts_init(cli_gen_opts *g);
/* Handle one generation option: 1 handled, 0 not one, -1 bad value (printed). */
int cli_gen_option(const cli_parser *p, int id, const char *arg, cli_gen_opts *g);
/* Validate the sampler parameters with the library: 0, or a usage error printed and -1. */
int cli_gen_check(const char *cmd, const cli_gen_opts *g);
/* The sampling settings of a run: the options given, else the model's own defaults
 * (xf_model_sampler_defaults), else CLI_DEFAULT_*; a random seed unless --seed was given. */
void cli_gen_sampling(cli_gen_opts *g, const xf_model *m);
/* One line describing the settings ("temperature 0.8, top-k 40, ..., seed 123 (source)"). */
void cli_gen_describe(const cli_gen_opts *g, FILE *f);
/* Help lines of the sampling / generation options (chat: without the --chat line). */
void cli_help_gen_options(FILE *f, int with_chat);

/* The chat template: the --chat-template NAME override, else the model's own template text
 * recognised by xf_chat_template_detect. Returns CLI_EXIT_OK, or an exit code after printing
 * an error that lists the known names. */
int cli_chat_template(const xf_model *m, const char *override, xf_chat_template **out);
/* Special ids the tokenizer's template puts before (*pre) and after (*post) a single text
 * (found by encoding "" and "a"). CLI_EXIT_OK, or the library error printed. */
int cli_added_specials(const xf_tokenizer *tok, size_t *pre, size_t *post);

/* Prompt ids of a text: the tokenizer's encoding without the special tokens its post-processor
 * appends after the text (an end-of-sequence marker makes no sense in a prompt), and, when
 * strip_bos, without the ones it puts before (the rendered chat text has its BOS already). */
int cli_encode_prompt(const xf_tokenizer *tok, const char *text, size_t len, int strip_bos,
                      int32_t **ids, size_t *n);

/* A text grown by appends (NUL-terminated after each). */
typedef struct cli_buf {
    char *s;
    size_t n, cap;
} cli_buf;
/* Append s[0..n); 0, or -1 when out of memory (b unchanged). */
int cli_buf_add(cli_buf *b, const char *s, size_t n);

/* Where the first of the stop strings starts in s[0..n), or n. */
size_t cli_find_stop(const char *const *stops, size_t n_stops, const char *s, size_t n);
/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop string (text to
 * hold back until it is known not to start a stop). */
size_t cli_stop_prefix(const char *const *stops, size_t n_stops, const char *s, size_t n);

/* A generation engine: a session of n_ctx tokens, a sampler, the stop ids and strings. */
typedef struct cli_gen {
    xf_model *m;
    const xf_tokenizer *tok;
    xf_session *s;
    xf_sampler *smp;
    xf_detok_stream *ds;
    float *logits;
    size_t vocab;
    int32_t *hist;      /* tokens evaluated in the session so far */
    size_t n_hist, cap;
    int32_t stop_ids[CLI_MAX_STOPS + 1];
    size_t n_stop_ids;
    const char *stops[2 * CLI_MAX_STOPS]; /* text-level stops */
    size_t n_stops;
    long max_tokens;
    int ignore_eos;
    volatile sig_atomic_t *interrupt; /* when set (by a signal handler) the reply stops; may be NULL */
    /* Figures of the last cli_gen_run: */
    size_t n_prompt_eval;    /* prompt tokens evaluated (the reused prefix not counted) */
    size_t n_generated;      /* tokens sampled (a stop token included) */
    double t_prompt, t_gen;  /* seconds of the prefill, and of sampling + decoding */
    int interrupted;         /* the reply was cut short by *interrupt */
} cli_gen;

/* Set up for model m (tmpl may be NULL: its stop strings are added). Returns an exit code. */
int cli_gen_begin(cli_gen *g, xf_model *m, const cli_gen_opts *o, const xf_chat_template *tmpl);
/* Evaluate prompt ids (reusing the session's tokens when they are a prefix of ids), then sample
 * and stream the reply to out (flushed each token) until a stop id, a stop string (not printed),
 * max_tokens or a full context. *reply (may be NULL) receives the printed text (malloc'ed).
 * A prompt that does not fit the context is an error naming both sizes (CLI_EXIT_FAIL). */
int cli_gen_run(cli_gen *g, const int32_t *ids, size_t n, FILE *out, char **reply);
/* "xfmr: prompt N tokens in S s (R tokens/s), generated ..." on stderr. */
void cli_gen_report(const cli_gen *g, const cli_gen_opts *o);
void cli_gen_end(cli_gen *g);

#endif /* XFMR_CLI_H */
