#!/usr/bin/env bash
# valgrind.sh — whole runs of the xfmr CLI under valgrind memcheck: embeddings with the tiny
# BERT (tests/data/tiny/bert) on a few lines, tokenization, generation of a few tokens with the
# tiny llama and gpt2 (tests/data/tiny); with --full also all-MiniLM-L6-v2 embeddings and a
# SmolLM2 (GGUF, Q4_1) chat turn when those models are in models/ (~10 min on 2 loaded cores). Any memcheck error or leak fails the run (--error-exitcode=1,
# --errors-for-leak-kinds=definite,indirect,possible).
#
# usage: scripts/valgrind.sh [--full] [BUILD_DIR]   (default build; a build without sanitizers)
# The tiny runs are the ctest "valgrind" (label "valgrind"; skip with ctest -LE valgrind).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
full=0
if [ "${1:-}" = "--full" ]; then
  full=1
  shift
fi
build=${1:-$root/build}
X="$build/xfmr"
[ -x "$X" ] || { echo "valgrind.sh: no $X (build first)"; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'hello world\nThe quick brown fox jumps over the lazy dog.\n\xff invalid \xc3\n\n' >"$tmp/in.txt"
vg=(valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes)
n=0
run() { # description, command...
  local what=$1
  shift
  echo "== valgrind: $what"
  if ! "${vg[@]}" "$@" >"$tmp/out" 2>"$tmp/err"; then
    cat "$tmp/err"
    echo "valgrind.sh: FAILED: $what"
    exit 1
  fi
  n=$((n + 1))
}
run "embed (tiny bert)" "$X" embed -m "$root/tests/data/tiny/bert" --threads 2 "$tmp/in.txt"
run "tokenize (tiny bert)" "$X" tokenize -m "$root/tests/data/tiny/bert" "$tmp/in.txt"
run "generate (tiny llama)" "$X" generate -m "$root/tests/data/tiny/llama" --threads 2 --max-tokens 6 \
  --temperature 0.8 --top-k 20 --seed 3 -p "hello world"
run "generate (tiny quantized llama, GGUF)" "$X" generate -m "$root/tests/data/tiny/llama_q.gguf" --max-tokens 6 \
  --seed 1 -p "hello world"
run "generate (tiny gpt2)" "$X" generate -m "$root/tests/data/tiny/gpt2" --threads 2 --max-tokens 6 -p "hello"
if [ $full = 1 ] && [ -f "$root/models/all-MiniLM-L6-v2/config.json" ]; then
  run "embed (all-MiniLM-L6-v2)" "$X" embed -m "$root/models/all-MiniLM-L6-v2" --threads 2 "$tmp/in.txt"
fi
smol=$(ls "$root"/models/SmolLM2-135M-Instruct/*.gguf 2>/dev/null | head -1 || true)
if [ $full = 1 ] && [ -n "$smol" ]; then
  run "generate (SmolLM2 GGUF, chat)" "$X" generate -m "$smol" --threads 2 --max-tokens 4 --chat -p "Hi"
fi
echo "valgrind.sh: $n runs clean"
