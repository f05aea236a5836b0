#!/usr/bin/env python3
"""plot_long_context.py — the plots of docs/LONG_CONTEXT.md (issue 13), written with matplotlib:

  docs/img/long_context_accuracy.png  accuracy against budget: passkey at 1K under KV eviction and
      Quest, perplexity against the keys a decode step reads (Quest, window + sinks), perplexity
      against KV-cache bits per value (xfmr f16/q8/q4, llama.cpp Q8_0/Q4_0), and perplexity and
      needle against the density of sparse prefill (block-sparse, vertical-slash);
  docs/img/long_context_speed.png     decode tokens per CPU second against depth (dense, Quest,
      SnapKV, q8 cache: bench_decode --depths), and decode at 8K / 16K against llama.cpp's
      F16 / Q8_0 / Q4_0 caches (llama-bench -d, same run, wall time);
  docs/img/long_context_qwen.png      Qwen2.5-Coder-1.5B: needles found against prompt length per
      setting (eval --task needle, one or two needles per depth), decode at 16K against llama.cpp,
      and needles found at 4K against the KV budget (SnapKV per layer and per KV head,
      StreamingLLM, H2O).

The accuracy figures are those of the tables of docs/LONG_CONTEXT.md, typed in below (each names
its table); the sparse-prefill panel and the speed plots read the JSON lines of
bench/results/long_context/ (the measured runs, commands in that folder's README.md).
Run from the source tree: python3 scripts/plot_long_context.py [--results DIR] [--out docs/img]
"""
import argparse
import glob
import json
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


def accuracy(res, out):
    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    # (a) passkey at 1K, 20 prompts ("Passkey under KV eviction", "Quest at decode")
    a = ax[0][0]
    a.axhline(15, color="k", ls="--", lw=1, label="dense (keep-all)")
    a.plot([256, 512], [0, 0], "o-", label="streaming (sinks + recent)")
    a.plot([256, 512], [5, 5], "s-", label="h2o (heavy hitters)")
    a.plot([256, 512], [8, 15], "^-", label="snapkv")
    a.plot([256], [15], "*", ms=12, label="Quest, 256 keys / step (pages of 64)")
    a.plot([256], [0], "x", ms=9, color="grey", label="window 256 + 4 sinks")
    a.set_xscale("log", base=2)
    a.set_xticks([256, 512])
    a.set_xticklabels(["256", "512"])
    a.set_xlabel("KV budget (tokens kept, or keys read per step)")
    a.set_ylabel("passkeys found of 20 (1K prompts)")
    a.set_ylim(-1, 20)
    a.set_title("SmolLM2-135M, passkey at 1K", fontsize=10)
    a.legend(fontsize=7)
    # (b) perplexity vs keys per step ("Quest at decode (perplexity)", "Mixed attention spans")
    a = ax[0][1]
    a.plot([256, 512], [3.5, 0.4], "o-", label="Quest, pages of 16 (decode)")
    a.plot([256, 512], [8.6, 1.6], "s-", label="Quest, pages of 64 (decode)")
    a.plot([64, 128, 256], [30.5, 13.1, 5.4], "^-", label="window + 4 sinks (all layers)")
    a.plot([256], [81], "x", ms=9, color="grey", label="window 256, no sinks")
    a.set_xscale("log", base=2)
    a.set_yscale("log")
    a.set_xticks([64, 128, 256, 512])
    a.set_xticklabels(["64", "128", "256", "512"])
    a.set_xlabel("keys each query reads (of up to 1,024)")
    a.set_ylabel("perplexity increase over dense, %")
    a.set_title("perplexity, essays in windows of 1,024", fontsize=10)
    a.legend(fontsize=7)
    # (c) KV-cache types ("KV-cache quantization: perplexity as generation sees it")
    a = ax[1][0]
    a.plot([16, 8.5, 5], [-0.002, 0.10, 0.51], "o-", label="xfmr f16 / q8 / q4 (KIVI)")
    a.plot([8.5, 4.5], [-0.33, 5.1], "s--", label="llama.cpp Q8_0 / Q4_0 (its protocol)")
    a.axhline(0, color="k", lw=0.8)
    for x, y, t in [(16, -0.002, "f16"), (8.5, 0.10, "q8"), (5, 0.51, "q4"), (4.5, 5.1, "Q4_0"), (8.5, -0.33, "Q8_0")]:
        a.annotate(t, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    a.set_xlabel("KV-cache bits per value (F32 = 32)")
    a.set_ylabel("perplexity change vs full precision, %")
    a.set_title("KV-cache quantization", fontsize=10)
    a.legend(fontsize=7)
    # (d) sparse prefill: perplexity (~3K-token essays) and needle at 4K vs density (measured runs)
    a = ax[1][1]
    rows = jsonl(os.path.join(res, "prefill.jsonl"))
    dense = [r for r in rows if r["method"] == "dense"][0]
    for method, mark in (("block-sparse", "s-"), ("vertical-slash", "o-")):
        rs = sorted((r for r in rows if r["method"] == method), key=lambda r: r["density"])
        xs = [r["density"] for r in rs]
        ys = [100 * (r["ppl"] / dense["ppl"] - 1) for r in rs]
        a.plot(xs, ys, mark, label=method)
        for r, y in zip(rs, ys):
            if r.get("needle") is not None:
                a.annotate("needle %d/5" % r["needle"], (r["density"], y), textcoords="offset points",
                           xytext=(4, 4), fontsize=7)
    a.set_xlabel("density (share of keys / key blocks read)")
    a.set_ylabel("perplexity increase over dense, %")
    a.set_title("sparse prefill (dense: ppl %.2f, needle %d/5)" % (dense["ppl"], dense["needle"]), fontsize=10)
    a.legend(fontsize=7)
    fig.suptitle("Long context on SmolLM2-135M-Instruct: accuracy against budget (docs/LONG_CONTEXT.md)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print("wrote", out)


def speed(res, out):
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    a = ax[0]
    for path in sorted(glob.glob(os.path.join(res, "depth_*.jsonl"))):
        if path.endswith("_before.jsonl"):  # superseded runs, kept for the record
            continue
        rows = jsonl(path)
        if not rows:
            continue
        r0 = rows[0]
        if r0["quest"]:
            label = "Quest %d keys" % r0["quest"]
        elif r0["kv_policy"] != "keep-all":
            label = "%s budget %d" % (r0["kv_policy"], r0["kv_budget"])
        else:
            label = {0: "dense (F32 cache)", 1: "dense, f16 cache", 2: "dense, q8 cache", 3: "dense, q4 cache"}[r0["kv_type"]]
        a.plot([r["depth"] for r in rows], [r["decode_tok_cpu_s"] for r in rows], "o-", label=label)
    a.set_xscale("log", base=2)
    a.set_xlabel("depth (tokens in context)")
    a.set_ylabel("decode tokens per CPU second (1 thread)")
    a.set_title("xfmr decode speed against context length", fontsize=10)
    a.legend(fontsize=7)
    a = ax[1]
    lp = os.path.join(res, "vs_llamacpp.jsonl")
    if os.path.exists(lp):
        rows = jsonl(lp)
        depths = sorted({r["depth"] for r in rows})
        names = []
        for r in rows:
            if r["name"] not in names:
                names.append(r["name"])
        w = 0.8 / len(names)
        for i, n in enumerate(names):
            ys = [next((r["tok_s"] for r in rows if r["name"] == n and r["depth"] == d), 0) for d in depths]
            a.bar([k + i * w for k in range(len(depths))], ys, w, label=n)
        a.set_xticks([k + 0.4 - w / 2 for k in range(len(depths))])
        a.set_xticklabels(["depth %d" % d for d in depths])
        a.set_ylabel("decode tokens/s (wall, same run, shared machine)")
        a.set_title("xfmr vs llama.cpp caches (1 thread)", fontsize=10)
        a.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print("wrote", out)


NEEDLE_LABELS = {"dense": "dense (F32 cache)", "snapkv1024": "SnapKV, budget 1,024", "q8": "q8 cache",
                 "q4": "q4 cache (KIVI)", "vslash02": "vertical-slash 0.2", "yarn2": "dense, YaRN x2"}
# the settings' names in the one-seed subfolders (needle8k_seed1/<setting>_d<depth>.json)
SUB_NAMES = {"kvq8": "q8", "kvq4": "q4"}


# bench_decode runs at 16K (decode16k_xfmr_int8_<setting>_t2.json)
DECODE_LABELS = {"dense": "F32 cache", "snapkv": "SnapKV 1,024 (F32)", "kvq8": "q8 cache",
                 "kvq4": "q4 cache (before a99bd48)", "kvq4_fix": "q4 cache", "kvf16_fix": "f16 cache"}


def needle_reports(qdir):
    """(setting, folder, path) of every needle report: needle<L>k_<setting>[_d<depth>].json in qdir
    and <setting>_d<depth>.json in its needle*/ subfolders (folder: the subfolder's name or "")."""
    for path in sorted(glob.glob(os.path.join(qdir, "needle*k_*.json"))):
        m = re.match(r"needle\d+k_(.+?)(_d[0-9.]+)?\.json$", os.path.basename(path))
        if m:
            yield m.group(1), "", path
    for path in sorted(glob.glob(os.path.join(qdir, "needle*", "*_d*.json"))):
        m = re.match(r"(.+?)_d[0-9.]+\.json$", os.path.basename(path))
        if m:
            yield SUB_NAMES.get(m.group(1), m.group(1)), os.path.basename(os.path.dirname(path)), path


def needle_cells(qdir, folders=None):
    """{setting: {length: [correct, prompts]}} from the reports (of the given folders only, if any)."""
    out = {}
    for setting, folder, path in needle_reports(qdir):
        if folders is not None and folder not in folders:
            continue
        with open(path) as f:
            cells = json.load(f)["tasks"]["needle"]["cells"]
        for c in cells:
            t = out.setdefault(setting, {}).setdefault(c["length"], [0, 0])
            t[0] += c["correct"]
            t[1] += 1
    return out


def budget_panel(a, qdir, n=4096):
    """Needles found at n tokens against the KV budget (seed 0: the main folder and the needle4k_*
    budget folders, whose dense anchors are not counted again)."""
    cells = needle_cells(qdir, folders={"", "needle4k_budgets", "needle4k_h2o", "needle4k_rest",
                                        "needle4k_snapkv_head", "needle4k_h2o_head"})
    cells["dense"] = needle_cells(qdir, folders={""}).get("dense", {})
    for policy, label, mark in (("snapkv", "SnapKV (per layer)", "o-"), ("snapkv-head", "SnapKV per KV head", "D--"),
                                ("streaming", "StreamingLLM", "s-"),
                                ("h2o", "H2O", "^-"), ("h2o-head", "H2O per KV head", "v--")):
        pts = sorted((int(s[len(policy):]), v[n]) for s, v in cells.items()
                     if re.fullmatch(policy + r"\d+", s) and n in v)
        if pts:
            a.plot([p[0] for p in pts], [100.0 * p[1][0] / p[1][1] for p in pts], mark, label=label)
            for b, (c, t) in pts:
                a.annotate("%d/%d" % (c, t), (b, 100.0 * c / t), textcoords="offset points", xytext=(4, -10),
                           fontsize=7)
    if "dense" in cells and n in cells["dense"]:
        c, t = cells["dense"][n]
        a.axhline(100.0 * c / t, color="k", lw=0.8, ls="--", label="dense, whole cache (%d/%d)" % (c, t))
    a.set_xscale("log", base=2)
    a.set_xticks([256, 512, 1024, 2048])
    a.set_xticklabels(["256", "512", "1,024", "2,048"])
    a.set_xlabel("KV budget (slots per layer), prompt of %s tokens" % format(n, ","))
    a.set_ylabel("needles found, % (five depths)")
    a.set_ylim(-5, 160)
    a.set_yticks([0, 20, 40, 60, 80, 100])
    a.set_title("Qwen2.5-Coder-1.5B at %dK: needle against the budget" % (n // 1024), fontsize=10)
    a.legend(fontsize=7, loc="upper center", ncol=2)


def qwen(qdir, out):
    cells = needle_cells(qdir)
    if not cells:
        return
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.2))
    a = ax[0]
    lengths = sorted({n for s in cells.values() for n in s})
    names = [s for s in NEEDLE_LABELS if s in cells]
    w = 0.8 / len(names)
    for i, s in enumerate(names):
        for k, n in enumerate(lengths):
            if n in cells[s]:
                c, t = cells[s][n]
                a.bar(k + i * w, 100.0 * c / t, w, color="C%d" % i, label=NEEDLE_LABELS[s] if k == min(
                    lengths.index(x) for x in cells[s]) else None)
                a.annotate("%d/%d" % (c, t), (k + i * w, 100.0 * c / t), ha="center", fontsize=6,
                           textcoords="offset points", xytext=(0, 2))
    a.set_xticks([k + 0.4 - w / 2 for k in range(len(lengths))])
    a.set_xticklabels(["%dK" % (n // 1024) for n in lengths])
    a.set_xlabel("prompt length (tokens)")
    a.set_ylabel("needles found, % (five depths, 1-2 needles each)")
    a.set_ylim(0, 150)
    a.set_yticks([0, 20, 40, 60, 80, 100])
    a.set_title("Qwen2.5-Coder-1.5B Q4_K_M, needle in essays", fontsize=10)
    a.legend(fontsize=7, loc="upper center", ncol=3)
    a = ax[1]
    bars = []
    for path in sorted(glob.glob(os.path.join(qdir, "decode16k_*_t2.json"))):
        name = os.path.basename(path)[len("decode16k_"):-len("_t2.json")]
        with open(path) as f:
            text = f.read()
        rows = json.loads(text) if text.lstrip().startswith("[") else jsonl(path)  # llama-bench: an array
        if not rows:
            continue
        r = rows[-1]
        if "avg_ts" in r:  # llama-bench
            bars.append(("llama.cpp %s cache" % r["type_k"].upper(), r["avg_ts"]))
        else:
            setting = name.replace("xfmr_int8_", "")
            bars.append(("xfmr " + DECODE_LABELS.get(setting, setting), r["decode_tok_s"]))
    if bars:
        a.barh(range(len(bars)), [b[1] for b in bars], color=["C%d" % i for i in range(len(bars))])
        a.set_yticks(range(len(bars)))
        a.set_yticklabels([b[0] for b in bars], fontsize=8)
        for i, b in enumerate(bars):
            a.annotate("%.1f" % b[1], (b[1], i), textcoords="offset points", xytext=(3, -3), fontsize=8)
        a.set_xlabel("decode tokens/s, 32 tokens after 16,384 (2 threads, wall)")
        a.set_title("decode at 16K, same machine", fontsize=10)
    budget_panel(ax[2], qdir)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print("wrote", out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="bench/results/long_context")
    ap.add_argument("--out", default="docs/img")
    a = ap.parse_args()
    accuracy(a.results, os.path.join(a.out, "long_context_accuracy.png"))
    speed(a.results, os.path.join(a.out, "long_context_speed.png"))
    qwen(os.path.join(a.results, "qwen2.5-coder-1.5b"), os.path.join(a.out, "long_context_qwen.png"))


if __name__ == "__main__":
    main()
