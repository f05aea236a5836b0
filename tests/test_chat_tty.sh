#!/usr/bin/env bash
# test_chat_tty.sh — `xfmr chat` driven like a user at a terminal, in tmux: the banner lists the
# commands, /help is answered locally (the model is not called), an unknown /command is refused,
# Ctrl-C while the model writes stops the reply and returns to the prompt (the conversation goes
# on), and Ctrl-C at the empty prompt quits with status 0.
#
# The reply-interrupting part needs a reply that lasts seconds: SmolLM2-135M-Instruct
# (models/, or $XFMR_SMOLLM2) with --ignore-eos; without it that part is skipped and the rest runs
# on the tiny llama. Needs tmux (scripts/install_deps.sh installs it).
#
# usage: tests/test_chat_tty.sh path/to/xfmr        Prints "N passed, M failed, K skipped".
set -u
# shellcheck source=tests/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh"
command -v tmux >/dev/null || skip_test "tmux is not installed (scripts/install_deps.sh installs it)"
sock=xfmr-chat-test-$$
tm() { tmux -L "$sock" "$@"; }
trap 'tm kill-server >/dev/null 2>&1; rm -rf "$tmp"' EXIT

smol=${XFMR_SMOLLM2:-$here/models/SmolLM2-135M-Instruct}
if [ -e "$smol" ]; then
  chat=("$X" chat -m "$smol" --ignore-eos --max-tokens 100000 --ctx 4096 --seed 7 --threads 2)
else
  skip_part "$smol is missing (scripts/fetch_models.sh SmolLM2-135M-Instruct): Ctrl-C during a reply"
  chat=("$X" chat -m "$here/tests/data/tiny/llama" --chat-template chatml --max-tokens 4 --threads 2)
  smol=
fi
printf -v cmd '%q ' "${chat[@]}"
tm new-session -d -x 160 -y 50 "$cmd 2>&1; echo XFMR_EXIT=\$?; sleep 600"

pane() { tm capture-pane -p -J -S -500 2>/dev/null; }
# wait_for SECONDS COUNT PATTERN: until the pane has at least COUNT lines matching the
# extended regular expression PATTERN (gives up at once when xfmr has exited).
wait_for() {
  local i p
  for ((i = 0; i < $1 * 10; i++)); do
    p=$(pane)
    [ "$(grep -Ec -- "$3" <<<"$p")" -ge "$2" ] && return 0
    grep -q '^XFMR_EXIT=' <<<"$p" && return 1
    sleep 0.1
  done
  return 1
}
prompts() { pane | grep -Ec '^>'; }
# Characters of the reply being written: the text after the last user message ("> text"), less
# the notes ("xfmr: ...") and empty prompts.
reply_chars() { pane | awk '/^> ./ {n = 0; next} /^xfmr:/ || /^> ?$/ {next} {n += length($0)} END {print n + 0}'; }

check "the chat starts and shows the prompt" wait_for 180 1 '^>'
pane >"$tmp/banner.txt"
for w in /help /reset /exit Ctrl-C; do check "the banner names $w" grep -qF -- "$w" "$tmp/banner.txt"; done

tm send-keys "/help" Enter
check "/help lists the commands" wait_for 30 2 'show the commands'
check "/help: back at the prompt" wait_for 30 2 '^>'
tm send-keys "/frob" Enter
check "an unknown command is refused" wait_for 30 1 "unknown command '/frob'"
check "/frob: back at the prompt" wait_for 30 3 '^>'
check "no reply was generated for the commands" test "$(reply_chars)" -eq 0

if [ -n "$smol" ]; then
  for turn in 1 2; do
    n=$(prompts)
    tm send-keys "Tell me a long story about a dragon." Enter
    for ((i = 0; i < 1800 && $(reply_chars) < 40; i++)); do
      pane | grep -q '^XFMR_EXIT=' && break
      sleep 0.1
    done
    a=$(reply_chars)
    for ((i = 0; i < 300 && $(reply_chars) <= a; i++)); do sleep 0.1; done
    b=$(reply_chars)
    check "turn $turn: the reply is being written ($a -> $b characters)" test "$b" -gt "$a"
    tm send-keys C-c
    check "turn $turn: Ctrl-C stops the reply" wait_for 60 "$turn" 'reply stopped \(Ctrl-C\)'
    check "turn $turn: back at the prompt" wait_for 60 $((n + 1)) '^>'
    check "turn $turn: the chat is still running" sh -c '! grep -q XFMR_EXIT "$1"' _ <(pane)
    sleep 1
    c=$(reply_chars)
    sleep 1
    check "turn $turn: the reply no longer grows" test "$(reply_chars)" -eq "$c"
  done
fi

tm send-keys C-c
check "Ctrl-C at the empty prompt quits with status 0" wait_for 60 1 '^XFMR_EXIT=0$'
pane >"$tmp/final.txt"
check "no error but the /frob one" test "$(grep -c "error" "$tmp/final.txt")" -eq 1
[ "$failed" -eq 0 ] || { echo "--- pane:"; cat "$tmp/final.txt"; }
cli_finish
