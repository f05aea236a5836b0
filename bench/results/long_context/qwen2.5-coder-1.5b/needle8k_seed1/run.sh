#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 8K, seed 1 (a second needle and haystack offset per depth; seed 0 is
# the runs one level up), 2 threads, one depth per process, the settings interleaved per depth.
# Run from the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle8k_seed1/run.sh
M=models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
D=bench/results/long_context/qwen2.5-coder-1.5b/needle8k_seed1
P=${TMPDIR:-/tmp}/needle8k_seed1_prompts
mkdir -p "$P"
for depth in 0.5 0.25 0.75 0 1; do
  for s in dense snapkv1024 vslash02 kvq8 kvq4; do
    case $s in
      dense) opt= ;;
      snapkv1024) opt="--kv-policy snapkv --kv-budget 1024" ;;
      vslash02) opt="--vertical-slash 0.2" ;;
      kvq8) opt="--kv-type q8" ;;
      kvq4) opt="--kv-type q4" ;;
    esac
    /usr/bin/time -f "%e wall %U user %S sys %M KB" -o "$D/${s}_d$depth.time.txt" \
      ${XFMR:-build/xfmr} eval -m $M --task needle --lengths 8192 --depths $depth --cases 1 --seed 1 --threads 2 \
      --json "$D/${s}_d$depth.json" --save-prompts "$P/${s}_d$depth.jsonl" $opt > /dev/null 2> "$D/${s}_d$depth.err" || echo "$s $depth failed"
  done
done
