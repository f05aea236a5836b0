/* wordpiece.c — the WordPiece model: greedy longest-match-first with a continuing-subword
 * prefix; a word longer than max_input_chars_per_word, or with an unmatched rest, is [UNK]. */
#include <string.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

static xf_status unk(const xf_tokenizer *tok, xf_tok_ids *out) {
    if (tok->unk_id < 0)
        return xf_error(XF_ERR_FORMAT, "%s: model.unk_token \"%s\" is not in model.vocab", tok->path,
                        tok->unk_token);
    return xf_ids_push(out, tok->unk_id);
}

xf_status xf_wordpiece(const xf_tokenizer *tok, const char *word, size_t len, char *scratch,
                       xf_tok_ids *out) {
    if (xf_utf8_count(word, len) > tok->max_input_chars_per_word) return unk(tok, out);
    size_t mark = out->len, start = 0;
    memcpy(scratch, tok->prefix, tok->prefix_len);
    while (start < len) {
        /* No key is longer than max_key_len bytes: start the search there (same result as
         * starting at the end of the word, but linear in the word length). */
        size_t end = len, plen = start > 0 ? tok->prefix_len : 0;
        if (end - start + plen > tok->max_key_len) {
            end = tok->max_key_len >= plen ? start + (tok->max_key_len - plen) : start;
            while (end > start && ((unsigned char)word[end] & 0xC0) == 0x80) end--;
        }
        int32_t id = -1;
        while (start < end) {
            const char *key = word + start;
            size_t klen = end - start;
            if (plen) {
                memcpy(scratch + plen, word + start, klen);
                key = scratch;
                klen += plen;
            }
            if (xf_strmap_get(&tok->vocab, key, klen, &id)) break;
            id = -1;
            do end--; while (end > start && ((unsigned char)word[end] & 0xC0) == 0x80);
        }
        if (id < 0) {
            out->len = mark;
            return unk(tok, out);
        }
        xf_status st = xf_ids_push(out, id);
        if (st) return st;
        start = end;
    }
    return XF_OK;
}
