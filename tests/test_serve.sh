#!/usr/bin/env bash
# test_serve.sh — runs tests/test_serve.py: `xfmr serve` against curl and the openai package
# (docs/SERVE.md). Exits 77 (skipped) when a model, curl, python3 or the openai package is
# missing, or when xfmr was built without libmicrohttpd.
# usage: tests/test_serve.sh path/to/xfmr
set -u
# shellcheck source=tests/skip.sh
. "$(dirname "$0")/skip.sh"
command -v python3 >/dev/null || skip_test "python3 is missing"
exec python3 "$(dirname "$0")/test_serve.py" "$1"
