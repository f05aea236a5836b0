#!/usr/bin/env python3
"""make_tiny_modernbert.py — tiny random ModernBERT encoders and their transformers goldens.

No real ModernBERT / Ettin weights exist on this machine, so xfmr's ModernBERT architecture is
checked against transformers' own ModernBertModel on small random models made here with
transformers' classes (fixed seeds). Writes tests/data/tiny/<name>/ for two variants:

  modernbert       the defaults of ModernBertConfig shrunk: no biases (attention_bias, mlp_bias,
                   norm_bias false), global layers every 3 (layers 0 and 3 of 4 global, 1 and 2
                   local), local_attention 16 (a local query sees keys within 8 positions),
                   global / local rope theta 160000 / 10000
  modernbert_bias  every bias on (attention_bias, mlp_bias, norm_bias), global every 2,
                   local_attention 10 (within 5), other thetas, classifier_pooling "mean",
                   5 layers

Each folder: config.json (as save_pretrained writes it), model.safetensors (F16 values: half the
size; the references run in float32 on exactly those values), tokenizer_config.json (ModernBERT's
special tokens), tokenizer.json (a small byte-level
BPE tokenizer with ModernBERT's post-processor shape, [CLS] $A [SEP], trained here on
tests/data/corpus.txt; ModernBERT's real tokenizer is not available offline), and

  ref_hidden.bin (little-endian):
    uint32 hidden, uint32 n_cases
    n_cases times:
      uint32 len, uint32 batched (0: the sequence alone; 1: run in one right-padded batch with
             every other batched case, attention_mask marking its tokens)
      int32  ids[len]
      float32 hidden[len * hidden]   last_hidden_state rows of its real tokens (eval mode, eager)

  ref_emb.txt: <text> \\t <hidden floats>  mean-pooled last hidden states of the text as
             sentence-transformers pools a plain transformers folder (mean over the tokens), from
             the ids the tokenizer gives (checked equal to xfmr's tokenization by the test).

Lengths cover inputs shorter than the local window, crossing it, and past one 64-key attention
block (100 tokens). Usage: python3 scripts/make_tiny_modernbert.py [out_root] (default
tests/data/tiny). With --gguf[=LLAMA_CPP_SRC] (default: the llama.cpp source of
.cache/llamacpp, bench/build_llamacpp.sh) also <out_root>/<name>.gguf, written by llama.cpp's own
converter (convert_hf_to_gguf.py, ModernBertModel, F16 matrices): arch "modern-bert", token_embd,
token_embd_norm, blk.N.attn_norm (not in layer 0), blk.N.attn_qkv, blk.N.attn_output,
blk.N.ffn_norm, blk.N.ffn_up (Wi), blk.N.ffn_down, output_norm; sliding_window = local_attention,
sliding_window_pattern = global_attn_every_n_layers, rope.freq_base / rope.freq_base_swa, and the
tokenizer as tokenizer.ggml.* (gpt2 BPE, add_bos / add_eos).
"""
import copy
import json
import os
import struct
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import ModernBertConfig, ModernBertModel  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = 320
SPECIALS = ["<|padding|>", "[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
LENS = (1, 5, 9, 17, 40, 100)
TEXTS = ["hello world", "The quick brown fox jumps over the lazy dog.", "a",
         "Zebra? 42! " * 6 + "a longer text that crosses the local attention window of the tiny model."]

COMMON = dict(vocab_size=VOCAB, hidden_size=64, num_attention_heads=4, intermediate_size=48,
              max_position_embeddings=128, initializer_range=0.1, pad_token_id=4, bos_token_id=2,
              eos_token_id=3, cls_token_id=2, sep_token_id=3, norm_eps=1e-5)
MODELS = {
    "modernbert": dict(num_hidden_layers=4, global_attn_every_n_layers=3, local_attention=16,
                       global_rope_theta=160000.0, local_rope_theta=10000.0),
    "modernbert_bias": dict(num_hidden_layers=5, global_attn_every_n_layers=2, local_attention=10,
                            global_rope_theta=80000.0, local_rope_theta=5000.0, attention_bias=True,
                            mlp_bias=True, norm_bias=True, classifier_pooling="mean"),
}


def make_tokenizer(path):
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    with open(os.path.join(ROOT, "tests/data/corpus.txt"), encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    tok.train_from_iterator(lines, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    tok.save(path)
    return tok


def randomize(model):
    """Norms and biases away from 1 / 0 so that every parameter matters; every value rounded to the
    F16 the folder will hold (the references run in float32 on exactly those values)."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif n.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            p.copy_(p.half().float())


def build(name, extra, tok, out):
    torch.manual_seed(1234 + len(name))
    cfg = ModernBertConfig(**COMMON, **extra)
    cfg._attn_implementation = "eager"
    model = ModernBertModel(cfg).eval()
    randomize(model)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    # a copy: .half() would also round the rotary inv_freq buffers the references are computed with
    copy.deepcopy(model).half().save_pretrained(d, safe_serialization=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:  # ModernBERT's special tokens
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "cls_token": "[CLS]", "sep_token": "[SEP]",
                   "pad_token": "[PAD]", "mask_token": "[MASK]", "unk_token": "[UNK]",
                   "model_max_length": cfg.max_position_embeddings, "clean_up_tokenization_spaces": True},
                  f, indent=1)
    H = cfg.hidden_size
    g = torch.Generator().manual_seed(99)
    seqs = []
    for L in LENS:
        body = torch.randint(6, VOCAB, (max(L - 2, 0),), generator=g).tolist()
        seqs.append(([2] + body + [3])[:L] if L >= 2 else [2])
    cases = []
    with torch.no_grad():
        for s in seqs:
            h = model(input_ids=torch.tensor([s])).last_hidden_state[0]
            cases.append((s, 0, h))
        Lmax = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), Lmax), cfg.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), Lmax), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
        hb = model(input_ids=ids, attention_mask=mask).last_hidden_state
        for i, s in enumerate(seqs):
            cases.append((s, 1, hb[i, :len(s)]))
            print(f"{name}: len {len(s)}: batched vs alone max |diff| "
                  f"{(hb[i, :len(s)] - cases[i][2]).abs().max().item():.3g}", file=sys.stderr)
    with open(os.path.join(d, "ref_hidden.bin"), "wb") as f:
        f.write(struct.pack("<II", H, len(cases)))
        for s, batched, h in cases:
            f.write(struct.pack("<II", len(s), batched))
            f.write(np.asarray(s, dtype="<i4").tobytes())
            f.write(h.numpy().astype("<f4").tobytes())
    with open(os.path.join(d, "ref_emb.txt"), "w") as f, torch.no_grad():
        for t in TEXTS:
            enc = tok.encode(t)
            h = model(input_ids=torch.tensor([enc.ids])).last_hidden_state[0]
            f.write(t + "\t" + " ".join(f"{v:.9g}" for v in h.mean(0).tolist()) + "\n")


def convert_gguf(folder, path, llamacpp):
    """llama.cpp's own converter (convert_hf_to_gguf.py ModernBertModel, F16 matrices) on the folder,
    in a subprocess. Its BPE pre-tokenizer check knows real tokenizers by a hash of their output; the
    tiny tokenizer has none, so the check is answered "modern-bert" (ModernBERT's, a GPT-2-style
    byte-level split, which the tiny tokenizer uses)."""
    import subprocess
    code = ("import sys; sys.path[:0] = [sys.argv[1] + '/gguf-py', sys.argv[1]]\n"
            "import conversion.base as base\n"
            "base.TextModel.get_vocab_base_pre = lambda self, tokenizer: 'modern-bert'\n"
            "import convert_hf_to_gguf as c\n"
            "sys.argv = ['convert_hf_to_gguf.py', sys.argv[2], '--outfile', sys.argv[3], '--outtype', 'f16']\n"
            "c.main()\n")
    subprocess.run([sys.executable, "-c", code, llamacpp, folder, path], check=True, capture_output=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    llamacpp = None
    for a in sys.argv[1:]:
        if a.startswith("--gguf"):
            llamacpp = a.split("=", 1)[1] if "=" in a else os.path.join(
                ROOT, ".cache/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp")
    out = args[0] if args else os.path.join(ROOT, "tests/data/tiny")
    tmp = os.path.join(out, ".modernbert_tokenizer.json")
    tok = make_tokenizer(tmp)
    for name, extra in MODELS.items():
        build(name, extra, tok, out)
        if llamacpp:
            convert_gguf(os.path.join(out, name), os.path.join(out, name + ".gguf"), llamacpp)
    os.remove(tmp)


if __name__ == "__main__":
    main()
