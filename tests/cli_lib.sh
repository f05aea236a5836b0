# cli_lib.sh — shared helpers of the shell tests of the CLI (tests/test_cli*.sh,
# test_chat_tty.sh), sourced: the path of the xfmr binary, a temporary folder, pass/fail counters
# and checks, and skips (tests/skip.sh: exit 77 = ctest SKIP_RETURN_CODE; XF_REQUIRE_ALL=1 turns
# a skip into a failure, as CI runs it). Like tests/harness.c for the C tests.
#
# After sourcing: $X (absolute path of xfmr, from $1), $here (source tree), $tmp (cwd, removed
# at exit). End the script with `cli_finish`.

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/xfmr" >&2
  exit 2
fi
# shellcheck source=tests/skip.sh
. "$(dirname "${BASH_SOURCE[0]}")/skip.sh"
X=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# shellcheck source=tests/cli_checks.sh
. "$here/tests/cli_checks.sh" # passed/failed, ok, bad, check, run, err_has, out_has
skipped=()

# skip_part REASON: part of the test cannot run; the rest goes on and the test reports a skip.
skip_part() {
  skipped+=("$*")
  echo "SKIP: $*"
}
cli_finish() {
  echo "$passed passed, $failed failed, ${#skipped[@]} skipped"
  [ "$failed" -eq 0 ] || exit 1
  if [ ${#skipped[@]} -gt 0 ]; then
    [ "${XF_REQUIRE_ALL:-0}" = 1 ] && { echo "FAIL (XF_REQUIRE_ALL=1): parts were skipped" >&2; exit 1; }
    exit 77
  fi
  exit 0
}

err_lacks() {
  if grep -qF -- "$1" "$tmp/err"; then bad "stderr has '$1': $(head -c 400 "$tmp/err")"; else ok; fi
}
out_lacks() {
  if grep -qF -- "$1" "$tmp/out"; then bad "stdout has '$1': $(head -c 400 "$tmp/out")"; else ok; fi
}
lines_of() { wc -l <"$1" | tr -d ' '; }
