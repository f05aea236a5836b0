#!/usr/bin/env python3
"""html_chunking.py — DOM-aware vs fixed-size chunking on real HTML manuals (docs/SEARCH.md).

Fetches the Python 3.11 HTML docs from Debian (scripts/fetch_html_docs.sh), copies PAGES into a
work folder, writes the question set (html_questions.py: from the pages' definitions and
section headings, each with its answering section), indexes the pages once per chunker with
`xfmr index` (same model, same chunk limit) and asks every question with `xfmr search --queries
--json -k 10`. A result is right when it comes from the answer's page and its text contains the
answer's first words (html_questions.py). Prints recall@1, recall@10 and MRR@10 per chunker
and writes them, with the settings, to OUT (JSON).

usage: scripts/eval/html_chunking.py [--xfmr build/xfmr] [-m MODEL] [--out FILE] [--chunk-tokens N]
                                    [--fixed-overlap N] [--work DIR]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = ["os.path", "json", "functools", "shutil", "textwrap", "csv", "random", "math", "heapq", "bisect",
         "tempfile", "hashlib", "string", "urllib.parse", "statistics", "glob", "fnmatch"]


def words(s):
    return " ".join(re.findall(r"[a-z0-9]+", s.lower()))


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xfmr", default=os.path.join(ROOT, "build/xfmr"))
    ap.add_argument("-m", "--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--work", default=os.path.join(ROOT, ".cache/eval_html"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/search_html_chunking.json"))
    ap.add_argument("--chunk-tokens", type=int, default=256, help="both chunkers (256: MiniLM's limit)")
    ap.add_argument("--fixed-overlap", type=int, default=-1, help="default: chunk-tokens / 8")
    ap.add_argument("--max-questions", type=int, default=400)
    a = ap.parse_args()
    if a.fixed_overlap < 0:
        a.fixed_overlap = a.chunk_tokens // 8
    html = subprocess.run([os.path.join(ROOT, "scripts/fetch_html_docs.sh")], check=True, capture_output=True,
                          text=True).stdout.strip()
    pages = os.path.join(a.work, "pages")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(pages)
    for p in PAGES:
        shutil.copy(os.path.join(html, "library", p + ".html"), pages)
    qfile = os.path.join(a.work, "questions.jsonl")
    run([sys.executable, os.path.join(ROOT, "scripts/eval/html_questions.py"), pages, qfile, str(a.max_questions)])
    qs = [json.loads(l) for l in open(qfile)]
    with open(os.path.join(a.work, "queries.txt"), "w") as f:
        for q in qs:
            f.write(q["query"] + "\n")
    results = {"pages": PAGES, "source": open(os.path.join(ROOT, ".cache/htmldocs/.fetched")).read().strip(),
               "model": a.model, "questions": len(qs),
               "kinds": {k: sum(q["kind"] == k for q in qs) for k in ("definition", "section")}, "chunkers": {}}
    size = ["--chunk-tokens", str(a.chunk_tokens)]
    configs = [("dom", size), ("fixed", size + ["--chunker", "fixed", "--overlap", str(a.fixed_overlap)])]
    results["chunk_tokens"] = a.chunk_tokens
    for name, opts in configs:
        db = os.path.join(a.work, name + ".db")
        t0 = time.time()
        run([a.xfmr, "index", "-m", a.model, "--db", db] + opts + [pages], stderr=subprocess.DEVNULL)
        t_index = time.time() - t0
        out = subprocess.run([a.xfmr, "search", "--db", db, "-k", "10", "--queries", os.path.join(a.work, "queries.txt")],
                             check=True, capture_output=True, text=True).stdout.splitlines()
        assert len(out) == len(qs), (len(out), len(qs))
        r1 = r10 = mrr = 0.0
        for q, line in zip(qs, out):
            res = json.loads(line)["results"]
            rank = next((i + 1 for i, r in enumerate(res)
                         if os.path.basename(r["path"]) == q["page"] and q["snippet"] in words(r["text"])), None)
            if rank:
                r10 += 1
                r1 += rank == 1
                mrr += 1.0 / rank
        import sqlite3
        c = sqlite3.connect(db)
        n_chunks, avg_len = c.execute("SELECT count(*), avg(length(text)) FROM xf_chunks").fetchone()
        n = len(qs)
        results["chunkers"][name] = {"options": " ".join(opts) or "(default)", "chunks": n_chunks,
                                     "avg_chunk_chars": round(avg_len, 1), "index_seconds": round(t_index, 1),
                                     "recall@1": round(r1 / n, 4), "recall@10": round(r10 / n, 4),
                                     "mrr@10": round(mrr / n, 4)}
        print(f"{name:6s} chunks {n_chunks:5d}  recall@1 {r1 / n:.3f}  recall@10 {r10 / n:.3f}  MRR@10 {mrr / n:.3f}",
              file=sys.stderr)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
