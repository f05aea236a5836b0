#!/bin/sh
# Qwen2.5-Coder-1.5B Q4_K_M, 32 tokens decoded after 16,384 of an essay, 2 threads, --weights int8,
# the q4 cache with the whole-block reader (bf02c11). (A q8 run after it was stopped for the session's
# time; no F32 anchor was run in the same sitting.)
# From the repository root: sh bench/results/long_context/qwen2.5-coder-1.5b/decode16k_readers/run.sh
D=bench/results/long_context/qwen2.5-coder-1.5b/decode16k_readers
M=models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
for t in q4; do
  /usr/bin/time -v -o $D/kv$t.time.txt ${BENCH_DECODE:-build/bench_decode} $M --weights int8 --threads 2 --gen 32 \
    --runs 1 --depths 16384 --text .cache/eval/pg_essays/aord.txt --kv-type $t > $D/kv$t.json 2> $D/kv$t.err
done
