/* quality.c — the quality loss of a model against a reference model on calibration text, for the
 * --max-ppl-increase search of mixed precision (save.c, docs/QUANTIZATION.md):
 *   - decoders: the perplexity increase, in percent, on the calibration tokens as
 *     xf_model_calib_ids reads them (the first max_tokens tokens), in non-overlapping windows of
 *     their chunk length (up to 512);
 *   - encoders (no LM head): 100 x (1 - mean cosine) between the model's embeddings
 *     (xf_embed: its pooling and normalisation) and the reference's, over the text's first
 *     XF_QUALITY_LINES non-empty lines. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/model.h"

xf_status xf_quality_ref_make(xf_model *m, const char *text, size_t max_tokens, xf_quality_ref *r) {
    memset(r, 0, sizeof *r);
    r->decoder = m->plan.lm_head.w.data != NULL;
    xf_status st;
    if (r->decoder) {
        st = xf_model_calib_ids(m, text, max_tokens, "the quality search", &r->ids, &r->n, &r->chunk);
        if (!st && r->chunk < 2) st = xf_error(XF_ERR_UNSUPPORTED, "%s: an input limit of %zu tokens leaves no perplexity", m->path, r->chunk);
        if (!st) st = xf_perplexity(m, r->ids, r->n, r->chunk, r->chunk, &r->ppl, NULL, NULL);
        if (st) xf_quality_ref_free(r);
        return st;
    }
    if (!text) return xf_error(XF_ERR_INVALID_ARG, "the quality search needs calibration text");
    if (!(r->text = xf_malloc(strlen(text) + 1))) return xf_error(XF_ERR_NOMEM, "out of memory");
    strcpy(r->text, text);
    if (!(r->lines = xf_calloc(XF_QUALITY_LINES, sizeof *r->lines))) {
        xf_quality_ref_free(r);
        return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    for (char *p = r->text; *p && r->n_lines < XF_QUALITY_LINES;) {
        char *e = strchr(p, '\n');
        if (e) *e = '\0';
        int blank = 1;
        for (const char *c = p; *c && blank; c++) blank = *c == ' ' || *c == '\t' || *c == '\r';
        if (!blank) r->lines[r->n_lines++] = p;
        if (!e) break;
        p = e + 1;
    }
    if (!r->n_lines) {
        xf_quality_ref_free(r);
        return xf_error(XF_ERR_INVALID_ARG, "the quality search of an encoder needs calibration text with non-empty lines "
                        "(embedded one by one); it has none");
    }
    r->dim = xf_model_embedding_dim(m);
    if (!(r->emb = xf_malloc(r->n_lines * r->dim * sizeof *r->emb))) st = xf_error(XF_ERR_NOMEM, "out of memory");
    else st = xf_embed(m, (const char *const *)r->lines, r->n_lines, 0, r->emb, NULL);
    if (st) xf_quality_ref_free(r);
    return st;
}

xf_status xf_quality_loss(xf_model *m, const xf_quality_ref *r, double *loss) {
    *loss = 0;
    if (r->decoder) {
        double ppl = 0;
        if (!m->plan.lm_head.w.data) return xf_error(XF_ERR_UNSUPPORTED, "%s has no LM head: no perplexity", m->path);
        xf_status st = xf_perplexity(m, r->ids, r->n, r->chunk, r->chunk, &ppl, NULL, NULL);
        if (!st) *loss = 100.0 * (ppl / r->ppl - 1.0);
        return st;
    }
    if (xf_model_embedding_dim(m) != r->dim)
        return xf_error(XF_ERR_INVALID_ARG, "%s embeds in %zu dimensions, the reference in %zu", m->path, xf_model_embedding_dim(m), r->dim);
    float *e = xf_malloc(r->n_lines * r->dim * sizeof *e);
    if (!e) return xf_error(XF_ERR_NOMEM, "out of memory");
    xf_status st = xf_embed(m, (const char *const *)r->lines, r->n_lines, 0, e, NULL);
    double sum = 0;
    for (size_t i = 0; !st && i < r->n_lines; i++) {
        const float *a = e + i * r->dim, *b = r->emb + i * r->dim;
        double ab = 0, aa = 0, bb = 0;
        for (size_t k = 0; k < r->dim; k++) ab += (double)a[k] * b[k], aa += (double)a[k] * a[k], bb += (double)b[k] * b[k];
        sum += aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
    }
    free(e);
    if (!st) *loss = 100.0 * (1.0 - sum / (double)r->n_lines);
    return st;
}

void xf_quality_ref_free(xf_quality_ref *r) {
    free(r->ids);
    free(r->text);
    free(r->lines);
    free(r->emb);
    memset(r, 0, sizeof *r);
}
