#!/bin/sh
# needle_batch.sh — xfmr eval's needle task on one model, one depth per process, the settings
# interleaved per depth (so a batch stopped early has every setting at the same depths). Each
# process writes OUT/<setting>_d<depth>.json (the --json report), .time.txt (/usr/bin/time) and
# .err; the prompts and replies go to $TMPDIR/<OUT's name>_prompts/ (--save-prompts).
#
# usage: bench/needle_batch.sh MODEL LENGTH SEED "DEPTHS" "SETTINGS" OUT
#   SETTINGS: dense, snapkvB, snapkv-headB, streamingB, h2oB, h2o-headB (KV budget B), vslashD /
#   blocksparseD (density 0.D), kvq8, kvq4, kvf16.  XFMR: the binary (default build/xfmr); THREADS (default 2).
set -eu
[ $# -eq 6 ] || { sed -n 2,9p "$0" >&2; exit 2; }
M=$1 L=$2 SEED=$3 DEPTHS=$4 SETTINGS=$5 D=$6
P=${TMPDIR:-/tmp}/$(basename "$D")_prompts
mkdir -p "$D" "$P"
for depth in $DEPTHS; do
  for s in $SETTINGS; do
    case $s in
      dense) opt= ;;
      snapkv* | streaming*) p=${s%%[0-9]*}; opt="--kv-policy $p --kv-budget ${s#"$p"}" ;;
      h2o-head*) opt="--kv-policy h2o-head --kv-budget ${s#h2o-head}" ;;
      h2o*) opt="--kv-policy h2o --kv-budget ${s#h2o}" ;;
      vslash*) opt="--vertical-slash 0.${s#vslash0}" ;;
      blocksparse*) opt="--block-sparse 0.${s#blocksparse0}" ;;
      kvq8 | kvq4 | kvf16) opt="--kv-type ${s#kv}" ;;
      *) echo "needle_batch: unknown setting $s" >&2; exit 2 ;;
    esac
    /usr/bin/time -f "%e wall %U user %S sys %M KB" -o "$D/${s}_d$depth.time.txt" \
      ${XFMR:-build/xfmr} eval -m "$M" --task needle --lengths "$L" --depths "$depth" --cases 1 --seed "$SEED" \
      --threads "${THREADS:-2}" --json "$D/${s}_d$depth.json" --save-prompts "$P/${s}_d$depth.jsonl" $opt \
      > /dev/null 2> "$D/${s}_d$depth.err" || echo "needle_batch: $s at depth $depth failed" >&2
  done
done
