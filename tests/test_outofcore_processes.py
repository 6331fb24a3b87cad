"""save_npy / fill_chunked in child processes: a signal mid-write leaves nothing behind, the
caller's SIGTERM disposition is kept, and multi-GiB writes stay in bounded memory."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastinit
from tests.helpers import interrupt_mid_write, npy_bytes, start_slow_writer

# Under start_slow_writer: >= 3 s for the whole file, time to interrupt.
_SLOW_WRITER = """
    import signal, sys
    import fastinit
    try:
        fastinit.save_npy(sys.argv[1], (64 * 2**20 // 4,), "random_uniform", seed=1,
                          chunk_bytes=2**20)
    except fastinit.WriteInterrupted as e:
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        print("INTERRUPTED", e.signum, e, flush=True)
        sys.exit(3)
    print("FINISHED", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_write_leaves_nothing(tmp_path, direct_io, sig):
    target = tmp_path / "big.npy"
    proc = start_slow_writer(_SLOW_WRITER, target)
    out, err = interrupt_mid_write(proc, tmp_path, sig)
    assert proc.returncode == 3, (out, err)
    assert f"INTERRUPTED {int(sig)}" in out
    assert "partial file was removed" in out
    assert os.listdir(tmp_path) == []


_DISPOSITION_WRITER = """
    import signal, sys
    import fastinit
    mode = sys.argv[2]
    calls = []
    if mode == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif mode == "handler":
        def handler(signum, frame):
            calls.append(signum)
        signal.signal(signal.SIGTERM, handler)
    elif mode == "exit":
        def handler(signum, frame):
            sys.exit(7)
        signal.signal(signal.SIGTERM, handler)
    before = signal.getsignal(signal.SIGTERM)
    fastinit.save_npy(sys.argv[1], (32 * 2**20 // 4,), "random_uniform", seed=1,
                      chunk_bytes=2**20)
    assert signal.getsignal(signal.SIGTERM) is before
    print("FINISHED", len(calls), flush=True)
"""


@pytest.mark.parametrize("mode", ["ignore", "handler", "exit"])
def test_sigterm_disposition_of_the_caller_is_kept(tmp_path, mode):
    """save_npy replaces only a default SIGTERM: an ignored SIGTERM stays ignored (the write
    finishes), a handler of the caller's is called and the write goes on, a handler that exits
    still gets the temporary file removed."""
    target = tmp_path / "t.npy"
    proc = start_slow_writer(_DISPOSITION_WRITER, target, mode)
    out, err = interrupt_mid_write(proc, tmp_path, signal.SIGTERM)
    if mode == "exit":
        assert proc.returncode == 7, (out, err)
        assert os.listdir(tmp_path) == []
        return
    assert proc.returncode == 0, (out, err)
    assert out.split() == ["FINISHED", "0" if mode == "ignore" else "1"]
    assert os.listdir(tmp_path) == ["t.npy"]
    n = 32 * 2**20 // 4
    assert target.read_bytes() == npy_bytes(fastinit.RandomUniform(seed=1)((n,)))


def _run_fresh(code):
    """Run `code` in a Python child started through /bin/sh.

    On Linux a process's ru_maxrss survives execve: a child spawned straight from this (possibly
    large) pytest process would report the parent's peak.  A child forked by a small shell starts
    from the shell's peak instead, so its ru_maxrss measures its own memory."""
    return subprocess.run(["/bin/sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, code],
                          capture_output=True, text=True, timeout=600)


def _free_bytes(path):
    return shutil.disk_usage(path).free


@pytest.mark.slow
def test_4gib_file_in_bounded_memory(tmp_path):
    """A 4 GiB file with peak RSS <= 256 MiB (measured in the child), spot-checked values."""
    if _free_bytes(tmp_path) < 10 * 2**30:
        pytest.skip(f"needs 10 GiB free in {tmp_path}, {_free_bytes(tmp_path) / 2**30:.1f} free")
    target = tmp_path / "huge.npy"
    n = 2**30  # float32: 4 GiB
    code = textwrap.dedent(f"""
        import resource, sys, time
        import fastinit
        t = time.perf_counter()
        fastinit.save_npy({str(target)!r}, ({n},), "random_uniform", seed=7)
        dt = time.perf_counter() - t
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, dt)
    """)
    try:
        res = _run_fresh(code)
        assert res.returncode == 0, res.stderr
        maxrss_kib, secs = res.stdout.split()
        peak_mib = int(maxrss_kib) / 1024
        assert peak_mib <= 256, f"peak RSS {peak_mib:.0f} MiB"
        arr = np.load(target, mmap_mode="r")
        assert arr.shape == (n,) and arr.dtype == np.float32
        stream = fastinit.RandomUniform(seed=7).stream((n,))
        for start in (0, 12345, 2**28 - 3, n - 1000):
            ref = stream.fill(np.empty(1000, np.float32), start)
            np.testing.assert_array_equal(arr[start:start + 1000], ref)
        del arr
    finally:
        target.unlink(missing_ok=True)
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_fill_chunked_memmap_bounded_rss(tmp_path):
    """Filling a 1 GiB np.memmap keeps the written pages out of the resident set."""
    if _free_bytes(tmp_path) < 4 * 2**30:
        pytest.skip("needs 4 GiB free")
    target = tmp_path / "mm.npy"
    code = textwrap.dedent(f"""
        import resource
        import numpy as np, fastinit
        mm = np.lib.format.open_memmap({str(target)!r}, mode="w+", dtype=np.float32,
                                       shape=(2**18, 1024))
        fastinit.fill_chunked(mm, "glorot_uniform", seed=3, chunk_elems=2**22)
        mm.flush()
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    try:
        res = _run_fresh(code)
        assert res.returncode == 0, res.stderr
        assert int(res.stdout) / 1024 <= 256
        arr = np.load(target, mmap_mode="r")
        ref = fastinit.GlorotUniform(seed=3).stream((2**18, 1024)).fill(
            np.empty((100, 1024), np.float32), start=2**17 * 1024)
        np.testing.assert_array_equal(arr[2**17:2**17 + 100], ref)
        del arr
    finally:
        target.unlink(missing_ok=True)
