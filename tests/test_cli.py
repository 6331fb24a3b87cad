"""The `fastinit` command (fastinit.cli): create / info, errors as one line with exit codes."""

import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

import fastinit
from fastinit.cli import main
from tests.helpers import interrupt_mid_write, one_error_line, run_cli, start_slow_writer


def test_create_summary_and_values(tmp_path):
    p = tmp_path / "emb.npy"
    r = run_cli("create", p, "--shape", "1000,64", "--init", "glorot_uniform", "--seed", "0",
                "--dtype", "float32", "--threads", "2")
    assert r.returncode == 0, r.stderr
    ref = fastinit.GlorotUniform(seed=0)((1000, 64))
    np.testing.assert_array_equal(np.load(p), ref)
    out = r.stdout
    assert "(1000, 64)" in out and "float32" in out and "256,000 bytes" in out
    assert "GB/s" in out and " s " in out
    # mean/std/min/max computed from the file
    stats = [ln for ln in out.splitlines() if ln.strip().startswith("values")][0].split()[1:]
    values = dict(item.split("=") for item in stats)
    assert float(values["mean"]) == pytest.approx(ref.astype(np.float64).mean(), rel=1e-5)
    assert float(values["std"]) == pytest.approx(ref.astype(np.float64).std(), rel=1e-5)
    assert float(values["min"]) == pytest.approx(float(ref.min()), rel=1e-5)
    assert float(values["max"]) == pytest.approx(float(ref.max()), rel=1e-5)
    assert r.stderr == ""  # small arrays show no progress bar


def test_create_kwargs_and_bfloat16(tmp_path, capsys):
    p = tmp_path / "vs.npy"
    assert main(["create", str(p), "--shape", "300,7", "--init", "variance_scaling",
                 "--seed", "4", "scale=2.5", "mode=fan_out", "--dtype", "bfloat16",
                 "distribution='uniform'"]) == 0
    ref = fastinit.VarianceScaling(2.5, "fan_out", "uniform", seed=4)((300, 7), "bfloat16")
    np.testing.assert_array_equal(np.load(p).view(ref.dtype).view(np.uint16),
                                  ref.view(np.uint16))
    assert "seed=4" in capsys.readouterr().out


def test_unseeded_create_reports_its_seed(tmp_path, capsys):
    p = tmp_path / "r.npy"
    assert main(["create", str(p), "--shape", "50", "--init", "random_normal",
                 "--no-stats"]) == 0
    out = capsys.readouterr().out
    seed = int(out.split("seed=")[1].split()[0])
    np.testing.assert_array_equal(np.load(p), fastinit.RandomNormal(seed=seed)((50,)))
    assert "values" not in out


def test_progress_bar_on_stderr(tmp_path):
    p = tmp_path / "big.npy"
    r = run_cli("create", p, "--shape", f"{2**24}", "--init", "random_uniform", "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert "100%" in r.stderr and "big.npy" in r.stderr
    r = run_cli("create", p, "--shape", f"{2**24}", "--init", "random_uniform", "--seed", "1",
                "--force", "--no-progress", "--no-stats")
    assert r.returncode == 0 and r.stderr == ""


@pytest.mark.parametrize("args,match", [
    (["--shape", "10,a"], "invalid --shape"),
    (["--shape", "10,-3"], "invalid --shape"),
    (["--shape", "10", "--init", "no_such_init"], "Could not interpret initializer"),
    (["--shape", "10", "--init", "random_normal", "stddev=-1"], "stddev"),
    (["--shape", "10", "--init", "random_normal", "bogus=1"], "bogus"),
    (["--shape", "10", "--dtype", "int7"], "dtype"),
    (["--shape", "10", "--init", "random_normal", "--dtype", "int32"], "floating-point"),
    (["--shape", "10,10", "--init", "orthogonal"], "--allow-in-memory"),
    (["--shape", "10", "notakwarg"], "key=value"),
    (["--shape", "10", "--threads", "0"], "threads"),
    ([], "--shape"),
])
def test_usage_errors(tmp_path, capsys, args, match):
    p = tmp_path / "x.npy"
    assert main(["create", str(p), *args]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert match in line
    assert not p.exists()


def test_usage_errors_through_subprocess(tmp_path):
    r = run_cli("create", tmp_path / "x.npy", "--shape", "1x")
    assert r.returncode == 2
    assert "invalid --shape" in one_error_line(r.stderr)
    r = run_cli("create", tmp_path / "x.npy", "--shape", "3", "--init", "nope")
    assert r.returncode == 2
    assert "nope" in one_error_line(r.stderr)
    r = run_cli("frobnicate")
    assert r.returncode == 2
    one_error_line(r.stderr)
    assert os.listdir(tmp_path) == []


def test_refuses_to_overwrite(tmp_path):
    p = tmp_path / "keep.npy"
    np.save(p, np.arange(3))
    before = p.read_bytes()
    r = run_cli("create", p, "--shape", "5", "--init", "ones")
    assert r.returncode == 1
    assert "--force" in one_error_line(r.stderr)
    assert p.read_bytes() == before
    r = run_cli("create", p, "--shape", "5", "--init", "ones", "--force")
    assert r.returncode == 0, r.stderr
    assert (np.load(p) == 1).all()


def test_io_errors(tmp_path, capsys):
    assert main(["create", str(tmp_path / "no" / "dir.npy"), "--shape", "3"]) == 1
    assert "does not exist" in one_error_line(capsys.readouterr().err)
    f = tmp_path / "f"
    f.write_bytes(b"")
    assert main(["create", str(f / "x.npy"), "--shape", "3"]) == 1
    one_error_line(capsys.readouterr().err)
    assert main(["info", str(tmp_path / "missing.npy")]) == 1
    assert "No such file" in one_error_line(capsys.readouterr().err)
    assert main(["info", str(f)]) == 1
    assert "not a valid .npy" in one_error_line(capsys.readouterr().err)


def test_info(tmp_path):
    p = tmp_path / "i.npy"
    np.save(p, np.zeros((7, 3), np.float16))
    r = run_cli("info", p)
    assert r.returncode == 0, r.stderr
    assert "(7, 3)" in r.stdout and "float16" in r.stdout and "42 bytes" in r.stdout
    # bfloat16 is stored as raw 2-byte values: say so.
    fastinit.save_npy(tmp_path / "b.npy", (4, 4), "zeros", "bfloat16")
    r = run_cli("info", tmp_path / "b.npy")
    assert r.returncode == 0 and "bfloat16" in r.stdout
    # A truncated file is reported.
    data = p.read_bytes()
    p.write_bytes(data[:-5])
    r = run_cli("info", p)
    assert r.returncode == 1 and "truncated" in r.stdout


def test_info_reads_only_the_header(tmp_path, capsys):
    p = tmp_path / "sparse.npy"
    header = fastinit._npy.npy_header((2**20, 2**20), np.dtype(np.float32))
    try:
        with open(p, "wb") as f:  # a 4 TiB sparse file: info must not read it
            f.write(header)
            f.truncate(len(header) + 2**42)
    except OSError as e:
        pytest.skip(f"this filesystem cannot hold a sparse 4 TiB file: {e}")
    t = time.perf_counter()
    assert main(["info", str(p)]) == 0
    assert time.perf_counter() - t < 5
    assert "(1048576, 1048576)" in capsys.readouterr().out


def test_console_script(tmp_path):
    exe = shutil.which("fastinit")
    if exe is None:
        pytest.skip("the fastinit console script is not installed")
    r = subprocess.run([exe, "create", str(tmp_path / "c.npy"), "--shape", "4,4",
                        "--init", "identity"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), np.eye(4, dtype=np.float32))


def test_sigterm_during_create(tmp_path, direct_io):
    """SIGTERM mid-write: exit status 143, one line on stderr, no file, no temp file."""
    code = """
        import sys
        from fastinit.cli import main
        sys.exit(main(sys.argv[1:]))
    """
    target = tmp_path / "t.npy"
    proc = start_slow_writer(code, "create", target, "--shape", f"{2**24}", "--chunk-mib", "1",
                             "--no-progress")
    out, err = interrupt_mid_write(proc, tmp_path, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, (out, err)
    assert "SIGTERM" in one_error_line(err)
    assert os.listdir(tmp_path) == []


# ---- the summary: statistics from the chunks, one computation --------------------------------


def _values_line(out):
    line = [ln for ln in out.splitlines() if ln.strip().startswith("values")][0]
    return dict(item.split("=") for item in line.split()[1:])


def _close(got, ref):
    """Equal up to float64 rounding: 1e-12 relative, min/max exact.  The mean is compared
    relative to the std as well, as it can be ~0 (then its rounding is relative to the values'
    scale, not to itself)."""
    mean, std, lo, hi = got
    assert abs(mean - ref[0]) <= 1e-12 * max(abs(ref[0]), ref[1])
    assert std == pytest.approx(ref[1], rel=1e-12, abs=0)
    assert (lo, hi) == (ref[2], ref[3])


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16", "float64"])
def test_summary_statistics_come_from_the_chunks(tmp_path, capsys, monkeypatch, dtype):
    """The printed mean/std/min/max are computed while writing, not by reading the file back
    (which took longer than the write for a multi-GB file), and equal npy_stats of the file."""
    from fastinit import _files, _npy

    seen = []
    real = _npy.write_npy

    def spy(*a, **k):
        res = real(*a, **k)
        seen.append(res)
        return res

    def no_read_back(*a, **k):
        raise AssertionError("the statistics must not be read back from the file")

    monkeypatch.setattr(_npy, "write_npy", spy)
    monkeypatch.setattr(_npy, "npy_stats", no_read_back)
    p = tmp_path / "s.npy"
    # 1 MiB chunks: several chunks, the last one partial.
    assert main(["create", str(p), "--shape", "700,1001", "--init", "random_normal",
                 "mean=0.25", "--seed", "3", "--dtype", dtype, "--chunk-mib", "1"]) == 0
    out = capsys.readouterr().out
    monkeypatch.undo()
    (stats,) = seen
    ref_dt = fastinit.RandomNormal(seed=3)((1,), dtype).dtype
    _close(stats, _npy.npy_stats(p, dtype=ref_dt))
    x = np.load(p).view(ref_dt).astype(np.float64)
    _close(stats, (x.mean(), x.std(), x.min(), x.max()))
    printed = _values_line(out)
    assert printed == {k: f"{v:.6g}" for k, v in zip(("mean", "std", "min", "max"), stats)}


def test_statistics_do_not_depend_on_the_chunk_size(tmp_path):
    from fastinit import _files, _npy

    init = fastinit.TruncatedNormal(mean=1.0, stddev=0.5, seed=9)
    results = []
    for chunk_elems in [1, 7, 1000, 2**16 + 3, 2**20]:
        target = _files.resolve_target(str(tmp_path / "c.npy"), True)
        source = init.source((129, 1031), "bfloat16")
        stats = _npy.write_npy(target, source, chunk_bytes=2 * chunk_elems, stats=True)
        results.append(stats)
    for r in results[1:]:
        _close(r, results[0])


def test_statistics_of_integer_and_constant_values(tmp_path, capsys):
    assert main(["create", str(tmp_path / "i.npy"), "--shape", "30,7", "--init", "identity",
                 "gain=3", "--dtype", "int16"]) == 0
    v = _values_line(capsys.readouterr().out)
    x = np.eye(30, 7) * 3
    assert v == {"mean": f"{x.mean():.6g}", "std": f"{x.std():.6g}", "min": "0", "max": "3"}
    # complex values have no std: no values line, and no warning either
    assert main(["create", str(tmp_path / "c.npy"), "--shape", "3", "--init", "ones",
                 "--dtype", "complex64"]) == 0
    cap = capsys.readouterr()
    assert "values" not in cap.out and cap.err == ""


def test_running_stats_nan_and_empty():
    from fastinit._stats import RunningStats

    assert all(np.isnan(RunningStats().result()))
    s = RunningStats().update(np.array([1.0, np.nan, -5.0])).update(np.array([2.0]))
    assert all(np.isnan(s.result()))
    s = RunningStats().update(np.array([1.0, 2.0])).update(np.array([np.nan]))
    assert all(np.isnan(s.update(np.array([0.0])).result()))


def test_allow_in_memory_computes_orthogonal_once(tmp_path, capsys, monkeypatch):
    calls = []
    real = fastinit.Orthogonal.__call__

    def spy(self, shape, dtype=None, **kw):
        calls.append(shape)
        return real(self, shape, dtype, **kw)

    monkeypatch.setattr(fastinit.Orthogonal, "__call__", spy)
    p = tmp_path / "o.npy"
    assert main(["create", str(p), "--shape", "96,64", "--init", "orthogonal", "--seed", "2",
                 "--allow-in-memory", "--chunk-mib", "1"]) == 0
    assert calls == [(96, 64)]
    monkeypatch.undo()
    np.testing.assert_array_equal(np.load(p), fastinit.Orthogonal(seed=2)((96, 64)))
    # The destination is checked before the computation: an existing file without --force
    # costs nothing.
    monkeypatch.setattr(fastinit.Orthogonal, "__call__", spy)
    assert main(["create", str(p), "--shape", "96,64", "--init", "orthogonal",
                 "--allow-in-memory"]) == 1
    assert "--force" in one_error_line(capsys.readouterr().err)
    assert calls == [(96, 64)]


def test_create_stft_with_window_arguments(tmp_path, capsys):
    p = tmp_path / "stft.npy"
    assert main(["create", str(p), "--shape", "64,1,33", "--init", "stft", "window=hamming",
                 "periodic=True", "side=imag"]) == 0
    expected = fastinit.STFT(side="imag", window="hamming", periodic=True)((64, 1, 33))
    assert np.load(p).tobytes() == expected.tobytes()
    assert main(["create", str(tmp_path / "bad.npy"), "--shape", "64,33", "--init", "stft"]) == 2
    assert "3-D shapes" in capsys.readouterr().err
