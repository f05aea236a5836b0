#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 16K, seed 0 (the needle16k_* prompts), the 4-bit KIVI cache, five depths.
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle16k_kvq4/run.sh
exec bench/needle_batch.sh models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf 16384 0 "0.5 0.25 0.75 0 1" "kvq4" bench/results/long_context/qwen2.5-coder-1.5b/needle16k_kvq4
