#!/bin/sh
# The byte layout of the K-quant int8 GEMM (Q4_K / Q5_K on vpdpbusd / vpmaddubsw), before and after,
# on the 2-core Xeon VM: OLD = a build of 7a0a690 (the int16 layout everywhere) with this commit's
# bench_qgemv.c, NEW = this commit. Run from the repository root on an idle machine:
#   OLD_QGEMV=/tmp/oldbuild/bench_qgemv OLD_DECODE=/work/bin25/bench_decode_old sh bench/results/qgemm_q8/bytes/run.sh
set -eu
D=bench/results/qgemm_q8/bytes
M=models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
LB=$(ls .cache/llamacpp/build-*/bin/llama-bench | head -n 1)
pp() { python3 -c 'import json,sys; print(json.load(sys.stdin)["prefill_tok_s"])'; }
: > $D/kernel.jsonl  # (the kernel runs below: --runs 7)
: > $D/model.txt
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), xfmr $(git rev-parse --short HEAD)" | tee -a $D/model.txt
# 1. the GEMM alone: Qwen2.5-1.5B's FFN and attention shapes, 512 activation rows, every ISA, 1 thread
for r in 1 2; do
  for b in old new; do
    bin=$OLD_QGEMV; [ $b = new ] && bin=build/bench_qgemv
    $bin --gemm 8960x1536,1536x8960,1536x1536 --types Q4_K,Q5_K --runs 7 --prompt 512 --threads 1 |
      sed "s/^{/{\"build\": \"$b\", \"round\": $r, /" >> $D/kernel.jsonl
  done
done
# 2. the model's prefill (512 tokens, --weights int8) against llama.cpp (pp512, default repacking), rounds
for r in 1 2 3; do
  for t in 1 2; do
    l=$($LB -m $M -p 512 -n 0 -t $t -r 1 -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["avg_ts"])')
    o=$($OLD_DECODE $M --prompt 512 --gen 1 --threads $t --runs 1 --weights int8 2>/dev/null | pp)
    n=$(build/bench_decode $M --prompt 512 --gen 1 --threads $t --runs 1 --weights int8 2>/dev/null | pp)
    echo "round=$r threads=$t isa=best llamacpp=$l old=$o new=$n" | tee -a $D/model.txt
  done
  o=$(XF_ISA=avx2 $OLD_DECODE $M --prompt 512 --gen 1 --threads 1 --runs 1 --weights int8 2>/dev/null | pp)
  n=$(XF_ISA=avx2 build/bench_decode $M --prompt 512 --gen 1 --threads 1 --runs 1 --weights int8 2>/dev/null | pp)
  echo "round=$r threads=1 isa=avx2 llamacpp=- old=$o new=$n" | tee -a $D/model.txt
done
# 3. the new build's int8 prefill against its float one (--weights stored), rounds
for r in 1 2 3; do
  for t in 1 2; do
    s=$(build/bench_decode $M --prompt 512 --gen 1 --threads $t --runs 1 --weights stored 2>/dev/null | pp)
    n=$(build/bench_decode $M --prompt 512 --gen 1 --threads $t --runs 1 --weights int8 2>/dev/null | pp)
    echo "round=$r threads=$t stored=$s int8=$n"
  done
done > $D/model_vs_stored.txt
