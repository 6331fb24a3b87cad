"""Build fastinit's Cython extensions.

OpenMP is probed by compiling, linking and running a tiny program (as scikit-learn does): when
that works the extensions get -fopenmp, otherwise the build warns and goes serial.  Set
FASTINIT_NO_OPENMP=1 to force a serial build, FASTINIT_DEBUG=1 for -O0 -g.

No -march=native and no -ffast-math: a wheel must run on any x86-64 and give the same bits
everywhere.  -ffp-contract=off stops the compiler fusing a*b+c into an FMA on some paths and not
others, which would change the last bit of a stream.
"""

import glob
import os
import subprocess
import sys
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


def openmp_flags(compiler):
    """['-fopenmp'] when a probe program builds and runs with it, [] otherwise."""
    if os.environ.get("FASTINIT_NO_OPENMP"):
        return []
    if compiler.compiler_type == "msvc":
        return ["/openmp"]
    flags = ["-fopenmp"]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
            exe = os.path.join(tmp, "probe")
            compiler.link_executable(objs, exe, extra_postargs=flags)
            subprocess.run([exe], check=True, capture_output=True, timeout=60)
        except Exception as exc:  # any failure means: no usable OpenMP
            warnings.warn(
                f"fastinit: OpenMP probe failed ({exc}); building without OpenMP, "
                "every kernel will run on one thread."
            )
            return []
    return flags


class BuildExt(build_ext):
    def build_extensions(self):
        omp = openmp_flags(self.compiler)
        if self.compiler.compiler_type == "msvc":
            base = ["/O2", "/fp:precise"]
        elif os.environ.get("FASTINIT_DEBUG"):
            base = ["-O0", "-g", "-ffp-contract=off", "-fno-math-errno"]
        else:
            base = ["-O3", "-ffp-contract=off", "-fno-math-errno"]
        for ext in self.extensions:
            ext.extra_compile_args = base + omp
            ext.extra_link_args = omp
        super().build_extensions()


def extension(name):
    return Extension(
        f"fastinit.{name}",
        [f"fastinit/{name}.pyx"],
        include_dirs=[np.get_include(), "fastinit/src"],
        depends=sorted(glob.glob("fastinit/src/*.h")),  # header edits rebuild the extensions
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    )


extensions = [extension(n) for n in ("_fill", "_fans", "_openmp", "_orthogonal_lapack", "_testing")]

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
