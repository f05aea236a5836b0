#!/usr/bin/env python3
"""Reference retrieval scores for `xfmr eval --task retrieval`: sentence-transformers' own
InformationRetrievalEvaluator on the same {"query", "doc"} pairs (every doc a candidate for every
query; query i's only relevant doc is doc i), cosine similarity, MRR@10, nDCG@10, recall@1 and
recall@10 (= accuracy@k with one relevant doc).

usage: HF_HUB_OFFLINE=1 python3 scripts/eval_st_retrieval.py PAIRS.jsonl [--model DIR]
           [--golden OUT.json]
Prints the scores as JSON; --golden also writes them, with the versions used, to OUT.json
(tests/data/eval/retrieval_golden.json is made this way from tests/data/eval/debian_pairs_200.jsonl).
Needs torch and sentence-transformers (goldens only: no test imports them).
"""
import argparse
import hashlib
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pairs")
    ap.add_argument("--model", default=os.path.join(os.path.dirname(__file__), "..", "models",
                                                     "all-MiniLM-L6-v2"))
    ap.add_argument("--golden")
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args()

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer
    try:
        from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    except ImportError:  # sentence-transformers < 5
        from sentence_transformers.evaluation import InformationRetrievalEvaluator

    queries, corpus, relevant = {}, {}, {}
    raw = open(a.pairs, "rb").read()
    for i, line in enumerate(l for l in raw.decode("utf-8").split("\n") if l.strip()):
        row = json.loads(line)
        qid, did = "q%07d" % i, "d%07d" % i  # zero-padded: ST breaks ties by ascending id string
        queries[qid], corpus[did], relevant[qid] = row["query"], row["doc"], {did}
    model = SentenceTransformer(os.path.abspath(a.model), device="cpu")
    ev = InformationRetrievalEvaluator(queries, corpus, relevant, mrr_at_k=[10], ndcg_at_k=[10],
                                       accuracy_at_k=[1, 10], precision_recall_at_k=[1, 10],
                                       map_at_k=[10], batch_size=a.batch_size, write_csv=False,
                                       show_progress_bar=False)
    t0 = time.time()
    res = ev(model)
    wall = time.time() - t0

    def pick(suffix):
        keys = [k for k in res if k.endswith("cosine_" + suffix)]
        if len(keys) != 1:
            sys.exit(f"eval_st_retrieval: no unique '{suffix}' in {sorted(res)}")
        return float(res[keys[0]])

    out = {
        "pairs": os.path.basename(a.pairs),
        "pairs_sha256": hashlib.sha256(raw).hexdigest(),
        "n_queries": len(queries),
        "model": os.path.basename(os.path.normpath(a.model)),
        "max_seq_length": model.max_seq_length,
        "metrics": {"mrr@10": pick("mrr@10"), "ndcg@10": pick("ndcg@10"),
                    "recall@1": pick("recall@1"), "recall@10": pick("recall@10")},
        "wall_s": round(wall, 2),
        "versions": {"sentence_transformers": sentence_transformers.__version__,
                     "torch": torch.__version__},
        "generator": "scripts/eval_st_retrieval.py (InformationRetrievalEvaluator, cosine)",
    }
    print(json.dumps(out, indent=2))
    if a.golden:
        with open(a.golden, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
