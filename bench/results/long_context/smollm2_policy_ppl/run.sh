#!/bin/sh
# SmolLM2-135M-Instruct perplexity as generation sees it (--task ppl with a KV policy: windows of 1,024
# tokens, each a session fed one token at a time) under each eviction policy and budget, on the first
# 16,000 bytes of two essays (4,988 tokens; the KV-quantization table's text). One thread a process,
# two processes at a time. From the repository root: sh bench/results/long_context/smollm2_policy_ppl/run.sh
set -e
D=bench/results/long_context/smollm2_policy_ppl
T=${TMPDIR:-/tmp}/essays16k
mkdir -p $T
for f in aord apple; do head -c 16000 .cache/eval/pg_essays/$f.txt > $T/$f.txt; done
run() { # name, options
  /usr/bin/time -f "%e wall %U user %S sys %M KB" -o $D/$1.time.txt ${XFMR:-build/xfmr} eval \
    -m models/SmolLM2-135M-Instruct --task ppl --text $T/ --window 1024 --threads 1 --json $D/$1.json $2 \
    > $D/$1.txt 2> $D/$1.err
}
run dense "--decode-ppl" & run streaming256 "--kv-policy streaming --kv-budget 256"; wait
run streaming512 "--kv-policy streaming --kv-budget 512" & run h2o256 "--kv-policy h2o --kv-budget 256"; wait
run h2o512 "--kv-policy h2o --kv-budget 512" & run snapkv256 "--kv-policy snapkv --kv-budget 256"; wait
run snapkv512 "--kv-policy snapkv --kv-budget 512"
# (part 1 ran with 93cd0bc: its snapkv rows predate the sinks of 6ff8684; with a later build they are the _sinks rows)
# 2. SnapKV with the sinks (6ff8684), and every setting with each window's first 768 tokens read as a
#    prompt (--ppl-prompt 768, a0e17d7): the prompt compressed or evicted, the last 256 tokens scored.
run snapkv256_sinks "--kv-policy snapkv --kv-budget 256" & run snapkv512_sinks "--kv-policy snapkv --kv-budget 512"; wait
P="--ppl-prompt 768"
run p768_dense "$P" & run p768_streaming256 "$P --kv-policy streaming --kv-budget 256"; wait
run p768_streaming512 "$P --kv-policy streaming --kv-budget 512" & run p768_h2o256 "$P --kv-policy h2o --kv-budget 256"; wait
run p768_h2o512 "$P --kv-policy h2o --kv-budget 512" & run p768_snapkv256 "$P --kv-policy snapkv --kv-budget 256"; wait
run p768_snapkv512 "$P --kv-policy snapkv --kv-budget 512"
# 3. SnapKV per key/value head (--kv-policy snapkv-head, 4b5dc3d) with the prompt of part 2.
run p768_snapkvhead256 "$P --kv-policy snapkv-head --kv-budget 256"
run p768_snapkvhead512 "$P --kv-policy snapkv-head --kv-budget 512"
# 4. H2O per key/value head (--kv-policy h2o-head, 35aa8bf): fed one token at a time (as part 1) and
#    with the prompt of part 2.
run h2ohead256 "--kv-policy h2o-head --kv-budget 256"
run h2ohead512 "--kv-policy h2o-head --kv-budget 512"
run p768_h2ohead256 "$P --kv-policy h2o-head --kv-budget 256"
run p768_h2ohead512 "$P --kv-policy h2o-head --kv-budget 512"
