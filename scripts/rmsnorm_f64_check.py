#!/usr/bin/env python3
"""rmsnorm_f64_check.py MODEL_DIR PREFIX P — judge bench_rmsnorm's two float32 logit sets (--dump
PREFIX: PREFIX.ln.f32 = the Pre-LN original as xfmr runs it, PREFIX.rms.f32 = its Pre-RMSNorm
rewrite) against the same GPT-2 model run by transformers in float64 on the same ids: which of the
two float32 computations is closer to the exact value tells whether the rewrite's difference is
float32 rounding (both equally far) or an error of the rewrite."""
import sys

import numpy as np
import torch
from transformers import GPT2LMHeadModel

d, prefix, P = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = GPT2LMHeadModel.from_pretrained(d, torch_dtype=torch.float64).eval()
V = m.config.vocab_size
ids = torch.tensor([[(t * 7919 + 13) % V for t in range(P)]])
with torch.no_grad():
    ref = m(ids).logits[0].numpy()
big = np.abs(ref).max()
for k in ("ln", "rms"):
    x = np.fromfile(f"{prefix}.{k}.f32", dtype=np.float32).reshape(P, V)
    print(f"{k}: max |float32 - float64| / max |logit| = {np.abs(x - ref).max() / big:.3g}")
