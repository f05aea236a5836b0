#!/usr/bin/env python3
"""make_tiny_gguf.py — a tiny random llama model as a GGUF file, for the robustness tests.

Writes tests/data/tiny/llama_q.gguf: architecture llama, 1 layer, hidden 32, 4 heads (2 KV
heads), FFN 64, context 64; quantized weights in the block formats xfmr dequantizes (Q4_1
token embedding, Q8_0 / Q4_0 / Q4_1 / F16 linear weights, F32 norms), tied output; and the
SentencePiece tokenizer metadata of tests/data/spm_tokenizer.gguf (4000 tokens). The weights
are random (fixed seed): the file exercises GGUF loading (config from metadata, name mapping,
dequantization, the GGUF tokenizer) under allocation-failure injection (test_alloc_fail) and
valgrind, not accuracy. Usage: python3 scripts/make_tiny_gguf.py [out_file]
"""
import os
import random
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "fuzz"))
from make_seeds import GGUFReader, gguf  # noqa: E402

F32, F16, Q4_0, Q4_1, Q8_0 = 0, 1, 2, 3, 8
rng = random.Random(11)


def f32(n):
    return struct.pack("<%df" % n, *[rng.uniform(-0.5, 0.5) for _ in range(n)])


def ones(n):
    return struct.pack("<%df" % n, *[1.0 + rng.uniform(-0.1, 0.1) for _ in range(n)])


def f16(n):
    return struct.pack("<%de" % n, *[rng.uniform(-0.5, 0.5) for _ in range(n)])


def q8_0(n):
    return b"".join(struct.pack("<e", 0.01) + bytes(rng.randrange(256) for _ in range(32)) for _ in range(n // 32))


def q4_0(n):
    return b"".join(struct.pack("<e", 0.02) + bytes(rng.randrange(256) for _ in range(16)) for _ in range(n // 32))


def q4_1(n):
    return b"".join(struct.pack("<ee", 0.02, -0.15) + bytes(rng.randrange(256) for _ in range(16)) for _ in range(n // 32))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/data/tiny/llama_q.gguf")
    H, F, NH, NKV, L, CTX = 32, 64, 4, 2, 1, 64
    dh = H // NH
    r = GGUFReader(os.path.join(ROOT, "tests/data/spm_tokenizer.gguf"))
    tok = [(k, t, v) for k, t, v in r.kvs() if k.startswith(b"tokenizer.")]
    V = len([v for k, t, v in tok if k == b"tokenizer.ggml.tokens"][0][1])
    u32 = lambda x: struct.pack("<I", x)  # noqa: E731
    kvs = [(b"general.architecture", 8, b"llama"), (b"general.name", 8, b"tiny llama q"),
           (b"llama.embedding_length", 4, u32(H)), (b"llama.block_count", 4, u32(L)),
           (b"llama.feed_forward_length", 4, u32(F)), (b"llama.attention.head_count", 4, u32(NH)),
           (b"llama.attention.head_count_kv", 4, u32(NKV)), (b"llama.context_length", 4, u32(CTX)),
           (b"llama.rope.dimension_count", 4, u32(dh)), (b"llama.rope.freq_base", 6, struct.pack("<f", 10000.0)),
           (b"llama.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5))] + tok
    tensors = [(b"token_embd.weight", [H, V], Q4_1, q4_1(H * V)), (b"output_norm.weight", [H], F32, ones(H))]
    for i in range(L):
        p = b"blk.%d." % i
        tensors += [(p + b"attn_norm.weight", [H], F32, ones(H)), (p + b"ffn_norm.weight", [H], F32, ones(H)),
                    (p + b"attn_q.weight", [H, H], Q8_0, q8_0(H * H)),
                    (p + b"attn_k.weight", [H, NKV * dh], Q4_0, q4_0(H * NKV * dh)),
                    (p + b"attn_v.weight", [H, NKV * dh], F16, f16(H * NKV * dh)),
                    (p + b"attn_output.weight", [H, H], Q4_1, q4_1(H * H)),
                    (p + b"ffn_gate.weight", [H, F], Q8_0, q8_0(H * F)),
                    (p + b"ffn_up.weight", [H, F], F32, f32(H * F)),
                    (p + b"ffn_down.weight", [F, H], Q8_0, q8_0(F * H))]
    with open(out, "wb") as f:
        f.write(gguf(kvs, tensors))


if __name__ == "__main__":
    main()
