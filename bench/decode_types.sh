#!/bin/bash
# decode_types.sh — decode and prefill of every GGUF type against llama.cpp, same run: SmolLM2 in
# each type xfmr writes (made with `xfmr quantize` into .cache/qtypes when absent), the fetched Q4_1,
# llama-quantize's Q4_K_M (.cache/q4km) and Qwen2.5-Coder-1.5B Q4_K_M when present; 1 and 2
# threads; xfmr as stored and with --weights int8 (bench/bench_decode.py). Run from the repository
# root on an idle machine. Results: bench/results/decode_types/<file>_t<T>.{json,md}.
# usage: bench/decode_types.sh [LLAMA_BENCH]   (default: .cache/llamacpp/build-*/bin/llama-bench)
#        ONLY=qwen bench/decode_types.sh        (Qwen2.5-Coder-1.5B Q4_K_M alone, 1 and 2 threads)
set -eu
LB=${1:-$(ls .cache/llamacpp/build-*/bin/llama-bench | head -1)}
OUT=bench/results/decode_types
mkdir -p "$OUT" .cache/qtypes
ONLY=${ONLY:-all}
for t in Q8_0 Q6_K Q5_K Q5_1 Q5_0 Q4_K Q4_0 MXFP4; do
    [ "$ONLY" = qwen ] && break
    [ -f .cache/qtypes/smol-$t.gguf ] || build/xfmr quantize -m SmolLM2-135M-Instruct --type $t -o .cache/qtypes/smol-$t.gguf
done
run() { # FILE THREADS PROMPT
    local n; n=$(basename "$1" .gguf)
    python3 bench/bench_decode.py --model "$1" --threads "$2" --runs 3 --prompt "$3" --gen 64 \
        --llama-bench "$LB" --bin build/bench_decode > "$OUT/${n}_t$2.md"
    cp "bench/results/decode_t$2.json" "$OUT/${n}_t$2.json"
    echo "$n, $2 thread(s): done (load $(cut -d' ' -f1 /proc/loadavg))"
}
Q=models/Qwen2.5-Coder-1.5B-Instruct/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
for T in 1 2; do [ -f "$Q" ] && run "$Q" $T 128; done
[ "$ONLY" = qwen ] && exit 0
for T in 1 2; do
    for f in models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf .cache/q4km/SmolLM2-135M-Instruct.Q4_K_M.gguf \
             .cache/qtypes/smol-*.gguf; do
        [ -f "$f" ] && run "$f" $T 256
    done
done
