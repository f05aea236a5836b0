#!/usr/bin/env python3
"""bench_load.py — xfmr under load: `xfmr generate` and `xfmr embed` with the default thread count
(0: the CPUs the process may use) against `--threads 1`, while busy loops (one per --busy, default
1: a competing process that keeps one core busy) run beside them. The claim checked: with other
processes competing for the CPUs, the default is not slower than one thread (the thread pool never
waits for a worker the scheduler has parked, docs/DECISIONS.md). Medians of --runs wall times of
the whole command (model load included, as a user sees it), alternating the two settings.

  python3 bench/bench_load.py [--runs 5] [--busy 1] [--json bench/results/load.json]
                              [--corpus FILE] [--texts 300] [--isa avx2] [--no-busy-baseline]

--corpus: the texts embedded (default tests/data/corpus.txt; e.g. the long docs of
bench/docs_128_256.py); --isa avx2: xfmr with XF_ISA=avx2. Each setting is also timed without the
busy loop first (unless --no-busy-baseline), and every run's CPU seconds (user + system of the
child) are kept beside its wall time.

Needs build/xfmr and the default models (scripts/fetch_models.sh all-MiniLM-L6-v2 SmolLM2-135M-Instruct).
"""
import argparse, json, os, resource, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BUILD, CORPUS, RESULTS, ROOT, loadavg, machine, median  # noqa: E402

SMOLLM = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct")
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")


def timed(cmd, env=None):
    """(wall seconds, CPU seconds of the child: user + system)"""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    t = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def measure(jobs, runs, env, label, res):
    """Both settings of every job, alternating, `runs` times; appends to res["results"]."""
    for name, cmd in jobs.items():
        secs, cpus = {"1": [], "default": []}, {"1": [], "default": []}
        for _ in range(runs):
            for k, extra in (("1", ["--threads", "1"]), ("default", [])):
                w, c = timed(cmd + extra, env)
                secs[k].append(round(w, 4))
                cpus[k].append(round(c, 4))
        r = {"job": name, "busy": label, "command": " ".join(cmd).replace(ROOT + "/", ""), "seconds": secs,
             "cpu_seconds": cpus, "median_s": {k: median(v) for k, v in secs.items()},
             "median_cpu_s": {k: median(v) for k, v in cpus.items()}, "loadavg_after": loadavg()}
        r["default_over_1"] = r["median_s"]["1"] / r["median_s"]["default"]
        res["results"].append(r)
        print(f"{name} ({label}): --threads 1 {r['median_s']['1']:.2f} s, default {r['median_s']['default']:.2f} s "
              f"(speed default / 1 thread: {r['default_over_1']:.2f}x; CPU s {r['median_cpu_s']['1']:.2f} / "
              f"{r['median_cpu_s']['default']:.2f}); load average {loadavg()}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--busy", type=int, default=1, help="busy-loop processes beside xfmr")
    ap.add_argument("--tokens", type=int, default=64, help="tokens generated per run")
    ap.add_argument("--texts", type=int, default=300, help="lines of the corpus embedded per run")
    ap.add_argument("--json", default=os.path.join(RESULTS, "load.json"))
    ap.add_argument("--corpus", default=CORPUS, help="texts to embed, one per line (the first --texts)")
    ap.add_argument("--isa", choices=["avx2", "scalar"], default=None, help="run xfmr with XF_ISA set")
    ap.add_argument("--no-busy-baseline", action="store_true", help="skip the runs without the busy loop")
    a = ap.parse_args()
    xfmr = os.path.join(BUILD, "xfmr")
    if not os.path.exists(xfmr):
        sys.exit("bench_load.py: build/xfmr not found (cmake --build build --target xfmr)")
    stem = os.path.splitext(os.path.basename(a.corpus))[0]
    texts = os.path.join(ROOT, ".cache", "bench", f"load_{stem}{a.texts}.txt")
    os.makedirs(os.path.dirname(texts), exist_ok=True)
    with open(a.corpus, "rb") as fi, open(texts, "wb") as fo:
        fo.writelines(fi.readlines()[:a.texts])
    jobs = {
        "generate": [xfmr, "generate", "-m", SMOLLM, "-p", "Once upon a time", "--temperature", "0",
                     "--max-tokens", str(a.tokens)],
        "embed": [xfmr, "embed", "-m", MINILM, texts],
    }
    env = dict(os.environ, XF_ISA=a.isa) if a.isa else None
    res = {"busy_processes": a.busy, "runs": a.runs, "isa": a.isa, "corpus": os.path.relpath(a.corpus, ROOT),
           "texts": a.texts, "machine": machine(), "loadavg_before": loadavg(), "results": []}
    if not a.no_busy_baseline:
        measure(jobs, a.runs, env, "none", res)
    # the busy loops: started here, ended by their own process ids below
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.busy)]
    try:
        time.sleep(0.5)
        measure(jobs, a.runs, env, f"{a.busy} busy loop(s)", res)
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
