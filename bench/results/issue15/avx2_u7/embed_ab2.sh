#!/bin/bash
# usage: embed_ab2.sh ROUNDS ; interleaved: fp32, int8 (7-bit), int8 exact; XF_ISA=avx2, 1 thread, docs100
M=models/all-MiniLM-L6-v2
for r in $(seq $1); do
  for c in "fp32 0" "int8 0" "int8 1"; do set -- $c
    s=$(XF_I8_EXACT=$2 XF_ISA=avx2 build/bench_embed $M docs100.txt 1 32 1 $1 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["median_cpu_s"])')
    echo "$r $1 exact=$2 $s"
  done
done
