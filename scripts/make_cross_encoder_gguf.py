#!/usr/bin/env python3
"""make_cross_encoder_gguf.py — GGUF files of the tiny classifiers of make_cross_encoder_goldens.py,
written by llama.cpp's own convert_hf_to_gguf.py (F32), for tests/test_cross_encoder.c:

  tests/data/tiny/bert_cls_llamacpp.gguf  bert_cls as the converter writes it: the classifier as
      "cls.output" and the labels as bert.classifier.output_labels, but no pooler (the converter
      drops pooler.dense), so its logits are the classifier on [CLS] directly ("clsdirect" rows of
      cross_goldens.tsv), which is what llama.cpp computes too
  tests/data/tiny/bert_rerank.gguf        bert_rerank with the pooler kept as "cls" (the dense +
      tanh step of llama.cpp's rank pooling; the converter is told pooler.dense is a RoBERTa-style
      "classifier.dense"): transformers' scores

As scripts/make_llamacpp_tiny_bert.py, the converter is told the pre-tokenizer ("jina-v2-en"), since
the tiny vocabulary matches no hash it knows.
usage: scripts/make_cross_encoder_gguf.py [LLAMA_CPP_DIR]   (default: .cache/llamacpp/*/vendor/llama.cpp)
"""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests/data/tiny")


def main():
    found = sorted(glob.glob(os.path.join(ROOT, ".cache/llamacpp/*/vendor/llama.cpp")))
    lcpp = sys.argv[1] if len(sys.argv) > 1 else (found[-1] if found else None)
    if not lcpp or not os.path.isfile(os.path.join(lcpp, "convert_hf_to_gguf.py")):
        sys.exit("make_cross_encoder_gguf: no llama.cpp source (run bench/build_llamacpp.sh, or pass its path)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path[:0] = [os.path.join(lcpp, "gguf-py"), lcpp]
    import conversion.base as base  # noqa: E402
    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "jina-v2-en"
    import convert_hf_to_gguf  # noqa: E402
    from conversion.bert import BertModel  # noqa: E402

    def run(src, out):
        sys.argv = ["convert_hf_to_gguf.py", os.path.join(TINY, src), "--outfile", os.path.join(TINY, out),
                    "--outtype", "f32"]
        convert_hf_to_gguf.main()

    run("bert_cls", "bert_cls_llamacpp.gguf")
    stock = BertModel.filter_tensors.__func__

    def keep_pooler(cls, item):
        name, gen = item
        if name.startswith("bert."):
            name = name[5:]
        if name.startswith("pooler.dense."):
            name = "classifier.dense." + name[len("pooler.dense."):]
        return stock(cls, (name, gen))

    BertModel.filter_tensors = classmethod(keep_pooler)
    run("bert_rerank", "bert_rerank.gguf")


if __name__ == "__main__":
    main()
