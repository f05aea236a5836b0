#!/usr/bin/env python3
"""paired_embed.py — embedding speed ratios that hold on a noisy shared machine: R rounds, each
running every engine once (one timed pass over the corpus after its own warm-up) back to back, so
that a slow spell of the machine hits the runs of one round alike; reports each engine's median
texts/s and, per pair, the median over rounds of the within-round ratio. bench/run.py's medians
compare engines run minutes apart, which a shared VM's swings (here up to 2x within ten minutes)
can swamp.

  python3 bench/paired_embed.py [--rounds 5] [--threads 1] [--batch 32] [--corpus FILE]
      [--engines "xfmr int8,xfmr bf16,xfmr int8 avx512,st bf16"] [--json OUT]

Engines: "xfmr W" (W = fp32, int8, bf16; build/bench_embed), "xfmr W ISA" (the same with XF_ISA=ISA,
e.g. avx512 = without AMX), "st fp32" / "st bf16" (sentence-transformers in its own process,
bench_embed.py --engine st). Ratios are printed for every pair whose first engine is xfmr.
"""
import argparse, json, os, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CORPUS, machine  # noqa: E402
import bench_embed  # noqa: E402


def run(engine, corpus, threads, batch):
    parts = engine.split()
    if parts[0] == "st":
        return bench_embed.run_st_child(corpus, threads, batch, 1, dtype=parts[1])["texts_per_s"]
    isa = parts[2] if len(parts) > 2 else None
    return bench_embed.run_xfmr(corpus, threads, batch, 1, parts[1], isa=isa)["texts_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--corpus", default=CORPUS)
    ap.add_argument("--engines", default="xfmr fp32,xfmr int8,xfmr bf16,st fp32,st bf16")
    ap.add_argument("--json", default=None, help="write the samples and ratios here")
    a = ap.parse_args()
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    samples = {e: [] for e in engines}
    for r in range(a.rounds):
        for e in engines:
            samples[e].append(run(e, a.corpus, a.threads, a.batch))
        print(f"round {r + 1}: " + ", ".join(f"{e} {samples[e][-1]:.1f}" for e in engines), file=sys.stderr, flush=True)
    ratios = {f"{x} / {y}": statistics.median(p / q for p, q in zip(samples[x], samples[y]))
              for x in engines if x.startswith("xfmr") for y in engines if y != x}
    print(f"threads {a.threads}, batch {a.batch}, {a.rounds} rounds, corpus {a.corpus}")
    print("| engine | median texts/s | min | max |\n|---|---|---|---|")
    for e in engines:
        print(f"| {e} | {statistics.median(samples[e]):.1f} | {min(samples[e]):.1f} | {max(samples[e]):.1f} |")
    print("| pair | median within-round ratio |\n|---|---|")
    for k, v in ratios.items():
        print(f"| {k} | {v:.2f}x |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": machine(), "threads": a.threads, "batch": a.batch, "rounds": a.rounds,
                       "corpus": a.corpus, "samples": samples, "ratios": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
