#!/usr/bin/env python3
"""make_seeds.py — (re)generate the committed seed corpora of fuzz/corpus/ from real files.

Seeds are kept small (the whole fuzz/corpus/ under 1 MB): real headers with shrunken tensors,
real tokenizers with trimmed vocabularies, the tiny models' config.json files, the repository's
chat templates. scripts/fuzz.sh adds the full-size files of tests/data at run time.
Usage: fuzz/make_seeds.py   (from anywhere; needs models/SmolLM2-135M-Instruct for the GGUF seed)
"""
import json
import os
import shutil
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- safetensors
def safetensors(tensors, meta=None, pad=8):
    """tensors: list of (name, dtype, shape, bytes)."""
    hdr, blob = {}, b""
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dt, shape, data in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(hdr, separators=(",", ":")).encode()
    while (8 + len(h)) % pad:
        h += b" "
    return struct.pack("<Q", len(h)) + h + blob


def st_seeds():
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
    # The tiny llama's real tensor names, shapes shrunk to at most 4 per dimension.
    with open(os.path.join(ROOT, "tests/data/tiny/llama/model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        real = json.loads(f.read(n))
    ts = []
    for name, v in real.items():
        if name == "__metadata__":
            continue
        shape = [min(s, 4) for s in v["shape"]]
        cnt = 1
        for s in shape:
            cnt *= s
        ts.append((name, v["dtype"], shape, bytes(range(256))[: cnt * sizes[v["dtype"]]] * 1))
    ts = [(a, b, c, (d * 64)[: _n(c) * sizes[b]]) for a, b, c, d in ts]
    put("fuzz_safetensors", "tiny_llama_shrunk.safetensors", safetensors(ts, {"format": "pt"}))
    mixed = [(dt.lower() + ".w", dt, [2, 3], bytes(6 * sizes[dt])) for dt in sizes]
    mixed.append(("scalar", "F32", [], b"\0\0\x80\x3f"))
    mixed.append(("empty", "F32", [0, 5], b""))
    put("fuzz_safetensors", "all_dtypes.safetensors", safetensors(mixed, {"format": "pt", "note": "x"}))
    put("fuzz_safetensors", "empty.safetensors", safetensors([], None))


def _n(shape):
    c = 1
    for s in shape:
        c *= s
    return c


# ---------------------------------------------------------------------- GGUF
class GGUFReader:
    SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def __init__(self, path, limit=8 << 20):
        with open(path, "rb") as f:
            self.d = f.read(limit)
        self.o = 0

    def u32(self):
        v = struct.unpack_from("<I", self.d, self.o)[0]
        self.o += 4
        return v

    def u64(self):
        v = struct.unpack_from("<Q", self.d, self.o)[0]
        self.o += 8
        return v

    def s(self):
        n = self.u64()
        v = self.d[self.o : self.o + n]
        self.o += n
        return v

    def val(self, t):
        if t == 8:
            return self.s()
        if t == 9:
            et, n = self.u32(), self.u64()
            return (et, [self.val(et) for _ in range(n)])
        n = self.SIZES[t]
        self.o += n
        return self.d[self.o - n : self.o]

    def kvs(self):
        self.o = 8
        self.nt, nkv = self.u64(), self.u64()
        return [(self.s(), *self._tv()) for _ in range(nkv)]

    def _tv(self):
        t = self.u32()
        return t, self.val(t)


def gguf_str(b):
    return struct.pack("<Q", len(b)) + b


def gguf_val(t, v):
    if t == 8:
        return gguf_str(v)
    if t == 9:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gguf_val(et, x) for x in items)
    return v


def gguf(kvs, tensors, align=32):
    """kvs: (key bytes, type, value); tensors: (name, dims, ggml type, data bytes)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += gguf_str(k) + struct.pack("<I", t) + gguf_val(t, v)
    off, blobs = 0, b""
    for name, dims, gt, data in tensors:
        out += gguf_str(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", x) for x in dims)
        out += struct.pack("<IQ", gt, off)
        blob = data + b"\0" * ((-len(data)) % align)
        blobs += blob
        off += len(blob)
    out += b"\0" * ((-len(out)) % align)
    return out + blobs


def gguf_seeds():
    src = os.path.join(ROOT, "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(src):
        print("make_seeds: no SmolLM2 GGUF, skipping its seed", file=sys.stderr)
    else:
        r = GGUFReader(src)
        keep = 320
        kvs = []
        tokens = None
        for k, t, v in r.kvs():
            if k == b"tokenizer.ggml.tokens":
                tokens = set(v[1][:keep])
                v = (v[0], v[1][:keep])
            elif k == b"tokenizer.ggml.token_type":
                v = (v[0], v[1][:keep])
            elif k == b"tokenizer.ggml.merges":
                ok = []
                for m in v[1]:
                    a, _, b = m.partition(b" ")
                    if a in tokens and b in tokens and a + b in tokens:
                        ok.append(m)
                v = (v[0], ok)
            elif k == b"llama.vocab_size":
                v = struct.pack("<I", keep)
            kvs.append((k, t, v))
        q41 = struct.pack("<ee", 0.5, 0.0) + bytes(range(16))  # one Q4_1 block: 32 weights
        tensors = [(b"token_embd.weight", [32, 2], 3, q41 * 2), (b"output_norm.weight", [8], 0, bytes(32))]
        put("fuzz_gguf", "smollm2_trimmed.gguf", gguf(kvs, tensors))
    shutil.copy(os.path.join(ROOT, "tests/data/spm_tokenizer.gguf"), os.path.join(OUT, "fuzz_gguf", "spm_tokenizer.gguf"))
    nested = [(b"general.architecture", 8, b"gpt2"), (b"general.alignment", 4, struct.pack("<I", 64)),
              (b"a.nested", 9, (9, [(4, [struct.pack("<I", 1)]), (8, [b"x", b"yz"])])),
              (b"a.f64", 12, struct.pack("<d", 1.5)), (b"a.bool", 7, b"\1"), (b"a.i64", 11, struct.pack("<q", -3))]
    put("fuzz_gguf", "nested_arrays.gguf", gguf(nested, [(b"t", [4, 1, 1], 1, bytes(8))], 64))
    tokenizer_gguf_seeds()


def saved_seeds():
    """Files written by xfmr's GGUF writer (`xfmr convert`, XFMR_BIN or build/xfmr): the tiny bert
    (F16, whole, also a fuzz_model seed), gpt2, mistral, llama3_rope and the pruned tiny llamas of
    scripts/tiny_pruned.py (deci; xfmr-llama with xfmr.attention.q_groups), their metadata kept
    and each tensor cut to its first row of at most 32 values."""
    import subprocess
    import tempfile
    xfmr = os.environ.get("XFMR_BIN", os.path.join(ROOT, "build", "xfmr"))
    if not os.access(xfmr, os.X_OK):
        print("make_seeds: no %s, skipping the seeds written by xfmr" % xfmr, file=sys.stderr)
        return
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import tiny_pruned
    tmp = tempfile.mkdtemp(prefix="xfmr_seeds_")
    tiny = os.path.join(ROOT, "tests/data/tiny")
    models = [("bert", os.path.join(tiny, "bert")), ("gpt2", os.path.join(tiny, "gpt2")),
              ("mistral", os.path.join(tiny, "mistral")), ("llama3_rope", os.path.join(tiny, "llama3_rope")),
              ("deci", tiny_pruned.write(os.path.join(tmp, "deci"), "deci")),
              ("xfmr_llama", tiny_pruned.write(os.path.join(tmp, "groups"), "groups"))]
    for name, src in models:
        out = os.path.join(tmp, name + ".gguf")
        subprocess.run([xfmr, "convert", "-m", src, "-o", out, "--outtype", "f16"], check=True, stderr=subprocess.DEVNULL)
        with open(out, "rb") as f:
            whole = f.read()
        if name == "bert":
            put("fuzz_model", "xfmr_saved_bert_f16.gguf", b"\0" + whole)
        r = GGUFReader(out, limit=len(whole))
        kvs = r.kvs()
        tensors = []
        for _ in range(r.nt):
            tname, nd = r.s(), r.u32()
            dims = [r.u64() for _ in range(nd)]
            gt, _off = r.u32(), r.u64()
            n = min(dims[0], 32)
            tensors.append((tname, [n], gt, bytes(n * (4 if gt == 0 else 2))))
        put("fuzz_gguf", "xfmr_saved_%s.gguf" % name, gguf(kvs, tensors))


def quantized_seeds():
    """Files written by `xfmr quantize` (XFMR_BIN or build/xfmr): the tiny bert in MXFP4, Q4_K and
    FP4S / FP8S (whole, fuzz_model: the MXFP4 blocks are dequantized at load, Q4_K falls back to
    Q5_0 at width 32, FP4S / FP8S — xfmr's own type ids 4096 / 4097 — stay in blocks) and one
    tensor of every type xfmr writes (fuzz_gguf)."""
    import subprocess
    import tempfile
    xfmr = os.environ.get("XFMR_BIN", os.path.join(ROOT, "build", "xfmr"))
    if not os.access(xfmr, os.X_OK):
        print("make_seeds: no %s, skipping the seeds written by xfmr quantize" % xfmr, file=sys.stderr)
        return
    tmp = tempfile.mkdtemp(prefix="xfmr_seeds_")
    for t in ("MXFP4", "Q4_K", "FP4S", "FP8S"):
        out = os.path.join(tmp, t + ".gguf")
        subprocess.run([xfmr, "quantize", "-m", os.path.join(ROOT, "tests/data/tiny/bert"), "--type", t, "-o", out],
                       check=True, stderr=subprocess.DEVNULL)
        put("fuzz_model", "xfmr_quantized_bert_%s.gguf" % t.lower(), b"\0" + open(out, "rb").read())
    # ggml id, block elements, block bytes
    types = [(8, 32, 34), (2, 32, 18), (3, 32, 20), (6, 32, 22), (7, 32, 24), (12, 256, 144), (13, 256, 176),
             (14, 256, 210), (39, 32, 17), (4096, 32, 18), (4097, 32, 34)]
    tensors = [(b"t%d" % gt, [be, 1], gt, bytes((i * 7 + 1) % 256 for i in range(bb))) for gt, be, bb in types]
    put("fuzz_gguf", "quantized_types.gguf", gguf([(b"general.architecture", 8, b"llama")], tensors))


def sparse_seeds():
    """2:4 compressed files (`xfmr convert --sparsity 2:4`, XFMR_BIN or build/xfmr): the tiny bert
    with float, int8 and int4 kept values and the tiny llama with int4 ones (its Q / K un-permuted
    section by section) whole for fuzz_model (the loader checks every index pattern), and one
    tensor of each 2:4 type (xfmr's ids 4098 S24, 4099 S24Q8, 4100 S24Q4, sized per row) for
    fuzz_gguf."""
    import subprocess
    import tempfile
    xfmr = os.environ.get("XFMR_BIN", os.path.join(ROOT, "build", "xfmr"))
    if not os.access(xfmr, os.X_OK):
        print("make_seeds: no %s, skipping the 2:4 seeds" % xfmr, file=sys.stderr)
        return
    tmp = tempfile.mkdtemp(prefix="xfmr_seeds_")
    for model, w in (("bert", "f32"), ("bert", "int8"), ("bert", "int4"), ("llama", "int4")):
        out = os.path.join(tmp, "%s_%s.gguf" % (model, w))
        subprocess.run([xfmr, "convert", "-m", os.path.join(ROOT, "tests/data/tiny", model), "--sparsity", "2:4",
                        "--weights", w, "-o", out], check=True, stderr=subprocess.DEVNULL)
        put("fuzz_model", "xfmr_s24_%s_%s.gguf" % (model, w), b"\0" + open(out, "rb").read())
    # ggml id, K, bytes of one row: S24 K/2 f32 + indices 4 ceil(K/32); S24Q8 4 + K/2 + idx; S24Q4 K/16 + K/4 + idx
    idx = bytes([0x4 | 0x8 << 4, 0x1 | 0xc << 4, 0x6 | 0xd << 4, 0x9 | 0xe << 4] * 8)
    types = [(4098, 4, struct.pack("<2f", 0.5, -1.0) + idx[:1] + bytes(3)),
             (4099, 4, struct.pack("<f", 0.01) + bytes([5, 251]) + idx[:1] + bytes(3)),
             (4100, 32, struct.pack("<H", 0x2c00) + bytes(range(0x21, 0x29)) + idx[:4])]
    tensors = [(b"t%d" % gt, [k, 1], gt, data) for gt, k, data in types]
    put("fuzz_gguf", "s24_types.gguf", gguf([(b"general.architecture", 8, b"llama")], tensors))


def u32s(xs):
    return [struct.pack("<I", x) for x in xs]


def f32s(xs):
    return [struct.pack("<f", x) for x in xs]


def tokenizer_gguf_seeds():
    """Small GGUF vocabularies of each tokenizer.ggml.model kind (gpt2 with a multi-step
    pre-tokenizer, bert, gemma4, t5 with a precompiled charsmap): fuzz_gguf loads and runs them."""
    # byte-level BPE ("Ġ" = U+0120 is the byte-level space)
    toks = [b"<|endoftext|>", b"a", b"b", b"ab", b"\xc4\xa0", b"\xc4\xa0ab", b"1", b"2", b"12", b"    "]
    for pre in (b"deepseek-llm", b"falcon", b"llama-bpe", b"kimi-k2"):
        kvs = [(b"general.architecture", 8, b"llama"), (b"tokenizer.ggml.model", 8, b"gpt2"),
               (b"tokenizer.ggml.pre", 8, pre), (b"tokenizer.ggml.tokens", 9, (8, toks)),
               (b"tokenizer.ggml.token_type", 9, (5, u32s([3, 1, 1, 1, 1, 1, 1, 1, 1, 4]))),
               (b"tokenizer.ggml.merges", 9, (8, [b"a b", b"\xc4\xa0 ab", b"1 2"]))]
        put("fuzz_gguf", "vocab_gpt2_%s.gguf" % pre.decode(), gguf(kvs, []))
    # WordPiece as llama.cpp stores it: "▁word", "piece" for "##piece", control tokens as they are
    sp = "\u2581".encode()
    toks = [b"[PAD]", b"[UNK]", b"[CLS]", b"[SEP]", sp + b"un", b"aff", b"able", sp + b"!", sp + b"hello"]
    kvs = [(b"tokenizer.ggml.model", 8, b"bert"), (b"tokenizer.ggml.tokens", 9, (8, toks)),
           (b"tokenizer.ggml.token_type", 9, (5, u32s([3, 3, 3, 3, 1, 1, 1, 1, 1]))),
           (b"tokenizer.ggml.unknown_token_id", 4, struct.pack("<I", 1)),
           (b"tokenizer.ggml.cls_token_id", 4, struct.pack("<I", 2)),
           (b"tokenizer.ggml.seperator_token_id", 4, struct.pack("<I", 3))]
    put("fuzz_gguf", "vocab_bert.gguf", gguf(kvs, []))
    # Gemma 4: SentencePiece-style BPE with merges over raw UTF-8 and <0xNN> byte tokens
    toks = [b"<pad>", b"<eos>", b"<bos>", b"<unk>", b"<0x41>", b"<0x0A>", sp, b"h", b"i", b"hi", sp + b"hi", b"\n", b"\n\n"]
    kvs = [(b"tokenizer.ggml.model", 8, b"gemma4"), (b"tokenizer.ggml.tokens", 9, (8, toks)),
           (b"tokenizer.ggml.token_type", 9, (5, u32s([3, 3, 3, 2, 6, 6, 1, 1, 1, 1, 1, 1, 1]))),
           (b"tokenizer.ggml.merges", 9, (8, [b"h i", sp + b" hi", b"\n \n"])),
           (b"tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 2))]
    put("fuzz_gguf", "vocab_gemma4.gguf", gguf(kvs, []))
    # T5 / XLM-R: Unigram with a precompiled charsmap (the small hand-written one of tests/data)
    j = json.load(open(os.path.join(ROOT, "tests/data/unigram_small_tokenizer.json"), encoding="utf-8"))
    cmap = next(n for n in j["normalizer"]["normalizers"] if n["type"] == "Precompiled")["precompiled_charsmap"]
    import base64
    cmap = base64.b64decode(cmap)
    vocab = j["model"]["vocab"][:300]
    kvs = [(b"tokenizer.ggml.model", 8, b"t5"), (b"tokenizer.ggml.tokens", 9, (8, [p.encode() for p, _ in vocab])),
           (b"tokenizer.ggml.scores", 9, (6, f32s([sc for _, sc in vocab]))),
           (b"tokenizer.ggml.token_type", 9, (5, u32s([3 if p in ("<s>", "</s>") else 2 if p == "<unk>" else
                                                       6 if p.startswith("<0x") else 1 for p, _ in vocab]))),
           (b"tokenizer.ggml.add_space_prefix", 7, b"\1"), (b"tokenizer.ggml.remove_extra_whitespaces", 7, b"\1"),
           (b"tokenizer.ggml.precompiled_charsmap", 9, (0, [bytes([x]) for x in cmap])),
           (b"tokenizer.ggml.unknown_token_id", 4, struct.pack("<I", j["model"]["unk_id"]))]
    put("fuzz_gguf", "vocab_t5.gguf", gguf(kvs, []))


# --------------------------------------------------------------- tokenizers
def trim_tokenizer(path, keep):
    j = json.load(open(path, encoding="utf-8"))
    m = j["model"]
    vocab = {k: v for k, v in m["vocab"].items() if v < keep}
    m["vocab"] = vocab
    if "merges" in m:
        out = []
        for x in m["merges"]:
            a, b = x.split(" ", 1) if isinstance(x, str) else x
            if a in vocab and b in vocab and a + b in vocab:
                out.append(x)
        m["merges"] = out
    j["added_tokens"] = [t for t in j.get("added_tokens", []) if t["id"] < keep]
    return json.dumps(j, ensure_ascii=False, separators=(",", ":"))


def tokenizer_seeds():
    put("fuzz_tokenizer_json", "wordpiece_tiny.json", open(os.path.join(ROOT, "tests/data/tiny/llama/tokenizer.json"), "rb").read())
    for name, keep in (("spm_tokenizer", 300), ("spm_meta_tokenizer", 300), ("smollm2_tokenizer", 400)):
        put("fuzz_tokenizer_json", name + "_trimmed.json", trim_tokenizer(os.path.join(ROOT, "tests/data", name + ".json"), keep))
    # Unigram with a Precompiled charsmap, Strip and a regex Replace (34 KB as it is)
    put("fuzz_tokenizer_json", "unigram_small.json", open(os.path.join(ROOT, "tests/data/unigram_small_tokenizer.json"), "rb").read())
    # Text for the encode/decode harness: byte 0 picks the tokenizer (0..6) and options.
    texts = [b"Hello, world! The quick brown fox.", "caf\u00e9 na\u00efve \u4f60\u597d \U0001F600".encode(),
             b"  leading spaces\tand\ttabs\r\n", b"<|im_start|>user\nhi<|im_end|>", b"[CLS] [SEP] [MASK] [UNK]",
             b"first text\n--\nsecond text", b"\xff\xfe\x80 invalid \xc3", b"12345678901234567890 don't it's"]
    i = 0
    for sel in range(7):
        for t in texts[:4] if sel else texts:
            put("fuzz_tokenize", "t%02d" % i, bytes([sel | (i & 8)]) + t)
            i += 1


# ----------------------------------------------------------- config.json etc.
def config_seeds():
    files = ["config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json",
             "model.safetensors.index.json", "tokenizer_config.json", "generation_config.json"]
    NF = len(files)  # byte 0 = index + NF: that file, the others with valid defaults
    n = 0
    for sub in sorted(os.listdir(os.path.join(ROOT, "tests/data/tiny"))):
        if not os.path.isfile(os.path.join(ROOT, "tests/data/tiny", sub, "config.json")):
            continue
        put("fuzz_hf_config", "%02d_config_%s" % (n, sub), bytes([0 + NF]) + open(os.path.join(ROOT, "tests/data/tiny", sub, "config.json"), "rb").read())
        n += 1
    mini = os.path.join(ROOT, "models/all-MiniLM-L6-v2")
    for i, f in enumerate(files):
        p = os.path.join(mini, f)
        if os.path.exists(p) and os.path.getsize(p) < 4096:
            put("fuzz_hf_config", "%02d_minilm_%s" % (n, f.replace("/", "_")), bytes([i + NF]) + open(p, "rb").read())
            n += 1
    index = {"metadata": {"total_size": 16}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    put("fuzz_hf_config", "%02d_index" % n, bytes([4 + NF]) + json.dumps(index).encode())
    n += 1
    put("fuzz_hf_config", "%02d_generation_config" % n, bytes([6 + NF]) + b'{"bos_token_id": 1, "eos_token_id": [2, 3]}')
    n += 1
    j = json.load(open(os.path.join(ROOT, "tests/data/chat/llama3.json"), encoding="utf-8"))
    put("fuzz_hf_config", "%02d_tokenizer_config_llama3" % n,
        bytes([5 + NF]) + json.dumps({"chat_template": j["chat_template"], "eos_token": "<|eot_id|>"}).encode())


def chat_seeds():
    d = os.path.join(ROOT, "tests/data/chat")
    conv = b"\0You are helpful.\0\1Hi there\0\2Hello! How can I help?\0\1Tell me a joke"
    for f in sorted(os.listdir(d)):
        j = json.load(open(os.path.join(d, f), encoding="utf-8"))
        tmpl = j.get("template") or j.get("chat_template") or ""
        if isinstance(tmpl, str) and tmpl:
            put("fuzz_chat_template", f.replace(".json", ""), tmpl.encode() + b"\n--\n" + conv)
    put("fuzz_chat_template", "no_template", b"\n--\n\1just a user message")


JINJA_SEEDS = {
    "loops": '{% set ns = namespace(a=1) %}{% for m in messages if m.role != "system" %}{{ loop.index }}'
             '{{ m.content|trim|tojson }}{% set ns.a = ns.a * 2 %}{% endfor %}{{ ns.a }}',
    "macro": '{% macro f(x, y=2) %}{{ x ~ y }}{{ f(x) if x is not defined }}{% endmacro %}{{ f(1) }}'
             '{{ f("a", y=[1, 2.5, none, true]) }}{{ raise_exception("x") if false }}',
    "expr": '{{ messages[0]["content"][1:3] }}{{ "a,b".split(",")|join("|") }}{{ {"k": [1, {"z": none}]}|tojson(indent=2) }}'
            '{{ strftime_now("%d %b %Y") }}{{ (1, 2) }}{{ 7 // 2 }}{{ 2 ** 10 }}{{ "x" * 3 }}\n--\n'
            '{"x": 1.5e300, "y": [1, -2, "\\u00e9"]}',
    "whitespace": '  {%- if true -%}\n  a\n  {% endif %}\n{#- comment -#}\n{% raw %}{{ raw }}{% endraw %}\n'
                  '{%+ if x %}y{% else %}z{% endif +%}\n',
}


def jinja_seeds():
    """The real templates of tests/data/jinja/templates, and a few small ones."""
    d = os.path.join(ROOT, "tests/data/jinja/templates")
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fh:
            put("fuzz_jinja", f.replace(".jinja", ""), fh.read() + b'\n--\n{"enable_thinking": true}')
    for name, text in JINJA_SEEDS.items():
        put("fuzz_jinja", name, text)


def cli_seeds():
    put("fuzz_cli", "lines", b"\0first line\nsecond line\r\n\nfourth with \0 nul\nno newline at end")
    put("fuzz_cli", "args", b"\1-m\0model\0--threads=2\0--max-length\x00128\0-n\0-5\0--temperature=0.7\0-q\0--\0--json")
    put("fuzz_cli", "args_bundled", b"\1-qn3\0--count=\0--json=1\0-t\0nan\0--unknown")


def model_seeds():
    # Byte 0 even: a GGUF model (the tiny quantized llama, scripts/make_tiny_gguf.py).
    p = os.path.join(ROOT, "tests/data/tiny/llama_q.gguf")
    if os.path.exists(p):
        put("fuzz_model", "llama_q.gguf", b"\0" + open(p, "rb").read())


def html_chunk_seeds():
    # Byte 0: bits 0-1 format (0, 1 HTML; 2 Markdown; 3 text), 2-3 token limit, 4 fixed, 5 overlap.
    html = (b"<!DOCTYPE html><html><head><title>T</title><style>p{}</style><script>x=1</script></head>"
            b"<body><nav>menu</nav><main><section id=s><h1>Guide<a class=headerlink href=#s>\xc2\xb6</a></h1>"
            b"<p>First <b>bold</b> paragraph.</p><p hidden>h</p><div style='display:none'>n</div>"
            b"<h2 id=i>Install</h2><ul><li>one<li>two</ul><pre>  code\n  kept</pre>"
            b"<table><tr><th>a<th>b<tr><td>1<td>2</table><dl><dt id=f>f(x)<dd><p>Computes f.</dl>"
            b"</section></main><footer>c</footer></body></html>")
    put("fuzz_html_chunk", "page.html", b"\x08" + html)
    put("fuzz_html_chunk", "page_fixed.html", b"\x31" + html)
    put("fuzz_html_chunk", "unclosed.html", b"\x04<h1>Broken<p>one <b>two <i>three</p></div><td>five<dl><dt>x")
    put("fuzz_html_chunk", "latin1.html", b"\x00<p>caf\xe9 na\xefve \xff\xfe</p>")
    put("fuzz_html_chunk", "page.md", b"\x0a# Title\nIntro [link](u).\n\nSetext\n---\n- a\n  b\n```c\nx\n```\n| a | b |\n|---|---|\n> q\n")
    put("fuzz_html_chunk", "page.txt", b"\x3b" + b"word " * 300 + b"\n\nsecond paragraph\n")


if __name__ == "__main__":
    html_chunk_seeds()
    model_seeds()
    st_seeds()
    gguf_seeds()
    saved_seeds()
    quantized_seeds()
    sparse_seeds()
    tokenizer_seeds()
    config_seeds()
    chat_seeds()
    jinja_seeds()
    cli_seeds()
