#!/usr/bin/env python3
"""make_spm_goldens.py — SentencePiece-style BPE and decoding test data (tokenizers 0.23.3).

1. Trains a Llama-2-style BPE tokenizer on tests/data/corpus.txt (deterministic: fixed vocab
   size, limit_alphabet, no shuffling in tokenizers' BPE trainer) and writes
   tests/data/spm_tokenizer.json:
     model BPE(byte_fallback=True, fuse_unk=True, unk "<unk>"), vocab = <unk> <s> </s>,
     the 256 <0xNN> byte tokens (plain vocabulary entries, as in Llama-2), then the learned ones;
     normalizer Sequence[Prepend("▁"), Replace(" ", "▁")], pre_tokenizer null;
     post_processor TemplateProcessing "<s> $A"; decoder Sequence[Replace("▁", " "),
     ByteFallback, Fuse, Strip(" ", 1, 0)].
   and tests/data/spm_meta_tokenizer.json: the same model with normalizer null and the newer
   Metaspace(replacement "▁", prepend_scheme "first", split true) pre-tokenizer + Metaspace decoder.
2. Writes, one line per corpus line (bytes split on b"\\n", final empty piece dropped, decoded
   errors="replace"):
     tests/data/spm_ids.txt          ids of spm_tokenizer.json (add_special_tokens=True: "<s>" first)
     tests/data/spm_meta_ids.txt     ids of spm_meta_tokenizer.json (add_special_tokens=True)
     tests/data/spm_decoded.txt      decode(spm ids, skip_special_tokens=True)
     tests/data/spm_minilm_decoded.txt   decode(minilm_ids.txt ids, skip_special_tokens=True) with
                                     models/all-MiniLM-L6-v2/tokenizer.json (WordPiece decoder)
     tests/data/spm_smollm2_decoded.txt  decode(smollm2_ids.txt ids) with smollm2_tokenizer.json
   Decoded lines are escaped: backslash -> \\\\, newline -> \\n, carriage return -> \\r.
"""
import json
import os

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
SP = "\u2581"


def corpus_lines():
    with open(os.path.join(DATA, "corpus.txt"), "rb") as f:
        pieces = f.read().split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    return [p.decode("utf-8", errors="replace") for p in pieces]


def esc(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def write_lines(name, lines):
    path = os.path.join(DATA, name)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for s in lines:
            f.write(s + "\n")
    print(f"wrote {path} ({len(lines)} lines)")


def train(lines):
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend(SP), normalizers.Replace(" ", SP)])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SP, prepend_scheme="never", split=True)
    trainer = trainers.BpeTrainer(vocab_size=4000, min_frequency=2, special_tokens=specials,
                                  limit_alphabet=120, show_progress=False)
    tok.train_from_iterator(lines, trainer=trainer)
    j = json.loads(tok.to_str())
    # Llama-2 keeps only <unk> <s> </s> as added tokens; byte tokens are plain vocabulary.
    j["added_tokens"] = [t for t in j["added_tokens"] if t["content"] in ("<unk>", "<s>", "</s>")]
    j["pre_tokenizer"] = None
    j["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
    }
    j["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": SP}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    return j


def main():
    lines = corpus_lines()
    j = train(lines)
    path = os.path.join(DATA, "spm_tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    m = dict(j)
    m["normalizer"] = None
    m["pre_tokenizer"] = {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": True}
    m["decoder"] = {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": True}
    mpath = os.path.join(DATA, "spm_meta_tokenizer.json")
    with open(mpath, "w", encoding="utf-8") as f:
        json.dump(m, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {mpath} ({os.path.getsize(mpath)} bytes)")

    tok = Tokenizer.from_file(path)
    meta = Tokenizer.from_file(mpath)
    ids = [tok.encode(s).ids for s in lines]
    write_lines("spm_ids.txt", [" ".join(map(str, x)) for x in ids])
    write_lines("spm_meta_ids.txt", [" ".join(map(str, meta.encode(s).ids)) for s in lines])
    write_lines("spm_decoded.txt", [esc(tok.decode(x, skip_special_tokens=True)) for x in ids])

    def decode_file(tok_path, ids_name, out_name):
        t = Tokenizer.from_file(tok_path)
        out = []
        with open(os.path.join(DATA, ids_name), encoding="utf-8") as f:
            for line in f.read().split("\n")[:len(lines)]:
                x = [int(v) for v in line.split()]
                out.append(esc(t.decode(x, skip_special_tokens=True)))
        write_lines(out_name, out)

    minilm = os.path.join(ROOT, "models", "all-MiniLM-L6-v2", "tokenizer.json")
    if os.path.exists(minilm):
        decode_file(minilm, "minilm_ids.txt", "spm_minilm_decoded.txt")
    decode_file(os.path.join(DATA, "smollm2_tokenizer.json"), "smollm2_ids.txt", "spm_smollm2_decoded.txt")
    write_gguf(j)


def write_gguf(j):
    """tests/data/spm_tokenizer.gguf: the vocabulary of spm_tokenizer.json as a llama.cpp
    SentencePiece ("llama") vocabulary: tokens in id order, score -id for learned tokens (merge
    order, as SentencePiece BPE models have), types UNKNOWN / CONTROL / BYTE / NORMAL."""
    import gguf
    vocab = j["model"]["vocab"]
    toks = [None] * len(vocab)
    for t, i in vocab.items():
        toks[i] = t
    types, scores = [], []
    for i, t in enumerate(toks):
        if t == "<unk>":
            types.append(2); scores.append(0.0)
        elif t in ("<s>", "</s>"):
            types.append(3); scores.append(0.0)
        elif len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
            types.append(6); scores.append(0.0)
        else:
            types.append(1); scores.append(float(-i))
    path = os.path.join(DATA, "spm_tokenizer.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
