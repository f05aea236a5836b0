#!/usr/bin/env python3
"""search_mrr.py — does `xfmr index` + `xfmr search` rank documents as `xfmr eval` does?

On a retrieval development set of {"query", "doc"} pairs (JSON lines; the Debian package
descriptions of scripts/fetch_eval_data.sh, .cache/eval/), every distinct document is written to
a file and indexed (`xfmr index`, plain text, one SQLite file), every query searched
(`xfmr search --queries --json -k 50`); a document's rank is the rank of its first chunk among
the results, and MRR@10 is computed over the pairs. The reference MRR@10 is `xfmr eval --task
retrieval` on the same pairs when that command exists, else the same brute-force computation
from `xfmr embed` vectors (every query against every document, cosine, numpy). A document
longer than the model's limit is one truncated vector for the reference but several chunks in
the index, so the script also reports both numbers on the pairs whose document is one chunk,
where they must agree (to float rounding of ties).

usage: scripts/eval/search_mrr.py [--pairs FILE] [--xfmr build/xfmr] [-m MODEL] [--limit N]
       (default pairs: .cache/eval/debian/pairs.jsonl; a frozen 200-pair subset is
       tests/data/eval/debian_pairs_200.jsonl)
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mrr_at_10(ranks):
    return sum(1.0 / r for r in ranks if r and r <= 10) / max(len(ranks), 1)


def reference_embed(xfmr, model, work, queries, docs):
    import numpy as np

    def embed(texts, name):
        path = os.path.join(work, name + ".txt")
        with open(path, "w") as f:
            for t in texts:
                f.write(" ".join(t.split()) + "\n")
        out = os.path.join(work, name + ".npy")
        subprocess.run([xfmr, "embed", "-m", model, "--format", "npy", "-o", out, path], check=True)
        v = np.load(out)
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    return embed(queries, "queries") @ embed(docs, "docs").T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs")
    ap.add_argument("--xfmr", default=os.path.join(ROOT, "build/xfmr"))
    ap.add_argument("-m", "--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--work", default=os.path.join(ROOT, ".cache/eval_mrr"))
    ap.add_argument("--limit", type=int, default=0, help="use the first N pairs (0 = all)")
    a = ap.parse_args()
    pairs_file = a.pairs or os.path.join(ROOT, ".cache/eval/debian/pairs.jsonl")
    if not os.path.exists(pairs_file):
        sys.exit("search_mrr: no pairs at %s (run scripts/fetch_eval_data.sh, or give --pairs FILE; "
                 "tests/data/eval/debian_pairs_200.jsonl is a frozen subset)" % pairs_file)
    pairs = [json.loads(l) for l in open(pairs_file) if l.strip()]
    if a.limit:
        pairs = pairs[:a.limit]
    docs = sorted({p["doc"] for p in pairs})
    doc_id = {d: i for i, d in enumerate(docs)}
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(os.path.join(a.work, "docs"))
    for d, i in doc_id.items():
        with open(os.path.join(a.work, "docs", "%06d.txt" % i), "w") as f:
            f.write(d)
    db = os.path.join(a.work, "index.db")
    subprocess.run([a.xfmr, "index", "-m", a.model, "--db", db, os.path.join(a.work, "docs")], check=True)
    with open(os.path.join(a.work, "queries.txt"), "w") as f:
        for p in pairs:
            f.write(" ".join(p["query"].split()) + "\n")
    out = subprocess.run([a.xfmr, "search", "--db", db, "-k", "50", "--queries", os.path.join(a.work, "queries.txt")],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    ranks = []
    for p, line in zip(pairs, out):
        seen, rank = [], None
        for r in json.loads(line)["results"]:
            i = int(os.path.basename(r["path"])[:-4])
            if i not in seen:
                seen.append(i)
            if i == doc_id[p["doc"]]:
                rank = len(seen)
                break
        ranks.append(rank)
    n_chunks = dict(sqlite3.connect(db).execute(
        "SELECT substr(path, -10, 6), n_chunks FROM xf_documents").fetchall())
    one = [k for k, p in enumerate(pairs) if n_chunks.get("%06d" % doc_id[p["doc"]], 0) == 1]
    res = {"pairs": len(pairs), "docs": len(docs), "pairs_one_chunk": len(one), "pairs_file": pairs_file,
           "model": a.model, "index_search_mrr@10": round(mrr_at_10(ranks), 4),
           "index_search_mrr@10_one_chunk": round(mrr_at_10([ranks[k] for k in one]), 4)}
    has_eval = subprocess.run([a.xfmr, "eval", "--help"], capture_output=True).returncode == 0
    if has_eval:
        out_json = os.path.join(a.work, "eval.json")
        src = pairs_file
        if a.limit:
            src = os.path.join(a.work, "pairs.jsonl")
            with open(src, "w") as f:
                for p in pairs:
                    f.write(json.dumps(p) + "\n")
        subprocess.run([a.xfmr, "eval", "-m", a.model, "--task", "retrieval", "--pairs", src, "--json", out_json],
                       check=True, stdout=subprocess.DEVNULL)
        res["reference"] = "xfmr eval --task retrieval"
        res["reference_mrr@10"] = json.load(open(out_json))["tasks"]["retrieval"]["metrics"]["mrr@10"]
    else:
        import numpy as np
        s = reference_embed(a.xfmr, a.model, a.work, [p["query"] for p in pairs], docs)
        gold = np.array([doc_id[p["doc"]] for p in pairs])
        # rank = 1 + documents scoring strictly higher than the right one
        rr = 1 + (s > s[np.arange(len(pairs)), gold][:, None]).sum(axis=1)
        res["reference"] = "xfmr embed + brute-force cosine (xfmr eval not available in this build)"
        res["reference_mrr@10"] = round(mrr_at_10(list(rr)), 4)
        res["reference_mrr@10_one_chunk"] = round(mrr_at_10([rr[k] for k in one]), 4)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
