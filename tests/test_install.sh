#!/usr/bin/env bash
# test_install.sh — `cmake --install` into a temporary prefix, then build examples/embed.c against
# the installed header and libraries through pkg-config (shared and static) and run both.
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
# shellcheck source=tests/skip.sh
. "$src/tests/skip.sh"
model=${XFMR_TEST_MODEL:-$src/models/all-MiniLM-L6-v2}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*" >&2; fi; }
cmake --install "$build" --prefix "$prefix" >/dev/null
check test -f "$prefix/include/xfmr.h"
check test -f "$prefix/lib/pkgconfig/xfmr.pc"
check test -x "$prefix/bin/xfmr"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cc=${CC:-cc}
# shellcheck disable=SC2046
check "$cc" "$src/examples/embed.c" $(pkg-config --cflags --libs xfmr) -Wl,-rpath,"$prefix/lib" -o "$prefix/ex_shared"
# shellcheck disable=SC2046
check "$cc" "$src/examples/embed.c" $(pkg-config --cflags xfmr) "$prefix/lib/libxfmr.a" \
  $(pkg-config --static --libs-only-l xfmr | sed 's/-lxfmr//') -o "$prefix/ex_static"
have_model=0
[ -d "$model" ] && have_model=1
for ex in ex_shared ex_static; do
  [ $have_model = 1 ] || break
  out=$("$prefix/$ex" "$model" 2>&1 || true)
  check grep -Eq 'cosine\(.*\) = 0\.[0-9]{4}' <<<"$out"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] || exit 1
[ $have_model = 1 ] || skip_test "model folder $model is missing: the examples were built, not run"
