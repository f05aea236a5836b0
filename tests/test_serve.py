#!/usr/bin/env python3
"""test_serve.py — end-to-end test of `xfmr serve` (docs/SERVE.md) with real clients.

Starts `xfmr serve` on a free loopback port with all-MiniLM-L6-v2 and SmolLM2-135M-Instruct
and an API key, then checks with curl and with the `openai` Python package:
  - embeddings (string, list, token ids, base64, dimensions; TEI /embed) against `xfmr embed`
    of the same texts (cosine >= 0.99999), also with concurrent clients (batched together);
  - chat completions, greedy, with and without streaming, against `xfmr generate --chat`
    (identical text), also for concurrent streams (continuous batching);
  - text completions against `xfmr generate`; the model list; /tokenize, /health, /info,
    /metrics;
  - TEI /rerank and /predict with the tiny cross-encoder and classifier of
    scripts/make_cross_encoder_goldens.py, with curl: order and scores of transformers /
    sentence-transformers (tests/data/tiny/cross_goldens.tsv), return_text, raw_scores,
    truncate, and their 4xx (no texts, the wrong kind of model, too long inputs);
  - POST /v1/search over a store made by `xfmr index` (--index): the results of `xfmr search
    --json` (same chunks, order and scores), several queries at once, concurrent searches, 4xx
    for bad requests; a store built with another model than the served one stops the start;
  - malformed requests: 4xx with an OpenAI-shaped error message (bad JSON, wrong types,
    unknown model, too large body, wrong method, unknown path, missing key);
  - a client that disconnects mid-stream is cancelled and the server goes on;
  - the KV-cache options (--kv-type q8 with --kv-policy h2o and a budget the answers outgrow,
    concurrent requests; --kv-type q8 alone, the prefix cache on): answers equal to `xfmr
    generate` with the same options, the settings in /v1/models, the cache in /metrics;
  - SIGTERM: the server stops cleanly (exit 0; under ASan, no leak).

usage: tests/test_serve.py path/to/xfmr     (exits 77 when a model, curl or openai is missing)
"""
import base64
import concurrent.futures as cf
import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

X = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.environ.get("XFMR_MODELS", os.path.join(HERE, "models"))
ENC = os.path.join(MODELS, "all-MiniLM-L6-v2")
DEC = os.path.join(MODELS, "SmolLM2-135M-Instruct")
RERANK = os.path.join(HERE, "tests/data/tiny/bert_rerank")  # cross-encoder (1 label)
CLS = os.path.join(HERE, "tests/data/tiny/bert_cls")  # classifier (3 labels)
MULTI = os.path.join(HERE, "tests/data/tiny/modernbert_cls_mean")  # problem_type multi_label_classification
GOLD = [line.rstrip("\n").split("\t") for line in open(os.path.join(HERE, "tests/data/tiny/cross_goldens.tsv"))]
KEY = "test-key-123"
SANITIZED = os.environ.get("XF_T_SANITIZED") == "1"
MAX_TOKENS = 12 if SANITIZED else 24

failures = []
passed = 0


def skip(msg):
    """The test cannot run (tests/skip.sh's convention: 77, or a failure under XF_REQUIRE_ALL=1)."""
    if os.environ.get("XF_REQUIRE_ALL") == "1":
        print("FAIL (XF_REQUIRE_ALL=1): " + msg, file=sys.stderr)
        sys.exit(1)
    print("SKIP: " + msg)
    sys.exit(77)


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(name)
        print("FAIL: %s %s" % (name, detail))


for p in (ENC, DEC):
    if not os.path.isdir(p):
        skip("model %s is missing; run scripts/fetch_models.sh" % p)
if subprocess.run(["sh", "-c", "command -v curl"], capture_output=True).returncode:
    skip("curl is not installed")
try:
    import openai  # noqa: F401
except ImportError:
    skip("the openai Python package is not installed (pip install openai)")
probe = subprocess.run([X, "serve", "-m", "/nonexistent"], capture_output=True, text=True)
if "without libmicrohttpd" in probe.stderr:
    skip("xfmr was built without libmicrohttpd")

# ------------------------------------------------------------------ a search store (xfmr index)
tmpdir = tempfile.TemporaryDirectory(prefix="xfmr_serve_")
DOCS = {"paths.md": "# Paths\n\n## Joining paths\nUse os.path.join to join two or more path segments.\n\n"
                    "## Splitting paths\nos.path.split cuts a path into its head and tail.\n",
        "json.md": "# JSON\n\n## Serializing\njson.dumps turns a Python object into a JSON string.\n\n"
                   "## Parsing\njson.loads reads a JSON document and returns Python objects.\n",
        "bread.txt": "Bake the bread at 220 degrees until the crust is golden.\n\nLet the dough rise overnight.\n"}
for name, text in DOCS.items():
    with open(os.path.join(tmpdir.name, name), "w") as f:
        f.write(text)
DB = os.path.join(tmpdir.name, "docs.db")
subprocess.run([X, "index", "-m", ENC, "--threads", "2", "--db", DB, tmpdir.name], check=True, capture_output=True)
# A store built with another embedding model than the served one: a clear error at start.
r = subprocess.run([X, "serve", "-m", os.path.join(HERE, "tests/data/tiny/bert"), "--index", DB, "--port", "0"],
                   capture_output=True, text=True, timeout=120)
check("--index built with another model: startup error",
      r.returncode != 0 and "built with the embedding model 'all-MiniLM-L6-v2'" in r.stderr and
      "add -m" in r.stderr, r.stderr[-500:])

# ------------------------------------------------------------------ start the server
errf = tempfile.NamedTemporaryFile(prefix="xfmr_serve_", suffix=".log", delete=False)
srv = subprocess.Popen([X, "serve", "-m", ENC, "-m", DEC, "-m", RERANK, "-m", CLS, "-m", MULTI, "--index", DB,
                        "--port", "0",
                        "--threads", "2", "--api-key", KEY,
                        "--max-body", "1000000", "--max-tokens", "256", "--max-sessions", "8", "--grace", "5"],
                       stdout=subprocess.DEVNULL, stderr=errf)
port = None
t0 = time.time()
while time.time() - t0 < 120 and port is None and srv.poll() is None:
    time.sleep(0.1)
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", open(errf.name).read())
    if m:
        port = int(m.group(1))
if port is None:
    print(open(errf.name).read())
    srv.kill()
    sys.exit(1)
BASE = "http://127.0.0.1:%d" % port
print("server on port", port)


def http(method, path, body=None, key=KEY, raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", "Bearer " + key)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def curl(*args):
    r = subprocess.run(["curl", "-sS", "-H", "Authorization: Bearer " + KEY, "-w", "\n%{http_code}"] + list(args),
                       capture_output=True, text=True, timeout=300)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def cos(a, b):
    ab = sum(x * y for x, y in zip(a, b))
    return ab / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def cli_embed(texts):
    r = subprocess.run([X, "embed", "-m", ENC, "--threads", "2"], input="\n".join(texts) + "\n",
                       capture_output=True, text=True, check=True)
    return [json.loads(line)["embedding"] for line in r.stdout.splitlines()]


def cli_generate(prompt, chat, n=MAX_TOKENS, extra=()):
    args = [X, "generate", "-m", DEC, "--threads", "2", "--temperature", "0", "--max-tokens", str(n), "-p", prompt]
    args += list(extra)
    if chat:
        args.append("--chat")
    r = subprocess.run(args, capture_output=True, text=True, check=True)
    return r.stdout[:-1] if r.stdout.endswith("\n") else r.stdout


def is_error(code, body, want, name):
    try:
        e = json.loads(body)["error"]
        ok = code == want and isinstance(e["message"], str) and e["message"] and "type" in e and "code" in e
    except (ValueError, KeyError, TypeError):
        ok = False
    check(name, ok, "(HTTP %d: %r)" % (code, body[:300]))


try:
    # -------------------------------------------------------------- embeddings
    texts = ["A man is eating food.", "The weather is lovely today.", "Ünïcödé and emoji 🙂 survive",
             "A much longer sentence that goes on for a while, to have another length in the batch."]
    ref = cli_embed(texts)
    code, body = curl(BASE + "/v1/embeddings", "-H", "Content-Type: application/json",
                      "-d", json.dumps({"model": "all-MiniLM-L6-v2", "input": texts[0]}))
    d = json.loads(body)
    check("curl embeddings 200", code == 200, body[:200])
    check("curl embeddings cos", cos(d["data"][0]["embedding"], ref[0]) >= 0.99999)
    check("embeddings usage", d["usage"]["prompt_tokens"] > 0 and d["model"] == "all-MiniLM-L6-v2")

    from openai import OpenAI
    client = OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0, timeout=300)
    res = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    for i, t in enumerate(texts):
        c = cos(res.data[i].embedding, ref[i])
        check("openai embeddings cos %d" % i, c >= 0.99999, "cos %.7f" % c)
    # The openai package asks for base64 by default; ask for floats explicitly too.
    res = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts[1], encoding_format="float")
    check("openai float", cos(res.data[0].embedding, ref[1]) >= 0.99999)
    code, body = http("POST", "/v1/embeddings", {"input": texts[2], "encoding_format": "base64"})
    v = struct.unpack("<384f", base64.b64decode(json.loads(body)["data"][0]["embedding"]))
    check("base64 embeddings", code == 200 and cos(v, ref[2]) >= 0.99999)
    code, body = http("POST", "/v1/embeddings", {"input": texts[0], "dimensions": 64})
    v = json.loads(body)["data"][0]["embedding"]
    check("dimensions", code == 200 and len(v) == 64 and abs(sum(x * x for x in v) - 1) < 1e-4)
    # Token ids: those of `xfmr tokenize`.
    tok = subprocess.run([X, "tokenize", "-m", ENC, "--text", texts[0], "--json"], capture_output=True,
                         text=True, check=True).stdout
    ids = json.loads(tok.splitlines()[0])["ids"]
    code, body = http("POST", "/v1/embeddings", {"input": [ids]})
    check("token-id embeddings", code == 200 and cos(json.loads(body)["data"][0]["embedding"], ref[0]) >= 0.99999)
    code, body = http("POST", "/embed", {"inputs": texts})
    d = json.loads(body)
    check("TEI /embed", code == 200 and all(cos(d[i], ref[i]) >= 0.99999 for i in range(len(texts))))
    # Concurrent single-text clients: batched together, each still gets its own vector.
    many = ["sentence number %d about %s" % (i, w) for i, w in enumerate(["cats", "dogs", "rain", "code"] * 4)]
    many_ref = cli_embed(many)

    def one(i):
        c, b = http("POST", "/v1/embeddings", {"input": many[i]})
        return c, json.loads(b)["data"][0]["embedding"] if c == 200 else None

    with cf.ThreadPoolExecutor(16) as ex:
        outs = list(ex.map(one, range(len(many))))
    check("concurrent embeddings", all(c == 200 and cos(v, many_ref[i]) >= 0.99999 for i, (c, v) in enumerate(outs)))

    # -------------------------------------------------------------- search (xfmr index store)
    def cli_search(query, k):
        r = subprocess.run([X, "search", "--db", DB, "--threads", "2", "-k", str(k), "--json", query],
                           capture_output=True, text=True, check=True)
        return json.loads(r.stdout)

    def same_results(got, want):
        g, w = got["results"], want["results"]
        return got["query"] == want["query"] and len(g) == len(w) and all(
            a["chunk_id"] == b["chunk_id"] and a["rank"] == b["rank"] and abs(a["score"] - b["score"]) <= 1e-5 and
            all(a[f] == b[f] for f in ("path", "anchor", "heading", "line_start", "line_end", "text"))
            for a, b in zip(g, w))

    squeries = ["how do I join two paths", "read a JSON document", "baking bread"]
    swant = [cli_search(x, 4) for x in squeries]
    code, body = curl(BASE + "/v1/search", "-H", "Content-Type: application/json",
                      "-d", json.dumps({"query": squeries[0], "top_k": 4}))
    d = json.loads(body) if code == 200 else {}
    check("curl /v1/search == xfmr search --json", code == 200 and same_results(d, swant[0]) and
          d.get("index") == "docs" and d.get("model") == "all-MiniLM-L6-v2", body[:400])
    code, body = http("POST", "/v1/search", {"query": squeries, "top_k": 4, "index": "docs"})
    d = json.loads(body) if code == 200 else {}
    check("search, several queries", code == 200 and len(d.get("data", [])) == 3 and
          all(same_results(g, w) for g, w in zip(d["data"], swant)), body[:400])

    def one_search(i):
        c, b = http("POST", "/search", {"query": squeries[i % 3], "top_k": 4})
        return c == 200 and same_results(json.loads(b), swant[i % 3])

    with cf.ThreadPoolExecutor(8) as ex:
        check("concurrent searches", all(ex.map(one_search, range(8))))
    is_error(*http("POST", "/v1/search", {"top_k": 3}), 400, "search without query")
    is_error(*http("POST", "/v1/search", {"query": ["a", 2]}), 400, "search query wrong type")
    is_error(*http("POST", "/v1/search", {"query": "a", "top_k": 0}), 400, "search top_k 0")
    is_error(*http("POST", "/v1/search", {"query": "a", "index": "other"}), 404, "search unknown index")
    is_error(*http("POST", "/v1/search", {"query": "a", "model": "bert_cls"}), 400, "search with another model")
    is_error(*http("POST", "/v1/search", {"query": "a", "rerank": "bert_rerank"}), 400, "search rerank")
    code, body = http("GET", "/info")
    ix = json.loads(body).get("indexes", []) if code == 200 else []
    check("info lists the index", [(i["id"], i["model"]) for i in ix] == [("docs", "all-MiniLM-L6-v2")] and
          ix[0]["chunks"] >= 3, body[:400])

    # -------------------------------------------------------------- generation
    q = "What is the capital of France?"
    want = cli_generate(q, True)
    r = client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": q}],
                                       temperature=0, max_tokens=MAX_TOKENS)
    check("chat greedy == xfmr generate --chat", r.choices[0].message.content == want,
          "%r vs %r" % (r.choices[0].message.content, want))
    check("chat usage", r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0)
    parts = []
    for ch in client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": q}],
                                             temperature=0, max_tokens=MAX_TOKENS, stream=True):
        if ch.choices and ch.choices[0].delta.content:
            parts.append(ch.choices[0].delta.content)
    check("chat stream == xfmr generate --chat", "".join(parts) == want, "%r vs %r" % ("".join(parts), want))
    code, body = curl("-N", BASE + "/v1/chat/completions", "-d",
                      json.dumps({"messages": [{"role": "user", "content": q}], "temperature": 0,
                                  "max_tokens": MAX_TOKENS, "stream": True}))
    events = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    check("curl SSE", code == 200 and events[-1] == "[DONE]" and text == want, body[-300:])

    prompt = "Once upon a time"
    want_c = cli_generate(prompt, False)
    r = client.completions.create(model="SmolLM2-135M-Instruct", prompt=prompt, temperature=0, max_tokens=MAX_TOKENS)
    check("completions greedy == xfmr generate", r.choices[0].text == want_c, "%r vs %r" % (r.choices[0].text, want_c))
    check("completions finish_reason", r.choices[0].finish_reason == "length")

    # Concurrent greedy streams: continuous batching must not change any answer.
    qs = ["Name a primary color.", "What is 2 + 2?", "Say hello in French.", q, "Name a fruit.", "What is water?"]
    wants = [cli_generate(x, True) for x in qs]

    def stream_chat(x):
        out = []
        for ch in client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": x}],
                                                 temperature=0, max_tokens=MAX_TOKENS, stream=True):
            if ch.choices and ch.choices[0].delta.content:
                out.append(ch.choices[0].delta.content)
        return "".join(out)

    with cf.ThreadPoolExecutor(len(qs)) as ex:
        got = list(ex.map(stream_chat, qs))
    for x, g, w in zip(qs, got, wants):
        check("batched stream %r" % x, g == w, "%r vs %r" % (g, w))

    # Seeded sampling repeats itself.
    a = client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": q}],
                                       temperature=0.9, top_p=0.9, seed=7, max_tokens=8).choices[0].message.content
    b = client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": q}],
                                       temperature=0.9, top_p=0.9, seed=7, max_tokens=8).choices[0].message.content
    check("seed repeats", a == b, "%r vs %r" % (a, b))
    # n choices: choice i samples with seed + i; greedy choices are all the CLI's text.
    r = client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": q}],
                                       temperature=0.9, top_p=0.9, seed=6, max_tokens=8, n=2)
    check("n=2 choices", [c.index for c in r.choices] == [0, 1] and r.choices[1].message.content == a,
          repr([c.message.content for c in r.choices]))
    r = client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": q}],
                                       temperature=0, max_tokens=MAX_TOKENS, n=2)
    check("n=2 greedy", [c.message.content for c in r.choices] == [want, want])
    r = client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": q}],
                                       temperature=0, max_tokens=MAX_TOKENS, stop=["Paris"])
    check("stop string", "Paris" not in r.choices[0].message.content and r.choices[0].finish_reason == "stop",
          repr(r.choices[0].message.content))

    # -------------------------------------------------------------- other endpoints
    ms = client.models.list()
    check("models", sorted(m.id for m in ms.data) == ["SmolLM2-135M-Instruct", "all-MiniLM-L6-v2", "bert_cls",
                                                      "bert_rerank", "modernbert_cls_mean"])
    code, body = http("GET", "/health", key=None)
    check("health without key", code == 200)
    code, body = http("GET", "/info")
    check("info", code == 200 and json.loads(body)["model_id"] == "all-MiniLM-L6-v2")
    code, body = http("POST", "/tokenize", {"inputs": "Hello world"})
    check("tokenize", code == 200 and [t["id"] for t in json.loads(body)[0]] == [101, 7592, 2088, 102], body[:200])
    code, body = http("GET", "/metrics")
    check("metrics", code == 200 and b"xfmr_requests_total" in body and b"xfmr_batches_total" in body)
    # The chats above share the chat template's system prompt: later ones copied it (prefix cache),
    # and their answers above are still the CLI's.
    m = re.search(rb'xfmr_prompt_tokens_shared_total\{model="SmolLM2-135M-Instruct"\} (\d+)', body)
    check("prefix cache used", m is not None and int(m.group(1)) > 0, body[-600:])
    # -------------------------------------------------------------- TEI /rerank and /predict (curl)
    rr = [g for g in GOLD if g[0] == "rerank"]
    req = {"query": rr[0][2], "texts": [g[3] for g in rr], "return_text": True, "truncate": True}
    code, body = curl(BASE + "/rerank", "-H", "Content-Type: application/json", "-d", json.dumps(req))
    got = json.loads(body) if code == 200 else []
    want = sorted(range(len(rr)), key=lambda i: -float(rr[i][4]))
    check("rerank: order of transformers' scores", [g["index"] for g in got] == want, body[:300])
    check("rerank: CrossEncoder scores (sigmoid) and texts",
          len(got) == len(rr) and all(abs(g["score"] - float(rr[g["index"]][5])) <= 1e-5 and g["text"] == rr[g["index"]][3]
                                      for g in got), body[:300])
    code, body = curl(BASE + "/rerank", "-d", json.dumps({"query": rr[0][2], "texts": [rr[0][3]], "raw_scores": True,
                                                          "model": "bert_rerank"}))
    got = json.loads(body) if code == 200 else [{}]
    check("rerank raw_scores: the logit, no text", abs(got[0].get("score", 1e9) - float(rr[0][4])) <= 1e-5 and
          "text" not in got[0], body[:300])
    is_error(*http("POST", "/rerank", {"query": "a", "texts": []}), 400, "rerank without texts")
    is_error(*http("POST", "/rerank", {"texts": ["a"]}), 400, "rerank without query")
    is_error(*http("POST", "/rerank", {"query": "a", "texts": ["b"], "model": "all-MiniLM-L6-v2"}), 400,
             "rerank with an embedding model")
    is_error(*http("POST", "/rerank", {"query": "a", "texts": ["b"], "model": "bert_cls"}), 400,
             "rerank with a 3-label classifier")
    is_error(*http("POST", "/rerank", {"query": "a", "texts": ["fox " * 100]}), 400, "rerank too long")
    code, body = http("POST", "/rerank", {"query": "a", "texts": ["fox " * 100], "truncate": True})
    check("rerank truncate", code == 200 and len(json.loads(body)) == 1, body[:200])
    is_error(*http("POST", "/embed", {"inputs": "a", "model": "bert_rerank"}), 400, "embed with a cross-encoder")
    cl = [g for g in GOLD if g[0] == "cls"]
    names = ["negative", "neutral", "positive"]

    def softmax(v):
        e = [math.exp(x - max(v)) for x in v]
        return [x / sum(e) for x in e]

    batch = [[g[2], g[3]] if g[3] else [g[2]] for g in cl]
    code, body = curl(BASE + "/predict", "-d", json.dumps({"inputs": batch, "model": "bert_cls", "truncate": True}))
    got = json.loads(body) if code == 200 else []
    ok = len(got) == len(cl)
    for g, preds in zip(cl, got):
        p = softmax([float(x) for x in g[4].split()])
        ok = ok and [d["label"] for d in preds] == sorted(names, key=lambda n: -p[names.index(n)])
        ok = ok and all(abs(d["score"] - p[names.index(d["label"])]) <= 1e-5 for d in preds)
    check("predict batch: labels by softmax score, as transformers", ok, body[:300])
    code, body = http("POST", "/predict", {"inputs": [cl[4][2], cl[4][3]], "model": "bert_cls", "raw_scores": True})
    got = json.loads(body) if code == 200 else []
    want = [float(x) for x in cl[4][4].split()]
    check("predict a pair, raw_scores: the logits",
          len(got) == 3 and all(abs(d["score"] - want[names.index(d["label"])]) <= 1e-5 for d in got), body[:300])
    # problem_type multi_label_classification: a sigmoid per label, the scores `xfmr classify --json` prints
    cli = subprocess.run([X, "classify", "-m", MULTI, "--json", "--threads", "1", "a short text"], capture_output=True,
                         text=True)
    want = {d["label"]: d["score"] for d in json.loads(cli.stdout)["scores"]} if cli.returncode == 0 else {}
    code, body = http("POST", "/predict", {"inputs": "a short text", "model": "modernbert_cls_mean"})
    got = json.loads(body) if code == 200 else []
    check("predict multi-label: sigmoid per label, as xfmr classify",
          len(want) == 2 and len(got) == 2 and abs(sum(d["score"] for d in got) - 1) > 1e-3 and
          all(abs(d["score"] - want[d["label"]]) <= 1e-6 for d in got), body[:300].decode(errors="replace") + " / " + cli.stdout[:300])
    is_error(*http("POST", "/predict", {"inputs": ["a", "b", "c"], "model": "bert_cls"}), 400, "predict 3 strings")
    is_error(*http("POST", "/predict", {"model": "bert_cls"}), 400, "predict without inputs")
    is_error(*http("POST", "/predict", {"inputs": "a", "model": "all-MiniLM-L6-v2"}), 400, "predict with an embedder")

    # -------------------------------------------------------------- malformed requests
    is_error(*http("POST", "/v1/embeddings", raw=b"{not json"), 400, "bad JSON")
    is_error(*http("POST", "/v1/embeddings", raw=b"[1, 2]"), 400, "not an object")
    is_error(*http("POST", "/v1/embeddings", raw=b""), 400, "empty body")
    is_error(*http("POST", "/v1/embeddings", {"input": 5}), 400, "input wrong type")
    is_error(*http("POST", "/v1/embeddings", {"input": ["a", 1]}), 400, "input mixed types")
    is_error(*http("POST", "/v1/embeddings", {"input": []}), 400, "input empty")
    is_error(*http("POST", "/v1/embeddings", {"input": [[1, -3]]}), 400, "bad token id")
    is_error(*http("POST", "/v1/embeddings", {"input": "a", "encoding_format": "hex"}), 400, "encoding_format")
    is_error(*http("POST", "/v1/embeddings", {"input": "a", "dimensions": 1000}), 400, "dimensions range")
    is_error(*http("POST", "/v1/embeddings", {"input": "word " * 400}), 400, "too long input")
    is_error(*http("POST", "/v1/embeddings", {"input": "a", "model": "gpt-4"}), 404, "unknown model")
    is_error(*http("POST", "/v1/embeddings", {"input": "a", "model": "SmolLM2-135M-Instruct"}), 400, "decoder for embeddings")
    is_error(*http("POST", "/v1/chat/completions", {"messages": "hi"}), 400, "messages wrong type")
    is_error(*http("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}],
                                                    "temperature": "hot"}), 400, "temperature wrong type")
    is_error(*http("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}],
                                                    "max_tokens": 100000}), 400, "max_tokens too large")
    is_error(*http("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 3,
                                                    "stream": True}), 400, "n > 1 with stream")
    is_error(*http("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 99}),
             400, "n too large")
    is_error(*http("POST", "/v1/completions", {"prompt": 42}), 400, "prompt wrong type")
    with tempfile.NamedTemporaryFile(suffix=".json") as big:
        big.write(b'{"input": "' + b"a" * 2000000 + b'"}')
        big.flush()
        is_error(*curl(BASE + "/v1/embeddings", "--data-binary", "@" + big.name), 413, "body too large (curl)")
        # Without Content-Length (chunked upload): refused once the bytes pass the limit.
        is_error(*curl(BASE + "/v1/embeddings", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + big.name),
                 413, "chunked body too large (curl)")
    is_error(*http("GET", "/v1/embeddings"), 405, "wrong method")
    is_error(*http("GET", "/v2/nothing"), 404, "unknown path")
    is_error(*http("POST", "/v1/embeddings", {"input": "a"}, key=None), 401, "missing key")
    is_error(*http("POST", "/v1/embeddings", {"input": "a"}, key="wrong"), 401, "wrong key")

    # -------------------------------------------------------------- a client that goes away
    s = socket.create_connection(("127.0.0.1", port))
    body = json.dumps({"messages": [{"role": "user", "content": "Write a long story about a dragon."}],
                       "max_tokens": 200, "stream": True, "temperature": 0}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    s.recv(2000)  # the headers and the first events
    s.close()
    t1 = time.time()
    cancelled = False
    while time.time() - t1 < 30 and not cancelled:
        time.sleep(0.2)
        m = re.search(rb"xfmr_requests_cancelled_total (\d+)", http("GET", "/metrics")[1])
        cancelled = bool(m and int(m.group(1)) >= 1)
    check("disconnect cancels the stream", cancelled)
    code, body = http("POST", "/v1/embeddings", {"input": "still alive"})
    check("alive after disconnect", code == 200)
finally:
    # -------------------------------------------------------------- SIGTERM
    srv.send_signal(signal.SIGTERM)
    try:
        rc = srv.wait(timeout=120)
    except subprocess.TimeoutExpired:
        srv.kill()
        rc = -9
    log = open(errf.name).read()
    os.unlink(errf.name)
check("SIGTERM exit 0", rc == 0, "(exit %s)\n%s" % (rc, log[-3000:]))
check("SIGTERM message", "stopped" in log, log[-1000:])

# ------------------------------------------------------------------ --timeout, and SIGTERM mid-stream
def start_quiet(*args):
    """A server on a free port with stderr piped, and its base URL once it listens."""
    p = subprocess.Popen([X, "serve", "--port", "0", "--threads", "2"] + list(args),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = ""
    while p.poll() is None and "listening" not in line:
        line = p.stderr.readline()
    m = re.search(r"127\.0\.0\.1:(\d+)/", line)
    return p, "http://127.0.0.1:%s" % (m.group(1) if m else "0")


# ------------------------------------------------------------------ KV-cache options
# Every session gets --kv-type / --kv-policy / --kv-budget: greedy answers equal `xfmr generate`
# with the same options, also for concurrent requests (batched prefill and decode), with answers
# longer than the budget; an evicting policy turns the prefix cache off, a q8 cache alone keeps it.
def stop_quiet(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        return -9


KV = ["--kv-type", "q8", "--kv-policy", "h2o", "--kv-budget", "40"]
KV_N = 40  # prompt (14-30 tokens) + answer past the 40-token budget
kv_prompts = ["The history of the city of Paris begins with a small settlement on an island in the river Seine",
              "Once upon a time", "The three laws of thermodynamics are"]
kv_wants = [cli_generate(x, False, KV_N, KV) for x in kv_prompts]
dense_wants = [cli_generate(x, False, KV_N) for x in kv_prompts]
check("--kv-budget 40 changes an answer (the test can tell)", kv_wants != dense_wants)
srv, BASE = start_quiet("-m", DEC, "--max-sessions", "4", *KV)
try:
    code, body = http("GET", "/v1/models", key=None)
    kvc = json.loads(body)["data"][0].get("kv_cache", {}) if code == 200 else {}
    check("/v1/models shows the KV settings",
          kvc == {"type": "q8", "policy": "h2o", "budget": 40, "quest": 0, "prefix_cache": False}, body[:400])

    def complete(x):
        return http("POST", "/v1/completions", {"prompt": x, "max_tokens": KV_N, "temperature": 0}, key=None)

    with cf.ThreadPoolExecutor(len(kv_prompts)) as ex:
        got = list(ex.map(complete, kv_prompts))
    for x, (code, body), w in zip(kv_prompts, got, kv_wants):
        text = json.loads(body)["choices"][0]["text"] if code == 200 else body
        check("serve %s = xfmr generate with them: %r" % (" ".join(KV), x[:20]), text == w, "%r vs %r" % (text, w))
    code, body = http("GET", "/metrics", key=None)
    m = re.search(rb'xfmr_kv_cache_bytes\{model="SmolLM2-135M-Instruct"\} (\d+)', body)
    check("/metrics xfmr_kv_cache_bytes", m and int(m.group(1)) > 0, body[-400:])
finally:
    rc = stop_quiet(srv)
check("serve with KV options: SIGTERM exit 0", rc == 0, srv.stderr.read()[-2000:])
srv, BASE = start_quiet("-m", DEC, "--kv-type", "q8")
try:
    sys_prompt = ("You are a helpful assistant who answers questions about geography, history and science in "
                  "one short sentence, without lists.")
    chats = ["What is the capital of Italy?", "What is the capital of Spain?"]
    q8_wants = [cli_generate(x, True, MAX_TOKENS, ["--kv-type", "q8", "--system", sys_prompt]) for x in chats]
    for x, w in zip(chats, q8_wants):  # one after the other: the second starts from the first's system prompt
        code, body = http("POST", "/v1/chat/completions", {"messages": [{"role": "system", "content": sys_prompt},
                          {"role": "user", "content": x}], "max_tokens": MAX_TOKENS, "temperature": 0}, key=None)
        text = json.loads(body)["choices"][0]["message"]["content"] if code == 200 else body
        check("serve --kv-type q8 chat = xfmr generate --kv-type q8: %r" % x, text == w, "%r vs %r" % (text, w))
    code, body = http("GET", "/metrics", key=None)
    m = re.search(rb'xfmr_prompt_tokens_shared_total\{model="SmolLM2-135M-Instruct"\} (\d+)', body)
    check("--kv-type q8 keeps the prefix cache", m and int(m.group(1)) >= 20, body[-600:])
finally:
    stop_quiet(srv)

srv, BASE = start_quiet("-m", DEC, "--timeout", "2", "--grace", "1")
# long enough to outlast --timeout 2 and the 1 s before SIGTERM on a fast machine (SmolLM2 Q4_1 on a
# Xeon: 250 tokens took under 2 s; 1,000 take over 4 s, and it writes them all without an end token)
long_req = {"prompt": "Once upon a time", "max_tokens": 1000, "temperature": 0}
is_error(*http("POST", "/v1/completions", long_req, key=None), 504, "--timeout")
with cf.ThreadPoolExecutor(1) as ex:
    fut = ex.submit(curl, "-N", BASE + "/v1/completions", "-d", json.dumps(dict(long_req, stream=True)))
    time.sleep(1.0)  # the stream is running
    srv.send_signal(signal.SIGTERM)
    code, body = fut.result()
try:
    rc = srv.wait(timeout=60)
except subprocess.TimeoutExpired:
    srv.kill()
    rc = -9
rest = srv.stderr.read()
check("SIGTERM mid-stream: the stream ends with an error event and [DONE]",
      code == 200 and '"error"' in body and body.rstrip().endswith("data: [DONE]"), body[-300:])
check("SIGTERM mid-stream: exit 0", rc == 0, "(exit %s) %s" % (rc, rest[-2000:]))

# ------------------------------------------------------------------ adaptive compute: token merging
# The server takes the embed options of docs/ADAPTIVE.md; its embeddings equal `xfmr embed` with the
# same options (a text of 64+ tokens is merged, a short one is not).
MERGE = ["--keep", "0.4", "--merge"]
long_text = ("The package provides a command-line tool and a library for reading, writing and converting "
             "archives in many formats, with streaming decompression, random access to members, checksums, "
             "sparse files, extended attributes and access control lists, and bindings for several languages. "
             "It is used by package managers, backup programs and file browsers, and its test suite runs on "
             "every supported platform before each release.")
r = subprocess.run([X, "embed", "-m", ENC, "--threads", "2"] + MERGE, input=long_text + "\nA man is eating food.\n",
                   capture_output=True, text=True, check=True)
want = [json.loads(line)["embedding"] for line in r.stdout.splitlines()]
dense = cli_embed([long_text])[0]
srv, BASE = start_quiet("-m", ENC, *MERGE)
code, body = http("POST", "/v1/embeddings", {"input": [long_text, "A man is eating food."]}, key=None)
got = [d["embedding"] for d in json.loads(body)["data"]] if code == 200 else [[0.0], [0.0]]
check("serve --keep 0.4 --merge = xfmr embed with them",
      code == 200 and all(max(abs(x - y) for x, y in zip(g, w)) < 1e-6 for g, w in zip(got, want)), body[:200])
check("serve --merge changed the long text", code == 200 and cos(got[0], dense) < 0.99999, "cos %.7f" % cos(got[0], dense))
stop_quiet(srv)
r = subprocess.run([X, "serve", "-m", ENC, "--port", "0", "--merge"], capture_output=True, text=True, timeout=120)
check("serve --merge without --keep: startup error", r.returncode != 0 and "--merge needs" in r.stderr, r.stderr[-300:])
print("%d passed, %d failed" % (passed, len(failures)))
sys.exit(1 if failures else 0)
