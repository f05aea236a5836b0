#!/bin/sh
# SmolLM2-135M-Instruct: the CPU cost of h2o against h2o-head on the same perplexity run (the
# essays16k text of smollm2_policy_ppl, --ppl-prompt 768, budget 256, one thread), alternated
# R times (default 3) in one sitting; CPU seconds from the --json reports.
# From the repository root: sh bench/results/long_context/smollm2_h2o_head/cost.sh
set -e
D=bench/results/long_context/smollm2_h2o_head/cost
T=${TMPDIR:-/tmp}/essays16k
mkdir -p $D $T
for f in aord apple; do head -c 16000 .cache/eval/pg_essays/$f.txt > $T/$f.txt; done
for r in $(seq ${R:-3}); do for p in h2o h2o-head; do
  ${XFMR:-build/xfmr} eval -m models/SmolLM2-135M-Instruct --task ppl --text $T/ --window 1024 --threads 1 \
    --ppl-prompt 768 --kv-policy $p --kv-budget 256 --json $D/${p}_r$r.json > /dev/null 2> $D/${p}_r$r.err
done; done
python3 - "$D" <<'PY'
import json, sys, glob, statistics
for p in ("h2o", "h2o-head"):
    c = [json.load(open(f))["tasks"]["ppl"]["cost"]["cpu_s"] for f in sorted(glob.glob(f"{sys.argv[1]}/{p}_r*.json"))]
    print(p, "CPU s", [round(x, 1) for x in c], "median", round(statistics.median(c), 1))
PY
