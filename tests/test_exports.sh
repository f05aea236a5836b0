#!/usr/bin/env bash
# test_exports.sh — libxfmr.so exports exactly the public API: the dynamic symbols it defines
# (`nm -D --defined-only`) are the functions include/xfmr.h declares with XF_API, and every
# function the header declares is marked XF_API (or is a static inline helper). Also: the
# library's version number is the header's.
#
# usage: tests/test_exports.sh path/to/libxfmr.so path/to/include/xfmr.h
set -u
lib=$1 header=$2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/skip.sh
. "$here/skip.sh"
command -v nm >/dev/null || skip_test "nm (binutils) is not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0
check() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*" >&2; fi; }

# Defined dynamic symbols, less those the toolchain adds (_init/_fini, and the sanitizer
# runtime's hooks in an XF_SANITIZE build).
nm -D --defined-only "$lib" | awk '{print $NF}' |
  grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$|^__(asan|ubsan|sanitizer|lsan|odr_asan)' | sort -u >"$tmp/exported"
# Functions the header declares: "XF_API <type> xf_name(" (a declaration may wrap; the name is on
# the first line), and any other line that declares an xf_ function outside a static inline.
grep -oE '^XF_API [^(]*\bxf_[a-z0-9_]+\(' "$header" | grep -oE 'xf_[a-z0-9_]+\($' | tr -d '(' | sort -u >"$tmp/declared"
grep -nE '^[a-z][a-z0-9_ *]*\bxf_[a-z0-9_]+\(' "$header" | grep -v 'static inline' >"$tmp/unmarked" || true

check test -s "$tmp/declared"
if ! cmp -s "$tmp/exported" "$tmp/declared"; then
  echo "exported but not declared with XF_API in xfmr.h:" >&2
  comm -23 "$tmp/exported" "$tmp/declared" | sed 's/^/  /' >&2
  echo "declared with XF_API but not exported:" >&2
  comm -13 "$tmp/exported" "$tmp/declared" | sed 's/^/  /' >&2
fi
check cmp -s "$tmp/exported" "$tmp/declared"
if [ -s "$tmp/unmarked" ]; then
  echo "functions declared in xfmr.h without XF_API:" >&2
  sed 's/^/  /' "$tmp/unmarked" >&2
fi
check test ! -s "$tmp/unmarked"
echo "$(wc -l <"$tmp/exported") symbols exported, $(wc -l <"$tmp/declared") functions declared"

# The header's version macros against the library's own: a small program linked with the .so.
cat >"$tmp/v.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "xfmr.h"
int main(void) {
    printf("header %s (%d), library %s (%d)\n", XFMR_VERSION, XFMR_VERSION_NUMBER, xf_version(), xf_version_number());
    return xf_version_number() == XFMR_VERSION_NUMBER && strcmp(xf_version(), XFMR_VERSION) == 0 ? 0 : 1;
}
C
if "${CC:-cc}" -I"$(dirname "$header")" "$tmp/v.c" "$lib" -Wl,-rpath,"$(dirname "$lib")" -o "$tmp/v" 2>"$tmp/cc.err"; then
  check "$tmp/v"
else
  cat "$tmp/cc.err" >&2
  check false
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
