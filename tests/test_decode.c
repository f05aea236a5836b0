/* test_decode.c — xf_detokenize and the streaming decoder against Hugging Face tokenizers 0.23.3
 * decode(): SmolLM2 (ByteLevel), MiniLM (WordPiece, skip_special_tokens), the SentencePiece-style
 * BPE of tests/data/spm_tokenizer.json (Replace/ByteFallback/Fuse/Strip) and its Metaspace twin,
 * on the golden corpus ids (goldens from scripts/make_spm_goldens.py); streaming with characters
 * split across byte tokens; bad arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "xfmr.h"

/* In place: \\ -> \, \n -> newline, \r -> CR. */
static void unescape(xf_t_span *s) {
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        char c = s->p[i];
        if (c == '\\' && i + 1 < s->n) {
            c = s->p[++i];
            c = c == 'n' ? '\n' : c == 'r' ? '\r' : c;
        }
        s->p[k++] = c;
    }
    s->n = k;
}

#define MAXTOK 200000
static int32_t ids[MAXTOK];

static int valid_utf8(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char b = p[i];
        size_t need = b < 0x80 ? 0 : b >= 0xC2 && b <= 0xDF ? 1 : b >= 0xE0 && b <= 0xEF ? 2 : b >= 0xF0 && b <= 0xF4 ? 3 : 4;
        if (need == 4 || i + need >= n) return 0;
        for (size_t k = 1; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80) return 0;
        i += need + 1;
    }
    return 1;
}

/* Decode every golden id line with xf_detokenize and with the stream; compare to want. */
static void golden(const xf_tokenizer *tok, const char *name, const char *ids_file, const char *want_file,
                   int skip_special) {
    size_t ilen, wlen, ni, nw, ok = 0, sok = 0, shown = 0;
    char *ib = xf_t_slurp(xf_t_src(ids_file), &ilen), *wb = xf_t_slurp(xf_t_src(want_file), &wlen);
    CHECK_MSG(ib && wb, "%s / %s missing", ids_file, want_file);
    if (!ib || !wb) {
        free(ib);
        free(wb);
        return;
    }
    xf_t_span *is = xf_t_split_lines(ib, ilen, &ni), *ws = xf_t_split_lines(wb, wlen, &nw);
    CHECK_MSG(ni == nw, "%s: %zu id lines, %zu decoded lines", name, ni, nw);
    xf_detok_stream *ds = NULL;
    CHECK(xf_detok_stream_create(tok, skip_special, &ds) == XF_OK);
    char *acc = malloc(1 << 20);
    for (size_t i = 0; i < ni && i < nw; i++) {
        size_t n = xf_t_parse_ints(is[i].p, is[i].n, ids, MAXTOK);
        unescape(&ws[i]);
        char *out = NULL;
        size_t len = 0;
        xf_status st = xf_detokenize(tok, ids, n, skip_special, &out, &len);
        if (st == XF_OK && len == ws[i].n && !memcmp(out, ws[i].p, len) && strlen(out) == len) {
            ok++;
        } else if (shown++ < 5) {
            fprintf(stderr, "MISMATCH %s line %zu: %s\n  want: %.*s\n  got:  %s\n", name, i + 1,
                    st ? xf_errmsg() : "", (int)ws[i].n, ws[i].p, out ? out : "");
        }
        /* the stream, token by token, gives the same text in valid UTF-8 pieces */
        size_t an = 0;
        int good = ds != NULL;
        for (size_t k = 0; k < n && good; k++) {
            const char *t;
            size_t tl;
            if (xf_detok_stream_push(ds, ids[k], &t, &tl) || !valid_utf8(t, tl) || an + tl > (1 << 20)) good = 0;
            else memcpy(acc + an, t, tl), an += tl;
        }
        const char *t;
        size_t tl;
        if (good && !xf_detok_stream_flush(ds, &t, &tl) && an + tl <= (1 << 20)) memcpy(acc + an, t, tl), an += tl;
        else good = 0;
        if (good && out && an == len && !memcmp(acc, out, len)) sok++;
        else if (shown++ < 5)
            fprintf(stderr, "STREAM MISMATCH %s line %zu:\n  want: %s\n  got:  %.*s\n", name, i + 1,
                    out ? out : "", (int)an, acc);
        free(out);
    }
    printf("decode %s: %zu/%zu lines identical, stream %zu/%zu\n", name, ok, ni, sok, ni);
    CHECK(ok == ni && ni > 0);
    CHECK(sok == ni);
    xf_detok_stream_free(ds);
    free(acc);
    free(is);
    free(ws);
    free(ib);
    free(wb);
}

static int32_t id_of(const xf_tokenizer *tok, const char *t) {
    int32_t id = xf_tokenizer_token_to_id(tok, t);
    CHECK_MSG(id >= 0, "token \"%s\" not found", t);
    return id;
}

/* Push ids one by one; outs[k] is what push k must return. */
static void stream_case(const xf_tokenizer *tok, const int32_t *v, size_t n, const char *const *outs,
                        const char *flush_out) {
    xf_detok_stream *s = NULL;
    CHECK(xf_detok_stream_create(tok, 1, &s) == XF_OK);
    if (!s) return;
    for (size_t k = 0; k < n; k++) {
        const char *t = NULL;
        size_t tl = 99;
        xf_status st = xf_detok_stream_push(s, v[k], &t, &tl);
        CHECK_MSG(st == XF_OK && t && tl == strlen(outs[k]) && !strcmp(t, outs[k]), "push %zu: want \"%s\" got \"%s\"",
                  k, outs[k], t ? t : "(null)");
    }
    const char *t = NULL;
    size_t tl;
    CHECK(xf_detok_stream_flush(s, &t, &tl) == XF_OK && t && !strcmp(t, flush_out));
    xf_detok_stream_free(s);
}

static void smollm_units(const xf_tokenizer *tok) {
    /* 😀 = F0 9F 98 80: byte-level chars ð (F0), Ł (9F -> U+0141), ĺ (98 -> U+013A), Ģ (80 -> U+0122) */
    int32_t v[6] = {id_of(tok, "Hi"), id_of(tok, "\xC3\xB0"), id_of(tok, "\xC5\x81"), id_of(tok, "\xC4\xBA"),
                    id_of(tok, "\xC4\xA2"), id_of(tok, "!")};
    const char *outs[6] = {"Hi", "", "", "", "\xF0\x9F\x98\x80", "!"};
    stream_case(tok, v, 6, outs, "");
    char *out;
    size_t len;
    CHECK(xf_detokenize(tok, v, 6, 0, &out, &len) == XF_OK && !strcmp(out, "Hi\xF0\x9F\x98\x80!") && len == 7);
    free(out);
    /* an incomplete character at the end: U+FFFD (one per maximal invalid subpart, as Rust) */
    const char *outs2[3] = {"Hi", "", ""};
    stream_case(tok, v, 3, outs2, "\xEF\xBF\xBD");
    CHECK(xf_detokenize(tok, v, 3, 0, &out, &len) == XF_OK && !strcmp(out, "Hi\xEF\xBF\xBD"));
    free(out);
    /* special tokens: kept or skipped */
    int32_t w[3] = {1, id_of(tok, "Hi"), 2};
    CHECK(xf_detokenize(tok, w, 3, 0, &out, &len) == XF_OK && !strcmp(out, "<|im_start|>Hi<|im_end|>"));
    free(out);
    CHECK(xf_detokenize(tok, w, 3, 1, &out, &len) == XF_OK && !strcmp(out, "Hi") && len == 2);
    free(out);
    CHECK(xf_detokenize(tok, w, 0, 1, &out, NULL) == XF_OK && out && !strcmp(out, ""));
    free(out);
    /* bad ids and arguments */
    int32_t bad[2] = {id_of(tok, "Hi"), 49152 + 1000};
    out = (char *)1;
    CHECK(xf_detokenize(tok, bad, 2, 0, &out, &len) == XF_ERR_RANGE && out == NULL);
    CHECK(strstr(xf_errmsg(), "50152") != NULL);
    int32_t neg = -1;
    CHECK(xf_detokenize(tok, &neg, 1, 0, &out, &len) == XF_ERR_RANGE);
    CHECK(xf_detokenize(NULL, bad, 1, 0, &out, &len) == XF_ERR_INVALID_ARG);
    CHECK(xf_detokenize(tok, NULL, 1, 0, &out, &len) == XF_ERR_INVALID_ARG);
    CHECK(xf_detokenize(tok, bad, 1, 0, NULL, &len) == XF_ERR_INVALID_ARG);
    xf_detok_stream *s = NULL;
    CHECK(xf_detok_stream_create(NULL, 0, &s) == XF_ERR_INVALID_ARG && s == NULL);
    CHECK(xf_detok_stream_create(tok, 0, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_detok_stream_create(tok, 0, &s) == XF_OK);
    const char *t;
    CHECK(xf_detok_stream_push(s, -5, &t, NULL) == XF_ERR_RANGE);
    CHECK(xf_detok_stream_push(NULL, 5, &t, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_detok_stream_push(s, 5, NULL, NULL) == XF_ERR_INVALID_ARG);
    xf_detok_stream_free(s);
    xf_detok_stream_free(NULL);
}

static void spm_units(const xf_tokenizer *tok) {
    /* 😀 from byte-fallback tokens; a leading "▁" of the first token is stripped */
    int32_t v[6] = {1, id_of(tok, "\xE2\x96\x81"), id_of(tok, "<0xF0>"), id_of(tok, "<0x9F>"), id_of(tok, "<0x98>"),
                    id_of(tok, "<0x80>")};
    const char *outs[6] = {"", "", "", "", "", "\xF0\x9F\x98\x80"};
    stream_case(tok, v, 6, outs, "");
    char *out;
    size_t len;
    CHECK(xf_detokenize(tok, v, 6, 1, &out, &len) == XF_OK && !strcmp(out, "\xF0\x9F\x98\x80"));
    free(out);
    /* ByteFallback: an invalid run is one U+FFFD per byte (not per maximal subpart) */
    int32_t w[3] = {id_of(tok, "<0xF0>"), id_of(tok, "<0x9F>"), id_of(tok, "a")};
    CHECK(xf_detokenize(tok, w, 3, 1, &out, &len) == XF_OK && !strcmp(out, "\xEF\xBF\xBD\xEF\xBF\xBD" "a"));
    free(out);
    int32_t x[3] = {1, id_of(tok, "<0x41>"), 2};
    CHECK(xf_detokenize(tok, x, 3, 0, &out, &len) == XF_OK && !strcmp(out, "<s>A</s>"));
    free(out);
}

int main(void) {
    xf_tokenizer *tok = NULL;
    if (xf_tokenizer_load(xf_t_src("tests/data/smollm2_tokenizer.json"), &tok) == XF_OK) {
        golden(tok, "smollm2", "tests/data/smollm2_ids.txt", "tests/data/spm_smollm2_decoded.txt", 0);
        smollm_units(tok);
    } else {
        CHECK_MSG(0, "%s", xf_errmsg());
    }
    xf_tokenizer_free(tok);
    tok = NULL;
    if (xf_tokenizer_load(xf_t_src("tests/data/spm_tokenizer.json"), &tok) == XF_OK) {
        golden(tok, "spm", "tests/data/spm_ids.txt", "tests/data/spm_decoded.txt", 1);
        spm_units(tok);
    } else {
        CHECK_MSG(0, "%s", xf_errmsg());
    }
    xf_tokenizer_free(tok);
    tok = NULL;
    const char *dir = xf_t_model_dir();
    if (dir) {
        if (xf_tokenizer_load(dir, &tok) == XF_OK)
            golden(tok, "minilm", "tests/data/minilm_ids.txt", "tests/data/spm_minilm_decoded.txt", 1);
        else
            CHECK_MSG(0, "%s", xf_errmsg());
        xf_tokenizer_free(tok);
    }
    return xf_t_report();
}
