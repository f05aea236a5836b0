#!/bin/sh
# alternate: many (base) int8, u7m int8, fp32 — medians of 5 inside each run, CPU seconds
cd /work/wt-me7
for r in 1 2 3 4 5 6 7; do
  for b in many u7v; do
    printf "%s int8 " $b; XF_ISA=avx2 /work/n18/bench_embed_$b models/all-MiniLM-L6-v2 /tmp/docs100.txt 1 32 5 int8 2>&1 | tail -1 | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['median_cpu_s'])"
  done
  printf "fp32 "; XF_ISA=avx2 /work/n18/bench_embed_many models/all-MiniLM-L6-v2 /tmp/docs100.txt 1 32 5 fp32 2>&1 | tail -1 | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['median_cpu_s'])"
done
