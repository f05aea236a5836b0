#!/usr/bin/env python3
"""adaptive_curves.py — speed-quality curves of token pruning/merging and early exit (docs/ADAPTIVE.md).

Each setting is one `xfmr eval --task retrieval` run with the dense model as --ref, so the
quality (MRR@10, nDCG@10) and the document throughput are measured relative to dense in the same
run. Throughput is docs per CPU second of the process (the machine may be shared; wall-clock
docs/s is reported beside it). Writes OUT/<name>.json per run, OUT/summary.json, a Markdown table
on stdout, and PNG plots (matplotlib) to --plots.

usage: scripts/adaptive_curves.py [--xfmr build/xfmr] [--model all-MiniLM-L6-v2]
          [--pairs .cache/eval/adaptive/pairs_128_256.jsonl] [--calib .cache/eval/adaptive/calib_docs.txt]
          [--out .cache/eval/adaptive/runs] [--plots docs] [--threads N] [--only prune|exit|probsparse]
          [--factor 40,20,...] [--exact 5]  (ProbSparse factors, sampled and exact measurement)
          [--keep 0.9,0.8,...] [--exit 0.999,...] [--target 0.99,...] [--schedule 'A;B']
          [--extra=--merge | --extra '--pool-pruned rejoin'] [--tag NAME-]
       scripts/adaptive_curves.py --combine 'frozen=OUT/summary.json' 'rejoin=OUT/rejoin-summary.json'
          --combine-to docs/adaptive_pruning.png          (plot earlier runs together)
"""
import argparse
import json
import os
import subprocess
import sys


def run(a, name, opts):
    out = os.path.join(a.out, name + ".json")
    if not (a.reuse and os.path.exists(out)):
        cmd = [a.xfmr, "eval", "-m", a.model, "--ref", a.model, "--task", "retrieval", "--pairs", a.pairs,
               "--json", out] + (["--threads", str(a.threads)] if a.threads else []) + opts
        print("+", " ".join(cmd), file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    t = json.load(open(out))["tasks"]["retrieval"]
    ad = t.get("adaptive", {})
    return {
        "name": name, "options": " ".join(opts),
        "mrr": t["metrics"]["mrr@10"], "ndcg": t["metrics"]["ndcg@10"],
        "ref_mrr": t["ref"]["metrics"]["mrr@10"], "ref_ndcg": t["ref"]["metrics"]["ndcg@10"],
        "rel_mrr": t["relative"]["mrr@10"], "rel_ndcg": t["relative"]["ndcg@10"],
        "speed_cpu": t["relative"]["docs_per_cpu_s"], "speed_wall": t["relative"]["docs_per_s"],
        "docs_per_cpu_s": t["docs_time"]["texts_per_cpu_s"], "ref_docs_per_cpu_s": t["ref"]["docs_time"]["texts_per_cpu_s"],
        "ci_mrr": t.get("relative_ci95", {}).get("mrr@10"),
        "mean_layers": ad.get("mean_layers", 6.0),
        "token_layers": ad["token_layers"] / ad["token_layers_dense"] if ad else 1.0,
    }


def finish_plot(fig, ax, path, title, legend_size):
    """The goal lines (99 % of dense, 1.5x), the dense point, labels, and the PNG written to path."""
    ax.axhline(99, color="grey", lw=0.8, ls=":")
    ax.axvline(1.5, color="grey", lw=0.8, ls=":")
    ax.plot([1.0], [100.0], "k*", ms=10, label="dense")
    ax.set_xlabel("docs per CPU second, relative to dense (same run)")
    ax.set_ylabel("% of dense")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print("wrote", path, file=sys.stderr)


def plot(rows, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in (("rel_mrr", "MRR@10", "o-"), ("rel_ndcg", "nDCG@10", "s--")):
        pts = sorted((r["speed_cpu"], r[key], r["name"]) for r in rows)
        ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], style, label=label)
        if key == "rel_mrr":
            for x, y, n in pts:
                ax.annotate(n, (x, 100 * y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    finish_plot(fig, ax, path, title, 8)


def plot_series(series, path, title):
    """series: [(label, rows)]: MRR@10 of each against docs per CPU second, one line per series."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for label, rows in series:
        pts = sorted((r["speed_cpu"], r["rel_mrr"], r["rel_ndcg"], r["name"].split("-")[-1]) for r in rows)
        line, = ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], "o-", label=f"{label}: MRR@10")
        ax.plot([p[0] for p in pts], [100 * p[2] for p in pts], "s--", color=line.get_color(), alpha=0.5, ms=4,
                label=f"{label}: nDCG@10")
        for x, y, _, n in pts:
            ax.annotate(n, (x, 100 * y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    finish_plot(fig, ax, path, title, 7)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xfmr", default="build/xfmr")
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--pairs", default=".cache/eval/adaptive/pairs_128_256.jsonl")
    ap.add_argument("--calib", default=".cache/eval/adaptive/calib_docs.txt")
    ap.add_argument("--out", default=".cache/eval/adaptive/runs")
    ap.add_argument("--plots", default="docs")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--keep", default="0.9,0.8,0.7,0.6,0.5,0.4")
    ap.add_argument("--schedule", default="", help="extra pruning schedules, ';'-separated")
    ap.add_argument("--exit", default="0.9999,0.9995,0.999,0.998,0.995,0.99")
    ap.add_argument("--target", default="0.995,0.99,0.98")
    ap.add_argument("--only", choices=["prune", "exit", "probsparse"])
    ap.add_argument("--factor", default="40,20,10,5,2", help="ProbSparse factors (--only probsparse)")
    ap.add_argument("--exact", default="5", help="ProbSparse factors run with --probsparse-exact")
    ap.add_argument("--extra", default="", help="options added to every run (e.g. '--pool-pruned no')")
    ap.add_argument("--tag", default="")
    ap.add_argument("--reuse", action="store_true", help="reuse OUT/<name>.json files that exist")
    ap.add_argument("--combine", nargs="*", metavar="LABEL=SUMMARY.json",
                    help="only plot: one line per summary file of earlier runs, into --combine-to")
    ap.add_argument("--combine-to", default="docs/adaptive_pruning.png")
    ap.add_argument("--title", default="all-MiniLM-L6-v2, Debian pairs with docs of 128-256 tokens")
    a = ap.parse_args()
    if a.combine:
        series = []
        for item in a.combine:
            label, path = item.split("=", 1)
            series.append((label, json.load(open(path))))
        plot_series(series, a.combine_to, a.title)
        return
    os.makedirs(a.out, exist_ok=True)
    extra = a.extra.split()
    prune, ex, ps = [], [], []
    if a.only == "probsparse":
        ps = [run(a, f"{a.tag}ps{c}", ["--attn", "probsparse", "--probsparse-factor", c] + extra)
              for c in filter(None, a.factor.split(","))]
        ps += [run(a, f"{a.tag}psx{c}", ["--attn", "probsparse", "--probsparse-factor", c, "--probsparse-exact"] + extra)
               for c in filter(None, a.exact.split(","))]
    if a.only in (None, "prune"):
        for k in filter(None, a.keep.split(",")):
            prune.append(run(a, f"{a.tag}keep{k}", ["--keep", k] + extra))
        for s in filter(None, a.schedule.split(";")):
            prune.append(run(a, f"{a.tag}sched{s}", ["--keep-schedule", s] + extra))
    if a.only in (None, "exit"):
        for t in filter(None, a.exit.split(",")):
            ex.append(run(a, f"{a.tag}exit{t}", ["--exit-cos", t] + extra))
        for t in filter(None, a.target.split(",")):
            ex.append(run(a, f"{a.tag}target{t}", ["--exit-target", t, "--exit-calib", a.calib] + extra))
    rows = prune + ex + ps
    json.dump(rows, open(os.path.join(a.out, f"{a.tag}summary.json"), "w"), indent=1)
    print("| setting | MRR@10 | % of dense | 95 % CI | nDCG@10 | % of dense | docs/CPU-s vs dense | docs/s (wall) vs dense | token-layers | mean depth |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ci = r.get("ci_mrr")
        ci = f"{100 * ci[0]:.1f}-{100 * ci[1]:.1f}" if ci else "-"
        print(f"| `{r['options']}` | {r['mrr']:.4f} | {100 * r['rel_mrr']:.2f} | {ci} | {r['ndcg']:.4f} | {100 * r['rel_ndcg']:.2f} | "
              f"{r['speed_cpu']:.3f}x | {r['speed_wall']:.3f}x | {100 * r['token_layers']:.1f}% | {r['mean_layers']:.3f} |")
    if prune:
        what = "Token merging (ToMe)" if "--merge" in extra else "Token pruning (attention received)"
        plot(prune, os.path.join(a.plots, f"adaptive_{a.tag}pruning.png"), f"{what}, all-MiniLM-L6-v2, docs of 128-256 tokens")
    if ps:
        plot(ps, os.path.join(a.plots, f"adaptive_{a.tag}probsparse.png"), a.title)
    if ex:
        plot(ex, os.path.join(a.plots, f"adaptive_{a.tag}exit.png"), "Early exit (pooled cosine between layers), all-MiniLM-L6-v2, docs of 128-256 tokens")


if __name__ == "__main__":
    main()
