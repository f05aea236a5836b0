#!/usr/bin/env bash
# test_llama_vocab_cli.sh — llama.cpp's tokenizer test vectors through the command line:
# `xfmr tokenize -m ggml-vocab-NAME.gguf --no-special --null TEXTS` must print, for every text of
# NAME.gguf.inp, the ids of the matching line of NAME.gguf.out (see tests/test_llama_vocab.c for
# the format; the texts contain newlines, so they are passed NUL-separated).
# usage: test_llama_vocab_cli.sh XFMR [VOCAB_DIR]   (exit 77 = skipped: vocabularies not fetched)
set -uo pipefail
xfmr=$1
dir=${2:-${XFMR_LLAMA_VOCAB_DIR:-$(cd "$(dirname "$0")/.." && pwd)/.cache/llama-vocab}}
if [ ! -f "$dir/.fetched" ]; then
  echo "SKIP: llama.cpp's vocabularies are not in $dir (run scripts/fetch_llama_vocabs.sh)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
# usage errors of the two options this test relies on: exit 2 with a message
for args in "--null --text x" "--no-special --text x --pair y"; do
  # shellcheck disable=SC2086
  "$xfmr" tokenize -m "$dir/ggml-vocab-gpt-2.gguf" $args >/dev/null 2>"$tmp/err"
  rc=$?
  if [ $rc -eq 2 ] && [ -s "$tmp/err" ]; then pass=$((pass + 1)); else
    echo "FAIL: xfmr tokenize $args: exit $rc (want 2 and a message)"
    fail=$((fail + 1))
  fi
done
for inp in "$dir"/ggml-vocab-*.gguf.inp; do
  gguf=${inp%.inp}
  name=$(basename "$gguf" .gguf)
  name=${name#ggml-vocab-}
  # the texts, NUL-terminated instead of followed by the separator line
  perl -0777 -pe 's/\n__ggml_vocab_test__\n/\0/g' "$inp" >"$tmp/texts"
  sed 's/^ *//; s/ *$//' "${gguf}.out" >"$tmp/want"
  if ! "$xfmr" tokenize -m "$gguf" --no-special --null "$tmp/texts" >"$tmp/got" 2>"$tmp/err"; then
    echo "FAIL $name: xfmr tokenize exited with an error: $(head -c 300 "$tmp/err")"
    fail=$((fail + 1))
    continue
  fi
  n=$(wc -l <"$tmp/want")
  if cmp -s "$tmp/want" "$tmp/got"; then
    echo "$name: $n/$n texts"
    pass=$((pass + 1))
  else
    bad=$(diff "$tmp/want" "$tmp/got" | grep -c '^<')
    echo "FAIL $name: $bad of $n texts differ"
    diff "$tmp/want" "$tmp/got" | head -6
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
