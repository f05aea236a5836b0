/* tokenizer.h — internal structures and API of the tokenizer (WordPiece and byte-level BPE models)
 * that reproduces Hugging Face `tokenizers` (Rust) token-for-token for tokenizer.json files. */
#ifndef XF_TOKENIZER_TOKENIZER_H
#define XF_TOKENIZER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"
#include "tokenizer/strmap.h"
#include "tokenizer/tok_buf.h"

/* ---- normalizer: a flat list of steps (a "Sequence" is flattened at load time) ---- */
typedef enum xf_norm_kind {
    XF_NORM_BERT = 0,
    XF_NORM_LOWERCASE,
    XF_NORM_STRIP_ACCENTS, /* remove Mn only (no decomposition), as tokenizers' StripAccents */
    XF_NORM_NFD,
    XF_NORM_NFKD,
    XF_NORM_NFC,
    XF_NORM_NFKC,
    XF_NORM_STRIP, /* strip White_Space on the left and/or right */
    XF_NORM_PREPEND, /* prepend str (when the text is not empty) */
    XF_NORM_REPLACE, /* replace every occurrence of pat (a literal string) with str */
    XF_NORM_REPLACE_RE, /* replace every match of re (PCRE2) with content (precompiled.c) */
    XF_NORM_PRECOMPILED /* SentencePiece precompiled_charsmap (precompiled.c) */
} xf_norm_kind;

typedef struct xf_norm_step {
    xf_norm_kind kind;
    /* XF_NORM_BERT */
    int clean_text, handle_chinese_chars, strip_accents, lowercase;
    /* XF_NORM_STRIP */
    int strip_left, strip_right;
    /* XF_NORM_PREPEND (str) / XF_NORM_REPLACE (pat -> str): code points, owned */
    int32_t *pat, *str;
    size_t pat_len, str_len;
    /* XF_NORM_REPLACE_RE: compiled regex (pcre2_code *) and the replacement, UTF-8, owned */
    void *re;
    char *content;
    size_t content_len;
    /* XF_NORM_PRECOMPILED: the charsmap blob (owned), its trie units and replacement strings */
    uint8_t *pc_blob;
    uint32_t pc_units;
    const char *pc_norm;
    size_t pc_norm_len;
} xf_norm_step;

/* ---- pre-tokenizer: a flat list of steps applied one after another ---- */
typedef enum xf_pretok_kind {
    XF_PRETOK_BERT = 0,         /* split on whitespace (removed) and punctuation (isolated) */
    XF_PRETOK_WHITESPACE,       /* regex \w+|[^\w\s]+ */
    XF_PRETOK_WHITESPACE_SPLIT, /* split on whitespace (removed) */
    XF_PRETOK_BYTELEVEL,        /* optional prefix space, GPT-2 regex, bytes -> unicode chars */
    XF_PRETOK_SPLIT,            /* "Split" with a regex or literal pattern (PCRE2) */
    XF_PRETOK_DIGITS,           /* "Digits": numeric chars isolated or contiguous */
    XF_PRETOK_METASPACE         /* ' ' -> replacement, prepend it, split before it (re) */
} xf_pretok_kind;

/* SplitDelimiterBehavior of tokenizers */
typedef enum xf_split_behavior {
    XF_SPLIT_REMOVED = 0,
    XF_SPLIT_ISOLATED,
    XF_SPLIT_MERGED_PREV,
    XF_SPLIT_MERGED_NEXT,
    XF_SPLIT_CONTIGUOUS
} xf_split_behavior;

typedef struct xf_pretok_step {
    xf_pretok_kind kind;
    int add_prefix_space, use_regex; /* BYTELEVEL */
    int individual_digits;           /* DIGITS */
    xf_split_behavior behavior;      /* SPLIT */
    int invert;                      /* SPLIT */
    void *re;                        /* pcre2_code_8 * (SPLIT, BYTELEVEL with use_regex,
                                        METASPACE with split: the literal replacement) */
    char rep[8];                     /* METASPACE: replacement char, UTF-8, NUL-terminated */
    int prepend;                     /* METASPACE: 0 never, 1 first, 2 always */
} xf_pretok_step;

/* ---- decoder: a flat list of steps (a "Sequence" is flattened at load time) ---- */
typedef enum xf_dec_kind {
    XF_DEC_BYTELEVEL = 0, /* GPT-2 byte-to-unicode map reversed, then UTF-8 repaired */
    XF_DEC_WORDPIECE,     /* "##" joining (+ cleanup) */
    XF_DEC_METASPACE,     /* replacement -> ' ', all of them dropped in the first token */
    XF_DEC_REPLACE,       /* literal a -> b in every token */
    XF_DEC_BYTEFALLBACK,  /* runs of <0xNN> tokens -> bytes (invalid UTF-8: one U+FFFD a byte) */
    XF_DEC_FUSE,          /* join all tokens into one */
    XF_DEC_STRIP          /* strip up to start / stop chars a from each token's ends */
} xf_dec_kind;

typedef struct xf_dec_step {
    xf_dec_kind kind;
    char *a, *b; /* WORDPIECE: prefix; METASPACE: replacement; REPLACE: a -> b; STRIP: content */
    size_t a_len, b_len;
    int cleanup;       /* WORDPIECE */
    int prepend_never; /* METASPACE */
    size_t start, stop; /* STRIP */
} xf_dec_step;

typedef enum xf_model_kind { XF_MODEL_WORDPIECE = 0, XF_MODEL_BPE, XF_MODEL_UNIGRAM } xf_model_kind;

/* ---- post-processor ---- */
typedef enum xf_post_kind { XF_POST_NONE = 0, XF_POST_TEMPLATE, XF_POST_BERT } xf_post_kind;

/* One template piece: a sequence (seq = 0 for A, 1 for B) or a run of special-token ids. */
typedef struct xf_tpl_piece {
    int is_seq;
    int seq;          /* 0 = A, 1 = B (is_seq) */
    int32_t type_id;
    const int32_t *ids; /* special token ids (!is_seq), points into xf_tokenizer.tpl_ids */
    size_t n_ids;
} xf_tpl_piece;

/* ---- added tokens ---- */
typedef struct xf_added_token {
    char *content;
    size_t len;
    int32_t id;
    int single_word, lstrip, rstrip, normalized, special;
    char *pattern; /* what is matched: content, or its normalized form (normalized tokens) */
    size_t pattern_len;
} xf_added_token;

/* Byte trie over added-token patterns, for leftmost-longest matching. */
typedef struct xf_trie_node {
    uint32_t first_child, next_sibling; /* 0 = none (node 0 is the root) */
    int32_t token;                      /* index into xf_tokenizer.added, or -1 */
    uint8_t byte;
} xf_trie_node;

typedef struct xf_trie {
    xf_trie_node *nodes;
    size_t n, cap;
    uint32_t root[256]; /* children of the root by byte (0 = none) */
} xf_trie;

/* A split of a text: [start, end) bytes; token >= 0 is an index into xf_tokenizer.added. */
typedef struct xf_split {
    size_t start, end;
    int32_t token;
} xf_split;

struct xf_tokenizer {
    char *path; /* file it was loaded from (for messages) */

    xf_model_kind model;
    /* WordPiece model (vocab, unk and prefix are shared with BPE) */
    xf_strmap vocab;           /* model vocabulary: token -> id */
    int32_t unk_id;            /* -1 when unk_token is not in the vocabulary */
    char *unk_token;
    char *prefix;              /* continuing_subword_prefix, e.g. "##" */
    size_t prefix_len;
    size_t max_input_chars_per_word;
    size_t max_key_len;        /* longest vocabulary key in bytes */

    /* BPE model */
    xf_strmap merges;          /* 8-byte key (left id, right id) -> rank */
    int32_t *merge_new;        /* rank -> id of the merged token */
    size_t n_merges;
    char *suffix;              /* end_of_word_suffix ("" if none) */
    size_t suffix_len;
    int byte_fallback, fuse_unk, ignore_merges;

    /* Unigram model (vocab, unk_id and byte_fallback are shared) */
    double *uni_score;         /* score of each id below n_uni */
    size_t n_uni;
    double uni_unk_score;      /* score of an unknown character: lowest score - 10 */
    xf_trie uni_trie;          /* pieces, token = id */

    xf_norm_step *norm;
    size_t n_norm;
    xf_pretok_step *pretok;
    size_t n_pretok;

    xf_post_kind post;
    xf_tpl_piece *tpl_single, *tpl_pair;
    size_t n_tpl_single, n_tpl_pair;
    int32_t *tpl_ids;          /* storage of all template special ids */
    size_t added_single, added_pair; /* special tokens the post-processor adds */
    int32_t bert_cls, bert_sep;      /* XF_POST_BERT */

    xf_added_token *added;     /* one per distinct id, in tokenizers' order */
    size_t n_added;
    xf_strmap added_map;       /* added content -> id */
    xf_trie trie_raw, trie_norm; /* non-normalized / normalized patterns */

    /* reverse map, sorted by id (binary search) */
    int32_t *rev_ids;
    const char **rev_toks;
    size_t n_rev;
    size_t vocab_size;         /* max id + 1 over the model vocabulary and added tokens */
    uint8_t *rev_special;      /* per rev entry: 1 for a special added token */

    /* decoder (xf_detokenize) */
    int has_decoder;           /* 0: tokens joined with ' ' (tokenizers without a decoder) */
    xf_dec_step *dec;
    size_t n_dec;
    char *dec_unsupported;     /* message when the file's decoder is not supported */
    char *tok_strings;         /* GGUF: all token strings (NUL-terminated), rev_toks point here */
};

/* ---- unicode_props.c: character classes exactly as tokenizers defines them ---- */
int xf_uc_is_whitespace(uint32_t c);      /* Rust char::is_whitespace (White_Space) */
int xf_uc_is_bert_whitespace(uint32_t c); /* \t \n \r or White_Space */
int xf_uc_is_bert_control(uint32_t c);    /* unicode_categories is_other, minus \t \n \r */
int xf_uc_is_bert_punct(uint32_t c);      /* ASCII punctuation or general category P* */
int xf_uc_is_chinese(uint32_t c);         /* CJK ideograph blocks of BertNormalizer */
int xf_uc_is_mark_nonspacing(uint32_t c); /* general category Mn */
int xf_uc_is_word(uint32_t c);            /* regex \w (utf8proc + Unicode 16 additions) */
int xf_uc_is_numeric(uint32_t c);         /* Rust char::is_numeric (Nd, Nl, No) */
/* 1 for code points whose canonical decomposition is newer than tokenizers' NFD tables. */
int xf_uc_no_decompose(uint32_t c);
/* Rust char::to_lowercase: writes 1..3 code points into out, returns the count. */
int xf_uc_lowercase(uint32_t c, uint32_t out[3]);

/* ---- utf8.c ---- */
/* Decode bytes as Python's bytes.decode("utf-8", errors="replace") and write valid UTF-8. */
xf_status xf_utf8_sanitize(const char *s, size_t len, xf_tok_buf *out);
/* Decode the code point at s[*i] of a VALID UTF-8 string, advancing *i. */
uint32_t xf_utf8_next(const char *s, size_t len, size_t *i);
/* Encode c (<= 0x10FFFF) into out (4 bytes room); returns its length. */
size_t xf_utf8_encode(uint32_t c, char *out);
/* Number of code points of a valid UTF-8 string. */
size_t xf_utf8_count(const char *s, size_t len);

/* ---- normalize.c ---- */
/* Apply the tokenizer's normalizer to valid UTF-8; out is reset first. */
xf_status xf_tok_normalize(const xf_tokenizer *tok, const char *s, size_t len, xf_tok_buf *out);

/* ---- precompiled.c: the normalizers that work on UTF-8 ---- */
/* Check and copy a precompiled_charsmap blob into s (kind XF_NORM_PRECOMPILED); where names it. */
xf_status xf_precompiled_init(xf_norm_step *s, const uint8_t *blob, size_t len, const char *where);
/* Apply an XF_NORM_PRECOMPILED or XF_NORM_REPLACE_RE step to valid UTF-8; out is reset first. */
xf_status xf_norm_utf8_step(const xf_norm_step *s, const char *t, size_t len, xf_tok_buf *out);
/* Standard base64 (padding optional) into a heap buffer (free()). */
xf_status xf_base64_decode(const char *s, uint8_t **out, size_t *len);
/* Free what a normalizer step owns. */
void xf_norm_step_free(xf_norm_step *s);

/* ---- pretokenize.c ---- */
/* Split s into words with the pre-tokenizer. The words' bytes (possibly transformed, e.g. by
 * ByteLevel) are written to text; ranges (pairs of size_t start, end) into text to out. */
xf_status xf_tok_pretokenize(const xf_tokenizer *tok, const char *s, size_t len, xf_tok_buf *text,
                             xf_tok_buf *out);
/* As xf_tok_pretokenize; at_start = 1 when s begins at offset 0 of the original input
 * (Metaspace with prepend_scheme "first" prepends only there). */
xf_status xf_tok_pretokenize_at(const xf_tokenizer *tok, const char *s, size_t len, int at_start,
                                xf_tok_buf *text, xf_tok_buf *out);

/* ---- pretok_regex.c: ByteLevel, Split, Digits ---- */
/* Split the piece s[0, len) with one such step: pieces (possibly transformed) are appended to
 * text and their ranges (pairs of size_t) to out. */
xf_status xf_pretok_regex_step(const xf_pretok_step *step, const char *s, size_t len,
                               xf_tok_buf *text, xf_tok_buf *out);
/* Compile a pattern (regex, or literal when literal != 0) with PCRE2 UTF|UCP (+ JIT). NULL and
 * a message naming the pattern and the error offset in *err (256 bytes) on failure. */
/* The Metaspace pre-tokenizer (at_start: s is at offset 0 of the original input). */
xf_status xf_pretok_metaspace(const xf_pretok_step *step, const char *s, size_t len, int at_start,
                              xf_tok_buf *text, xf_tok_buf *out);
void *xf_regex_compile(const char *pat, size_t len, int literal, char *err, size_t err_cap);
/* One span of a text: [a, b), a match of the pattern or the text between matches. */
typedef struct xf_re_span {
    size_t a, b;
    int match;
} xf_re_span;
/* Cut s into spans (xf_re_span records appended to out) with a compiled regex, finding matches as
 * tokenizers' find_matches does (onig find_iter: an empty match right after the previous match
 * is skipped by one char). */
xf_status xf_regex_spans(const void *re, const char *s, size_t len, xf_tok_buf *out);
void xf_regex_free(void *re);
/* tokenizers' GPT-2 pattern used by ByteLevel with use_regex */
extern const char xf_gpt2_pattern[];
/* one character of tokenizers' Punctuation pre-tokenizer */
extern const char xf_punct_pattern[];

/* ---- bpe.c ---- */
/* Append the BPE ids of one word (as tokenizers' BPE::tokenize, no dropout). */
xf_status xf_bpe(const xf_tokenizer *tok, const char *word, size_t len, xf_tok_ids *out);

/* ---- bpe_json.c ---- */
struct cJSON;
/* Load model "BPE" (vocab, merges, options) from the model object m. */
xf_status xf_tj_load_bpe(xf_tokenizer *tok, const struct cJSON *m);
/* Load a ByteLevel / Split / Digits pre-tokenizer step; 0 if type is not one of them. */
int xf_tj_is_regex_pretok(const char *type);
xf_status xf_tj_load_regex_pretok(xf_tokenizer *tok, const struct cJSON *j, const char *where,
                                  const char *type, xf_pretok_step *out);
void xf_bpe_free(xf_tokenizer *tok);

/* ---- unigram.c ---- */
/* Append the Unigram ids of one word (as tokenizers' Unigram::tokenize: Viterbi, unknown runs
 * fused, byte fallback). */
xf_status xf_unigram(const xf_tokenizer *tok, const char *word, size_t len, xf_tok_ids *out);
/* Load model "Unigram" (vocab as [piece, score] pairs, unk_id, byte_fallback) from m. */
xf_status xf_tj_load_unigram(xf_tokenizer *tok, const struct cJSON *m);
/* Set up the Unigram model from tok->vocab (filled) and one score per id (n ids); unk_id < 0:
 * none. Builds the piece trie. */
xf_status xf_unigram_init(xf_tokenizer *tok, const double *scores, size_t n);
void xf_unigram_free(xf_tokenizer *tok);

/* ---- wordpiece.c ---- */
/* Append the WordPiece ids of one word. scratch must hold prefix_len + max_key_len bytes. */
xf_status xf_wordpiece(const xf_tokenizer *tok, const char *word, size_t len, char *scratch,
                       xf_tok_ids *out);

/* ---- added_tokens.c ---- */
xf_status xf_trie_add(xf_trie *t, const char *pat, size_t len, int32_t token);
void xf_trie_free(xf_trie *t);
/* Split s with the added tokens of trie (leftmost-longest, single_word/lstrip/rstrip handled
 * as tokenizers does). The splits cover s; out receives xf_split records. */
xf_status xf_added_split(const xf_tokenizer *tok, const xf_trie *trie, const char *s, size_t len,
                         xf_tok_buf *out);

/* ---- tokenizer_json.c ---- */
/* Build the sorted id -> token map (rev_*) and vocab_size from vocab and added tokens. */
xf_status xf_tok_build_reverse(xf_tokenizer *tok);

/* ---- decode.c ---- */
/* Load the "decoder" section (unsupported decoder types are recorded, not an error). */
xf_status xf_tj_load_decoder(xf_tokenizer *tok, const struct cJSON *j);
void xf_decoder_free(xf_tokenizer *tok);

/* ---- tok_gguf.c ---- */
struct xf_gguf;
/* The tokenizer described by an opened GGUF file's tokenizer.ggml.* metadata. */
xf_status xf_tokenizer_from_gguf(const struct xf_gguf *g, xf_tokenizer **out);

/* ---- encode.c ---- */
/* Token ids of one sequence, without special tokens or truncation (appended to out). */
xf_status xf_tok_encode_ids(const xf_tokenizer *tok, const char *text, size_t len,
                            xf_tok_ids *out);
/* Number of special tokens the post-processor adds (pair = 0 / 1). */
size_t xf_tok_num_special(const xf_tokenizer *tok, int pair);

#endif
