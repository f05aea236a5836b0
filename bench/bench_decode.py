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
llama-family GGUF weights quantized in the mapping; xfmr_bytes_per_token). --bw (default 47 GB/s; bench/run.py
passes the bandwidth bench_probe measured) gives the fraction of bandwidth each engine's decode
reaches. compare() is the whole comparison for one file, used by bench/run.py, which also
reports peak RSS against the file size + KV cache (gguf_metadata / kv_cache_bytes).

usage: python3 bench/bench_decode.py [--threads 2] [--runs 5] [--prompt 512] [--gen 128]
Needs: build/bench_decode (cmake --build build --target bench_decode) and llama-bench
(bench/build_llamacpp.sh, which builds it under .cache/llamacpp).
"""
import argparse, glob, json, os, statistics, struct, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, loadavg as load, machine, rel, run_child, run_json  # noqa: E402

DEFAULT_MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")


def gguf_metadata(path):
    """The scalar key/values of a GGUF file's header (arrays are skipped), e.g.
    {"general.architecture": "llama", "llama.block_count": 30, ...}."""
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
    with open(path, "rb") as f:
        def rd(fmt):
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        def rstr():
            return f.read(rd("<Q")).decode("utf-8", "replace")

        def value(t):
            if t in scalar:
                return rd(scalar[t])
            if t == 8:
                return rstr()
            if t == 9:
                et, n = rd("<I"), rd("<Q")
                if et in scalar:
                    f.seek(n * struct.calcsize(scalar[et]), 1)
                else:
                    for _ in range(n):
                        value(et)
                return None
            raise ValueError(f"{path}: unknown GGUF value type {t}")

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        rd("<I"), rd("<Q")  # version, tensor count
        meta = {}
        for _ in range(rd("<Q")):
            k = rstr()
            v = value(rd("<I"))
            if v is not None:
                meta[k] = v
    return meta


def kv_cache_bytes(meta, n_ctx, bytes_per_value):
    """K + V cache of n_ctx positions for every layer."""
    arch = meta.get("general.architecture", "llama")
    n_layer = meta[f"{arch}.block_count"]
    n_embd, n_head = meta[f"{arch}.embedding_length"], meta[f"{arch}.attention.head_count"]
    n_kv = meta.get(f"{arch}.attention.head_count_kv", n_head)
    head_dim = meta.get(f"{arch}.attention.key_length", n_embd // n_head)
    return 2 * n_layer * n_ctx * n_kv * head_dim * bytes_per_value


def find_llama_bench():
    hits = sorted(glob.glob(os.path.join(ROOT, ".cache", "llamacpp", "build-*", "bin", "llama-bench")))
    return hits[-1] if hits else None


def run_llama_bench(binary, model, threads, runs, n_prompt, n_gen):
    cmd = [binary, "-m", model, "-p", str(n_prompt), "-n", str(n_gen), "-t", str(threads), "-r", str(runs),
           "-o", "json"]
    out, rss = run_child(cmd)
    tests = json.loads(out)
    res = {"command": " ".join(rel(c) for c in cmd), "tests": tests, "peak_rss_bytes_wait4": rss}
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


def run_xfmr(binary, model, threads, runs, n_prompt, n_gen, weights="stored"):
    cmd = [binary, model, "--threads", str(threads), "--runs", str(runs), "--prompt", str(n_prompt), "--gen",
           str(n_gen), "--text", os.path.join(ROOT, "tests", "data", "corpus.txt"), "--weights", weights]
    return run_json(cmd)


def xfmr_bytes_per_token(xf):
    """Weight bytes one xfmr decode step streams, and on what basis: the F32 copy (4 x n_params)
    when the process held one (peak RSS at least 90 % of it: GGUF dequantized at load), the GGUF's
    own tensor bytes otherwise (quantized blocks kept as stored)."""
    if xf.get("peak_rss_bytes_wait4", 0) >= 0.9 * xf["weight_bytes_f32"]:
        return xf["weight_bytes_f32"], "f32 (dequantized at load)"
    return xf["weight_bytes_file"], "as stored in the GGUF"


def compare(model, threads, runs, n_prompt, n_gen, bw_gb_s, xfmr_bin, llama_bench):
    """llama-bench then bench_decode on one GGUF, same threads / runs / sizes. Returns the result
    dict (both engines' raw results, ratios, bytes per token, GB/s, memory)."""
    load_before = load()
    lc = run_llama_bench(llama_bench, model, threads, runs, n_prompt, n_gen)
    load_mid = load()
    xf = run_xfmr(xfmr_bin, model, threads, runs, n_prompt, n_gen)
    xi = run_xfmr(xfmr_bin, model, threads, runs, n_prompt, n_gen, "int8")  # int8 activations (--weights int8)
    load_after = load()

    # Weight bytes streamed per decode step (see the docstring).
    lc_bytes = lc["model_size"]
    xf_bytes, xf_basis = xfmr_bytes_per_token(xf)
    gbs = lambda b, tps: b * tps / 1e9
    lc_gbs, xf_gbs = gbs(lc_bytes, lc["decode_tok_s"]), gbs(xf_bytes, xf["decode_tok_s"])
    xi_gbs = gbs(xf_bytes, xi["decode_tok_s"])
    meta = gguf_metadata(model)
    file_bytes = os.path.getsize(model)
    # Memory: model file + KV cache (llama-bench: F16 cache of P + G positions; xfmr: F32, n_ctx).
    kv = {"llama_cpp": kv_cache_bytes(meta, n_prompt + n_gen, 2), "xfmr": kv_cache_bytes(meta, xf["n_ctx"], 4)}
    kv["xfmr_int8"] = kv["xfmr"]
    return {"model": rel(model), "threads": threads, "runs": runs, "prompt": n_prompt, "gen": n_gen,
            "llama_cpp": lc, "xfmr": xf, "xfmr_int8": xi,
            "ratio_prefill_xfmr_over_llama_cpp": xf["prefill_tok_s"] / lc["prefill_tok_s"],
            "ratio_decode_xfmr_over_llama_cpp": xf["decode_tok_s"] / lc["decode_tok_s"],
            "ratio_prefill_xfmr_int8_over_llama_cpp": xi["prefill_tok_s"] / lc["prefill_tok_s"],
            "ratio_decode_xfmr_int8_over_llama_cpp": xi["decode_tok_s"] / lc["decode_tok_s"],
            "decode_weight_bytes_per_token": {"llama_cpp": lc_bytes, "xfmr": xf_bytes, "xfmr_int8": xf_bytes,
                                              "xfmr_basis": xf_basis},
            "decode_gb_s": {"llama_cpp": lc_gbs, "xfmr": xf_gbs, "xfmr_int8": xi_gbs}, "bandwidth_gb_s": bw_gb_s,
            "bandwidth_bound_tok_s": {"llama_cpp": bw_gb_s * 1e9 / lc_bytes, "xfmr": bw_gb_s * 1e9 / xf_bytes,
                                      "xfmr_int8": bw_gb_s * 1e9 / xf_bytes},
            "memory": {"file_bytes": file_bytes, "kv_cache_bytes": kv,
                       "peak_rss_bytes": {"llama_cpp": lc["peak_rss_bytes_wait4"], "xfmr": xf["peak_rss_bytes_wait4"],
                                          "xfmr_int8": xi["peak_rss_bytes_wait4"]}},
            "loadavg": {"before": load_before, "between": load_mid, "after": load_after}, "machine": machine()}


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

    res = compare(a.model, a.threads, a.runs, a.prompt, a.gen, a.bw, a.bin, lb)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", f"decode_t{a.threads}.json"), "w") as f:
        json.dump(res, f, indent=2)

    lc, xf, P, G = res["llama_cpp"], res["xfmr"], a.prompt, a.gen
    lc_bytes, xf_bytes = res["decode_weight_bytes_per_token"]["llama_cpp"], res["decode_weight_bytes_per_token"]["xfmr"]
    lc_gbs, xf_gbs = res["decode_gb_s"]["llama_cpp"], res["decode_gb_s"]["xfmr"]
    print(f"| engine | threads | prefill tok/s (pp{P}) | decode tok/s (tg{G}) | decode weight MB/token "
          f"| decode GB/s (% of {a.bw:g}) |")
    print("|---|---|---|---|---|---|")
    print(f"| llama.cpp {lc['build_commit']} | {a.threads} | {lc['prefill_tok_s']:.1f} "
          f"| {lc['decode_tok_s']:.1f} | {lc_bytes / 1e6:.1f} | {lc_gbs:.1f} ({100 * lc_gbs / a.bw:.0f} %) |")
    print(f"| xfmr | {a.threads} | {xf['prefill_tok_s']:.1f} | {xf['decode_tok_s']:.1f} | {xf_bytes / 1e6:.1f} "
          f"| {xf_gbs:.1f} ({100 * xf_gbs / a.bw:.0f} %) |")
    print(f"| **xfmr / llama.cpp** | | **{res['ratio_prefill_xfmr_over_llama_cpp']:.2f}×** "
          f"| **{res['ratio_decode_xfmr_over_llama_cpp']:.2f}×** | {xf_bytes / lc_bytes:.2f}× | |")
    la = res["loadavg"]
    print(f"\nload average (1/5/15 min) before {la['before']}, between {la['between']}, after {la['after']}")


if __name__ == "__main__":
    sys.exit(main())
