"""Peak memory of the fills, measured in a subprocess: a new array costs the output plus at most
16 MiB, in every dtype (float16 and bfloat16 are rounded tile by tile, never through a float32
copy); `out=` allocates nothing.

The child resets its peak-RSS counter (/proc/self/clear_refs, "5") before each case and reads
VmHWM after it: ru_maxrss cannot be used, since a child's starts at its parent's peak."""

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import gc, json, sys
import numpy as np
import fastinit

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)

def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

inits = {
    "glorot_uniform": fastinit.GlorotUniform(seed=0),
    "random_normal": fastinit.RandomNormal(seed=0),
    "truncated_normal": fastinit.TruncatedNormal(seed=0),
    "he_normal": fastinit.HeNormal(seed=0),
    "variance_scaling": fastinit.VarianceScaling(distribution="untruncated_normal", seed=0),
    "random_uniform": fastinit.RandomUniform(seed=0),
    "ones": fastinit.Ones(),
    "constant": fastinit.Constant(0.5),
}
shape = (4096, 4096)
results = []
for dtype in ("float32", "float64", "float16", "bfloat16"):
    for name, init in inits.items():
        init((8, 8), dtype=dtype)            # warm-up: lazy imports and caches
        gc.collect()
        reset_peak()
        base = status("VmRSS")
        a = init(shape, dtype=dtype)
        new = status("VmHWM") - base - a.nbytes
        reset_peak()
        base = status("VmRSS")
        init(shape, dtype=dtype, out=a)
        out = status("VmHWM") - base
        results.append((name, dtype, a.nbytes, new, out))
        del a
        gc.collect()
json.dump(results, sys.stdout)
"""


def _clear_refs_works():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _clear_refs_works(),
                    reason="needs Linux /proc/self/clear_refs to reset the peak RSS")
def test_fill_peak_memory_is_output_plus_16_mib():
    res = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         check=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    results = json.loads(res.stdout)
    assert len(results) == 32
    mib = 2**20
    for name, dtype, nbytes, extra_new, extra_out in results:
        assert extra_new <= 16 * mib, (name, dtype, nbytes, extra_new / mib)
        # out=: nothing allocated (a page or two of interpreter noise at most)
        assert extra_out <= 1 * mib, (name, dtype, extra_out / mib)
