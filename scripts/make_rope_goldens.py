#!/usr/bin/env python3
"""make_rope_goldens.py — reference inverse frequencies and attention factors of the rotary
scaling variants, for tests/test_rope_scaling.c.

The formulas are those of transformers' modeling_rope_utils.py (ROPE_INIT_FUNCTIONS:
_compute_default_rope_parameters, _compute_linear_scaling_rope_parameters,
_compute_llama3_parameters, _compute_dynamic_ntk_parameters, _compute_yarn_parameters), written
out here in plain Python doubles so that no torch is needed (torch computes the same in float32;
the C code works in double, so the test compares at 1e-12). "ntk" is the static NTK-aware base
change as bloc97 posted it (and transformers' short-lived _compute_ntk_parameters):
base * factor^(dim / (dim - 2)).

YaRN: the factor is the explicit rope_scaling["factor"] (transformers >= 5; transformers 4.5x
replaced it by max_position_embeddings / original_max_position_embeddings when the latter is
given and warns when the two differ — the cases here keep them equal where both are given).

Writes tests/data/rope_goldens.txt, one case a line:
  name key=value ... | attention_factor | inv_freq[0] ... inv_freq[dim/2 - 1]
with keys kind, dim, theta, factor, orig (original_max_position_embeddings, or L0 for dynamic),
low, high (llama3), beta_fast, beta_slow, attn, mscale, mscale_all_dim, truncate, seq_len (dynamic);
absent keys mean "not in the config". Usage: python3 scripts/make_rope_goldens.py [out]
"""
import math
import sys


def default_inv_freq(base, dim):
    return [1.0 / (base ** (i / dim)) for i in range(0, dim, 2)]


def linear(c):
    return [f / c["factor"] for f in default_inv_freq(c["theta"], c["dim"])], 1.0


def llama3(c):
    inv = default_inv_freq(c["theta"], c["dim"])
    factor, low, high, old = c["factor"], c["low"], c["high"], c["orig"]
    low_wavelen, high_wavelen = old / low, old / high
    out = []
    for f in inv:
        wavelen = 2 * math.pi / f
        g = f / factor if wavelen > low_wavelen else f  # low frequencies scaled, high ones kept
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * g / factor + smooth * g
        is_medium = not (wavelen < high_wavelen) and not (wavelen > low_wavelen)
        out.append(smoothed if is_medium else g)
    return out, 1.0


def ntk(c):
    dim = c["dim"]
    base = c["theta"] * c["factor"] ** (dim / (dim - 2))
    return default_inv_freq(base, dim), 1.0


def dynamic(c):
    dim, L0, factor = c["dim"], c["orig"], c["factor"]
    seq_len = c["seq_len"] if c["seq_len"] > L0 else L0
    base = c["theta"] * ((factor * seq_len / L0) - (factor - 1)) ** (dim / (dim - 2))
    return default_inv_freq(base, dim), 1.0


def yarn(c):
    dim, base, factor, orig = c["dim"], c["theta"], c["factor"], c["orig"]

    def get_mscale(scale, m=1):
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attn = c.get("attn")
    if attn is None:
        if c.get("mscale") and c.get("mscale_all_dim"):
            attn = get_mscale(factor, c["mscale"]) / get_mscale(factor, c["mscale_all_dim"])
        else:
            attn = get_mscale(factor)
    beta_fast = c.get("beta_fast") or 32
    beta_slow = c.get("beta_slow") or 1

    def correction_dim(rot):
        return (dim * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if c.get("truncate", 1):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    pos_freqs = [base ** (i / dim) for i in range(0, dim, 2)]
    out = []
    for j, pf in enumerate(pos_freqs):
        ramp = min(max((j - low) / (high - low), 0.0), 1.0)
        extra = 1 - ramp  # weight of extrapolation
        out.append((1.0 / (factor * pf)) * (1 - extra) + (1.0 / pf) * extra)
    return out, attn


FUNCS = {"default": lambda c: (default_inv_freq(c["theta"], c["dim"]), 1.0), "linear": linear,
         "llama3": llama3, "ntk": ntk, "dynamic": dynamic, "yarn": yarn}

CASES = [
    ("plain_smollm2", dict(kind="default", dim=64, theta=100000.0)),
    ("linear_2", dict(kind="linear", dim=64, theta=10000.0, factor=2.0)),
    ("llama3_8b", dict(kind="llama3", dim=128, theta=500000.0, factor=8.0, low=1.0, high=4.0, orig=8192)),
    ("llama3_tiny", dict(kind="llama3", dim=16, theta=500000.0, factor=8.0, low=1.0, high=4.0, orig=32)),
    ("ntk_4", dict(kind="ntk", dim=64, theta=100000.0, factor=4.0)),
    ("ntk_2_dim128", dict(kind="ntk", dim=128, theta=10000.0, factor=2.0)),
    ("dynamic_below", dict(kind="dynamic", dim=64, theta=100000.0, factor=2.0, orig=8192, seq_len=4000)),
    ("dynamic_at", dict(kind="dynamic", dim=64, theta=100000.0, factor=2.0, orig=8192, seq_len=8192)),
    ("dynamic_past", dict(kind="dynamic", dim=64, theta=100000.0, factor=2.0, orig=8192, seq_len=20000)),
    ("dynamic_tiny", dict(kind="dynamic", dim=16, theta=10000.0, factor=4.0, orig=64, seq_len=100)),
    ("yarn_smollm2_x4", dict(kind="yarn", dim=64, theta=100000.0, factor=4.0, orig=8192)),
    ("yarn_qwen25_x4", dict(kind="yarn", dim=128, theta=1000000.0, factor=4.0, orig=32768)),
    ("yarn_tiny", dict(kind="yarn", dim=16, theta=10000.0, factor=4.0, orig=32)),
    ("yarn_betas", dict(kind="yarn", dim=64, theta=10000.0, factor=8.0, orig=4096, beta_fast=16.0, beta_slow=2.0)),
    ("yarn_attn", dict(kind="yarn", dim=64, theta=10000.0, factor=4.0, orig=4096, attn=0.75)),
    ("yarn_mscale", dict(kind="yarn", dim=64, theta=10000.0, factor=40.0, orig=4096, mscale=1.0,
                         mscale_all_dim=0.707)),
    ("yarn_no_truncate", dict(kind="yarn", dim=64, theta=150000.0, factor=32.0, orig=4096, truncate=0)),
    ("yarn_shrink", dict(kind="yarn", dim=64, theta=10000.0, factor=0.5, orig=4096)),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/rope_goldens.txt"
    with open(out, "w") as fh:
        fh.write("# scripts/make_rope_goldens.py: transformers' rope init formulas in double\n")
        for name, c in CASES:
            inv, attn = FUNCS[c["kind"]](c)
            keys = " ".join(f"{k}={v}" for k, v in c.items())
            fh.write(f"{name} {keys} | {attn!r} | " + " ".join(repr(f) for f in inv) + "\n")
    print(f"wrote {len(CASES)} cases to {out}")


if __name__ == "__main__":
    main()
