#!/usr/bin/env python3
"""make_gpt2_shaped.py OUT_DIR — a GPT-2-small-shaped model (12 layers, 768 hidden, 12 heads,
3072 FFN, 1024 positions) with random weights and the tiny test tokenizer, for measuring the
Pre-RMSNorm rewrite (docs/COMPRESSION.md) when no real GPT-2 checkpoint is at hand. LayerNorm
gains and biases are randomised (1 + N(0, 0.1), N(0, 0.1)) so that folding them is exercised;
the embeddings get a per-row offset so that recentring them is too."""
import shutil
import sys

import torch
from transformers import GPT2Config, GPT2LMHeadModel

out = sys.argv[1]
tiny = "tests/data/tiny/gpt2"
torch.manual_seed(0)
cfg = GPT2Config.from_pretrained(tiny)
cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_positions = 768, 12, 12, 1024
cfg.n_inner = None
m = GPT2LMHeadModel(cfg).eval()
with torch.no_grad():
    for name, p in m.named_parameters():
        if ".ln_" in name or name.startswith("transformer.ln_f"):
            p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
    m.transformer.wte.weight.add_(0.05 * torch.randn(m.transformer.wte.weight.shape[0], 1))
    m.transformer.wpe.weight.add_(0.05 * torch.randn(m.transformer.wpe.weight.shape[0], 1))
m.save_pretrained(out, safe_serialization=True)
for f in ("tokenizer.json",):
    shutil.copy(f"{tiny}/{f}", f"{out}/{f}")
print(out, sum(p.numel() for p in m.parameters()), "parameters")
