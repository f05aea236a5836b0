#!/usr/bin/env bash
# install_deps.sh — install the Debian packages xfmr builds with (skips what is already there).
# Needs root (or sudo). Used by scripts/demo.sh, scripts/test.sh and .ci/run.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcjson-dev libmicrohttpd-dev libutf8proc-dev libpcre2-dev python3 python3-pip)
# Search: HTML parser, embedded store, PostgreSQL client (docs/SEARCH.md); runuser starts the
# test PostgreSQL as an unprivileged user when run as root (util-linux).
pkgs+=(libxml2-dev libsqlite3-dev libpq-dev util-linux)
# The fuzz harnesses (clang + libFuzzer runtime) and the memcheck runs (docs/SECURITY.md).
pkgs+=(clang libclang-rt-dev valgrind)
# tests/test_chat_tty.sh drives `xfmr chat` at a terminal (docs/DECISIONS.md); tests/test_serve.py
# talks to `xfmr serve` with curl (and the openai package, below).
pkgs+=(tmux curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3 may come from elsewhere (pyenv); only the command matters.
if command -v python3 >/dev/null; then
  missing=("${missing[@]/python3}")
  python3 -m pip --version >/dev/null 2>&1 && missing=("${missing[@]/python3-pip}")
fi
want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
if [ ${#want[@]} -gt 0 ]; then
  echo "install_deps: installing ${want[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
# The Python package's tests (tests/test_python.sh, python/tests) need numpy and pytest, and
# tests/test_serve.py the openai client, in the python3 that runs them (which may be pyenv's, not
# Debian's): pip, also where the system's Python is marked externally managed (PEP 668).
py_want=()
python3 -c 'import numpy' 2>/dev/null || py_want+=(numpy)
python3 -c 'import pytest' 2>/dev/null || py_want+=(pytest)
python3 -c 'import openai' 2>/dev/null || py_want+=(openai)
if [ ${#py_want[@]} -gt 0 ]; then
  echo "install_deps: pip installing ${py_want[*]}"
  python3 -m pip install -q "${py_want[@]}" 2>/dev/null ||
    python3 -m pip install -q --break-system-packages "${py_want[@]}"
fi
