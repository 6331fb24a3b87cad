"""Helpers shared by the test modules (the fixtures are in conftest.py)."""

import glob
import inspect
import io
import os
import subprocess
import sys
import textwrap
import time

import numpy as np

from benchmarks.benchmarks._helpers import proc_status_bytes, reset_peak_rss
from fastinit._files import TEMP_SUFFIX

FLOAT_DTYPES = ["float32", "float64", "float16", "bfloat16"]


def dtype_of(name):
    from fastinit._validation import resolve_dtype

    return resolve_dtype(name)


def as_f64(a):
    return np.asarray(a).astype(np.float64)


# ---- bits ------------------------------------------------------------------------------------


def same_bits(a, b):
    """a and b have the same shape, the same dtype and the same bytes (NaN payloads included)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def rounding_inputs(nans=True):
    """float32 inputs for the float16 / bfloat16 rounding tests, each with its negative: every
    float32 (in steps of 7) around float16's subnormal / normal boundary, every one around its
    overflow edge, special values, the bfloat16 rounding carries, NaN payloads (unless
    nans=False: numpy and ml_dtypes keep payloads that fastinit does not) and 2.4 million random
    bit patterns.  The length is 32 k + 13, so that vector loops end in a scalar tail."""
    special = np.array([0.0, 65504.0, 65519.99, 65519.996, 65520.0, 65536.0, 1e10, 2.0**-14,
                        2.0**-24, 2.0**-25, 1.5 * 2.0**-25, 2.0**-26, 3.0 * 2.0**-26,
                        3.0 * 2.0**-25, 2.0**-14 - 2.0**-25, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11,
                        3.4e38, 1e-45, 1.0000001, 0.99999994, np.inf, np.nan], np.float32)
    bits = [
        np.arange(0x33000000 - 4096, 0x38800000 + 4096, 7, dtype=np.uint32),
        np.arange(0x477FE000 - 65536, 0x47800000 + 8192, dtype=np.uint32),
        # the largest float32, the bfloat16 rounding carries, NaN payloads
        np.array([0x7F7FFFFF, 0x3F80FFFF, 0x3F808000, 0x3F818000, 0xBF808000,
                  0x7F800001, 0x7FC00000, 0x7FFFFFFF], np.uint32),
    ]
    x = np.concatenate([special] + [b.view(np.float32) for b in bits])
    random = np.random.default_rng(3).integers(0, 2**32, 2_400_000, dtype=np.uint64)
    x = np.concatenate([x, -x, random.astype(np.uint32).view(np.float32)])
    if not nans:
        x = x[~np.isnan(x)]
    return np.ascontiguousarray(x[:len(x) - (len(x) - 13) % 32])  # drops a few random values


# ---- .npy files, their temporary files, and writers interrupted mid-write ------------------


def npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def leftovers(directory):
    return glob.glob(os.path.join(str(directory), "." + "*" + TEMP_SUFFIX))


def wait_for_temp(directory, proc, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if leftovers(directory):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


# Starts a child script: every chunk write takes 0.05 s more, time enough to interrupt it.
SLOW_WRITES = textwrap.dedent("""
    import signal
    import time
    # A non-interactive shell starts background jobs with SIGINT ignored, and a Python started
    # so leaves it ignored: give the writer the KeyboardInterrupt handler it has at a terminal,
    # however the test run was launched.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from fastinit import _chunks
    _write_all = _chunks.write_all
    def _slow_write_all(fd, buf):
        time.sleep(0.05)
        _write_all(fd, buf)
    _chunks.write_all = _slow_write_all
""")


def start_slow_writer(code, *args):
    """`python -c SLOW_WRITES + code *args`, its stdout and stderr captured as text."""
    return subprocess.Popen([sys.executable, "-c", SLOW_WRITES + textwrap.dedent(code),
                             *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt_mid_write(proc, directory, sig):
    """Sends `sig` to `proc` 0.2 s after its temporary file appears in `directory`; returns
    its (stdout, stderr).  The process is killed if it is still running after that."""
    try:
        assert wait_for_temp(directory, proc), proc.communicate()
        time.sleep(0.2)
        proc.send_signal(sig)
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


# ---- the command line ------------------------------------------------------------------------


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "fastinit", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def one_error_line(stderr):
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("fastinit:")
    return lines[0]


# ---- peak memory (Linux) ---------------------------------------------------------------------

# One /proc/self/status reader and VmHWM reset for the tests and the benchmarks: theirs, since asv
# can import nothing outside benchmarks/benchmarks.  Their source, to begin a child script
# (`python -c`) with: a child that measures its own memory imports nothing from the repository.
PEAK_RSS_CODE = "\n\n".join(inspect.getsource(f) for f in (proc_status_bytes, reset_peak_rss))
