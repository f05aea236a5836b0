#!/usr/bin/env python3
"""bench_load.py — xfmr under load: `xfmr generate` and `xfmr embed` with the default thread count
(0: the CPUs the process may use) against `--threads 1`, while busy loops (one per --busy, default
1: a competing process that keeps one core busy) run beside them. The claim checked: with other
processes competing for the CPUs, the default is not slower than one thread (the thread pool never
waits for a worker the scheduler has parked, docs/DECISIONS.md). Medians of --runs wall times of
the whole command (model load included, as a user sees it), alternating the two settings.

  python3 bench/bench_load.py [--runs 5] [--busy 1] [--json bench/results/load.json]

Needs build/xfmr and the default models (scripts/fetch_models.sh all-MiniLM-L6-v2 SmolLM2-135M-Instruct).
"""
import argparse, json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BUILD, CORPUS, RESULTS, ROOT, loadavg, machine, median  # noqa: E402

SMOLLM = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct")
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")


def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--busy", type=int, default=1, help="busy-loop processes beside xfmr")
    ap.add_argument("--tokens", type=int, default=64, help="tokens generated per run")
    ap.add_argument("--texts", type=int, default=300, help="lines of the corpus embedded per run")
    ap.add_argument("--json", default=os.path.join(RESULTS, "load.json"))
    a = ap.parse_args()
    xfmr = os.path.join(BUILD, "xfmr")
    if not os.path.exists(xfmr):
        sys.exit("bench_load.py: build/xfmr not found (cmake --build build --target xfmr)")
    texts = os.path.join(ROOT, ".cache", "bench", f"corpus{a.texts}.txt")
    os.makedirs(os.path.dirname(texts), exist_ok=True)
    with open(CORPUS, "rb") as fi, open(texts, "wb") as fo:
        fo.writelines(fi.readlines()[:a.texts])
    jobs = {
        "generate": [xfmr, "generate", "-m", SMOLLM, "-p", "Once upon a time", "--temperature", "0",
                     "--max-tokens", str(a.tokens)],
        "embed": [xfmr, "embed", "-m", MINILM, texts],
    }
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.busy)]
    res = {"busy_processes": a.busy, "runs": a.runs, "machine": machine(), "loadavg_before": loadavg(), "results": []}
    try:
        time.sleep(0.5)
        for name, cmd in jobs.items():
            secs = {"1": [], "default": []}
            for _ in range(a.runs):
                secs["1"].append(timed(cmd + ["--threads", "1"]))
                secs["default"].append(timed(cmd))
            r = {"job": name, "command": " ".join(cmd).replace(ROOT + "/", ""), "seconds": secs,
                 "median_s": {k: median(v) for k, v in secs.items()}}
            r["default_over_1"] = r["median_s"]["1"] / r["median_s"]["default"]
            res["results"].append(r)
            print(f"{name}: --threads 1 {r['median_s']['1']:.2f} s, default {r['median_s']['default']:.2f} s "
                  f"(speed default / 1 thread: {r['default_over_1']:.2f}x) with {a.busy} busy loop(s)", flush=True)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    res["loadavg_after"] = loadavg()
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
