#!/usr/bin/env python3
"""bench_embed.py — sentences per second of xfmr vs sentence-transformers (PyTorch) on the golden
corpus, same model, same thread count, measured in the same run; prints a Markdown table and
writes bench/results/embed.json.

usage: python3 bench/bench_embed.py [--threads 2] [--batch 32] [--runs 5]
Needs: sentence-transformers + torch (pip), the model fetched (scripts/fetch_models.sh) and
build/bench_embed (cmake --build build --target bench_embed).
"""
import argparse, json, os, platform, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_st(model_dir, lines, threads, batch, runs):
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(threads)
    m = SentenceTransformer(model_dir, device="cpu")
    m.encode(lines[:64], batch_size=batch)  # warm-up
    secs = []
    for _ in range(runs):
        t0 = time.perf_counter()
        m.encode(lines, batch_size=batch, convert_to_numpy=True)
        secs.append(time.perf_counter() - t0)
    return {"seconds": secs, "median_s": statistics.median(secs), "texts_per_s": len(lines) / statistics.median(secs),
            "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests", "data", "corpus.txt"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench_embed"))
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with open(a.corpus, "rb") as f:
        raw = f.read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    lines = [l.decode("utf-8", "replace") for l in raw]
    out = subprocess.run([a.bin, a.model, a.corpus, str(a.threads), str(a.batch), str(a.runs)],
                         check=True, capture_output=True, text=True).stdout
    xf = json.loads(out)
    st = bench_st(a.model, lines, a.threads, a.batch, a.runs)
    ratio = xf["texts_per_s"] / st["texts_per_s"]
    res = {"model": os.path.basename(a.model), "texts": len(lines), "threads": a.threads, "batch": a.batch,
           "runs": a.runs, "xfmr": xf, "sentence_transformers": st, "ratio_xfmr_over_st": ratio,
           "machine": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d")}
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", f"embed_t{a.threads}_b{a.batch}.json"), "w") as f:
        json.dump(res, f, indent=2)
    print(f"| engine | threads | batch | texts/s (median of {a.runs}) | ratio |")
    print("|---|---|---|---|---|")
    print(f"| sentence-transformers {st['torch']} | {a.threads} | {a.batch} | {st['texts_per_s']:.1f} | 1.00 |")
    print(f"| xfmr | {a.threads} | {a.batch} | {xf['texts_per_s']:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
