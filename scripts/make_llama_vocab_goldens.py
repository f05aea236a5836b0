#!/usr/bin/env python3
"""make_llama_vocab_goldens.py — Hugging Face references on the golden corpus for llama.cpp's
vocabularies (tests/test_llama_vocab.c), after scripts/fetch_llama_vocabs.sh.

For each .cache/llama-vocab/ggml-vocab-NAME.gguf, the Hugging Face fast tokenizer is built from
the GGUF: transformers' GGUF converter (AutoTokenizer's gguf_file path: convert_gguf_tokenizer)
for "gpt2", "llama" and "gemma4" vocabularies, with what a GGUF does not say restored as the
model's own tokenizer.json has it (as scripts/make_bpe_goldens.py does for SmolLM2):
  - the pre-tokenizer of tokenizer.ggml.pre where transformers writes a plain ByteLevel (the
    DeepSeek, Falcon, StarCoder-family sequences), Qwen2's NFC normalizer, and Llama 3's
    "ignore_merges": true;
  - SentencePiece "llama" vocabularies with the Prepend("▁") + Replace(" ", "▁") normalizer and
    no pre-tokenizer of the Llama-2 tokenizer.json (transformers does this for Phi-3 only);
"bert" vocabularies as the BERT tokenizer.json (BertNormalizer, BertPreTokenizer, WordPiece with
"##"), "t5" ones as transformers' SentencePiece converter makes XLM-R-style Unigram tokenizers
(Precompiled charsmap, Strip(right), Replace(/ {2,}/, "▁"), Metaspace, Unigram).
Every line of tests/data/corpus.txt is encoded without special tokens, and
tests/data/llama_vocab_corpus.txt gets, per vocabulary, a line "# NAME" and then one line per
corpus line: "COUNT HASH" (FNV-1a 64 of the ids as little-endian int32, as in
make_unigram_goldens.py).

usage: pip install transformers tokenizers gguf; python3 scripts/make_llama_vocab_goldens.py
"""
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from make_unigram_goldens import corpus_lines, fnv64  # noqa: E402

VOCAB = os.environ.get("XFMR_LLAMA_VOCAB_DIR", os.path.join(ROOT, ".cache", "llama-vocab"))
OUT = os.path.join(ROOT, "tests", "data", "llama_vocab_corpus.txt")

GPT2_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"


def split(p):
    return {"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": False}


BYTES = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
BYTES_RE = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
DIGITS = {"type": "Digits", "individual_digits": True}

# The pre-tokenizers of the models' tokenizer.json files, where transformers' GGUF converter does
# not set them (it does for llama-bpe, qwen2 and qwen35).
PRE = {
    "deepseek-coder": [split("[\r\n]"), split(r"\s?\p{L}+"), split(r"\s?\p{P}+"), split(CJK), DIGITS, BYTES],
    "deepseek-llm": [
        split("[\r\n]"),
        split("\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
              "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
              "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
              "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
              "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe"
              "\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc"
              "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134"
              "\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee"
              "\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf"
              "\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
              "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df"
              "\U0001e900-\U0001e943]+"),
        split("\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+"),
        split(r"\s+$"), split(CJK), split(r"\p{N}+"), BYTES],
    "falcon": [{"type": "Punctuation", "behavior": "Contiguous"}, BYTES_RE,
               {"type": "Digits", "individual_digits": False}, split("[0-9][0-9][0-9]")],
    "starcoder": [DIGITS, BYTES_RE],
    "refact": [DIGITS, BYTES_RE],
    "command-r": [DIGITS, BYTES_RE],
}


def gguf_fields(path):
    import gguf
    r = gguf.GGUFReader(path)
    f = {}
    for k, v in r.fields.items():
        if k.startswith("tokenizer.ggml.") or k == "general.architecture":
            f[k] = v.contents()
    return f


def from_transformers(path, f):
    from transformers.integrations.gguf.gguf_tokenizer_mapping import convert_gguf_tokenizer, get_gguf_tokenizer
    arch, tdict, _ = get_gguf_tokenizer(path)
    backend, _ = convert_gguf_tokenizer(arch, tdict)
    j = json.loads(backend.to_str())
    model, pre = f["tokenizer.ggml.model"], f.get("tokenizer.ggml.pre")
    if model == "gpt2" and pre in PRE:
        j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": PRE[pre]}
    if model == "gpt2" and pre in ("llama-bpe", "llama3", "llama-v3"):
        j["model"]["ignore_merges"] = True
    if model == "gpt2" and pre in ("qwen2", "mpt"):
        j["normalizer"] = {"type": "NFC"}  # Qwen2's and GPT-NeoX's (MPT's) tokenizer.json
    if model == "gpt2":
        # User-defined tokens outside the byte alphabet (GPT-NeoX's runs of spaces) are added
        # tokens matched in the text, as in the model's tokenizer.json; transformers' converter
        # respells them and then skips them.
        from transformers.convert_slow_tokenizer import bytes_to_unicode
        alphabet = set(bytes_to_unicode().values())
        have = {a["content"] for a in j["added_tokens"]}
        for i, (t, ty) in enumerate(zip(f["tokenizer.ggml.tokens"], f["tokenizer.ggml.token_type"])):
            if ty == 4 and not set(t) <= alphabet and t not in have:
                j["model"]["vocab"][t] = i
                j["added_tokens"].append({"id": i, "content": t, "single_word": False, "lstrip": False,
                                          "rstrip": False, "normalized": True, "special": False})
    if model == "llama":
        j["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
        j["pre_tokenizer"] = None
    return j


def bert(f):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece
    vocab = {}
    for i, (t, ty) in enumerate(zip(f["tokenizer.ggml.tokens"], f["tokenizer.ggml.token_type"])):
        t = t if ty == 3 else t[1:] if t.startswith("\u2581") else "##" + t
        vocab.setdefault(t, i)
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return json.loads(tok.to_str())


def t5(f):
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    pieces = list(zip(f["tokenizer.ggml.tokens"], [float(x) for x in f["tokenizer.ggml.scores"]]))
    tok = Tokenizer(Unigram(pieces, unk_id=f.get("tokenizer.ggml.unknown_token_id", 2), byte_fallback=False))
    norm = []
    if "tokenizer.ggml.precompiled_charsmap" in f:
        norm.append(normalizers.Precompiled(bytes(f["tokenizer.ggml.precompiled_charsmap"])))
    if f.get("tokenizer.ggml.remove_extra_whitespaces"):
        norm += [normalizers.Strip(left=False, right=True), normalizers.Replace(Regex(" {2,}"), "\u2581")]
    tok.normalizer = normalizers.Sequence(norm)
    scheme = "always" if f.get("tokenizer.ggml.add_space_prefix") else "never"
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme=scheme, split=True)
    return json.loads(tok.to_str())


def add_control(tok, f):
    """Control tokens ([CLS], <s>, ...) as the special added tokens of the model's tokenizer.json."""
    from tokenizers import AddedToken
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True)
                            for t, ty in zip(f["tokenizer.ggml.tokens"], f["tokenizer.ggml.token_type"]) if ty == 3])


def main():
    """usage: make_llama_vocab_goldens.py [NAME ...]   (only those sections rewritten)"""
    from tokenizers import Tokenizer
    os.environ["HF_HUB_OFFLINE"] = "1"
    files = sorted(glob.glob(os.path.join(VOCAB, "ggml-vocab-*.gguf")))
    if not files:
        sys.exit(f"no vocabularies in {VOCAB}: run scripts/fetch_llama_vocabs.sh")
    only = set(sys.argv[1:])
    sections = {}
    if only and os.path.exists(OUT):
        name = None
        for line in open(OUT).read().splitlines():
            if line.startswith("# "):
                name = line[2:]
                sections[name] = []
            else:
                sections[name].append(line)
    lines = corpus_lines()
    for path in files:
        name = os.path.basename(path)[len("ggml-vocab-"):-len(".gguf")]
        if only and name not in only:
            continue
        f = gguf_fields(path)
        model = f["tokenizer.ggml.model"]
        j = bert(f) if model == "bert" else t5(f) if model == "t5" else from_transformers(path, f)
        tok = Tokenizer.from_str(json.dumps(j))
        if model in ("bert", "t5"):
            add_control(tok, f)
        sections[name] = []
        for s in lines:
            ids = tok.encode(s, add_special_tokens=False).ids
            sections[name].append(f"{len(ids)} {fnv64(ids):016x}")
        print(f"{name}: {model} {f.get('tokenizer.ggml.pre')}", flush=True)
    with open(OUT, "w") as fh:
        for name in sorted(sections):
            fh.write(f"# {name}\n" + "".join(x + "\n" for x in sections[name]))
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
