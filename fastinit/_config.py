"""`show_config()`: what this build of fastinit is and will do."""

from __future__ import annotations

import platform
import sys
from typing import Any

import numpy as np


def config_info() -> dict[str, Any]:
    """The facts `show_config` prints, as a dict."""
    import fastinit
    from fastinit._fill import cpu_path, supported_cpu_paths
    from fastinit._openmp import openmp_enabled, openmp_max_threads

    return {
        "fastinit": fastinit.__version__,
        "stream_version": fastinit.STREAM_VERSION,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "openmp": openmp_enabled(),
        "openmp_max_threads": openmp_max_threads(),
        "threads": fastinit.get_num_threads(),
        # the widest path the kernels can run here (AVX-512 needs F, DQ, BW and VL)
        "cpu_supports": supported_cpu_paths()[-1],
        "code_path": cpu_path(),  # what the fill kernels run (FASTINIT_CPU can narrow it)
    }


def show_config() -> None:
    """Print the version, whether OpenMP is on, the thread count and the CPU code path."""
    info = config_info()
    print(f"fastinit {info['fastinit']} (stream version {info['stream_version']})")
    print(f"  python {info['python']}, numpy {info['numpy']}, {info['machine']}")
    print(f"  OpenMP: {'on' if info['openmp'] else 'off (serial build)'}")
    print(f"  threads: {info['threads']} (OpenMP limit {info['openmp_max_threads']})")
    print(f"  CPU code path: {info['code_path']} (CPU supports {info['cpu_supports']})")
