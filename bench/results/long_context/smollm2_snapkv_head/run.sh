#!/bin/sh
# SmolLM2-135M-Instruct 1K passkeys (five depths, one case each, greedy, chat template): SnapKV per layer
# (snapkv) against SnapKV per key/value head (snapkv-head, 4b5dc3d) at budgets 256, 384 and 512, one
# thread a process. From the repository root: sh bench/results/long_context/smollm2_snapkv_head/run.sh
exec bench/passkey_batch.sh bench/results/long_context/smollm2_snapkv_head "snapkv snapkv-head" "256 384 512"
