#!/usr/bin/env python3
"""run.py — the whole benchmark in one command: machine limits, GEMM, sentence embeddings and
decoder prefill/decode, xfmr against its peers, every engine on the same inputs and thread count
in the same run, medians of --runs runs; each figure also as a share of this machine's limits.

  python3 bench/run.py [--runs 5] [--threads 1,2] [--only probe,gemm,embed,decode,load] [--quick]
                       [--gguf A.gguf,B.gguf] [--batches 1,32] [--xfmr-isa avx2]

Parts (--only picks some; the percentages need probe, which runs whenever gemm/decode/embed do):
  probe   build/bench_probe: fp32 FMA peak GFLOP/s and read bandwidth GB/s, 1 and N threads
  gemm    build/bench_gemm: the library's fp32 GEMM GFLOP/s on large shapes, % of FMA peak
  embed   all-MiniLM-L6-v2 on tests/data/corpus.txt (1,552 texts) at batch 1 (one call per text)
          and 32: xfmr fp32, int8 and bf16 (build/bench_embed; bf16 where the CPU has
          AVX512_BF16), sentence-transformers (PyTorch) in fp32 and bf16 (its fastest CPU setting on
          BF16/AMX machines), ONNX Runtime fp32 and dynamic int8 (bench/bench_ort.py); texts/s,
          ms per text, peak RSS
  decode  GGUF files (default: SmolLM2-135M Q4_1, Q8_0 and Q4_K_M, Qwen2.5-Coder-1.5B Q4_K_M;
          missing ones are skipped with the command that makes them): llama.cpp llama-bench
          pp512/tg128 (its defaults, which repack Q4_0 / Q4_K / IQ4_NL weights for the CPU at load)
          vs build/bench_decode (bench/bench_decode.py); tok/s, decode GB/s as % of the probe's
          bandwidth, the bandwidth-bound tok/s, peak RSS
  load    bench/bench_load.py: `xfmr generate` / `xfmr embed` with the default thread count vs
          --threads 1 while a busy loop keeps one core busy
--xfmr-isa avx2: xfmr's engines run with XF_ISA=avx2 (the AVX2 kernels on an AVX-512 machine: a
proxy for AVX2-only servers; the peers run as they are). --xfmr-isa avxvnni: the same with
AVX-VNNI (a CPU of the Sierra Forest / Alder Lake kind, where the CPU has it). --xfmr-isa avx512:
AVX-512 without AMX (on an AMX machine, what its tile kernels add).
--peer-isa avx2: the Python peers limited to AVX2 too (ATEN_CPU_CAPABILITY=avx2,
ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2), so that both sides of an AVX2 proxy run
lack AVX-512. --engines "xfmr fp32,sentence-transformers": only these embed engines.
--results DIR: write the JSON, summary.md and plots there instead of bench/results.
--quick: 1 run, the first 200 texts, pp64/tg16, smaller probe array: checks that all works.

Writes bench/results/{probe,gemm,embed,decode}.json (raw samples, versions, load averages, date,
CPU model), bench/results/summary.md (Markdown tables for BENCHMARKS.md, ratios xfmr / peer) and
bench/results/*.png (matplotlib). Builds the bench targets (cmake) when needed; installs nothing:
missing Python packages are listed with the pip command (bench/requirements.txt) and the parts
that need them are skipped. Use an idle machine for figures worth quoting.
"""
import argparse, importlib.util, json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BUILD, CORPUS, MINILM, RESULTS, ROOT, loadavg, machine, rel, run_json  # noqa: E402
import bench_decode, bench_embed  # noqa: E402

GGUF_DIR = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct")
# Q4_1 as fetched; Q8_0 re-quantized from it into .cache (a second .gguf in the model folder would make
# loading the folder ambiguous): python3 scripts/requant_gguf.py <Q4_1> .cache/q8/SmolLM2-135M-Instruct.Q8_0.gguf
# Q4_K_M: llama.cpp's own re-quantization of the Q4_1 (mostly Q5_0 / Q8_0 tensors, whose rows of 576
# are no multiple of 256, and Q4_K / Q6_K for ffn_down): see GGUF_MAKE. Qwen2.5-Coder-1.5B: a real
# Q4_K_M (Q4_K / Q6_K), scripts/fetch_models.sh Qwen2.5-Coder-1.5B-Instruct (optional, 1.1 GB).
DEFAULT_GGUF = [os.path.join(GGUF_DIR, "SmolLM2-135M-Instruct.Q4_1.gguf"),
                os.path.join(ROOT, ".cache", "q8", "SmolLM2-135M-Instruct.Q8_0.gguf"),
                os.path.join(ROOT, ".cache", "q4km", "SmolLM2-135M-Instruct.Q4_K_M.gguf"),
                os.path.join(ROOT, "models", "Qwen2.5-Coder-1.5B-Instruct", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")]
GGUF_MAKE = {
    ".Q8_0.": "python3 scripts/requant_gguf.py {q41} {out} --type Q8_0",
    ".Q4_K_M.": "$(bench/build_llamacpp.sh | tail -1 | sed 's/llama-bench$/llama-quantize/') --allow-requantize {q41} {out} Q4_K_M",
    "qwen2.5-coder": "scripts/fetch_models.sh Qwen2.5-Coder-1.5B-Instruct",
}
PEER_MODULES = {"embed": ["torch", "sentence_transformers", "onnxruntime", "onnx", "tokenizers", "transformers"],
                "plots": ["matplotlib"]}
ORT_MODULES = ["onnxruntime", "onnx"]  # without them the embed part still runs sentence-transformers
TARGETS = {"probe": ["bench_probe"], "gemm": ["bench_gemm"], "embed": ["bench_embed"], "decode": ["bench_decode"],
           "load": ["xfmr"]}


def cpu_has(flag):
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and flag in line.split() for line in f)
    except OSError:
        return False


def log(msg):
    print(f"[run.py {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def missing_modules(names):
    return [n for n in names if importlib.util.find_spec(n) is None]


def build(parts):
    targets = [t for p in parts for t in TARGETS[p]]
    if not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")):
        log("configuring build/ (cmake -S . -B build -DCMAKE_BUILD_TYPE=Release)")
        subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                       stdout=subprocess.DEVNULL)
    log(f"cmake --build build --target {' '.join(targets)}")
    subprocess.run(["cmake", "--build", BUILD, "-j", str(os.cpu_count() or 2), "--target", *targets], check=True,
                   stdout=subprocess.DEVNULL)


RESULTS_DIR = [RESULTS]  # --results changes it


def save(name, obj):
    os.makedirs(RESULTS_DIR[0], exist_ok=True)
    with open(os.path.join(RESULTS_DIR[0], name), "w") as f:
        json.dump(obj, f, indent=2)


# ---------------------------------------------------------------- machine limits

class Limits:
    """The probe's figures, per thread count (1 and N measured; others scaled from 1 / capped)."""

    def __init__(self, probe):
        self.p = probe

    def fma(self, t):
        if not self.p:
            return None
        g = self.p["fma_gflops"]
        return g.get(str(t)) or g["1"] * t

    def bw(self, t):
        if not self.p:
            return None
        b = self.p["bandwidth_gb_s"]
        return b.get(str(t)) or max(b.values())


def pct(x, of):
    return f"{100 * x / of:.0f} %" if of else "n/a"


# ---------------------------------------------------------------- parts

def part_probe(a, max_threads):
    cmd = [os.path.join(BUILD, "bench_probe"), "--threads", str(max_threads)]
    cmd += ["--mib", "256", "--passes", "2"] if a.quick else ["--passes", str(max(3, a.runs))]
    res = run_json(cmd)
    res.update({"machine": machine(), "loadavg_after": loadavg()})
    save("probe.json", res)
    log(f"probe: {res['isa']}, FMA peak {res['fma_gflops']} GFLOP/s, read bandwidth {res['bandwidth_gb_s']} GB/s")
    return res


def part_gemm(a, threads):
    cmd = [os.path.join(BUILD, "bench_gemm"), "--threads", ",".join(map(str, threads)), "--runs", str(a.runs)]
    if a.quick:
        cmd += ["--shapes", "1024x1024x1024,2048x384x384"]
    res = run_json(cmd)
    res.update({"machine": machine(), "loadavg_after": loadavg()})
    save("gemm.json", res)
    for r in res["results"]:
        log(f"gemm {r['T']}x{r['N']}x{r['K']} t{r['threads']}: {r['gflops']:.1f} GFLOP/s")
    return res


def linear_flops_per_token(model_dir):
    """2 x the multiply-adds of the encoder's linear layers for one token (Q, K, V, output, FFN)."""
    c = json.load(open(os.path.join(model_dir, "config.json")))
    h, i = c["hidden_size"], c["intermediate_size"]
    return 2 * c["num_hidden_layers"] * (4 * h * h + 2 * h * i)


def part_embed(a, threads, corpus, have_peers):
    xf = ["xfmr fp32", "xfmr int8"] + (["xfmr bf16"] if cpu_has("avx512_bf16") else [])
    have_st = have_peers or not [m for m in missing_modules(PEER_MODULES["embed"]) if m not in ORT_MODULES]
    engines = xf + (["sentence-transformers", "sentence-transformers bf16"] if have_st else []) + (
        ["onnxruntime fp32", "onnxruntime int8"] if have_peers else [])
    if a.engines:
        engines = [e for e in engines if e in a.engines]
    res = {"model": rel(MINILM), "corpus": rel(corpus), "threads": threads, "batches": a.batches, "runs": a.runs,
           "engines": engines, "machine": machine(), "results": [], "errors": []}
    if have_peers:
        log("embed: preparing the ONNX models (export / optimize / quantize, cached in .cache/onnx) and checking "
            "agreement with sentence-transformers")
        cmd = [sys.executable, os.path.join(ROOT, "bench", "bench_ort.py"), "prepare", "--threads", str(max(threads)),
               "--corpus", corpus]
        try:
            res["onnx"] = run_json(cmd)
            o = res["onnx"]
            log(f"embed: ORT fp32 = {o['fp32_variant']} (candidates {o['fp32_candidates_s']} s); min cosine fp32 vs "
                f"ST {o['min_cos_fp32_vs_st']:.6f}, int8 vs fp32 {o['min_cos_int8_vs_fp32']:.4f}")
            if not o["fp32_agrees"]:
                log("embed: WARNING: ORT fp32 does not agree with sentence-transformers (cosine <= 0.9999)")
        except RuntimeError as e:
            res["errors"].append({"engine": "onnxruntime", "error": str(e)})
            log(f"embed: ONNX Runtime setup failed, skipping it: {e}")
            engines = [e_ for e_ in engines if not e_.startswith("onnxruntime")]
    fpt = linear_flops_per_token(MINILM)
    for t in threads:
        for b in a.batches:
            for eng in engines:
                log(f"embed: {eng}, threads {t}, batch {b}")
                try:
                    if eng.startswith("xfmr"):
                        r = bench_embed.run_xfmr(corpus, t, b, a.runs, eng.split()[1], isa=a.xfmr_isa)
                    elif eng.startswith("sentence-transformers"):
                        r = bench_embed.run_st_child(corpus, t, b, a.runs, dtype="bf16" if eng.endswith("bf16") else "fp32")
                    else:
                        r = run_json([sys.executable, os.path.join(ROOT, "bench", "bench_ort.py"), "bench", "--variant",
                                      eng.split()[1], "--threads", str(t), "--batch", str(b), "--runs", str(a.runs),
                                      "--corpus", corpus])
                except RuntimeError as e:
                    res["errors"].append({"engine": eng, "threads": t, "batch": b, "error": str(e)})
                    log(f"embed: {eng} failed: {e}")
                    continue
                r.update({"engine": eng, "threads": t, "batch": b, "loadavg_after": loadavg(), "xfmr_isa": a.xfmr_isa})
                cpu = f", {r['texts'] / r['median_cpu_s']:.1f} texts per CPU s" if r.get("median_cpu_s") else ""
                log(f"embed: {eng} t{t} b{b}: {r['texts_per_s']:.1f} texts/s, {r['mean_latency_ms']:.2f} ms/text{cpu}")
                res["results"].append(r)
    # Useful work: the linear layers' flops on the real (unpadded) tokens, from xfmr's count.
    tokens = next((r["tokens"] for r in res["results"] if "tokens" in r), None)
    res["linear_flops_per_token"], res["tokens"] = fpt, tokens
    for r in res["results"]:
        r["useful_gflops"] = tokens * fpt / r["median_s"] / 1e9 if tokens else None
    save("embed.json", res)
    return res


def part_decode(a, threads, limits):
    lb = bench_decode.find_llama_bench()
    res = {"threads": threads, "runs": a.runs, "prompt": a.prompt, "gen": a.gen, "machine": machine(),
           "results": [], "skipped": []}
    if not lb:
        log("decode: llama-bench not found: run bench/build_llamacpp.sh (builds it under .cache/llamacpp)")
        res["skipped"].append("llama-bench not built")
        save("decode.json", res)
        return res
    for g in a.gguf:
        if not os.path.exists(g):
            msg = f"{rel(g)} not found, skipped"
            for key, how in GGUF_MAKE.items():
                if key in g:
                    msg += f" (make it with: {how.format(q41=rel(DEFAULT_GGUF[0]), out=rel(g))})"
            log(f"decode: {msg}")
            res["skipped"].append(msg)
            continue
        for t in threads:
            log(f"decode: {os.path.basename(g)}, threads {t}: llama-bench then bench_decode")
            bw = limits.bw(t) or 0.0
            try:
                r = bench_decode.compare(g, t, a.runs, a.prompt, a.gen, bw, os.path.join(BUILD, "bench_decode"), lb)
            except RuntimeError as e:
                res.setdefault("errors", []).append({"model": rel(g), "threads": t, "error": str(e)})
                log(f"decode: failed: {e}")
                continue
            log(f"decode: pp{a.prompt} llama.cpp {r['llama_cpp']['prefill_tok_s']:.1f} / xfmr "
                f"{r['xfmr']['prefill_tok_s']:.1f} tok/s; tg{a.gen} llama.cpp {r['llama_cpp']['decode_tok_s']:.1f} / "
                f"xfmr {r['xfmr']['decode_tok_s']:.1f} / xfmr int8 {r['xfmr_int8']['decode_tok_s']:.1f} tok/s")
            res["results"].append(r)
    save("decode.json", res)
    return res


# ---------------------------------------------------------------- summary

def summary(a, probe, gemm, embed, decode, load, limits, notes):
    L = [f"# Benchmark summary ({time.strftime('%Y-%m-%d %H:%M %Z')})", ""]
    m = machine()
    L += [f"Machine: {m['cpu']}, {m['cores']} cores; xfmr {m['xfmr']}; load average at the end {m['loadavg']}. "
          f"Command: `python3 bench/run.py {' '.join(sys.argv[1:])}`. Medians of {a.runs} run(s).", ""]
    if m["loadavg"][0] > (m["cores"] or 1):
        notes = notes + [f"Load average {m['loadavg'][0]} above the {m['cores']} cores: other processes competed for "
                         "the CPU during this run; rerun on an idle machine before quoting figures."]
    L += [f"- {n}" for n in notes] + ([""] if notes else [])
    if probe:
        L += ["## Machine limits (bench_probe)", "", f"ISA {probe['isa']}; best of {probe['passes']} passes.", "",
              "| threads | fp32 FMA peak GFLOP/s | read bandwidth GB/s |", "|---|---|---|"]
        for t in probe["fma_gflops"]:
            L.append(f"| {t} | {probe['fma_gflops'][t]:.1f} | {probe['bandwidth_gb_s'][t]:.1f} |")
        L.append("")
    if gemm:
        L += ["## fp32 GEMM (xf_matmul_f32_nt, Y[T,N] = X[T,K] W[N,K]^T + b)", "",
              "| T×N×K | threads | GFLOP/s | % of FMA peak |", "|---|---|---|---|"]
        for r in gemm["results"]:
            L.append(f"| {r['T']}×{r['N']}×{r['K']} | {r['threads']} | {r['gflops']:.1f} | "
                     f"{pct(r['gflops'], limits.fma(r['threads']))} |")
        L.append("")
    if embed and embed["results"]:
        L += ["## all-MiniLM-L6-v2 embeddings", "",
              f"Corpus `{embed['corpus']}` ({embed['results'][0]['texts']} texts, {embed['tokens']} tokens after "
              "truncation to 256), tokenization included, model load excluded. Batch 1 = one call per text. "
              "Useful GFLOP/s: the linear layers' flops on the unpadded tokens ÷ time (padding and attention "
              "not counted), as % of the FMA peak.", ""]
        o = embed.get("onnx")
        if o:
            L += [f"ONNX Runtime {o['onnxruntime']}: fp32 = `{o['fp32']}` ({o['fp32_variant']}: the faster of the "
                  f"plain export with ORT_ENABLE_ALL and optimize_model(model_type='bert'), "
                  f"{', '.join(f'{k} {v:.2f} s' for k, v in o['fp32_candidates_s'].items())}; the optimizer fused "
                  f"{o.get('optimizer_fused_ops') or o.get('optimizer_error')}); int8 = `{o['int8']}` "
                  f"(quantize_dynamic, per channel, QInt8). Min cosine on {o['check_texts']} texts: ORT fp32 vs "
                  f"sentence-transformers {o['min_cos_fp32_vs_st']:.6f}, ORT int8 vs ORT fp32 "
                  f"{o['min_cos_int8_vs_fp32']:.4f}.", ""]
        by = {(r["threads"], r["batch"], r["engine"]): r for r in embed["results"]}
        xf = [e for e in embed["engines"] if e.startswith("xfmr")]
        isa = embed["results"][0].get("xfmr_isa")
        if isa:
            L += [f"xfmr ran with XF_ISA={isa}: its {isa} kernels on this machine (a proxy for {isa}-only servers); "
                  + ("the peers were limited to AVX2 too (--peer-isa)." if os.environ.get("ATEN_CPU_CAPABILITY")
                     else "the peers ran with everything this CPU has."), ""]
        L += ["texts/s (CPU): texts ÷ the process's CPU seconds (all threads) — at 1 thread the speed the run would "
              "have alone on this shared machine; the ratios use it at 1 thread, wall time otherwise.", "",
              "| batch | threads | engine | texts/s | texts/s (CPU) | ms/text | useful GFLOP/s (% of peak) | peak RSS MB | "
              + " | ".join(f"{e} / this" for e in xf) + " |", "|---|---|---|---|---|---|---|---|" + "---|" * len(xf)]
        for b in embed["batches"]:
            for t in embed["threads"]:
                mine = [by.get((t, b, e)) for e in xf]
                for eng in embed["engines"]:
                    r = by.get((t, b, eng))
                    if not r:
                        continue
                    ug = r.get("useful_gflops")
                    rss = r.get("peak_rss_bytes_wait4") or r.get("peak_rss_bytes")
                    speed = lambda x: x["texts"] / x["median_cpu_s"] if t == 1 and x.get("median_cpu_s") else x["texts_per_s"]
                    rats = " | ".join(f"{speed(x) / speed(r):.2f}×" if x else "n/a" for x in mine)
                    useful = f"{ug:.1f} ({pct(ug, limits.fma(t))})" if ug is not None else "n/a"
                    cpu = f"{r['texts'] / r['median_cpu_s']:.1f}" if r.get("median_cpu_s") else "n/a"
                    L.append(f"| {b} | {t} | {eng} | {r['texts_per_s']:.1f} | {cpu} | {r['mean_latency_ms']:.2f} | {useful} | "
                             f"{rss / 1e6:.0f} | {rats} |")
        wbytes = sum(os.path.getsize(os.path.join(MINILM, f)) for f in os.listdir(MINILM) if f.endswith(".safetensors"))
        L += ["", f"Peak RSS: the whole process (Python peers include the interpreter and torch / onnxruntime); "
              f"the model's weight file is {wbytes / 1e6:.0f} MB.", ""]
    if decode and decode["results"]:
        P, G = decode["prompt"], decode["gen"]
        L += [f"## SmolLM2-135M GGUF prefill (pp{P}) and decode (tg{G}) vs llama.cpp", "",
              "Decode GB/s = weight bytes per token × tok/s, as % of the probe's read bandwidth at that thread count; "
              "bandwidth-bound tok/s = bandwidth ÷ bytes per token. Memory: peak RSS vs model file + KV cache "
              "(llama-bench: F16, P+G positions; xfmr: F32, its context).", "",
              f"| model | threads | engine | prefill tok/s | decode tok/s | weight MB/token | decode GB/s (% of bw) "
              f"| bw-bound tok/s | peak RSS MB (file + KV MB) |", "|---|---|---|---|---|---|---|---|---|"]
        for r in decode["results"]:
            name, t = os.path.basename(r["model"]).replace("SmolLM2-135M-Instruct.", "").removesuffix(".gguf"), r["threads"]
            bw, mem = r["bandwidth_gb_s"], r["memory"]
            for key, label in (("llama_cpp", f"llama.cpp {r['llama_cpp'].get('build_commit')}"), ("xfmr", "xfmr"),
                               ("xfmr_int8", "xfmr --weights int8")):
                e = r[key]
                L.append(f"| {name} | {t} | {label} | {e['prefill_tok_s']:.1f} | {e['decode_tok_s']:.1f} | "
                         f"{r['decode_weight_bytes_per_token'][key] / 1e6:.1f} | {r['decode_gb_s'][key]:.1f} "
                         f"({pct(r['decode_gb_s'][key], bw)}) | {r['bandwidth_bound_tok_s'][key]:.0f} | "
                         f"{mem['peak_rss_bytes'][key] / 1e6:.0f} ({(mem['file_bytes'] + mem['kv_cache_bytes'][key]) / 1e6:.0f}) |")
            L.append(f"| {name} | {t} | **xfmr / llama.cpp** | **{r['ratio_prefill_xfmr_over_llama_cpp']:.2f}×** | "
                     f"**{r['ratio_decode_xfmr_over_llama_cpp']:.2f}×** | | | | |")
            L.append(f"| {name} | {t} | **xfmr int8 / llama.cpp** | **{r['ratio_prefill_xfmr_int8_over_llama_cpp']:.2f}×** | "
                     f"**{r['ratio_decode_xfmr_int8_over_llama_cpp']:.2f}×** | | | | |")
        L += ["", "xfmr weight bytes/token basis: " + ", ".join(sorted({r['decode_weight_bytes_per_token']['xfmr_basis']
                                                                        for r in decode["results"]})) + ".", ""]
    if decode and decode.get("skipped"):
        L += ["Skipped: " + "; ".join(decode["skipped"]) + ".", ""]
    if load and load.get("results"):
        L += [f"## Under load ({load['busy_processes']} busy loop(s) beside xfmr; bench/bench_load.py)", "",
              "Whole commands (model load included), medians of alternating runs.", "",
              "| command | busy loops | --threads 1 s | default threads s | default speed / 1 thread |",
              "|---|---|---|---|---|"]
        for r in load["results"]:
            L.append(f"| `{r['command']}` | {r.get('busy', load['busy_processes'])} | {r['median_s']['1']:.2f} | "
                     f"{r['median_s']['default']:.2f} | {r['default_over_1']:.2f}× |")
        L.append("")
    with open(os.path.join(RESULTS_DIR[0], "summary.md"), "w") as f:
        f.write("\n".join(L))
    return "\n".join(L)


# ---------------------------------------------------------------- plots

def plots(gemm, embed, decode, limits):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    written = []

    def bars(ax, groups, series, values, ylabel, title):
        w = 0.8 / max(1, len(series))
        for i, s in enumerate(series):
            xs = [g + (i - (len(series) - 1) / 2) * w for g in range(len(groups))]
            ax.bar(xs, [values.get((g, s), 0) for g in groups], w, label=s)
        ax.set_xticks(range(len(groups)), [str(g) for g in groups])
        ax.set_ylabel(ylabel), ax.set_title(title)
        ax.legend(fontsize=7)

    if embed and embed["results"]:
        fig, axs = plt.subplots(1, len(embed["batches"]), figsize=(6 * len(embed["batches"]), 4), squeeze=False)
        for ax, b in zip(axs[0], embed["batches"]):
            vals = {(f"{r['threads']} thr", r["engine"]): r["texts_per_s"] for r in embed["results"] if r["batch"] == b}
            bars(ax, [f"{t} thr" for t in embed["threads"]], embed["engines"], vals, "texts/s",
                 f"all-MiniLM-L6-v2, batch {b}")
        fig.tight_layout(), fig.savefig(os.path.join(RESULTS_DIR[0], "embed.png"), dpi=100), plt.close(fig)
        written.append("embed.png")
    if decode and decode["results"]:
        fig, axs = plt.subplots(1, 2, figsize=(12, 4))
        groups = sorted({(os.path.basename(r["model"]).split(".")[1], r["threads"]) for r in decode["results"]})
        labels = [f"{q} {t} thr" for q, t in groups]
        for ax, key, title in ((axs[0], "prefill_tok_s", f"prefill pp{decode['prompt']}"),
                               (axs[1], "decode_tok_s", f"decode tg{decode['gen']}")):
            vals = {}
            for r in decode["results"]:
                g = f"{os.path.basename(r['model']).split('.')[1]} {r['threads']} thr"
                vals[(g, "llama.cpp")], vals[(g, "xfmr")] = r["llama_cpp"][key], r["xfmr"][key]
            bars(ax, labels, ["llama.cpp", "xfmr"], vals, "tokens/s", f"SmolLM2-135M {title}")
        fig.tight_layout(), fig.savefig(os.path.join(RESULTS_DIR[0], "decode.png"), dpi=100), plt.close(fig)
        written.append("decode.png")
    if gemm and limits.p:
        fig, ax = plt.subplots(figsize=(8, 4))
        shapes = []
        for r in gemm["results"]:
            s = f"{r['T']}×{r['N']}×{r['K']}"
            if s not in shapes:
                shapes.append(s)
        vals = {(f"{r['T']}×{r['N']}×{r['K']}", f"{r['threads']} thr"): 100 * r["gflops"] / limits.fma(r["threads"])
                for r in gemm["results"]}
        bars(ax, shapes, [f"{t} thr" for t in gemm["threads"]], vals, "% of fp32 FMA peak", "xfmr fp32 GEMM")
        ax.tick_params(axis="x", labelsize=7)
        fig.tight_layout(), fig.savefig(os.path.join(RESULTS_DIR[0], "gemm.png"), dpi=100), plt.close(fig)
        written.append("gemm.png")
    return written


# ---------------------------------------------------------------- main

def int_list(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=None, help="timed runs per figure, median reported (default 5; "
                    "--quick: 1)")
    ap.add_argument("--threads", type=int_list, default=[1, 2], help="thread counts, e.g. 1,2")
    ap.add_argument("--only", default="probe,gemm,embed,decode,load", help="parts to run, comma-separated")
    ap.add_argument("--quick", action="store_true", help="1 run, 200 texts, pp64/tg16: a smoke test")
    ap.add_argument("--gguf", default=",".join(DEFAULT_GGUF), help="GGUF files for decode, comma-separated")
    ap.add_argument("--batches", type=int_list, default=[1, 32])
    ap.add_argument("--corpus", default=CORPUS)
    ap.add_argument("--xfmr-isa", choices=["avx512", "avxvnni", "avx2", "scalar"], default=None,
                    help="run xfmr's engines with XF_ISA set (its lower-ISA kernels, as on machines without AVX-512)")
    ap.add_argument("--peer-isa", choices=["avx2"], default=None,
                    help="limit the Python peers (PyTorch, oneDNN, MKL) to AVX2 as well")
    ap.add_argument("--engines", default=None, help="embed engines to run, comma-separated (default: all)")
    ap.add_argument("--results", default=RESULTS, help="folder for the JSON, summary.md and plots")
    a = ap.parse_args()
    a.runs = a.runs or (1 if a.quick else 5)
    a.engines = [e.strip() for e in a.engines.split(",") if e.strip()] if a.engines else None
    RESULTS_DIR[0] = os.path.abspath(a.results)
    a.gguf = [os.path.abspath(g) for g in a.gguf.split(",") if g]
    a.prompt, a.gen = (64, 16) if a.quick else (512, 128)
    parts = [p for p in a.only.split(",") if p]
    bad = [p for p in parts if p not in TARGETS]
    if bad:
        sys.exit(f"run.py: unknown part(s) {bad}; choose from {list(TARGETS)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    notes = []
    if a.xfmr_isa:  # every child inherits it; only xfmr reads it
        os.environ["XF_ISA"] = a.xfmr_isa
        notes.append(f"XF_ISA={a.xfmr_isa}: xfmr used its {a.xfmr_isa} kernels (embed, decode, load); peers unchanged.")
    if a.peer_isa:  # read by PyTorch (ATen), oneDNN and MKL in the peers' child processes
        os.environ.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", MKL_ENABLE_INSTRUCTIONS="AVX2")
        notes.append("--peer-isa avx2: the Python peers ran with ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2, "
                     "MKL_ENABLE_INSTRUCTIONS=AVX2 (no AVX-512 in PyTorch's kernels either).")
    if a.quick:
        notes.append("--quick: smoke-test settings (1 run, first 200 texts, pp64/tg16); not figures to quote.")

    # What is missing, said once, nothing installed.
    miss = {k: missing_modules(v) for k, v in PEER_MODULES.items()}
    allmiss = sorted({m for v in miss.values() for m in v})
    if allmiss:
        log(f"missing Python packages: {', '.join(allmiss)} -> python3 -m pip install -r bench/requirements.txt")
        if "embed" in parts and miss["embed"]:
            st_only = not [m for m in miss["embed"] if m not in ORT_MODULES]
            notes.append(f"ONNX Runtime skipped (missing {', '.join(miss['embed'])})." if st_only else
                         f"Peers skipped (missing {', '.join(miss['embed'])}): embed runs xfmr only.")
        if miss["plots"]:
            notes.append("No plots (matplotlib missing).")

    need = sorted(set(parts) | ({"probe"} if set(parts) & {"gemm", "embed", "decode"} else set()),
                  key=list(TARGETS).index)
    build(need)
    corpus = a.corpus
    if a.quick and "embed" in parts:
        os.makedirs(os.path.join(ROOT, ".cache", "bench"), exist_ok=True)
        corpus = os.path.join(ROOT, ".cache", "bench", "corpus200.txt")
        with open(a.corpus, "rb") as fi, open(corpus, "wb") as fo:
            fo.writelines(fi.readlines()[:200])

    t0 = time.time()
    probe = part_probe(a, max(a.threads)) if "probe" in need else None
    limits = Limits(probe)
    gemm = part_gemm(a, a.threads) if "gemm" in parts else None
    if "embed" in parts and not os.path.exists(os.path.join(MINILM, "config.json")):
        log(f"embed: {rel(MINILM)} not found (scripts/fetch_models.sh), skipped")
        notes.append(f"embed skipped: {rel(MINILM)} not found.")
        parts.remove("embed")
    embed = part_embed(a, a.threads, corpus, not miss["embed"]) if "embed" in parts else None
    decode = part_decode(a, a.threads, limits) if "decode" in parts else None
    load = None
    if "load" in parts:
        log("load: bench/bench_load.py (xfmr generate / embed, default threads vs 1, beside a busy loop)")
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_load.py"), "--runs", str(a.runs),
                        "--json", os.path.join(RESULTS_DIR[0], "load.json")], check=True)
        load = json.load(open(os.path.join(RESULTS_DIR[0], "load.json")))
    text = summary(a, probe, gemm, embed, decode, load, limits, notes)
    written = [] if miss["plots"] else plots(gemm, embed, decode, limits)
    print(text)
    log(f"done in {time.time() - t0:.0f} s: {rel(RESULTS_DIR[0])}/summary.md, "
        f"{', '.join(rel(os.path.join(RESULTS_DIR[0], n)) for n in written) or 'no plots'}, JSON: "
        f"{', '.join(rel(os.path.join(RESULTS_DIR[0], p + '.json')) for p in need)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
