#!/usr/bin/env python3
"""serve_kv.py — what the KV-cache options of `xfmr serve` cost and save with many long sessions
(docs/SERVE.md, "KV cache").

For each setting (a list of `xfmr serve` KV options, e.g. "--kv-type q8 --kv-policy h2o
--kv-budget 512"), starts `xfmr serve` with one decoder on a free loopback port, sends --sessions
greedy completions at once — each a different --prompt-tokens-long slice of real English text (the
repository's docs, so no two share a prefix), --tokens tokens each — and records: the wall time,
generated tokens per second, the KV cache the sessions hold at the end (/metrics
xfmr_kv_cache_bytes), the server's peak RSS (VmHWM) and CPU seconds, and the answers. Settings
alternate over --repeat rounds, one fresh server each run; medians are reported. Stops by itself;
nothing leaves the loopback interface.

usage: bench/serve_kv.py path/to/xfmr [--model DIR] [--sessions 8] [--prompt-tokens 1500]
       [--tokens 64] [--threads 2] [--repeat 2] [--json OUT]
       [--setting "" --setting "--kv-type q8" ...]
"""
import argparse
import concurrent.futures as cf
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, machine, median  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("xfmr")
ap.add_argument("--model", default=os.path.join(ROOT, "models", "SmolLM2-135M-Instruct"))
ap.add_argument("--sessions", type=int, default=8)
ap.add_argument("--prompt-tokens", type=int, default=1500, help="about this many tokens per prompt")
ap.add_argument("--tokens", type=int, default=64, help="tokens generated per request")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeat", type=int, default=2)
ap.add_argument("--setting", action="append", help="xfmr serve KV options (repeatable; \"\" = the default)")
ap.add_argument("--json", help="write the figures here")
a = ap.parse_args()
settings = a.setting if a.setting is not None else [
    "", "--kv-type q8", "--kv-type q8 --kv-policy h2o --kv-budget 512", "--kv-policy snapkv --kv-budget 512"]

# Prompts: slices of the docs' prose, ~4 characters a token, one per session, disjoint.
text = " ".join(" ".join(open(p, encoding="utf-8").read().split()) for p in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))))
step = a.prompt_tokens * 4
if len(text) < step * a.sessions:
    sys.exit("serve_kv.py: the docs hold %d characters, fewer than %d sessions x %d" % (len(text), a.sessions, step))
prompts = [text[i * step:(i + 1) * step] for i in range(a.sessions)]


def get(base, path, body=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=3600) as r:
        return r.read()


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def run(setting):
    ctx = a.prompt_tokens * 2 + a.tokens
    cmd = [a.xfmr, "serve", "-m", a.model, "--port", "0", "--threads", str(a.threads), "--max-sessions",
           str(a.sessions), "--ctx", str(ctx), "--max-body", "10000000"] + setting.split()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = ""
    while p.poll() is None and "listening" not in line:
        line = p.stderr.readline()
    m = re.search(r"127\.0\.0\.1:(\d+)/", line)
    if not m:
        sys.exit("serve_kv.py: the server did not start (%s): %s" % (setting, line + p.stderr.read()))
    base = "http://127.0.0.1:" + m.group(1)
    try:
        rss0, cpu0 = proc_status(p.pid, "VmRSS"), cpu_seconds(p.pid)

        def one(x):
            r = json.loads(get(base, "/v1/completions", {"prompt": x, "max_tokens": a.tokens, "temperature": 0}))
            return r["choices"][0]["text"], r["usage"]["prompt_tokens"], r["usage"]["completion_tokens"]

        t0 = time.time()
        with cf.ThreadPoolExecutor(a.sessions) as ex:
            answers = list(ex.map(one, prompts))
        wall = time.time() - t0
        met = get(base, "/metrics").decode()
        kv = int(re.search(r"xfmr_kv_cache_bytes\{[^}]*\} (\d+)", met).group(1))
        res = {"setting": setting or "(default: f32, keep all)", "wall_s": wall,
               "generated": sum(x[2] for x in answers), "prompt_tokens": sum(x[1] for x in answers),
               "tokens_per_s": sum(x[2] for x in answers) / wall, "kv_cache_bytes": kv,
               "rss_before_bytes": rss0, "peak_rss_bytes": proc_status(p.pid, "VmHWM"),
               "cpu_s": cpu_seconds(p.pid) - cpu0, "answers": [x[0] for x in answers]}
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)
    return res


runs = {s: [] for s in settings}
for r in range(a.repeat):
    for s in settings:
        res = run(s)
        runs[s].append(res)
        print("round %d  %-50s %6.1f s  %6.1f tok/s  KV %7.1f MiB  peak RSS %7.1f MiB  CPU %6.1f s" % (
            r + 1, res["setting"], res["wall_s"], res["tokens_per_s"], res["kv_cache_bytes"] / 2**20,
            res["peak_rss_bytes"] / 2**20, res["cpu_s"]), flush=True)

dense = runs[settings[0]][0]["answers"]
print("\n| xfmr serve KV options | prompt tokens (all sessions) | wall s | generated tok/s | KV cache MiB | "
      "peak RSS MiB | server CPU s | answers = first setting's |")
print("|---|---|---|---|---|---|---|---|")
summary = []
for s in settings:
    rs = runs[s]
    row = {"setting": rs[0]["setting"], "prompt_tokens": rs[0]["prompt_tokens"],
           "wall_s": median([x["wall_s"] for x in rs]), "tokens_per_s": median([x["tokens_per_s"] for x in rs]),
           "kv_cache_bytes": median([x["kv_cache_bytes"] for x in rs]),
           "peak_rss_bytes": median([x["peak_rss_bytes"] for x in rs]), "cpu_s": median([x["cpu_s"] for x in rs]),
           "same_answers": sum(x == y for x, y in zip(rs[0]["answers"], dense))}
    summary.append(row)
    print("| `%s` | %d | %.1f | %.1f | %.1f | %.0f | %.1f | %d / %d |" % (
        row["setting"], row["prompt_tokens"], row["wall_s"], row["tokens_per_s"], row["kv_cache_bytes"] / 2**20,
        row["peak_rss_bytes"] / 2**20, row["cpu_s"], row["same_answers"], a.sessions))
if a.json:
    with open(a.json, "w") as f:
        json.dump({"machine": machine(), "args": vars(a), "summary": summary, "runs": runs}, f, indent=1)
