#!/usr/bin/env python3
"""bench_embed.py — sentences per second of xfmr vs sentence-transformers (PyTorch) on the golden
corpus, same model, same thread count, measured in the same run; prints a Markdown table and
writes bench/results/embed_t<threads>_b<batch>.json. bench/run.py uses its functions (and ONNX
Runtime from bench_ort.py) for the full comparison.

usage: python3 bench/bench_embed.py [--threads 2] [--batch 32] [--runs 5] [--weights fp32|int8|bf16]
                                   [--st-dtype fp32|bf16]
       python3 bench/bench_embed.py --engine st ...   (sentence-transformers only, one JSON line:
                                                        how run.py runs it in its own process)
Batch 1 means one call per text (the latency case), for both engines.
Needs: sentence-transformers + torch (pip install -r bench/requirements.txt), the model fetched
(scripts/fetch_models.sh) and build/bench_embed (cmake --build build --target bench_embed).
"""
import argparse, json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BUILD, CORPUS, MINILM, RESULTS, machine, median, read_lines, run_json, self_peak_rss  # noqa: E402


def timed_runs(fn, lines, batch, runs):
    """Times fn over all lines `runs` times: fn(list_of_texts) per call; batch 1 = one call per
    text, otherwise one call over all lines (fn batches internally). Returns the result dict, with
    the process's CPU seconds per run too (all its threads: at 1 thread, what the run would take alone
    on a shared machine)."""
    secs, cpus = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        if batch == 1:
            for line in lines:
                fn([line])
        else:
            fn(lines)
        secs.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    med = median(secs)
    return {"texts": len(lines), "batch": batch, "seconds": [round(s, 4) for s in secs], "median_s": med,
            "texts_per_s": len(lines) / med, "mean_latency_ms": 1e3 * med / len(lines),
            "cpu_seconds": [round(c, 4) for c in cpus], "median_cpu_s": median(cpus)}


def st_model(model_dir, threads, dtype="fp32"):
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(threads)
    m = SentenceTransformer(model_dir, device="cpu")
    return m.to(torch.bfloat16) if dtype == "bf16" else m


def bench_st(model_dir, lines, threads, batch, runs, dtype="fp32"):
    """sentence-transformers' encode() over lines (in this process); dtype bf16: the model's weights
    in bfloat16 (PyTorch's oneDNN bf16 kernels, AMX / AVX512_BF16 where the CPU has them)."""
    import sentence_transformers, torch
    m = st_model(model_dir, threads, dtype)
    enc = lambda texts: m.encode(texts, batch_size=batch, convert_to_tensor=True, show_progress_bar=False)
    enc(lines[:64])  # warm-up
    res = timed_runs(enc, lines, batch, runs)
    res.update({"engine": "sentence-transformers" + (" bf16" if dtype == "bf16" else ""), "threads": threads,
                "torch": torch.__version__, "sentence_transformers": sentence_transformers.__version__,
                "peak_rss_bytes": self_peak_rss()})
    return res


def run_xfmr(corpus, threads, batch, runs, weights="fp32", model=MINILM, binary=None, isa=None):
    """build/bench_embed in a child process; its JSON plus the child's peak RSS. isa (avx2, scalar):
    run with XF_ISA set, the kernels of that ISA (a proxy for machines that lack the higher one)."""
    binary = binary or os.path.join(BUILD, "bench_embed")
    env = dict(os.environ, XF_ISA=isa) if isa else None
    res = run_json([binary, model, corpus, str(threads), str(batch), str(runs), weights], env=env)
    res["engine"] = f"xfmr {weights}" + (f" ({isa})" if isa else "")
    res["mean_latency_ms"] = 1e3 * res["median_s"] / res["texts"]
    return res


def run_st_child(corpus, threads, batch, runs, model=MINILM, dtype="fp32"):
    """bench_st in its own Python process (own thread settings, own peak RSS)."""
    return run_json([sys.executable, os.path.abspath(__file__), "--engine", "st", "--model", model, "--corpus", corpus,
                     "--threads", str(threads), "--batch", str(batch), "--runs", str(runs), "--st-dtype", dtype])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=MINILM)
    ap.add_argument("--corpus", default=CORPUS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--weights", choices=["fp32", "int8", "bf16"], default="fp32")
    ap.add_argument("--st-dtype", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--engine", choices=["both", "st"], default="both")
    ap.add_argument("--bin", default=os.path.join(BUILD, "bench_embed"))
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    lines = read_lines(a.corpus)
    if a.engine == "st":
        print(json.dumps(bench_st(a.model, lines, a.threads, a.batch, a.runs, a.st_dtype)))
        return 0
    if not os.path.exists(a.bin):
        sys.exit(f"bench_embed.py: {a.bin} not found; cmake --build build --target bench_embed")
    xf = run_xfmr(a.corpus, a.threads, a.batch, a.runs, a.weights, a.model, a.bin)
    st = run_st_child(a.corpus, a.threads, a.batch, a.runs, a.model, a.st_dtype)
    ratio = xf["texts_per_s"] / st["texts_per_s"]
    res = {"model": os.path.basename(a.model), "texts": len(lines), "threads": a.threads, "batch": a.batch,
           "runs": a.runs, "xfmr": xf, "sentence_transformers": st, "ratio_xfmr_over_st": ratio, "machine": machine()}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"embed_t{a.threads}_b{a.batch}.json"), "w") as f:
        json.dump(res, f, indent=2)
    print(f"| engine | threads | batch | texts/s (median of {a.runs}) | ratio |")
    print("|---|---|---|---|---|")
    print(f"| sentence-transformers {st['torch']} | {a.threads} | {a.batch} | {st['texts_per_s']:.1f} | 1.00 |")
    print(f"| xfmr {a.weights} | {a.threads} | {a.batch} | {xf['texts_per_s']:.1f} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
