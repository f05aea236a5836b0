#!/usr/bin/env bash
# fetch_html_docs.sh — real HTML manuals for the search evaluation and examples: the Python 3.11
# documentation as Debian packages it (python3.11-doc, Sphinx HTML installed under
# /usr/share/doc/python3.11/html). The .deb is downloaded with `apt-get download` (no install,
# no root needed beyond apt's lists), its sha256 checked against the Packages index by apt, and
# unpacked with dpkg -x into .cache/htmldocs. Prints the html folder.
#
# usage: scripts/fetch_html_docs.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.cache/htmldocs
pkg=python3.11-doc
html=$dest/usr/share/doc/python3.11/html
if [ -f "$dest/.fetched" ] && [ -d "$html/library" ]; then
  echo "$html"
  exit 0
fi
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1); then
  echo "fetch_html_docs: 'apt-get download $pkg' failed; run 'apt-get update' first (or copy the .deb into $tmp)" >&2
  exit 1
fi
deb=$(ls "$tmp"/*.deb)
dpkg -x "$deb" "$dest"
dpkg-deb -f "$deb" Version >"$dest/.fetched"
echo "$html"
