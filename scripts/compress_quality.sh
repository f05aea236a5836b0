#!/usr/bin/env bash
# compress_quality.sh — the quality rows of docs/COMPRESSION.md ("Structural compression"):
# all-MiniLM-L6-v2 (retrieval on the first 1000 Debian pairs; cosine to the dense model on the
# texts of the first 300 pairs) and
# SmolLM2-135M-Instruct (perplexity on valgrind-faq.txt, windows of 1024 tokens, stride 1024; KL /
# top-1 over 2048 tokens and greedy agreement on 8 prompts x 32 tokens with the dense float32
# model) for heads pruned 10/25/50 %, FFNs sliced to 75/50/25 % and low-rank
# FFNs at the same parameter counts. JSON per run in OUT (default bench/results/compress).
# minilm-sparse / smollm2-sparse: the same measures for 2:4 and 50 % unstructured sparsity by
# magnitude, Wanda and SparseGPT (`xfmr convert --sparsity`, calibrated on the same texts).
# smollm2-head: 2:4 with the LM head 2:4 too (`--sparse-head`; magnitude, Wanda, SparseGPT with
# float values; SparseGPT with int8 / int4 values quantized in its update, with and without the
# head), and each file's size (JSON "file_bytes"). Not part of "all" / "sparse".
#
# usage: scripts/compress_quality.sh [XFMR] [minilm|smollm2|all|minilm-sparse|smollm2-sparse|sparse|smollm2-head]
set -eu
X=${1:-build/xfmr}
which=${2:-all}
OUT=${OUT:-bench/results/compress}
TMP=${TMP_MODELS:-/tmp/xfmr_compress_models}
mkdir -p "$OUT" "$TMP"
E=.cache/eval
cat $E/pg_essays/{gap,hubs,love,mod,pow}.txt >"$TMP/calib_minilm.txt"
SMOL=models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
TEXTS=(--text $E/docs/valgrind-faq.txt --stride 1024)
T="--threads 2"

sparse_variants=(magnitude:2:4 wanda:2:4 sparsegpt:2:4 magnitude:0.5 wanda:0.5 sparsegpt:0.5)
sparsify() { # model out method sparsity calib
  local cal=()
  [ "$3" = magnitude ] || cal=(--calib "$5")
  /usr/bin/time -f "%e s wall, %U s user" "$X" convert -m "$1" --sparsity "$4" --sparsity-method "$3" "${cal[@]}" -o "$2"
}

variants=(heads:0.1 heads:0.25 heads:0.5 ffn:0.75 ffn:0.5 ffn:0.25 lowrank:0.75 lowrank:0.5 lowrank:0.25)

compress() { # model out method frac calib [extra]
  local model=$1 out=$2 method=$3 f=$4 calib=$5; shift 5
  local opt=--ffn-keep
  [ "$method" = heads ] && opt=--heads-prune
  /usr/bin/time -f "%e s wall, %U s user" "$X" compress -m "$model" "$@" --method "$method" $opt "$f" \
    --calib "$calib" -o "$out" $T
}

if [ "$which" = minilm ] || [ "$which" = all ]; then
  M=models/all-MiniLM-L6-v2
  [ -s "$OUT/minilm_dense.json" ] || "$X" eval -m $M --task retrieval --limit 1000 $T --json "$OUT/minilm_dense.json" >/dev/null
  for v in "${variants[@]}"; do
    method=${v%%:*} f=${v#*:}
    [ -s "$OUT/minilm_${method}_$f.json" ] && continue
    f_out="$TMP/minilm_${method}_$f.gguf"
    compress $M "$f_out" "$method" "$f" "$TMP/calib_minilm.txt"
    "$X" eval -m "$f_out" --task retrieval --limit 1000 $T --json "$OUT/minilm_${method}_$f.json" >/dev/null
    "$X" eval -m "$f_out" --ref $M --task agree --limit 300 $T --json "$OUT/minilm_${method}_${f}_agree.json" >/dev/null
    rm -f "$f_out"
  done
fi

if [ "$which" = smollm2 ] || [ "$which" = all ]; then
  REF="$TMP/smollm2_f32.gguf"
  [ -s "$REF" ] || "$X" convert -m $SMOL --weights f32 -o "$REF"
  AG="--kl-tokens 2048 --limit 8 --max-tokens 32"
  [ -s "$OUT/smollm2_dense.json" ] || "$X" eval -m "$REF" --task ppl "${TEXTS[@]}" $T --json "$OUT/smollm2_dense.json" >/dev/null
  for v in "${variants[@]}"; do
    method=${v%%:*} f=${v#*:}
    [ -s "$OUT/smollm2_${method}_$f.json" ] && continue
    f_out="$TMP/smollm2_${method}_$f.gguf"
    compress "$REF" "$f_out" "$method" "$f" $E/adaptive/calib_docs.txt
    "$X" eval -m "$f_out" --ref "$REF" --task ppl,agree "${TEXTS[@]}" $AG $T \
      --json "$OUT/smollm2_${method}_$f.json" >/dev/null
    rm -f "$f_out"
  done
fi

if [ "$which" = minilm-sparse ] || [ "$which" = sparse ]; then
  M=models/all-MiniLM-L6-v2
  [ -s "$OUT/minilm_dense.json" ] || "$X" eval -m $M --task retrieval --limit 1000 $T --json "$OUT/minilm_dense.json" >/dev/null
  for v in "${sparse_variants[@]}"; do
    method=${v%%:*} s=${v#*:} tag=${v//:/}
    [ -s "$OUT/minilm_sparse_${tag}.json" ] && continue
    f_out="$TMP/minilm_sparse_${tag}.gguf"
    sparsify $M "$f_out" "$method" "$s" "$TMP/calib_minilm.txt"
    "$X" eval -m "$f_out" --task retrieval --limit 1000 $T --json "$OUT/minilm_sparse_${tag}.json" >/dev/null
    "$X" eval -m "$f_out" --ref $M --task agree --limit 300 $T --json "$OUT/minilm_sparse_${tag}_agree.json" >/dev/null
    rm -f "$f_out"
  done
fi

if [ "$which" = smollm2-sparse ] || [ "$which" = sparse ]; then
  REF="$TMP/smollm2_f32.gguf"
  [ -s "$REF" ] || "$X" convert -m $SMOL --weights f32 -o "$REF"
  AG="--kl-tokens 2048 --limit 8 --max-tokens 32"
  [ -s "$OUT/smollm2_dense.json" ] || "$X" eval -m "$REF" --task ppl "${TEXTS[@]}" $T --json "$OUT/smollm2_dense.json" >/dev/null
  for v in "${sparse_variants[@]}"; do
    method=${v%%:*} s=${v#*:} tag=${v//:/}
    [ -s "$OUT/smollm2_sparse_${tag}.json" ] && continue
    f_out="$TMP/smollm2_sparse_${tag}.gguf"
    sparsify "$REF" "$f_out" "$method" "$s" $E/adaptive/calib_docs.txt
    "$X" eval -m "$f_out" --ref "$REF" --task ppl,agree "${TEXTS[@]}" $AG $T \
      --json "$OUT/smollm2_sparse_${tag}.json" >/dev/null
    rm -f "$f_out"
  done
fi

if [ "$which" = smollm2-head ]; then
  REF="$TMP/smollm2_f32.gguf"
  [ -s "$REF" ] || "$X" convert -m $SMOL --weights f32 -o "$REF"
  AG="--kl-tokens 2048 --limit 8 --max-tokens 32"
  # method:values:head (values f32 / int8 / int4; head 1 = --sparse-head)
  for v in magnitude:f32:1 wanda:f32:1 sparsegpt:f32:1 sparsegpt:int8:0 sparsegpt:int8:1 sparsegpt:int4:0 sparsegpt:int4:1; do
    IFS=: read -r method w head <<<"$v"
    tag="${method}24_${w}$([ "$head" = 1 ] && echo _head || true)"
    [ -s "$OUT/smollm2_${tag}.json" ] && continue
    f_out="$TMP/smollm2_${tag}.gguf"
    cal=()
    [ "$method" = magnitude ] || cal=(--sparsity-method "$method" --calib $E/adaptive/calib_docs.txt)
    hd=()
    [ "$head" = 1 ] && hd=(--sparse-head)
    /usr/bin/time -f "%e s wall, %U s user" "$X" convert -m "$REF" --sparsity 2:4 --weights "$w" "${cal[@]}" "${hd[@]}" -o "$f_out"
    "$X" eval -m "$f_out" --ref "$REF" --task ppl,agree "${TEXTS[@]}" $AG $T --json "$OUT/smollm2_${tag}.json" >/dev/null
    rm -f "$f_out"
  done
fi
