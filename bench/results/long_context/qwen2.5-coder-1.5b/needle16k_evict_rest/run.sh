#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 16K, seed 0 (the needle16k_* prompts): the depths needle16k_evict
# did not reach (1, 0.25, 0.75) for the same settings: SnapKV at a budget of 256, StreamingLLM and
# H2O at 1,024, interleaved per depth.
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle16k_evict_rest/run.sh
exec bench/needle_batch.sh models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf 16384 0 "1 0.25 0.75" "snapkv256 streaming1024 h2o1024" bench/results/long_context/qwen2.5-coder-1.5b/needle16k_evict_rest
