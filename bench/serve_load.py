#!/usr/bin/env python3
"""serve_load.py — bounded load test and throughput benchmark of `xfmr serve` (docs/SERVE.md).

Starts `xfmr serve` on a free loopback port (all-MiniLM-L6-v2 + SmolLM2-135M-Instruct), then:
  1. embeddings: single-text requests from 1 client, then from 32 concurrent clients, each for
     --seconds; requests/s, p50/p99 latency, and the mean batch size the server ran (/metrics);
  2. generation: one greedy chat request (--gen-tokens tokens, end-of-sequence ignored by a
     stop-free prompt) at a time, then 8 at once; generated tokens/s and p50/p99 latency;
  3. mixed (--mixed seconds, 0 = skip): 32 clients mixing embeddings, streaming chat and malformed
     requests (bad JSON, wrong types, a body over --max-body, a slow sender, a disconnect
     mid-stream); every valid answer is checked (embedding cosine >= 0.99999 to the unloaded
     answer, greedy text equal to the unloaded one) and every invalid one must be a 4xx with a
     message. Stops by itself; nothing leaves the loopback interface.

--repeat N runs phases 1 and 2 N times on the same server (alternating, so that a change of the
machine's load hits both sides of a ratio alike) and reports each ratio's median; --weights int8
serves the models with int8 weights (xfmr serve --weights); --keepalive makes each client keep its
connection (as the openai package's pool does) instead of one connection per request.

usage: bench/serve_load.py path/to/xfmr [--seconds 20] [--mixed 60] [--threads 2] [--repeat 1]
       [--weights stored|int8] [--keepalive] [--serve-arg=ARG ...] [--json OUT]
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("xfmr")
ap.add_argument("--seconds", type=float, default=20)
ap.add_argument("--mixed", type=float, default=60)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--gen-tokens", type=int, default=64)
ap.add_argument("--gen-requests", type=int, default=16, help="generation requests per phase")
ap.add_argument("--repeat", type=int, default=1, help="repetitions of phases 1-2 (medians reported)")
ap.add_argument("--weights", default="stored", help="xfmr serve --weights (stored, int8, bf16)")
ap.add_argument("--keepalive", action="store_true", help="one persistent connection per client")
ap.add_argument("--json", help="write the figures here")
ap.add_argument("--serve-arg", action="append", default=[], help="another `xfmr serve` argument (repeatable), "
                "e.g. --serve-arg=--no-prefix-cache")
ap.add_argument("--models", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))
a = ap.parse_args()

ENC, DEC = "all-MiniLM-L6-v2", "SmolLM2-135M-Instruct"
errf = tempfile.NamedTemporaryFile(prefix="xfmr_load_", suffix=".log", delete=False)
srv = subprocess.Popen([a.xfmr, "serve", "-m", os.path.join(a.models, ENC), "-m", os.path.join(a.models, DEC),
                        "--port", "0", "--threads", str(a.threads), "--max-sessions", "8", "--max-body", "1000000",
                        "--idle-timeout", "5", "--weights", a.weights] + a.serve_arg, stdout=subprocess.DEVNULL, stderr=errf)
port = None
t0 = time.time()
while port is None and time.time() - t0 < 120 and srv.poll() is None:
    time.sleep(0.1)
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", open(errf.name).read())
    port = int(m.group(1)) if m else None
if port is None:
    sys.exit("server did not start:\n" + open(errf.name).read())


_conns = threading.local()


def req(method, path, body=None, raw=None, timeout=600, keep=False):
    c = getattr(_conns, "c", None) if keep else None
    if c is None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.status, r.read()
    if keep:
        _conns.c = c
    else:
        c.close()
    return out


def metrics():
    text = req("GET", "/metrics")[1].decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'(xfmr_\w+)\{model="([^"]+)"\} (\S+)', line)
        if m:
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def server_cpu():
    """CPU seconds the server process has used (user + system), from /proc."""
    f = open("/proc/%d/stat" % srv.pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p / 100 * len(xs))) - 1)] if xs else float("nan")


def cos(u, v):
    return sum(x * y for x, y in zip(u, v)) / math.sqrt(sum(x * x for x in u) * sum(y * y for y in v))


results = {"cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": "),
           "nproc": os.cpu_count(), "loadavg_start": os.getloadavg(), "threads": a.threads, "weights": a.weights,
           "keepalive": a.keepalive}
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()


def embed_phase(clients, seconds):
    lat, lock = [], threading.Lock()
    before, cpu0 = metrics(), server_cpu()
    stop = time.time() + seconds

    def worker(i):
        rnd = random.Random(i)
        while time.time() < stop:
            text = " ".join(rnd.choice(words) for _ in range(rnd.randint(5, 20)))
            t = time.time()
            code, _ = req("POST", "/v1/embeddings", {"input": text}, keep=a.keepalive)
            with lock:
                lat.append(time.time() - t)
            assert code == 200, code

    t = time.time()
    with cf.ThreadPoolExecutor(clients) as ex:
        list(ex.map(worker, range(clients)))
    wall = time.time() - t
    after, cpu = metrics(), server_cpu() - cpu0
    nb = after[("xfmr_batches_total", ENC)] - before[("xfmr_batches_total", ENC)]
    ni = after[("xfmr_batched_items_total", ENC)] - before[("xfmr_batched_items_total", ENC)]
    return {"clients": clients, "requests": len(lat), "req_per_s": len(lat) / wall, "p50_ms": 1e3 * pct(lat, 50),
            "p99_ms": 1e3 * pct(lat, 99), "mean_batch": ni / nb if nb else 0,
            "server_cpu_ms_per_req": 1e3 * cpu / max(1, len(lat)), "loadavg": os.getloadavg()[0]}


def gen_phase(clients, n_req):
    lat, toks, lock = [], [0], threading.Lock()
    before, cpu0 = metrics(), server_cpu()

    def one(i):
        body = {"model": DEC, "messages": [{"role": "user", "content": "Write a long story about %s." % words[i % 13]}],
                "temperature": 0, "max_tokens": a.gen_tokens}
        t = time.time()
        code, out = req("POST", "/v1/chat/completions", body)
        assert code == 200, out
        with lock:
            lat.append(time.time() - t)
            toks[0] += json.loads(out)["usage"]["completion_tokens"]

    t = time.time()
    with cf.ThreadPoolExecutor(clients) as ex:
        list(ex.map(one, range(n_req)))
    wall = time.time() - t
    after, cpu = metrics(), server_cpu() - cpu0
    nb = after[("xfmr_batches_total", DEC)] - before[("xfmr_batches_total", DEC)]
    ni = after[("xfmr_batched_items_total", DEC)] - before[("xfmr_batched_items_total", DEC)]
    return {"clients": clients, "requests": n_req, "tokens": toks[0], "tokens_per_s": toks[0] / wall,
            "p50_s": pct(lat, 50), "p99_s": pct(lat, 99), "mean_batch": ni / nb if nb else 0,
            "server_cpu_ms_per_token": 1e3 * cpu / max(1, toks[0]), "loadavg": os.getloadavg()[0]}


def mixed_phase(seconds, clients=32):
    ref_text = "A fixed sentence for the reference embedding."
    ref_vec = json.loads(req("POST", "/v1/embeddings", {"input": ref_text})[1])["data"][0]["embedding"]
    chat = {"model": DEC, "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "temperature": 0, "max_tokens": 16}
    ref_chat = json.loads(req("POST", "/v1/chat/completions", chat)[1])["choices"][0]["message"]["content"]
    counts, bad, lock = {}, [], threading.Lock()
    stop = time.time() + seconds

    def note(kind, ok, detail=""):
        with lock:
            counts[kind] = counts.get(kind, 0) + 1
            if not ok:
                bad.append("%s: %s" % (kind, detail[:200]))

    def is_4xx(code, body):
        try:
            return 400 <= code < 500 and json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            return False

    def stream_chat():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        c.request("POST", "/v1/chat/completions", body=json.dumps(dict(chat, stream=True)),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        text = []
        for line in r.read().decode().splitlines():
            if line.startswith("data: {"):
                ch = json.loads(line[6:])["choices"]
                if ch and ch[0]["delta"].get("content"):
                    text.append(ch[0]["delta"]["content"])
        c.close()
        return r.status, "".join(text)

    def worker(i):
        rnd = random.Random(1000 + i)
        while time.time() < stop:
            k = rnd.random()
            try:
                if k < 0.45:
                    code, out = req("POST", "/v1/embeddings", {"input": ref_text})
                    ok = code == 200 and cos(json.loads(out)["data"][0]["embedding"], ref_vec) >= 0.99999
                    note("embedding", ok, str(code))
                elif k < 0.65:
                    code, text = stream_chat()
                    note("stream_chat", code == 200 and text == ref_chat, "%d %r" % (code, text))
                elif k < 0.72:
                    code, out = req("POST", "/v1/embeddings", raw=b'{"input": [1, 2')
                    note("bad_json", is_4xx(code, out), "%d %r" % (code, out))
                elif k < 0.79:
                    code, out = req("POST", "/v1/chat/completions", {"messages": 7, "temperature": "x"})
                    note("wrong_types", is_4xx(code, out), "%d %r" % (code, out))
                elif k < 0.84:
                    try:
                        code, out = req("POST", "/v1/embeddings", raw=b'{"input": "' + b"x" * 1200000 + b'"}')
                        note("huge_body", code == 413 and is_4xx(code, out), "%d" % code)
                    except (BrokenPipeError, ConnectionResetError):
                        note("huge_body", True)  # refused at the headers: the server closed while we sent
                elif k < 0.90:
                    # A slow sender: the body arrives in pieces, then completes.
                    s = socket.create_connection(("127.0.0.1", port), timeout=60)
                    body = json.dumps({"input": ref_text}).encode()
                    s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                              b"Content-Length: %d\r\n\r\n" % len(body))
                    for j in range(0, len(body), 8):
                        s.sendall(body[j:j + 8])
                        time.sleep(0.05)
                    resp = b""
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        resp += chunk
                    s.close()
                    note("slow_sender", resp.startswith(b"HTTP/1.1 200"), resp[:100].decode(errors="replace"))
                else:
                    # A disconnect mid-stream.
                    s = socket.create_connection(("127.0.0.1", port), timeout=60)
                    body = json.dumps(dict(chat, stream=True, max_tokens=200,
                                           messages=[{"role": "user", "content": "Tell a long story."}])).encode()
                    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
                              + body)
                    s.recv(1000)
                    s.close()
                    note("disconnect", True)
            except Exception as e:  # noqa: BLE001 - any client-side failure is a finding
                note("exception", False, repr(e))

    t = time.time()
    with cf.ThreadPoolExecutor(clients) as ex:
        list(ex.map(worker, range(clients)))
    return {"seconds": time.time() - t, "clients": clients, "counts": counts, "failures": bad[:20],
            "n_failures": len(bad)}


try:
    req("POST", "/v1/embeddings", {"input": "warm up"})
    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    reps = []
    for rep in range(a.repeat):
        e1 = embed_phase(1, a.seconds)
        e32 = embed_phase(32, a.seconds)
        g1 = gen_phase(1, max(2, a.gen_requests // 4))
        g8 = gen_phase(8, a.gen_requests)
        r = {"embed_1": e1, "embed_32": e32, "gen_1": g1, "gen_8": g8,
             "embed_speedup": e32["req_per_s"] / e1["req_per_s"],
             "embed_cpu_ratio": e1["server_cpu_ms_per_req"] / e32["server_cpu_ms_per_req"],
             "gen_speedup": g8["tokens_per_s"] / g1["tokens_per_s"],
             "gen_cpu_ratio": g1["server_cpu_ms_per_token"] / g8["server_cpu_ms_per_token"]}
        reps.append(r)
        print("repetition %d of %d (load average %.1f):" % (rep + 1, a.repeat, os.getloadavg()[0]))
        for e in (e1, e32):
            print("  embeddings %2d client(s): %7.1f req/s  p50 %6.1f ms  p99 %6.1f ms  mean batch %5.1f  server CPU %.2f ms/req" %
                  (e["clients"], e["req_per_s"], e["p50_ms"], e["p99_ms"], e["mean_batch"], e["server_cpu_ms_per_req"]))
        for g in (g1, g8):
            print("  generation %d session(s): %7.1f tok/s  p50 %6.2f s  p99 %6.2f s  mean batch %.1f  server CPU %.2f ms/token" %
                  (g["clients"], g["tokens_per_s"], g["p50_s"], g["p99_s"], g["mean_batch"], g["server_cpu_ms_per_token"]))
        print("  32 clients / 1: x%.2f requests/s, x%.2f less server CPU per request; 8 sessions / 1: x%.2f tokens/s, "
              "x%.2f less server CPU per token" % (r["embed_speedup"], r["embed_cpu_ratio"], r["gen_speedup"],
                                                   r["gen_cpu_ratio"]))
    results.update(reps[-1])
    results["repetitions"] = reps
    for k in ("embed_speedup", "embed_cpu_ratio", "gen_speedup", "gen_cpu_ratio"):
        results[k + "_median"] = median([r[k] for r in reps])
    print("medians of %d: embeddings 32/1 x%.2f (CPU x%.2f), generation 8/1 x%.2f (CPU x%.2f)" % (
        a.repeat, results["embed_speedup_median"], results["embed_cpu_ratio_median"], results["gen_speedup_median"],
        results["gen_cpu_ratio_median"]))
    if a.mixed > 0:
        mx = mixed_phase(a.mixed)
        results["mixed"] = mx
        print("mixed %.0f s, 32 clients: %s; %d failures %s" % (mx["seconds"], mx["counts"], mx["n_failures"],
                                                                 mx["failures"][:5]))
    code, _ = req("GET", "/health")
    results["healthy_after"] = code == 200
finally:
    srv.send_signal(signal.SIGTERM)
    try:
        results["exit_code"] = srv.wait(timeout=120)
    except subprocess.TimeoutExpired:
        srv.kill()
        results["exit_code"] = "killed"
    results["loadavg_end"] = os.getloadavg()
    log = open(errf.name).read()
    os.unlink(errf.name)
print("server exit code:", results["exit_code"], "; load average", results["loadavg_start"], "->", results["loadavg_end"])
if a.json:
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
ok = results.get("exit_code") == 0 and results.get("healthy_after") and \
    results.get("mixed", {}).get("n_failures", 0) == 0
if not ok:
    print(log[-3000:])
sys.exit(0 if ok else 1)
