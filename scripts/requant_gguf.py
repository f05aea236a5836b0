#!/usr/bin/env python3
"""requant_gguf.py — re-quantize the 2-D weight tensors of a GGUF file to another ggml type (for
benchmarks: e.g. a Q8_0 SmolLM2 from the Q4_1 one). Every 2-D tensor whose row length is a
multiple of the target block size is dequantized with the `gguf` package's reference
(gguf.quants.dequantize) and quantized again with gguf.quants.quantize; other tensors (norms,
biases, anything 1-D) are copied as they are. All metadata key/value pairs (tokenizer included)
are copied in file order, except the writer's own (GGUF.*, general.architecture, which is passed
to the writer, and general.alignment, which the writer sets again).

usage: python3 scripts/requant_gguf.py IN.gguf OUT.gguf [--type Q8_0] [--keep NAME ...]
  --type   target type (Q8_0 default; any type gguf.quants can quantize: Q4_0, Q4_1, Q5_0, Q5_1, ...)
  --keep   tensor names to copy unchanged (repeatable)
Needs: numpy, gguf (pip install gguf numpy).
"""
import argparse
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

SKIP_KEYS = {"general.architecture", "general.alignment"}


def copy_metadata(reader, writer):
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in SKIP_KEYS:
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        if vtype == GGUFValueType.ARRAY and len(field.types) > 2:
            sys.exit(f"{field.name}: nested arrays are not supported by this script")
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--type", default="Q8_0")
    ap.add_argument("--keep", action="append", default=[])
    a = ap.parse_args()
    target = GGMLQuantizationType[a.type]
    block, _ = GGML_QUANT_SIZES[target]
    reader = GGUFReader(a.src)
    arch = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(a.dst, arch)
    copy_metadata(reader, writer)
    counts = {}
    for t in reader.tensors:
        dims = [int(d) for d in t.shape]  # innermost first, as in the file
        shape = list(reversed(dims))  # numpy order
        requant = len(dims) == 2 and dims[0] % block == 0 and t.name not in a.keep
        if requant:
            src = np.asarray(t.data)
            f32 = dequantize(src, t.tensor_type).astype(np.float32).reshape(shape)
            if t.tensor_type == target:
                data, qtype = src, t.tensor_type  # already the target type: copy the blocks
            else:
                data, qtype = quantize(f32, target), target
        else:
            data, qtype = np.asarray(t.data), t.tensor_type
        counts[qtype.name] = counts.get(qtype.name, 0) + 1
        if qtype in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
            writer.add_tensor(t.name, np.asarray(data).reshape(shape), raw_dtype=qtype)
        else:  # blocks as bytes, [..., row bytes]: the writer derives the element shape
            raw = np.ascontiguousarray(np.asarray(data, dtype=np.uint8)).reshape(shape[:-1] + [-1])
            writer.add_tensor(t.name, raw, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"{a.dst}: {len(reader.tensors)} tensors ({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})")


if __name__ == "__main__":
    main()
