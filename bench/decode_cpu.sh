#!/bin/bash
# decode_cpu.sh — CPU milliseconds per decoded token at 1 thread, for a shared machine where wall
# time says little: xfmr from bench_decode's decode_cpu_s (median of 3 runs) with --weights int8
# (BASE and NEW binaries, interleaved) and stored (NEW); llama.cpp from llama-bench's CPU time
# (/usr/bin/time) for -n 2G minus -n G, so that load and warm-up cancel. Two repetitions.
#   bench/decode_cpu.sh MODEL.gguf [G=64] [BASE=build/bench_decode] [NEW=build/bench_decode]
# LLAMA_BENCH overrides the llama-bench path.
cd "$(dirname "$0")/.." || exit 1
LB=${LLAMA_BENCH:-.cache/llamacpp/build-llama_cpp_python-0.3.36/bin/llama-bench}
M=$1; G=${2:-64}; BASE=${3:-build/bench_decode}; NEW=${4:-build/bench_decode}
x() {
  "$1" "$M" --prompt 16 --gen "$G" --threads 1 --runs 3 --weights "$2" --text tests/data/corpus.txt 2>/dev/null |
    python3 -c "import json,sys,statistics; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print('%.2f' % (1000*statistics.median(r['decode_cpu_s'] for r in d['runs'])/$G))"
}
l() { /usr/bin/time -f "%U %S" "$LB" -m "$M" -p 0 -n "$1" -t 1 -r 3 2>&1 >/dev/null | tail -1 | awk '{print $1+$2}'; }
for rep in 1 2; do
  b=$(x "$BASE" int8); n=$(x "$NEW" int8); s=$(x "$NEW" stored)
  c2=$(l $((2 * G))); c1=$(l "$G")
  lc=$(python3 -c "print('%.2f' % (1000*($c2-$c1)/(3*$G)))")
  echo "$(basename "$M") rep$rep ms_cpu/token: xfmr_int8_base=$b xfmr_int8_new=$n xfmr_stored=$s llama=$lc"
done
