#!/usr/bin/env python3
"""Writes the goldens of xfmr's Jinja engine: what Hugging Face transformers renders with a
model's own chat template (apply_chat_template(tokenize=False): transformers'
render_jinja_template after its message normalisation, with the model's bos/eos tokens) for a
shared set of conversations, each with and without add_generation_prompt.

    python3 scripts/make_jinja_goldens.py [--sdist PATH]

Outputs (tests/test_jinja_goldens.c checks xfmr byte for byte against them):
  tests/data/jinja/conversations.json   the conversations: messages, tools, extra variables
  tests/data/jinja/goldens/<name>.json  per template: its tokens and, per case, the rendering
                                        or the fact that the template raised
  tests/data/jinja/templates/<name>.jinja  the templates whose licences allow copying them

Templates come from the source distribution of the PyPI package llama-cpp-python
(vendor/llama.cpp/models/templates, the models' published chat templates), downloaded with
`pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36` unless --sdist is given.
Llama 3.x and Gemma templates are not copied into the repository (their licences ask for the
licence to travel with them): scripts/fetch_chat_templates.sh extracts them from the same sdist
into .cache/chat_templates/ for the tests. SmolLM2's and Qwen2's templates are the strings of
tests/data/chat/{smollm2,qwen2}.json.

strftime_now() is pinned to 2024-07-26 00:00:00 (xfmr's tests pass the same instant), so that
the goldens do not depend on the day they were made. Needs: transformers (and jinja2).
"""

import argparse
import datetime as _dt
import glob
import json
import os
import random
import subprocess
import sys
import tarfile

import transformers.utils.chat_template_utils as ctu
from transformers.utils.chat_template_utils import _normalize_chat_messages, render_jinja_template

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
OUT = os.path.join(ROOT, "tests", "data", "jinja")
SDIST = "llama-cpp-python==0.3.36"
NOW = _dt.datetime(2024, 7, 26, 0, 0, 0)
NOW_UTC = 1721952000  # the same instant as seconds since 1970 (UTC)

BOS_DS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
EOS_DS = "<\uff5cend\u2581of\u2581sentence\uff5c>"

# name: (family, source file in llama.cpp's templates or "chat:<name>", bos, eos, committed)
TEMPLATES = {
    "llama-3.1": ("Llama 3.x", "meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", False),
    "llama-3.2": ("Llama 3.x", "meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", False),
    "qwen2": ("Qwen", "chat:qwen2", None, "<|im_end|>", True),
    "qwen2.5": ("Qwen", "Qwen-Qwen2.5-7B-Instruct.jinja", None, "<|im_end|>", True),
    "qwen3": ("Qwen", "Qwen-Qwen3-0.6B.jinja", None, "<|im_end|>", True),
    "mistral-nemo": ("Mistral", "mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "</s>", True),
    "mistral-small-3.2": ("Mistral", "Mistral-Small-3.2-24B-Instruct-2506.jinja", "<s>", "</s>", True),
    "gemma-2": ("Gemma", "google-gemma-2-2b-it.jinja", "<bos>", "<eos>", False),
    "phi-3.5": ("Phi", "microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>", True),
    "smollm2": ("SmolLM", "chat:smollm2", "<|im_start|>", "<|im_end|>", True),
    "smollm3": ("SmolLM", "HuggingFaceTB-SmolLM3-3B.jinja", None, "<|im_end|>", True),
    "deepseek-r1-distill-qwen": ("DeepSeek", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", BOS_DS, EOS_DS, True),
    "deepseek-v3.1": ("DeepSeek", "deepseek-ai-DeepSeek-V3.1.jinja", BOS_DS, EOS_DS, True),
    "granite-3.3": ("Granite", "ibm-granite-granite-3.3-2B-Instruct.jinja", "<|end_of_text|>", "<|end_of_text|>", True),
    "gpt-oss": ("gpt-oss", "openai-gpt-oss-120b.jinja", "<|startoftext|>", "<|return|>", True),
}


class FixedNow(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW


def sdist_templates(path):
    """{file name: text} of vendor/llama.cpp/models/templates/*.jinja in the sdist."""
    out = {}
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            if "/vendor/llama.cpp/models/templates/" in m.name and m.name.endswith(".jinja"):
                out[os.path.basename(m.name)] = tf.extractfile(m).read().decode("utf-8")
    return out


def get_sdist(arg):
    if arg:
        return arg
    cache = os.path.join(ROOT, ".cache", "wheels")
    found = glob.glob(os.path.join(cache, "llama_cpp_python-0.3.36.tar.gz"))
    if found:
        return found[0]
    os.makedirs(cache, exist_ok=True)
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
                           ":all:", "-d", cache, SDIST])
    return glob.glob(os.path.join(cache, "llama_cpp_python-0.3.36.tar.gz"))[0]


# ------------------------------------------------------------------ conversations

TEXTS = [
    "Hello!",
    "What is the capital of France?",
    "Write a haiku about the sea.\nMake it sad.",
    "  padded with spaces  ",
    "\n\nleading and trailing newlines\n\n",
    "Unicode: Ça va? 日本語 🙂 — naïve café",
    "",
    "Quotes ' \" and backslash \\ and {braces} {{ jinja }} {% tags %}",
    "special-looking <|im_end|> [INST] </s> <|eot_id|> text",
    "tabs\tand\u00a0no-break\u3000spaces",
    "A longer message. " * 12,
    "/no_think Please answer briefly.",
    "x",
    "<think>\nLet me think.\n</think>\n\nThe answer is 4.",
]
SYSTEMS = [
    "You are a helpful assistant.",
    "Be brief.",
    "  System prompt with spaces and\nnewlines.  ",
    "Réponds en français. /think",
    "",
]
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "add", "description": "Add two numbers",
        "parameters": {"type": "object", "properties": {
            "a": {"type": "number"}, "b": {"type": "number", "description": "second, e.g. 2.5"}},
            "required": ["a", "b"]}}},
]


def make_conversations():
    rnd = random.Random(17)
    convs = []

    def add(messages, **extra):
        convs.append({"messages": messages, **extra})

    U, A, S = "user", "assistant", "system"
    # Plain conversations: with/without system, 1-4 turns, ending with user or assistant.
    for turns in range(1, 5):
        for with_sys in (False, True):
            for end_user in (True, False):
                for k in range(3):
                    msgs = []
                    if with_sys:
                        msgs.append({"role": S, "content": rnd.choice(SYSTEMS)})
                    for t in range(turns):
                        msgs.append({"role": U, "content": rnd.choice(TEXTS)})
                        if t < turns - 1 or not end_user:
                            msgs.append({"role": A, "content": rnd.choice(TEXTS)})
                    add(msgs)
    # Every text once as a lone user message and as an answer.
    for t in TEXTS:
        add([{"role": U, "content": t}])
        add([{"role": U, "content": "Hi"}, {"role": A, "content": t}, {"role": U, "content": "More."}])
    # Long conversations (six exchanges) and whitespace-only contents.
    for k in range(4):
        msgs = [{"role": S, "content": rnd.choice(SYSTEMS)}] if k % 2 else []
        for t in range(6):
            msgs += [{"role": U, "content": rnd.choice(TEXTS)}, {"role": A, "content": rnd.choice(TEXTS)}]
        msgs.append({"role": U, "content": rnd.choice(TEXTS)})
        add(msgs)
    add([{"role": U, "content": "   "}])
    add([{"role": S, "content": "\n"}, {"role": U, "content": " \t "}, {"role": A, "content": "\n\n"}])
    add([{"role": U, "content": "Hi"}, {"role": A, "content": ""}])
    add([{"role": S, "content": "A system message that mentions tools and <think> tags."}, {"role": U, "content": "Hi"}])
    # Odd shapes: system only, assistant first, two users in a row, a system message later.
    add([{"role": S, "content": "Only a system message."}])
    add([{"role": A, "content": "I speak first."}, {"role": U, "content": "OK."}])
    add([{"role": U, "content": "one"}, {"role": U, "content": "two"}])
    add([{"role": U, "content": "Hi"}, {"role": A, "content": "Hello"}, {"role": S, "content": "Late system."},
         {"role": U, "content": "Bye"}])
    # Reasoning in assistant turns (reasoning_content, and <think> in the content).
    add([{"role": U, "content": "2+2?"}, {"role": A, "content": "4", "reasoning_content": "Adding two and two."},
         {"role": U, "content": "3+3?"}])
    add([{"role": S, "content": "Think."}, {"role": U, "content": "2+2?"},
         {"role": A, "content": "<think>\nsimple\n</think>\n\n4"}, {"role": U, "content": "Thanks"}])
    # Extra template variables.
    for thinking in (False, True):
        add([{"role": U, "content": "Solve x+1=2."}], kwargs={"enable_thinking": thinking})
        add([{"role": S, "content": "Be brief."}, {"role": U, "content": "Hi"}, {"role": A, "content": "Hello"},
             {"role": U, "content": "Bye"}], kwargs={"enable_thinking": thinking})
    add([{"role": U, "content": "Hi"}], kwargs={"reasoning_effort": "high"})
    add([{"role": U, "content": "Hi"}], kwargs={"date_string": "01 Jan 2025"})
    # Tools: offered, called, answered.
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}
    call_id = dict(call, id="call_9abcdefgh")
    add([{"role": U, "content": "Weather in Paris?"}], tools=TOOLS)
    add([{"role": S, "content": "You can call tools."}, {"role": U, "content": "Weather in Paris?"}], tools=TOOLS)
    add([{"role": U, "content": "Weather in Paris?"}, {"role": A, "content": "", "tool_calls": [call]},
         {"role": "tool", "content": "22 degrees, sunny", "name": "get_weather"}], tools=TOOLS)
    add([{"role": U, "content": "Weather in Paris?"}, {"role": A, "content": "", "tool_calls": [call_id]},
         {"role": "tool", "content": "22 degrees, sunny", "tool_call_id": "call_9abcdefgh"},
         {"role": A, "content": "It is 22 degrees and sunny in Paris."}, {"role": U, "content": "Thanks!"}], tools=TOOLS)
    add([{"role": S, "content": "Use tools."}, {"role": U, "content": "Add 2 and 2.5"},
         {"role": A, "content": None, "tool_calls": [
             {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2.5}}}]},
         {"role": "tool", "content": "4.5"}], tools=TOOLS)
    add([{"role": U, "content": "Weather?"}, {"role": A, "content": "Let me check.", "tool_calls": [call_id]},
         {"role": "tool", "content": "{\"temp\": 22}", "tool_call_id": "call_9abcdefgh"}], tools=TOOLS[:1])
    add([{"role": U, "content": "Two calls"}, {"role": A, "content": "", "tool_calls": [call_id, dict(call_id, id="call_2bcdefghi")]},
         {"role": "tool", "content": "a", "tool_call_id": "call_9abcdefgh"},
         {"role": "tool", "content": "b", "tool_call_id": "call_2bcdefghi"}], tools=TOOLS)
    add([{"role": U, "content": "String arguments"}, {"role": A, "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "add", "arguments": "{\"a\": 1, \"b\": 2}"}, "id": "call_3cdefghij"}]},
         {"role": "tool", "content": "3", "tool_call_id": "call_3cdefghij"}], tools=TOOLS)
    # Documents (RAG templates).
    add([{"role": U, "content": "Summarise the documents."}],
        documents=[{"title": "Doc A", "text": "Alpha text."}, {"doc_id": 2, "title": "Doc B", "text": "Beta text."}])
    return convs


# Expressions, statements, filters, tests, methods and whitespace rules one at a time: each template
# rendered with UNIT_VARS in transformers' environment (tests/test_jinja.c checks them).
UNIT_VARS = {"d": {"a": 1, "b": [1, 2.5, "x"], "items": 3}, "s": "  Hello World  ", "l": [3, 1, 2],
             "u": "h\u00e9llo w\u00f6rld", "n": None, "e": "", "f": 2.5, "big": 12345678901234,
             "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
                      {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"}]}
UNIT = [
    "{{ 1/2 }} {{ 4/2 }} {{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2**10 }} {{ 2**-1 }} {{ 1.0 }} {{ 1e20 }}",
    "{{ 1e16 }} {{ 0.1+0.2 }} {{ 1e-5 }} {{ 123456789.123 }} {{ 1e15 }} {{ 1.5e-7 }} {{ 2.0**0.5 }} {{ 10/3 }} {{ -0.0 }}",
    "{{ 5e-324 }} {{ 1e16 + 1 }} {{ 1_000 }} {{ 0x1f }} {{ 0b101 }} {{ 0o17 }} {{ 1.5 * 2 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}",
    "{{ [1,'a',none,true,{'k':\"it's\"}] }}|{{ (1, 2) }}{{ (1,) }}{{ () }}{{ [(1,2)] }}|{{ {'a': {'b': []}} }}",
    "{{ d }}|{{ d.a }}|{{ d['b'][1] }}|{{ d.zz }}|{{ d['zz'] }}|{{ d.b.1 }}|{{ d['b'][-1] }}|{{ l[5] }}|{{ n.x }}",
    "{{ s|trim }}|{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.split() }}|{{ s.split(' ') }}|{{ 'xxhixx'.strip('x') }}",
    "{{ 'a,b,,c'.split(',') }}|{{ 'a,b,,c'.split(',', 1) }}|{{ 'a,b,,c'.rsplit(',', 1) }}|{{ ' a  b '.split(None, 1) }}|{{ ' a b c '.rsplit(None, 1) }}",
    "{{ u|length }}|{{ u[1] }}|{{ u[1:3] }}|{{ u[::-1] }}|{{ u[-3:] }}|{{ u[::2] }}|{{ u|upper }}|{{ u.title() }}|{{ u|title }}|{{ u|capitalize }}",
    "{{ 'hello-world (x)[y] it\\'s'|title }}|{{ \"hello-world it's\".title() }}|{{ 'ABC def'.capitalize() }}|{{ 'ABC'|lower }}",
    "{{ l|sort }}|{{ l|sort(reverse=true) }}|{{ l|max }}|{{ l|min }}|{{ l|sum }}|{{ l|reverse|list }}|{{ l|first }}|{{ l|last }}|{{ l|join('-') }}",
    "{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ u|tojson }}|{{ 'a\"b\\\\c\\n\\t\\u0001\\u007f'|tojson }}|{{ [1.0, 2, none, true]|tojson }}",
    "{{ d|tojson(sort_keys=true) }}|{{ {}|tojson }}|{{ []|tojson(indent=2) }}|{{ {'a': 1, 'b': {'c': [1, {'d': none}]}}|tojson(indent=4) }}",
    "{{ {'a': [1, 2]}|tojson(separators=(',', ':')) }}|{{ f|tojson }}|{{ big|tojson }}|{{ (1, 'x')|tojson }}|{{ 1e300|tojson }}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{{ d|dictsort }}|{{ d|items|list }}",
    "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.cycle('a','b') }};{% endfor %}",
    "{% for x in l %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}|{% for c in 'ab' %}{{ c }}{% endfor %}",
    "{% for x in l if x > 1 %}{{ x }}{{ loop.index }}/{{ loop.length }}{% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}",
    "{% set ns = namespace(a=1, b=[]) %}{% for x in l %}{% set ns.a = ns.a + x %}{% set ns.b = ns.b + [x] %}{% endfor %}{{ ns.a }}{{ ns.b }}",
    "{% set x = 0 %}{% for i in [1,2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}|{% if true %}{% set y = 5 %}{% endif %}{{ y }}",
    "{% macro m(a, b=2) %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, b=3) }}{{ m(b=5, a=4) }}{{ m() }}",
    "{% macro m() %}[{{ x }}]{% endmacro %}{{ m() }}{% set x = 1 %}{{ m() }}|{% for i in [1,2] %}{% macro k() %}{{ i }}{% endmacro %}{{ k() }}{% endfor %}",
    "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }}*{{ fact(n - 1) }}{% endif %}{% endmacro %}{{ fact(5) }}",
    "{{ n is none }}{{ n is defined }}{{ zz is defined }}{{ zz is undefined }}{{ s is string }}{{ l is iterable }}{{ d is mapping }}{{ 1 is number }}",
    "{{ true is boolean }}{{ 3 is odd }}{{ 4 is even }}{{ 4 is divisibleby 2 }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ zz is iterable }}{{ 'x' is sequence }}",
    "{{ 'a' in 'abc' }}{{ 1 in l }}{{ 'a' in d }}{{ 'z' not in d }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 2 is eq 2 }}{{ 2 is gt 1 }}{{ 1 is in l }}",
    "{{ 'yes' if l else 'no' }}|{{ 'yes' if e else 'no' }}|{{ 'x' if false }}|{{ e or 'default' }}|{{ s and 'b' }}|{{ not e }}|{{ n or l }}",
    "{{ zz|default('dflt') }}|{{ e|default('dflt', true) }}|{{ n|default('x') }}|{{ zz|length }}|{{ zz ~ 'a' }}|{{ zz|string }}|{{ zz|trim }}",
    "{{ 'abc' ~ 1 ~ none ~ true ~ 1.5 }}|{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ 3 * 'x' }}|{{ 'a' + 'b' }}|{{ [1] + [2] }}|{{ 'x' * -1 }}",
    "{{ ['a','B','c']|map('upper')|list }}|{{ [{'a':1},{'a':2},{'b':3}]|map(attribute='a')|list }}|{{ msgs|map(attribute='role')|join(',') }}",
    "{{ msgs|selectattr('role','equalto','user')|list|length }}|{{ msgs|rejectattr('role','equalto','user')|map(attribute='content')|list }}|{{ [1,0,2]|select|list }}|{{ [1,2,3,4]|select('odd')|list }}|{{ [1,2,3]|reject('odd')|list }}",
    "{{ msgs|selectattr('content')|list|length }}|{{ [{'x':none},{'x':1}]|selectattr('x', 'none')|list }}|{{ msgs|map(attribute='missing', default='?')|list }}",
    "{{ 'Hello {} and {}'.format('a', 2) }}|{{ '{0}{1}{0}'.format('x', 'y') }}|{{ '{name}!'.format(name='n') }}|{{ '{{}}'.format() }}|{{ '%s-%d'|format('x', 3) }}",
    "{{ 'abcabc'.replace('b','X') }}|{{ 'abcabc'.replace('b','X', 1) }}|{{ 'abc'|replace('b','Y') }}|{{ 'ab'.replace('', '-') }}|{{ 'abc'.startswith('a') }}{{ 'abc'.endswith(('x','c')) }}",
    "{{ 'abc'.find('c') }}|{{ u.find('w') }}|{{ 'abc'.find('z') }}|{{ 'a-b-c'.count('-') }}|{{ ','.join(['a','b']) }}|{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}",
    "{{ 'Ab'.isupper() }}{{ 'AB'.isupper() }}{{ 'ab'.islower() }}|{{ 'prefix-x'.removeprefix('prefix-') }}|{{ 'x.txt'.removesuffix('.txt') }}|{{ 'a\\nb\\r\\nc'.splitlines() }}",
    "{{ 'line1\\nline2\\n\\nline4'|indent(2) }}|{{ 'x\\ny'|indent(4, true) }}|{{ 'x\\n\\ny'|indent(2, blank=true) }}|{{ 'x\\ny'|indent('> ') }}",
    "{{ '12'|int + 1 }}|{{ 'x'|int }}|{{ 3.7|int }}|{{ ' 42 '|int }}|{{ '2.5'|float }}|{{ 3|float }}|{{ 2.567|round(1) }}|{{ 2.5|round }}|{{ -3|abs }}|{{ 5|string ~ 'x' }}",
    "{{ range(3)|list }}|{{ range(1, 10, 3)|list }}|{{ range(5, 0, -2)|list }}|{% for i in range(2) %}{{ i }}{% endfor %}|{{ [1,2,2,1]|unique|list }}|{{ ['b','A','a']|sort }}",
    "{{ ['b','A','a']|sort(case_sensitive=true) }}|{{ msgs|sort(attribute='content')|map(attribute='content')|list }}|{{ ['B','a','b']|unique|list }}|{{ [3, 1.5, 2]|max }}",
    "{{ d.get('a') }}|{{ d.get('zz', 'def') }}|{{ d.get('zz') }}|{{ d.keys()|list }}|{{ d.values()|list }}|{{ d['items'] }}|{{ l.index(1) }}|{{ l.count(3) }}",
    "  {% if true %}\n  yes\n  {% endif %}\n  {{ 'x' }}\n{%- if true -%}  a  {%- endif -%}\nend",
    "a\n  {% if true %}\n  b\n  {%+ if true %}c{% endif %}\n  {% if true +%}\nd{% endif %}\n  {# c #}\ne\n  {% endif %}\nf",
    "{% for i in [1,2,3] %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]{% filter upper %}abc{{ 'd' }}{% endfilter %}{% set y | trim %}  z  {% endset %}[{{ y }}]",
    "{# comment #}a{#- c -#} b {{ 'x' -}}   \n  c {{- ' y' }}",
    "{% raw %}{{ not rendered }}{% endraw %}|{% generation %}gen{% endgeneration %}",
    "{% if s.strip() == 'Hello World' %}ok{% elif false %}no{% else %}bad{% endif %}|{% if n %}{% elif l %}second{% endif %}",
    "{{ 'a' < 'b' }}{{ 1 < 2 < 3 }}{{ 1 < 2 > 3 }}{{ [1,2] == [1,2] }}{{ 1 == 1.0 }}{{ none == none }}{{ 'a' != 'b' }}{{ [1, 2] < [1, 3] }}{{ (1, 2) == [1, 2] }}",
    "{{ s[:3] }}|{{ s[-3:] }}|{{ l[1:] }}|{{ l[:-1] }}|{{ l[::-1] }}|{{ l[10:] }}|{{ msgs[1:]|length }}|{{ msgs[-1].content }}",
    "{{ 'it\\'s' }}|{{ \"q\\\"d\" }}|{{ ['it\\'s', \"a\\\"b\", 'both\\'\"'] }}|{{ '\\u00e9\\x41' }}|{{ ['\\n\\t\\x01\\u00e9\\u2028'] }}|{{ 'a' 'b' }}",
    "{{ 1e300*1e300 }}|{{ -(1e300*1e300) }}|{{ [1e300*1e300] }}|{{ 2**62 }}|{{ -2**3 }}|{{ (-2)**2 }}|{{ -1|abs }}",
    "{{ dict(a=1, b='x') }}|{{ dict({'z': 1}, y=2) }}|{{ namespace(k=1).k }}|{{ d|length }}|{{ 'abc'|list }}|{{ d|list }}|{{ msgs[0]|dictsort }}",
    "{{ messages is defined }}|{{ add_generation_prompt }}|{% for m in msgs %}{{ m['role'][0]|upper }}{% if not loop.last %},{% endif %}{% endfor %}",
    "{%- for m in msgs -%}\n    {%- if m.role == 'user' -%}\n        {{- 'U:' + m.content + '\\n' -}}\n    {%- else -%}\n        {{- m.role ~ ':' ~ m.content ~ '\\n' -}}\n    {%- endif -%}\n{%- endfor -%}",
    "{{ 'a\\tb' }}|{{ '\\101' }}|{{ 'x\\qy' }}|{{ 'é'|length }}|{{ '🙂x'[0] }}|{{ '🙂x'|reverse }}",
    "{{ 'a b  c'|wordcount }}|{{ '<a href=\"x\">&</a>'|e }}|{{ 'x'|safe }}|{{ [1, 2]|sum(start=10) }}|{{ [{'v': 1}, {'v': 2}]|sum(attribute='v') }}",
    "{{ raise_exception('boom') }}",
    "{{ x.y }}",
    "{{ 'a' + 1 }}",
    "{{ 'a' < 1 }}",
    "{{ [1].append(2) }}",
    "{{ {'a': 1}.pop('a') }}",
    "{{ 1 / 0 }}",
    "{{ zz() }}",
    "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
    "{% set a, b = [1] %}",
    "{{ zz|tojson }}",
    "{{ d.zz.yy }}",
    "{{ 'x'.nosuch() }}",
]


def unit_cases():
    env = ctu._compile_jinja_template
    out = []
    for t in UNIT:
        try:
            r = [t, env(t).render(**UNIT_VARS, messages=UNIT_VARS["msgs"], add_generation_prompt=True)]
        except Exception as e:
            r = [t, None, type(e).__name__ + ": " + str(e)[:200]]
        out.append(r)
    return out


def render(text, bos, eos, conv, agp):
    msgs = _normalize_chat_messages(conv["messages"])
    kw = dict(conv.get("kwargs", {}))
    special = {}
    if bos is not None:
        special["bos_token"] = bos
    if eos is not None:
        special["eos_token"] = eos
    out, _ = render_jinja_template(conversations=[msgs], tools=conv.get("tools"), documents=conv.get("documents"),
                                   chat_template=text, add_generation_prompt=agp, **{**special, **kw})
    return out[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sdist", help="llama_cpp_python-0.3.36.tar.gz (default: download it)")
    args = ap.parse_args()
    ctu.datetime = FixedNow  # strftime_now() reads datetime.now()
    files = sdist_templates(get_sdist(args.sdist))
    convs = make_conversations()
    os.makedirs(os.path.join(OUT, "goldens"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "templates"), exist_ok=True)
    with open(os.path.join(OUT, "unit.json"), "w", encoding="utf-8") as f:
        json.dump({"vars": UNIT_VARS, "cases": unit_cases()}, f, ensure_ascii=False, indent=0)
    with open(os.path.join(OUT, "conversations.json"), "w", encoding="utf-8") as f:
        json.dump({"now_utc": NOW_UTC, "conversations": convs}, f, ensure_ascii=False, indent=0)
    for name, (family, src, bos, eos, committed) in TEMPLATES.items():
        if src.startswith("chat:"):
            with open(os.path.join(ROOT, "tests", "data", "chat", src[5:] + ".json"), encoding="utf-8") as f:
                text = json.load(f)["chat_template"]
        else:
            text = files[src]
        if committed:
            with open(os.path.join(OUT, "templates", name + ".jinja"), "w", encoding="utf-8", newline="") as f:
                f.write(text)
        cases, ok, raised = [], 0, 0
        for i, conv in enumerate(convs):
            for agp in (False, True):
                try:
                    cases.append([i, int(agp), render(text, bos, eos, conv, agp)])
                    ok += 1
                except Exception as e:  # the template raised (raise_exception, type errors ...)
                    cases.append([i, int(agp), None, type(e).__name__ + ": " + str(e)[:200]])
                    raised += 1
        doc = {"name": name, "family": family, "source": src, "committed": committed,
               "bos_token": bos, "eos_token": eos, "cases": cases}
        with open(os.path.join(OUT, "goldens", name + ".json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
        print(f"{name:28s} {family:10s} {len(convs)} conversations, {ok} renderings, {raised} raised")


if __name__ == "__main__":
    main()
