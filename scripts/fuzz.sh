#!/usr/bin/env bash
# fuzz.sh — build (if needed) and run xfmr's libFuzzer harnesses, each for a chosen time, from
# the committed seed corpora (fuzz/corpus/<harness>/) plus the full-size files of tests/data.
#
# usage: scripts/fuzz.sh [--build-dir DIR] [--jobs N] [SECONDS] [HARNESS...]
#   SECONDS   per harness (default 60); HARNESS names like fuzz_gguf (default: all of them)
# Findings: crash-*/leak-*/timeout-*/oom-* files under DIR/fuzz-out/<harness>/; new corpus
# entries under DIR/fuzz-corpus/<harness>/ (not committed). A summary line per harness (runs,
# coverage, seconds, result) goes to DIR/fuzz-out/summary.txt. Exit status 1 if any harness
# found something. Needs clang with libFuzzer (Debian: clang, libclang-rt-dev).
# Environment: FUZZ_NICE (default 19) runs the fuzzers under nice; FUZZ_ARGS adds libFuzzer flags.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
jobs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) break ;;
  esac
done
secs=${1:-60}
[ $# -gt 0 ] && shift
all=(fuzz_safetensors fuzz_gguf fuzz_hf_config fuzz_tokenizer_json fuzz_tokenize fuzz_chat_template fuzz_jinja fuzz_cli fuzz_model
  fuzz_html_chunk fuzz_serve)
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=${CC:-clang} cmake -S "$root" -B "$build" -DXF_FUZZ=ON -DXF_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "$jobs" --target "${harnesses[@]}" >/dev/null

# Per-harness input size caps and extra seed folders (full-size real files, not committed).
declare -A maxlen=([fuzz_safetensors]=65536 [fuzz_gguf]=262144 [fuzz_hf_config]=16384
  [fuzz_tokenizer_json]=262144 [fuzz_tokenize]=4096 [fuzz_chat_template]=16384 [fuzz_jinja]=32768 [fuzz_cli]=8192 [fuzz_model]=262144
  [fuzz_html_chunk]=65536 [fuzz_serve]=8192)
extra_seeds() { # harness -> folder of extra seeds (printed), built from tests/data
  local h=$1 d="$build/fuzz-seeds/$1"
  rm -rf "$d" && mkdir -p "$d"
  case "$h" in
    fuzz_safetensors) for m in "$root"/tests/data/tiny/*/; do
        head -c 65536 "$m/model.safetensors" >"$d/$(basename "$m").safetensors"; done ;;
    fuzz_gguf) cp "$root/tests/data/spm_tokenizer.gguf" "$root/tests/data/tiny/llama_q.gguf" "$d/" ;;
    fuzz_model) for m in llama qwen2 mistral; do
        { printf '\001'; cat "$root/tests/data/tiny/$m/model.safetensors"; } >"$d/$m.st"; done ;;
    fuzz_tokenizer_json) cp "$root/tests/data/spm_tokenizer.json" "$root/tests/data/spm_meta_tokenizer.json" "$d/" ;;
    fuzz_jinja) for f in "$root"/.cache/chat_templates/*.jinja; do # fetched templates, when present
        [ -f "$f" ] && cp "$f" "$d/"; done ;;
    fuzz_tokenize) i=0; while IFS= read -r line && [ $i -lt 200 ]; do
        printf '\\%03o%s' $((i % 5)) "$line" >"$d/line$i"; i=$((i + 1)); done <"$root/tests/data/corpus.txt" ;;
  esac
  echo "$d"
}

mkdir -p "$build/fuzz-out"
summary="$build/fuzz-out/summary.txt"
: >"$summary"
status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for h in "${harnesses[@]}"; do
  bin="$build/fuzz/$h"
  out="$build/fuzz-out/$h"
  corpus="$build/fuzz-corpus/$h"
  mkdir -p "$out" "$corpus"
  rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* "$out"/slow-unit-* # earlier runs' findings
  seeds=$(extra_seeds "$h")
  dict=()
  case "$h" in
    fuzz_safetensors | fuzz_hf_config | fuzz_tokenizer_json | fuzz_serve) dict=(-dict="$root/fuzz/dict/json.dict") ;;
    fuzz_gguf) dict=(-dict="$root/fuzz/dict/gguf.dict") ;;
    fuzz_chat_template) dict=(-dict="$root/fuzz/dict/chat.dict") ;;
    fuzz_jinja) dict=(-dict="$root/fuzz/dict/jinja.dict") ;;
    fuzz_html_chunk) dict=(-dict="$root/fuzz/dict/html.dict") ;;
  esac
  log="$out/log.txt"
  echo "== $h: ${secs}s"
  set +e
  # -rss_limit_mb: an input that makes the parser allocate gigabytes is a finding (an
  # unbounded allocation), as is one that runs 10 s (-timeout).
  (cd "$out" && nice -n "${FUZZ_NICE:-19}" "$bin" -max_total_time="$secs" -max_len="${maxlen[$h]:-65536}" \
     -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
     -artifact_prefix="$out/" "${dict[@]}" ${FUZZ_ARGS:-} \
     "$corpus" "$root/fuzz/corpus/$h" "$seeds") >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  found=$(ls "$out" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
  if [ $rc -ne 0 ] || [ -n "$(echo "$found" | grep -v '^slow-unit' || true)" ]; then
    result="FAILED (rc $rc): $(echo $found) — see $log"
    status=1
  else
    result="ok"
  fi
  line="$h: ${runs:-?} runs, cov ${cov:-?}, ft ${ft:-?}, ${secs}s: $result"
  echo "$line" | tee -a "$summary"
done
exit $status
