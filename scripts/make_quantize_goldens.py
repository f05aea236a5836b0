#!/usr/bin/env python3
"""Goldens for xfmr's quantizers (src/quant/, tests/test_quantize.c): one float32 input and, per
type, the blocks ggml's reference quantizer makes of it.

Output (tests/data/quantize/):
    input.f32       N float32 (little-endian), rows of ROW = 512 values: blocks of many kinds
                    (normal at scales 1e-20..1e4, heavy tails, one outlier, all zero, constant,
                    all positive, all negative, ties on the MXFP4 grid)
    <TYPE>.bin      the blocks of input.f32 quantized to TYPE, row by row

Sources, both must agree where both exist:
  - the `gguf` Python package (gguf.quants.quantize; pure numpy, float32 in ggml's order):
    Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4;
  - ggml itself (ggml_quantize_chunk, what llama-quantize calls without an importance matrix),
    through scripts/ggml_quantize_ref.c linked with a llama.cpp build's libggml-base.a:
    every type, and the only source for Q4_K, Q5_K, Q6_K.
Usage: python3 scripts/make_quantize_goldens.py [--llama-src DIR --llama-build DIR] [outdir]
(needs numpy and gguf: pip install gguf, or PYTHONPATH=<llama.cpp>/gguf-py)."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize

ROW = 512
TYPES = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "MXFP4"]
GGUF_PY = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "MXFP4"}
SEED = 20261205


def make_input(rng):
    blocks = []
    for scale in [1e-20, 1e-6, 1e-3, 0.02, 0.1, 1.0, 30.0, 1e4]:
        blocks.append(rng.normal(size=256) * scale)
    blocks.append(rng.standard_t(2, size=256) * 0.05)                 # heavy tails
    b = rng.normal(size=256) * 0.01
    b[rng.integers(0, 256, size=3)] = [3.0, -7.5, 12.0]                 # outliers
    blocks.append(b)
    blocks.append(np.zeros(256))                                        # all zero
    blocks.append(np.full(256, 0.37))                                   # constant
    blocks.append(np.abs(rng.normal(size=256)) + 0.5)                   # all positive, min > 0
    blocks.append(-np.abs(rng.normal(size=256)) - 0.5)                  # all negative
    g = rng.integers(-12, 13, size=256) * 0.25                          # on / between MXFP4 codes
    g[::32] = 12 * 0.25
    blocks.append(g)
    b = rng.normal(size=256) * 0.05                                     # mixed: half the sub-blocks tiny
    b[:128] *= 1e-4
    blocks.append(b)
    x = np.concatenate(blocks).astype(np.float32)
    assert x.size % ROW == 0
    return x


def ggml_blocks(args, x, tname):
    if not args.llama_build:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "q")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ggml_quantize_ref.c")
        subprocess.run(["cc", "-O2", src, "-I", os.path.join(args.llama_src, "ggml/include"),
                        os.path.join(args.llama_build, "ggml/src/libggml-base.a"), "-fopenmp", "-lstdc++", "-lm", "-lpthread",
                        "-o", exe],
                       check=True)
        inp, out = os.path.join(tmp, "in.f32"), os.path.join(tmp, "out.bin")
        x.tofile(inp)
        subprocess.run([exe, str(int(T[tname])), str(ROW), inp, out], check=True)
        return open(out, "rb").read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-src", default=".cache/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp")
    ap.add_argument("--llama-build", default=".cache/llamacpp/build-llama_cpp_python-0.3.36")
    ap.add_argument("outdir", nargs="?", default="tests/data/quantize")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.llama_build, "ggml/src/libggml-base.a")):
        print("no libggml-base.a under --llama-build: K types skipped", file=sys.stderr)
        args.llama_build = None
    os.makedirs(args.outdir, exist_ok=True)
    x = make_input(np.random.default_rng(SEED))
    x.tofile(os.path.join(args.outdir, "input.f32"))
    rows = x.reshape(-1, ROW)
    for t in TYPES:
        py = quantize(rows, T[t]).tobytes() if t in GGUF_PY else None
        gg = ggml_blocks(args, x, t)
        if py is not None and gg is not None and py != gg:
            sys.exit(f"{t}: gguf.quants and ggml disagree")
        data = py if py is not None else gg
        if data is None:
            print(f"{t}: no source, skipped", file=sys.stderr)
            continue
        open(os.path.join(args.outdir, f"{t}.bin"), "wb").write(data)
        print(f"{t}: {len(data)} bytes ({'gguf.quants' if py else ''}{' + ' if py and gg else ''}{'ggml' if gg else ''})")


if __name__ == "__main__":
    main()
