/* model.c — finding and loading models for xfmr: resolves -m MODEL (a path, or a short name
 * looked up in $XFMR_MODELS, ./models, the build tree's models/ and ~/.cache/xfmr/models),
 * loads it with the shared options, and reports library errors and input truncation. */
#define _XOPEN_SOURCE 700 /* realpath */

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define MAX_CANDIDATES 8

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *join(const char *dir, const char *sub, const char *name) {
    size_t n = strlen(dir) + strlen(sub) + strlen(name) + 3;
    char *s = malloc(n);
    size_t dl = strlen(dir);
    if (s)
        snprintf(s, n, "%s%s%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", sub,
                 sub[0] ? "/" : "", name);
    return s;
}

/* Strip the last path component in place ("/a/b" -> "/a", "/a" -> "/"). 0 if nothing left. */
static int to_parent(char *p) {
    char *slash = strrchr(p, '/');
    if (!slash) return 0;
    if (slash == p) {
        if (p[1] == '\0') return 0;
        p[1] = '\0';
    } else {
        *slash = '\0';
    }
    return 1;
}

static void add(char **list, size_t *n, char *s) {
    if (!s) return;
    for (size_t k = 0; k < *n; k++)
        if (!strcmp(list[k], s)) {
            free(s);
            return;
        }
    if (*n < MAX_CANDIDATES) list[(*n)++] = s;
    else free(s);
}

/* Where a short model name is looked for, in order. */
static size_t candidates(const char *name, char **list) {
    size_t n = 0;
    const char *env = getenv("XFMR_MODELS");
    if (env && env[0]) add(list, &n, join(env, "", name));
    add(list, &n, join(".", "models", name));
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        /* <dir of exe>/../models and <dir of exe>/../../models, spelled without "..". */
        if (to_parent(exe) && to_parent(exe)) {
            add(list, &n, join(exe, "models", name));
            if (to_parent(exe)) add(list, &n, join(exe, "models", name));
        }
    }
    const char *home = getenv("HOME");
    if (home && home[0]) add(list, &n, join(home, ".cache/xfmr/models", name));
    return n;
}

/* 1 when name is one scripts/fetch_models.sh knows. */
static int fetchable(const char *name) {
    static const char *const known[] = {CLI_DEFAULT_ENCODER, CLI_DEFAULT_DECODER};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (!strcmp(name, known[k])) return 1;
    return 0;
}

char *cli_resolve_model(const char *model, const char *fallback) {
    if (!model) model = fallback;
    struct stat st;
    if (stat(model, &st) == 0) return strdup(model); /* an existing folder (or file) */
    if (strchr(model, '/')) {
        cli_error("model '%s' does not exist", model);
        fputs("  (give a model folder or .gguf file, or the name of a model fetched with "
              "scripts/fetch_models.sh: " CLI_FETCHABLE ")\n",
              stderr);
        return NULL;
    }
    char *list[MAX_CANDIDATES];
    size_t n = candidates(model, list), found = n;
    for (size_t k = 0; k < n && found == n; k++)
        if (is_dir(list[k])) found = k;
    char *result = NULL;
    if (found < n) {
        result = realpath(list[found], NULL); /* absolute, for messages and `xfmr info` */
        if (!result) {
            result = list[found];
            list[found] = NULL;
        }
    } else {
        cli_error("model '%s' not found; looked in:", model);
        for (size_t k = 0; k < n; k++) fprintf(stderr, "  %s\n", list[k]);
        if (fetchable(model))
            fprintf(stderr, "Fetch it with: scripts/fetch_models.sh %s\n(or set XFMR_MODELS to the "
                            "folder that holds it).\n", model);
        else
            fputs("scripts/fetch_models.sh fetches only " CLI_FETCHABLE "; for another model pass "
                  "its folder or .gguf file with -m, or put it in one of the places above.\n",
                  stderr);
    }
    for (size_t k = 0; k < n; k++) free(list[k]);
    return result;
}

int cli_lib_error(void) {
    const char *msg = xf_errmsg();
    return cli_error("%s", msg[0] ? msg : "unknown library error");
}

int cli_load_model(const cli_model_opts *mo, int need_tokenizer, xf_model **out) {
    *out = NULL;
    char *path = cli_resolve_model(mo->model, mo->default_model);
    if (!path) return CLI_EXIT_FAIL;
    xf_model_params params = xf_model_default_params();
    params.n_threads = (int)mo->threads;
    params.max_length = (size_t)mo->max_length;
    params.weights = mo->weights;
    params.rope_scaling = mo->rope_scaling;
    params.rope_factor = mo->rope_factor;
    params.rope_orig_ctx = (size_t)mo->rope_orig_ctx;
    params.attn_window = (size_t)mo->attn_window;
    params.attn_full_layers = mo->full_layers;
    params.attn_sinks = (size_t)mo->attn_sinks;
    params.attn_block_density = (float)mo->block_sparse;
    params.attn_vslash_density = (float)mo->vertical_slash;
    if ((mo->probsparse_factor > 0 || mo->probsparse_exact) && !mo->attn_probsparse) {
        free(path);
        return cli_usage_error(NULL, "--probsparse-factor and --probsparse-exact need --attn probsparse");
    }
    params.probsparse_factor = mo->attn_probsparse ? (float)(mo->probsparse_factor > 0 ? mo->probsparse_factor : 5.0) : 0.0f;
    params.probsparse_exact = mo->probsparse_exact;
    params.sparsity = mo->sparsity;
    params.sparsity_ratio = mo->sparsity_ratio;
    params.sparsity_method = mo->sparsity_method;
    params.calib_max_tokens = (size_t)mo->calib_tokens;
    params.sparse_head = mo->sparse_head;
    if (mo->sparse_head && mo->sparsity != XF_SPARSITY_2_4) {
        free(path);
        return cli_usage_error(NULL, "--sparse-head prunes the LM head 2:4: it needs --sparsity 2:4");
    }
    char *calib = NULL;
    if (mo->sparsity == XF_SPARSITY_NONE && (mo->calib || mo->sparsity_method != XF_SPARSE_MAGNITUDE)) {
        free(path);
        return cli_usage_error(NULL, "--sparsity-method and --calib need --sparsity 2:4 or a ratio");
    }
    if (mo->calib && mo->sparsity_method == XF_SPARSE_MAGNITUDE) {
        free(path);
        return cli_usage_error(NULL, "--calib is read by --sparsity-method wanda or sparsegpt only");
    }
    if (mo->sparsity_method != XF_SPARSE_MAGNITUDE && !mo->calib) {
        free(path);
        return cli_usage_error(NULL, "--sparsity-method %s needs calibration text: --calib FILE",
                               mo->sparsity_method == XF_SPARSE_WANDA ? "wanda" : "sparsegpt");
    }
    if (mo->calib) {
        size_t len;
        if (cli_read_file(mo->calib, &calib, &len)) {
            free(path);
            return CLI_EXIT_FAIL;
        }
        params.calib_text = calib;
    }
    xf_status st = xf_model_load(path, &params, out);
    free(calib);
    if (st != XF_OK) {
        free(path);
        *out = NULL;
        return cli_lib_error();
    }
    if (need_tokenizer && !xf_model_tokenizer(*out)) {
        cli_error("%s has no tokenizer (no tokenizer.json, or a GGUF file without tokenizer.ggml.* "
                  "metadata): this command needs one", path);
        xf_model_free(*out);
        *out = NULL;
        free(path);
        return CLI_EXIT_FAIL;
    }
    free(path);
    int rc = cli_apply_adaptive(mo, *out);
    if (rc) {
        xf_model_free(*out);
        *out = NULL;
    }
    return rc;
}

void cli_report_truncation(const xf_model *model, size_t n_truncated, size_t n_total) {
    if (n_truncated == 0) return;
    cli_note("%zu of %zu input%s %s longer than %zu tokens and %s truncated", n_truncated,
             n_total, n_total == 1 ? "" : "s", n_truncated == 1 ? "was" : "were",
             xf_model_max_length(model), n_truncated == 1 ? "was" : "were");
}
