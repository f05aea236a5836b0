#!/usr/bin/env python3
"""quant_curves.py — the quality / size / speed table of `xfmr quantize` types for an encoder
(docs/QUANTIZATION.md).

For each type: `xfmr quantize` (or `xfmr convert --outtype f16` for F16; files given with
--extra NAME=FILE are taken as they are, e.g. llama-quantize's), then one
`xfmr eval -m FILE --ref MODEL --task retrieval,agree --limit N --prompts CORPUS` run: retrieval
MRR@10 / nDCG@10 relative to the float model and docs per CPU second relative to it, measured in
the same process, and the cosine of each corpus line's embedding with the float model's (mean,
min). Bits per weight: 8 x bytes / elements of the Transformer blocks' matrices (blk.*), and of all 2-D
tensors (with the token embedding, Q8_0 for MiniLM), from the GGUF file's tensor table. Writes OUT/<name>.gguf and OUT/<name>.json, a Markdown table on
stdout and a PNG plot (matplotlib) of quality against bits per weight.

usage: scripts/quant_curves.py [--xfmr build/xfmr] [--model models/all-MiniLM-L6-v2]
          [--types F16,Q8_0,...] [--limit 500] [--corpus tests/data/corpus.txt] [--threads 2]
          [--out .cache/quant] [--plot docs/quantization_minilm.png] [--reuse]
          [--calib .cache/eval/adaptive/calib_docs.txt] [--extra 'llama.cpp Q4_K_S=lcpp-minilm-Q4_K_S.gguf' ...]
          [--targets 4.5,5.0,5.5 [--mix-types LIST]] [--no-searched]
--from-table docs/QUANTIZATION.md draws the plot again from the measured rows of the doc's first
table (no measurement), e.g. after a change of the plot's style.
--targets adds a row per mixed-precision target (xfmr quantize --target-bpw B --calib CALIB), drawn
as squares.
(needs the eval data, scripts/fetch_eval_data.sh; the GGUF tensor table is read here, since the
gguf package refuses xfmr's own type FP4S)"""
import argparse
import json
import os
import struct
import subprocess
import sys

TYPES = "F16,Q8_0,FP8S,Q6_K,Q5_1,Q5_K,Q5_0,Q4_1,Q4_K,Q4_0,MXFP4,FP4S"

# ggml type id: (block elements, bytes per block), docs/GGUF.md (4096, 4097: xfmr's FP4S, FP8S)
TYPE_SIZE = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 10: (256, 84),
             11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 30: (1, 2), 39: (32, 17), 4096: (32, 18), 4097: (32, 34)}


def tensor_table(path):
    """(name, dims, type) of every tensor of a GGUF v3 file."""
    f = open(path, "rb")
    rd = lambda fmt: struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))[0]
    rs = lambda: f.read(rd("Q"))
    sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q", 12: "d"}

    def skip(t):
        if t == 8:
            rs()
        elif t == 9:
            et, n = rd("I"), rd("Q")
            for _ in range(n):
                skip(et)
        else:
            rd(sizes[t])
    assert f.read(4) == b"GGUF" and rd("I") in (2, 3)
    n_t, n_kv = rd("Q"), rd("Q")
    for _ in range(n_kv):
        rs()
        skip(rd("I"))
    out = []
    for _ in range(n_t):
        name = rs().decode()
        dims = [rd("Q") for _ in range(rd("I"))]
        t = rd("I")
        rd("Q")
        out.append((name, dims, t))
    return out


def bpw(path):
    """Bits per weight of the 2-D tensors, and of the Transformer blocks' matrices alone (blk.*)."""
    b = [0, 0, 0, 0]
    for name, dims, t in tensor_table(path):
        if len(dims) == 2:
            n = dims[0] * dims[1]
            be, bb = TYPE_SIZE[t]
            b[0] += n // be * bb
            b[1] += n
            if name.startswith("blk."):
                b[2] += n // be * bb
                b[3] += n
    return 8.0 * b[0] / b[1], 8.0 * b[2] / b[3]


def run(a, name, gguf):
    out = os.path.join(a.out, name.replace(" ", "_") + ".json")
    if not (a.reuse and os.path.exists(out)):
        cmd = [a.xfmr, "eval", "-m", gguf, "--ref", a.model, "--task", "retrieval,agree", "--limit", str(a.limit),
               "--prompts", a.corpus, "--json", out] + (["--threads", str(a.threads)] if a.threads else [])
        print("+", " ".join(cmd), file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    t = json.load(open(out))["tasks"]
    r, g = t["retrieval"], t["agree"]
    all2d, blocks = bpw(gguf)
    return {"name": name, "file": gguf, "bytes": os.path.getsize(gguf), "bpw": all2d, "bpw_blk": blocks,
            "mrr": r["metrics"]["mrr@10"], "ndcg": r["metrics"]["ndcg@10"],
            "ref_mrr": r["ref"]["metrics"]["mrr@10"], "ref_ndcg": r["ref"]["metrics"]["ndcg@10"],
            "rel_mrr": r["relative"]["mrr@10"], "rel_ndcg": r["relative"]["ndcg@10"],
            "speed_cpu": r["relative"]["docs_per_cpu_s"], "speed_wall": r["relative"]["docs_per_s"],
            "cos_mean": g["cosine_mean"], "cos_min": g["cosine_min"], "texts": g["texts"]}


def table_rows(md):
    """The rows of the first '| type | bits/weight, blocks | ...' table of a Markdown file, as run() returns them."""
    rows, on = [], False
    for line in open(md):
        if line.startswith("| type | bits/weight, blocks | bits/weight, all 2-D"):
            on = True
            continue
        if on and not line.startswith("|"):
            break
        if not on or line.startswith("|---"):
            continue
        c = [x.strip().replace("**", "") for x in line.strip().strip("|").split("|")]
        name = c[0].replace("**", "").replace("`", "")
        if name.startswith("F32"):
            continue
        name = name.split(" (")[0] if not name.startswith("FP") else name.replace(" (xfmr's searched FP4, no calibration)", "").replace(
            " (xfmr's FP8, no calibration)", "").replace(" (--calib)", "")
        rows.append({"name": name, "bpw_blk": float(c[1]), "bpw": float(c[2]), "rel_ndcg": float(c[7]),
                     "cos_mean": float(c[8]), "cos_min": float(c[9])})
    return rows


def plot(a, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.6))
    for r in rows:
        own = not r["name"].startswith("llama.cpp")
        mix = r["name"].startswith("mix ")
        fp = r["name"].startswith("FP4S") or r["name"].startswith("FP8S")
        kw = dict(marker="s" if mix else "D" if fp else "o" if own else "x",
                  color="C2" if mix else "C4" if fp else "C0" if own else "C3")
        x = r["bpw_blk"]
        ax[0].scatter(x, r["rel_ndcg"], **kw)
        ax[0].annotate(r["name"], (x, r["rel_ndcg"]), fontsize=6.5, xytext=(3, 3), textcoords="offset points")
        ax[1].scatter(x, 1 - r["cos_mean"], **kw)
        ax[1].annotate(r["name"], (x, 1 - r["cos_mean"]), fontsize=6.5, xytext=(3, 3), textcoords="offset points")
    ax[0].axhline(1.0, color="gray", lw=0.5)
    ax[0].set_xlabel("bits per weight (the blocks' matrices)")
    ax[0].set_ylabel("nDCG@10 relative to F32 (%d Debian pairs)" % a.limit)
    ax[1].set_yscale("log")
    ax[1].set_xlabel("bits per weight (the blocks' matrices)")
    ax[1].set_ylabel("1 - mean cosine to F32 (golden corpus)")
    for k in (0, 1):
        ax[k].set_xscale("log", base=2)
        ax[k].set_xticks([4, 4.5, 5, 5.5, 6, 7, 8.5, 16])
        ax[k].set_xticklabels(["4", "4.5", "5", "5.5", "6", "7", "8.5", "16"])
        ax[k].grid(alpha=0.3)
    fig.suptitle(a.title + "; FP4S / FP8S (xfmr's searched FP formats): diamonds", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.plot, dpi=110)
    print("plot: %s" % a.plot, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xfmr", default="build/xfmr")
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--types", default=TYPES)
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--corpus", default="tests/data/corpus.txt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=".cache/quant")
    ap.add_argument("--plot", default="docs/quantization_minilm.png")
    ap.add_argument("--reuse", action="store_true", help="keep existing OUT/<name>.gguf / .json")
    ap.add_argument("--extra", action="append", default=[], help="NAME=FILE: a GGUF file made elsewhere")
    ap.add_argument("--calib", help="calibration text: adds 'Q4_0 searched' and 'FP4S searched' (xfmr quantize --type "
                    "Q4_0 / FP4S --calib)")
    ap.add_argument("--no-searched", action="store_true", help="with --calib: no searched rows")
    ap.add_argument("--targets", default="", help="mixed-precision targets (bits per weight), needs --calib")
    ap.add_argument("--mix-types", default=None, help="the types of the mixtures (xfmr quantize --mix-types)")
    ap.add_argument("--title", default="all-MiniLM-L6-v2: xfmr quantize types (o) and llama-quantize (x)")
    ap.add_argument("--from-table", help="plot the rows of this Markdown file's first type table, measure nothing")
    a = ap.parse_args()
    if a.from_table:
        plot(a, table_rows(a.from_table))
        return
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for t in a.types.split(","):
        g = os.path.join(a.out, "minilm-%s.gguf" % t)
        if not (a.reuse and os.path.exists(g)):
            cmd = ([a.xfmr, "convert", "-m", a.model, "--outtype", "f16", "-o", g] if t == "F16" else
                   [a.xfmr, "quantize", "-m", a.model, "--type", t, "-o", g])
            subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        rows.append(run(a, t, g))
    for t in ("Q4_0", "FP4S") if a.calib and not a.no_searched else ():
        g = os.path.join(a.out, "minilm-%ss.gguf" % t)
        if not (a.reuse and os.path.exists(g)):
            subprocess.run([a.xfmr, "quantize", "-m", a.model, "--type", t, "--calib", a.calib, "-o", g], check=True,
                           stderr=subprocess.DEVNULL)
        rows.append(run(a, t + " searched", g))
    for b in filter(None, a.targets.split(",")):
        g = os.path.join(a.out, "minilm-mix%s.gguf" % b)
        if not (a.reuse and os.path.exists(g)):
            subprocess.run([a.xfmr, "quantize", "-m", a.model, "--target-bpw", b, "--calib", a.calib, "-o", g] +
                           (["--mix-types", a.mix_types] if a.mix_types else []), check=True, stderr=subprocess.DEVNULL)
        rows.append(run(a, "mix %s" % b, g))
    for e in a.extra:
        name, path = e.split("=", 1)
        rows.append(run(a, name, path))
    json.dump(rows, open(os.path.join(a.out, "summary.json"), "w"), indent=1)
    ref = rows[0]
    print("| type | bits/weight, blocks | bits/weight, all 2-D | file MiB | MRR@10 | rel. | nDCG@10 | rel. | cosine mean | cosine min | docs/CPU s vs F32 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("| F32 (reference) | 32.00 | 32.00 | %.1f | %.4f | 1 | %.4f | 1 | 1 | 1 | 1 |" % (
        os.path.getsize(os.path.join(a.out, "minilm-F32.gguf")) / 2**20 if os.path.exists(os.path.join(a.out, "minilm-F32.gguf")) else float("nan"),
        ref["ref_mrr"], ref["ref_ndcg"]))
    for r in rows:
        print("| %s | %.2f | %.2f | %.1f | %.4f | %.4f | %.4f | %.4f | %.6f | %.6f | %.2fx |" % (
            r["name"], r["bpw_blk"], r["bpw"], r["bytes"] / 2**20, r["mrr"], r["rel_mrr"], r["ndcg"], r["rel_ndcg"], r["cos_mean"],
            r["cos_min"], r["speed_cpu"]))
    if a.plot:
        plot(a, rows)

if __name__ == "__main__":
    main()
