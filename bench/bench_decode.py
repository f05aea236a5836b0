#!/usr/bin/env python3
"""bench_decode.py — prefill and decode tokens/s of xfmr vs llama.cpp (llama-bench) on the same
GGUF file, same thread count and number of runs, measured in the same run; prints a Markdown table
with the ratios xfmr / llama.cpp and writes bench/results/decode_t<threads>.json.

  llama.cpp: llama-bench -m GGUF -p P -n G -t THREADS -r RUNS -o json   (pp<P> and tg<G> tests)
  xfmr:      build/bench_decode GGUF --prompt P --gen G --threads THREADS --runs RUNS

Both report the median of RUNS timed runs after a warm-up, model load excluded. Prefill: one pass
over P prompt tokens from an empty KV cache. Decode: G single-token steps from an empty KV cache
(context 0..G-1). llama-bench feeds random token ids, bench_decode the tokenized
tests/data/corpus.txt; a dense forward pass costs the same whatever the ids.

The decode table columns "weight bytes/token" and "GB/s" count the weight bytes a decode step
streams from memory (every layer matrix + the output head; the embedding lookup reads one row):
the GGUF's tensor bytes for both engines, which both run on the quantized blocks (xfmr keeps
llama-family GGUF weights quantized in the mapping since its qmatmul kernels). --bw (default 47 GB/s, this machine's measured
memory bandwidth) gives the fraction of bandwidth each engine's decode reaches.

usage: python3 bench/bench_decode.py [--threads 2] [--runs 5] [--prompt 512] [--gen 128]
Needs: build/bench_decode (cmake --build build --target bench_decode) and llama-bench
(bench/build_llamacpp.sh, which builds it under .cache/llamacpp).
"""
import argparse, glob, json, os, platform, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")


def find_llama_bench():
    hits = sorted(glob.glob(os.path.join(ROOT, ".cache", "llamacpp", "build-*", "bin", "llama-bench")))
    return hits[-1] if hits else None


def load():
    return [round(x, 2) for x in os.getloadavg()]


def run_llama_bench(binary, model, threads, runs, n_prompt, n_gen):
    cmd = [binary, "-m", model, "-p", str(n_prompt), "-n", str(n_gen), "-t", str(threads), "-r", str(runs),
           "-o", "json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    tests = json.loads(out)
    res = {"command": " ".join(cmd[1:]), "tests": tests}
    for t in tests:
        key = "prefill" if t["n_gen"] == 0 else "decode"
        res[key + "_tok_s"] = statistics.median(t["samples_ts"])
        res[key + "_tok_s_mean"] = t["avg_ts"]
    first = tests[0]
    res["build_commit"] = first.get("build_commit")
    res["binary"] = os.path.relpath(binary, ROOT)  # .cache/llamacpp/build-<sdist>/bin/llama-bench
    res["model_size"] = first.get("model_size")
    res["model_n_params"] = first.get("model_n_params")
    res["cpu_info"] = first.get("cpu_info")
    return res


def run_xfmr(binary, model, threads, runs, n_prompt, n_gen):
    cmd = [binary, model, "--threads", str(threads), "--runs", str(runs), "--prompt", str(n_prompt), "--gen",
           str(n_gen), "--text", os.path.join(ROOT, "tests", "data", "corpus.txt")]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res = json.loads(out)
    res["command"] = " ".join(cmd[1:])
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--bw", type=float, default=47.0, help="memory bandwidth in GB/s (default 47)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench_decode"))
    ap.add_argument("--llama-bench", default=None, help="default: .cache/llamacpp/build-*/bin/llama-bench")
    a = ap.parse_args()
    lb = a.llama_bench or find_llama_bench()
    if not lb or not os.path.exists(lb):
        sys.exit("bench_decode.py: llama-bench not found; run bench/build_llamacpp.sh or pass --llama-bench")
    if not os.path.exists(a.bin):
        sys.exit(f"bench_decode.py: {a.bin} not found; cmake --build build --target bench_decode")

    load_before = load()
    lc = run_llama_bench(lb, a.model, a.threads, a.runs, a.prompt, a.gen)
    load_mid = load()
    xf = run_xfmr(a.bin, a.model, a.threads, a.runs, a.prompt, a.gen)
    load_after = load()

    # Weight bytes streamed per decode step (see the docstring).
    lc_bytes = lc["model_size"]
    xf_bytes = xf["weight_bytes_file"]
    gbs = lambda b, tps: b * tps / 1e9
    lc_gbs, xf_gbs = gbs(lc_bytes, lc["decode_tok_s"]), gbs(xf_bytes, xf["decode_tok_s"])
    r_pre = xf["prefill_tok_s"] / lc["prefill_tok_s"]
    r_dec = xf["decode_tok_s"] / lc["decode_tok_s"]

    res = {"model": os.path.relpath(a.model, ROOT), "threads": a.threads, "runs": a.runs, "prompt": a.prompt,
           "gen": a.gen, "llama_cpp": lc, "xfmr": xf,
           "ratio_prefill_xfmr_over_llama_cpp": r_pre, "ratio_decode_xfmr_over_llama_cpp": r_dec,
           "decode_weight_bytes_per_token": {"llama_cpp": lc_bytes, "xfmr": xf_bytes},
           "decode_gb_s": {"llama_cpp": lc_gbs, "xfmr": xf_gbs}, "bandwidth_gb_s": a.bw,
           "loadavg": {"before": load_before, "between": load_mid, "after": load_after},
           "machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
           "date": time.strftime("%Y-%m-%d %H:%M")}
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", f"decode_t{a.threads}.json"), "w") as f:
        json.dump(res, f, indent=2)

    P, G = a.prompt, a.gen
    print(f"| engine | threads | prefill tok/s (pp{P}) | decode tok/s (tg{G}) | decode weight MB/token "
          f"| decode GB/s (% of {a.bw:g}) |")
    print("|---|---|---|---|---|---|")
    print(f"| llama.cpp {lc['build_commit']} | {a.threads} | {lc['prefill_tok_s']:.1f} "
          f"| {lc['decode_tok_s']:.1f} | {lc_bytes / 1e6:.1f} | {lc_gbs:.1f} ({100 * lc_gbs / a.bw:.0f} %) |")
    print(f"| xfmr | {a.threads} | {xf['prefill_tok_s']:.1f} | {xf['decode_tok_s']:.1f} | {xf_bytes / 1e6:.1f} "
          f"| {xf_gbs:.1f} ({100 * xf_gbs / a.bw:.0f} %) |")
    print(f"| **xfmr / llama.cpp** | | **{r_pre:.2f}×** | **{r_dec:.2f}×** | {xf_bytes / lc_bytes:.2f}× | |")
    print(f"\nload average (1/5/15 min) before {load_before}, between {load_mid}, after {load_after}")


if __name__ == "__main__":
    sys.exit(main())
