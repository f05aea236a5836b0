#!/bin/bash
# ppl_match.sh — the same quantized GGUF file, perplexity in llama.cpp and in xfmr, on a text long
# enough that rounding noise does not decide the comparison (issue 11: "a type xfmr writes in a
# standard GGUF type must give the same perplexity in llama.cpp as in xfmr, within 0.1 %").
# For each file xfmr writes (every standard type, the calibrated Q4_0 and a --target-bpw mixture;
# into .cache/qtypes when absent), perplexity by llama-perplexity's method (non-overlapping chunks
# of 512 tokens, the second half of each scored) on the first CHUNKS chunks of TEXT:
# The columns (COLS, default "lp xf a8", STEPS=1 adds f16):
#   lp      llama-perplexity, its defaults: 8-bit activations for quantized weights, F16 KV cache,
#           batch 512, flash attention "auto" (on for the CPU: K and V read from the F16 cache into
#           float tiles, query and softmax weights in float)
#   lp-nofa llama-perplexity -fa off: the unfused attention, whose two products round the query
#           and the softmax weights to F16 (ggml converts the float operand to its F16 partner's type)
#   xf      xfmr as it runs (build/ppl_chunks: whole-chunk forward, float activations)
#   a8      xfmr with llama.cpp's numerics for the weights (--weights a8: every product of GGUF
#           blocks with 8-bit activations in ggml's formats, whole chunk, attention in float)
#   f16     a8 with an F16 KV cache as llama.cpp keeps it (--steps 256 --weights a8 --kv f16: the
#           first half in one call, then token by token, bitwise what token by token gives)
# docs/QUANTIZATION.md, "Perplexity in llama.cpp and in xfmr". Run from the repository root.
# usage: bench/ppl_match.sh [TEXT] [CHUNKS] [OUT]
#   TEXT default: the 49 Paul Graham essays of .cache/eval/pg_essays concatenated in name order
#   CHUNKS default 40 (10,200 scored tokens); OUT default bench/results/ppl_match.txt (overwritten)
# Environment: LLAMA_BIN (default .cache/llamacpp/build-*/bin), LP_ARGS (extra llama-perplexity
# arguments, e.g. --no-repack where its AMX repacking dies with SIGILL), XFMR_BIN (default build),
# TYPES (default: every file below), COLS (columns, above), FILES (GGUF files to compare instead
# of SmolLM2's: e.g. other models xfmr quantized; TYPES is then ignored). The first column is the
# reference the others are given against in percent.
set -eu
B=${LLAMA_BIN:-$(dirname "$(ls .cache/llamacpp/build-*/bin/llama-perplexity | head -1)")}
X=${XFMR_BIN:-build}
CHUNKS=${2:-40}
OUT=${3:-bench/results/ppl_match.txt}
MODEL=SmolLM2-135M-Instruct
CALIB=.cache/eval/docs/python-policy.txt
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if [ -n "${1:-}" ]; then T=$1; else
    T=$TMP/pg.txt
    ls .cache/eval/pg_essays/*.txt > /dev/null  # fails (set -e) when the essays are not fetched
    cat $(ls .cache/eval/pg_essays/*.txt | LC_ALL=C sort) > "$T"
fi
mkdir -p .cache/qtypes "$(dirname "$OUT")"
: > "$OUT"
echo "# $(date -u +%F) xfmr $(git rev-parse --short HEAD) llama.cpp $B, $CHUNKS chunks of 512, $(basename "$T")" | tee -a "$OUT"
echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), threads 2, LP_ARGS='${LP_ARGS:-}'" | tee -a "$OUT"
ppl() { sed -n 's/.*PPL = \([0-9.]*\).*/\1/p' | tail -1; }
for t in ${FILES:-${TYPES:-Q8_0 Q6_K Q5_K Q5_1 Q5_0 Q4_K Q4_1 Q4_0 Q4_0-calib MXFP4 mix-4.5}}; do
    f=.cache/qtypes/smol-$t.gguf
    if [ -n "${FILES:-}" ]; then f=$t; t=$(basename "$t" .gguf)
    elif [ ! -f "$f" ]; then
        case $t in
            Q4_0-calib) "$X/xfmr" quantize -m $MODEL --type Q4_0 --calib $CALIB -o "$f" > /dev/null ;;
            mix-4.5) "$X/xfmr" quantize -m $MODEL --target-bpw 4.5 --calib $CALIB -o "$f" > /dev/null ;;
            *) "$X/xfmr" quantize -m $MODEL --type $t -o "$f" > /dev/null ;;
        esac
    fi
    line=$(printf '%-10s' "$t") ref=
    for c in ${COLS:-lp xf a8 $([ "${STEPS:-0}" = 1 ] && echo f16)}; do
        # shellcheck disable=SC2086 # LP_ARGS is a list
        case $c in
            lp) v=$("$B/llama-perplexity" -m "$f" -f "$T" -c 512 -b 512 --chunks "$CHUNKS" -t 2 ${LP_ARGS:-} 2>&1 | ppl) ;;
            lp-nofa) v=$("$B/llama-perplexity" -m "$f" -f "$T" -c 512 -b 512 --chunks "$CHUNKS" -t 2 -fa off ${LP_ARGS:-} 2>&1 | ppl) ;;
            xf) v=$("$X/ppl_chunks" "$f" "$T" 512 --chunks "$CHUNKS" --threads 2 | ppl) ;;
            a8) v=$("$X/ppl_chunks" "$f" "$T" 512 --chunks "$CHUNKS" --threads 2 --weights a8 | ppl) ;;
            f16) v=$("$X/ppl_chunks" "$f" "$T" 512 --chunks "$CHUNKS" --threads 2 --steps 256 --weights a8 --kv f16 | ppl) ;;
            *) echo "ppl_match: unknown column $c (lp lp-nofa xf a8 f16)" >&2; exit 2 ;;
        esac
        [ -n "$v" ] || { echo "ppl_match: $c gave no perplexity for $f" >&2; exit 1; }
        if [ -z "$ref" ]; then ref=$v line="$line  $c $v"
        else line="$line  $c $v ($(awk -v a="$v" -v b="$ref" 'BEGIN { printf "%+.3f %%", 100 * (a / b - 1) }'))"; fi
    done
    echo "$line" | tee -a "$OUT"
done
