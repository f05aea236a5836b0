#!/bin/sh
# Qwen2.5-Coder-1.5B needle at 4K, seed 0 (the needle4k prompts): H2O with heavy hitters chosen per
# key/value head (--kv-policy h2o-head, 35aa8bf) at budgets 1,024 and 2,048, five depths interleaved;
# the layer-wise h2o rows at the same budgets are in ../needle4k_h2o.
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/needle4k_h2o_head/run.sh
exec bench/needle_batch.sh models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf 4096 0 "0.5 0.25 0.75 0 1" "h2o-head1024 h2o-head2048" bench/results/long_context/qwen2.5-coder-1.5b/needle4k_h2o_head
