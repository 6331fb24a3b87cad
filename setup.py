"""Build fastinit's Cython extensions.

OpenMP is probed by compiling, linking and running a tiny program (as scikit-learn does): when
that works the extensions get -fopenmp, otherwise the build warns and goes serial.  Set
FASTINIT_NO_OPENMP=1 to force a serial build, FASTINIT_DEBUG=1 for -O0 -g.

FASTINIT_SANITIZE=address,undefined (or =1, the same) builds with AddressSanitizer and
UndefinedBehaviorSanitizer (plus float-cast-overflow, which gcc leaves out of "undefined"):
-fsanitize=... -fno-omit-frame-pointer -fno-sanitize-recover=... -g -O1 on compile and link,
-ffp-contract=off kept.  The OpenMP probe is built and run with the same flags, and a sanitizer
build that cannot get OpenMP stops with an error instead of going serial (a serial build would not
exercise the threaded code).  Such a build only imports with the sanitizer runtimes preloaded;
.ci/sanitize builds one in a scratch copy and runs the tests under it.

No -march=native and no -ffast-math: a wheel must run on any x86-64 and give the same bits
everywhere.  -ffp-contract=off stops the compiler fusing a*b+c into an FMA on some paths and not
others, which would change the last bit of a stream.
"""

import glob
import os
import subprocess
import tempfile
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_PROBE = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d %d\n", n, omp_get_max_threads());
    return n == omp_get_max_threads() ? 0 : 1;
}
"""


SANITIZERS = ("address", "undefined")


def sanitize_flags():
    """Compile-and-link flags for FASTINIT_SANITIZE, [] when it is unset, empty or 0."""
    value = os.environ.get("FASTINIT_SANITIZE", "").strip().lower()
    if value in ("", "0"):
        return []
    names = list(SANITIZERS) if value == "1" else [v.strip() for v in value.split(",") if v.strip()]
    unknown = sorted(set(names) - set(SANITIZERS))
    if unknown or not names:
        raise RuntimeError(
            f"fastinit: FASTINIT_SANITIZE={value!r}: use 1 or a comma-separated subset of "
            f"{','.join(SANITIZERS)} (the thread sanitizer reports false races inside libgomp)"
        )
    if "undefined" in names:
        # gcc leaves float-to-integer overflow (undefined in C) out of "undefined"; clang has it
        names.append("float-cast-overflow")
    flags = ["-fsanitize=" + ",".join(names), "-fno-omit-frame-pointer", "-g", "-O1"]
    if "undefined" in names:  # the first report stops the process
        flags.append("-fno-sanitize-recover=undefined,float-cast-overflow")
    return flags


def openmp_flags(compiler, extra=(), required=False):
    """['-fopenmp'] when a probe program builds and runs with it (compiled and linked with the
    `extra` flags too, e.g. the sanitizer's), [] otherwise; when `required`, a failure raises
    instead of falling back to a serial build."""
    if os.environ.get("FASTINIT_NO_OPENMP"):
        return []
    if compiler.compiler_type == "msvc":
        return ["/openmp"]
    flags = ["-fopenmp"]
    extra = list(extra)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        # A sanitized probe must not inherit a preloaded runtime (LD_PRELOAD) that it may not
        # match, nor stop on a leak report: it is an executable linked with its own runtime.
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        env["ASAN_OPTIONS"] = "detect_leaks=0"
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=extra + flags)
            exe = os.path.join(tmp, "probe")
            compiler.link_executable(objs, exe, extra_postargs=extra + flags)
            subprocess.run([exe], check=True, capture_output=True, timeout=60, env=env)
        except Exception as exc:  # any failure means: no usable OpenMP
            detail = exc
            if isinstance(exc, subprocess.CalledProcessError):
                detail = f"{exc}; stderr: {exc.stderr.decode(errors='replace').strip()}"
            if required:
                raise RuntimeError(
                    f"fastinit: the OpenMP probe failed with the sanitizer flags {extra} "
                    f"({detail}); a sanitizer build without OpenMP would not test the threaded "
                    "kernels (set FASTINIT_NO_OPENMP=1 as well to build a serial one on purpose)"
                ) from exc
            warnings.warn(
                f"fastinit: OpenMP probe failed ({detail}); building without OpenMP, "
                "every kernel will run on one thread."
            )
            return []
    return flags


class BuildExt(build_ext):
    def build_extensions(self):
        san = sanitize_flags()
        if san and self.compiler.compiler_type == "msvc":
            raise RuntimeError("fastinit: FASTINIT_SANITIZE needs gcc or clang")
        omp = openmp_flags(self.compiler, extra=san, required=bool(san))
        if self.compiler.compiler_type == "msvc":
            base = ["/O2", "/fp:precise"]
        elif san:  # its -g -O1 come last and win over Python's own -O3
            base = ["-ffp-contract=off", "-fno-math-errno"] + san
        elif os.environ.get("FASTINIT_DEBUG"):
            base = ["-O0", "-g", "-ffp-contract=off", "-fno-math-errno"]
        else:
            base = ["-O3", "-ffp-contract=off", "-fno-math-errno"]
        if san:
            print(f"fastinit: sanitizer build {' '.join(san)}; OpenMP {omp or 'off'}")
        for ext in self.extensions:
            ext.extra_compile_args = base + omp
            ext.extra_link_args = san + omp
        super().build_extensions()


def extension(name):
    return Extension(
        f"fastinit.{name}",
        [f"fastinit/{name}.pyx"],
        include_dirs=[np.get_include(), "fastinit/src"],
        depends=sorted(glob.glob("fastinit/src/**/*.h", recursive=True)),  # header edits rebuild the extensions
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    )


extensions = [extension(n) for n in
              ("_fill", "_fans", "_openmp", "_orthogonal_lapack", "_select", "_testing")]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
            "binding": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
