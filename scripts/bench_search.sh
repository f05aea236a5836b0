#!/usr/bin/env bash
# bench_search.sh — the search stores at 10K, 100K and 1M chunks of synthetic 384-d vectors
# (bench/bench_search.c; no model): SQLite exact scan vs PostgreSQL+pgvector HNSW (and exact),
# insert throughput, HNSW build time, cold first query, warm query latency p50/p99, and HNSW
# recall@10 against the SQLite exact results of the same vectors. JSON lines to
# bench/results/search_scale.jsonl; the table is in docs/SEARCH.md.
#
# usage: scripts/bench_search.sh [SIZES...]        (default: 10000 100000 1000000)
#   PG_MAX=N   largest size also run on PostgreSQL (default 100000: above that the row-by-row
#              load and the HNSW build take hours on a 2-core machine)
#   QUERIES=N  queries per run (default 200)
#   BENCH_SEARCH=PATH  the bench_search binary (default build/bench_search)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
b=${BENCH_SEARCH:-$root/build/bench_search}
[ -x "$b" ] || { echo "bench_search: build it first (cmake --build build --target bench_search)" >&2; exit 1; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
pg_max=${PG_MAX:-100000}
nq=${QUERIES:-200}
out=$root/bench/results/search_scale.jsonl
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap '"$root/scripts/pg_local.sh" stop "$tmp/pg" 2>/dev/null; rm -rf "$tmp"' EXIT
uri=""
if "$root/scripts/fetch_pgvector.sh" >/dev/null; then
  uri=$("$root/scripts/pg_local.sh" start "$tmp/pg") || uri=""
fi
isa=$(grep -o -w -E 'avx2|avx512f|avx512_vnni|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo "# $(date -u +%FT%TZ) $(nproc) cores, ISA: $isa" | tee -a "$out"
for n in "${sizes[@]}"; do
  rm -f "$tmp/s.db"
  "$b" --db "$tmp/s.db" --n "$n" --queries "$nq" --truth-out "$tmp/truth.bin" | tee -a "$out"
  if [ -n "$uri" ] && [ "$n" -le "$pg_max" ]; then
    "$b" --db "$uri" --n "$n" --queries "$nq" --truth "$tmp/truth.bin" | tee -a "$out"
    "$b" --db "$uri" --n "$n" --queries "$nq" --exact --no-load --truth "$tmp/truth.bin" | tee -a "$out"
  fi
done
