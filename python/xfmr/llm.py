"""llm.py — LLM: text generation with a decoder model (llama, qwen2, mistral, gpt2 families),
the same loop as `xfmr generate` / `xfmr chat` (tools/xfmr/gen.c): prompt prefill in a session
with a KV cache, sampling, streaming detokenization, stop tokens and stop strings."""
import ctypes
import json
import os

import numpy as np

from . import _lib
from ._lib import XfmrError
from ._model import _Model, _utf8

# xfmr's sampling defaults (llama.cpp's; tools/xfmr/cli.h CLI_DEFAULT_*), used for what the
# model's generation_config.json / GGUF general.sampling.* does not set.
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_K = 40
DEFAULT_TOP_P = 0.95
DEFAULT_MIN_P = 0.05


class LLM(_Model):
    """A decoder language model run by libxfmr.

    >>> llm = LLM("SmolLM2-135M-Instruct")
    >>> llm.generate("The capital of France is", max_tokens=8, temperature=0)
    ' Paris...'
    >>> for piece in llm.chat([{"role": "user", "content": "Hi!"}], stream=True):
    ...     print(piece, end="")

    name_or_path: a model folder / .gguf file, or a short name looked up like the xfmr CLI does.
    threads: compute threads (None or 0 = every CPU this process may use).
    n_ctx: tokens a generation may hold, prompt included (None = the model's context length).
    chat_template: a built-in chat format by name (chatml, smollm2, qwen2, llama3, llama2,
    mistral, zephyr) instead of the model's own template.
    weights: "stored" (default), "int8", "bf16" or "f32" (GGUF blocks dequantized) — the CLI's
    --weights.
    kv_type, kv_policy, kv_budget, quest, quest_page: the KV cache of every generation — the CLI's
    --kv-type (f32, f16, q8, q4), --kv-policy (keep-all, streaming, h2o, h2o-head, snapkv,
    snapkv-head) with --kv-budget (slots per layer), --quest and --quest-page
    (docs/LONG_CONTEXT.md); the same tokens as `xfmr generate` with the same options.
    """

    KV_TYPES = ("f32", "f16", "q8", "q4")  # xf_kv_type order

    def __init__(self, path_or_name, threads=None, n_ctx=None, chat_template=None, weights=None, kv_type=None,
                 kv_policy=None, kv_budget=None, quest=None, quest_page=None):
        if kv_type is not None and kv_type not in self.KV_TYPES:
            raise ValueError(f"kv_type {kv_type!r}: expected one of {', '.join(self.KV_TYPES)}")
        if kv_budget and kv_policy in (None, "keep-all"):
            raise ValueError(f"kv_budget {kv_budget} has no effect without an evicting kv_policy (streaming, h2o, "
                             "h2o-head, snapkv or snapkv-head)")
        if quest_page and not quest:
            raise ValueError(f"quest_page {quest_page} has no effect without quest")
        super().__init__(path_or_name, threads=threads, weights=weights)
        if not self.is_decoder:
            self.close()
            raise XfmrError(f"{self.path} is a {self.architecture} model without a language-model head: "
                            "use SentenceEncoder for it", 4)
        self._need_tokenizer()
        self.n_ctx = int(n_ctx) if n_ctx else 0
        sp = _lib._session_default_params()
        sp.n_ctx = self.n_ctx
        sp.kv_type = self.KV_TYPES.index(kv_type) if kv_type else 0
        sp.kv_policy = kv_policy.encode("utf-8") if kv_policy else None
        sp.kv_budget = int(kv_budget or 0)
        sp.quest_budget = int(quest or 0)
        sp.quest_page = int(quest_page or 0)
        self._session_params = sp
        # The library checks the KV settings (policy names, budgets) when a session is made: make
        # one now, so that a bad setting fails here rather than at the first generation.
        sess = ctypes.c_void_p()
        status = self._lib.xf_session_create_ex(self._h(), ctypes.byref(sp), ctypes.byref(sess))
        if status:
            err = _lib.error(status)
            self.close()
            raise err
        self._lib.xf_session_free(sess)
        self._chat_template_name = chat_template
        self._tmpl = None
        self._specials = None

    def close(self):
        tmpl = getattr(self, "_tmpl", None)
        if tmpl:
            self._lib.xf_chat_template_free(tmpl)
            self._tmpl = None
        super().close()

    # ---------------------------------------------------------------- tokenizer
    def tokenize(self, text, add_special_tokens=True):
        """Token ids of text (a list of int); add_special_tokens=False leaves out the special
        tokens the tokenizer puts around a text (BOS, ...)."""
        ids = self._encode(text)
        if add_special_tokens:
            return ids
        pre, post = self._added_specials()
        return ids[pre:len(ids) - post] if len(ids) >= pre + post else []

    def _added_specials(self):
        """Special ids the tokenizer puts before and after a text (found by encoding "" and "a",
        as the CLI's cli_added_specials)."""
        if self._specials is None:
            e0, e1 = self._encode(""), self._encode("a")
            k = 0
            while k < len(e0) and k < len(e1) and e0[k] == e1[k]:
                k += 1
            self._specials = (k, len(e0) - k)
        return self._specials

    def _prompt_ids(self, text, strip_bos):
        """The prompt's ids as `xfmr generate` encodes them: the special tokens the tokenizer
        appends after a text are left out, and those before it too when strip_bos (a chat
        template that writes its own BOS)."""
        pre, post = self._added_specials()
        ids = self._encode(text)
        first = pre if strip_bos else 0
        return ids[first:len(ids) - post] if len(ids) >= pre + post else []

    # ---------------------------------------------------------------- chat templates
    def _template(self):
        if self._tmpl is None:
            h = ctypes.c_void_p()
            if self._chat_template_name:
                st = self._lib.xf_chat_template_from_name(_utf8(self._chat_template_name), ctypes.byref(h))
                if st != 0:
                    raise XfmrError(f"unknown chat template '{self._chat_template_name}' (known: "
                                    f"{self._lib.xf_chat_template_names().decode()})", st)
            else:
                st = self._lib.xf_chat_template_from_model(self._h(), ctypes.byref(h))
                if st == 6:
                    raise XfmrError(f"{self.path} has no chat template (tokenizer_config.json \"chat_template\" or "
                                    "GGUF tokenizer.chat_template); choose one with LLM(..., chat_template=NAME) "
                                    f"({self._lib.xf_chat_template_names().decode()})", st)
                _lib.check(st)
            self._tmpl = h
        return self._tmpl

    def apply_chat_template(self, messages, add_generation_prompt=True, **template_vars):
        """The prompt text of a chat: messages is a list of {"role", "content", ...} dicts (the
        OpenAI / transformers format), rendered with the model's chat template (or the one named
        at construction). template_vars (tools=..., documents=..., enable_thinking=...) are
        passed to a Jinja template."""
        if isinstance(messages, dict) or not messages:
            raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
        tmpl = self._template()
        msgs = json.dumps(list(messages), ensure_ascii=False).encode("utf-8", "surrogatepass")
        vars_json = json.dumps(template_vars, ensure_ascii=False).encode("utf-8") if template_vars else None
        out = ctypes.c_void_p()
        n = ctypes.c_size_t()
        _lib.check(self._lib.xf_chat_render_json(tmpl, msgs, vars_json, 1 if add_generation_prompt else 0,
                                                 ctypes.byref(out), ctypes.byref(n)))
        return _lib.take_string(out, n.value)

    def _template_stops(self):
        n = ctypes.c_size_t()
        arr = self._lib.xf_chat_template_stops(self._template(), ctypes.byref(n))
        return [arr[k].decode("utf-8", "replace") for k in range(n.value)]

    # ---------------------------------------------------------------- generation
    def generate(self, prompt, max_tokens=128, temperature=None, top_p=None, top_k=None, min_p=None,
                 repetition_penalty=None, presence_penalty=0.0, frequency_penalty=0.0, seed=None, stop=None,
                 stream=False, ignore_eos=False):
        """Continue prompt (a str; or a list of token ids, used as they are). Returns the text,
        or with stream=True an iterator of text pieces (complete UTF-8 characters) as they are
        sampled; the pieces join to the text stream=False gives.

        Generation stops at the model's end-of-sequence token, at a stop string (stop: a str or a
        list; the text ends before it), after max_tokens tokens, or when n_ctx is full.
        Sampling options left None take the model's own settings (generation_config.json or GGUF
        general.sampling.*), else xfmr's defaults (temperature 0.8, top_k 40, top_p 0.95, min_p
        0.05), as `xfmr generate` does; temperature=0 is greedy. seed None = a random seed (the
        same seed and options give the same text)."""
        if isinstance(prompt, (str, bytes)):
            ids = self._prompt_ids(prompt, strip_bos=False)
        else:
            ids = [int(i) for i in prompt]
        it = self._run(ids, self._sampler_params(temperature, top_p, top_k, min_p, repetition_penalty,
                                                 presence_penalty, frequency_penalty, seed),
                       max_tokens, _stops(stop), [], ignore_eos)
        return it if stream else "".join(it)

    def chat(self, messages, max_tokens=128, temperature=None, top_p=None, top_k=None, min_p=None,
             repetition_penalty=None, presence_penalty=0.0, frequency_penalty=0.0, seed=None, stop=None,
             stream=False, ignore_eos=False, **template_vars):
        """The assistant's reply to a chat (a list of {"role", "content"} dicts), formatted with
        the model's chat template (apply_chat_template); stops also at the template's end-of-turn
        markers. Options as generate(). Returns the text, or an iterator of pieces with
        stream=True."""
        text = self.apply_chat_template(messages, add_generation_prompt=True, **template_vars)
        ids = self._prompt_ids(text, strip_bos=bool(self._lib.xf_chat_template_adds_bos(self._template())))
        it = self._run(ids, self._sampler_params(temperature, top_p, top_k, min_p, repetition_penalty,
                                                 presence_penalty, frequency_penalty, seed),
                       max_tokens, _stops(stop), self._template_stops(), ignore_eos)
        return it if stream else "".join(it)

    def _sampler_params(self, temperature, top_p, top_k, min_p, repetition_penalty, presence_penalty,
                        frequency_penalty, seed):
        """As the CLI's cli_gen_sampling: xfmr's defaults, overridden by the model's settings,
        overridden by the caller's."""
        p = _lib._sampler_default_params()
        p.temperature, p.top_k, p.top_p, p.min_p = DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P, DEFAULT_MIN_P
        src = ctypes.c_char_p()
        self._lib.xf_model_sampler_defaults(self._h(), ctypes.byref(p), ctypes.byref(src))  # a bad file: keep ours
        if temperature is not None:
            p.temperature = float(temperature)
        if top_k is not None:
            p.top_k = int(top_k)
        if top_p is not None:
            p.top_p = float(top_p)
        if min_p is not None:
            p.min_p = float(min_p)
        if repetition_penalty is not None:
            p.repetition_penalty = float(repetition_penalty)
        p.presence_penalty = float(presence_penalty)
        p.frequency_penalty = float(frequency_penalty)
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "little")
        if int(seed) < 0 or int(seed) >= 1 << 64:
            raise ValueError(f"seed must be in 0 .. 2**64-1, got {seed}")
        p.seed = int(seed)
        return p

    def _run(self, ids, sp, max_tokens, stops, template_stops, ignore_eos):
        """Checks the arguments and creates the sampler now (so that errors raise at the call,
        also with stream=True), then returns the generator of text pieces."""
        if isinstance(max_tokens, bool) or int(max_tokens) < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        if not ids:
            raise XfmrError("the prompt is empty (no tokens)", 1)
        # Validate the sampling values now (the library names a bad one); the generator makes its
        # own sampler when it starts, so that a stream never started holds nothing to free.
        smp = ctypes.c_void_p()
        _lib.check(self._lib.xf_sampler_create(ctypes.byref(sp), self.vocab_size, ctypes.byref(smp)))
        self._lib.xf_sampler_free(smp)
        stop_ids = []
        eos = int(self._lib.xf_model_eos_id(self._h()))
        if eos >= 0:
            stop_ids.append(eos)
        for s in template_stops:
            tid = int(self._lib.xf_tokenizer_token_to_id(self._tok, s.encode("utf-8")))
            if tid >= 0:
                stop_ids.append(tid)
        return self._pieces(ids, sp, int(max_tokens), list(stops) + list(template_stops), stop_ids, ignore_eos)

    def _pieces(self, ids, sp, max_tokens, stops, stop_ids, ignore_eos):
        lib, check = self._lib, _lib.check
        sess = ctypes.c_void_p()
        ds = ctypes.c_void_p()
        smp = ctypes.c_void_p()
        try:
            check(lib.xf_sampler_create(ctypes.byref(sp), self.vocab_size, ctypes.byref(smp)))
            with self._lock:
                check(lib.xf_session_create_ex(self._h(), ctypes.byref(self._session_params), ctypes.byref(sess)))
            check(lib.xf_detok_stream_create(self._tok, 1, ctypes.byref(ds)))
            n_ctx = int(lib.xf_session_n_ctx(sess))
            if len(ids) >= n_ctx:
                raise XfmrError(f"the prompt has {len(ids)} tokens: it does not fit the context of {n_ctx} "
                                "tokens (leave room for at least one generated token; see n_ctx)", 7)
            hist = np.zeros(min(len(ids) + max_tokens, n_ctx), dtype=np.int32)
            hist[:len(ids)] = ids
            n_hist = len(ids)
            logits = np.empty(self.vocab_size, dtype=np.float32)
            lp = logits.ctypes.data_as(_lib.c_float_p)
            hp = hist.ctypes.data_as(_lib.c_int32_p)
            with self._lock:
                check(lib.xf_session_eval(sess, hp, n_hist, lp))
            tid = ctypes.c_int32()
            text = ctypes.c_void_p()
            tlen = ctypes.c_size_t()
            pending = ""
            stopped = False
            for t in range(max_tokens):
                if ignore_eos:
                    logits[stop_ids] = -np.inf
                check(lib.xf_sampler_sample(smp, lp, hp, n_hist, ctypes.byref(tid)))
                if tid.value in stop_ids:
                    break
                check(lib.xf_detok_stream_push(ds, tid.value, ctypes.byref(text), ctypes.byref(tlen)))
                pending += ctypes.string_at(text, tlen.value).decode("utf-8", "replace")
                at = _find_stop(pending, stops)
                if at is not None:
                    if at:
                        yield pending[:at]
                    pending, stopped = "", True
                    break
                hold = _stop_prefix(pending, stops)
                if len(pending) > hold:
                    yield pending[:len(pending) - hold]
                    pending = pending[len(pending) - hold:]
                if t + 1 == max_tokens or n_hist >= n_ctx:
                    break
                hist[n_hist] = tid.value
                with self._lock:
                    check(lib.xf_session_eval(sess, ctypes.byref(tid), 1, lp))
                n_hist += 1
            if not stopped:
                check(lib.xf_detok_stream_flush(ds, ctypes.byref(text), ctypes.byref(tlen)))
                pending += ctypes.string_at(text, tlen.value).decode("utf-8", "replace")
                at = _find_stop(pending, stops)
                tail = pending if at is None else pending[:at]
                if tail:
                    yield tail
        finally:
            lib.xf_detok_stream_free(ds)
            lib.xf_sampler_free(smp)
            with self._lock:
                lib.xf_session_free(sess)

    def __repr__(self):
        return f"LLM({self.path!r}, architecture={self.architecture!r})"


def _stops(stop):
    if stop is None:
        return []
    if isinstance(stop, str):
        stop = [stop]
    out = [str(s) for s in stop]
    if any(not s for s in out):
        raise ValueError("stop strings must not be empty")
    return out


def _find_stop(s, stops):
    """Where the first stop string starts in s, or None."""
    best = None
    for st in stops:
        i = s.find(st)
        if i >= 0 and (best is None or i < best):
            best = i
    return best


def _stop_prefix(s, stops):
    """Length of the longest suffix of s that is a proper prefix of a stop string (held back
    until the next piece shows whether the stop string follows)."""
    keep = 0
    for st in stops:
        for m in range(min(len(st) - 1, len(s)), keep, -1):
            if s.endswith(st[:m]):
                keep = m
                break
    return keep
