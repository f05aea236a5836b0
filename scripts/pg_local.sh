#!/usr/bin/env bash
# pg_local.sh — start / stop a throwaway PostgreSQL with pgvector (from scripts/fetch_pgvector.sh)
# in a folder of its own: data there, listening only on a unix socket in that folder (no TCP).
# PostgreSQL refuses to run as root: as root, the server files are copied into a folder of
# /tmp given to user nobody (DIR itself may not be reachable by nobody), and the server runs as
# nobody; DIR then records where that folder is.
#
# usage: scripts/pg_local.sh start DIR   prints the connection URI (database "xfmr"), exit 0;
#                                        exit 77 when no server can be had (no pgvector build,
#                                        no unprivileged user, ...), with the reason on stderr
#        scripts/pg_local.sh stop DIR    stops it (the caller removes DIR)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
as_user() { if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
skip() { echo "pg_local: $*" >&2; exit 77; }

if [ "$cmd" = stop ]; then
  [ -f "$dir/bin" ] || exit 0
  run=$(cat "$dir/run")
  as_user "$(cat "$dir/bin")/pg_ctl" -D "$run/data" -m immediate -w stop >/dev/null 2>&1
  [ "$run" != "$dir" ] && rm -rf "$run"
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
src=$root/.cache/pgvector
[ -x "$src/pgserver/pginstall/bin/postgres" ] || skip "no PostgreSQL+pgvector build in $src (run scripts/fetch_pgvector.sh)"
mkdir -p "$dir" || skip "cannot create $dir"
run=$dir
bin=$src/pgserver/pginstall/bin
if [ "$(id -u)" -eq 0 ]; then
  command -v runuser >/dev/null || skip "running as root and runuser is missing"
  id nobody >/dev/null 2>&1 || skip "running as root and there is no user 'nobody'"
  run=$(mktemp -d /tmp/xfmr-pg.XXXXXX) || skip "cannot create a folder in /tmp"
  echo "$run" >"$dir/run"
  cp -a "$src/pgserver" "$src/pgserver.libs" "$run/" || skip "cannot copy the server into $run"
  bin=$run/pgserver/pginstall/bin
  chmod 755 "$run"
  chown -R nobody "$run" || skip "cannot give $run to nobody"
fi
echo "$run" >"$dir/run"
echo "$bin" >"$dir/bin"
as_user "$bin/initdb" -D "$run/data" -U xfmr -A trust --no-sync >"$dir/initdb.log" 2>&1 ||
  skip "initdb failed: $(tail -3 "$dir/initdb.log")"
as_user "$bin/pg_ctl" -D "$run/data" -l "$run/server.log" -w -t 30 \
  -o "-k $run -c listen_addresses='' -c fsync=off -c max_connections=20 -c shared_buffers=128MB" start >/dev/null 2>&1 ||
  skip "the server did not start: $(tail -3 "$run/server.log")"
as_user "$bin/createdb" -h "$run" -U xfmr xfmr >/dev/null 2>&1 || skip "createdb failed"
echo "postgresql://xfmr@/xfmr?host=$run"
