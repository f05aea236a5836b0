# cli_checks.sh — the checks shared by the shell tests of the xfmr command (test_cli.sh,
# test_eval.sh), sourced after $tmp is set: pass/fail counters and assertions on a command's
# exit code, stdout ($tmp/out) and stderr ($tmp/err).
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
  failed=$((failed + 1))
  echo "FAIL: $*" >&2
}
check() { # check DESCRIPTION COMMAND... : the command must succeed
  local what=$1
  shift
  if "$@"; then ok; else bad "$what"; fi
}
# run EXPECTED_RC CMD...: runs CMD with stdout in $tmp/out and stderr in $tmp/err
run() {
  local want=$1
  shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then
    ok
  else
    bad "exit $rc (expected $want): $* -- stderr: $(head -c 400 "$tmp/err")"
  fi
}
err_has() { # err_has TEXT: stderr of the last run mentions TEXT
  if grep -qF -- "$1" "$tmp/err"; then ok; else bad "stderr lacks '$1': $(head -c 400 "$tmp/err")"; fi
}
out_has() {
  if grep -qF -- "$1" "$tmp/out"; then ok; else bad "stdout lacks '$1': $(head -c 400 "$tmp/out")"; fi
}
