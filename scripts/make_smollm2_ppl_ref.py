#!/usr/bin/env python3
"""make_smollm2_ppl_ref.py — reference perplexity of SmolLM2-135M-Instruct (the Q4_1 GGUF, loaded
by transformers) on tests/data/ppl_text.txt, by the strided sliding-window loop of the Hugging Face
guide "Perplexity of fixed-length models". Writes tests/data/smollm2_ppl_ref.json.

usage: HF_HUB_OFFLINE=1 python3 scripts/make_smollm2_ppl_ref.py   (needs torch, transformers, gguf, accelerate)
"""
import json, math, os, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main():
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(2)
    # Token ids come from tests/data/smollm2_tokenizer.json (SmolLM2's real pre-tokenizer: digits
    # split one by one, then the GPT-2 regex), not from transformers' GGUF tokenizer conversion,
    # which ignores tokenizer.ggml.pre = "smollm" and groups digits (see scripts/make_bpe_goldens.py).
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(ROOT, "tests", "data", "smollm2_tokenizer.json"))
    model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, gguf_file=GGUF, torch_dtype=torch.float32)
    model.eval()
    text = open(os.path.join(ROOT, "tests", "data", "ppl_text.txt"), "rb").read().decode("utf-8")
    ids = torch.tensor([tok.encode(text).ids], dtype=torch.long)
    out = {"text": "tests/data/ppl_text.txt", "n_tokens": ids.size(1), "runs": []}
    for window, stride in [(256, 128), (512, 512)]:
        seq_len = ids.size(1)
        nlls, prev_end, n_scored = [], 0, 0
        for begin in range(0, seq_len, stride):  # the guide's loop, verbatim in spirit
            end = min(begin + window, seq_len)
            trg_len = end - prev_end
            inp = ids[:, begin:end]
            tgt = inp.clone()
            tgt[:, :-trg_len] = -100
            with torch.no_grad():
                loss = model(inp, labels=tgt).loss
            n_valid = (tgt != -100).sum().item()
            n = n_valid - 1  # labels are shifted inside the model
            nlls.append(loss.double() * n)
            n_scored += n
            prev_end = end
            if end == seq_len:
                break
        nll = torch.stack(nlls).sum().item()
        out["runs"].append({"window": window, "stride": stride, "nll_sum": nll, "n_scored": n_scored,
                            "ppl": math.exp(nll / n_scored)})
        print(out["runs"][-1])
    with open(os.path.join(ROOT, "tests", "data", "smollm2_ppl_ref.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
