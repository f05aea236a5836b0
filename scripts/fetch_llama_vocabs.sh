#!/usr/bin/env bash
# fetch_llama_vocabs.sh — llama.cpp's tokenizer test vocabularies into .cache/llama-vocab
# (git-ignored, ~75 MB), for tests/test_llama_vocab.c.
#
# llama.cpp keeps, in its models/ folder, vocabulary-only GGUF files (ggml-vocab-NAME.gguf) and
# for most of them test vectors generated with Hugging Face `tokenizers` (NAME.gguf.inp: texts
# separated by "\n__ggml_vocab_test__\n"; NAME.gguf.out: the expected ids, one line per text,
# encoded without special tokens). The PyPI source distribution of llama-cpp-python vendors
# llama.cpp with that folder: it is downloaded with pip (sdist only, no build), its sha256 is
# checked against the value pinned here, and only models/ggml-vocab-* is unpacked.
#
# usage: scripts/fetch_llama_vocabs.sh          (exit 0 when the files are there, 1 otherwise)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
req=llama-cpp-python==0.3.36
sdist=llama_cpp_python-0.3.36.tar.gz
sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
inner=llama_cpp_python-0.3.36/vendor/llama.cpp/models
cache=$root/.cache/sdist
dest=${XFMR_LLAMA_VOCAB_DIR:-$root/.cache/llama-vocab}

if [ -f "$dest/.fetched" ] && [ "$(cat "$dest/.fetched")" = "$sha" ]; then
  echo "fetch_llama_vocabs: already in $dest"
  exit 0
fi
mkdir -p "$cache"
if [ ! -f "$cache/$sdist" ]; then
  echo "fetch_llama_vocabs: downloading the $req source distribution from PyPI ..."
  # --no-binary for this package only: its build dependencies (needed by pip to read the
  # metadata) come as wheels; nothing is built.
  if ! python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python --dest "$cache" "$req"; then
    echo "fetch_llama_vocabs: could not download $req. Are you offline? Copy $sdist into $cache" >&2
    echo "  (pip download --no-deps --no-binary llama-cpp-python $req -d DIR on a machine with access)" >&2
    echo "  and re-run; tests/test_llama_vocab reports SKIP until then." >&2
    exit 1
  fi
fi
got=$(sha256sum "$cache/$sdist" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "fetch_llama_vocabs: sha256 mismatch for $cache/$sdist: expected $sha, got $got; delete it and re-run" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$cache/$sdist" -C "$tmp" --wildcards "$inner/ggml-vocab-*"
rm -rf "$dest"
mkdir -p "$dest"
mv "$tmp/$inner"/ggml-vocab-* "$dest"/
echo "$sha" >"$dest/.fetched"
rm -f "$cache/$sdist" # the vocabularies are unpacked; the 77 MB archive is not needed any more
echo "fetch_llama_vocabs: $(ls "$dest" | grep -c '\.gguf$') vocabularies in $dest"
