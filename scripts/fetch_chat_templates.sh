#!/usr/bin/env bash
# fetch_chat_templates.sh — extract the chat templates that are not committed (their licences
# ask for the licence text to travel with them: Llama 3.x, Gemma) into .cache/chat_templates/,
# from the source distribution of the PyPI package llama-cpp-python (vendor/llama.cpp/models/
# templates, the models' published templates), sha256-checked. tests/test_jinja_goldens.c
# ("fetched" run) renders them against tests/data/jinja/goldens; without them that run is skipped.
#
# usage: scripts/fetch_chat_templates.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.cache/wheels
out=$root/.cache/chat_templates
req=llama-cpp-python==0.3.36
file=llama_cpp_python-0.3.36.tar.gz
sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
templates=(meta-llama-Llama-3.1-8B-Instruct.jinja meta-llama-Llama-3.2-3B-Instruct.jinja google-gemma-2-2b-it.jinja)

have=1
for t in "${templates[@]}"; do [ -f "$out/$t" ] || have=0; done
if [ $have = 1 ]; then
  echo "fetch_chat_templates: already in $out"
  exit 0
fi
mkdir -p "$cache" "$out"
if [ ! -f "$cache/$file" ]; then
  echo "fetch_chat_templates: downloading the $req source distribution from PyPI ..."
  if ! python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$cache" "$req"; then
    echo "fetch_chat_templates: could not download $req (offline?); the fetched-template tests will be skipped" >&2
    exit 1
  fi
fi
got=$(sha256sum "$cache/$file" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "fetch_chat_templates: $cache/$file has sha256 $got, expected $sha" >&2
  exit 1
fi
members=()
for t in "${templates[@]}"; do members+=("llama_cpp_python-0.3.36/vendor/llama.cpp/models/templates/$t"); done
tar -xzf "$cache/$file" -C "$out" --strip-components=5 "${members[@]}"
echo "fetch_chat_templates: ${#templates[@]} templates in $out"
