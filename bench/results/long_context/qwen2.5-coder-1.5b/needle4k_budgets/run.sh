#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 4K, seed 0 (the needle of the 4K rows one level up: dense, SnapKV
# 1024, q8, vertical-slash 0.2): SnapKV at the other budgets (256 / 512 / 2048), StreamingLLM at
# 1024, and the q4 (KIVI) cache; 2 threads, one depth per process, the settings interleaved per
# depth. From the repository root:
#   sh bench/results/long_context/qwen2.5-coder-1.5b/needle4k_budgets/run.sh
M=models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
D=bench/results/long_context/qwen2.5-coder-1.5b/needle4k_budgets
P=${TMPDIR:-/tmp}/needle4k_budgets_prompts
mkdir -p "$P"
for depth in 0.5 0.25 0.75 0 1; do
  for s in snapkv256 snapkv512 snapkv2048 streaming1024 kvq4; do
    case $s in
      snapkv*) opt="--kv-policy snapkv --kv-budget ${s#snapkv}" ;;
      streaming*) opt="--kv-policy streaming --kv-budget ${s#streaming}" ;;
      kvq4) opt="--kv-type q4" ;;
    esac
    /usr/bin/time -f "%e wall %U user %S sys %M KB" -o "$D/${s}_d$depth.time.txt" \
      ${XFMR:-build/xfmr} eval -m $M --task needle --lengths 4096 --depths $depth --cases 1 --seed 0 --threads 2 \
      --json "$D/${s}_d$depth.json" --save-prompts "$P/${s}_d$depth.jsonl" $opt > /dev/null 2> "$D/${s}_d$depth.err" || echo "$s $depth failed"
  done
done
