#!/bin/sh
# SmolLM2-135M-Instruct 1K passkeys (five depths, one case each, greedy, chat template): H2O per layer
# (h2o) against H2O per key/value head (h2o-head, 35aa8bf) at budgets 256, 384 and 512, one
# thread a process. From the repository root: sh bench/results/long_context/smollm2_h2o_head/run.sh
set -e
D=bench/results/long_context/smollm2_h2o_head
for b in 256 384 512; do for p in h2o h2o-head; do
  ${XFMR:-build/xfmr} eval -m models/SmolLM2-135M-Instruct --task passkey --lengths 1024 --cases 1 --threads 1 \
    --kv-policy $p --kv-budget $b --json $D/${p}_$b.json --save-prompts $D/${p}_$b.prompts.jsonl > $D/${p}_$b.txt 2> $D/${p}_$b.err
  python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2], "w") as f:
    for r in rows:
        r.pop("prompt", None); f.write(json.dumps(r) + "\n")' $D/${p}_$b.prompts.jsonl $D/${p}_$b.replies.jsonl
  rm $D/${p}_$b.prompts.jsonl
done; done
