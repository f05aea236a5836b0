/* gen_defaults.c — xf_model_sampler_defaults (xfmr.h, "text generation helpers"): the sampling
 * settings a model's authors ship with it, from <model folder>/generation_config.json read with
 * transformers' semantics (do_sample false or absent = greedy; do_sample true = temperature, top_k,
 * top_p with GenerationConfig's defaults 1.0 / 50 / 1.0), or from the GGUF keys
 * general.sampling.{temp,top_k,top_p,min_p,penalty_repeat} that llama.cpp's converter writes. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "io/gguf.h"
#include "model/model.h"
#include "model/sampling.h"

/* The sampler's own ranges, the message prefixed with the file. */
static xf_status check(const char *where, const xf_sampler_params *p) {
    return xf_sampler_check(p) ? xf_error_wrap(XF_ERR_RANGE, "%s", where) : XF_OK;
}

static const char *const k_json_keys[] = {"do_sample", "temperature", "top_k", "top_p", "min_p", "repetition_penalty"};

/* generation_config.json of dir: *found = 0 when it is absent or says nothing about sampling. */
static xf_status from_json(const char *dir, xf_sampler_params *p, int *found) {
    char *file = xf_path_join(dir, "generation_config.json");
    if (!file) return xf_error(XF_ERR_NOMEM, "out of memory");
    cJSON *root = NULL;
    xf_status st = XF_OK;
    if (!xf_is_file(file) || (st = xf_json_load(file, &root)) != XF_OK) {
        free(file);
        return st;
    }
    for (size_t k = 0; k < sizeof k_json_keys / sizeof k_json_keys[0]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k_json_keys[k]);
        if (v && !cJSON_IsNull(v)) *found = 1;
    }
    xf_sampler_params q = *p;
    int do_sample = 0;
    double temp = 1.0, top_p = 1.0, min_p = 0.0, rep = 1.0;
    int64_t top_k = 50;
    if (*found && !(st = xf_json_bool_opt(file, root, "do_sample", &do_sample)) &&
        !(st = xf_json_num_opt(file, root, "temperature", 0.0, 1e30, &temp)) &&
        !(st = xf_json_int_opt(file, root, "top_k", 0, 2147483647, &top_k)) &&
        !(st = xf_json_num_opt(file, root, "top_p", 0.0, 1.0, &top_p)) &&
        !(st = xf_json_num_opt(file, root, "min_p", 0.0, 1.0, &min_p)) &&
        !(st = xf_json_num_opt(file, root, "repetition_penalty", 0.0, 1e30, &rep))) {
        /* transformers: without do_sample the warpers (temperature, top-k/p, min-p) are unused. */
        q.temperature = do_sample ? (float)temp : 0.0f;
        q.top_k = do_sample ? (int32_t)top_k : 0;
        q.top_p = do_sample ? (float)top_p : 1.0f;
        q.min_p = do_sample ? (float)min_p : 0.0f;
        q.repetition_penalty = (float)rep;
        if (!(st = check(file, &q))) *p = q;
    }
    cJSON_Delete(root);
    free(file);
    return st;
}

/* A numeric GGUF key of any width into *out; 0 when absent. */
static int gguf_num(const xf_gguf *g, const char *key, double *out) {
    float f;
    double d;
    int64_t i;
    uint64_t u;
    if (xf_gguf_find(g, key) < 0) return 0;
    if (xf_gguf_get_f32(g, key, &f) == XF_OK) *out = f;
    else if (xf_gguf_get_f64(g, key, &d) == XF_OK) *out = d;
    else if (xf_gguf_get_int(g, key, &i) == XF_OK) *out = (double)i;
    else if (xf_gguf_get_uint(g, key, &u) == XF_OK) *out = (double)u;
    else return -1;
    return 1;
}

static xf_status from_gguf(const char *file, xf_sampler_params *p, int *found) {
    static const char *const keys[] = {"general.sampling.temp", "general.sampling.top_k", "general.sampling.top_p",
                                       "general.sampling.min_p", "general.sampling.penalty_repeat"};
    xf_gguf *g = NULL;
    xf_status st = xf_gguf_open(file, &g);
    if (st) return st;
    xf_sampler_params q = *p;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0] && !st; k++) {
        double v = 0;
        int got = gguf_num(g, keys[k], &v);
        if (got < 0) st = xf_error(XF_ERR_FORMAT, "%s: %s is not a number", file, keys[k]);
        if (got <= 0) continue;
        *found = 1;
        switch (k) {
        case 0: q.temperature = (float)v; break;
        case 1: q.top_k = v >= 0 && v <= 2147483647.0 ? (int32_t)v : -1; break;
        case 2: q.top_p = (float)v; break;
        case 3: q.min_p = (float)v; break;
        default: q.repetition_penalty = (float)v; break;
        }
    }
    xf_gguf_close(g);
    if (!st && *found && !(st = check(file, &q))) *p = q;
    return st;
}

xf_status xf_model_sampler_defaults(const xf_model *m, xf_sampler_params *params, const char **source) {
    if (source) *source = NULL;
    if (!m || !params) return xf_error(XF_ERR_INVALID_ARG, "xf_model_sampler_defaults: NULL argument");
    int found = 0;
    xf_status st = XF_OK;
    if (m->path && xf_is_dir(m->path)) {
        st = from_json(m->path, params, &found);
        if (source && found) *source = "generation_config.json";
    } else if (m->path && xf_is_file(m->path)) {
        st = from_gguf(m->path, params, &found);
        if (source && found) *source = "GGUF general.sampling.*";
    }
    if (st && source) *source = NULL;
    return st;
}
