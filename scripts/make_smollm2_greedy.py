#!/usr/bin/env python3
"""make_smollm2_greedy.py - greedy 64-token continuations of SmolLM2-135M-Instruct (Q4_1 GGUF) from
transformers, the reference of tests/test_smollm2_greedy.c.

transformers loads the same GGUF file xfmr loads (tokenizer and weights; the weights dequantized to
float32 by the `gguf` package, llama.cpp's Q/K row permutation undone); the model runs in float32
on the CPU. For each of the prompts below:
  * the prompt is rendered with the model's own chat template (the GGUF's tokenizer.chat_template):
    tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
    add_generation_prompt=True, tokenize=False) -> "rendered";
  * "prompt_ids" = tokenizer(rendered, add_special_tokens=False).input_ids (what
    apply_chat_template(tokenize=True) gives; the template already starts with <|im_start|> and
    the GGUF has no BOS to add);
  * model.generate(do_sample=False, max_new_tokens=64) with the EOS stop DISABLED
    (generation_config.eos_token_id = None), so every run has exactly 64 new tokens (after an
    <|im_end|> the model simply goes on) -> "generated_ids";
  * "margins"[i] = top-1 minus top-2 raw logit at generated step i (output_logits=True; with
    greedy decoding and no logits processors these are also the scores generate picks from): a
    divergence of another implementation is acceptable only where this is tiny (< 1e-3);
  * "decoded" = tokenizer.decode(generated_ids, skip_special_tokens=False).

Output tests/data/smollm2_greedy.json.
needs torch, transformers, gguf and accelerate.
usage: HF_HUB_OFFLINE=1 python3 scripts/make_smollm2_greedy.py [model_dir]
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_NEW = 64

LONG = (
    "Read the following passage and then summarize it in two sentences.\n\n"
    "The history of the bicycle spans more than two centuries. In 1817 Karl Drais, a German "
    "inventor, built the 'running machine', a two-wheeled vehicle without pedals that the rider "
    "pushed along with his feet. Around the 1860s French makers added pedals to the front wheel, "
    "producing the velocipede, nicknamed the 'boneshaker' because of its iron tyres and rough ride "
    "on cobbled streets. The 1870s brought the high-wheeler, or penny-farthing, whose huge front "
    "wheel gave a greater distance per turn of the pedals but made falls dangerous. The decisive "
    "step came in 1885 when John Kemp Starley produced the Rover safety bicycle, with two wheels of "
    "similar size and a chain driving the rear wheel. Combined with the pneumatic tyre, patented by "
    "John Boyd Dunlop in 1888, the safety bicycle started a cycling boom in the 1890s. Bicycles "
    "gave ordinary people, and women in particular, a new independence of movement, and the "
    "techniques developed for making them - ball bearings, steel tubing, chain drives - were soon "
    "used by the first automobile and aircraft builders."
)

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about autumn leaves.",
    "Explain photosynthesis to a ten-year-old.",
    "Write a Python function that returns the n-th Fibonacci number.",
    "What is 17 * 23? Show your work.",
    "Translate into French: 'The weather is nice today and I want to go for a walk.'",
    "¿Cuál es la montaña más alta del mundo?",
    "Wie viele Tage hat ein Schaltjahr?",
    "Give me three tips for better sleep.",
    "def add(a, b):\n    return a - b\n\nFind the bug in this code.",
    "Solve for x: 2x + 5 = 17.",
    "Write a short story opening about a robot who learns to paint.",
    "List the planets of the solar system in order from the sun.",
    "What are the differences between TCP and UDP?",
    "Write a SQL query that selects all users older than 30 from a table named users.",
    "Hi!",
    "Summarize the plot of Romeo and Juliet in one paragraph.",
    "How do I reverse a string in JavaScript?",
    "What is the derivative of x^3 + 2x?",
    "Quelle est la différence entre un virus et une bactérie ?",
    "Write an email to my manager asking for a day off next Friday.",
    "Explain what a hash table is and why lookups are fast.",
    "日本の首都はどこですか？",
    "Convert 100 degrees Fahrenheit to Celsius.",
    LONG,
]


def main():
    mdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models/SmolLM2-135M-Instruct")
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(mdir, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(mdir, gguf_file=GGUF, dtype=torch.float32)
    model.eval()
    gc = model.generation_config
    gc.eos_token_id = None  # no EOS stop: every run has N_NEW tokens
    gc.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    gc.do_sample = False
    gc.temperature = None
    gc.top_p = None
    gc.top_k = None
    out = {
        "model": GGUF,
        "generator": "scripts/make_smollm2_greedy.py",
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "max_new_tokens": N_NEW,
        "eos_stop": False,
        "prompts": [],
    }
    t0 = time.time()
    with torch.no_grad():
        for k, p in enumerate(PROMPTS):
            rendered = tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                               tokenize=False)
            ids = tok(rendered, add_special_tokens=False).input_ids
            assert ids == tok(rendered).input_ids, "the tokenizer adds special tokens"
            r = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                               do_sample=False, max_new_tokens=N_NEW, min_new_tokens=0,
                               generation_config=gc, output_logits=True, output_scores=True,
                               return_dict_in_generate=True)
            gen = r.sequences[0, len(ids):].tolist()
            assert len(gen) == N_NEW, len(gen)
            margins = []
            for i, lg in enumerate(r.logits):
                top = torch.topk(lg[0].float(), 2)
                assert top.indices[0].item() == gen[i] or top.values[0] == top.values[1]
                assert torch.equal(lg[0], r.scores[i][0])  # no processor changed the logits
                margins.append(float("%.6g" % (top.values[0] - top.values[1]).item()))
            text = tok.decode(gen, skip_special_tokens=False)
            out["prompts"].append({"prompt": p, "rendered": rendered, "prompt_ids": ids, "generated_ids": gen,
                                   "margins": margins, "decoded": text})
            print("prompt %2d: %3d prompt tokens, min margin %.4g: %r" % (k, len(ids), min(margins), text[:60]))
    path = os.path.join(ROOT, "tests/data/smollm2_greedy.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote %s (%d bytes) in %.1f s" % (path, os.path.getsize(path), time.time() - t0))


if __name__ == "__main__":
    main()
