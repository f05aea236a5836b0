"""xfmr — Python binding of libxfmr, a C engine for Transformer models (sentence embeddings and
text generation on the CPU). A thin ctypes layer over libxfmr.so; see docs/PYTHON.md.

    import xfmr
    enc = xfmr.SentenceEncoder("all-MiniLM-L6-v2")
    vecs = enc.encode(["a sentence", "another one"], normalize_embeddings=True)  # (2, 384) float32

    ce = xfmr.CrossEncoder("cross-encoder/ms-marco-MiniLM-L6-v2")
    ce.rank("a query", ["a document", "another"])       # [{"corpus_id": 0, "score": 0.98}, ...]

    llm = xfmr.LLM("SmolLM2-135M-Instruct")
    print(llm.chat([{"role": "user", "content": "What is the capital of France?"}], temperature=0))
"""
from ._lib import LibraryNotFoundError, ModelNotFoundError, XfmrError
from .cross_encoder import CrossEncoder
from .encoder import SentenceEncoder
from .llm import LLM

__version__ = "0.2.0"
__all__ = ["SentenceEncoder", "CrossEncoder", "LLM", "XfmrError", "ModelNotFoundError", "LibraryNotFoundError",
           "library_version", "library_path"]


def library_version():
    """Version string of the loaded libxfmr (xf_version())."""
    from . import _lib
    return _lib.lib().xf_version().decode()


def library_path():
    """Path of the loaded libxfmr.so."""
    from . import _lib
    return _lib.lib_path()
