"""LLM against `xfmr generate`, streaming, stops, chat, tokenizer and errors."""
import pytest

import xfmr
from conftest import SANITIZED, THREADS, run_cli

PROMPTS = ["The capital of France is", "def fibonacci(n):", "Once upon a time, in a small village,"]
N_TOKENS = 12 if SANITIZED else 24  # greedy / stream lengths (thinner under ASan)


def cli_generate(cli, path, *args):
    out = run_cli(cli, "generate", "-m", path, "--threads", str(THREADS), *args)
    assert out.endswith(b"\n")
    return out[:-1].decode("utf-8")


@pytest.mark.parametrize("prompt", PROMPTS[:1] if SANITIZED else PROMPTS)
def test_greedy_matches_cli(llm, cli, decoder_path, prompt):
    ref = cli_generate(cli, decoder_path, "-p", prompt, "--temperature", "0", "--max-tokens", str(N_TOKENS))
    assert llm.generate(prompt, max_tokens=N_TOKENS, temperature=0) == ref


def test_chat_matches_cli(llm, cli, decoder_path):
    q = "What is the capital of France?"
    ref = cli_generate(cli, decoder_path, "--chat", "-p", q, "--temperature", "0", "--max-tokens", "32")
    got = llm.chat([{"role": "user", "content": q}], max_tokens=32, temperature=0)
    assert got == ref


def test_stop_matches_cli(llm, cli, decoder_path):
    p = PROMPTS[2]
    ref = cli_generate(cli, decoder_path, "-p", p, "--temperature", "0", "--max-tokens", "24", "--stop", " the")
    got = llm.generate(p, max_tokens=24, temperature=0, stop=[" the"])
    assert got == ref and " the" not in got


def test_sampled_matches_cli_with_seed(llm, cli, decoder_path):
    p = PROMPTS[0]
    ref = cli_generate(cli, decoder_path, "-p", p, "--temperature", "0.9", "--top-k", "50", "--top-p", "0.9",
                       "--seed", "1234", "--max-tokens", "16")
    got = llm.generate(p, max_tokens=16, temperature=0.9, top_k=50, top_p=0.9, seed=1234)
    assert got == ref


def test_stream_concatenates(llm):
    for kw in ({"temperature": 0}, {"temperature": 0.8, "seed": 7}):
        whole = llm.generate(PROMPTS[1], max_tokens=N_TOKENS, **kw)
        pieces = list(llm.generate(PROMPTS[1], max_tokens=N_TOKENS, stream=True, **kw))
        assert len(pieces) > 1 and all(isinstance(s, str) and s for s in pieces)
        assert "".join(pieces) == whole
    msgs = [{"role": "user", "content": "Name three colors."}]
    assert "".join(llm.chat(msgs, max_tokens=N_TOKENS, temperature=0, stream=True)) == \
        llm.chat(msgs, max_tokens=N_TOKENS, temperature=0)
    stopped = "".join(llm.generate(PROMPTS[2], max_tokens=24, temperature=0, stop=" the", stream=True))
    assert stopped == llm.generate(PROMPTS[2], max_tokens=24, temperature=0, stop=" the")


def test_stream_abandoned(llm):
    it = llm.generate(PROMPTS[0], max_tokens=N_TOKENS, temperature=0, stream=True)
    next(it)
    it.close()  # frees the session early
    llm.generate(PROMPTS[0], max_tokens=4, stream=True)  # never started: nothing to free (ASan checks)
    assert llm.generate(PROMPTS[0], max_tokens=4, temperature=0)


def test_tokenize_detokenize(llm):
    ids = llm.tokenize("Hello, world! café")
    assert all(isinstance(i, int) for i in ids)
    assert llm.detokenize(ids) == "Hello, world! café"
    assert llm.tokenize("Hello", add_special_tokens=False) == llm.tokenize("Hello")[:len(llm.tokenize("Hello", False))]
    assert llm.detokenize([]) == ""
    with pytest.raises(xfmr.XfmrError):
        llm.detokenize([10 ** 9])
    # token ids as the prompt
    assert llm.generate(llm.tokenize(PROMPTS[0]), max_tokens=4, temperature=0) == \
        llm.generate(PROMPTS[0], max_tokens=4, temperature=0)


def test_chat_template(llm):
    text = llm.apply_chat_template([{"role": "user", "content": "Hi"}])
    assert "<|im_start|>user\nHi<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    with xfmr.LLM(llm.path, threads=THREADS, chat_template="zephyr") as z:
        assert "<|user|>" in z.apply_chat_template([{"role": "user", "content": "Hi"}])
    with xfmr.LLM(llm.path, threads=THREADS, chat_template="nope") as bad:
        with pytest.raises(xfmr.XfmrError, match="unknown chat template 'nope'"):
            bad.chat([{"role": "user", "content": "Hi"}])
    with pytest.raises(ValueError):
        llm.apply_chat_template([])


def test_errors(llm, encoder_path, tmp_path):
    with pytest.raises(xfmr.XfmrError, match="top_p"):
        llm.generate("x", top_p=1.5, stream=True)  # raised at the call, not at the first piece
    with pytest.raises(xfmr.XfmrError, match="temperature"):
        llm.generate("x", temperature=-1)
    with pytest.raises(xfmr.XfmrError, match="empty"):
        llm.generate("")
    with pytest.raises(ValueError):
        llm.generate("x", max_tokens=0)
    with pytest.raises(xfmr.XfmrError, match="SentenceEncoder"):
        xfmr.LLM(encoder_path)
    with pytest.raises(xfmr.XfmrError) as e:
        xfmr.LLM(str(tmp_path / "missing.gguf"))
    assert "missing.gguf" in str(e.value)
    with xfmr.LLM(llm.path, threads=THREADS, n_ctx=8) as small:
        with pytest.raises(xfmr.XfmrError, match="context"):
            small.generate("one two three four five six seven eight nine ten")
        assert small.generate("Hi", max_tokens=50, temperature=0) is not None  # stops when full


def test_interleaved_streams(llm):
    """Two streams alive at once (two sessions of one model) give their own texts."""
    a_ref = llm.generate(PROMPTS[0], max_tokens=8, temperature=0)
    b_ref = llm.generate(PROMPTS[1], max_tokens=8, temperature=0)
    a = llm.generate(PROMPTS[0], max_tokens=8, temperature=0, stream=True)
    b = llm.generate(PROMPTS[1], max_tokens=8, temperature=0, stream=True)
    got_a, got_b = [], []
    for x, y in zip(a, b):
        got_a.append(x)
        got_b.append(y)
    got_a += list(a)
    got_b += list(b)
    assert "".join(got_a) == a_ref and "".join(got_b) == b_ref


def test_kv_options_match_cli(cli, decoder_path):
    """kv_type / kv_policy / kv_budget: the tokens of `xfmr generate` with the same options, for an
    answer that outgrows the budget (so that the options change it: checked against the default)."""
    p = "The history of the city of Paris begins with a small settlement on an island in the river Seine"
    n = 40
    opts = ["-p", p, "--temperature", "0", "--max-tokens", str(n)]
    ref = cli_generate(cli, decoder_path, *opts, "--kv-type", "q8", "--kv-policy", "h2o", "--kv-budget", "40")
    assert ref != cli_generate(cli, decoder_path, *opts)
    with xfmr.LLM(decoder_path, threads=THREADS, kv_type="q8", kv_policy="h2o", kv_budget=40) as m:
        assert m.generate(p, max_tokens=n, temperature=0) == ref
        assert "".join(m.generate(p, max_tokens=n, temperature=0, stream=True)) == ref


def test_kv_option_errors(decoder_path):
    with pytest.raises(ValueError, match="kv_type 'q5'"):
        xfmr.LLM(decoder_path, kv_type="q5")
    with pytest.raises(ValueError, match="without an evicting kv_policy"):
        xfmr.LLM(decoder_path, kv_budget=64)
    with pytest.raises(ValueError, match="quest_page"):
        xfmr.LLM(decoder_path, quest_page=8)
    with pytest.raises(xfmr.XfmrError, match='"bogus" is not one of'):
        xfmr.LLM(decoder_path, kv_policy="bogus", kv_budget=64)
    with pytest.raises(xfmr.XfmrError, match="needs kv_budget"):
        xfmr.LLM(decoder_path, kv_policy="h2o")
    with pytest.raises(xfmr.XfmrError, match="observation window"):
        xfmr.LLM(decoder_path, kv_policy="snapkv", kv_budget=16)
