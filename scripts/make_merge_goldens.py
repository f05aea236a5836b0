#!/usr/bin/env python3
"""Reference embeddings for token merging (xfmr's --merge, src/model/adaptive.c; tests/test_adaptive.c).

A plain PyTorch implementation of the rule docs/ADAPTIVE.md states, on the weights of
all-MiniLM-L6-v2 as transformers loads them (BertModel: embeddings, then each layer's query/key/
value, attention output, LayerNorms and FFN written out here so that a per-key bias can be added):

  after layer l < n_layers - 1 each text with L0 tokens is merged down to
      target = max(keep_min, ceil(share_l * L0 - 1e-4)),  share_l = keep ** ((l + 1) / (n_layers - 1))
  (float32, as the C code computes it), when it has more rows than that:
    * its rows 0, 2, 4, ... are sources, rows 1, 3, 5, ... destinations; a row whose token is the
      text's first or last, or a special token, takes no part;
    * each source's best destination is the one with the highest cosine of the hidden states (the
      first on ties); the min(rows - target, sources) sources with the best matches merge (earlier
      row first on ties);
    * a destination becomes the size-weighted mean of itself and its sources; sizes add;
  every later layer adds log(size) of each key row to its attention scores (proportional
  attention); after the last layer each original token takes its row's state, and the embedding is
  the mean over the original tokens, L2-normalized (MiniLM's mean pooling + Normalize).

Texts: the lines of tests/data/corpus.txt with 65-256 tokens (MiniLM truncates at 256; shorter
texts are never merged with the default keep_min 64), taken in order until --n of them have every
merge decision clear by --margin (the gap between the last source that merges and the first that
does not, and between each merging source's best and second-best destination, in cosine), so that
float rounding differences between PyTorch and xfmr cannot flip a choice. A line held back for a
near tie is recorded in the metadata.

Output (tests/data/merge/): minilm_merge_emb.f32 — float32 [n_settings, n_texts, 384], little-
endian; minilm_merge_meta.json — the settings, the corpus line numbers used, the margins, versions.

Usage: HF_HUB_OFFLINE=1 python3 scripts/make_merge_goldens.py [--model DIR] [--n 24]
"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import json
import math
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from make_goldens import read_corpus  # noqa: E402  (the corpus lines exactly as the C tests split them)
SETTINGS = [0.3, 0.1]  # keep shares (the same table is in tests/test_adaptive.c)
KEEP_MIN = 64


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--n", type=int, default=24, help="texts per setting")
    ap.add_argument("--margin", type=float, default=1e-3, help="smallest decision gap accepted (cosine)")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "merge"))
    a = ap.parse_args()

    import numpy as np
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    torch.set_grad_enabled(False)
    tok = AutoTokenizer.from_pretrained(a.model)
    bert = AutoModel.from_pretrained(a.model, dtype=torch.float32).eval()
    cfg = bert.config
    n_heads, hidden = cfg.num_attention_heads, cfg.hidden_size
    dh = hidden // n_heads
    n_layers = cfg.num_hidden_layers
    special = set(tok.all_special_ids)

    def layer(lr, x, bias):
        at = lr.attention.self
        n = x.shape[0]
        q = at.query(x).view(n, n_heads, dh).transpose(0, 1)
        k = at.key(x).view(n, n_heads, dh).transpose(0, 1)
        v = at.value(x).view(n, n_heads, dh).transpose(0, 1)
        s = q @ k.transpose(1, 2) / math.sqrt(dh) + bias
        ctx = (s.softmax(-1) @ v).transpose(0, 1).reshape(n, hidden)
        x = lr.attention.output.LayerNorm(x + lr.attention.output.dense(ctx))
        return lr.output.LayerNorm(x + lr.output.dense(lr.intermediate(x)))

    def merge_step(x, size, orig, ids, L0, share, margins):
        """One text's merge after a layer; returns x, size, orig, mapping old row -> new row."""
        n = x.shape[0]
        target = max(KEEP_MIN, int(np.ceil(np.float32(share) * np.float32(L0) - np.float32(1e-4))))
        if n <= target or n < 2:
            return x, size, orig, torch.arange(n)
        stay = [orig[t] == 0 or orig[t] == L0 - 1 or ids[orig[t]] in special for t in range(n)]
        xn = (x.double() / x.double().norm(dim=1, keepdim=True)).float()
        S = (xn[0::2] @ xn[1::2].T).double()
        cand, dst, second = [], {}, {}
        for i in range(0, n, 2):
            if stay[i]:
                continue
            row = S[i // 2].clone()
            for j in range(1, n, 2):
                if stay[j]:
                    row[j // 2] = -math.inf
            if not torch.isfinite(row.max()):
                break
            best = int(torch.argmax(row))  # first on ties
            srt = torch.sort(row, descending=True).values
            dst[i] = 2 * best + 1
            second[i] = float(srt[0] - srt[1]) if row.numel() > 1 and torch.isfinite(srt[1]) else math.inf
            cand.append((float(row[best]), i))
        r = min(n - target, len(cand))
        if r == 0:
            return x, size, orig, torch.arange(n)
        cand.sort(key=lambda c: (-c[0], c[1]))
        if r < len(cand):
            margins.append(cand[r - 1][0] - cand[r][0])
        merged = sorted(i for _, i in cand[:r])
        margins.extend(second[i] for i in merged)
        x = x.clone()
        size = size.clone()
        scaled = set()
        for i in merged:  # sources in row order
            d = dst[i]
            if d not in scaled:
                x[d] = x[d] * size[d]
                scaled.add(d)
            x[d] = x[d] + size[i] * x[i]
            size[d] = size[d] + size[i]
        for d in scaled:
            x[d] = x[d] * (1.0 / size[d])
        keep = [t for t in range(n) if t not in set(merged)]
        newrow = torch.empty(n, dtype=torch.long)
        for w, t in enumerate(keep):
            newrow[t] = w
        for i in merged:
            newrow[i] = newrow[dst[i]]
        return x[keep], size[keep], [orig[t] for t in keep], newrow

    def embed(ids, keep):
        ids_t = torch.tensor([ids])
        x = bert.embeddings(input_ids=ids_t, token_type_ids=torch.zeros_like(ids_t))[0]
        L0 = len(ids)
        size = torch.ones(L0)
        orig = list(range(L0))
        where = torch.arange(L0)
        margins = []
        for l, lr in enumerate(bert.encoder.layer):
            x = layer(lr, x, torch.log(size)[None, None, :])
            if keep is not None and l + 1 < n_layers:
                share = np.float32(keep) ** (np.float32(l + 1) / np.float32(n_layers - 1))
                x, size, orig, newrow = merge_step(x, size, orig, ids, L0, share, margins)
                where = newrow[where]
        e = x[where].mean(0)
        return torch.nn.functional.normalize(e, dim=0), margins

    lines = read_corpus(os.path.join(ROOT, "tests", "data", "corpus.txt"))
    used, held, embs, mins = [], [], [[] for _ in SETTINGS], []
    for ln, text in enumerate(lines):
        if len(used) == a.n:
            break
        ids = tok(text, truncation=True, max_length=256)["input_ids"]
        if len(ids) <= KEEP_MIN or len(ids) > 256:  # at KEEP_MIN tokens nothing merges
            continue
        got = [embed(ids, k) for k in SETTINGS]
        m = min(min(g[1]) if g[1] else math.inf for g in got)
        if m < a.margin:
            held.append({"line": ln, "margin": m})
            continue
        used.append(ln)
        mins.append(m)
        for s, g in enumerate(got):
            embs[s].append(g[0].numpy().astype("<f4"))
        print(f"line {ln}: {len(ids)} tokens, smallest decision gap {m:.2e}", file=sys.stderr)
    if len(used) < a.n:
        sys.exit(f"only {len(used)} lines qualify")
    os.makedirs(a.out, exist_ok=True)
    np.stack([np.stack(e) for e in embs]).astype("<f4").tofile(os.path.join(a.out, "minilm_merge_emb.f32"))
    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2", "keep": SETTINGS, "keep_min": KEEP_MIN,
        "lines": used, "min_gap": mins, "held_back": held, "dim": hidden,
        "torch": torch.__version__, "transformers": transformers.__version__,
    }
    with open(os.path.join(a.out, "minilm_merge_meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"wrote {len(used)} texts x {len(SETTINGS)} settings to {a.out} ({len(held)} held back)", file=sys.stderr)


if __name__ == "__main__":
    main()
