#!/usr/bin/env python3
"""docs_128_256.py — the long-document set of the embedding speed figures (BENCHMARKS.md, issue 15):
the first N docs (default 300) of .cache/eval/adaptive/pairs_128_256.jsonl (Debian package
descriptions of 128-256 MiniLM tokens, made by scripts/make_adaptive_pairs.py), one per line with
newlines turned into spaces.

  python3 bench/docs_128_256.py [--n 300] [--pairs .cache/eval/adaptive/pairs_128_256.jsonl] [-o .cache/bench/docs300.txt]
"""
import argparse, json, os, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--pairs", default=os.path.join(ROOT, ".cache", "eval", "adaptive", "pairs_128_256.jsonl"))
    ap.add_argument("-o", "--out", default=None, help="default .cache/bench/docs<N>.txt")
    a = ap.parse_args()
    if not os.path.exists(a.pairs):
        sys.exit(f"docs_128_256.py: {a.pairs} not found (scripts/make_adaptive_pairs.py makes it)")
    out = a.out or os.path.join(ROOT, ".cache", "bench", f"docs{a.n}.txt")
    docs = []
    with open(a.pairs, encoding="utf-8") as f:
        for line in f:
            if len(docs) == a.n:
                break
            docs.append(" ".join(json.loads(line)["doc"].split("\n")))
    if len(docs) < a.n:
        sys.exit(f"docs_128_256.py: {a.pairs} has only {len(docs)} docs")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.writelines(d + "\n" for d in docs)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
