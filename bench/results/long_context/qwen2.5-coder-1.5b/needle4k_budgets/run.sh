#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 4K, seed 0: SnapKV at budgets 256 / 512 / 2048, StreamingLLM 1024, the q4 cache.
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle4k_budgets/run.sh
exec bench/needle_batch.sh models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf 4096 0 "0.5 0.25 0.75 0 1" "snapkv256 snapkv512 snapkv2048 streaming1024 kvq4" bench/results/long_context/qwen2.5-coder-1.5b/needle4k_budgets
