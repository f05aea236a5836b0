/* chat_model.c — xf_chat_template_from_model: a loaded model's own chat template, compiled with
 * the special tokens the template expects (bos_token: the token the model's tokenizer puts before
 * a text; eos_token: the model's end-of-sequence token). Public API only (xfmr.h). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "xfmr.h"

/* The one special token the tokenizer adds in front of a text, or NULL. */
static const char *bos_text(const xf_tokenizer *tok) {
    xf_encoding e0, e1;
    memset(&e0, 0, sizeof e0);
    memset(&e1, 0, sizeof e1);
    const char *bos = NULL;
    if (xf_tokenize(tok, "", 0, NULL, 0, 0, &e0) == XF_OK && xf_tokenize(tok, "a", 1, NULL, 0, 0, &e1) == XF_OK) {
        size_t k = 0;
        while (k < e0.n && k < e1.n && e0.ids[k] == e1.ids[k]) k++;
        if (k == 1) bos = xf_tokenizer_id_to_token(tok, e0.ids[0]);
    }
    xf_encoding_free(&e0);
    xf_encoding_free(&e1);
    return bos;
}

xf_status xf_chat_template_from_model(const xf_model *model, xf_chat_template **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_template_from_model: out is NULL");
    *out = NULL;
    if (!model) return xf_error(XF_ERR_INVALID_ARG, "xf_chat_template_from_model: model is NULL");
    const char *text = xf_model_chat_template(model);
    if (!text)
        return xf_error(XF_ERR_NOT_FOUND, "the model has no chat template (tokenizer_config.json "
                                          "\"chat_template\" or GGUF tokenizer.chat_template)");
    const xf_tokenizer *tok = xf_model_tokenizer(model);
    const char *bos = tok ? bos_text(tok) : NULL, *eos = NULL;
    int32_t eos_id = xf_model_eos_id(model);
    if (tok && eos_id >= 0) eos = xf_tokenizer_id_to_token(tok, eos_id);
    return xf_chat_template_from_text(text, bos, eos, out);
}
