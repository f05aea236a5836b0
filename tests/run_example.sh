#!/usr/bin/env bash
# Runs the example program on the default model and checks it prints a similarity.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/skip.sh
. "$here/tests/skip.sh"
model=${XFMR_TEST_MODEL:-$here/models/all-MiniLM-L6-v2}
[ -d "$model" ] || skip_test "model folder $model is missing; run scripts/fetch_models.sh"
out=$("$1" "$model")
echo "$out"
echo "$out" | grep -Eq 'cosine\(.*\) = 0\.[0-9]{4}'
echo "1 passed, 0 failed"
