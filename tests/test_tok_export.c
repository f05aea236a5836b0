/* test_tok_export.c — tokenizers from tokenizer.json written as GGUF tokenizer.ggml.* keys
 * (tokenizer/tok_export.c) and read back by xfmr's GGUF tokenizer give the same ids on every line
 * of the corpus:
 *   - SmolLM2's byte-level BPE ("gpt2", pre "smollm"); with the SmolLM2 GGUF fetched, its tokens,
 *     merges and token types equal those llama.cpp's converter wrote from the same tokenizer.json;
 *   - the SentencePiece-style BPE of tests/data/spm_tokenizer.json ("llama": scores from the merge
 *     ranks), also decoded back; tokens and types equal those of spm_tokenizer.gguf;
 *   - the WordPiece tokenizers of the tiny models and of all-MiniLM-L6-v2 ("bert", phantom space;
 *     GGUF's "bert" always decodes as WordPiece, the tiny tokenizer.json has no decoder: ids only);
 *   - a tokenizer GGUF cannot describe is refused with the reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "tokenizer/tok_export.h"
#include "xfmr.h"

static char g_path[256];

/* Export tokenizer.json `rel` to a GGUF; NULL on failure (status in *st). */
static xf_tokenizer *round_trip(const char *path, xf_tokenizer **src, xf_status *st) {
    *src = NULL;
    xf_tokenizer *back = NULL;
    if ((*st = xf_tokenizer_load(path, src)) != XF_OK) return NULL;
    xf_gguf_writer *w = NULL;
    xf_tok_export_info info = {-1, NULL};
    if (!(*st = xf_gguf_writer_create(&w)) && !(*st = xf_tokenizer_export_gguf(*src, &info, w)) &&
        !(*st = xf_gguf_writer_write(w, g_path, NULL, NULL)))
        *st = xf_tokenizer_load_gguf(g_path, &back);
    xf_gguf_writer_free(w);
    return back;
}

/* Every corpus line tokenizes to the same ids; returns the number of lines. */
static size_t same_ids(const xf_tokenizer *a, const xf_tokenizer *b, int decode) {
    size_t len, n_lines, same = 0;
    char *buf = xf_t_slurp(xf_t_src("tests/data/corpus.txt"), &len);
    xf_t_span *lines = buf ? xf_t_split_lines(buf, len, &n_lines) : NULL;
    for (size_t i = 0; lines && i < n_lines; i++) {
        xf_encoding x, y;
        if (xf_tokenize(a, lines[i].p, lines[i].n, NULL, 0, 0, &x)) continue;
        if (!xf_tokenize(b, lines[i].p, lines[i].n, NULL, 0, 0, &y)) {
            int eq = x.n == y.n && !memcmp(x.ids, y.ids, x.n * sizeof *x.ids);
            if (eq && decode) {
                char *da = NULL, *db = NULL;
                eq = !xf_detokenize(a, x.ids, x.n, 1, &da, NULL) && !xf_detokenize(b, y.ids, y.n, 1, &db, NULL) &&
                     !strcmp(da, db);
                free(da), free(db);
            }
            if (!eq && same + 3 > i) fprintf(stderr, "corpus line %zu differs\n", i + 1);
            same += eq;
            xf_encoding_free(&y);
        }
        xf_encoding_free(&x);
    }
    CHECK_MSG(lines && same == n_lines, "%zu of %zu corpus lines tokenize the same", same, lines ? n_lines : 0);
    free(lines), free(buf);
    return same;
}

/* Arrays `key` of two GGUF files hold the same strings (or the same int32 values). */
static void same_array(const char *a_path, const char *b_path, const char *key) {
    xf_gguf *a = NULL, *b = NULL;
    CHECK(xf_gguf_open(a_path, &a) == XF_OK && xf_gguf_open(b_path, &b) == XF_OK);
    const xf_gguf_arr *x = NULL, *y = NULL;
    if (a && b) CHECK(xf_gguf_get_arr(a, key, &x) == XF_OK && xf_gguf_get_arr(b, key, &y) == XF_OK);
    if (x && y) {
        int eq = xf_gguf_arr_type(x) == xf_gguf_arr_type(y) && xf_gguf_arr_count(x) == xf_gguf_arr_count(y);
        for (uint64_t i = 0; eq && i < xf_gguf_arr_count(x); i++) {
            if (xf_gguf_arr_type(x) == XF_GGUF_STRING) {
                const char *s, *t;
                size_t ls, lt;
                eq = !xf_gguf_arr_str(x, i, &s, &ls) && !xf_gguf_arr_str(y, i, &t, &lt) && ls == lt && !memcmp(s, t, ls);
            } else {
                eq = !memcmp((const char *)xf_gguf_arr_data(x) + 4 * i, (const char *)xf_gguf_arr_data(y) + 4 * i, 4);
            }
            if (!eq) fprintf(stderr, "%s[%llu] differs\n", key, (unsigned long long)i);
        }
        CHECK_MSG(eq, "%s differs from %s's", key, b_path);
    }
    xf_gguf_close(a), xf_gguf_close(b);
}

static void check(const char *rel, const char *reference_gguf, const char *const *keys, int decode) {
    xf_tokenizer *src = NULL;
    xf_status st;
    xf_tokenizer *back = round_trip(rel[0] == '/' ? rel : xf_t_src(rel), &src, &st);
    CHECK_MSG(back != NULL, "%s: %s", rel, xf_errmsg());
    if (back) printf("%s: %zu corpus lines tokenize the same after GGUF\n", rel, same_ids(src, back, decode));
    for (size_t k = 0; back && reference_gguf && keys[k]; k++) same_array(g_path, reference_gguf, keys[k]);
    xf_tokenizer_free(src), xf_tokenizer_free(back);
    unlink(g_path);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%s/xfmr_tok_export_%d.gguf", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    static const char *const bpe_keys[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type", NULL};
    const char *smol = xf_t_smollm2(); /* NULL (a skip recorded): its arrays are not compared */
    check("tests/data/smollm2_tokenizer.json", smol, bpe_keys, 1);
    static const char *const spm_keys[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.token_type", NULL};
    check("tests/data/spm_tokenizer.json", xf_t_src("tests/data/spm_tokenizer.gguf"), spm_keys, 1);
    check("tests/data/tiny/bert/tokenizer.json", NULL, NULL, 0); /* no decoder in its tokenizer.json: ids only */
    const char *minilm = xf_t_model_dir();
    if (minilm) {
        char p[4200];
        snprintf(p, sizeof p, "%s/tokenizer.json", minilm);
        check(p, NULL, NULL, 1);
    }
    /* Metaspace pre-tokenizer without the normalizer llama.cpp's "llama" model implies: refused */
    xf_tokenizer *src = NULL;
    xf_status st;
    xf_tokenizer *back = round_trip(xf_t_src("tests/data/spm_meta_tokenizer.json"), &src, &st);
    CHECK_MSG(!back && st == XF_ERR_UNSUPPORTED && strstr(xf_errmsg(), "cannot be written as GGUF"), "%d %s", st, xf_errmsg());
    CHECK(access(g_path, F_OK) != 0);
    xf_tokenizer_free(src), xf_tokenizer_free(back);
    return xf_t_report();
}
