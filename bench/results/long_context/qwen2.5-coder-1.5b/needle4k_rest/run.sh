#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 4K, seed 0 (the needle4k prompts): the eviction budgets not run before,
# StreamingLLM at 256 / 512 / 2,048 and H2O at 256, five depths interleaved, with a same-sitting dense
# anchor at depth 0.5 (for the cost).
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle4k_rest/run.sh
set -e
M=models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
D=bench/results/long_context/qwen2.5-coder-1.5b/needle4k_rest
bench/needle_batch.sh $M 4096 0 "0.5" "dense streaming256 streaming512 streaming2048 h2o256" $D
bench/needle_batch.sh $M 4096 0 "0.25 0.75 0 1" "streaming256 streaming512 streaming2048 h2o256" $D
