"""xfmr.CrossEncoder on the tiny random cross-encoder and classifier of
scripts/make_cross_encoder_goldens.py: predict() and rank() against the scores transformers and
sentence-transformers' CrossEncoder computed (tests/data/tiny/cross_goldens.tsv), the API shape
of CrossEncoder (singular pair, activation_fn, apply_softmax, top_k, return_documents), labels,
batch-size invariance and the errors."""
import numpy as np
import pytest

import xfmr
from conftest import ROOT

TINY = ROOT / "tests" / "data" / "tiny"
GOLD = [line.rstrip("\n").split("\t") for line in open(TINY / "cross_goldens.tsv", encoding="utf-8")]
RR = [g for g in GOLD if g[0] == "rerank"]
CLS = [g for g in GOLD if g[0] == "cls"]


@pytest.fixture(scope="module")
def reranker():
    with xfmr.CrossEncoder(str(TINY / "bert_rerank"), threads=2) as m:
        yield m


@pytest.fixture(scope="module")
def classifier():
    with xfmr.CrossEncoder(str(TINY / "bert_cls"), threads=2) as m:
        yield m


def test_predict_matches_sentence_transformers(reranker):
    pairs = [(g[2], g[3]) for g in RR]
    s = reranker.predict(pairs)
    assert s.shape == (len(RR),) and s.dtype == np.float32
    assert np.abs(s - np.array([float(g[5]) for g in RR])).max() <= 1e-5
    raw = reranker.predict(pairs, activation_fn=lambda x: x, batch_size=3)
    assert np.abs(raw - np.array([float(g[4]) for g in RR])).max() <= 1e-5
    assert np.array_equal(reranker.predict(pairs, batch_size=1), s)
    one = reranker.predict((RR[0][2], RR[0][3]))  # one pair -> a scalar
    assert np.ndim(one) == 0 and abs(float(one) - s[0]) < 1e-7
    assert abs(float(reranker.predict([RR[0][2], RR[0][3]])) - s[0]) < 1e-7  # a list of two texts is one pair


def test_rank_order(reranker):
    docs = [g[3] for g in RR]
    ranked = reranker.rank(RR[0][2], docs, return_documents=True)
    want = sorted(range(len(RR)), key=lambda i: -float(RR[i][4]))
    assert [r["corpus_id"] for r in ranked] == want
    assert all(r["text"] == docs[r["corpus_id"]] for r in ranked)
    assert all(abs(r["score"] - float(RR[r["corpus_id"]][5])) <= 1e-5 for r in ranked)
    top = reranker.rank(RR[0][2], docs, top_k=2)
    assert [r["corpus_id"] for r in top] == want[:2] and "text" not in top[0]


def test_classifier_logits_and_labels(classifier):
    assert classifier.num_labels == 3 and classifier.labels == ["negative", "neutral", "positive"]
    batch = [[g[2], g[3]] if g[3] else [g[2]] for g in CLS]
    logits = classifier.predict(batch)
    assert logits.shape == (len(CLS), 3)
    want = np.array([[float(v) for v in g[4].split()] for g in CLS])
    assert np.abs(logits - want).max() <= 1e-5
    p = classifier.predict(batch, apply_softmax=True)
    e = np.exp(want - want.max(axis=1, keepdims=True))
    assert np.abs(p - e / e.sum(axis=1, keepdims=True)).max() <= 1e-5
    assert np.abs(classifier.predict(CLS[0][2]) - want[0]).max() <= 1e-5  # a single text


def test_errors(classifier, reranker):
    with pytest.raises(xfmr.XfmrError, match="no sequence-classification head"):
        xfmr.CrossEncoder(str(TINY / "bert"))
    with pytest.raises(xfmr.XfmrError, match="3 outputs"):
        classifier.rank("q", ["d"])
    with pytest.raises(ValueError, match="at least one document"):
        reranker.rank("q", [])
    with pytest.raises(TypeError):
        reranker.predict([("a", "b", "c")])
    with pytest.raises(ValueError):
        reranker.predict([("a", "b")], batch_size=0)
    assert reranker.predict([]).shape == (0,)
