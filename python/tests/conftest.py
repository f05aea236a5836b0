"""Shared fixtures of the xfmr Python tests.

The tests use the library named by XFMR_LIB (ctest sets it to the build's libxfmr.so) and the
CLI named by XFMR_CLI (else the source tree's build/xfmr) as the reference. A missing model or
CLI skips the tests that need it; with XF_REQUIRE_ALL=1 (CI) a skip is a failure instead.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))  # the package of this tree, not an installed one

import xfmr  # noqa: E402

# tests/test_python.sh preloads the ASan runtime into this interpreter when the library is a
# sanitizer build; the programs the tests start (the CLI, the C compiler) must not inherit it.
os.environ.pop("LD_PRELOAD", None)

ENCODER = "all-MiniLM-L6-v2"
DECODER = "SmolLM2-135M-Instruct"
THREADS = 2
# The sanitizer build (tests/test_python.sh sets XF_T_SANITIZED=1, like the C tests' macro) runs
# a thinner sample: generation under ASan is ~10x slower. The Release pass checks everything.
SANITIZED = os.environ.get("XF_T_SANITIZED") == "1"


def require(cond, why):
    if not cond:
        if os.environ.get("XF_REQUIRE_ALL") == "1":
            pytest.fail(f"XF_REQUIRE_ALL=1: {why}")
        pytest.skip(why)


def _model_path(name):
    try:
        return xfmr._model.resolve_model(name)
    except xfmr.ModelNotFoundError:
        return None


@pytest.fixture(scope="session")
def cli():
    """Path of the xfmr CLI (the reference the binding is compared with)."""
    path = os.environ.get("XFMR_CLI") or str(ROOT / "build" / "xfmr")
    require(os.access(path, os.X_OK) or shutil.which(path), f"xfmr CLI not found at {path}")
    return path


def run_cli(cli, *args, stdin=None):
    r = subprocess.run([cli, *args], input=stdin, capture_output=True, timeout=600)
    assert r.returncode == 0, f"xfmr {' '.join(args)} failed ({r.returncode}): {r.stderr.decode(errors='replace')}"
    return r.stdout


@pytest.fixture(scope="session")
def encoder_path():
    p = _model_path(ENCODER)
    require(p, f"model {ENCODER} missing (scripts/fetch_models.sh {ENCODER})")
    return p


@pytest.fixture(scope="session")
def decoder_path():
    p = _model_path(DECODER)
    require(p, f"model {DECODER} missing (scripts/fetch_models.sh {DECODER})")
    return p


@pytest.fixture(scope="module")
def encoder(encoder_path):
    with xfmr.SentenceEncoder(encoder_path, threads=THREADS) as m:
        yield m


@pytest.fixture(scope="module")
def llm(decoder_path):
    with xfmr.LLM(decoder_path, threads=THREADS) as m:
        yield m
