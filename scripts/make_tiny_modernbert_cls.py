#!/usr/bin/env python3
"""make_tiny_modernbert_cls.py — tiny random ModernBertForSequenceClassification models and their
transformers logits (tests/test_modernbert_cls.c).

No real ModernBERT classifiers are available offline, so the head is checked against
transformers' own ModernBertForSequenceClassification on small random models made here with fixed
seeds. The head, as transformers 5.x computes it:

    pooled = H[0] (classifier_pooling "cls") or the mean of H over the attention mask ("mean")
    logits = classifier(LayerNorm(act(head.dense(pooled))))   act = ACT2FN[classifier_activation]

Writes under tests/data/tiny/ (default; argv[1] overrides):

  modernbert_cls        cls pooling, classifier_activation "gelu", no biases, 3 labels
                        (id2label negative/neutral/positive), problem_type single_label_classification
  modernbert_cls_mean   mean pooling, "gelu", classifier_bias / norm_bias / attention and mlp biases on,
                        2 labels (toxic, spam: llama.cpp's converter writes the classifier as cls.output
                        only for a model whose labels are named), problem_type multi_label_classification
  modernbert_reg        cls pooling, "silu", 1 label, problem_type regression

  modernbert_cls_goldens.tsv: model \\t index \\t text \\t pair ("" when none) \\t logits (space separated)

Each folder holds config.json, model.safetensors (F16 values; the references run in float32 on
exactly those values) and the tiny byte-level BPE tokenizer of tests/data/tiny/modernbert (made by
make_tiny_modernbert.py). With --gguf[=LLAMA_CPP_SRC] also <name>.gguf of modernbert_cls and
modernbert_cls_mean by llama.cpp's own convert_hf_to_gguf.py (cls, cls.norm, cls.output and
modern-bert.classifier.pooling_type).
"""
import copy
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import ModernBertConfig, ModernBertForSequenceClassification  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from make_tiny_modernbert import convert_gguf, randomize  # noqa: E402

COMMON = dict(vocab_size=320, hidden_size=32, num_attention_heads=2, intermediate_size=24, num_hidden_layers=3,
              global_attn_every_n_layers=2, local_attention=8, max_position_embeddings=64, initializer_range=0.2,
              pad_token_id=4, bos_token_id=2, eos_token_id=3, cls_token_id=2, sep_token_id=3, norm_eps=1e-5)
MODELS = {
    "modernbert_cls": dict(classifier_pooling="cls", classifier_activation="gelu", num_labels=3,
                           id2label={0: "negative", 1: "neutral", 2: "positive"},
                           label2id={"negative": 0, "neutral": 1, "positive": 2},
                           problem_type="single_label_classification"),
    "modernbert_cls_mean": dict(classifier_pooling="mean", classifier_activation="gelu", classifier_bias=True,
                                norm_bias=True, attention_bias=True, mlp_bias=True, num_labels=2,
                                id2label={0: "toxic", 1: "spam"}, label2id={"toxic": 0, "spam": 1},
                                problem_type="multi_label_classification"),
    "modernbert_reg": dict(classifier_pooling="cls", classifier_activation="silu", num_labels=1,
                           problem_type="regression"),
}
INPUTS = [("hello world", None), ("The quick brown fox jumps over the lazy dog.", None), ("a", None),
          ("Zebra? 42! " * 5 + "a text longer than the local window of the tiny model.", None),
          ("is this a question", "yes it is an answer"),
          ("short", "a second text that is much longer than the first one, longer than the window"),
          ("word " * 80, None)]  # past max_position_embeddings: truncated to 64 tokens


def build(name, extra, tok, out):
    torch.manual_seed(4321 + len(name))
    cfg = ModernBertConfig(**COMMON, **extra)
    cfg._attn_implementation = "eager"
    model = ModernBertForSequenceClassification(cfg).eval()
    randomize(model)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    copy.deepcopy(model).half().save_pretrained(d, safe_serialization=True)
    src = os.path.join(out, "modernbert")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(src, f), os.path.join(d, f))
    with open(os.path.join(d, "tokenizer_config.json")) as f:
        tc = json.load(f)
    tc["model_max_length"] = cfg.max_position_embeddings
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, indent=1)
    rows = []
    with torch.no_grad():
        for i, (a, b) in enumerate(INPUTS):
            enc = tok.encode(a, b) if b is not None else tok.encode(a)
            ids = enc.ids[:cfg.max_position_embeddings]
            if len(enc.ids) > cfg.max_position_embeddings:  # as tokenizer(truncation=True): keep [SEP] last
                ids = ids[:-1] + [cfg.sep_token_id]
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            rows.append(f"{name}\t{i}\t{a}\t{b or ''}\t" + " ".join(f"{v:.9g}" for v in logits.tolist()))
        # batched, padded: the same logits within float noise (mean pooling over the mask)
        encs = [tok.encode(a, b) if b is not None else tok.encode(a) for a, b in INPUTS[:6]]
        Lm = max(len(e.ids) for e in encs)
        ids = torch.full((len(encs), Lm), cfg.pad_token_id)
        mask = torch.zeros((len(encs), Lm), dtype=torch.long)
        for i, e in enumerate(encs):
            ids[i, :len(e.ids)] = torch.tensor(e.ids)
            mask[i, :len(e.ids)] = 1
        lb = model(input_ids=ids, attention_mask=mask).logits
        for i, e in enumerate(encs):
            la = model(input_ids=torch.tensor([e.ids])).logits[0]
            print(f"{name}: input {i}: batched vs alone {(lb[i] - la).abs().max().item():.3g}", file=sys.stderr)
    return rows


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    llamacpp = None
    for a in sys.argv[1:]:
        if a.startswith("--gguf"):
            llamacpp = a.split("=", 1)[1] if "=" in a else os.path.join(
                ROOT, ".cache/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp")
    out = args[0] if args else os.path.join(ROOT, "tests/data/tiny")
    tok = Tokenizer.from_file(os.path.join(out, "modernbert", "tokenizer.json"))
    rows = []
    for name, extra in MODELS.items():
        rows += build(name, extra, tok, out)
        if llamacpp and name != "modernbert_reg":
            convert_gguf(os.path.join(out, name), os.path.join(out, name + ".gguf"), llamacpp)
    with open(os.path.join(out, "modernbert_cls_goldens.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
