#!/usr/bin/env python3
"""quant_decoder.py — perplexity and KL to the base of a decoder's quantized files, xfmr's against
llama-quantize's of the same type, and mixed precision (`xfmr quantize --target-bpw`) against the
uniform types (docs/QUANTIZATION.md, "Mixed precision").

For each file: bits per weight of the blocks' matrices (blk.*, from the GGUF tensor table);
perplexity by llama-perplexity's method (bench/ppl_chunks: chunks of --ctx tokens, the second half
of each scored, the first --chunks chunks of --text) in xfmr, and with --lcpp-ppl also in
llama-perplexity; the KL divergence of the next-token distributions from the base model's and
their top-1 agreement (`xfmr eval --task agree --ref BASE`, --kl-tokens tokens of --text).

usage: scripts/quant_decoder.py [--base models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf]
          [--types Q4_0,Q4_K,Q5_0,Q8_0] [--lcpp-types Q4_0,Q4_K_S,Q5_0,Q8_0] [--targets 4.5,5.5]
          [--mix-types LIST] [--calib .cache/eval/docs/python-policy.txt] [--text .cache/eval/docs/gpl-3.txt]
          [--ctx 512] [--chunks 4] [--kl-tokens 2048] [--threads 2] [--out /tmp/quant] [--reuse]
          [--lcpp-ppl NAME,...|all]
(needs gguf: pip install gguf; llama.cpp's tools in --lcpp-bin)"""
import argparse
import json
import os
import re
import subprocess
import sys

from gguf import GGUFReader

LCPP = ".cache/llamacpp/build-llama_cpp_python-0.3.36/bin"


def bpw_blocks(path):
    r = GGUFReader(path)
    b = n = 0
    for t in r.tensors:
        if t.name.startswith("blk.") and len(t.shape) == 2:
            b += int(t.n_bytes)
            n += int(t.n_elements)
    return 8.0 * b / n


def sh(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, **kw)


def measure(a, name, path):
    js = os.path.join(a.out, name.replace(" ", "_") + ".json")
    if a.reuse and os.path.exists(js):
        return json.load(open(js))
    r = {"name": name, "file": path, "bytes": os.path.getsize(path), "bpw_blk": bpw_blocks(path)}
    out = sh(["build/ppl_chunks", path, a.text, str(a.ctx), "--chunks", str(a.chunks), "--threads", str(a.threads)],
             capture_output=True, text=True).stdout
    r["ppl"] = float(re.search(r"PPL = ([0-9.]+)", out).group(1))
    agree = os.path.join(a.out, name.replace(" ", "_") + ".agree.json")
    sh([a.xfmr, "eval", "-m", path, "--ref", a.base, "--task", "agree", "--text", a.text, "--kl-tokens", str(a.kl_tokens),
        "--prompts", a.prompts, "--limit", "1", "--max-tokens", "1", "--threads", str(a.threads), "--json", agree],
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    g = json.load(open(agree))["tasks"]["agree"]
    r["kl"], r["kl_max"], r["top1"] = g["kl_mean"], g["kl_max"], g["top1_agree"]
    if a.lcpp_ppl == "all" or name in a.lcpp_ppl.split(","):
        out = sh([os.path.join(a.lcpp_bin, "llama-perplexity"), "-m", path, "-f", a.text, "-c", str(a.ctx), "-b",
                  str(a.ctx), "--chunks", str(a.chunks), "-t", str(a.threads)], capture_output=True, text=True)
        m = re.search(r"Final estimate: PPL = ([0-9.]+)", out.stdout + out.stderr)
        r["lcpp_ppl"] = float(m.group(1)) if m else None
    json.dump(r, open(js, "w"), indent=1)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xfmr", default="build/xfmr")
    ap.add_argument("--lcpp-bin", default=LCPP)
    ap.add_argument("--base", default="models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--types", default="Q4_0,Q4_K,Q5_0,Q8_0")
    ap.add_argument("--lcpp-types", default="Q4_0,Q4_K_S,Q5_0,Q8_0", help="llama-quantize types (--allow-requantize)")
    ap.add_argument("--targets", default="4.5,5.5")
    ap.add_argument("--mix-types", default=None)
    ap.add_argument("--calib", default=".cache/eval/docs/python-policy.txt")
    ap.add_argument("--text", default=".cache/eval/docs/gpl-3.txt")
    ap.add_argument("--prompts", default=".cache/eval/prompts.txt")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--kl-tokens", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=".cache/quant_decoder")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--lcpp-ppl", default="", help="comma-separated row names (or all) also run in llama-perplexity")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.basename(a.base).split(".")[0]
    files = []
    for t in filter(None, a.types.split(",")):
        g = os.path.join(a.out, "%s-%s.gguf" % (stem, t))
        if not (a.reuse and os.path.exists(g)):
            sh([a.xfmr, "quantize", "-m", a.base, "--type", t, "-o", g], stderr=subprocess.DEVNULL)
        files.append(("xfmr " + t, g))
    for t in filter(None, a.lcpp_types.split(",")):
        g = os.path.join(a.out, "lcpp-%s-%s.gguf" % (stem, t))
        if not (a.reuse and os.path.exists(g)):
            sh([os.path.join(a.lcpp_bin, "llama-quantize"), "--allow-requantize", a.base, g, t],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        files.append(("llama.cpp " + t, g))
    for b in filter(None, a.targets.split(",")):
        tag = "-" + a.mix_types.replace(",", "_") if a.mix_types else ""
        g = os.path.join(a.out, "%s-mix%s%s.gguf" % (stem, b, tag))
        if not (a.reuse and os.path.exists(g)):
            sh([a.xfmr, "quantize", "-m", a.base, "--target-bpw", b, "--calib", a.calib, "-o", g] +
               (["--mix-types", a.mix_types] if a.mix_types else []), stderr=subprocess.DEVNULL)
        files.append(("xfmr --target-bpw " + b + (" (%s)" % a.mix_types if a.mix_types else ""), g))
    rows = [measure(a, n, g) for n, g in files]
    json.dump(rows, open(os.path.join(a.out, "summary.json"), "w"), indent=1)
    print("| file | bits/weight, blocks | MiB | PPL xfmr | PPL llama-perplexity | KL to base (nats) | top-1 agree |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        lp = r.get("lcpp_ppl")
        print("| %s | %.3f | %.1f | %.4f | %s | %.5f | %.4f |" % (r["name"], r["bpw_blk"], r["bytes"] / 2**20, r["ppl"],
              "%.4f" % lp if lp else "—", r["kl"], r["top1"]))


if __name__ == "__main__":
    main()
