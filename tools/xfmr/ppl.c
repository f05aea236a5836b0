/* ppl.c — the perplexity of one text, shared by `xfmr perplexity` and `xfmr eval --task ppl`:
 * tokenize it as one text, run the library's strided sliding window (xf_perplexity), and count
 * the windows it ran. */
#define _POSIX_C_SOURCE 200809L

#include <string.h>

#include "cli.h"

size_t cli_ppl_window(xf_model *m, long window, size_t cap) {
    if (window > 0) return (size_t)window;
    xf_model_info info;
    size_t w = xf_model_get_info(m, &info) == XF_OK ? info.max_position : 0;
    return cap && w > cap ? cap : w;
}

int cli_text_perplexity(xf_model *m, const char *name, const char *text, size_t len, size_t window,
                        size_t stride, cli_ppl *out) {
    memset(out, 0, sizeof *out);
    if (!stride) stride = window / 2 ? window / 2 : 1;
    if (stride > window) stride = window;
    out->window = window;
    out->stride = stride;
    xf_encoding enc;
    memset(&enc, 0, sizeof enc);
    int rc = CLI_EXIT_OK;
    if (xf_tokenize(xf_model_tokenizer(m), text, len, NULL, 0, 0, &enc) != XF_OK) {
        rc = cli_lib_error();
    } else if (enc.n < 2) {
        rc = cli_error("'%s' has %zu token%s: perplexity needs at least 2", name, enc.n,
                       enc.n == 1 ? "" : "s");
    } else if (xf_perplexity(m, enc.ids, enc.n, window, stride, &out->ppl, &out->nll_sum,
                             &out->scored) != XF_OK) {
        rc = cli_lib_error();
    } else {
        out->tokens = enc.n;
        for (size_t b = 0; b < enc.n; b += stride) { /* the windows xf_perplexity ran */
            out->windows++;
            if (window >= enc.n - b) break;
        }
    }
    xf_encoding_free(&enc);
    return rc;
}
