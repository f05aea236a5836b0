#!/usr/bin/env python3
"""make_tiny_models.py — tiny random decoders (LLaMA family, Mistral, GPT-2) and their reference logits.

Writes tests/data/tiny/<name>/ for name in llama, llama_rope_linear, llama3_rope, qwen2, mistral
(sliding_window 16, shorter than most prompts), gpt2, qwen2_swa (Qwen2 with use_sliding_window: a
window of 16 in layer 1, full attention in layer 0):
  config.json, model.safetensors (F16 weights: halves the folder; the reference runs in float32 on
  exactly those F16-representable values), tokenizer.json (a small WordPiece tokenizer whose vocab
  size equals the config's, needed only because xf_model_load loads one), and ref_logits.bin:

  ref_logits.bin (little-endian):
    uint32 n_prompts
    n_prompts times:
      uint32  len
      int32   ids[len]
      float32 logits[len * vocab_size]   (row-major [len, vocab]; model(input_ids).logits, eval mode)

  ref_greedy.txt: greedy generation goldens, model.generate(do_sample=False, max_new_tokens=20,
  no EOS stop) from 2 prompts: '#' comment lines, then one line per prompt:
    <prompt ids, space-separated> | <20 generated ids, space-separated>

Deterministic (fixed seeds), offline (HF_HUB_OFFLINE=1). Usage:
  python3 scripts/make_tiny_models.py [out_root]   (default: tests/data/tiny)
  python3 scripts/make_tiny_models.py --greedy-only [out_root]
      only (re)write ref_greedy.txt from the model folders already there
  python3 scripts/make_tiny_models.py --only mistral,gpt2 [out_root]
      only those models (seeds do not depend on which models are built)
"""
import os
import struct
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, MistralConfig,  # noqa: E402
                          MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM)

VOCAB = 320
PROMPT_LENS = (1, 7, 33, 100)

COMMON = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
              vocab_size=VOCAB, max_position_embeddings=128, rms_norm_eps=1e-6,
              initializer_range=0.1, bos_token_id=2, eos_token_id=3, pad_token_id=0)

MODELS = {
    "llama": (LlamaConfig, LlamaForCausalLM, dict(num_key_value_heads=2)),
    "llama_rope_linear": (LlamaConfig, LlamaForCausalLM,
                          dict(num_key_value_heads=2, rope_theta=10000.0,
                               rope_scaling={"rope_type": "linear", "factor": 2.0})),
    "llama3_rope": (LlamaConfig, LlamaForCausalLM,
                    dict(num_key_value_heads=2, rope_theta=500000.0,
                         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 32})),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM,
              dict(num_key_value_heads=1, tie_word_embeddings=True, rope_theta=1000000.0)),
    "mistral": (MistralConfig, MistralForCausalLM, dict(num_key_value_heads=2, sliding_window=16)),
    # Qwen2 with its sliding window in layer 1 only (layers from max_window_layers = 1 on)
    # GPT-2 does not take COMMON (its own field names): n_inner None = 4 * n_embd, gelu_new, tied head
    "gpt2": (GPT2Config, GPT2LMHeadModel, None),
    "qwen2_swa": (Qwen2Config, Qwen2ForCausalLM,
                  dict(num_key_value_heads=1, tie_word_embeddings=True, rope_theta=1000000.0,
                       use_sliding_window=True, sliding_window=16, max_window_layers=1)),
}

GPT2_CONFIG = dict(n_embd=64, n_layer=2, n_head=4, vocab_size=VOCAB, n_positions=128, n_inner=None,
                   activation_function="gelu_new", layer_norm_epsilon=1e-5, initializer_range=0.1,
                   bos_token_id=2, eos_token_id=3, pad_token_id=0)


def make_tokenizer(path):
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(33, 127)]
    vocab = special + chars + ["##" + c for c in chars]
    words = ["the", "and", "hello", "world", "model", "token", "llama", "qwen", "rope", "test"]
    k = 0
    while len(vocab) < VOCAB:
        w = words[k] if k < len(words) else "w%d" % k
        if w not in vocab:
            vocab.append(w)
        k += 1
    ids = {t: i for i, t in enumerate(vocab[:VOCAB])}
    tok = Tokenizer(models.WordPiece(ids, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
    assert tok.get_vocab_size() == VOCAB
    tok.save(path)


def randomize(model, seed):
    """Default init leaves norms at 1 and biases at 0; make every parameter matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or ".ln_" in name or name.startswith("ln_"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))


def build(root, name, seed):
    cfg_cls, model_cls, extra = MODELS[name]
    torch.manual_seed(seed)
    cfg = cfg_cls(**COMMON, **extra) if extra is not None else cfg_cls(**GPT2_CONFIG)
    model = model_cls(cfg)
    randomize(model, seed + 1)
    model = model.half().float().eval()  # weights exactly representable in F16
    cfg._attn_implementation = "eager"
    out = os.path.join(root, name)
    os.makedirs(out, exist_ok=True)
    model.half().save_pretrained(out, safe_serialization=True)
    model = model_cls.from_pretrained(out, torch_dtype=torch.float32, attn_implementation="eager").eval()
    make_tokenizer(os.path.join(out, "tokenizer.json"))
    g = torch.Generator().manual_seed(seed + 2)
    with open(os.path.join(out, "ref_logits.bin"), "wb") as f:
        f.write(struct.pack("<I", len(PROMPT_LENS)))
        for n in PROMPT_LENS:
            ids = torch.randint(0, VOCAB, (1, n), generator=g)
            with torch.no_grad():
                logits = model(input_ids=ids).logits[0].float().contiguous()
            assert logits.shape == (n, VOCAB)
            f.write(struct.pack("<I", n))
            f.write(ids[0].to(torch.int32).numpy().astype("<i4").tobytes())
            f.write(logits.numpy().astype("<f4").tobytes())
    for extra_file in ("generation_config.json",):
        p = os.path.join(out, extra_file)
        if os.path.exists(p):
            os.remove(p)
    print(name, "->", out)


GREEDY_PROMPT_LENS = (5, 12)
GREEDY_NEW = 20


def write_greedy(out, name, seed):
    """ref_greedy.txt from the saved folder (F16 weights loaded as float32, eager attention)."""
    _, model_cls, _ = MODELS[name]
    model = model_cls.from_pretrained(out, torch_dtype=torch.float32, attn_implementation="eager").eval()
    model.generation_config.eos_token_id = None  # always GREEDY_NEW tokens
    model.generation_config.pad_token_id = 0
    g = torch.Generator().manual_seed(seed + 3)
    lines = ["# greedy goldens: model.generate(do_sample=False, max_new_tokens=%d), no EOS stop" % GREEDY_NEW,
             "# <prompt ids> | <generated ids>"]
    worst = float("inf")
    for n in GREEDY_PROMPT_LENS:
        ids = torch.randint(0, VOCAB, (1, n), generator=g)
        with torch.no_grad():
            res = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=GREEDY_NEW, min_new_tokens=0, output_scores=True,
                                 return_dict_in_generate=True)
        new = res.sequences[0, n:].tolist()
        assert len(new) == GREEDY_NEW, len(new)
        for sc in res.scores:  # margin between the top two logits: the golden's robustness
            top = torch.topk(sc[0].float(), 2).values
            worst = min(worst, float((top[0] - top[1]) / sc[0].abs().max()))
        lines.append(" ".join(map(str, ids[0].tolist())) + " | " + " ".join(map(str, new)))
    with open(os.path.join(out, "ref_greedy.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(name, "greedy goldens: smallest top-2 logit margin %.3g x max |logit|" % worst)


def main():
    args = sys.argv[1:]
    greedy_only = "--greedy-only" in args
    args = [a for a in args if a != "--greedy-only"]
    only = None
    if "--only" in args:
        k = args.index("--only")
        only = set(args[k + 1].split(","))
        del args[k:k + 2]
    root = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "tiny")
    for i, name in enumerate(MODELS):
        if only is not None and name not in only:
            continue
        if not greedy_only:
            build(root, name, 1000 + 10 * i)
        write_greedy(os.path.join(root, name), name, 1000 + 10 * i)


if __name__ == "__main__":
    main()
