#!/usr/bin/env python3
"""Compare the tensors of two GGUF files (e.g. `xfmr quantize` vs llama.cpp's `llama-quantize` of the
same model and type): per tensor, whether both have it, its ggml type in each and whether the bytes
are identical. Prints one line per differing tensor and a summary; exit 0 when every tensor has the
same type and bytes, 1 otherwise.
Usage: python3 scripts/compare_gguf_tensors.py A.gguf B.gguf   (needs gguf: pip install gguf)"""
import sys

from gguf import GGUFReader


def tensors(path):
    r = GGUFReader(path)
    return {t.name: (t.tensor_type.name, bytes(t.data.tobytes())) for t in r.tensors}


def main():
    a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
    same = differ = 0
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            print(f"{name}: only in {'A' if name in a else 'B'}")
            differ += 1
            continue
        (ta, da), (tb, db) = a[name], b[name]
        if ta != tb or da != db:
            nd = sum(x != y for x, y in zip(da, db)) if len(da) == len(db) else -1
            print(f"{name}: A {ta} B {tb}, {'same bytes' if da == db else f'{nd} of {len(da)} bytes differ'}")
            differ += 1
        else:
            same += 1
    print(f"{same} tensors identical (type and bytes), {differ} differ")
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
