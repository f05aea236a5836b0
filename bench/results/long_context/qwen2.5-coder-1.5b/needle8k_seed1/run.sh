#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 8K, seed 1 (Melbourne / Foxglove Hill); stopped after depth 0.5 and dense at 0.25.
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle8k_seed1/run.sh
exec bench/needle_batch.sh models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf 8192 1 "0.5 0.25 0.75 0 1" "dense snapkv1024 vslash02 kvq8 kvq4" bench/results/long_context/qwen2.5-coder-1.5b/needle8k_seed1
