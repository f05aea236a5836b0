"""tiny_pruned.py — tests/data/tiny/llama with heads and FFN units removed per layer, written as a
Hugging Face folder (numpy + safetensors), for scripts/check_gguf_llamacpp.py and fuzz/make_seeds.py:

  kind "deci":   layer 0 loses key/value head 1 with its query heads 2, 3 and every 6th FFN unit:
                 per-layer head counts and FFN widths with equal query groups (llama.cpp's "deci");
  kind "groups": single query heads removed (layer 0: head 1, layer 1: head 2), groups [1, 2] and
                 [2, 1] given as config.json "xfmr_q_groups" (xfmr-only: "xfmr-llama").
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DH, FFN = 16, 96


def write(dst, kind):
    import numpy as np
    from safetensors.numpy import load_file, save_file

    src = os.path.join(ROOT, "tests/data/tiny/llama")
    t = {k: v.astype(np.float32) for k, v in load_file(os.path.join(src, "model.safetensors")).items()}

    def rows(name, keep_heads):
        return np.concatenate([t[name][h * DH:(h + 1) * DH] for h in keep_heads])

    def cols(name, keep_heads):
        return np.ascontiguousarray(np.concatenate([t[name][:, h * DH:(h + 1) * DH] for h in keep_heads], axis=1))

    keep_q = {"deci": [[0, 1], [0, 1, 2, 3]], "groups": [[0, 2, 3], [0, 1, 3]]}[kind]
    for layer in range(2):
        p = "model.layers.%d." % layer
        t[p + "self_attn.q_proj.weight"] = rows(p + "self_attn.q_proj.weight", keep_q[layer])
        t[p + "self_attn.o_proj.weight"] = cols(p + "self_attn.o_proj.weight", keep_q[layer])
        if kind == "deci" and layer == 0:
            for n in ("k_proj", "v_proj"):
                t[p + "self_attn.%s.weight" % n] = rows(p + "self_attn.%s.weight" % n, [0])
        if layer == 0:
            keep = np.arange(FFN) % 6 != 0
            for n in ("gate_proj", "up_proj"):
                t[p + "mlp.%s.weight" % n] = t[p + "mlp.%s.weight" % n][keep]
            t[p + "mlp.down_proj.weight"] = np.ascontiguousarray(t[p + "mlp.down_proj.weight"][:, keep])
    os.makedirs(dst, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in t.items()}, os.path.join(dst, "model.safetensors"))
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    if kind == "groups":
        cfg["xfmr_q_groups"] = [[1, 2], [2, 1]]
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(src, "tokenizer.json"), "rb") as a, open(os.path.join(dst, "tokenizer.json"), "wb") as b:
        b.write(a.read())
    return dst
