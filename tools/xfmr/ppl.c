/* ppl.c — the perplexity of one text, shared by `xfmr perplexity` and `xfmr eval --task ppl`:
 * tokenize it as one text, run the library's strided sliding window (xf_perplexity_progress) with
 * a progress bar over the windows, which also counts them. */
#define _POSIX_C_SOURCE 200809L

#include <string.h>

#include "cli.h"

size_t cli_ppl_window(xf_model *m, long window, size_t cap) {
    if (window > 0) return (size_t)window;
    xf_model_info info = xf_model_info_init();
    size_t w = xf_model_get_info(m, &info) == XF_OK ? info.max_position : 0;
    return cap && w > cap ? cap : w;
}

static void on_window(void *user, size_t done, size_t total) {
    cli_progress *p = user;
    p->total = total;
    cli_progress_update(p, done);
}

int cli_text_perplexity(xf_model *m, const char *name, const char *text, size_t len, size_t window,
                        size_t stride, cli_ppl *out) {
    memset(out, 0, sizeof *out);
    const size_t limit = cli_ppl_window(m, 0, 0);
    if (window > limit)
        return cli_error("--window %zu is above the model's max_position_embeddings (%zu)", window, limit);
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
    } else {
        cli_progress prog;
        cli_progress_start(&prog, "perplexity", 0, 1);
        prog.unit = "windows";
        if (xf_perplexity_progress(m, enc.ids, enc.n, window, stride, &out->ppl, &out->nll_sum, &out->scored,
                                   on_window, &prog) != XF_OK)
            rc = cli_lib_error();
        out->tokens = enc.n;
        out->windows = prog.total; /* the windows xf_perplexity ran */
        cli_progress_finish(&prog, out->windows);
    }
    xf_encoding_free(&enc);
    return rc;
}
