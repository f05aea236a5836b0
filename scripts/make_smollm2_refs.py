#!/usr/bin/env python3
"""make_smollm2_refs.py - reference logits of SmolLM2-135M-Instruct (Q4_1 GGUF) from transformers.

transformers loads the same GGUF file xfmr loads (it dequantizes every tensor to float32 with the
`gguf` package and undoes llama.cpp's Q/K row permutation); the model runs in float32 on the CPU.
Four fixed prompts are taken from tests/data/smollm2_ids.txt (the first line whose length falls in
each of the ranges below). For each prompt the logits of the FIRST and of the LAST position are
written.

Output tests/data/smollm2_ref_logits.bin, little-endian:
    char magic[4] = "XSRL" | uint32 n_prompts | uint32 vocab
    per prompt: uint32 len | int32 ids[len] | float32 first[vocab] | float32 last[vocab]

needs torch, gguf and accelerate (transformers refuses GGUF without it).
usage: HF_HUB_OFFLINE=1 python3 scripts/make_smollm2_refs.py [model_dir]
"""
import os
import struct
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
RANGES = [(5, 8), (12, 20), (28, 40), (50, 60)]


def pick_prompts():
    lines = [[int(x) for x in l.split()] for l in open(os.path.join(ROOT, "tests/data/smollm2_ids.txt"))]
    out = []
    for lo, hi in RANGES:
        out.append(next(ids for ids in lines if lo <= len(ids) <= hi))
    return out


def main():
    mdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models/SmolLM2-135M-Instruct")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(mdir, gguf_file=GGUF, dtype=torch.float32)
    model.eval()
    prompts = pick_prompts()
    vocab = model.config.vocab_size
    out = bytearray(b"XSRL" + struct.pack("<II", len(prompts), vocab))
    with torch.no_grad():
        for ids in prompts:
            logits = model(torch.tensor([ids])).logits[0].float()
            assert logits.shape == (len(ids), vocab)
            out += struct.pack("<I", len(ids)) + struct.pack("<%di" % len(ids), *ids)
            out += logits[0].numpy().astype("<f4").tobytes() + logits[-1].numpy().astype("<f4").tobytes()
            print("len %d: max|logit| last %.4f" % (len(ids), logits[-1].abs().max().item()))
    path = os.path.join(ROOT, "tests/data/smollm2_ref_logits.bin")
    with open(path, "wb") as f:
        f.write(out)
    print("wrote %s (%d bytes)" % (path, len(out)))


if __name__ == "__main__":
    main()
