#!/usr/bin/env bash
# paired_decode.sh — decode tok/s of xfmr (build/bench_decode) and llama.cpp (llama-bench) on the same
# GGUF files, R rounds, each round running every (file, threads, engine) once back to back, so that
# a noisy shared machine's slow spells hit both engines of a round alike; prints one line per run
# and, per (file, threads), the median over rounds of the within-round ratio xfmr / llama.cpp.
#
#   [WEIGHTS=int8] bench/paired_decode.sh ROUNDS GEN "1 2" FILE.gguf...
#
# WEIGHTS=int8 runs xfmr with --weights int8 (GGUF: 8-bit activations, integer dots, llama.cpp's
# numerics); default stored (float activations).
# llama-bench: -p 0 -n GEN -r 1 (its default repacking); bench_decode: --prompt 16 --gen GEN
# --runs 1 (tokens of tests/data/corpus.txt). Needs bench/build_llamacpp.sh's llama-bench (LLAMA_BENCH
# picks another, e.g. the LLAMACPP_ISA=avx2 build, run against XF_ISA=avx2 xfmr).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=$1 gen=$2 threads=$3 weights=${WEIGHTS:-stored}
shift 3
lb=${LLAMA_BENCH:-$(ls "$root"/.cache/llamacpp/build-*/bin/llama-bench | head -n 1)}
out=$(mktemp)
for r in $(seq 1 "$rounds"); do
  for f in "$@"; do
    for t in $threads; do
      x=$("$root/build/bench_decode" "$f" --prompt 16 --gen "$gen" --threads "$t" --runs 1 --weights "$weights" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["decode_tok_s"])')
      l=$("$lb" -m "$f" -p 0 -n "$gen" -t "$t" -r 1 -o json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["avg_ts"])')
      echo "round=$r file=$(basename "$f") threads=$t weights=$weights xfmr=$x llamacpp=$l" | tee -a "$out"
    done
  done
done
python3 - "$out" <<'PY'
import statistics, sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(p.split("=") for p in line.split())
    runs[(kv["file"] + " (" + kv["weights"] + ")", kv["threads"])].append((float(kv["xfmr"]), float(kv["llamacpp"])))
print("| file | threads | xfmr tok/s (median) | llama.cpp tok/s (median) | median within-round ratio |")
print("|---|---|---|---|---|")
for (f, t), v in runs.items():
    print(f"| {f} | {t} | {statistics.median(a for a, _ in v):.1f} | {statistics.median(b for _, b in v):.1f} | "
          f"{statistics.median(a / b for a, b in v):.2f}x |")
PY
rm -f "$out"
