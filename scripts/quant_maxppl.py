#!/usr/bin/env python3
"""quant_maxppl.py — `xfmr quantize --max-ppl-increase P%` at several targets P: what the search
chose (bits per weight of the blocks' matrices), the loss it measured on the calibration text, every
candidate it tried, and the loss on held-out text (docs/QUANTIZATION.md, "--max-ppl-increase").

Decoders (--kind decoder): held-out loss = perplexity increase over the base on --text by
llama-perplexity's method (bench/ppl_chunks, --chunks chunks of --ctx tokens, second half scored).
Encoders (--kind encoder): held-out loss = 100 x (1 - mean cosine) to the base over the first
--limit lines of --text (`xfmr eval --task agree`).

usage: scripts/quant_maxppl.py --model M --calib FILE --targets 1,2,5 [--mix-types LIST]
          [--kind decoder|encoder] [--calib-tokens N] [--text FILE] [--out DIR] [--plot PNG] [--reuse]"""
import argparse
import json
import os
import re
import subprocess
import sys


from quant_curves import bpw  # noqa: E402 (scripts/ is on the path of a script run from it; no gguf package needed)


def sh(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, **kw)


def heldout(a, path):
    if a.kind == "decoder":
        out = sh([a.ppl_chunks, path, a.text, str(a.ctx), "--chunks", str(a.chunks), "--threads", str(a.threads)],
                 capture_output=True, text=True).stdout
        return float(re.search(r"PPL = ([0-9.]+)", out).group(1))
    js = path + ".agree.json"
    sh([a.xfmr, "eval", "-m", path, "--ref", a.model, "--task", "agree", "--prompts", a.text, "--limit", str(a.limit),
        "--threads", str(a.threads), "--json", js], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.load(open(js))["tasks"]["agree"]["cosine_mean"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xfmr", default="build/xfmr")
    ap.add_argument("--ppl-chunks", default="build/ppl_chunks")
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--kind", default="decoder", choices=["decoder", "encoder"])
    ap.add_argument("--calib", default=".cache/eval/docs/python-policy.txt")
    ap.add_argument("--text", default=".cache/eval/docs/gpl-3.txt")
    ap.add_argument("--targets", default="1,2,5,10,20")
    ap.add_argument("--mix-types", default=None)
    ap.add_argument("--calib-tokens", type=int, default=0, help="xfmr quantize --calib-tokens (0: its default, 4096)")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="/tmp/quant-maxppl")
    ap.add_argument("--plot", default=None)
    ap.add_argument("--reuse", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    base_js = os.path.join(a.out, "base.json")
    if a.reuse and os.path.exists(base_js):
        base = json.load(open(base_js))
    else:
        base = {"heldout": heldout(a, a.model) if a.kind == "decoder" else 1.0}
        json.dump(base, open(base_js, "w"))
    rows = []
    for p in a.targets.split(","):
        js = os.path.join(a.out, "ppl%s.json" % p)
        if a.reuse and os.path.exists(js):
            rows.append(json.load(open(js)))
            continue
        f = os.path.join(a.out, "ppl%s.gguf" % p)
        cmd = [a.xfmr, "quantize", "-m", a.model, "--max-ppl-increase", p + "%", "--calib", a.calib, "-o", f] + (["--mix-types", a.mix_types] if a.mix_types else []) + \
            (["--calib-tokens", str(a.calib_tokens)] if a.calib_tokens else [])
        print("+", " ".join(cmd), file=sys.stderr, flush=True)
        pr = subprocess.run(cmd, capture_output=True, text=True)
        sys.stderr.write(pr.stderr)
        cands = [(float(b), float(l)) for b, l in
                 re.findall(r"candidate \d+ \(of at most \d+\): ([0-9.]+) bits per weight, quality loss ([-+0-9.]+) %", pr.stderr)]
        r = {"target": float(p), "candidates": cands, "rc": pr.returncode}
        if pr.returncode == 0:
            info = subprocess.run([a.xfmr, "info", f], capture_output=True, text=True).stdout
            m = re.search(r"chosen for max [a-z ]+ [0-9.]+%: ([-0-9.]+)%", info)
            r["calib_loss"] = float(m.group(1))
            r["mix"] = re.search(r"xfmr mixture, (.*)", info).group(1)
            r["bpw_blk"] = bpw(f)[1]
            r["bytes"] = os.path.getsize(f)
            h = heldout(a, f)
            r["heldout_loss"] = 100.0 * (h / base["heldout"] - 1.0) if a.kind == "decoder" else 100.0 * (1.0 - h)
            r["heldout"] = h
        else:
            r["error"] = pr.stderr.strip().splitlines()[-1]
        json.dump(r, open(js, "w"), indent=1)
        rows.append(r)
    what = "perplexity increase" if a.kind == "decoder" else "1 - mean cosine"
    print("| --max-ppl-increase | candidates | bits/weight, blocks | MiB | %s, calibration text | %s, held-out | mixture |" % (what, what))
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if r["rc"]:
            print("| %g %% | %d | — | — | — | — | error: %s |" % (r["target"], len(r["candidates"]), r["error"]))
        else:
            print("| %g %% | %d | %.4f | %.1f | %+.2f %% | %+.2f %% | %s |" % (
                r["target"], len(r["candidates"]), r["bpw_blk"], r["bytes"] / 2**20, r["calib_loss"], r["heldout_loss"], r["mix"]))
    if a.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
        ok = [r for r in rows if not r["rc"]]
        for r in rows:
            ax[0].scatter([c[0] for c in r["candidates"]], [c[1] for c in r["candidates"]], s=10, color="0.7")
        ax[0].scatter([], [], s=10, color="0.7", label="candidates measured (calibration text)")
        ax[0].plot([r["bpw_blk"] for r in ok], [r["calib_loss"] for r in ok], "o-", label="chosen: calibration text")
        ax[0].plot([r["bpw_blk"] for r in ok], [r["heldout_loss"] for r in ok], "s--", label="chosen: held-out text")
        for r in ok:
            ax[0].annotate("%g %%" % r["target"], (r["bpw_blk"], r["calib_loss"]), fontsize=7, xytext=(3, 3),
                           textcoords="offset points")
        ax[0].set_yscale("symlog", linthresh=1)
        ax[0].set_xlabel("bits per weight (blocks' matrices)")
        ax[0].set_ylabel(what + " (%)")
        ax[0].legend(fontsize=7)
        ax[0].grid(alpha=0.3)
        t = [r["target"] for r in ok]
        ax[1].plot(t, [r["calib_loss"] for r in ok], "o-", label="achieved, calibration text")
        ax[1].plot(t, [r["heldout_loss"] for r in ok], "s--", label="achieved, held-out text")
        lim = [min(t + [0]), max(t + [1])]
        ax[1].plot(lim, lim, ":", color="k", label="target")
        ax[1].set_xlabel("--max-ppl-increase target (%)")
        ax[1].set_ylabel(what + " (%)")
        ax2 = ax[1].twinx()
        ax2.plot(t, [r["bpw_blk"] for r in ok], "^-", color="tab:green", label="bits per weight")
        ax2.set_ylabel("bits per weight (blocks)", color="tab:green")
        ax[1].legend(fontsize=7, loc="upper left")
        ax[1].grid(alpha=0.3)
        fig.suptitle("xfmr quantize --max-ppl-increase: %s" % os.path.basename(a.model), fontsize=10)
        fig.tight_layout()
        fig.savefig(a.plot, dpi=110)


if __name__ == "__main__":
    main()
