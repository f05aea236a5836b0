/* gguf_pre.c — the pre-tokenizers behind GGUF `tokenizer.ggml.pre` names: every name llama.cpp
 * knows, mapped to the Hugging Face pre-tokenizer chain of the model it was made from (what
 * the model's tokenizer.json says), as a short program of steps:
 *   "S<regex>"  Split, behaviour Isolated (PCRE2 UTF+UCP), as tokenizers' Split;
 *   "D" / "d"   Digits, individual / contiguous;
 *   "P"         Punctuation, contiguous (tokenizers' is_punctuation: \p{P} or ASCII punctuation);
 *   "B"         ByteLevel with the GPT-2 regex;
 *   "W"         WhitespaceSplit.
 * A ByteLevel without regex (bytes -> printable chars only) ends the chain unless the entry says
 * XF_PRE_RAW (vocabularies of raw UTF-8 with <0xNN> byte tokens) or has a "B" step.
 * Where llama.cpp rewrites a tokenizer.json regex for its own engine (e.g. (?i:'s|...) as
 * '[sS]|...), the original regex is used here: PCRE2 runs it as Oniguruma does. */
#include <string.h>

#include "tokenizer/gguf_pre.h"

/* Regexes as the models' tokenizer.json files define them. */
#define CONTRACTIONS "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3 \
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 \
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN35                                                                                               \
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
                 "\\s+(?!\\S)|\\s+"
#define UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_TEKKEN                                                                                            \
    "[^\\r\\n\\p{L}\\p{N}]?" UPPER "*" LOWER "+|[^\\r\\n\\p{L}\\p{N}]?" UPPER "+" LOWER "*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+" \
    "[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_GPT4O                                                                                    \
    "[^\\r\\n\\p{L}\\p{N}]?" UPPER "*" LOWER "+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?" UPPER "+" LOWER \
    "*" CONTRACTIONS "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Kimi-K2 (tiktoken): the GPT-4o classes without Han characters (Oniguruma's [X&&[^\p{Han}]]). */
#define NOHAN "(?:(?!\\p{Han})"
#define RE_KIMI_K2                                                                                              \
    "[\\p{Han}]+|[^\\r\\n\\p{L}\\p{N}]?" NOHAN UPPER ")*" NOHAN LOWER ")+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?" \
    NOHAN UPPER ")+" NOHAN LOWER ")*" CONTRACTIONS "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"   \
    "\\s+(?!\\S)|\\s+"
#define RE_BLOOM " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"
#define RE_CJK_KO "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
#define RE_CJK_JA "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+"
#define RE_DS3_MAIN                                                                                  \
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|" \
    " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define NEWLINES "[^\\n]+|[\\n]+"

static const char *const p_gpt2[] = {"B", NULL};
static const char *const p_llama3[] = {"S" RE_LLAMA3, NULL};
static const char *const p_qwen2[] = {"S" RE_QWEN2, NULL};
static const char *const p_qwen35[] = {"S" RE_QWEN35, NULL};
static const char *const p_digits_gpt2[] = {"D", "B", NULL};
static const char *const p_falcon[] = {"P", "B", "d", "S[0-9][0-9][0-9]", NULL};
static const char *const p_deepseek_llm[] = {
    "S[\\r\\n]",
    "S\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"
    "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}"
    "\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}"
    "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"
    "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
    "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}"
    "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}"
    "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
    "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"
    "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
    "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"
    "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"
    "\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"
    "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}"
    "\\x{1E900}-\\x{1E943}]+",
    "S\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
    "S\\s+$",
    "S" RE_CJK_KO,
    "S\\p{N}+",
    NULL};
static const char *const p_deepseek_coder[] = {"S[\\r\\n]", "S\\s?\\p{L}+", "S\\s?\\p{P}+", "S" RE_CJK_KO, "S\\p{N}", NULL};
static const char *const p_deepseek3[] = {"S\\p{N}{1,3}", "S" RE_CJK_JA, "S" RE_DS3_MAIN, NULL};
static const char *const p_spark2_5[] = {
    "S\\p{N}{1,3}", "S" RE_CJK_JA,
    "S[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+|[\\r\\n]|\\s+(?!\\S)|\\s+",
    "S\\p{N}", NULL};
static const char *const p_youtu[] = {
    "S[\\x{AC00}-\\x{D7A3}\\x{3131}-\\x{318E}]+|[\\x{FF01}\\x{2026}\\x{201C}\\x{201D}\\x{2018}\\x{2019}\\x{2014}"
    "\\x{FF1A}\\x{FF1B}\\x{FF0C}\\x{3001}-\\x{303F}\\x{FE30}-\\x{FE4F}]+|[\\x{3105}-\\x{312F}]+|" RE_CJK_JA,
    "S[^\\r\\n\\p{L}\\p{N}]?" UPPER "*" LOWER "+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?" UPPER "+" LOWER "*" CONTRACTIONS
    "?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const p_bloom[] = {"S" RE_BLOOM, NULL};
static const char *const p_viking[] = {"S" RE_BLOOM, "S\\p{N}", NULL};
static const char *const p_tekken[] = {"S" RE_TEKKEN, NULL};
static const char *const p_chameleon[] = {
    "S<sentinel:[0-9]+>", "S(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "S([\\t\\n]|    |  )", "S\\p{N}",
    "S[\\p{P}!-/:-@\\[-`{-~]", "B", NULL};
static const char *const p_gpt4o[] = {"S" RE_GPT4O, NULL};
/* llama.cpp's own regex (the letter classes written as lookaheads, marks included). */
static const char *const p_granite_multi[] = {
    "S[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+" CONTRACTIONS
    "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*" CONTRACTIONS
    "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const p_tiny_aya[] = {"S\\d{1,3}(?=(?:\\d{3})*\\b)", "S" RE_GPT4O, NULL};
static const char *const p_superbpe[] = {"S\\p{N}+", "S(?=(\\d{3})+(?!\\d))", NULL};
static const char *const p_bailing[] = {
    "S'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|"
    "\\s+(?!\\S)|\\s+",
    NULL};
static const char *const p_seed_coder[] = {
    "S" CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const p_ufakzeka[] = {
    "S[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL};
static const char *const p_kimi_k2[] = {"S" RE_KIMI_K2, NULL};
/* AFMoE: digit runs cut into groups of three from the right (a leading group of 1-2). */
static const char *const p_afmoe[] = {
    "S\\p{N}{1,3}(?=(?:\\p{N}{3})*(?!\\p{N}))",
    "S[\\x{4E00}-\\x{9FFF}\\x{3400}-\\x{4DBF}\\x{F900}-\\x{FAFF}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}"
    "\\x{FF65}-\\x{FF9F}\\x{2F00}-\\x{2FDF}\\x{E00}-\\x{E7F}\\x{E80}-\\x{EFF}\\x{1780}-\\x{17FF}\\x{1000}-\\x{109F}"
    "\\x{AA60}-\\x{AA7F}\\x{A9E0}-\\x{A9FF}\\x{AC00}-\\x{D7AF}\\x{1100}-\\x{11FF}]+",
    "S[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const p_laguna[] = {"S" NEWLINES, "S" RE_QWEN2, NULL};
static const char *const p_exaone_moe[] = {
    "S" CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|"
    "\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const p_minicpm5[] = {
    "S\\p{N}{1,3}",
    "S" CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const p_jais2[] = {
    "S" CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|"
    "\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}",
    NULL};
static const char *const p_newlines[] = {"S" NEWLINES, NULL};
static const char *const p_whitespace[] = {"W", NULL};

/* Names as llama.cpp spells them (space-separated aliases). */
static const xf_gguf_pre k_pre[] = {
    {"default gpt-2 gpt2 phi-2 jina-es jina-de gigachat jina-v2-es jina-v2-de a.x-4.0 mellum modern-bert olmo "
     "jais trillion granite-docling exaone4 jina-v1-en jina-v2-code roberta-bpe",
     p_gpt2, 0},
    {"mpt", p_gpt2, XF_PRE_NFC}, /* GPT-NeoX's tokenizer.json: NFC first */
    {"llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2 jina-v5-nano", p_llama3,
     XF_PRE_IGNORE_MERGES | XF_PRE_ADD_BOS},
    {"dbrx smaug-bpe chatglm-bpe", p_llama3, 0},
    {"glm4 glm5", p_llama3, XF_PRE_IGNORE_MERGES},
    {"deepseek-llm", p_deepseek_llm, 0},
    {"deepseek-coder", p_deepseek_coder, 0},
    {"deepseek-v3 hunyuan-dense joyai-llm hy_v4", p_deepseek3, 0},
    {"spark2_5", p_spark2_5, 0},
    {"youtu", p_youtu, XF_PRE_IGNORE_MERGES},
    {"falcon", p_falcon, 0},
    {"starcoder refact command-r smollm codeshell exaone minerva-7b mellum2", p_digits_gpt2, 0},
    {"qwen2 deepseek-r1-qwen", p_qwen2, XF_PRE_NFC},
    {"kormo f2llmv2 megrez stablelm2 hunyuan solar-open grok-2", p_qwen2, 0},
    {"qwen35", p_qwen35, 0}, /* no normalizer: decomposed text stays decomposed */
    {"poro-chat bloom gpt3-finnish", p_bloom, 0},
    {"viking", p_viking, 0},
    {"tekken", p_tekken, XF_PRE_IGNORE_MERGES | XF_PRE_ADD_BOS},
    {"chameleon", p_chameleon, XF_PRE_ADD_BOS},
    {"gpt-4o llama4 kanana2 talkie minimax-m2", p_gpt4o, 0},
    {"granite-embed-multi-97m", p_granite_multi, XF_PRE_IGNORE_MERGES},
    {"tiny_aya cohere2moe", p_tiny_aya, 0},
    {"superbpe", p_superbpe, 0},
    {"bailingmoe bailingmoe2 llada-moe", p_bailing, 0},
    {"seed-coder", p_seed_coder, 0},
    {"ufakzeka", p_ufakzeka, 0},
    {"kimi-k2", p_kimi_k2, 0},
    {"afmoe", p_afmoe, 0},
    {"laguna", p_laguna, 0},
    {"exaone-moe", p_exaone_moe, 0},
    {"minicpm5", p_minicpm5, XF_PRE_IGNORE_MERGES},
    {"jais-2", p_jais2, 0},
    {"gemma4 granite-embed-multi-311m sarvam-moe", p_newlines, XF_PRE_RAW | XF_PRE_ESCAPE_SPACES},
    {"whitespace", p_whitespace, XF_PRE_RAW},
};

const xf_gguf_pre *xf_gguf_pre_find(const char *name, size_t len) {
    for (size_t k = 0; k < sizeof k_pre / sizeof k_pre[0]; k++) {
        const char *p = k_pre[k].names;
        while (*p) {
            size_t n = strcspn(p, " ");
            if (n == len && !memcmp(p, name, len)) return &k_pre[k];
            p += n;
            p += *p == ' ';
        }
    }
    return NULL;
}

const xf_gguf_pre *xf_gguf_pre_at(size_t i) { return i < sizeof k_pre / sizeof k_pre[0] ? &k_pre[i] : NULL; }
