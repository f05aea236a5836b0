#!/bin/bash
S=2048x384x384,2048x1536x384,2048x384x1536
run() { echo -n "$1: "; env $2 $3 --kind $4 --threads 1 --runs 3 --shapes $S 2>&1 | grep -o '"gflops_cpu": [0-9.]*' | sed 's/"gflops_cpu": //' | tr '\n' ' '; echo; }
for r in 1 2; do
 run "fp32 avx2" "XF_ISA=avx2" build/bench_gemm f32p
 run "old i8 avx2 (exact)" "XF_ISA=avx2" OLD/build/bench_gemm i8
 run "new i8 avx2 exact" "XF_ISA=avx2 XF_I8_EXACT=1" build/bench_gemm i8
 run "new i8 avx2 7-bit" "XF_ISA=avx2" build/bench_gemm i8
 run "old i8 avx-vnni" "XF_ISA=avxvnni" OLD/build/bench_gemm i8
 run "new i8 avx-vnni" "XF_ISA=avxvnni" build/bench_gemm i8
 run "old i8 avx512-vnni" "XF_ISA=avx512" OLD/build/bench_gemm i8
 run "new i8 avx512-vnni" "XF_ISA=avx512" build/bench_gemm i8
done
