#!/usr/bin/env bash
# test_rerank_cli.sh — `xfmr rerank` and `xfmr classify` on the tiny random cross-encoder and
# classifier of scripts/make_cross_encoder_goldens.py: the rerank order equals sorting by
# transformers' logits (tests/data/tiny/cross_goldens.tsv), scores equal CrossEncoder.predict's
# (Sigmoid) or, with --raw-scores, the logits; --top-k, --json; classify labels from id2label,
# softmax scores, pairs; bad input (no documents, no query, no -m, a model without a head).
#
# usage: tests/test_rerank_cli.sh path/to/xfmr        Prints "N passed, M failed, K skipped".
set -u
# shellcheck source=tests/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh"
tiny=$here/tests/data/tiny
command -v python3 >/dev/null || skip_test "python3 is not installed"
gold=$tiny/cross_goldens.tsv

# ----------------------------------------------------------------------------- rerank
awk -F'\t' '$1 == "rerank" {print $4}' "$gold" >"$tmp/docs.txt"
query=$(awk -F'\t' '$1 == "rerank" {print $3; exit}' "$gold")
for model in "$tiny/bert_rerank" "$tiny/bert_rerank.gguf"; do
  run 0 "$X" rerank -m "$model" --query "$query" --json "$tmp/docs.txt"
  check "rerank $(basename "$model"): order and scores of transformers / CrossEncoder" python3 -c '
import json, sys
gold = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.startswith("rerank\t")]
rows = [json.loads(l) for l in open(sys.argv[2])]
want = sorted(range(len(gold)), key=lambda i: -float(gold[i][4]))
got = [r["index"] for r in rows]
assert got == want, (got, want)
assert [r["rank"] for r in rows] == list(range(1, len(gold) + 1))
for r in rows:
    assert abs(r["score"] - float(gold[r["index"]][5])) <= 1e-5, r
    assert r["text"] == gold[r["index"]][3], r
' "$gold" "$tmp/out"
done
run 0 "$X" rerank -m "$tiny/bert_rerank" -q "$query" --raw-scores -k 3 --json "$tmp/docs.txt"
check "rerank --raw-scores -k 3: the three best logits" python3 -c '
import json, sys
gold = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.startswith("rerank\t")]
rows = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == 3, rows
for r in rows:
    assert abs(r["score"] - float(gold[r["index"]][4])) <= 1e-5, r
' "$gold" "$tmp/out"
run 0 "$X" rerank -m "$tiny/bert_rerank" -q "$query" -k 1 <"$tmp/docs.txt"
check "rerank text output: score, [index], document" grep -qE '^0\.9[0-9]{3}  \[0\]  The quick brown fox' "$tmp/out"
check "rerank -k 1: one line" test "$(lines_of "$tmp/out")" = 1
: >"$tmp/empty.txt"
run 1 "$X" rerank -m "$tiny/bert_rerank" -q "$query" "$tmp/empty.txt"
err_has "no documents to rerank"
run 2 "$X" rerank -m "$tiny/bert_rerank" "$tmp/docs.txt"
err_has "--query"
run 2 "$X" rerank -q "$query" "$tmp/docs.txt"
err_has "-m MODEL"
run 1 "$X" rerank -m "$tiny/bert" -q "$query" "$tmp/docs.txt"
err_has "no sequence-classification head"
run 1 "$X" rerank -m "$tiny/bert_cls" -q "$query" "$tmp/docs.txt"
err_has "has 3 outputs"
run 2 "$X" rerank -m "$tiny/bert_rerank" -q "$query" -k 0 "$tmp/docs.txt"
run 0 "$X" rerank --help
out_has "--raw-scores"

# --------------------------------------------------------------------------- classify
awk -F'\t' '$1 == "cls" {print $3 "\t" $4}' "$gold" | sed 's/\t$//' >"$tmp/cls.tsv"
run 0 "$X" classify -m "$tiny/bert_cls" --pairs --json --file "$tmp/cls.tsv"
check "classify --pairs --json: labels, softmax scores, logits of transformers" python3 -c '
import json, math, sys
gold = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.startswith("cls\t")]
rows = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == len(gold)
names = ["negative", "neutral", "positive"]
for r, g in zip(rows, gold):
    want = [float(v) for v in g[4].split()]
    assert max(abs(a - b) for a, b in zip(r["logits"], want)) <= 1e-5, (r, want)
    e = [math.exp(v - max(want)) for v in want]
    p = [v / sum(e) for v in e]
    best = max(range(3), key=lambda i: p[i])
    assert r["label"] == names[best] and abs(r["score"] - p[best]) <= 1e-5, (r, p)
    assert [s["label"] for s in r["scores"]] == names
' "$gold" "$tmp/out"
run 0 "$X" classify -m "$tiny/bert_cls" "hello world"
check "classify text output: label score text" grep -qE '^positive 0\.[0-9]{4}  hello world$' "$tmp/out"
run 0 "$X" classify -m "$tiny/bert_cls" --all "hello world"
out_has "negative 0."
out_has "neutral 0."
run 0 "$X" classify -m "$tiny/bert_rerank" --json "hello world"
check "classify with one output: sigmoid score, label LABEL_0" python3 -c '
import json, math, sys
r = json.loads(open(sys.argv[1]).read())
assert r["label"] == "LABEL_0" and abs(r["score"] - 1 / (1 + math.exp(-r["logits"][0]))) < 1e-6, r' "$tmp/out"
run 1 "$X" classify -m "$tiny/bert" "hello"
err_has "no sequence-classification head"
run 2 "$X" classify -m "$tiny/bert_cls"
run 2 "$X" classify -m "$tiny/bert_cls" --activation tanh "x"
err_has "softmax, sigmoid or none"
run 1 "$X" classify -m "$tiny/bert_cls" --file "$tmp/empty.txt"
run 0 "$X" classify --help
out_has "id2label"

cli_finish
