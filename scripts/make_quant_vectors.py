#!/usr/bin/env python3
"""Generate test vectors for the ggml block-format reference kernels (src/kernels/quants.c).

For each type: a few blocks of random bytes (fixed seed) whose f16 scale fields are overwritten with
finite float16 values (normal, subnormal, +-0, large), and their dequantization by the `gguf`
package's pure-NumPy reference (gguf.quants.dequantize, float32 arithmetic in ggml's order).

Output tests/data/quants/<TYPE>.bin, all integers little-endian:
    0  char[4] magic "XFQV"
    4  u32 version (1)
    8  u32 ggml type id
   12  u32 block_size (elements per block)
   16  u32 type_size  (bytes per block)
   20  u32 n_blocks
   24  u32 reserved (0) x 2
   32  n_blocks * type_size bytes: the raw blocks
       n_blocks * block_size float32: the dequantized values
Usage: python3 scripts/make_quant_vectors.py [outdir]   (needs numpy and gguf)
"""
import os
import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

SEED = 20240917
# type -> (number of blocks, byte offsets of f16 fields within a block)
SPECS = {
    "F32": (64, []),
    "F16": (64, []),
    "BF16": (64, []),
    "Q8_0": (8, [0]),
    "Q4_0": (8, [0]),
    "Q4_1": (8, [0, 2]),
    "Q5_0": (8, [0]),
    "Q5_1": (8, [0, 2]),
    "Q2_K": (6, [80, 82]),
    "Q3_K": (6, [108]),
    "Q4_K": (6, [0, 2]),
    "Q5_K": (6, [0, 2]),
    "Q6_K": (6, [208]),
    "MXFP4": (8, []),
}


def f16_bits(rng, kind):
    """A finite float16 bit pattern of the given kind."""
    if kind == 0:  # ordinary scale, mixed signs and magnitudes
        v = np.float16(rng.normal() * 2.0 ** rng.integers(-12, 2))
        return int(np.array(v).view(np.uint16))
    if kind == 1:  # subnormal
        return int(rng.integers(1, 0x400)) | (int(rng.integers(0, 2)) << 15)
    if kind == 2:  # +-0
        return int(rng.integers(0, 2)) << 15
    return 0x7BFF | (int(rng.integers(0, 2)) << 15)  # +-65504, the largest finite


def no_nan(bits, exp_mask, man_mask):
    """Replace NaN bit patterns (all-ones exponent, nonzero mantissa) by infinity."""
    nan = ((bits & exp_mask) == exp_mask) & ((bits & man_mask) != 0)
    bits[nan] &= bits.dtype.type(~man_mask & (exp_mask | man_mask | (exp_mask << 1)))
    return bits


def make(name, rng):
    qtype = T[name]
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks, f16_offsets = SPECS[name]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    if name in ("F16",):
        raw = no_nan(raw.view(np.uint16), 0x7C00, 0x03FF).view(np.uint8)
        raw.view(np.uint16)[:4, 0] = [0x0001, 0x8000, 0x7C00, 0xFC00]  # subnormal, -0, +-inf
    elif name == "BF16":
        raw = no_nan(raw.view(np.uint16), 0x7F80, 0x007F).view(np.uint8)
        raw.view(np.uint16)[:3, 0] = [0x0001, 0x8000, 0x7F80]
    elif name == "MXFP4":  # E8M0 scale byte: finite products (e <= 250), subnormal scales (0, 1), 1.0 (127)
        raw[:, 0] = rng.integers(0, 251, size=n_blocks)
        raw[:3, 0] = [0, 1, 127]
    elif name == "F32":
        raw = no_nan(raw.view(np.uint32), 0x7F800000, 0x007FFFFF).view(np.uint8)
    for b in range(n_blocks):
        for k, off in enumerate(f16_offsets):
            # block 0: ordinary; later blocks cycle through the special kinds per field
            kind = 0 if b == 0 or (b + k) % 2 == 0 else (b + k) % 4
            raw[b, off:off + 2] = np.array([f16_bits(rng, kind)], dtype="<u2").view(np.uint8)
    deq = np.asarray(dequantize(raw.reshape(-1).copy(), qtype), dtype=np.float32).reshape(-1)
    assert deq.size == n_blocks * block_size, (name, deq.size)
    assert np.all(np.isfinite(deq)) or name in ("F32", "F16", "BF16"), name
    head = b"XFQV" + struct.pack("<7I", 1, int(qtype), block_size, type_size, n_blocks, 0, 0)
    return head + raw.tobytes() + deq.astype("<f4").tobytes()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "data", "quants")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    total = 0
    for name in SPECS:
        data = make(name, rng)
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)
        total += len(data)
        print(f"{name}: {len(data)} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
