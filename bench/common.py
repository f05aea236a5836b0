"""common.py — helpers shared by the bench/ scripts: paths, the corpus, running a child process
and reading its JSON and peak RSS, medians, and facts about the machine for the result files."""
import json, os, platform, resource, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
RESULTS = os.path.join(ROOT, "bench", "results")
CORPUS = os.path.join(ROOT, "tests", "data", "corpus.txt")
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")


def read_lines(path):
    """The texts of a corpus file, one per line, as bench_embed.c reads them (invalid UTF-8 replaced)."""
    with open(path, "rb") as f:
        raw = f.read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    return [l.decode("utf-8", "replace") for l in raw]


def rel(path):
    """path relative to the repository root when it lies inside it (for result files)."""
    if os.path.isabs(path) and os.path.commonpath([path, ROOT]) == ROOT:
        return os.path.relpath(path, ROOT)
    return path


def median(xs):
    return statistics.median(xs)


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def xfmr_commit():
    try:
        out = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
        return out.stdout.strip() or None
    except OSError:
        return None


def machine():
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "xfmr": xfmr_commit(), "python": platform.python_version(),
            "kernel": platform.release(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "loadavg": loadavg()}


def run_child(cmd, env=None):
    """Runs cmd; returns (stdout, the child's own peak RSS in bytes, from wait4). Raises
    RuntimeError with the end of its stderr if it fails."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0), fe.seek(0)
        out, err = fo.read(), fe.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(rel(c) for c in cmd)} exited {p.returncode}: {err.strip()[-2000:]}")
    return out, ru.ru_maxrss * 1024


def run_json(cmd, env=None):
    """Runs cmd and parses the JSON object on the last line of its stdout, adding
    "peak_rss_bytes_wait4" (the child's peak RSS) and "command"."""
    out, rss = run_child(cmd, env)
    lines = [l for l in out.strip().splitlines() if l.strip()]
    if not lines:
        raise RuntimeError(f"{' '.join(rel(c) for c in cmd)} printed nothing")
    res = json.loads(lines[-1])
    res["peak_rss_bytes_wait4"] = rss
    res.setdefault("command", " ".join(rel(c) for c in cmd))
    return res


def self_peak_rss():
    """Peak RSS of this process in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def die(msg):
    sys.exit(f"{os.path.basename(sys.argv[0])}: {msg}")
