#!/usr/bin/env python3
"""make_tiny_bert.py — a tiny random BERT sentence-transformers folder for the robustness tests.

Writes tests/data/tiny/bert/: config.json, model.safetensors (F32, random weights, fixed seed),
tokenizer.json (the same small WordPiece tokenizer as the tiny decoders, vocab 320),
modules.json, 1_Pooling/config.json (mean pooling), sentence_bert_config.json (max_seq_length
64), a Normalize module, and ref_emb.txt: for each of a few texts, its normalized mean-pooled
embedding as computed by transformers (eval mode, float32):  <text> \\t <32 floats>.
Used by test_alloc_fail (allocation-failure injection over load/tokenize/embed), test_determinism
and scripts/valgrind.sh: a whole embedding model small enough to load thousands of times.
Usage: python3 scripts/make_tiny_bert.py [out_dir]   (default tests/data/tiny/bert)
"""
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import BertConfig, BertModel  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = ["hello world", "The quick brown fox jumps over the lazy dog.", "a", "Zebra? 42!"]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/data/tiny/bert")
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    torch.manual_seed(5)
    cfg = BertConfig(vocab_size=320, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
                     hidden_act="gelu", layer_norm_eps=1e-12)
    model = BertModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    model.save_pretrained(out, safe_serialization=True)
    tok_src = os.path.join(ROOT, "tests/data/tiny/llama/tokenizer.json")
    shutil.copy(tok_src, os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
                  f, indent=2)
    with open(os.path.join(out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": 32, "pooling_mode_cls_token": False,
                   "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    with open(os.path.join(out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 64, "do_lower_case": False}, f)
    tok = Tokenizer.from_file(tok_src)
    with open(os.path.join(out, "ref_emb.txt"), "w") as f:
        for t in TEXTS:
            enc = tok.encode(t)
            ids = torch.tensor([enc.ids])
            with torch.no_grad():
                h = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                          token_type_ids=torch.zeros_like(ids)).last_hidden_state[0]
            e = h.mean(0)
            e = e / e.norm()
            f.write(t + "\t" + " ".join("%.8g" % v for v in e.tolist()) + "\n")
    for extra in ("generation_config.json",):
        p = os.path.join(out, extra)
        if os.path.exists(p):
            os.remove(p)


if __name__ == "__main__":
    main()
