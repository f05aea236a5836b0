/* model_tokenizer.c — the tokenizer of a model path without its weights (xf_tokenizer_load_model,
 * for `xfmr tokenize`), found the way xf_model_load finds it: a GGUF file's tokenizer.ggml.*
 * metadata, or the tokenizer.json of a Hugging Face folder (of its Transformer module for
 * sentence-transformers layouts); and the rule that a folder without tokenizer.json loads as a
 * model without a tokenizer (xf_model_load_tokenizer_opt). */
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "io/gguf_model.h"
#include "io/hf_config.h"
#include "model/model.h"

xf_status xf_model_load_tokenizer_opt(const char *dir, xf_tokenizer **out) {
    *out = NULL;
    char *file = xf_path_join(dir, "tokenizer.json");
    if (!file) return xf_error(XF_ERR_NOMEM, "out of memory");
    int present = xf_is_file(file) || !xf_is_dir(dir);
    free(file);
    return present ? xf_tokenizer_load(dir, out) : XF_OK;
}

xf_status xf_tokenizer_load_model(const char *path, xf_tokenizer **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_load_model: out is NULL");
    *out = NULL;
    if (!path || !*path) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_load_model: path is NULL or empty");
    char *gguf = NULL;
    xf_status st = xf_gguf_model_resolve(path, &gguf);
    if (st) return st;
    if (gguf) {
        st = xf_tokenizer_load_gguf(gguf, out);
        free(gguf);
        return st;
    }
    if (!xf_is_dir(path)) {
        if (xf_is_file(path)) return xf_tokenizer_load(path, out); /* a tokenizer.json itself */
        return xf_error(XF_ERR_NOT_FOUND, "model folder %s does not exist", path);
    }
    xf_st_layout layout;
    if ((st = xf_st_layout_load(path, &layout))) return st;
    char *tdir = layout.transformer_dir[0] ? xf_path_join(path, layout.transformer_dir) : xf_strdup(path);
    if (!tdir) return xf_error(XF_ERR_NOMEM, "out of memory");
    st = xf_tokenizer_load(tdir, out);
    free(tdir);
    return st;
}
