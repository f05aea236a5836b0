"""The ctypes mirrors of the public structs have the C compiler's layout (sizes and offsets), and
struct_size is set as the header's *_default_params() / *_init() functions set it."""
import ctypes
import shutil
import subprocess

from conftest import ROOT, require
from xfmr import _lib

STRUCTS = {
    "xf_model_params": _lib.ModelParams,
    "xf_sampler_params": _lib.SamplerParams,
    "xf_session_params": _lib.SessionParams,
    "xf_model_info": _lib.ModelInfo,
    "xf_encoding": _lib.Encoding,
    "xf_embed_stats": _lib.EmbedStats,
    "xf_chat_message": _lib.ChatMessage,
}


def test_layout_matches_c(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    require(cc, "no C compiler to check the struct layouts with")
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "xfmr.h"', "int main(void) {"]
    for cname, cls in STRUCTS.items():
        lines.append(f'printf("{cname} sizeof %zu\\n", sizeof({cname}));')
        for f in cls._fields_:
            lines.append(f'printf("{cname} {f[0]} %zu\\n", offsetof({cname}, {f[0]}));')
    lines += ['{ xf_model_params p = xf_model_default_params(); printf("model_default %zu %d %d\\n", '
              'p.struct_size, (int)p.weights, p.n_threads); }',
              '{ xf_sampler_params p = xf_sampler_default_params(); printf("sampler_default %zu %g %d %g %g %g\\n", '
              'p.struct_size, p.temperature, p.top_k, p.top_p, p.min_p, p.repetition_penalty); }',
              '{ xf_session_params p = xf_session_default_params(); printf("session_default %zu %d %d %zu\\n", '
              'p.struct_size, (int)p.kv_type, p.kv_policy != NULL, p.kv_budget); }',
              "return 0; }"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", str(ROOT / "include"), str(src), "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    want = []
    for cname, cls in STRUCTS.items():
        want.append(f"{cname} sizeof {ctypes.sizeof(cls)}")
        want += [f"{cname} {f[0]} {getattr(cls, f[0]).offset}" for f in cls._fields_]
    mp, sp = _lib._model_default_params(), _lib._sampler_default_params()
    want.append(f"model_default {mp.struct_size} {mp.weights} {mp.n_threads}")
    want.append(f"sampler_default {sp.struct_size} {sp.temperature:g} {sp.top_k} {sp.top_p:g} {sp.min_p:g} "
                f"{sp.repetition_penalty:g}")
    ss = _lib._session_default_params()
    want.append(f"session_default {ss.struct_size} {ss.kv_type} {int(bool(ss.kv_policy))} {ss.kv_budget}")
    assert got == want
