"""encoder.py — SentenceEncoder: sentence embeddings with the API of sentence-transformers'
SentenceTransformer (encode, tokenize, get_sentence_embedding_dimension)."""
import ctypes
import sys
import time

import numpy as np

from . import _lib
from ._model import _Model, _utf8


class SentenceEncoder(_Model):
    """A sentence-embedding model (bert architecture: all-MiniLM-L6-v2, BGE, E5, ... as a Hugging
    Face folder or GGUF file), run by libxfmr.

    >>> model = SentenceEncoder("all-MiniLM-L6-v2")
    >>> model.encode(["a sentence", "another"]).shape
    (2, 384)

    name_or_path: a model folder / .gguf file, or a short name looked up like the xfmr CLI does
    ($XFMR_MODELS, ./models, the source tree's models/, ~/.cache/xfmr/models).
    threads: compute threads (None or 0 = every CPU this process may use).
    max_seq_length: truncate inputs to this many tokens (None = the model's own limit).
    weights: "stored" (default: as the file holds them), "int8" (per-channel int8, VNNI), "bf16"
    or "f32" — the CLI's --weights (docs/COMPRESSION.md).
    """

    def __init__(self, name_or_path, threads=None, max_seq_length=None, weights=None):
        super().__init__(name_or_path, threads=threads, max_length=max_seq_length, weights=weights)
        self._dim = int(self._lib.xf_model_embedding_dim(self._handle))
        self.last_stats = None  # xf_embed_stats of the last encode(): n_texts, n_tokens, n_truncated

    def get_sentence_embedding_dimension(self):
        """Width of the vectors encode() returns."""
        return self._dim

    @property
    def max_seq_length(self):
        """Inputs are truncated to this many tokens (special tokens included)."""
        return int(self._lib.xf_model_max_length(self._h()))

    def tokenize(self, text):
        """Token ids the model sees for text (a str: a list of int; a list of str: a list of such
        lists), special tokens included, truncated to max_seq_length as encode() truncates."""
        if isinstance(text, (str, bytes)):
            return self._encode(text, self.max_seq_length)
        return [self._encode(t, self.max_seq_length) for t in text]

    def encode(self, sentences, batch_size=32, show_progress_bar=False, normalize_embeddings=False,
               convert_to_numpy=True, output_value="sentence_embedding", **kwargs):
        """Embeddings of sentences as a float32 numpy array: shape (n, dim) for a list of n
        texts, (dim,) for one str. batch_size texts run through the encoder together (the
        results do not depend on it). normalize_embeddings=True scales each vector to unit L2
        norm (as sentence-transformers: v / max(||v||, 1e-12)). show_progress_bar prints the
        progress on stderr."""
        if output_value != "sentence_embedding":
            raise ValueError("only output_value='sentence_embedding' is supported")
        if not convert_to_numpy or kwargs.get("convert_to_tensor"):
            raise ValueError("SentenceEncoder.encode returns numpy arrays (convert_to_numpy=True)")
        unknown = set(kwargs) - {"convert_to_tensor", "device"}
        if unknown:
            raise TypeError(f"encode() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        single = isinstance(sentences, (str, bytes))
        texts = [sentences] if single else list(sentences)
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        batch_size = int(batch_size)
        data = [_utf8(t) for t in texts]
        out = np.empty((len(data), self._dim), dtype=np.float32)
        totals = _lib.EmbedStats()
        # One library call for all texts (it batches them itself), or one per batch to show progress.
        step = batch_size if show_progress_bar else max(len(data), 1)
        t0 = time.monotonic()
        for start in range(0, len(data), step):
            chunk = data[start:start + step]
            self._embed(chunk, batch_size, out[start:start + len(chunk)], totals)
            if show_progress_bar:
                _progress(start + len(chunk), len(data), t0)
        if show_progress_bar and data:
            sys.stderr.write("\n")
        self.last_stats = {"n_texts": totals.n_texts, "n_tokens": totals.n_tokens,
                           "n_truncated": totals.n_truncated}
        if normalize_embeddings and len(data):
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            np.maximum(norms, np.float32(1e-12), out=norms)
            out /= norms
        return out[0] if single else out

    def _embed(self, chunk, batch_size, out, totals):
        n = len(chunk)
        ptrs = (ctypes.c_char_p * n)(*chunk)
        lens = (ctypes.c_size_t * n)(*[len(b) for b in chunk])
        stats = _lib.EmbedStats()
        with self._lock:
            st = self._lib.xf_embed_n(self._h(), ptrs, lens, n, batch_size,
                                      out.ctypes.data_as(_lib.c_float_p), ctypes.byref(stats))
            if st != 0:
                raise _lib.error(st)
        totals.n_texts += stats.n_texts
        totals.n_tokens += stats.n_tokens
        totals.n_truncated += stats.n_truncated

    def set_adaptive(self, keep=1.0, merge=False, keep_schedule=None, keep_min=64, pool_pruned="yes",
                     exit_cos=None, exit_min_layers=2):
        """Adaptive compute for the next encode() calls (docs/ADAPTIVE.md; the CLI's --keep,
        --merge, --keep-schedule, --keep-min, --pool-pruned, --exit-cos, --exit-min-layers).
        keep: the share of each text's tokens the last layer sees (0 < keep <= 1; 1 = all);
        merge=True reaches it by token merging (ToMe) instead of pruning by attention received —
        keep=0.4, merge=True embeds about 1.5x the documents per second at 99 % of the dense
        MRR@10 (all-MiniLM-L6-v2, docs of 128-256 tokens); texts under keep_min tokens are left
        whole. exit_cos: early exit at this consecutive-layer cosine (None = off). Called with no
        arguments it turns everything off (the dense model, bitwise). Raises XfmrError naming the
        bad value."""
        pools = {"no": 0, "yes": 1, "rejoin": 2}
        if pool_pruned not in pools:
            raise ValueError(f"pool_pruned takes 'yes', 'no' or 'rejoin', not {pool_pruned!r}")
        p = _lib.AdaptiveParams()
        p.struct_size = ctypes.sizeof(_lib.AdaptiveParams)
        p.keep, p.merge, p.keep_min, p.pool_pruned = float(keep), int(bool(merge)), int(keep_min), pools[pool_pruned]
        p.exit_cosine = 2.0 if exit_cos is None else float(exit_cos)
        p.exit_min_layers = int(exit_min_layers)
        sched = None
        if keep_schedule is not None:
            sched = (ctypes.c_float * len(keep_schedule))(*[float(v) for v in keep_schedule])
            p.keep_schedule = ctypes.cast(sched, _lib.c_float_p)
            p.n_keep_schedule = len(keep_schedule)
        with self._lock:
            st = self._lib.xf_model_set_adaptive(self._h(), ctypes.byref(p))  # copies the schedule
        if st != 0:
            raise _lib.error(st)

    def adaptive_stats(self, reset=False):
        """What adaptive compute did since set_adaptive() (or the last reset): texts, mean layers
        per text, and the token-layers run against the dense model's."""
        s = _lib.AdaptiveStats()
        s.struct_size = ctypes.sizeof(_lib.AdaptiveStats)
        with self._lock:
            _lib.check(self._lib.xf_model_adaptive_stats(self._h(), ctypes.byref(s), int(bool(reset))))
        return {"n_texts": s.n_texts, "mean_layers": s.mean_layers, "token_layers": s.token_layers,
                "token_layers_dense": s.token_layers_dense}

    def similarity(self, a, b):
        """Cosine similarity matrix of two embedding arrays (rows are vectors)."""
        a = np.atleast_2d(np.asarray(a, dtype=np.float32))
        b = np.atleast_2d(np.asarray(b, dtype=np.float32))
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return a @ b.T

    def __repr__(self):
        return f"SentenceEncoder({self.path!r}, dim={self._dim}, pooling={self._pooling!r})"


def _progress(done, total, t0):
    width = 30
    filled = width * done // total if total else width
    rate = done / max(time.monotonic() - t0, 1e-9)
    sys.stderr.write(f"\rBatches [{'#' * filled}{'.' * (width - filled)}] {done}/{total} texts, {rate:.1f}/s")
    sys.stderr.flush()
