"""SentenceEncoder against `xfmr embed`, and its API contract."""
import numpy as np
import pytest

import xfmr
from conftest import ENCODER, THREADS, run_cli

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar.",
    "",
    "Ünïcödé, 日本語のテキスト, emoji 🙂 and accents: café, naïve.",
    "short",
    "word " * 400,  # longer than the model's 256 tokens: truncated
    "Semantic search finds documents by meaning rather than by keywords.",
]


def test_matches_cli(encoder, cli, encoder_path, tmp_path):
    inp = tmp_path / "texts.txt"
    inp.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "vecs.npy"
    run_cli(cli, "embed", "-m", encoder_path, "--threads", str(THREADS), "-o", str(out), str(inp))
    ref = np.load(out)
    got = encoder.encode(TEXTS)
    assert got.dtype == np.float32 and got.shape == ref.shape == (len(TEXTS), 384)
    # The same library call (xf_embed_n, batch 32) as the CLI: bitwise equal.
    assert np.array_equal(got, ref), f"max abs diff {np.abs(got - ref).max()}"
    assert encoder.last_stats == {"n_texts": len(TEXTS), "n_tokens": encoder.last_stats["n_tokens"],
                                  "n_truncated": 1}


def test_int8_weights_match_cli(cli, encoder_path, tmp_path):
    inp = tmp_path / "texts.txt"
    inp.write_text("\n".join(TEXTS[:3]) + "\n", encoding="utf-8")
    out = tmp_path / "vecs.npy"
    run_cli(cli, "embed", "-m", encoder_path, "--threads", str(THREADS), "--weights", "int8", "-o", str(out), str(inp))
    with xfmr.SentenceEncoder(encoder_path, threads=THREADS, weights="int8") as m:
        got = m.encode(TEXTS[:3])
    assert np.array_equal(got, np.load(out))
    with pytest.raises(ValueError, match="weights"):
        xfmr.SentenceEncoder(encoder_path, weights="int3")
    with pytest.raises(xfmr.XfmrError, match="2:4"):  # int4 exists only for 2:4-sparse weights
        xfmr.SentenceEncoder(encoder_path, weights="int4")


def test_token_merging_matches_cli(cli, encoder_path, tmp_path):
    long_text = " ".join(["Semantic search finds documents by meaning rather than by keywords, and an"
                          " embedding model turns each text into one vector."] * 4)
    texts = [long_text, TEXTS[0]]
    inp = tmp_path / "texts.txt"
    inp.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "vecs.npy"
    run_cli(cli, "embed", "-m", encoder_path, "--threads", str(THREADS), "--keep", "0.4", "--merge",
            "-o", str(out), str(inp))
    with xfmr.SentenceEncoder(encoder_path, threads=THREADS) as m:
        dense = m.encode(texts)
        m.set_adaptive(keep=0.4, merge=True)
        got = m.encode(texts)
        st = m.adaptive_stats()
        assert np.array_equal(got, np.load(out))
        assert not np.array_equal(got[0], dense[0]) and np.array_equal(got[1], dense[1])  # short: whole
        assert st["n_texts"] == 2 and st["token_layers"] < st["token_layers_dense"]
        m.set_adaptive()  # off: the dense model again
        assert np.array_equal(m.encode(texts), dense)
        with pytest.raises(xfmr.XfmrError, match="keep 1.5"):
            m.set_adaptive(keep=1.5)
        with pytest.raises(xfmr.XfmrError, match="early exit"):
            m.set_adaptive(keep=0.4, merge=True, exit_cos=0.9)
        with pytest.raises(ValueError, match="pool_pruned"):
            m.set_adaptive(pool_pruned="maybe")


def test_batch_sizes_identical(encoder):
    ref = encoder.encode(TEXTS, batch_size=32)
    for bs in (1, 2, 3, 1000):
        assert np.array_equal(encoder.encode(TEXTS, batch_size=bs), ref), f"batch_size={bs}"
    assert np.array_equal(encoder.encode(TEXTS, batch_size=2, show_progress_bar=True), ref)


def test_single_string_and_empty(encoder):
    one = encoder.encode(TEXTS[0])
    assert one.shape == (384,) and one.dtype == np.float32
    assert np.array_equal(one, encoder.encode(TEXTS)[0])
    empty = encoder.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert encoder.encode([], normalize_embeddings=True).shape == (0, 384)
    assert encoder.encode([""]).shape == (1, 384)
    assert np.array_equal(encoder.encode(iter(TEXTS[:2])), encoder.encode(TEXTS[:2]))


def test_normalize(encoder):
    raw = encoder.encode(TEXTS)
    norm = encoder.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(norm, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(norm, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-7)
    sim = encoder.similarity(norm[:2], norm[:2])
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)


def test_tokenize_and_dimension(encoder):
    assert encoder.get_sentence_embedding_dimension() == 384
    assert encoder.tokenize("Hello world") == [101, 7592, 2088, 102]  # [CLS] hello world [SEP]
    assert encoder.tokenize(["Hello", "world"]) == [[101, 7592, 102], [101, 2088, 102]]
    assert encoder.max_seq_length == 256
    assert len(encoder.tokenize("word " * 400)) == 256


def test_bad_arguments(encoder):
    with pytest.raises(ValueError):
        encoder.encode(["a"], batch_size=0)
    with pytest.raises(TypeError):
        encoder.encode([1, 2])
    with pytest.raises(ValueError):
        encoder.encode(["a"], output_value="token_embeddings")


def test_bad_path_raises_library_message(tmp_path):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(xfmr.XfmrError) as e:
        xfmr.SentenceEncoder(missing)
    assert missing in str(e.value) and e.value.status_name == "not found"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(xfmr.XfmrError) as e:
        xfmr.SentenceEncoder(str(broken))
    assert "config.json" in str(e.value), str(e.value)


def test_unknown_name_lists_places(monkeypatch, tmp_path):
    monkeypatch.setenv("XFMR_MODELS", str(tmp_path))
    with pytest.raises(xfmr.ModelNotFoundError) as e:
        xfmr.SentenceEncoder("no-such-model-name")
    assert str(tmp_path / "no-such-model-name") in str(e.value)
    assert isinstance(e.value, FileNotFoundError)


def test_name_resolution(encoder_path, monkeypatch):
    import os
    monkeypatch.setenv("XFMR_MODELS", os.path.dirname(encoder_path))
    with xfmr.SentenceEncoder(ENCODER, threads=THREADS) as m:
        assert m.path == encoder_path


def test_closed_model(encoder_path):
    m = xfmr.SentenceEncoder(encoder_path, threads=THREADS)
    m.close()
    with pytest.raises(ValueError):
        m.encode(["a"])
    m.close()  # twice is fine


def test_threads_share_a_model(encoder):
    import threading
    ref = encoder.encode(TEXTS)
    results, errors = [None] * 4, []

    def work(k):
        try:
            results[k] = encoder.encode(TEXTS, batch_size=k + 1)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.array_equal(r, ref) for r in results)
