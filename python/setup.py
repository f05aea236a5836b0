"""setup.py — bundles libxfmr.so into the package when there is one to bundle (the rest of the
metadata is in pyproject.toml).

The library bundled: $XFMR_BUNDLE_LIB (a path; "0" bundles nothing), else ../build/libxfmr.so
when it exists (`pip install ./python` after building the library). A wheel holding the library
is tagged for this platform (py3-none-linux_x86_64: ctypes needs no Python ABI); without it the
package is pure Python and finds the library through XFMR_LIB or the system (docs/PYTHON.md).
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def bundled_lib():
    env = os.environ.get("XFMR_BUNDLE_LIB")
    if env == "0":
        return None
    if env:
        if not os.path.isfile(env):
            raise SystemExit(f"XFMR_BUNDLE_LIB={env}: no such file")
        return os.path.realpath(env)
    cand = os.path.join(HERE, "..", "build", "libxfmr.so")
    return os.path.realpath(cand) if os.path.isfile(cand) else None


LIB = bundled_lib()


class BuildPy(build_py):
    def run(self):
        super().run()
        if LIB:
            dst = os.path.join(self.build_lib, "xfmr", "libxfmr.so")
            shutil.copyfile(LIB, dst)
            os.chmod(dst, 0o755)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return LIB is not None


cmdclass = {"build_py": BuildPy}
try:
    try:
        from setuptools.command.bdist_wheel import bdist_wheel
    except ImportError:
        from wheel.bdist_wheel import bdist_wheel

    class BdistWheel(bdist_wheel):
        def get_tag(self):
            python, abi, plat = super().get_tag()
            return ("py3", "none", plat) if LIB else (python, abi, plat)

    cmdclass["bdist_wheel"] = BdistWheel
except ImportError:
    pass

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
