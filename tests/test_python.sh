#!/usr/bin/env bash
# test_python.sh — the Python package's tests (python/tests, pytest) against this build's
# libxfmr.so and xfmr CLI: embeddings bitwise those of `xfmr embed`, greedy / seeded text equal
# to `xfmr generate`, streaming, errors, struct layouts.
#
# Skips (exit 77; a failure with XF_REQUIRE_ALL=1) when python3, numpy or pytest is missing
# (scripts/install_deps.sh installs them) or a default model is missing.
# In a sanitizer build (libxfmr.so linked with AddressSanitizer) the ASan runtime the library
# needs is LD_PRELOADed into python3, which is not built with it: ASan must come first in the
# process. Leak detection stays on and xfmr's leaks are fatal: tests/lsan_filter.py tells them
# from the interpreter's own (docs/PYTHON.md).
#
# usage: tests/test_python.sh path/to/libxfmr.so path/to/xfmr
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/skip.sh
. "$here/tests/skip.sh"
lib=$1 cli=$2
command -v python3 >/dev/null || skip_test "python3 is not installed"
python3 -c 'import numpy' 2>/dev/null || skip_test "numpy is not installed (pip install numpy)"
python3 -c 'import pytest' 2>/dev/null || skip_test "pytest is not installed (pip install pytest)"
for m in all-MiniLM-L6-v2 SmolLM2-135M-Instruct; do
  [ -d "$here/models/$m" ] || skip_test "model $m is missing; run scripts/fetch_models.sh"
done
export XFMR_LIB=$lib XFMR_CLI=$cli XFMR_MODELS=$here/models
# The interpreter itself (python3 may be a wrapper script, e.g. pyenv's shim, that must not run
# with the sanitizer runtime preloaded).
py=$(python3 -c 'import sys; print(sys.executable)')
asan=$(ldd "$lib" | awk '/libasan|libclang_rt.asan/ {print $3; exit}')
cd "$here"
if [ -z "$asan" ]; then
  # -p no:cacheprovider: no .pytest_cache in the source tree; -rs lists skips.
  exec "$py" -m pytest -q -rs -p no:cacheprovider python/tests
fi

# Sanitizer build: ASan's runtime preloaded into the interpreter (only it: the programs the
# tests start, the CLI and cc, drop LD_PRELOAD), reports written to files, then sorted by
# tests/lsan_filter.py: python3 itself leaks at exit, xfmr must not (nor may the CLI runs).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
preload="LD_PRELOAD=$asan${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$tmp/asan
export LSAN_OPTIONS=exitcode=0 # leaks are judged by lsan_filter.py
export XF_T_SANITIZED=1 # python/tests thins its generation checks
echo "test_python: sanitizer build: $preload $py"
rc=0
env "$preload" "$py" -m pytest -q -rs -p no:cacheprovider python/tests || rc=$?
ASAN_OPTIONS= python3 tests/lsan_filter.py "$here" "$tmp/asan" || rc=1
# The filter must see a leak of xfmr's: one xf_encoding left unfreed on purpose.
rm -f "$tmp"/asan.*
env "$preload" "$py" - "$here/models/all-MiniLM-L6-v2" <<'PY' || rc=1
import ctypes, sys
sys.path.insert(0, "python")
import xfmr
from xfmr import _lib
enc = xfmr.SentenceEncoder(sys.argv[1])
e = _lib.Encoding()
_lib.check(_lib.lib().xf_tokenize(enc._tok, b"leak", 4, None, 0, 0, ctypes.byref(e)))  # never freed
PY
if ASAN_OPTIONS= python3 tests/lsan_filter.py "$here" "$tmp/asan" >/dev/null 2>&1; then
  echo "FAIL: lsan_filter.py missed a leak made by xfmr on purpose" >&2
  rc=1
else
  echo "lsan_filter: the leak made on purpose was found"
fi
exit $rc
