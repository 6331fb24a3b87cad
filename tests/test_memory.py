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

from tests.helpers import PEAK_RSS_CODE, reset_peak_rss

CHILD = PEAK_RSS_CODE + r"""
import gc, json, sys
import numpy as np
import fastinit

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
        reset_peak_rss()
        base = proc_status_bytes("VmRSS")
        a = init(shape, dtype=dtype)
        new = proc_status_bytes("VmHWM") - base - a.nbytes
        reset_peak_rss()
        base = proc_status_bytes("VmRSS")
        init(shape, dtype=dtype, out=a)
        out = proc_status_bytes("VmHWM") - base
        results.append((name, dtype, a.nbytes, new, out))
        del a
        gc.collect()
json.dump(results, sys.stdout)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not reset_peak_rss(),
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
