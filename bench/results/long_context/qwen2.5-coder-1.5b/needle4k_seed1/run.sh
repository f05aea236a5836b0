#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 4K, seed 1, middle depths: dense, SnapKV 512, the q4 cache.
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle4k_seed1/run.sh
exec bench/needle_batch.sh models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf 4096 1 "0.5 0.25 0.75" "dense snapkv512 kvq4" bench/results/long_context/qwen2.5-coder-1.5b/needle4k_seed1
