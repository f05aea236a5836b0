#!/usr/bin/env python3
"""bench_ort.py — ONNX Runtime peer for the all-MiniLM-L6-v2 embedding benchmark (bench/run.py).

prepare: exports the model folder to ONNX once (torch.onnx.export of the HF BertModel, dynamic
  batch and sequence axes) and caches under .cache/onnx/<model>/ (git-ignored):
    model.onnx       the export (run with graph optimization ORT_ENABLE_ALL)
    model_opt.onnx   onnxruntime.transformers.optimizer.optimize_model(model_type="bert") of it
    *_int8.onnx      onnxruntime.quantization.quantize_dynamic(per_channel=True, QInt8 weights)
  times the two fp32 variants on the same texts, keeps the faster as "fp32" (its int8 twin as
  "int8"), and checks the embeddings: ORT fp32 vs sentence-transformers (min cosine must exceed
  0.9999) and ORT int8 vs ORT fp32 (min cosine reported). Prints one JSON line.
bench: times the pipeline sentence-transformers' encode() runs, on a variant: the HF `tokenizers`
  fast tokenizer on each batch (padding to the longest text of the batch, truncation to 256),
  session.run, mean pooling with the attention mask, L2 normalisation. intra_op_num_threads =
  threads, inter_op_num_threads = 1, sequential execution. Batch 1 = one call per text.

usage: python3 bench/bench_ort.py prepare [--texts N] [--threads T]
       python3 bench/bench_ort.py bench --variant fp32|int8 [--threads 2] [--batch 32] [--runs 5]
Needs: onnxruntime, onnx, torch, transformers, tokenizers, sentence-transformers (for the check).
"""
import argparse, json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CORPUS, MINILM, ROOT, read_lines, rel, self_peak_rss  # noqa: E402
from bench_embed import timed_runs  # noqa: E402

MAX_SEQ = 256


def cache_dir(model_dir):
    return os.path.join(ROOT, ".cache", "onnx", os.path.basename(os.path.normpath(model_dir)))


def export(model_dir, path):
    """torch.onnx.export of the BertModel, returning last_hidden_state. The wrapper builds the
    additive attention mask itself ((1 - mask) * min float, the classic BERT form), because
    transformers' mask helpers convert tensors to Python values and would freeze shapes in a
    trace; it calls the embeddings and the encoder with keywords (the positional order of
    BertModel.forward changed across transformers versions)."""
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.m.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
            ext = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
            return self.m.encoder(h, attention_mask=ext).last_hidden_state

    # eval() on the wrapper too: the exporter restores the wrapper's mode after export, and a
    # wrapper left in training mode would switch dropout on in the wrapped model.
    w = Wrapper(bert).eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = tuple(torch.ones(2, 16, dtype=torch.long) if n != "token_type_ids" else torch.zeros(2, 16, dtype=torch.long)
                  for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names + ["last_hidden_state"]}
    tmp = path + ".tmp"
    # The TorchScript exporter (dynamo=False): the dynamo one needs onnxscript, and this graph
    # has no control flow that would need it.
    torch.onnx.export(w, dummy, tmp, input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                      opset_version=17, do_constant_folding=True, dynamo=False)
    os.replace(tmp, path)


def optimize(src, dst, model_dir):
    from onnxruntime.transformers.optimizer import optimize_model
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    opt = optimize_model(src, model_type="bert", num_heads=cfg["num_attention_heads"], hidden_size=cfg["hidden_size"])
    opt.save_model_to_file(dst)
    return opt.get_fused_operator_statistics()


def quantize(src, dst):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # DefaultTensorType: shape inference gives no type to the outputs of the optimizer's
    # com.microsoft ops (BiasGelu, SkipLayerNormalization); they are all float.
    quantize_dynamic(src, dst, per_channel=True, weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def paths(model_dir):
    d = cache_dir(model_dir)
    return {"export": os.path.join(d, "model.onnx"), "opt": os.path.join(d, "model_opt.onnx"),
            "export_int8": os.path.join(d, "model_int8.onnx"), "opt_int8": os.path.join(d, "model_opt_int8.onnx"),
            "choice": os.path.join(d, "choice.json")}


class Embedder:
    """tokenizer + ORT session + mean pooling + L2 normalisation, like SentenceTransformer.encode()."""

    def __init__(self, model_dir, onnx_path, threads):
        import onnxruntime as ort
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.enable_truncation(max_length=MAX_SEQ)
        self.tok.enable_padding(pad_id=self.tok.token_to_id("[PAD]") or 0, pad_token="[PAD]")  # to the longest
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.sess.get_inputs()}

    def __call__(self, texts, batch=32):
        import numpy as np
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tok.encode_batch(texts[i:i + batch])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            h = self.sess.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            m = mask[:, :, None].astype(h.dtype)
            e = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            out.append(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12))
        return np.concatenate(out)


def min_cos(a, b):
    import numpy as np
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(1).min())


def prepare(model_dir, lines, threads, log=print):
    """Export / optimize / quantize (cached), choose the faster fp32 variant, check agreement."""
    import onnxruntime
    p = paths(model_dir)
    os.makedirs(os.path.dirname(p["export"]), exist_ok=True)
    notes = {}
    if not os.path.exists(p["export"]):
        log(f"bench_ort: exporting {rel(model_dir)} to {rel(p['export'])}")
        export(model_dir, p["export"])
    if not os.path.exists(p["opt"]):
        log("bench_ort: onnxruntime.transformers.optimizer.optimize_model(model_type='bert')")
        try:
            fused = {k: v for k, v in optimize(p["export"], p["opt"], model_dir).items() if v}
            with open(p["opt"] + ".json", "w") as f:
                json.dump(fused, f)
        except Exception as e:  # keep the plain export as the only candidate
            notes["optimizer_error"] = repr(e)
    if os.path.exists(p["opt"] + ".json"):
        # Attention is not fused for this export: transformers 5's eager attention scales the
        # scores with a Mul before adding the mask, and the fusion's pattern (Add <- Mul <- Sub
        # <- Cast <- Unsqueeze) stops at that first Mul; BiasGelu and SkipLayerNormalization fuse.
        notes["optimizer_fused_ops"] = json.load(open(p["opt"] + ".json"))
    for v in ("export", "opt"):
        if os.path.exists(p[v]) and not os.path.exists(p[v + "_int8"]):
            log(f"bench_ort: quantize_dynamic({rel(p[v])}, per_channel=True, QInt8)")
            try:
                quantize(p[v], p[v + "_int8"])
            except Exception as e:
                notes[f"quantize_{v}_error"] = repr(e)

    # Time the fp32 candidates on the same texts (batch 32), best of 2 passes each.
    timing = {}
    for v in ("export", "opt"):
        if not os.path.exists(p[v]):
            continue
        emb = Embedder(model_dir, p[v], threads)
        emb(lines[:32])
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            emb(lines, 32)
            best = min(best, time.perf_counter() - t0)
        timing[v] = best
    fp32 = min(timing, key=timing.get)
    int8 = fp32 + "_int8" if os.path.exists(p[fp32 + "_int8"]) else "export_int8"

    # Agreement: ST vs ORT fp32 vs ORT int8 on the same texts.
    from bench_embed import st_model
    ref = st_model(model_dir, threads).encode(lines, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    e32 = Embedder(model_dir, p[fp32], threads)(lines)
    e8 = Embedder(model_dir, p[int8], threads)(lines)
    choice = {"fp32": rel(p[fp32]), "int8": rel(p[int8]), "fp32_variant": fp32, "int8_variant": int8,
              "fp32_candidates_s": timing, "check_texts": len(lines), "threads": threads,
              "min_cos_fp32_vs_st": min_cos(e32, ref), "min_cos_int8_vs_fp32": min_cos(e8, e32),
              "min_cos_int8_vs_st": min_cos(e8, ref), "onnxruntime": onnxruntime.__version__, **notes}
    choice["fp32_agrees"] = choice["min_cos_fp32_vs_st"] > 0.9999
    with open(p["choice"], "w") as f:
        json.dump(choice, f, indent=2)
    return choice


def bench(model_dir, lines, variant, threads, batch, runs):
    import onnxruntime
    p = paths(model_dir)
    if not os.path.exists(p["choice"]):
        sys.exit("bench_ort.py: run `bench_ort.py prepare` first")
    choice = json.load(open(p["choice"]))
    path = os.path.join(ROOT, choice[variant])
    emb = Embedder(model_dir, path, threads)
    enc = lambda texts: emb(texts, batch)
    enc(lines[:64])  # warm-up
    res = timed_runs(enc, lines, batch, runs)
    res.update({"engine": f"onnxruntime {variant}", "threads": threads, "onnx": choice[variant],
                "onnx_variant": choice[variant + "_variant"], "onnxruntime": onnxruntime.__version__,
                "peak_rss_bytes": self_peak_rss()})
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["prepare", "bench"])
    ap.add_argument("--model", default=MINILM)
    ap.add_argument("--corpus", default=CORPUS)
    ap.add_argument("--texts", type=int, default=0, help="prepare: check on the first N texts (0 = all)")
    ap.add_argument("--variant", choices=["fp32", "int8"], default="fp32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    lines = read_lines(a.corpus)
    if a.mode == "prepare":
        if a.texts:
            lines = lines[:a.texts]
        res = prepare(a.model, lines, a.threads, log=lambda m: print(m, file=sys.stderr))
    else:
        res = bench(a.model, lines, a.variant, a.threads, a.batch, a.runs)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
