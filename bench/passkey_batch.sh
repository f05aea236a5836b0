#!/bin/sh
# passkey_batch.sh — SmolLM2-135M-Instruct 1K passkeys (xfmr eval --task passkey: five depths, one
# case each, greedy, chat template) under KV policies at budgets, one thread a process. Each run
# writes OUT/<policy>_<budget>.json (--json), .txt, .err and .replies.jsonl (each case's reply and
# verdict, without the prompt).
#
# usage: bench/passkey_batch.sh OUT "POLICIES" "BUDGETS"     XFMR: the binary (default build/xfmr)
set -eu
[ $# -eq 3 ] || { sed -n 2,7p "$0" >&2; exit 2; }
D=$1
mkdir -p "$D"
for b in $3; do for p in $2; do
  ${XFMR:-build/xfmr} eval -m models/SmolLM2-135M-Instruct --task passkey --lengths 1024 --cases 1 --threads 1 \
    --kv-policy "$p" --kv-budget "$b" --json "$D/${p}_$b.json" --save-prompts "$D/${p}_$b.prompts.jsonl" \
    > "$D/${p}_$b.txt" 2> "$D/${p}_$b.err"
  python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2], "w") as f:
    for r in rows:
        r.pop("prompt", None); f.write(json.dumps(r) + "\n")' "$D/${p}_$b.prompts.jsonl" "$D/${p}_$b.replies.jsonl"
  rm "$D/${p}_$b.prompts.jsonl"
done; done
