#!/usr/bin/env bash
# demo.sh — the main job on a fresh machine: install build dependencies, build xfmr, fetch the
# default models, embed sample sentences and show how similar they are, then chat with SmolLM2.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install_deps.sh
scripts/fetch_models.sh all-MiniLM-L6-v2 SmolLM2-135M-Instruct
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target xfmr >/dev/null
x=build/xfmr
echo
echo "== xfmr info all-MiniLM-L6-v2 =="
"$x" info all-MiniLM-L6-v2
echo
echo "== xfmr tokenize =="
"$x" tokenize -m all-MiniLM-L6-v2 --tokens --text "xfmr runs Transformers on a CPU — déjà vu, 東京!"
echo
echo "== xfmr embed docs/sample.txt (first 8 numbers of each vector) =="
"$x" embed -m all-MiniLM-L6-v2 docs/sample.txt | python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    print(o["index"], " ".join("%+.4f" % v for v in o["embedding"][:8]), "...")'
echo
echo "== xfmr similarity --file docs/sample.txt =="
"$x" similarity -m all-MiniLM-L6-v2 --file docs/sample.txt
echo
echo "== xfmr generate -m SmolLM2-135M-Instruct --chat (greedy, Q4_1 GGUF) =="
for q in "What is the capital of France?" "Explain in two sentences what a tokenizer does."; do
  echo "> $q"
  "$x" generate -m SmolLM2-135M-Instruct --chat --temperature 0 --max-tokens 64 -p "$q"
  echo
done
