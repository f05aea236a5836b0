#!/usr/bin/env bash
# paired_prefill.sh — prefill tok/s of xfmr (build/bench_decode, --weights stored and int8) and
# llama.cpp (llama-bench) on the same GGUF files, R rounds, each round running every (file,
# threads, engine) once back to back, so that a noisy shared machine's slow spells hit every engine
# of a round alike; prints one line per run and, per (file, threads), the medians and the median
# over rounds of the within-round ratios (int8 / llama.cpp, stored / llama.cpp, int8 / stored).
#
#   bench/paired_prefill.sh ROUNDS PROMPT "1 2" FILE.gguf...
#
# llama-bench: -p PROMPT -n 0 -r 1 (its default repacking); bench_decode: --prompt PROMPT --gen 1
# --runs 1 (tokens of tests/data/corpus.txt, repeated to PROMPT). XFMR_BIN (default build) holds
# bench_decode; LLAMA_BENCH picks another llama-bench.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=$1 prompt=$2 threads=$3
shift 3
bd=${XFMR_BIN:-$root/build}/bench_decode
lb=${LLAMA_BENCH:-$(ls "$root"/.cache/llamacpp/build-*/bin/llama-bench | head -n 1)}
out=$(mktemp)
pp() { python3 -c 'import json,sys; print(json.load(sys.stdin)["prefill_tok_s"])'; }
for r in $(seq 1 "$rounds"); do
  for f in "$@"; do
    for t in $threads; do
      l=$("$lb" -m "$f" -p "$prompt" -n 0 -t "$t" -r 1 -o json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["avg_ts"])')
      s=$("$bd" "$f" --prompt "$prompt" --gen 1 --threads "$t" --runs 1 --weights stored 2>/dev/null | pp)
      i=$("$bd" "$f" --prompt "$prompt" --gen 1 --threads "$t" --runs 1 --weights int8 2>/dev/null | pp)
      echo "round=$r file=$(basename "$f") threads=$t llamacpp=$l stored=$s int8=$i" | tee -a "$out"
    done
  done
done
python3 - "$out" "$prompt" <<'PY'
import statistics, sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    kv = dict(p.split("=") for p in line.split())
    runs[(kv["file"], kv["threads"])].append((float(kv["llamacpp"]), float(kv["stored"]), float(kv["int8"])))
p = sys.argv[2]
print(f"| file | threads | llama.cpp pp{p} tok/s | xfmr stored | xfmr int8 | int8 / llama.cpp | stored / llama.cpp | int8 / stored |")
print("|---|---|---|---|---|---|---|---|")
med = statistics.median
for (f, t), v in runs.items():
    print(f"| {f} | {t} | {med(a for a, _, _ in v):.1f} | {med(b for _, b, _ in v):.1f} | {med(c for _, _, c in v):.1f} | "
          f"{med(c / a for a, _, c in v):.2f}x | {med(b / a for a, b, _ in v):.2f}x | {med(c / b for _, b, c in v):.2f}x |")
PY
rm -f "$out"
