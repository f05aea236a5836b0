#!/usr/bin/env python3
"""check_gguf_llamacpp.py — GGUF files written by xfmr (`xfmr convert` / xf_model_save) against
llama.cpp, the reference reader of the format.

This is a verification script, not a ctest: CI does not build llama.cpp. It
  1. builds llama.cpp from the llama-cpp-python sdist (bench/build_llamacpp.sh) and a small client of
     its C API (scripts/lcpp_probe.c);
  2. converts models with xfmr: all-MiniLM-L6-v2 (safetensors -> F32 GGUF), SmolLM2-135M-Instruct
     (Q4_1 GGUF -> GGUF), the tiny random models of tests/data/tiny, and the tiny LLaMA with per-layer
     head counts and FFN widths (llama.cpp's "deci") and with query-head groups of different sizes
     ("xfmr-llama", which llama.cpp must refuse) of scripts/tiny_pruned.py;
  3. loads each file in llama.cpp and in xfmr (through libxfmr.so, public API) and compares:
       encoders: the tokens of each text and the cosine of the embeddings per text;
       decoders: the tokens of each text, greedy continuations token by token (prompt ids from
                 xfmr's tokenizer), and the next-token logits (max |diff| / max |logit|);
     and checks that xfmr's reload of each file gives bitwise the embeddings / logits of the model it
     was written from.
Prints a table and writes JSON (default .cache/check_gguf_llamacpp.json).

usage: scripts/check_gguf_llamacpp.py [--build build] [--lines 300] [--prompts 25] [--gen 64]
                                     [--llamacpp-src SRC --llamacpp-build DIR]
"""
import argparse
import ctypes as C
import json
import math
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- xfmr through libxfmr.so

class ModelParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("n_threads", C.c_int), ("max_length", C.c_size_t), ("weights", C.c_int),
                ("rope_scaling", C.c_char_p), ("rope_factor", C.c_double), ("rope_orig_ctx", C.c_size_t)]


class Encoding(C.Structure):
    _fields_ = [("ids", C.POINTER(C.c_int32)), ("type_ids", C.POINTER(C.c_int32)), ("n", C.c_size_t),
                ("truncated", C.c_int)]


class Xfmr:
    def __init__(self, lib):
        self.L = C.CDLL(lib)
        L = self.L
        L.xf_errmsg.restype = C.c_char_p
        L.xf_model_load.argtypes = [C.c_char_p, C.POINTER(ModelParams), C.POINTER(C.c_void_p)]
        L.xf_model_tokenizer.restype = C.c_void_p
        L.xf_model_tokenizer.argtypes = [C.c_void_p]
        L.xf_model_embedding_dim.restype = C.c_size_t
        L.xf_model_embedding_dim.argtypes = [C.c_void_p]
        L.xf_model_vocab_size.restype = C.c_size_t
        L.xf_model_vocab_size.argtypes = [C.c_void_p]
        L.xf_model_max_length.restype = C.c_size_t
        L.xf_model_max_length.argtypes = [C.c_void_p]
        L.xf_tokenize.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t, C.c_char_p, C.c_size_t, C.c_size_t,
                                  C.POINTER(Encoding)]
        L.xf_encoding_free.argtypes = [C.POINTER(Encoding)]
        L.xf_embed_n.argtypes = [C.c_void_p, C.POINTER(C.c_char_p), C.POINTER(C.c_size_t), C.c_size_t, C.c_size_t,
                                 C.POINTER(C.c_float), C.c_void_p]
        L.xf_model_logits.argtypes = [C.c_void_p, C.POINTER(C.c_int32), C.c_size_t, C.POINTER(C.c_float)]
        L.xf_session_create.argtypes = [C.c_void_p, C.c_size_t, C.POINTER(C.c_void_p)]
        L.xf_session_eval.argtypes = [C.c_void_p, C.POINTER(C.c_int32), C.c_size_t, C.POINTER(C.c_float)]
        L.xf_session_free.argtypes = [C.c_void_p]
        L.xf_model_free.argtypes = [C.c_void_p]

    def check(self, st, what):
        if st:
            raise RuntimeError("%s: %s" % (what, self.L.xf_errmsg().decode()))

    def load(self, path):
        m = C.c_void_p()
        p = ModelParams(C.sizeof(ModelParams), 2, 0, 0, None, 0.0, 0)  # as xf_model_default_params()
        self.check(self.L.xf_model_load(path.encode(), C.byref(p), C.byref(m)), "xf_model_load " + path)
        return m

    def tokenize(self, m, text):
        e = Encoding()
        b = text.encode() if isinstance(text, str) else text
        self.check(self.L.xf_tokenize(self.L.xf_model_tokenizer(m), b, len(b), None, 0, 0, C.byref(e)), "xf_tokenize")
        ids = [e.ids[i] for i in range(e.n)]
        self.L.xf_encoding_free(C.byref(e))
        return ids

    def embed(self, m, texts):
        d = self.L.xf_model_embedding_dim(m)
        arr = (C.c_char_p * len(texts))(*texts)
        lens = (C.c_size_t * len(texts))(*[len(t) for t in texts])
        out = (C.c_float * (d * len(texts)))()
        self.check(self.L.xf_embed_n(m, arr, lens, len(texts), 16, out, None), "xf_embed_n")
        return [list(out[i * d:(i + 1) * d]) for i in range(len(texts))]

    def logits(self, m, ids):
        v = self.L.xf_model_vocab_size(m)
        out = (C.c_float * (v * len(ids)))()
        self.check(self.L.xf_model_logits(m, (C.c_int32 * len(ids))(*ids), len(ids), out), "xf_model_logits")
        return list(out[(len(ids) - 1) * v:len(ids) * v])

    def greedy(self, m, ids, n):
        v = self.L.xf_model_vocab_size(m)
        s = C.c_void_p()
        self.check(self.L.xf_session_create(m, 0, C.byref(s)), "xf_session_create")
        out = (C.c_float * v)()
        self.check(self.L.xf_session_eval(s, (C.c_int32 * len(ids))(*ids), len(ids), out), "xf_session_eval")
        gen = []
        for _ in range(n):
            t = max(range(v), key=lambda i: out[i])  # lowest id on ties, as xfmr's greedy sampler
            gen.append(t)
            self.check(self.L.xf_session_eval(s, (C.c_int32 * 1)(t), 1, out), "xf_session_eval")
        self.L.xf_session_free(s)
        return gen


# ---------------------------------------------------------------- llama.cpp

def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build_probe(build_dir, src=None, bdir=None):
    """Links scripts/lcpp_probe.c against llama.cpp's static libraries: those of --llamacpp-src /
    --llamacpp-build when given (a build of at least the `llama` target, -DBUILD_SHARED_LIBS=OFF),
    else those bench/build_llamacpp.sh builds under .cache/llamacpp."""
    if not (src and bdir):
        bench = subprocess.run(["bash", os.path.join(ROOT, "bench/build_llamacpp.sh")], check=True,
                               stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
        bdir = os.path.dirname(os.path.dirname(bench))  # .../build-NAME
        name = os.path.basename(bdir)[len("build-"):]
        src = os.path.join(os.path.dirname(bdir), name, "vendor", "llama.cpp")
    libs = []
    for d, _, fs in os.walk(bdir):
        libs += [os.path.join(d, f) for f in fs if f.endswith(".a") and (f.startswith("libllama") or f.startswith("libggml"))]
    order = sorted(libs, key=lambda p: (not os.path.basename(p).startswith("libllama"),
                                        os.path.basename(p) in ("libggml-base.a", "libggml.a")))
    probe = os.path.join(build_dir, "lcpp_probe")
    obj = probe + ".o"
    sh(["cc", "-O2", "-c", os.path.join(ROOT, "scripts/lcpp_probe.c"), "-I", os.path.join(src, "include"),
        "-I", os.path.join(src, "ggml", "include"), "-o", obj])
    sh(["c++", "-o", probe, obj] + order + order + ["-fopenmp", "-lpthread", "-lm"])
    return probe


def probe(exe, mode, model, lines, n=None):
    cmd = [exe, mode, model] + ([str(n)] if n is not None else [])
    r = subprocess.run(cmd, input=b"\n".join(lines) + b"\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode:
        return None, r.stderr.decode(errors="replace").strip()
    out = r.stdout.decode().splitlines()
    return out, None


def floats(line):
    return [float(x) for x in line.split()[1:]]


def ints(line):
    return [int(x) for x in line.split()[1:]]


def cos(a, b):
    ab = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return ab / (na * nb) if na and nb else 0.0


# ---------------------------------------------------------------- models

def check_encoder(x, exe, name, src, gguf, texts, res):
    m0, m1 = x.load(src), x.load(gguf)
    e0, e1 = x.embed(m0, texts), x.embed(m1, texts)
    res["xfmr_reload_bitwise"] = e0 == e1
    out, err = probe(exe, "embed", gguf, texts)
    if out is None:
        res["llamacpp"] = "refused: " + err.splitlines()[-1] if err else "refused"
        return
    toks = [ints(l) for l in out if l.startswith("T")]
    embs = [floats(l) for l in out if l.startswith("E")]
    xids = [x.tokenize(m1, s) for s in texts]
    same = [t == i for t, i in zip(toks, xids)]
    cs = [cos(a, b) for a, b in zip(e1, embs)]
    # the model alone: llama.cpp given xfmr's token ids (its WordPiece differs from Hugging Face's
    # on some scripts; xfmr's is Hugging Face's)
    out, err = probe(exe, "embed_ids", gguf, [" ".join(map(str, i)).encode() for i in xids])
    ci = [cos(a, floats(b)) for a, b in zip(e1, out)]
    res.update({"texts": len(texts), "tokens_equal": sum(same),
                "cos_min_same_tokens": min(c for c, s in zip(cs, same) if s),
                "cos_min_text": min(cs), "cos_below_0.9999_text": sum(1 for c in cs if c < 0.9999),
                "cos_min_xfmr_ids": min(ci), "cos_mean_xfmr_ids": sum(ci) / len(ci),
                "cos_below_0.9999_xfmr_ids": sum(1 for c in ci if c < 0.9999)})


def check_decoder(x, exe, name, src, gguf, prompts, n_gen, res, tok_texts=None):
    m0, m1 = x.load(src), x.load(gguf)
    ids = [x.tokenize(m1, p) if isinstance(p, (str, bytes)) else p for p in prompts]
    l0 = [x.logits(m0, i) for i in ids]
    l1 = [x.logits(m1, i) for i in ids]
    res["xfmr_reload_bitwise"] = l0 == l1
    lines = [" ".join(map(str, i)).encode() for i in ids]
    out, err = probe(exe, "logits", gguf, lines)
    if out is None:
        res["llamacpp"] = "refused: " + (err.splitlines()[-1] if err else "")
        return
    rel = max(max(abs(a - b) for a, b in zip(floats(o), l)) / max(abs(v) for v in l) for o, l in zip(out, l1))
    res["logits_max_rel_diff"] = rel
    if src.endswith(".gguf"):  # llama.cpp on the file xfmr read: the written one must not differ at all
        out_src, _ = probe(exe, "logits", src, lines)
        res["llamacpp_logits_bitwise_as_source"] = "%d/%d" % (sum(a == b for a, b in zip(out_src or [], out)), len(lines))
    if n_gen:
        out, err = probe(exe, "greedy", gguf, lines, n_gen)
        if src.endswith(".gguf"):
            out_src, _ = probe(exe, "greedy", src, lines, n_gen)
            res["llamacpp_greedy_as_source"] = "%d/%d" % (sum(a == b for a, b in zip(out_src or [], out)), len(lines))
        g_l = [ints(o) for o in out]
        g_x = [x.greedy(m1, i, n_gen) for i in ids]
        first_diff = [next((k for k in range(n_gen) if a[k] != b[k]), n_gen) for a, b in zip(g_l, g_x)]
        res.update({"prompts": len(ids), "greedy_tokens": n_gen,
                    "greedy_identical": sum(1 for f in first_diff if f == n_gen),
                    "greedy_tokens_matching_before_first_difference": sum(first_diff)})
    if tok_texts:
        out, err = probe(exe, "tokenize", gguf, tok_texts)
        res["tokens_equal"] = sum(1 for o, s in zip(out, tok_texts) if ints(o) == x.tokenize(m1, s))
        res["tokenized_texts"] = len(tok_texts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--lines", type=int, default=300)
    ap.add_argument("--prompts", type=int, default=25)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--json", default=os.path.join(ROOT, ".cache", "check_gguf_llamacpp.json"))
    ap.add_argument("--llamacpp-src", help="llama.cpp source (with include/llama.h) already built in --llamacpp-build")
    ap.add_argument("--llamacpp-build", help="its CMake build folder (static libraries)")
    ap.add_argument("--only", default="minilm,smollm2,tiny,pruned,bert",
                    help="comma-separated parts to run (default: all of minilm,smollm2,tiny,pruned,bert)")
    a = ap.parse_args()
    only = set(a.only.split(","))
    xbin, xlib = os.path.join(a.build, "xfmr"), os.path.join(a.build, "libxfmr.so")
    for f in (xbin, xlib):
        if not os.path.exists(f):
            sys.exit("check_gguf_llamacpp: %s is missing; build xfmr first (cmake --build %s)" % (f, a.build))
    exe = build_probe(a.build, a.llamacpp_src, a.llamacpp_build)
    x = Xfmr(xlib)
    with open(os.path.join(ROOT, "tests/data/corpus.txt"), "rb") as f:
        corpus = f.read().split(b"\n")[:-1]
    tmp = tempfile.mkdtemp(prefix="xfmr_gguf_check_")
    results = {}

    def convert(name, src, *extra):
        out = os.path.join(tmp, name + ".gguf")
        sh([xbin, "convert", "-m", src, "-o", out] + list(extra), stderr=subprocess.DEVNULL)
        return out

    def fitting(src, n):  # texts that fit the encoder's limit untruncated (llama.cpp does not truncate)
        m = x.load(src)
        limit = x.L.xf_model_max_length(m)
        return [t for t in corpus if len(x.tokenize(m, t)) <= limit][:n]

    minilm = os.path.join(ROOT, "models/all-MiniLM-L6-v2")
    if "minilm" in only and os.path.isdir(minilm):
        texts = fitting(minilm, a.lines)
        res = results.setdefault("all-MiniLM-L6-v2", {})
        check_encoder(x, exe, "minilm", minilm, convert("minilm", minilm), texts, res)
        res16 = results.setdefault("all-MiniLM-L6-v2 (f16)", {})
        check_encoder(x, exe, "minilm16", minilm, convert("minilm16", minilm, "--outtype", "f16"), texts, res16)
        res16.pop("xfmr_reload_bitwise", None)  # f16 rounds the weights: not expected bitwise
    smol = os.path.join(ROOT, "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    if "smollm2" in only and os.path.isfile(smol):
        res = results.setdefault("SmolLM2-135M-Instruct Q4_1", {})
        prompts = [t for t in corpus if 8 <= len(t) <= 400][:a.prompts]
        check_decoder(x, exe, "smollm2", smol, convert("smollm2", smol), prompts, a.gen, res, corpus[:a.lines])
    tiny = os.path.join(ROOT, "tests/data/tiny")
    ids = [[(i * 37 + 11) % 320 for i in range(n)] for n in (3, 8, 14)]
    for name in ("llama", "qwen2", "mistral", "gpt2", "llama3_rope", "llama_rope_linear") if "tiny" in only else ():
        res = results.setdefault("tiny " + name, {})
        # mistral: llama.cpp runs "llama" files without the sliding window (16): compare inside it
        check_decoder(x, exe, name, os.path.join(tiny, name), convert(name, os.path.join(tiny, name)), ids,
                      0 if name == "mistral" else 16, res)
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import tiny_pruned
    for kind, what in (("deci", "per-layer heads / FFN (deci)"), ("groups", "unequal query groups (xfmr-llama)")) \
            if "pruned" in only else ():
        pruned = tiny_pruned.write(os.path.join(tmp, "pruned_" + kind), kind)
        res = results.setdefault("tiny llama, " + what, {})
        check_decoder(x, exe, kind, pruned, convert(kind, pruned), ids, 16, res)
    if "bert" in only:
        res = results.setdefault("tiny bert", {})
        bert = os.path.join(tiny, "bert")
        check_encoder(x, exe, "bert", bert, convert("bert", bert), fitting(bert, 50), res)

    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=2)
    for k, v in results.items():
        print("%-44s %s" % (k, ", ".join("%s=%s" % (a2, ("%.7f" % b) if isinstance(b, float) else b) for a2, b in v.items())))
    print("results: %s" % a.json)


if __name__ == "__main__":
    main()
