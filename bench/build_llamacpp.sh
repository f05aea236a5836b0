#!/usr/bin/env bash
# Build llama.cpp's `llama-bench` (and `llama-quantize`, which makes the Q4_K_M benchmark files:
# bench/README in BENCHMARKS.md; `llama-perplexity` and `llama-server`, the peers of `xfmr quantize`
# and `xfmr serve`) from the llama.cpp vendored in the llama-cpp-python sdist, for
# bench/bench_decode.py and the quantization / serving comparisons. Nothing from llama.cpp is committed: the source and the build live in
# .cache/llamacpp (git-ignored).
#
#   bench/build_llamacpp.sh [SDIST.tar.gz]
#
# SDIST defaults to /tmp/lcp/llama_cpp_python-*.tar.gz; when none is there it is fetched with
# `pip download --no-deps llama-cpp-python`. JOBS (default 2) sets the parallel build jobs;
# TARGETS (default: llama-bench llama-quantize llama-perplexity llama-server) the binaries;
# LLAMACPP_ISA=avx2 builds into avx2-* with AVX2 / FMA / F16C only (the peer of XF_ISA=avx2).
# Prints the path of the llama-bench binary on its last line.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.cache/llamacpp"
JOBS="${JOBS:-2}"
mkdir -p "$CACHE"

SDIST="${1:-}"
if [ -z "$SDIST" ]; then
    SDIST="$(ls /tmp/lcp/llama_cpp_python-*.tar.gz "$CACHE"/llama_cpp_python-*.tar.gz 2>/dev/null | head -n 1 || true)"
fi
if [ -z "$SDIST" ] || [ ! -f "$SDIST" ]; then
    echo "build_llamacpp: downloading the llama-cpp-python sdist with pip" >&2
    python3 -m pip download --no-deps --no-binary :all: -d "$CACHE" llama-cpp-python >&2
    SDIST="$(ls "$CACHE"/llama_cpp_python-*.tar.gz | head -n 1)"
fi

NAME="$(basename "$SDIST" .tar.gz)"
SRC="$CACHE/$NAME/vendor/llama.cpp"
if [ ! -f "$SRC/CMakeLists.txt" ]; then
    echo "build_llamacpp: unpacking $SDIST into $CACHE" >&2
    tar xzf "$SDIST" -C "$CACHE"
fi

BUILD="$CACHE/build-$NAME"
ISA_FLAGS="-DGGML_NATIVE=ON"
if [ "${LLAMACPP_ISA:-native}" = avx2 ]; then
    # llama.cpp as an AVX2-only machine builds it (no AVX-512, VNNI or AMX): the peer of XF_ISA=avx2
    BUILD="$CACHE/avx2-$NAME" # not build-*: the scripts that glob for the native build must not find it
    ISA_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
fi
# shellcheck disable=SC2086 # ISA_FLAGS is a list
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release $ISA_FLAGS -DLLAMA_CURL=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_OPENSSL=OFF >&2
# shellcheck disable=SC2086 # TARGETS is a list
cmake --build "$BUILD" --target ${TARGETS:-llama-bench llama-quantize llama-perplexity llama-server} -j "$JOBS" >&2

BIN="$BUILD/bin/llama-bench"
[ -x "$BIN" ] || { echo "build_llamacpp: $BIN was not built" >&2; exit 1; }
echo "$BIN"
