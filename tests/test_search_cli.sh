#!/usr/bin/env bash
# test_search_cli.sh — `xfmr index` / `xfmr search` end to end on SQLite with the tiny BERT of
# tests/data (fast): usage errors, a folder of text / Markdown / HTML with awkward files
# (binary, non-UTF-8, unclosed tags, a 10 MB single line), incremental reruns (unchanged,
# updated, removed), --json output, --rerank refused, an index from another model, a read-only
# and a locked database, a file that is not a database, and kill -9 in the middle of a run
# (nothing committed lost, nothing duplicated after the rerun).
#
# usage: tests/test_search_cli.sh path/to/xfmr         Prints "N passed, M failed".
set -u
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/xfmr" >&2
  exit 2
fi
X=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
tiny=$here/tests/data/tiny/bert
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
# shellcheck source=tests/cli_checks.sh
. "$here/tests/cli_checks.sh"
q() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$@"; }
consistent() { # chunks == sum of the documents' counts, no (doc, seq) twice
  check "no duplicate chunks in $1" test "$(q "$1" 'SELECT count(*) FROM xf_chunks')" = \
    "$(q "$1" 'SELECT coalesce(sum(n_chunks), 0) FROM xf_documents')"
  check "no duplicate (doc, seq) in $1" test "$(q "$1" 'SELECT count(*) FROM (SELECT 1 FROM xf_chunks GROUP BY doc_id, seq HAVING count(*) > 1)')" = 0
}

# ------------------------------------------------------------------------ help and usage
run 0 "$X" index --help
out_has "--chunker"; out_has "--overlap"; out_has "SHA-256"; out_has "postgresql://"
run 0 "$X" search --help
out_has "--json"; out_has "--rerank"; out_has "--exact"
run 0 "$X" --help
out_has "index"; out_has "search"
run 2 "$X" index docs
err_has "--db STORE is required"
run 2 "$X" index --db a.db
err_has "no files or folders"
run 2 "$X" index --db a.db --chunker words docs
err_has "dom or fixed"
run 2 "$X" index --db a.db --overlap 8 docs
err_has "--chunker fixed only"
run 2 "$X" index --db a.db --chunk-tokens 3 docs
err_has "--chunk-tokens"
run 2 "$X" search --db a.db
err_has "no query"
run 2 "$X" search "query"
err_has "--db STORE is required"
run 2 "$X" search --db a.db -k 0 x
err_has "--top-k"
run 1 "$X" index -m "$tiny" --db a.db does-not-exist
err_has "'does-not-exist' does not exist"
run 1 "$X" search --db absent.db "query"
err_has "absent.db: no index there"

# ------------------------------------------------------------------- a folder of documents
mkdir -p docs/sub docs/.hidden
printf '# Rivers\n\nThe Nile is the longest river in Africa.\n\n## Deltas\n\nA delta forms where a river meets the sea.\n' >docs/rivers.md
printf '<html><body><nav>Home | About</nav><h1>Volcanoes</h1><p>Magma rises through the crust.\n<h2>Eruptions<p>Ash clouds can reach the stratosphere.<div><ul><li>unclosed item\n' >docs/volcano.html
printf 'Plain notes about bread.\n\nFlour, water, salt and yeast.\n' >docs/sub/bread.txt
printf 'caf\xe9 cr\xe8me br\xfbl\xe9e: a Latin-1 file, not UTF-8.\n' >docs/sub/latin1.txt
printf 'text\000with\000nul\000bytes' >docs/binary.txt
printf 'ignored' >docs/.hidden/secret.txt
printf 'not an indexed extension' >docs/image.png
python3 - <<'PY'
# a 10 MB HTML file on one line: mostly a script and an attribute (parsed, then dropped or
# ignored), so that the test does not spend minutes embedding 10 MB of text
big = "x=1;" * (5 * 1024 * 1024 // 4)
open("docs/huge.html", "w").write('<html><body><h1>Huge</h1><script>' + big + '</script><p title="' + big +
                                  '">The only paragraph of the huge page.</p></body></html>')
PY
run 0 "$X" index -m "$tiny" --db s.db docs
err_has "6 files: 5 added, 0 updated, 0 unchanged, 1 skipped"
err_has "binary.txt' looks binary"
consistent s.db
check "hidden files skipped" test "$(q s.db "SELECT count(*) FROM xf_documents WHERE path LIKE '%secret%'")" = 0
check "boilerplate dropped" test "$(q s.db "SELECT count(*) FROM xf_chunks WHERE instr(text, 'About') > 0")" = 0
check "heading path kept" test "$(q s.db "SELECT count(*) FROM xf_chunks WHERE heading = 'Volcanoes > Eruptions' AND text LIKE 'Ash clouds%'")" = 1
check "10 MB line: its paragraph indexed" test "$(q s.db "SELECT count(*) FROM xf_chunks WHERE heading = 'Huge' AND text = 'The only paragraph of the huge page.'")" = 1
check "Latin-1 read as U+FFFD" test "$(q s.db "SELECT count(*) FROM xf_chunks WHERE text LIKE 'caf' || char(65533) || ' cr%'")" = 1
# rerun: nothing to do
run 0 "$X" index --db s.db docs
err_has "0 added, 0 updated, 5 unchanged, 1 skipped"
err_has "0 chunks embedded"
# change one, delete one
printf 'Plain notes about rye bread.\n' >docs/sub/bread.txt
rm docs/rivers.md
run 0 "$X" index --db s.db docs
err_has "0 added, 1 updated, 3 unchanged, 1 skipped, 0 unreadable, 1 removed"
consistent s.db
check "rivers removed" test "$(q s.db "SELECT count(*) FROM xf_documents WHERE path LIKE '%rivers.md'")" = 0
# another chunker re-embeds everything (the settings are part of the hash)
run 0 "$X" index --db s.db --chunker fixed --chunk-tokens 32 --overlap 8 docs
err_has "0 added, 4 updated"
consistent s.db

# ------------------------------------------------------------------------------ searching
run 0 "$X" search --db s.db -k 3 "volcano ash"
out_has " 1. "
out_has "volcano.html"
run 0 "$X" search --db s.db -k 2 --json "bread"
check "--json is JSON with 2 results" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["query"] == "bread" and len(d["results"]) == 2
r = d["results"][0]
assert set(r) == {"rank", "score", "path", "anchor", "heading", "line_start", "line_end", "text", "chunk_id"}
assert r["rank"] == 1 and d["results"][0]["score"] >= d["results"][1]["score"]' "$tmp/out"
printf 'first query\nsecond query\n\ncaf\xe9\n' >queries.txt
run 0 "$X" search --db s.db -k 1 --queries queries.txt
check "--queries: one JSON line per query" python3 -c '
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert len(lines) == 4 and all(len(json.loads(l)["results"]) == 1 for l in lines)' "$tmp/out"
run 1 "$X" search --db s.db --rerank some-cross-encoder "bread"
err_has "not available yet"

# ------------------------------------------------------------- databases that do not fit
cp s.db other.db
python3 -c "import sqlite3; c = sqlite3.connect('other.db'); c.execute(\"UPDATE xf_meta SET value='384' WHERE key='dim'\"); c.commit()"
run 1 "$X" index -m "$tiny" --db other.db docs
err_has "was built with model 'bert' (dimension 384), not 'bert' (dimension 32)"
run 1 "$X" search -m "$tiny" --db other.db "x"
err_has "dimension 384"
printf 'this is not a database at all, only text that fills the header area of a SQLite file.' >junk.db
run 1 "$X" index -m "$tiny" --db junk.db docs
err_has "not a valid SQLite database"
run 1 "$X" search -m "$tiny" --db junk.db "x"
err_has "junk.db"
# read-only: as root the permission bits do not bind, so run as nobody there
cp s.db ro.db
chmod 444 ro.db
as_other() { if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
if [ "$(id -u)" -ne 0 ] || command -v runuser >/dev/null; then
  chmod 755 "$tmp"
  chmod -R a+rX docs
  run 1 as_other "$X" index --db "$tmp/ro.db" "$tmp/docs"
  err_has "read-only"
  run 0 as_other "$X" search --db "$tmp/ro.db" -k 1 "bread"
  out_has " 1. "
fi
# locked: another process holds the write lock
python3 - <<'PY' &
import sqlite3, time
c = sqlite3.connect("s.db", isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open("locked", "w").close()
for _ in range(200):  # until the test is done with it (at most 20 s)
    try:
        open("unlock")
        break
    except OSError:
        time.sleep(0.1)
PY
for _ in $(seq 50); do [ -f locked ] && break; sleep 0.1; done
printf 'new file\n' >docs/new.txt
run 1 "$X" index --db s.db docs
err_has "locked by another process"
touch unlock
wait
rm docs/new.txt

# ------------------------------------------------------------- kill -9 in the middle
mkdir many
# Enough documents that the run is still going when the first commit is seen (the tiny model
# indexes hundreds per 100 ms poll on a fast machine).
N=4000
python3 -c '
import sys
for i in range(int(sys.argv[1])):
    open("many/doc%04d.txt" % i, "w").write("Document %d about topic %d.\n\nMore text on item %d and its parts.\n" % (i, i % 13, i * 7))' "$N"
"$X" index -m "$tiny" --db k.db --batch-size 4 many 2>/dev/null &
pid=$!
for _ in $(seq 300); do # until something is committed
  n=$(q k.db 'SELECT count(*) FROM xf_documents' 2>/dev/null || echo 0)
  [ "${n:-0}" -gt 0 ] && break
  sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
before=$(q k.db 'SELECT count(*) FROM xf_documents')
check "killed mid-run ($before of $N committed)" test "$before" -gt 0 -a "$before" -lt $N
consistent k.db
run 0 "$X" index --db k.db many
err_has "$N files: $((N - before)) added, 0 updated, $before unchanged"
check "all $N documents" test "$(q k.db 'SELECT count(*) FROM xf_documents')" = "$N"
consistent k.db

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
