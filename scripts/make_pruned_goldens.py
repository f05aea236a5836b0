#!/usr/bin/env python3
"""Reference embeddings for the head-pruned all-MiniLM-L6-v2 test (tests/test_pruned.c).

The test writes, from models/all-MiniLM-L6-v2, the model that transformers 4.x would save after
`model.prune_heads(PRUNED)` + `save_pretrained`: each layer's query/key/value weights and biases
keep only the rows of the heads that remain, attention.output.dense keeps only their columns, and
config.json gains "pruned_heads". xfmr must load it (fewer, and different, heads per layer) and
give the embeddings of the *dense* model whose pruned heads are silenced: their value rows and
value biases set to zero (the head's output is then exactly zero, so the output projection sees
what the pruned model computes). This script computes those with sentence-transformers.

transformers 5 removed prune_heads, so the zeroing is done here on the dense weights.

Output: tests/data/pruned/minilm_pruned_emb.f16 — IEEE half [n_lines, 384], little-endian, of
SentenceTransformer.encode(lines, batch_size=32) over tests/data/corpus.txt (halves keep the file
small; rounding changes a cosine by < 1e-7), and minilm_pruned_meta.json.

Usage: HF_HUB_OFFLINE=1 python3 scripts/make_pruned_goldens.py [--model DIR]
"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import json
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# layer -> heads removed (12 heads of 32 per layer); the same table is in tests/test_pruned.c
PRUNED = {0: [0, 5], 1: [3], 2: [1, 2, 7, 9], 3: [], 4: [11], 5: [4, 6, 8, 10, 0]}


def read_corpus(path):
    with open(path, "rb") as f:
        parts = f.read().split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", errors="replace") for p in parts]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests", "data", "corpus.txt"))
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "tests", "data", "pruned"))
    a = ap.parse_args()
    import numpy as np
    import torch
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(a.model, device="cpu")
    bert = st[0].auto_model
    dh = bert.config.hidden_size // bert.config.num_attention_heads
    with torch.no_grad():
        for layer, heads in PRUNED.items():
            v = bert.encoder.layer[layer].attention.self.value
            for h in heads:
                v.weight[h * dh:(h + 1) * dh, :] = 0
                v.bias[h * dh:(h + 1) * dh] = 0
    lines = read_corpus(a.corpus)
    emb = st.encode(lines, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)
    os.makedirs(a.out_dir, exist_ok=True)
    emb.astype("<f2").tofile(os.path.join(a.out_dir, "minilm_pruned_emb.f16"))
    meta = {"model": os.path.basename(a.model), "pruned_heads": PRUNED, "n_lines": len(lines),
            "dim": int(emb.shape[1]), "head_dim": dh, "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__}
    with open(os.path.join(a.out_dir, "minilm_pruned_meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("wrote", len(lines), "embeddings to", a.out_dir, file=sys.stderr)


if __name__ == "__main__":
    main()
