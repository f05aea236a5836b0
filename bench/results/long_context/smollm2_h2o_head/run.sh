#!/bin/sh
# SmolLM2-135M-Instruct 1K passkeys (five depths, one case each, greedy, chat template): H2O per layer
# (h2o) against H2O per key/value head (h2o-head, 35aa8bf) at budgets 256, 384 and 512, one
# thread a process. From the repository root: sh bench/results/long_context/smollm2_h2o_head/run.sh
exec bench/passkey_batch.sh bench/results/long_context/smollm2_h2o_head "h2o h2o-head" "256 384 512"
