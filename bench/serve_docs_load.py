#!/usr/bin/env python3
"""serve_docs_load.py — documents per second through `xfmr serve` /v1/embeddings, dense against
--keep 0.4 --merge (docs/SERVE.md): 4 clients post batches of 8 documents for 20 s per server,
two rounds alternating the servers. usage: bench/serve_docs_load.py XFMR MODEL PAIRS.jsonl"""
import json, re, subprocess, sys, threading, time, urllib.request
X, MODEL, PAIRS = sys.argv[1], sys.argv[2], sys.argv[3]
C, B, S, ROUNDS = 4, 8, 20, 2
docs = [json.loads(l)["doc"] for l in open(PAIRS)][:2000]

def serve(extra):
    p = subprocess.Popen([X, "serve", "-m", MODEL, "--port", "0", "--threads", "2"] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = ""
    while p.poll() is None and "listening" not in line:
        line = p.stderr.readline()
    return p, "http://127.0.0.1:%s/v1/embeddings" % re.search(r":(\d+)/", line).group(1)

def load(url):
    done, stop, lock = [0], time.time() + S, threading.Lock()
    def client(k):
        i = k * 97
        while time.time() < stop:
            body = json.dumps({"input": [docs[(i + j) % len(docs)] for j in range(B)]}).encode()
            i += B
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read()
            with lock:
                done[0] += B
    t0 = time.time()
    ts = [threading.Thread(target=client, args=(k,)) for k in range(C)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return done[0] / (time.time() - t0)

res = {"dense": [], "merge": []}
for r in range(ROUNDS):
    for name, extra in (("dense", []), ("merge", ["--keep", "0.4", "--merge"])):
        p, url = serve(extra)
        rate = load(url)
        p.terminate(); p.wait()
        res[name].append(rate)
        print(f"round {r + 1} {name}: {rate:.1f} docs/s", flush=True)
print(json.dumps(res))
