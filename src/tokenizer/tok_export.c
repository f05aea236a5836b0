/* tok_export.c — a loaded tokenizer as GGUF tokenizer.ggml.* keys (tok_export.h). Only what GGUF
 * readers can rebuild exactly is written; anything else is refused with the reason, so that a
 * saved model never tokenizes differently after reloading. */
#include "tokenizer/tok_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/gguf_write.h"
#include "tokenizer/tokenizer.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

#define SPACE_MARK "\xE2\x96\x81" /* U+2581, SentencePiece's space */

typedef struct ex {
    const xf_tokenizer *tok;
    xf_gguf_writer *w;
    size_t n;           /* ids 0 .. n-1 */
    const char **str;   /* token i (for a gap "[PADi]" in pad) */
    size_t *len;
    int32_t *type;
    char *pad;          /* storage of gap names and respelled tokens */
    int32_t first, last; /* the special token the post-processor puts before / after a sequence, -1 */
} ex;

static xf_status unsupported(const ex *e, const char *why) {
    return xf_error(XF_ERR_UNSUPPORTED, "%s: the tokenizer cannot be written as GGUF tokenizer.ggml.* metadata: %s",
                    e->tok->path ? e->tok->path : "tokenizer", why);
}

static xf_status nomem(void) { return xf_error(XF_ERR_NOMEM, "out of memory writing the tokenizer"); }

/* Tokens by id, types (NORMAL, CONTROL / USER_DEFINED for added tokens, UNUSED gaps). */
static xf_status collect(ex *e) {
    const xf_tokenizer *t = e->tok;
    e->n = t->vocab_size;
    if (!e->n) return unsupported(e, "it has no tokens");
    if (!(e->str = xf_calloc(e->n, sizeof *e->str)) || !(e->len = xf_calloc(e->n, sizeof *e->len)) ||
        !(e->type = xf_calloc(e->n, sizeof *e->type)) || !(e->pad = xf_malloc(e->n * 20)))
        return nomem();
    for (size_t i = 0; i < t->n_rev; i++) {
        const size_t id = (size_t)t->rev_ids[i];
        if (id >= e->n) continue;
        e->str[id] = t->rev_toks[i];
        e->len[id] = strlen(t->rev_toks[i]);
        e->type[id] = TT_NORMAL;
    }
    for (size_t k = 0; k < t->n_added; k++) {
        const size_t id = (size_t)t->added[k].id;
        if (id < e->n) e->type[id] = t->added[k].special ? TT_CONTROL : TT_USER;
    }
    for (size_t i = 0; i < e->n; i++)
        if (!e->str[i]) {
            char *p = e->pad + 20 * i;
            e->len[i] = (size_t)snprintf(p, 20, "[PAD%zu]", i);
            e->str[i] = p;
            e->type[i] = TT_UNUSED;
        }
    /* the post-processor's special tokens around one sequence */
    e->first = e->last = -1;
    if (t->post == XF_POST_BERT) {
        e->first = t->bert_cls, e->last = t->bert_sep;
    } else if (t->post == XF_POST_TEMPLATE) {
        int seen = 0;
        for (size_t k = 0; k < t->n_tpl_single; k++) {
            const xf_tpl_piece *p = &t->tpl_single[k];
            if (p->is_seq) {
                seen = 1;
                continue;
            }
            if (p->n_ids != 1 || (seen ? e->last : e->first) >= 0)
                return unsupported(e, "its post-processor adds more than one special token on a side");
            *(seen ? &e->last : &e->first) = p->ids[0];
        }
    }
    return XF_OK;
}

static void ex_free(ex *e) {
    free(e->str), free(e->len), free(e->type), free(e->pad);
}

static xf_status set_id(ex *e, const char *key, int32_t id) {
    return id >= 0 && (size_t)id < e->n ? xf_gguf_set_u32(e->w, key, (uint32_t)id) : XF_OK;
}

static int32_t id_of(const xf_tokenizer *t, const char *s) {
    int32_t id;
    return xf_strmap_get(&t->vocab, s, strlen(s), &id) ? id : -1;
}

/* The keys every model writes: tokens, types, the template's BOS / EOS. */
static xf_status common_keys(ex *e, const char *model, const xf_tok_export_info *info) {
    xf_status st;
    if ((st = xf_gguf_set_str(e->w, "tokenizer.ggml.model", model, strlen(model))) ||
        (st = xf_gguf_set_arr_str(e->w, "tokenizer.ggml.tokens", e->str, e->len, e->n)) ||
        (st = xf_gguf_set_arr(e->w, "tokenizer.ggml.token_type", XF_GGUF_INT32, e->type, e->n)))
        return st;
    const int32_t bos = e->first, eos = e->last >= 0 ? e->last : info ? info->eos_id : -1;
    if ((st = set_id(e, "tokenizer.ggml.bos_token_id", bos)) || (st = set_id(e, "tokenizer.ggml.eos_token_id", eos)) ||
        (st = set_id(e, "tokenizer.ggml.unknown_token_id", e->tok->unk_id)) ||
        (st = xf_gguf_set_bool(e->w, "tokenizer.ggml.add_bos_token", e->first >= 0)) ||
        (st = xf_gguf_set_bool(e->w, "tokenizer.ggml.add_eos_token", e->last >= 0)))
        return st;
    if (info && info->chat_template)
        return xf_gguf_set_str(e->w, "tokenizer.chat_template", info->chat_template, strlen(info->chat_template));
    return XF_OK;
}

/* ---------------------------------------------------------------- WordPiece -> "bert" */

static xf_status export_bert(ex *e, const xf_tok_export_info *info) {
    const xf_tokenizer *t = e->tok;
    const xf_norm_step *nm = t->n_norm == 1 ? &t->norm[0] : NULL;
    if (!nm || nm->kind != XF_NORM_BERT || !nm->clean_text || !nm->handle_chinese_chars)
        return unsupported(e, "WordPiece needs BERT's normalizer (clean_text and handle_chinese_chars on)");
    if (t->n_pretok != 1 || t->pretok[0].kind != XF_PRETOK_BERT)
        return unsupported(e, "WordPiece needs BERT's pre-tokenizer");
    if (!t->prefix || strcmp(t->prefix, "##") || t->max_input_chars_per_word != 100)
        return unsupported(e, "WordPiece needs the prefix \"##\" and max_input_chars_per_word 100");
    if (e->first < 0 || e->last < 0)
        return unsupported(e, "WordPiece needs a post-processor that adds [CLS] before and [SEP] after a sequence");
    /* llama.cpp's phantom space: control tokens as they are, "##piece" -> "piece", "word" -> "▁word" */
    size_t total = 0;
    for (size_t i = 0; i < e->n; i++) total += e->len[i] + 4;
    char *buf = xf_malloc(total), *p = buf;
    if (!buf) return nomem();
    for (size_t i = 0; i < e->n; i++) {
        const char *s = e->str[i];
        size_t l = e->len[i];
        if (e->type[i] == TT_CONTROL || e->type[i] == TT_UNUSED) continue;
        char *d = p;
        if (l >= 2 && s[0] == '#' && s[1] == '#') memcpy(p, s + 2, l - 2), p += l - 2;
        else memcpy(p, SPACE_MARK, 3), memcpy(p + 3, s, l), p += l + 3;
        e->str[i] = d;
        e->len[i] = (size_t)(p - d);
    }
    xf_status st = common_keys(e, "bert", info);
    if (!st) st = xf_gguf_set_str(e->w, "tokenizer.ggml.pre", "default", 7);
    if (!st) st = set_id(e, "tokenizer.ggml.seperator_token_id", e->last); /* GGUF's spelling */
    if (!st) st = set_id(e, "tokenizer.ggml.cls_token_id", e->first);
    if (!st) st = set_id(e, "tokenizer.ggml.padding_token_id", id_of(t, "[PAD]"));
    if (!st) st = set_id(e, "tokenizer.ggml.mask_token_id", id_of(t, "[MASK]"));
    if (!st) st = xf_gguf_set_bool(e->w, "tokenizer.ggml.add_sep_token", 0);
    if (!st) st = xf_gguf_set_bool(e->w, "tokenizer.ggml.normalizer.lowercase", nm->lowercase);
    if (!st && (nm->strip_accents != 0) != (nm->lowercase != 0))
        st = xf_gguf_set_bool(e->w, "tokenizer.ggml.normalizer.strip_accents", nm->strip_accents);
    free(buf); /* the writer copied the strings */
    return st;
}

/* ---------------------------------------------------------------- BPE merges */

/* Merges by rank: left / right ids (-1: rank unused). */
static xf_status merges_by_rank(const xf_tokenizer *t, int32_t **left, int32_t **right) {
    *left = xf_malloc((t->n_merges ? t->n_merges : 1) * sizeof **left);
    *right = xf_malloc((t->n_merges ? t->n_merges : 1) * sizeof **right);
    if (!*left || !*right) return nomem();
    for (size_t r = 0; r < t->n_merges; r++) (*left)[r] = (*right)[r] = -1;
    for (size_t i = 0; i < t->merges.cap; i++) {
        const xf_strmap_slot *s = &t->merges.slots[i];
        if (!s->hash || s->len != 8 || s->val < 0 || (size_t)s->val >= t->n_merges) continue;
        int32_t ids[2];
        memcpy(ids, xf_strmap_key(&t->merges, s), 8);
        (*left)[s->val] = ids[0], (*right)[s->val] = ids[1];
    }
    return XF_OK;
}

/* tokenizer.ggml.merges: "left right" by rank. */
static xf_status merge_strings(ex *e, const int32_t *left, const int32_t *right) {
    const xf_tokenizer *t = e->tok;
    size_t n = 0, total = 0;
    for (size_t r = 0; r < t->n_merges; r++)
        if (left[r] >= 0) total += e->len[left[r]] + e->len[right[r]] + 1, n++;
    if (n != t->n_merges) return unsupported(e, "its merge ranks have gaps");
    char *buf = xf_malloc(total ? total : 1), *p = buf;
    const char **s = xf_malloc((n ? n : 1) * sizeof *s);
    size_t *l = xf_malloc((n ? n : 1) * sizeof *l);
    xf_status st = buf && s && l ? XF_OK : nomem();
    for (size_t r = 0; r < n && !st; r++) {
        const size_t a = (size_t)left[r], b = (size_t)right[r];
        if (memchr(e->str[a], ' ', e->len[a]) || e->len[a] == 0)
            st = unsupported(e, "a merge's left token is empty or holds a space");
        s[r] = p;
        memcpy(p, e->str[a], e->len[a]), p += e->len[a];
        *p++ = ' ';
        memcpy(p, e->str[b], e->len[b]), p += e->len[b];
        l[r] = (size_t)(p - s[r]);
    }
    if (!st) st = xf_gguf_set_arr_str(e->w, "tokenizer.ggml.merges", s, l, n);
    free(buf), free(s), free(l);
    return st;
}

/* The llama.cpp name of a byte-level BPE pre-tokenizer chain, NULL if it has none here. */
static const char *bytelevel_pre(const xf_tokenizer *t) {
    if (t->n_norm) return NULL;
    const xf_pretok_step *p = t->pretok;
    if (t->n_pretok == 1 && p[0].kind == XF_PRETOK_BYTELEVEL && p[0].use_regex && !p[0].add_prefix_space) return "gpt-2";
    if (t->n_pretok == 2 && p[0].kind == XF_PRETOK_DIGITS && p[0].individual_digits && p[1].kind == XF_PRETOK_BYTELEVEL &&
        p[1].use_regex && !p[1].add_prefix_space)
        return "smollm";
    return NULL;
}

static xf_status export_gpt2(ex *e, const xf_tok_export_info *info) {
    const xf_tokenizer *t = e->tok;
    const char *pre = bytelevel_pre(t);
    if (!pre) return unsupported(e, "its byte-level pre-tokenizer has no llama.cpp name known here (gpt-2, smollm)");
    if (t->ignore_merges) return unsupported(e, "ignore_merges is set");
    int32_t *left = NULL, *right = NULL;
    xf_status st = merges_by_rank(t, &left, &right);
    if (!st) st = common_keys(e, "gpt2", info);
    if (!st) st = xf_gguf_set_str(e->w, "tokenizer.ggml.pre", pre, strlen(pre));
    if (!st) st = merge_strings(e, left, right);
    free(left), free(right);
    return st;
}

/* ---------------------------------------------------------------- SentencePiece BPE -> "llama" */

/* The normalizer Prepend("▁")? + Replace(" ", "▁") of SentencePiece-style BPE; *prepend = 1 with
 * the Prepend. */
static int spm_normalizer(const xf_tokenizer *t, int *prepend) {
    size_t k = 0;
    *prepend = 0;
    if (k < t->n_norm && t->norm[k].kind == XF_NORM_PREPEND && t->norm[k].str_len == 1 && t->norm[k].str[0] == 0x2581)
        *prepend = 1, k++;
    if (k >= t->n_norm || t->norm[k].kind != XF_NORM_REPLACE || t->norm[k].pat_len != 1 || t->norm[k].pat[0] != ' ' ||
        t->norm[k].str_len != 1 || t->norm[k].str[0] != 0x2581)
        return 0;
    return k + 1 == t->n_norm;
}

static int is_byte_token(const char *s, size_t l) {
    return l == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' && strchr("0123456789ABCDEF", s[3]) &&
           strchr("0123456789ABCDEF", s[4]) && s[3] && s[4];
}

static xf_status export_spm(ex *e, const xf_tok_export_info *info) {
    const xf_tokenizer *t = e->tok;
    int prepend;
    if (!spm_normalizer(t, &prepend) || t->n_pretok)
        return unsupported(e, "SentencePiece-style BPE needs the normalizer Prepend(\"\xE2\x96\x81\") + Replace(\" \", "
                              "\"\xE2\x96\x81\") and no pre-tokenizer");
    int32_t *left = NULL, *right = NULL;
    float *score = xf_malloc(e->n * sizeof *score);
    xf_status st = score ? merges_by_rank(t, &left, &right) : nomem();
    /* score of a token: minus the rank of the first merge that makes it (merged tokens rank by
     * it, as the tokenizer applied them); tokens no merge makes come after, in id order */
    for (size_t i = 0; !st && i < e->n; i++) score[i] = -(float)(t->n_merges + i);
    for (size_t r = t->n_merges; !st && r-- > 0;) {
        const int32_t m = t->merge_new[r];
        if (m >= 0 && (size_t)m < e->n) score[m] = -(float)r;
    }
    for (size_t i = 0; !st && i < e->n; i++) {
        if (is_byte_token(e->str[i], e->len[i])) e->type[i] = TT_BYTE;
        if ((int32_t)i == t->unk_id) e->type[i] = TT_UNKNOWN;
    }
    if (!st) st = common_keys(e, "llama", info);
    if (!st) st = xf_gguf_set_arr(e->w, "tokenizer.ggml.scores", XF_GGUF_FLOAT32, score, e->n);
    if (!st) st = xf_gguf_set_bool(e->w, "tokenizer.ggml.add_space_prefix", prepend);
    free(left), free(right), free(score);
    return st;
}

xf_status xf_tokenizer_export_gguf(const xf_tokenizer *tok, const xf_tok_export_info *info, xf_gguf_writer *w) {
    ex e;
    memset(&e, 0, sizeof e);
    e.tok = tok;
    e.w = w;
    xf_status st = collect(&e);
    if (!st) {
        if (tok->model == XF_MODEL_WORDPIECE) st = export_bert(&e, info);
        else if (tok->model != XF_MODEL_BPE || (tok->suffix && *tok->suffix)) st = unsupported(&e, "its model is not WordPiece or BPE");
        else if (tok->byte_fallback) st = export_spm(&e, info);
        else st = export_gpt2(&e, info);
    }
    ex_free(&e);
    return st;
}
