#!/usr/bin/env bash
# test.sh — the whole test suite from a fresh machine: install build dependencies, fetch the
# default models and a PostgreSQL with pgvector, build and run every test, then build and run
# them again under AddressSanitizer + UndefinedBehaviorSanitizer.
#
# Then a fuzz smoke: every libFuzzer harness of fuzz/ for FUZZ_SMOKE_SECONDS (default 20) each.
#
# Every test CI is meant to run must run: XF_REQUIRE_ALL=1 makes a test whose model, tool or data
# is missing fail instead of reporting a skip (exit 77), and a suite whose ctest summary still
# shows a skipped test fails. Each phase prints its wall time; ctest prints each test's.
#
# usage: scripts/test.sh [--no-sanitize] [--no-fuzz]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

t_start=$SECONDS
phase() { echo "== $1 (at $((SECONDS - t_start)) s)"; }
phase "dependencies and models"
scripts/install_deps.sh
scripts/fetch_models.sh all-MiniLM-L6-v2 SmolLM2-135M-Instruct
# Llama 3.x / Gemma chat templates for test_jinja_goldens_fetched (skipped without them).
scripts/fetch_chat_templates.sh || echo "test.sh: chat templates not fetched; test_jinja_goldens_fetched will skip"
# PostgreSQL + pgvector for the search_pg test (tests start and stop their own server).
scripts/fetch_pgvector.sh >/dev/null
# llama.cpp's tokenizer vocabularies and vectors for test_llama_vocab / llama_vocab_cli (skipped without them).
scripts/fetch_llama_vocabs.sh || echo "test.sh: llama.cpp vocabularies not fetched; test_llama_vocab and llama_vocab_cli will skip"
export XF_REQUIRE_ALL=1

run_suite() { # build-dir, extra cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  local log=$dir/ctest.log
  (cd "$dir" && ctest --output-on-failure -j "$jobs") 2>&1 | tee "$log" # a failure ends the script
  if grep -q '\*\*\*Skipped\|Not Run' "$log"; then
    echo "test.sh: tests were skipped or not run in $dir; CI must run them all:" >&2
    grep '\*\*\*Skipped\|Not Run' "$log" >&2
    return 1
  fi
}

phase "tests (Release)"
run_suite build
sanitize=1 fuzz=1
for a in "$@"; do
  case "$a" in
    --no-sanitize) sanitize=0 ;;
    --no-fuzz) fuzz=0 ;;
  esac
done
if [ $sanitize = 1 ]; then
  phase "tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
  # The sanitizer build thins the heavy tests by itself (XF_T_SANITIZED): every 16th golden
  # embedding line (test_embed_golden), the first 5 SmolLM2 greedy prompts; Release runs all.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # llama.cpp's vocabularies: all vectors, every 8th corpus line (all 1,552 in the Release pass).
  export XF_T_VOCAB_STRIDE=8
  run_suite build-asan -DXF_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
if [ $fuzz = 1 ]; then
  phase "fuzz smoke (libFuzzer + ASan + UBSan, ${FUZZ_SMOKE_SECONDS:-20} s per harness)"
  unset ASAN_OPTIONS UBSAN_OPTIONS
  FUZZ_NICE=0 scripts/fuzz.sh --jobs "$jobs" "${FUZZ_SMOKE_SECONDS:-20}"
fi
phase "done"
