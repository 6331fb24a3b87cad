"""The `fastinit` command (fastinit.cli): create / info, errors as one line with exit codes."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastinit
from fastinit.cli import main


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "fastinit", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def _one_error_line(stderr):
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("fastinit:")
    return lines[0]


def test_create_summary_and_values(tmp_path):
    p = tmp_path / "emb.npy"
    r = run("create", p, "--shape", "1000,64", "--init", "glorot_uniform", "--seed", "0",
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
    r = run("create", p, "--shape", f"{2**24}", "--init", "random_uniform", "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert "100%" in r.stderr and "big.npy" in r.stderr
    r = run("create", p, "--shape", f"{2**24}", "--init", "random_uniform", "--seed", "1",
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
    line = _one_error_line(capsys.readouterr().err)
    assert match in line
    assert not p.exists()


def test_usage_errors_through_subprocess(tmp_path):
    r = run("create", tmp_path / "x.npy", "--shape", "1x")
    assert r.returncode == 2
    assert "invalid --shape" in _one_error_line(r.stderr)
    r = run("create", tmp_path / "x.npy", "--shape", "3", "--init", "nope")
    assert r.returncode == 2
    assert "nope" in _one_error_line(r.stderr)
    r = run("frobnicate")
    assert r.returncode == 2
    _one_error_line(r.stderr)
    assert os.listdir(tmp_path) == []


def test_refuses_to_overwrite(tmp_path):
    p = tmp_path / "keep.npy"
    np.save(p, np.arange(3))
    before = p.read_bytes()
    r = run("create", p, "--shape", "5", "--init", "ones")
    assert r.returncode == 1
    assert "--force" in _one_error_line(r.stderr)
    assert p.read_bytes() == before
    r = run("create", p, "--shape", "5", "--init", "ones", "--force")
    assert r.returncode == 0, r.stderr
    assert (np.load(p) == 1).all()


def test_io_errors(tmp_path, capsys):
    assert main(["create", str(tmp_path / "no" / "dir.npy"), "--shape", "3"]) == 1
    assert "does not exist" in _one_error_line(capsys.readouterr().err)
    f = tmp_path / "f"
    f.write_bytes(b"")
    assert main(["create", str(f / "x.npy"), "--shape", "3"]) == 1
    _one_error_line(capsys.readouterr().err)
    assert main(["info", str(tmp_path / "missing.npy")]) == 1
    assert "No such file" in _one_error_line(capsys.readouterr().err)
    assert main(["info", str(f)]) == 1
    assert "not a valid .npy" in _one_error_line(capsys.readouterr().err)


def test_info(tmp_path):
    p = tmp_path / "i.npy"
    np.save(p, np.zeros((7, 3), np.float16))
    r = run("info", p)
    assert r.returncode == 0, r.stderr
    assert "(7, 3)" in r.stdout and "float16" in r.stdout and "42 bytes" in r.stdout
    # bfloat16 is stored as raw 2-byte values: say so.
    fastinit.save_npy(tmp_path / "b.npy", (4, 4), "zeros", "bfloat16")
    r = run("info", tmp_path / "b.npy")
    assert r.returncode == 0 and "bfloat16" in r.stdout
    # A truncated file is reported.
    data = p.read_bytes()
    p.write_bytes(data[:-5])
    r = run("info", p)
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


def test_sigterm_during_create(tmp_path):
    """SIGTERM mid-write: exit status 143, one line on stderr, no file, no temp file."""
    code = (
        "import sys, time\n"
        "from fastinit import _chunks\n"
        "real = _chunks.write_all\n"
        "def slow(fd, buf):\n"
        "    time.sleep(0.05)\n"
        "    real(fd, buf)\n"
        "_chunks.write_all = slow\n"
        "from fastinit.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    target = tmp_path / "t.npy"
    proc = subprocess.Popen([sys.executable, "-c", code, "create", str(target), "--shape",
                             f"{2**24}", "--chunk-mib", "1", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        while not any(n.endswith(".fastinit-tmp") for n in os.listdir(tmp_path)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - t0 < 60
            time.sleep(0.01)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, (out, err)
    assert "SIGTERM" in _one_error_line(err)
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
    assert "--force" in _one_error_line(capsys.readouterr().err)
    assert calls == [(96, 64)]


# ---- fuzzing the arguments: one line, exit status 2, never a traceback ------------------------

BIG = "9" * 321

FUZZ = [
    # huge ints in key=value (an OverflowError traceback before)
    (["--init", "random_normal", f"mean={BIG}"], "`mean`"),
    (["--init", "random_normal", f"mean=-{BIG}"], "`mean`"),
    (["--init", "random_normal", f"stddev={BIG}"], "`stddev`"),
    (["--init", "random_uniform", f"maxval={BIG}"], "`maxval`"),
    (["--init", "truncated_normal", f"stddev={BIG}"], "`stddev`"),
    (["--init", "variance_scaling", f"scale={BIG}"], "`scale`"),
    (["--init", "constant", f"value={BIG}"], "`value`"),
    (["--init", "constant", f"value={BIG}", "--dtype", "int8"], "`value`"),
    (["--init", "constant", f"value=[1, {BIG}, 2]"], "`value`"),
    (["--init", "identity", f"gain={BIG}", "--shape", "3,3"], "`gain`"),
    (["--init", "orthogonal", f"gain={BIG}", "--shape", "3,3", "--allow-in-memory"], "`gain`"),
    (["--init", "random_normal", "mean=" + "1" * 5000], "mean"),  # beyond int's digit limit
    # nested and odd literals
    (["--init", "constant", "value=" + "[" * 200 + "]" * 200], "dimension"),
    (["--init", "constant", "value=" + "[" * 5000 + "1" + "]" * 5000], "value"),
    (["--init", "constant", "value={'a': 1}"], "value"),
    (["--init", "constant", "value={1, 2}"], "value"),
    (["--init", "constant", "value=(1, 'a')"], "value"),
    (["--init", "constant", "value=1j"], "value"),
    (["--init", "constant", "value=None"], "value"),
    (["--init", "constant", "value="], "value"),
    (["--init", "constant", "value=1e400"], "value"),
    (["--init", "variance_scaling", "mode=[1]"], "mode"),
    (["--init", "random_normal", "mean=1", "mean=2"], "given twice"),
    (["--init", "random_normal", "seed=1", "--seed", "2"], "seed is given twice"),
    (["--init", "random_normal", "--seed", "-1"], "seed"),
    (["--init", "random_normal", "--seed", "1.5"], "--seed"),
    # weird unicode and empty strings
    (["--init", ""], "Could not interpret"),
    (["--init", "\u2603"], "Could not interpret"),
    (["--init", "random_normal", "\u00e9=1"], "\u00e9"),
    (["--init", "random_normal", "\u2603=1"], "key=value"),
    (["--init", "random_normal", "=1"], "key=value"),
    (["--init", "random_normal", ""], "key=value"),
    (["--init", "random_normal", "mean=\u0661"], "mean"),
    (["--init", "random_normal", "mean=\x00"], "mean"),
    # bad shapes
    (["--shape", "1e3"], "invalid --shape"),
    (["--shape", "-1"], "invalid --shape"),
    (["--shape", "99999999999999999999,2"], "too large"),
    (["--shape", "4294967296,4294967296"], "too large"),
    (["--shape", BIG], "too large"),
    (["--shape", "9" * 5000], "invalid --shape"),
    (["--shape", "3,,4"], "invalid --shape"),
    (["--shape", ","], "invalid --shape"),
    (["--shape", "[3,4]"], "invalid --shape"),
    (["--shape", "3 4"], "invalid --shape"),
    (["--shape", "\u2603"], "invalid --shape"),
    (["--shape", ",".join(["1"] * 65)], "at most 64"),
    (["--shape", ",".join(["1"] * 10000)], "at most 64"),
    (["--shape", "3,3", "--init", "identity", "--shape", "3,3,3"], "Identity"),
    # bad dtypes
    (["--dtype", ""], "dtype"),
    (["--dtype", "float128"], "dtype"),
    (["--dtype", "int32"], "floating-point"),
    (["--dtype", "\u2603"], "dtype"),
    (["--init", "ones", "--dtype", "object"], "dtype"),
    (["--init", "ones", "--dtype", "U5"], "dtype"),
    (["--init", "ones", "--dtype", "f4,f4"], "dtype"),
    (["--init", "ones", "--dtype", "M8"], "dtype"),
    # threads and chunk sizes
    (["--threads", "0"], "--threads"),
    (["--threads", "-1"], "--threads"),
    (["--threads", "1.5"], "--threads"),
    (["--threads", "100000"], "--threads"),
    (["--threads", "2147483648"], "--threads"),
    (["--threads", BIG], "--threads"),
    (["--chunk-mib", "0"], "--chunk-mib"),
    (["--chunk-mib", "-5"], "--chunk-mib"),
    (["--chunk-mib", "99999999999"], "--chunk-mib"),
    (["--chunk-mib", BIG], "--chunk-mib"),
    (["--chunk-mib", "x"], "--chunk-mib"),
    (["--bogus"], "unrecognized"),
    (["--shape"], "--shape"),
]


def _fuzz_id(case):
    text = " ".join(case[0])
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)})"


@pytest.mark.parametrize("args,match", FUZZ, ids=[_fuzz_id(c) for c in FUZZ])
def test_fuzzed_arguments_are_one_line_usage_errors(tmp_path, capsys, args, match):
    p = tmp_path / "f.npy"
    if "--shape" not in args:
        args = ["--shape", "3", *args]
    before = fastinit.get_num_threads()
    assert main(["create", str(p), *args]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert line.startswith("fastinit: error: ")
    assert match in line
    assert "bug in fastinit" not in line
    assert captured.out == ""
    assert os.listdir(tmp_path) == []
    assert fastinit.get_num_threads() == before  # --threads never outlives the call


def test_fuzzed_arguments_through_the_console(tmp_path):
    """The same, through a real process: nothing but the one line on stderr."""
    for args, match in [(["--init", "random_normal", f"mean={BIG}"], "mean"),
                        (["--threads", BIG], "--threads"),
                        (["--init", "constant", f"value={BIG}"], "value")]:
        r = run("create", tmp_path / "f.npy", "--shape", "3", *args)
        assert r.returncode == 2, r.stderr
        assert match in _one_error_line(r.stderr) and r.stdout == ""
    assert os.listdir(tmp_path) == []


def test_odd_paths_are_one_line_errors(tmp_path, capsys):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "d").mkdir()
    cases = [
        (["create", "", "--shape", "3"], 2, "path is empty"),
        (["create", str(tmp_path / "d"), "--shape", "3", "--force"], 1, "directory"),
        (["create", str(tmp_path / "new.npy") + os.sep, "--shape", "3"], 1, "directory"),
        (["info", str(tmp_path / "fifo")], 1, "FIFO"),  # opening it would wait forever
        (["info", str(tmp_path / "d")], 1, "directory"),
        (["info", ""], 1, "No such file"),
    ]
    for argv, status, match in cases:
        assert main(argv) == status, argv
        assert match in _one_error_line(capsys.readouterr().err), argv
    assert sorted(os.listdir(tmp_path)) == ["d", "fifo"]


def test_unexpected_exceptions_are_one_line(tmp_path, capsys, monkeypatch):
    from fastinit import _files, _npy

    def boom(*a, **k):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(_npy, "write_npy", boom)
    assert main(["create", str(tmp_path / "x.npy"), "--shape", "3"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "RuntimeError: boom second line" in line and "bug in fastinit" in line
