"""cross_encoder.py — CrossEncoder: rerankers and sequence classifiers with the API of
sentence-transformers' CrossEncoder (predict, rank), run by libxfmr (docs/RERANK.md)."""
import ctypes
import json
import os

import numpy as np

from . import _lib
from ._lib import XfmrError
from ._model import _Model, _utf8

# config_sentence_transformers.json "activation_fn" values libxfmr and this binding know.
_ACTIVATIONS = {"torch.nn.modules.activation.Sigmoid": "sigmoid", "torch.nn.Sigmoid": "sigmoid",
                "torch.nn.modules.linear.Identity": "identity", "torch.nn.Identity": "identity"}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class CrossEncoder(_Model):
    """A cross-encoder or sequence classifier (BertForSequenceClassification: a Hugging Face or
    sentence-transformers CrossEncoder folder, or a GGUF file with a classification head).

    >>> model = CrossEncoder("cross-encoder/ms-marco-MiniLM-L6-v2")
    >>> model.predict([("query", "a relevant passage"), ("query", "something else")])
    array([0.98, 0.01], dtype=float32)
    >>> model.rank("query", ["a relevant passage", "something else"])
    [{'corpus_id': 0, 'score': 0.98}, {'corpus_id': 1, 'score': 0.01}]

    Pairs are encoded [CLS] a [SEP] b [SEP] (token types 0 / 1) and truncated longest_first to
    max_length, as CrossEncoder does. threads, max_length (None: the model's limit) and weights
    ("stored", "int8", "bf16", "f32") as for SentenceEncoder.
    """

    def __init__(self, name_or_path, threads=None, max_length=None, weights=None):
        super().__init__(name_or_path, threads=threads, max_length=max_length, weights=weights)
        self.num_labels = int(self._lib.xf_model_n_labels(self._handle))
        if self.num_labels == 0:
            path = self.path
            self.close()
            raise XfmrError(f"{path} has no sequence-classification head (a cross-encoder or classifier such as "
                            "BertForSequenceClassification is needed; for embeddings use SentenceEncoder)", 3)
        self._activation = self._default_activation()

    @property
    def max_length(self):
        """Inputs (the pair, special tokens included) are truncated to this many tokens."""
        return int(self._lib.xf_model_max_length(self._h()))

    @property
    def labels(self):
        """The names of the outputs (config.json id2label), or None when the model names none."""
        out = []
        for i in range(self.num_labels):
            s = ctypes.c_char_p()
            if self._lib.xf_model_label(self._h(), i, ctypes.byref(s)) != 0:
                return None
            out.append(s.value.decode("utf-8", "replace"))
        return out

    def _default_activation(self):
        """CrossEncoder's default: the activation_fn of config_sentence_transformers.json, else
        Sigmoid for one label and identity for more (the C library's xf_rerank does the same)."""
        act = None
        cfg = os.path.join(self.path, "config_sentence_transformers.json") if os.path.isdir(self.path) else None
        if cfg and os.path.isfile(cfg):
            with open(cfg, encoding="utf-8") as f:
                name = json.load(f).get("activation_fn")
            if name is not None:
                act = _ACTIVATIONS.get(name)
                if act is None:
                    raise XfmrError(f"{cfg}: activation_fn {name!r} is not supported (Sigmoid and Identity are)", 3)
        return act or ("sigmoid" if self.num_labels == 1 else "identity")

    def _logits(self, pairs, batch_size):
        n = len(pairs)
        out = np.empty((n, self.num_labels), dtype=np.float32)
        if n == 0:
            return out
        a = [_utf8(p[0]) for p in pairs]
        b = [_utf8(p[1]) if p[1] is not None else None for p in pairs]
        pa = (ctypes.c_char_p * n)(*a)
        pb = (ctypes.c_char_p * n)(*b)
        with self._lock:
            _lib.check(self._lib.xf_classify(self._h(), pa, pb, n, int(batch_size), out.ctypes.data_as(_lib.c_float_p)))
        return out

    def predict(self, sentences, batch_size=32, show_progress_bar=False, activation_fn=None, apply_softmax=False,
                convert_to_numpy=True, convert_to_tensor=False, **kwargs):
        """Scores of text pairs (or single texts) as a float32 numpy array: shape (n,) for a model
        with one output, (n, num_labels) otherwise; one pair -> a scalar / (num_labels,).

        sentences: a batch [(a, b), ...] / [[a], ...], or one example (a, b) / a, as CrossEncoder.
        activation_fn: a function applied to the logits (numpy array); None = the model's default
        (Sigmoid for one output or the activation_fn its config names, else identity).
        apply_softmax: softmax over the labels after the activation (models with several outputs).
        batch_size pairs run through the model together (results do not depend on it)."""
        unknown = set(kwargs) - {"device", "prompt", "prompt_name"}
        if unknown:
            raise TypeError(f"predict() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        if convert_to_tensor or not convert_to_numpy:
            raise ValueError("CrossEncoder.predict returns numpy arrays (convert_to_numpy=True)")
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        # sentence-transformers' rule: a list / tuple whose first element is no list / tuple is one
        # example (a pair ["q", "d"]), as is a str; otherwise each element is one.
        seq = (list, tuple)
        single = not isinstance(sentences, seq) or (len(sentences) > 0 and not isinstance(sentences[0], seq))
        items = []
        for i, s in enumerate([sentences] if single else sentences):
            if isinstance(s, (str, bytes)):
                items.append((s, None))
            elif isinstance(s, seq) and len(s) in (1, 2):
                items.append((s[0], s[1] if len(s) == 2 else None))
            else:
                raise TypeError(f"sentences[{i}] is not a text or a pair of texts [a, b]")
        for a, b in items:
            if not isinstance(a, (str, bytes)) or not (b is None or isinstance(b, (str, bytes))):
                raise TypeError("texts must be str (or bytes)")
        scores = self._logits(items, batch_size)
        if activation_fn is None:
            if self._activation == "sigmoid":
                scores = _sigmoid(scores)
        else:
            scores = np.asarray(activation_fn(scores), dtype=np.float32)
        if apply_softmax and scores.ndim > 1 and scores.shape[1] > 1:
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores = e / e.sum(axis=1, keepdims=True)
        scores = scores.astype(np.float32, copy=False)
        if self.num_labels == 1:
            scores = scores[:, 0]
        return scores[0] if single else scores

    def rank(self, query, documents, top_k=None, return_documents=False, batch_size=32, show_progress_bar=False,
             activation_fn=None, **kwargs):
        """Documents sorted by their score for query, best first: a list of {"corpus_id", "score"}
        (and "text" with return_documents=True), as CrossEncoder.rank; top_k keeps the best k."""
        if self.num_labels != 1:
            raise XfmrError(f"{self.path} has {self.num_labels} outputs; rank() needs a model with one (a reranker)", 3)
        documents = list(documents)
        if not documents:
            raise ValueError("rank() needs at least one document")
        scores = self.predict([(query, d) for d in documents], batch_size=batch_size, activation_fn=activation_fn,
                              **kwargs)
        order = sorted(range(len(documents)), key=lambda i: (-float(scores[i]), i))
        if top_k is not None:
            order = order[:int(top_k)]
        out = []
        for i in order:
            r = {"corpus_id": i, "score": float(scores[i])}
            if return_documents:
                r["text"] = documents[i]
            out.append(r)
        return out

    def __repr__(self):
        return f"CrossEncoder({self.path!r}, num_labels={self.num_labels})"
