#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 4K, seed 1 (a second needle: Melbourne / Foxglove Hill), the middle
# depths, dense against SnapKV 512 (the smallest budget that kept the seed-0 needle at every depth)
# and the q4 cache; 2 threads, one depth per process, settings interleaved per depth. From the
# repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle4k_seed1/run.sh
M=models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
D=bench/results/long_context/qwen2.5-coder-1.5b/needle4k_seed1
P=${TMPDIR:-/tmp}/needle4k_seed1_prompts
mkdir -p "$P"
for depth in 0.5 0.25 0.75; do
  for s in dense snapkv512 kvq4; do
    case $s in
      dense) opt= ;;
      snapkv512) opt="--kv-policy snapkv --kv-budget 512" ;;
      kvq4) opt="--kv-type q4" ;;
    esac
    /usr/bin/time -f "%e wall %U user %S sys %M KB" -o "$D/${s}_d$depth.time.txt" \
      ${XFMR:-build/xfmr} eval -m $M --task needle --lengths 4096 --depths $depth --cases 1 --seed 1 --threads 2 \
      --json "$D/${s}_d$depth.json" --save-prompts "$P/${s}_d$depth.jsonl" $opt > /dev/null 2> "$D/${s}_d$depth.err" || echo "$s $depth failed"
  done
done
