#!/usr/bin/env python3
"""serve_vs_llamacpp.py — generation throughput of `xfmr serve` and llama.cpp's `llama-server`
on the same GGUF file (SmolLM2-135M-Instruct Q4_1), same run, same machine, same thread count:
greedy chat requests (--tokens each) one at a time, then --clients at once (llama-server with
--parallel slots = clients, continuous batching on). Both speak OpenAI's /v1/chat/completions; the
tokens counted are each answer's usage.completion_tokens. Servers run one after the other on free
loopback ports and are stopped at the end.

usage: bench/serve_vs_llamacpp.py path/to/xfmr path/to/llama-server [--threads 2] [--clients 8]
       [--requests 16] [--tokens 64] [--json OUT]
"""
import argparse
import concurrent.futures as cf
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("xfmr")
ap.add_argument("llama_server")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--clients", type=int, default=8)
ap.add_argument("--requests", type=int, default=16)
ap.add_argument("--tokens", type=int, default=64)
ap.add_argument("--json")
ap.add_argument("--model", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models",
                                                "SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.Q4_1.gguf"))
a = ap.parse_args()
TOPICS = "dragons rivers cities robots oceans forests music winter".split()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def post(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    c.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = json.loads(r.read())
    c.close()
    return out


def wait_ready(port, proc, t_max=180):
    t0 = time.time()
    while time.time() - t0 < t_max and proc.poll() is None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def phase(port, clients, n_req):
    lat, toks = [], 0

    def one(i):
        body = {"temperature": 0, "max_tokens": a.tokens,  # no "model": each server has one
                "messages": [{"role": "user", "content": "Write a long story about %s." % TOPICS[i % len(TOPICS)]}]}
        t = time.time()
        out = post(port, body)
        return time.time() - t, out["usage"]["completion_tokens"]

    t = time.time()
    with cf.ThreadPoolExecutor(clients) as ex:
        for dt, n in ex.map(one, range(n_req)):
            lat.append(dt)
            toks += n
    wall = time.time() - t
    lat.sort()
    return {"clients": clients, "requests": n_req, "tokens": toks, "tokens_per_s": toks / wall,
            "p50_s": lat[len(lat) // 2], "p99_s": lat[-1]}


def run(name, cmd, port):
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        if not wait_ready(port, proc):
            log.seek(0)
            raise SystemExit("%s did not start:\n%s" % (name, log.read().decode(errors="replace")[-2000:]))
        phase(port, 1, 1)  # warm-up
        r1 = phase(port, 1, max(2, a.requests // 4))
        rn = phase(port, a.clients, a.requests)
        res = {"one": r1, "many": rn, "speedup": rn["tokens_per_s"] / r1["tokens_per_s"]}
        print("%-12s 1 client: %6.1f tok/s (p50 %.2f s) | %d clients: %6.1f tok/s (p50 %.2f s) | x%.2f" %
              (name, r1["tokens_per_s"], r1["p50_s"], a.clients, rn["tokens_per_s"], rn["p50_s"], res["speedup"]))
        return res
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


results = {"model": a.model, "threads": a.threads, "clients": a.clients, "tokens": a.tokens,
           "loadavg_start": os.getloadavg()}
p = free_port()
results["xfmr"] = run("xfmr serve", [a.xfmr, "serve", "-m", a.model, "--port", str(p), "--threads", str(a.threads),
                                     "--max-sessions", str(a.clients)], p)
p = free_port()
results["llama.cpp"] = run("llama-server", [a.llama_server, "-m", a.model, "--port", str(p), "--host", "127.0.0.1",
                                             "-t", str(a.threads), "-tb", str(a.threads), "-np", str(a.clients),
                                             "-c", str(2048 * a.clients), "--no-webui"], p)
results["loadavg_end"] = os.getloadavg()
print("load average", results["loadavg_start"], "->", results["loadavg_end"])
if a.json:
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
