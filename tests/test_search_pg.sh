#!/usr/bin/env bash
# test_search_pg.sh — the PostgreSQL + pgvector store against the SQLite one, with
# all-MiniLM-L6-v2 on a few of the repository's own documents: a throwaway server is started
# (scripts/pg_local.sh: unix socket in a temporary folder, stopped at the end); the exact
# pgvector search must return the same top-10 as SQLite (same chunks, same order up to score
# ties, scores within 1e-5), the HNSW index a recall@10 of at least 0.98 of the exact one;
# reruns are incremental, removed files leave, and an index of another model is refused.
# Exit 77 (SKIP) when no server can be started (scripts/fetch_pgvector.sh not run, ...) or the
# model is missing.
#
# usage: tests/test_search_pg.sh path/to/xfmr        Prints "N passed, M failed".
set -u
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/xfmr" >&2
  exit 2
fi
X=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
model=${XFMR_TEST_MODEL:-$here/models/all-MiniLM-L6-v2}
if [ ! -f "$model/config.json" ]; then
  echo "SKIP: model $model is missing (scripts/fetch_models.sh)" >&2
  exit 77
fi
tmp=$(mktemp -d)
trap '"$here/scripts/pg_local.sh" stop "$tmp/pg"; rm -rf "$tmp"' EXIT
uri=$("$here/scripts/pg_local.sh" start "$tmp/pg")
rc=$?
if [ $rc -ne 0 ]; then
  echo "SKIP: no local PostgreSQL with pgvector (scripts/fetch_pgvector.sh)" >&2
  exit 77
fi
cd "$tmp" || exit 1
# shellcheck source=tests/cli_checks.sh
. "$here/tests/cli_checks.sh"

mkdir corpus
cp "$here/docs/CLI.md" "$here/docs/TOKENIZER.md" "$here/docs/GGUF.md" corpus/
run 0 "$X" index -m "$model" --db s.db corpus
run 0 "$X" index -m "$model" --db "$uri" corpus
err_has "3 files: 3 added"
cat >queries.txt <<'Q'
how do I embed a file of texts
which exit status means a usage error
what does the tokenizer do with invalid UTF-8
how are special tokens added
quantized GGUF weights
how fast is decoding with int8 weights
write vectors as numpy npy
where are models looked up
byte fallback in SentencePiece
truncation to the model's maximum length
chat template of a model
progress bar on the terminal
Q
run 0 "$X" search --db s.db -k 10 --queries queries.txt
cp out sqlite.jsonl
run 0 "$X" search --db "$uri" -k 10 --exact --queries queries.txt
cp out exact.jsonl
run 0 "$X" search --db "$uri" -k 10 --queries queries.txt
cp out hnsw.jsonl
check "pgvector exact == SQLite (top-10, scores within 1e-5)" python3 - <<'PY'
import json, sys
a = [json.loads(l) for l in open("sqlite.jsonl")]
b = [json.loads(l) for l in open("exact.jsonl")]
assert len(a) == len(b) == 12, (len(a), len(b))
key = lambda r: (r["path"], r["line_start"], r["line_end"], r["heading"], r["text"])
for qa, qb in zip(a, b):
    ra, rb = qa["results"], qb["results"]
    assert len(ra) == len(rb) == 10, qa["query"]
    for x, y in zip(ra, rb):
        assert abs(x["score"] - y["score"]) <= 1e-5, (qa["query"], x["score"], y["score"])
    # same chunks in the same order, except that results whose scores tie (within 1e-6) may swap
    i = 0
    while i < 10:
        j = i
        while j + 1 < 10 and abs(ra[j + 1]["score"] - ra[i]["score"]) <= 1e-6:
            j += 1
        sa = sorted(key(r) for r in ra[i:j + 1])
        sb = sorted(key(r) for r in rb[i:j + 1])
        if sa != sb:
            sys.exit("query %r: ranks %d-%d differ:\n%s\n%s" % (qa["query"], i + 1, j + 1, sa, sb))
        i = j + 1
print("exact top-10 identical for", len(a), "queries")
PY
check "HNSW recall@10 >= 0.98 of exact" python3 - <<'PY'
import json
e = [json.loads(l) for l in open("exact.jsonl")]
h = [json.loads(l) for l in open("hnsw.jsonl")]
key = lambda r: (r["path"], r["line_start"], r["text"])
rec = [len({key(r) for r in x["results"]} & {key(r) for r in y["results"]}) / 10 for x, y in zip(e, h)]
print("HNSW recall@10 = %.3f" % (sum(rec) / len(rec)))
assert sum(rec) / len(rec) >= 0.98
PY
# incremental, removal, another model
run 0 "$X" index --db "$uri" corpus
err_has "3 files: 0 added, 0 updated, 3 unchanged"
rm corpus/GGUF.md
run 0 "$X" index --db "$uri" corpus
err_has "1 removed"
run 0 "$X" search --db "$uri" -k 100 --json "GGUF"
check "removed file gone" python3 -c '
import json, sys
assert not [r for r in json.load(open(sys.argv[1]))["results"] if r["path"].endswith("/GGUF.md")]' out
run 1 "$X" index -m "$here/tests/data/tiny/bert" --db "$uri" corpus
err_has "was built with model 'all-MiniLM-L6-v2' (dimension 384), not 'bert' (dimension 32)"
run 1 "$X" index -m "$model" --db "postgresql://xfmr@/nosuchdb?host=$tmp/nowhere" corpus
err_has "cannot connect"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
