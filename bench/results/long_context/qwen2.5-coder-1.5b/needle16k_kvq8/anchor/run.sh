#!/bin/sh
# Same-session anchor for needle16k_kvq8: dense (F32 cache) then q8 at depth 0.5, seed 0, right after the five q8 depths.
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle16k_kvq8/anchor/run.sh
exec bench/needle_batch.sh models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf 16384 0 "0.5" "dense kvq8" bench/results/long_context/qwen2.5-coder-1.5b/needle16k_kvq8/anchor
