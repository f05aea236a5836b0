#!/usr/bin/env python3
"""make_llamacpp_tiny_bert.py — tests/data/tiny/bert_llamacpp.gguf: the tiny BERT of
tests/data/tiny/bert converted to GGUF by llama.cpp's own convert_hf_to_gguf.py (F32), so that a
ctest checks, without llama.cpp, that xfmr reads the files llama.cpp's converter writes for BERT.

The converter identifies a tokenizer's pre-tokenizer by hashing its output on a test text; the tiny
model's 320-token vocabulary matches no known hash, so it is told the answer it gives for BERT's
WordPiece vocabularies ("jina-v2-en", as for all-MiniLM-L6-v2). Everything else is the converter's.

usage: scripts/make_llamacpp_tiny_bert.py [LLAMA_CPP_DIR] [OUT]
  LLAMA_CPP_DIR: llama.cpp source with convert_hf_to_gguf.py and gguf-py (default: the one
                 bench/build_llamacpp.sh unpacked under .cache/llamacpp). Needs torch, transformers.
"""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    found = sorted(glob.glob(os.path.join(ROOT, ".cache/llamacpp/*/vendor/llama.cpp")))
    lcpp = sys.argv[1] if len(sys.argv) > 1 else (found[-1] if found else None)
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests/data/tiny/bert_llamacpp.gguf")
    if not lcpp or not os.path.isfile(os.path.join(lcpp, "convert_hf_to_gguf.py")):
        sys.exit("make_llamacpp_tiny_bert: no llama.cpp source (run bench/build_llamacpp.sh, or pass its path)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path[:0] = [os.path.join(lcpp, "gguf-py"), lcpp]
    import conversion.base as base  # noqa: E402
    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "jina-v2-en"
    import convert_hf_to_gguf  # noqa: E402
    sys.argv = ["convert_hf_to_gguf.py", os.path.join(ROOT, "tests/data/tiny/bert"), "--outfile", out, "--outtype", "f32"]
    convert_hf_to_gguf.main()


if __name__ == "__main__":
    main()
