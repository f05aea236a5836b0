#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 4K, seed 0 (the needle4k prompts): SnapKV with keys chosen per key/value
# head (--kv-policy snapkv-head) at budgets 256 and 512, five depths interleaved; the layer-wise snapkv
# rows at the same budgets are in ../needle4k_budgets.
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle4k_snapkv_head/run.sh
exec bench/needle_batch.sh models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf 4096 0 "0.5 0.25 0.75 0 1" "snapkv-head256 snapkv-head512" bench/results/long_context/qwen2.5-coder-1.5b/needle4k_snapkv_head
