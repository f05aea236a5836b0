#!/usr/bin/env bash
# build_wheel.sh — a wheel of the Python package (python/) with libxfmr.so inside, into dist/.
# Builds the Release library first when build/libxfmr.so is missing. The wheel is for this
# platform (py3-none-linux_<arch>) and needs the system libraries libxfmr links with
# (libcjson, libutf8proc, libpcre2, libxml2, libsqlite3, libpq: scripts/install_deps.sh).
#
# usage: scripts/build_wheel.sh [--check]
#   --check  install the wheel into a fresh virtual environment (with the system's numpy) and
#            embed a sentence from outside the source tree with the bundled library.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -f build/libxfmr.so ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target xfmr_shared
fi
mkdir -p dist
rm -rf python/build python/xfmr.egg-info
XFMR_BUNDLE_LIB=$root/build/libxfmr.so python3 -m pip wheel --no-deps -q -w dist ./python
rm -rf python/build python/xfmr.egg-info
whl=$(ls -t dist/xfmr-*.whl | head -1)
python3 -m zipfile -l "$whl" | grep -q 'xfmr/libxfmr.so' || { echo "build_wheel: $whl lacks libxfmr.so" >&2; exit 1; }
echo "build_wheel: $whl"
if [ "${1:-}" = --check ]; then
  venv=$(mktemp -d)
  trap 'rm -rf "$venv"' EXIT
  python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install -q --no-deps "$whl"
  (cd "$venv" && env -u XFMR_LIB XFMR_MODELS="$root/models" "$venv/bin/python" -c '
import xfmr, sys
assert "site-packages" in xfmr.library_path(), xfmr.library_path()
v = xfmr.SentenceEncoder("all-MiniLM-L6-v2").encode("hello")
print("build_wheel: installed wheel works:", xfmr.library_path(), v.shape)')
fi
