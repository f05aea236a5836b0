#!/usr/bin/env python3
"""make_ppl_refs.py — reference perplexities of the tiny decoders for tests/test_perplexity.c.

Runs the strided sliding-window loop of the Hugging Face guide "Perplexity of fixed-length
models" (https://huggingface.co/docs/transformers/perplexity) with transformers, in float32, on
tests/data/tiny/{llama,qwen2} over a fixed sequence of 120 ids, ids[i] = (i * 37 + 11) % 320,
for (window, stride) = (32, 16) and (64, 64). Writes tests/data/ppl_refs.json:
  {"ids": [...], "refs": [{"model", "window", "stride", "ppl", "nll_sum", "n_scored"}, ...]}
nll_sum / n_scored are the guide's nll_sum and n_tokens (weight of a window: its valid labels
minus one, for the internal label shift). Offline; usage: python3 scripts/make_ppl_refs.py
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
N, V = 120, 320
IDS = [(i * 37 + 11) % V for i in range(N)]
CASES = [(32, 16), (64, 64)]


def guide_ppl(model, ids, max_length, stride):
    encodings = torch.tensor([ids], dtype=torch.long)
    seq_len = encodings.size(1)
    nll_sum = 0.0
    n_tokens = 0
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = encodings[:, begin_loc:end_loc]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            outputs = model(input_ids, labels=target_ids)
            neg_log_likelihood = outputs.loss
        num_valid_tokens = (target_ids != -100).sum().item()
        batch_size = target_ids.size(0)
        num_loss_tokens = num_valid_tokens - batch_size
        nll_sum += neg_log_likelihood.double().item() * num_loss_tokens
        n_tokens += num_loss_tokens
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return float(torch.exp(torch.tensor(nll_sum / n_tokens, dtype=torch.float64))), nll_sum, n_tokens


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/data/ppl_refs.json")
    refs = []
    for name in ("llama", "qwen2"):
        model = AutoModelForCausalLM.from_pretrained(os.path.join(ROOT, "tests/data/tiny", name),
                                                     dtype=torch.float32)
        model.eval()
        for window, stride in CASES:
            ppl, nll_sum, n = guide_ppl(model, IDS, window, stride)
            refs.append(dict(model=name, window=window, stride=stride, ppl=ppl, nll_sum=nll_sum,
                             n_scored=n))
            print(name, window, stride, ppl, nll_sum, n)
    with open(out, "w") as f:
        json.dump({"ids": IDS, "refs": refs}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
