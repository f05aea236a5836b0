#!/bin/bash
# ppl_dequant.sh — does llama.cpp read the quantized GGUF files xfmr writes as xfmr does?
# For each type: write SmolLM2 in it with `xfmr quantize` (into .cache/qtypes when absent), let
# llama.cpp's own dequantizer (`llama-quantize --allow-requantize FILE OUT F32`) turn the file
# into F32, and compute perplexity by llama-perplexity's method (4 chunks of 512 tokens of
# gpl-3.txt) three times: xfmr on the quantized file, xfmr on llama.cpp's F32 dequantization,
# llama-perplexity on that F32 file. Float weights on both sides, so neither program quantizes
# its activations: what is compared is the weights each program takes the file to hold, plus the
# two forward passes in float. docs/QUANTIZATION.md, "Perplexity in llama.cpp and in xfmr".
# Run from the repository root. Results: one line per run in bench/results/ppl_dequant.txt (overwritten).
# usage: bench/ppl_dequant.sh [LLAMA_BIN_DIR]   (default: .cache/llamacpp/build-*/bin)
set -eu
B=${1:-$(dirname "$(ls .cache/llamacpp/build-*/bin/llama-quantize | head -1)")}
T=.cache/eval/docs/gpl-3.txt
OUT=bench/results/ppl_dequant.txt
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p .cache/qtypes
: > "$OUT"
for t in Q8_0 Q6_K Q5_K Q5_1 Q5_0 Q4_K Q4_0 MXFP4; do
    f=.cache/qtypes/smol-$t.gguf
    [ -f "$f" ] || build/xfmr quantize -m SmolLM2-135M-Instruct --type $t -o "$f" > /dev/null
    "$B/llama-quantize" --allow-requantize "$f" "$TMP/deq.gguf" F32 > "$TMP/lq.log" 2>&1
    echo "$t xfmr-quantized $(build/ppl_chunks "$f" $T 512 --chunks 4 --threads 2)" | tee -a "$OUT"
    echo "$t xfmr-dequantized-by-llama.cpp $(build/ppl_chunks "$TMP/deq.gguf" $T 512 --chunks 4 --threads 2)" | tee -a "$OUT"
    "$B/llama-perplexity" -m "$TMP/deq.gguf" -f $T -c 512 -b 512 --chunks 4 -t 2 > "$TMP/lp.log" 2>&1
    echo "$t llama-perplexity-dequantized $(grep 'Final estimate' "$TMP/lp.log" | sed 's/.*Final/Final/')" | tee -a "$OUT"
    rm -f "$TMP/deq.gguf"
done
