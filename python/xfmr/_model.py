"""_model.py — model names and loading shared by SentenceEncoder and LLM.

A model is a path (a Hugging Face folder or a .gguf file), or a short name looked up as the
xfmr CLI looks it up (tools/xfmr/model.c): $XFMR_MODELS/NAME, ./models/NAME, the models/ folder
beside the library's build/ folder (or one level higher), then ~/.cache/xfmr/models/NAME.
"""
import ctypes
import os
import threading
from pathlib import Path

from . import _lib
from ._lib import ModelNotFoundError, XfmrError

FETCHABLE = ("all-MiniLM-L6-v2", "SmolLM2-135M-Instruct")
# xf_weight_format: how linear-layer weights are held and multiplied (the CLI's --weights).
WEIGHTS = {"stored": 0, "int8": 1, "bf16": 2, "f32": 3, "int4": 4, "a8": 5}  # int4: with 2:4 sparsity only


def model_search_dirs():
    """The folders a short model name is looked for in, in order."""
    dirs = []
    env = os.environ.get("XFMR_MODELS")
    if env:
        dirs.append(Path(env))
    dirs.append(Path("models"))
    try:
        libdir = Path(_lib.lib_path()).resolve().parent
        dirs += [libdir.parent / "models", libdir.parent.parent / "models"]
    except XfmrError:
        pass
    dirs.append(Path(os.path.expanduser("~")) / ".cache" / "xfmr" / "models")
    seen, out = set(), []
    for d in dirs:
        if str(d) not in seen:
            seen.add(str(d))
            out.append(d)
    return out


def resolve_model(name_or_path):
    """The path to load for a model path or short name (see the module's doc)."""
    name = os.fspath(name_or_path)
    if not isinstance(name, str):
        name = os.fsdecode(name)
    if not name:
        raise ValueError("empty model name")
    # A path that exists, or any path (with a '/'): the library reports what is wrong with it.
    if os.path.exists(name) or "/" in name:
        return name
    looked = []
    for d in model_search_dirs():
        cand = d / name
        if cand.is_dir():
            return str(cand.resolve())
        looked.append(str(cand))
    hint = (f"fetch it with: scripts/fetch_models.sh {name} (or set XFMR_MODELS to the folder that holds it)"
            if name in FETCHABLE else
            "give a model folder or .gguf file, or put the model in one of these places")
    raise ModelNotFoundError(f"model '{name}' not found; looked in:\n  " + "\n  ".join(looked) + "\n" + hint)


class _Model:
    """Owns one loaded xf_model (freed by close(), the with-block's end, or garbage collection).
    Calls into the model are serialised by a lock: the library's sessions and embedding calls of
    one model share its thread pool."""

    def __init__(self, name_or_path, threads=None, max_length=None, weights=None):
        self._handle = None
        self._lib = _lib.lib()
        self.path = resolve_model(name_or_path)
        params = _lib._model_default_params()
        if threads is not None:
            if int(threads) < 0:
                raise ValueError(f"threads must be >= 0 (0 = every usable CPU), got {threads}")
            params.n_threads = int(threads)
        if max_length is not None:
            params.max_length = int(max_length)
        if weights is not None:
            if weights not in WEIGHTS:
                raise ValueError(f"weights takes {', '.join(repr(w) for w in WEIGHTS)}, not {weights!r}")
            params.weights = WEIGHTS[weights]
        handle = ctypes.c_void_p()
        _lib.check(self._lib.xf_model_load(os.fsencode(self.path), ctypes.byref(params), ctypes.byref(handle)))
        self._handle = handle
        self._lock = threading.Lock()
        self._tok = self._lib.xf_model_tokenizer(handle)
        info = _lib._model_info_init()
        _lib.check(self._lib.xf_model_get_info(handle, ctypes.byref(info)))
        self.architecture = info.architecture.decode()
        self.is_decoder = bool(info.is_decoder)
        self._pooling = info.pooling.decode() if info.pooling else None
        self._normalized = bool(info.normalize)

    # -- lifetime
    def close(self):
        """Free the model now (it is unusable afterwards)."""
        if self._handle is not None:
            self._lib.xf_model_free(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _h(self):
        if self._handle is None:
            raise ValueError("the model was closed")
        return self._handle

    def _need_tokenizer(self):
        self._h()
        if not self._tok:
            raise XfmrError(f"{self.path} has no tokenizer (no tokenizer.json, or a GGUF file without "
                            "tokenizer.ggml.* metadata)", 6)
        return self._tok

    # -- tokenizer
    def _encode(self, text, max_length=0):
        """Token ids of text, special tokens included (list of int)."""
        tok = self._need_tokenizer()
        data = _utf8(text)
        enc = _lib.Encoding()
        _lib.check(self._lib.xf_tokenize(tok, data, len(data), None, 0, max_length, ctypes.byref(enc)))
        try:
            return enc.ids[:enc.n] if enc.n else []
        finally:
            self._lib.xf_encoding_free(ctypes.byref(enc))

    def detokenize(self, ids, skip_special_tokens=True):
        """Text of token ids, as Hugging Face tokenizers' decode(ids, skip_special_tokens)."""
        tok = self._need_tokenizer()
        ids = [int(i) for i in ids]
        arr = (ctypes.c_int32 * max(len(ids), 1))(*ids)
        out = ctypes.c_void_p()
        n = ctypes.c_size_t()
        _lib.check(self._lib.xf_detokenize(tok, arr, len(ids), 1 if skip_special_tokens else 0,
                                           ctypes.byref(out), ctypes.byref(n)))
        return _lib.take_string(out, n.value)

    @property
    def vocab_size(self):
        return int(self._lib.xf_model_vocab_size(self._h()))


def _utf8(text):
    """UTF-8 bytes of a str (lone surrogates pass through and become U+FFFD in the library, as
    invalid UTF-8 does); bytes are taken as they are."""
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    return text.encode("utf-8", "surrogatepass")
