#!/usr/bin/env python3
"""make_adaptive_pairs.py — the retrieval sets of docs/ADAPTIVE.md from the Debian pairs.

Counts each doc's tokens with `xfmr tokenize` (special tokens included, no truncation) and writes
  OUT_DIR/pairs_128_256.jsonl   pairs whose doc has 128..256 tokens (the speed-quality curves)
  OUT_DIR/calib_docs.txt        docs of other pairs (not in the set above), one per line with
                                newlines turned into spaces, for --exit-calib
Deterministic: pairs keep the file's order; every third pair with a doc of 128..256 tokens gives
its doc to calibration, the others form the set.

usage: scripts/make_adaptive_pairs.py [--xfmr build/xfmr] [--pairs .cache/eval/debian/pairs.jsonl]
                                     [--out .cache/eval/adaptive] [--n 1000] [--calib 300]
                                     [--exclude OTHER_PAIRS.jsonl]  (leave their packages out)
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xfmr", default="build/xfmr")
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--pairs", default=".cache/eval/debian/pairs.jsonl")
    ap.add_argument("--out", default=".cache/eval/adaptive")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--calib", type=int, default=300)
    ap.add_argument("--lo", type=int, default=128)
    ap.add_argument("--hi", type=int, default=256)
    ap.add_argument("--exclude", action="append", default=[],
                    help="pairs file whose packages are left out (a held-out set), repeatable")
    a = ap.parse_args()
    pairs = [json.loads(l) for l in open(a.pairs, encoding="utf-8") if l.strip()]
    if a.exclude:
        out = {json.loads(l)["package"] for f in a.exclude for l in open(f, encoding="utf-8") if l.strip()}
        n0 = len(pairs)
        pairs = [p for p in pairs if p["package"] not in out]
        print(f"{n0 - len(pairs)} of {n0} pairs left out (--exclude)", file=sys.stderr)
    data = b"".join(p["doc"].encode("utf-8") + b"\0" for p in pairs)
    r = subprocess.run([a.xfmr, "tokenize", "-m", a.model, "-0"], input=data, capture_output=True, check=True)
    counts = [len(line.split()) for line in r.stdout.decode().splitlines()]
    if len(counts) != len(pairs):
        sys.exit(f"make_adaptive_pairs: {len(counts)} token counts for {len(pairs)} docs")
    fit = [i for i, c in enumerate(counts) if a.lo <= c <= a.hi]
    # every third fitting pair goes to calibration (up to --calib), the others to the set (up to --n)
    calib = fit[2::3][: a.calib]
    chosen = [i for i in fit if i not in set(calib)][: a.n]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, f"pairs_{a.lo}_{a.hi}.jsonl"), "w", encoding="utf-8") as f:
        for i in chosen:
            f.write(json.dumps({"package": pairs[i]["package"], "query": pairs[i]["query"], "doc": pairs[i]["doc"]}) + "\n")
    with open(os.path.join(a.out, "calib_docs.txt"), "w", encoding="utf-8") as f:
        for i in calib:
            f.write(" ".join(pairs[i]["doc"].split()) + "\n")
    toks = [counts[i] for i in chosen]
    print(f"{len(fit)} of {len(pairs)} docs have {a.lo}..{a.hi} tokens; set: {len(chosen)} pairs "
          f"(mean doc {sum(toks) / len(toks):.1f} tokens), calibration: {len(calib)} docs -> {a.out}")


if __name__ == "__main__":
    main()
