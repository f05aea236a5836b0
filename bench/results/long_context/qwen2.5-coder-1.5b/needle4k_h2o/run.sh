#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 4K, seed 0 (the needle4k prompts), H2O at a 1,024-token budget, five depths,
# with a same-sitting dense anchor at depth 0.5 (policy weights by xf_attention_received, 93cd0bc).
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle4k_h2o/run.sh
set -e
M=models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
D=bench/results/long_context/qwen2.5-coder-1.5b/needle4k_h2o
bench/needle_batch.sh $M 4096 0 "0.5" "h2o1024 dense" $D
bench/needle_batch.sh $M 4096 0 "0.25 0.75 0 1" "h2o1024" $D
# then the budgets 512 and 2,048, interleaved per depth
bench/needle_batch.sh $M 4096 0 "0.5 0.25 0.75 0 1" "h2o512 h2o2048" $D
