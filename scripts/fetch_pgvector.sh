#!/usr/bin/env bash
# fetch_pgvector.sh — a PostgreSQL server with the pgvector extension for the search tests and
# benchmarks, from the PyPI package pgserver (Debian 12 has no pgvector package). Its wheel
# carries a relocatable PostgreSQL 16.2 build (pgserver/pginstall: bin/initdb, pg_ctl,
# postgres, lib/postgresql/vector.so = pgvector 0.6.2, with HNSW) and the libraries it links
# (pgserver.libs). Nothing of its Python code is used. The wheel is downloaded with
# `pip download --no-deps` into .cache/wheels, its sha256 checked, and the server unpacked to
# .cache/pgvector (execute bits kept). Prints the bin folder.
#
# usage: scripts/fetch_pgvector.sh          (then: scripts/pg_local.sh start DIR)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.cache/wheels
dest=$root/.cache/pgvector
req=pgserver==0.1.4
whl=pgserver-0.1.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
sha=d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813

if [ "$(uname -m)" != x86_64 ]; then
  echo "fetch_pgvector: only the x86_64 Linux wheel is pinned here" >&2
  exit 1
fi
if [ -f "$dest/.fetched" ] && [ "$(cat "$dest/.fetched")" = "$sha" ]; then
  echo "$dest/pgserver/pginstall/bin"
  exit 0
fi
mkdir -p "$cache"
if [ ! -f "$cache/$whl" ]; then
  echo "fetch_pgvector: downloading $req from PyPI ..." >&2
  # The server binaries do not depend on the Python version: ask for the cp311 wheel whatever
  # python3 this is.
  if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux2014_x86_64 --dest "$cache" "$req" >&2; then
    echo "fetch_pgvector: could not download $req. Are you offline? Copy $whl into $cache and re-run." >&2
    exit 1
  fi
fi
got=$(sha256sum "$cache/$whl" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "fetch_pgvector: sha256 mismatch for $cache/$whl: expected $sha, got $got; delete it and re-run" >&2
  exit 1
fi
rm -rf "$dest"
mkdir -p "$dest"
python3 - "$cache/$whl" "$dest" <<'PY'
import os, sys, zipfile
whl, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        name = info.filename
        if not (name.startswith("pgserver/pginstall/") or name.startswith("pgserver.libs/")) or info.is_dir():
            continue
        if name.startswith("/") or ".." in name.split("/"):
            sys.exit(f"unsafe path in wheel: {name}")
        out = os.path.join(dst, name)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(info) as src, open(out, "wb") as f:
            f.write(src.read())
        mode = (info.external_attr >> 16) & 0o777
        os.chmod(out, mode if mode else 0o644)
PY
test -x "$dest/pgserver/pginstall/bin/postgres" && test -f "$dest/pgserver/pginstall/lib/postgresql/vector.so" || {
  echo "fetch_pgvector: the wheel did not hold bin/postgres and lib/postgresql/vector.so" >&2
  exit 1
}
echo "$sha" >"$dest/.fetched"
echo "$dest/pgserver/pginstall/bin"
