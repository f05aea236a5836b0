#!/usr/bin/env python3
"""compress_report.py — the quality tables and docs/img/compress.png of docs/COMPRESSION.md
("Structural compression: quality") from the JSON files scripts/compress_quality.sh writes
(bench/results/compress). Run from the source tree: python3 scripts/compress_report.py
Low-rank rows are placed at the parameters of the FFN slice they match (the factor pair's count;
the files store the product multiplied out). A second pair of tables: 2:4 and 50 % unstructured
sparsity by magnitude, Wanda and SparseGPT (compress_quality.sh minilm-sparse / smollm2-sparse)."""
import json
import os

R = "bench/results/compress"
VARIANTS = [("heads", "0.1"), ("heads", "0.25"), ("heads", "0.5"), ("ffn", "0.75"), ("ffn", "0.5"), ("ffn", "0.25"),
            ("lowrank", "0.75"), ("lowrank", "0.5"), ("lowrank", "0.25")]
LABEL = {"heads": "heads pruned {:.0%}", "ffn": "FFN sliced to {:.0%}", "lowrank": "FFN low-rank, {:.0%} params"}


def load(name):
    p = os.path.join(R, name + ".json")
    return json.load(open(p)) if os.path.exists(p) else None


def label(method, f):
    return LABEL[method].format(float(f))


def params(model, method, f, dense):
    """Parameters as the method counts them (low rank: the matching FFN slice's)."""
    d = load(f"{model}_ffn_{f}") if method == "lowrank" else load(f"{model}_{method}_{f}")
    return d["model"]["params"] if d else None


def minilm():
    dense = load("minilm_dense")
    rows, pts = [], []
    if not dense:
        return rows, pts
    dm = dense["tasks"]["retrieval"]["metrics"]
    rows.append(("dense", dense["model"]["params"], dm, 1.0, 1.0, dense["tasks"]["retrieval"]["docs_time"]["texts_per_cpu_s"]))
    for method, f in VARIANTS:
        d = load(f"minilm_{method}_{f}")
        if not d:
            continue
        a = load(f"minilm_{method}_{f}_agree") or d
        ag = a["tasks"].get("agree", {})
        n = params("minilm", method, f, dense)
        rows.append((label(method, f), n, d["tasks"]["retrieval"]["metrics"], ag.get("cosine_mean"), ag.get("cosine_min"),
                     d["tasks"]["retrieval"]["docs_time"]["texts_per_cpu_s"]))
        pts.append((method, n / dense["model"]["params"], d["tasks"]["retrieval"]["metrics"]["mrr@10"]))
    return rows, pts


def smollm2():
    dense = load("smollm2_dense")
    rows, pts = [], []
    if not dense:
        return rows, pts
    rows.append(("dense (float32)", dense["model"]["params"], dense["tasks"]["ppl"]["sets"][0]["perplexity"], None))
    for method, f in VARIANTS:
        d = load(f"smollm2_{method}_{f}")
        if not d:
            continue
        n = params("smollm2", method, f, dense)
        ppl = d["tasks"]["ppl"]["sets"][0]["perplexity"]
        rows.append((label(method, f), n, ppl, d["tasks"].get("agree")))
        pts.append((method, n / dense["model"]["params"], ppl))
    return rows, pts


SPARSE = [(m, s) for s in ("24", "0.5") for m in ("magnitude", "wanda", "sparsegpt")]
SPARSE_NAME = {"magnitude": "magnitude", "wanda": "Wanda", "sparsegpt": "SparseGPT"}


def sparse_label(method, s):
    return ("2:4 " if s == "24" else "50 % unstructured ") + SPARSE_NAME[method]


def sparse_tables():
    out = []
    dense = load("minilm_dense")
    out.append("| all-MiniLM-L6-v2, sparsity | MRR@10 | nDCG@10 | recall@1 | recall@10 | cosine to dense (mean / min) |")
    out.append("|---|---|---|---|---|---|")
    if dense:
        m = dense["tasks"]["retrieval"]["metrics"]
        out.append(f"| dense | {m['mrr@10']:.4f} | {m['ndcg@10']:.4f} | {m['recall@1']:.3f} | {m['recall@10']:.3f} | 1 / 1 |")
    for method, s in SPARSE:
        d = load(f"minilm_sparse_{method}{s}")
        if not d:
            continue
        m = d["tasks"]["retrieval"]["metrics"]
        ag = (load(f"minilm_sparse_{method}{s}_agree") or {"tasks": {}})["tasks"].get("agree", {})
        out.append(f"| {sparse_label(method, s)} | {m['mrr@10']:.4f} | {m['ndcg@10']:.4f} | {m['recall@1']:.3f} | "
                   f"{m['recall@10']:.3f} | {fmt(ag.get('cosine_mean'), '.4f')} / {fmt(ag.get('cosine_min'), '.3f')} |")
    out.append("")
    out.append("| SmolLM2-135M-Instruct, sparsity | ppl valgrind-faq | KL to dense | top-1 agreement | greedy continuations equal |")
    out.append("|---|---|---|---|---|")
    dense = load("smollm2_dense")
    if dense:
        out.append(f"| dense (float32) | {dense['tasks']['ppl']['sets'][0]['perplexity']:.2f} | — | — | — |")
    for method, s in SPARSE:
        d = load(f"smollm2_sparse_{method}{s}")
        if not d:
            continue
        ag = d["tasks"].get("agree") or {}
        greedy = f"{ag.get('greedy_equal')}/{ag.get('greedy_prompts')}" if ag else "—"
        out.append(f"| {sparse_label(method, s)} | {d['tasks']['ppl']['sets'][0]['perplexity']:.2f} | "
                   f"{fmt(ag.get('kl_mean'), '.3f')} | {fmt(ag.get('top1_agree'), '.3f')} | {greedy} |")
    return out


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def main():
    out = []
    mrows, mpts = minilm()
    out.append("| all-MiniLM-L6-v2 | params | MRR@10 | nDCG@10 | recall@1 | recall@10 | cosine to dense (mean / min) | docs / CPU s |")
    out.append("|---|---|---|---|---|---|---|---|")
    for name, n, m, cm, cmin, dps in mrows:
        cos = "1 / 1" if name == "dense" else f"{fmt(cm, '.4f')} / {fmt(cmin, '.3f')}"
        out.append(f"| {name} | {n / 1e6:.2f} M | {m['mrr@10']:.4f} | {m['ndcg@10']:.4f} | {m['recall@1']:.3f} | "
                   f"{m['recall@10']:.3f} | {cos} | {dps:.1f} |")
    out.append("")
    srows, spts = smollm2()
    out.append("| SmolLM2-135M-Instruct | params | ppl valgrind-faq | KL to dense | top-1 agreement | greedy continuations equal |")
    out.append("|---|---|---|---|---|---|")
    for name, n, ppl, ag in srows:
        kl = top1 = greedy = None
        if ag:
            kl, top1 = ag.get("kl_mean"), ag.get("top1_agree")
            greedy = f"{ag.get('greedy_equal')}/{ag.get('greedy_prompts')}"
        out.append(f"| {name} | {n / 1e6:.1f} M | {ppl:.2f} | {fmt(kl, '.3f')} | {fmt(top1, '.3f')} | {greedy or '—'} |")
    out.append("")
    out.append("<!-- sparse tables -->")
    out += sparse_tables()
    print("\n".join(out))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    style = {"heads": ("tab:blue", "o"), "ffn": ("tab:green", "s"), "lowrank": ("tab:red", "^")}
    names = {"heads": "heads pruned", "ffn": "FFN sliced (nested)", "lowrank": "FFN low-rank (act.-aware SVD)"}
    for k, (pts, title, yl) in enumerate([(mpts, "all-MiniLM-L6-v2: retrieval (1000 Debian pairs)", "MRR@10"),
                                          (spts, "SmolLM2-135M: perplexity (valgrind-faq)", "perplexity")]):
        dense_y = (mrows[0][2]["mrr@10"] if k == 0 else srows[0][2]) if (mrows if k == 0 else srows) else None
        for method in ("heads", "ffn", "lowrank"):
            p = sorted((x, y) for m, x, y in pts if m == method)
            if p:
                c, mk = style[method]
                ax[k].plot([x for x, _ in p], [y for _, y in p], marker=mk, color=c, label=names[method])
        if dense_y is not None:
            ax[k].scatter([1.0], [dense_y], color="gray", marker="*", s=120, label="dense", zorder=5)
        ax[k].set_xlabel("parameters kept (fraction of dense)")
        ax[k].set_ylabel(yl)
        ax[k].set_title(title, fontsize=10)
        if k == 1:
            ax[k].set_yscale("log")
        ax[k].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs("docs/img", exist_ok=True)
    fig.savefig("docs/img/compress.png", dpi=110)


main()
