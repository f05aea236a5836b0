#!/usr/bin/env python3
"""Build the Debian retrieval pairs of `xfmr eval --task retrieval` (docs/EVAL.md).

Input: what `scripts/fetch_eval_data.sh` gets from the Debian archive with apt:
  --dump FILE          `apt-cache dumpavail` (one stanza per package: Package, Source,
                       Description-md5, ...)
  --translation FILE   a Translation-en index (decompressed), repeatable: the long
                       descriptions, keyed by package name and Description-md5
  --release FILE       an InRelease file, repeatable: its Origin/Suite/Date go into the manifest

A pair is {"package", "query", "doc"}: the query is the package's one-line synopsis, the doc its
long description (Debian's continuation-line format undone: the leading space removed, " ."
lines made empty). Rules, applied in this order:
  1. a package whose Description-md5 has no English long description is dropped;
  2. one package per source package (the binary package named like the source if there is one,
     else the first by name), so that the -dev / -doc / library siblings that share one long
     description do not compete with each other;
  3. trivial entries are dropped: a synopsis of fewer than 3 words, a long description of fewer
     than 30 words, and "transitional" / "dummy" packages;
  4. a synopsis or a long description that occurs more than once (compared case-folded, with
     whitespace collapsed) is dropped everywhere it occurs (the query would be ambiguous);
  5. the pool is sorted by package name and --n pairs are drawn with random.Random(--seed)
     .sample, then written sorted by package name.
--subset K writes K pairs drawn from those (random.Random(--seed + 1)), also sorted, for the
frozen test set. The manifest records the source files' sha256 and Release dates, the counts
after each rule, and the sha256 of every file written.
"""
import argparse
import hashlib
import json
import random
import re
import sys


def stanzas(path):
    """Yield dicts of the RFC-822-style stanzas of an apt index (continuation lines joined
    with '\\n', their leading space kept)."""
    cur, key = {}, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                if cur:
                    yield cur
                cur, key = {}, None
            elif line[0] in " \t" and key:
                cur[key] += "\n" + line
            else:
                k, _, v = line.partition(":")
                key = k
                cur[k] = v.strip()
    if cur:
        yield cur


def long_description(text):
    """Description-en value -> (synopsis, long description as plain text)."""
    first, _, rest = text.partition("\n")
    lines = []
    for ln in rest.split("\n"):
        ln = ln[1:] if ln.startswith(" ") else ln
        lines.append("" if ln == "." else ln.rstrip())
    return first.strip(), "\n".join(lines).strip()


def norm(s):
    return " ".join(s.casefold().split())


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def release_info(path):
    info = {"file": path.rsplit("/", 1)[-1]}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            for k in ("Origin", "Suite", "Codename", "Date"):
                if line.startswith(k + ":"):
                    info[k.lower()] = line.split(":", 1)[1].strip()
            if line.startswith(("MD5Sum:", "SHA256:")):
                break
    return info


TRIVIAL = re.compile(r"\b(transitional|dummy)\b", re.IGNORECASE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", required=True)
    ap.add_argument("--translation", action="append", required=True)
    ap.add_argument("--release", action="append", default=[])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--subset", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--subset-out")
    ap.add_argument("--manifest", required=True)
    a = ap.parse_args()

    desc = {}  # (package, md5) -> Description-en
    for t in a.translation:
        for st in stanzas(t):
            if "Package" in st and "Description-md5" in st and "Description-en" in st:
                desc[(st["Package"], st["Description-md5"])] = st["Description-en"]

    counts = {}
    entries = []  # (package, source, synopsis, doc)
    n_packages = 0
    for st in stanzas(a.dump):
        if "Package" not in st:
            continue
        n_packages += 1
        d = desc.get((st["Package"], st.get("Description-md5", "")))
        if d is None:
            continue
        syn, doc = long_description(d)
        source = st.get("Source", st["Package"]).split(" ")[0]
        entries.append((st["Package"], source, syn, doc))
    counts["packages"] = n_packages
    counts["with_long_description"] = len(entries)

    by_source = {}
    for e in sorted(entries):
        pkg, src = e[0], e[1]
        best = by_source.get(src)
        if best is None or (pkg == src and best[0] != src):
            by_source[src] = e
    entries = sorted(by_source.values())
    counts["one_per_source"] = len(entries)

    entries = [e for e in entries
               if len(e[2].split()) >= 3 and len(e[3].split()) >= 30
               and not TRIVIAL.search(e[2]) and not TRIVIAL.search(e[3])]
    counts["not_trivial"] = len(entries)

    nq, nd = {}, {}
    for e in entries:
        nq[norm(e[2])] = nq.get(norm(e[2]), 0) + 1
        nd[norm(e[3])] = nd.get(norm(e[3]), 0) + 1
    pool = [e for e in entries if nq[norm(e[2])] == 1 and nd[norm(e[3])] == 1]
    counts["unique"] = len(pool)
    if len(pool) < a.n:
        sys.exit(f"make_eval_pairs: only {len(pool)} pairs qualify, {a.n} asked")

    chosen = sorted(random.Random(a.seed).sample(pool, a.n))
    subset = sorted(random.Random(a.seed + 1).sample(chosen, a.subset)) if a.subset else []

    def write(path, rows):
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for pkg, _, syn, doc in rows:
                f.write(json.dumps({"package": pkg, "query": syn, "doc": doc},
                                   ensure_ascii=False) + "\n")
        return {"path": path.rsplit("/", 1)[-1], "pairs": len(rows), "sha256": sha256_file(path)}

    outputs = [write(a.out, chosen)]
    if subset and a.subset_out:
        outputs.append(write(a.subset_out, subset))
    manifest = {
        "generator": "scripts/make_eval_pairs.py",
        "seed": a.seed,
        "n": a.n,
        "subset": a.subset,
        "releases": [release_info(r) for r in a.release],
        "sources": [{"file": p.rsplit("/", 1)[-1], "sha256": sha256_file(p)}
                    for p in [a.dump] + a.translation],
        "counts": counts,
        "outputs": outputs,
    }
    with open(a.manifest, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    for o in outputs:
        print(f"make_eval_pairs: {o['pairs']} pairs -> {o['path']} (sha256 {o['sha256']})")
    print("make_eval_pairs: counts " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
