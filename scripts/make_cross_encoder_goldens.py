#!/usr/bin/env python3
"""make_cross_encoder_goldens.py — tiny random sequence classifiers and their reference scores.

Writes two Hugging Face folders (random weights, fixed seeds, hidden 32, 2 layers, the tiny
WordPiece vocabulary of tests/data/tiny/llama/tokenizer.json, max 64 positions):

  tests/data/tiny/bert_cls/     BertForSequenceClassification, num_labels 3, id2label
                                negative / neutral / positive, weights prefixed "bert." as
                                transformers' save_pretrained writes them
  tests/data/tiny/bert_rerank/  BertForSequenceClassification, num_labels 1, saved by
                                sentence-transformers' CrossEncoder.save (modules.json,
                                config_sentence_transformers.json with its Sigmoid activation),
                                then the "bert." prefix stripped from the weight names (the
                                other layout checkpoints come in)

and tests/data/tiny/cross_goldens.tsv, one line per input, tab-separated:

  cls        <i>  <text>   <pair or empty>  <3 logits from transformers>
  clsdirect  <i>  <text>   <pair or empty>  <3 logits of the classifier on [CLS] without the
                                             pooler: what llama.cpp computes from the GGUF its
                                             converter writes (scripts/make_cross_encoder_gguf.py)
  rerank     <i>  <query>  <document>       <logit from transformers>  <CrossEncoder.predict score>

The inputs are encoded by the tokenizer as transformers does (truncation "longest_first" to 64
tokens, token_type_ids 0 / 1); the last documents are long enough to be truncated. The
CrossEncoder score is its default activation (Sigmoid for one label) over the logit.
Usage: /work/torchenv/bin/python scripts/make_cross_encoder_goldens.py
"""
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests/data/tiny")
TOK = os.path.join(TINY, "llama/tokenizer.json")
MAXLEN = 64

CLS_INPUTS = [
    ("hello world", None),
    ("The quick brown fox jumps over the lazy dog.", None),
    ("a", None),
    ("Zebra? 42!", None),
    ("is this a question", "yes it is an answer"),
    ("the cat sat on the mat", "a dog sat on the log"),
    ("long " * 20 + "text", "short pair"),
]
QUERY = "where does the quick fox live"
DOCS = [
    "The quick brown fox lives in the forest.",
    "hello world",
    "a lazy dog sleeps all day",
    "foxes live in dens dug into the ground near the edge of the woods",
    "Zebra? 42!",
    "quick quick quick fox fox fox",
    "the " * 40 + "end of a long document that is truncated",
    ("fox " * 70).strip(),
]


def tokenizer():
    return BertTokenizerFast(tokenizer_file=TOK, cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
                             unk_token="[UNK]", mask_token="[MASK]", model_max_length=MAXLEN)


def make_model(seed, num_labels, id2label=None):
    torch.manual_seed(seed)
    kw = dict(id2label=id2label, label2id={v: k for k, v in id2label.items()}) if id2label else {}
    cfg = BertConfig(vocab_size=320, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=MAXLEN, type_vocab_size=2,
                     hidden_act="gelu", layer_norm_eps=1e-12, num_labels=num_labels, **kw)
    if num_labels > 1:
        cfg.problem_type = "single_label_classification"
    model = BertForSequenceClassification(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.normal_(1.0, 0.1)  # near-unit gains keep the inputs apart through the layers
            elif "embeddings" in name:
                p.normal_(0, 1.0)
            elif name.startswith("classifier"):
                p.normal_(0, 0.3 if name.endswith("weight") else 0.05)
            else:
                p.normal_(0, 0.3)
    return model


def logits(model, tok, a, b):
    enc = tok(a, b, truncation=True, max_length=MAXLEN, padding=True, return_tensors="pt")
    assert "token_type_ids" in enc
    with torch.no_grad():
        return model(**enc).logits


def clean(out):
    for extra in ("generation_config.json", "README.md"):
        p = os.path.join(out, extra)
        if os.path.exists(p):
            os.remove(p)


def main():
    tok = tokenizer()
    lines = []
    # The classifier, three labels.
    out = os.path.join(TINY, "bert_cls")
    shutil.rmtree(out, ignore_errors=True)
    model = make_model(11, 3, {0: "negative", 1: "neutral", 2: "positive"})
    model.save_pretrained(out, safe_serialization=True)
    tokenizer().save_pretrained(out)  # a fresh one: no padding state from earlier calls
    clean(out)
    for i, (a, b) in enumerate(CLS_INPUTS):
        row = logits(model, tok, [a], [b] if b is not None else None)[0]
        lines.append("cls\t%d\t%s\t%s\t%s" % (i, a, b or "", " ".join("%.9g" % v for v in row.tolist())))
    for i, (a, b) in enumerate(CLS_INPUTS):  # the classifier on [CLS] without the pooler
        enc = tok([a], [b] if b is not None else None, truncation=True, max_length=MAXLEN, return_tensors="pt")
        with torch.no_grad():
            row = model.classifier(model.bert(**enc).last_hidden_state[:, 0])[0]
        lines.append("clsdirect\t%d\t%s\t%s\t%s" % (i, a, b or "", " ".join("%.9g" % v for v in row.tolist())))
    # The reranker, one label, through sentence-transformers' CrossEncoder.
    from sentence_transformers import CrossEncoder

    out = os.path.join(TINY, "bert_rerank")
    shutil.rmtree(out, ignore_errors=True)
    model = make_model(12, 1)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer().save_pretrained(tmp)
        ce = CrossEncoder(tmp, device="cpu", max_length=MAXLEN)
        assert isinstance(ce.activation_fn, torch.nn.Sigmoid), ce.activation_fn
        ce.save(out)
    clean(out)
    w = load_file(os.path.join(out, "model.safetensors"))
    save_file({k[5:] if k.startswith("bert.") else k: v.contiguous() for k, v in w.items()},
              os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    raw = logits(model, tok, [QUERY] * len(DOCS), DOCS)[:, 0]
    ce_scores = ce.predict([(QUERY, d) for d in DOCS], batch_size=3)
    ranked = ce.rank(QUERY, DOCS)
    for i, d in enumerate(DOCS):
        lines.append("rerank\t%d\t%s\t%s\t%.9g\t%.9g" % (i, QUERY, d, raw[i].item(), ce_scores[i]))
    order = [r["corpus_id"] for r in ranked]
    assert order == sorted(range(len(DOCS)), key=lambda i: -raw[i].item()), order
    with open(os.path.join(TINY, "cross_goldens.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", out, "and cross_goldens.tsv; rerank order", order, file=sys.stderr)


if __name__ == "__main__":
    main()
