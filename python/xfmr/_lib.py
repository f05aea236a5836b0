"""_lib.py — loads libxfmr.so with ctypes and declares the C API of include/xfmr.h that the
binding uses.

Where the library comes from, in order: the XFMR_LIB environment variable (the file, or a folder
holding libxfmr.so), the copy bundled in this package (wheels built by scripts/build_wheel.sh,
or `pip install ./python` after the library was built), the build/ folder of the source tree
this package sits in (python/xfmr/ -> build/libxfmr.so), then the system's libxfmr.so.0
(`cmake --install`).

Parameter structs (those whose first field is struct_size) are mirrored field for field from
include/xfmr.h; their *_default_params() functions are static inline in the header, so the
library does not export them: _model_default_params() and _sampler_default_params() below are
their exact twins (struct_size = the size of the mirrored struct, the same defaults), and
tests/test_layout.py checks the mirrored layouts against the C compiler's.
"""
import ctypes
import ctypes.util
import os
import threading
from pathlib import Path

# The header version this binding was written against (XFMR_VERSION_NUMBER of include/xfmr.h).
HEADER_VERSION_NUMBER = 200

c_size_t = ctypes.c_size_t
c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_float_p = ctypes.POINTER(ctypes.c_float)

# ------------------------------------------------------------------ errors

STATUS_NAMES = {0: "ok", 1: "invalid argument", 2: "I/O error", 3: "format error",
                4: "unsupported", 5: "out of memory", 6: "not found", 7: "out of range"}


class XfmrError(RuntimeError):
    """A failure reported by libxfmr: str(e) is the library's message (xf_errmsg()), which names
    the file, field or value that was wrong; e.status is the xf_status code (int) and
    e.status_name its short name ("format error", ...)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = STATUS_NAMES.get(status, "error") if status is not None else None


class ModelNotFoundError(XfmrError, FileNotFoundError):
    """A short model name (e.g. "all-MiniLM-L6-v2") found in none of the model folders."""

    def __init__(self, message):
        XfmrError.__init__(self, message, 6)


class LibraryNotFoundError(XfmrError, ImportError):
    """libxfmr.so could not be found or loaded."""

    def __init__(self, message):
        XfmrError.__init__(self, message, None)


# ------------------------------------------------------------------ structs (include/xfmr.h)

class Encoding(ctypes.Structure):  # xf_encoding (fixed layout)
    _fields_ = [("ids", c_int32_p), ("type_ids", c_int32_p), ("n", c_size_t), ("truncated", ctypes.c_int)]


class EmbedStats(ctypes.Structure):  # xf_embed_stats (fixed layout)
    _fields_ = [("n_texts", c_size_t), ("n_tokens", c_size_t), ("n_truncated", c_size_t)]


class ChatMessage(ctypes.Structure):  # xf_chat_message (fixed layout)
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


class ModelParams(ctypes.Structure):  # xf_model_params (enums are int)
    _fields_ = [("struct_size", c_size_t), ("n_threads", ctypes.c_int), ("max_length", c_size_t),
                ("weights", ctypes.c_int), ("rope_scaling", ctypes.c_char_p), ("rope_factor", ctypes.c_double),
                ("rope_orig_ctx", c_size_t), ("calib_text", ctypes.c_char_p), ("sparsity", ctypes.c_int),
                ("sparsity_method", ctypes.c_int), ("sparsity_ratio", ctypes.c_float),
                ("calib_max_tokens", c_size_t), ("attn_window", c_size_t), ("attn_full_layers", ctypes.c_char_p),
                ("attn_sinks", c_size_t), ("attn_block_density", ctypes.c_float),
                ("probsparse_factor", ctypes.c_float), ("probsparse_exact", ctypes.c_int),
                ("attn_vslash_density", ctypes.c_float), ("sparse_head", ctypes.c_int)]


class AdaptiveParams(ctypes.Structure):  # xf_adaptive_params
    _fields_ = [("struct_size", c_size_t), ("keep", ctypes.c_float), ("keep_schedule", c_float_p),
                ("n_keep_schedule", c_size_t), ("pool_pruned", ctypes.c_int), ("exit_cosine", ctypes.c_float),
                ("exit_min_layers", c_size_t), ("keep_min", c_size_t), ("merge", ctypes.c_int)]


class AdaptiveStats(ctypes.Structure):  # xf_adaptive_stats
    _fields_ = [("struct_size", c_size_t), ("n_texts", ctypes.c_uint64), ("mean_layers", ctypes.c_double),
                ("token_layers", ctypes.c_uint64), ("token_layers_dense", ctypes.c_uint64)]


class SamplerParams(ctypes.Structure):  # xf_sampler_params
    _fields_ = [("struct_size", c_size_t), ("temperature", ctypes.c_float), ("top_k", ctypes.c_int32),
                ("top_p", ctypes.c_float), ("min_p", ctypes.c_float), ("repetition_penalty", ctypes.c_float),
                ("presence_penalty", ctypes.c_float), ("frequency_penalty", ctypes.c_float),
                ("seed", ctypes.c_uint64)]


class SessionParams(ctypes.Structure):  # xf_session_params (xf_kv_type is an int)
    _fields_ = [("struct_size", c_size_t), ("n_ctx", c_size_t), ("n_ctx_reserve", c_size_t),
                ("kv_type", ctypes.c_int), ("kv_policy", ctypes.c_char_p), ("kv_budget", c_size_t),
                ("quest_budget", c_size_t), ("quest_page", c_size_t)]


class ModelInfo(ctypes.Structure):  # xf_model_info
    _fields_ = [("struct_size", c_size_t), ("path", ctypes.c_char_p), ("architecture", ctypes.c_char_p),
                ("pooling", ctypes.c_char_p), ("normalize", ctypes.c_int), ("n_layers", c_size_t),
                ("hidden", c_size_t), ("n_heads", c_size_t), ("intermediate", c_size_t),
                ("vocab_size", c_size_t), ("max_position", c_size_t), ("max_length", c_size_t),
                ("n_params", ctypes.c_uint64), ("weight_bytes", ctypes.c_uint64), ("file_bytes", ctypes.c_uint64),
                ("dtypes", ctypes.c_char_p), ("n_files", c_size_t), ("files", ctypes.POINTER(ctypes.c_char_p)),
                ("has_tokenizer", ctypes.c_int), ("is_decoder", ctypes.c_int), ("n_kv_heads", c_size_t),
                ("head_dim", c_size_t), ("rope_theta", ctypes.c_double), ("sliding_window", c_size_t),
                ("tied_embeddings", ctypes.c_int), ("rope_scaling", ctypes.c_char_p),
                ("rope_factor", ctypes.c_double), ("rope_orig_ctx", c_size_t), ("attn_spans", ctypes.c_char_p),
                ("quantization", ctypes.c_char_p), ("attn_prefill", ctypes.c_char_p)]


def _model_default_params():
    """xf_model_default_params() of include/xfmr.h (static inline there)."""
    p = ModelParams()  # ctypes zero-fills: rope_scaling NULL, no sparsity
    p.struct_size = ctypes.sizeof(ModelParams)
    p.weights = 0  # XF_WEIGHTS_AS_STORED
    return p


def _sampler_default_params():
    """xf_sampler_default_params() of include/xfmr.h (static inline there)."""
    return SamplerParams(ctypes.sizeof(SamplerParams), 1.0, 0, 1.0, 0.0, 1.0, 0.0, 0.0, 0)


def _session_default_params():
    """xf_session_default_params() of include/xfmr.h (static inline there): kv_policy NULL, f32."""
    p = SessionParams()
    p.struct_size = ctypes.sizeof(SessionParams)
    p.kv_type = 0  # XF_KV_F32
    return p


def _model_info_init():
    """xf_model_info_init() of include/xfmr.h (static inline there)."""
    info = ModelInfo()
    info.struct_size = ctypes.sizeof(ModelInfo)
    return info


# ------------------------------------------------------------------ loading

_lib = None
_lib_path = None
_load_lock = threading.Lock()


def _candidates():
    """(path, where) pairs in the order the library is looked for."""
    out = []
    env = os.environ.get("XFMR_LIB")
    if env:
        p = Path(env)
        out.append((p / "libxfmr.so" if p.is_dir() else p, "XFMR_LIB"))
    here = Path(__file__).resolve().parent
    out.append((here / "libxfmr.so", "bundled with the package"))
    out.append((here.parent.parent / "build" / "libxfmr.so", "the source tree's build/"))
    return out


def _declare(lib):
    """restype / argtypes of the functions the binding calls."""
    vp, cp, st = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    vpp = ctypes.POINTER(ctypes.c_void_p)
    sig = {
        "xf_status_str": (cp, [st]),
        "xf_errmsg": (cp, []),
        "xf_version": (cp, []),
        "xf_version_number": (ctypes.c_int, []),
        # tokenizer
        "xf_tokenize": (st, [vp, cp, c_size_t, cp, c_size_t, c_size_t, ctypes.POINTER(Encoding)]),
        "xf_encoding_free": (None, [ctypes.POINTER(Encoding)]),
        "xf_tokenizer_vocab_size": (c_size_t, [vp]),
        "xf_tokenizer_token_to_id": (ctypes.c_int32, [vp, cp]),
        "xf_tokenizer_id_to_token": (cp, [vp, ctypes.c_int32]),
        "xf_tokenizer_is_special": (ctypes.c_int, [vp, ctypes.c_int32]),
        "xf_detokenize": (st, [vp, c_int32_p, c_size_t, ctypes.c_int, vpp, ctypes.POINTER(c_size_t)]),
        "xf_detok_stream_create": (st, [vp, ctypes.c_int, vpp]),
        "xf_detok_stream_push": (st, [vp, ctypes.c_int32, vpp, ctypes.POINTER(c_size_t)]),
        "xf_detok_stream_flush": (st, [vp, vpp, ctypes.POINTER(c_size_t)]),
        "xf_detok_stream_free": (None, [vp]),
        # model
        "xf_model_load": (st, [cp, ctypes.POINTER(ModelParams), vpp]),
        "xf_model_free": (None, [vp]),
        "xf_model_tokenizer": (vp, [vp]),
        "xf_model_embedding_dim": (c_size_t, [vp]),
        "xf_model_max_length": (c_size_t, [vp]),
        "xf_model_get_info": (st, [vp, ctypes.POINTER(ModelInfo)]),
        "xf_model_vocab_size": (c_size_t, [vp]),
        "xf_model_eos_id": (ctypes.c_int32, [vp]),
        "xf_model_sampler_defaults": (st, [vp, ctypes.POINTER(SamplerParams), ctypes.POINTER(cp)]),
        "xf_model_n_labels": (c_size_t, [vp]),
        "xf_model_label": (st, [vp, c_size_t, ctypes.POINTER(cp)]),
        "xf_model_score_fn": (ctypes.c_int, [vp]),
        "xf_classify": (st, [vp, ctypes.POINTER(cp), ctypes.POINTER(cp), c_size_t, c_size_t, c_float_p]),
        "xf_model_set_adaptive": (st, [vp, ctypes.POINTER(AdaptiveParams)]),
        "xf_model_adaptive_stats": (st, [vp, ctypes.POINTER(AdaptiveStats), ctypes.c_int]),
        "xf_embed_n": (st, [vp, ctypes.POINTER(cp), ctypes.POINTER(c_size_t), c_size_t, c_size_t, c_float_p,
                            ctypes.POINTER(EmbedStats)]),
        # sessions and sampling
        "xf_session_create": (st, [vp, c_size_t, vpp]),
        "xf_session_create_ex": (st, [vp, ctypes.POINTER(SessionParams), vpp]),
        "xf_session_free": (None, [vp]),
        "xf_session_n_ctx": (c_size_t, [vp]),
        "xf_session_eval": (st, [vp, c_int32_p, c_size_t, c_float_p]),
        "xf_sampler_create": (st, [ctypes.POINTER(SamplerParams), c_size_t, vpp]),
        "xf_sampler_free": (None, [vp]),
        "xf_sampler_sample": (st, [vp, c_float_p, c_int32_p, c_size_t, c_int32_p]),
        # chat templates
        "xf_chat_template_from_model": (st, [vp, vpp]),
        "xf_chat_template_from_name": (st, [cp, vpp]),
        "xf_chat_template_free": (None, [vp]),
        "xf_chat_template_names": (cp, []),
        "xf_chat_template_name": (cp, [vp]),
        "xf_chat_template_stops": (ctypes.POINTER(cp), [vp, ctypes.POINTER(c_size_t)]),
        "xf_chat_template_adds_bos": (ctypes.c_int, [vp]),
        "xf_chat_render_json": (st, [vp, cp, cp, ctypes.c_int, vpp, ctypes.POINTER(c_size_t)]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def lib():
    """The loaded library (loaded on first use)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _load_lock:
        if _lib is not None:
            return _lib
        tried = []
        chosen = None
        for path, where in _candidates():
            if path.is_file():
                chosen = (str(path), where)
                break
            tried.append(f"{path} ({where}): not there")
            if where == "XFMR_LIB":  # an explicit choice that is wrong is an error, not a fallback
                raise LibraryNotFoundError(f"XFMR_LIB={os.environ['XFMR_LIB']}: {path} does not exist")
        if chosen is None:
            sys_lib = ctypes.util.find_library("xfmr")
            if sys_lib:
                chosen = (sys_lib, "the system's library path")
            else:
                tried.append("libxfmr.so.0 on the system's library path: not found")
        if chosen is None:
            raise LibraryNotFoundError("libxfmr.so not found; looked at:\n  " + "\n  ".join(tried) +
                                       "\nBuild it (cmake -S . -B build && cmake --build build) or set "
                                       "XFMR_LIB to its path.")
        try:
            handle = ctypes.CDLL(chosen[0])
        except OSError as e:
            raise LibraryNotFoundError(f"cannot load {chosen[0]} ({chosen[1]}): {e}") from None
        _declare(handle)
        number = handle.xf_version_number()
        if number // 10000 != HEADER_VERSION_NUMBER // 10000 or number < HEADER_VERSION_NUMBER:
            raise LibraryNotFoundError(
                f"{chosen[0]} is libxfmr {handle.xf_version().decode()}; this package needs "
                f"{HEADER_VERSION_NUMBER // 10000}.{HEADER_VERSION_NUMBER // 100 % 100}.x or a later "
                "minor version of the same major version")
        _lib, _lib_path = handle, chosen[0]
        return _lib


def lib_path():
    """Path of the loaded library."""
    lib()
    return _lib_path


# free() for the strings the library returns malloc'ed (xf_detokenize, xf_chat_render*): looked
# up in the process's global scope (dlopen(NULL)), so that it is the free() the library's malloc
# pairs with, also when a preloaded allocator (the ASan runtime) interposes them; libc.so.6's own
# symbol would bypass it.
_libc = ctypes.CDLL(None)
_libc.free.restype = None
_libc.free.argtypes = [ctypes.c_void_p]


def free(ptr):
    _libc.free(ptr)


def error(status):
    """The XfmrError of a failed call (status != 0), with the thread's xf_errmsg()."""
    msg = lib().xf_errmsg().decode("utf-8", "replace")
    if not msg:
        msg = lib().xf_status_str(status).decode()
    return XfmrError(msg, status)


def check(status):
    if status != 0:
        raise error(status)


def take_string(ptr, length):
    """Copy a malloc'ed UTF-8 buffer of the library into a str and free it."""
    try:
        return ctypes.string_at(ptr, length).decode("utf-8", "replace")
    finally:
        free(ptr)
