"""`fastinit create` / `info` given odd arguments and paths (fuzzed): one line on stderr, exit
status 2 (usage) or 1, never a traceback, nothing written."""

import os

import pytest

import fastinit
from fastinit.cli import main
from tests.helpers import one_error_line, run_cli

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
    line = one_error_line(captured.err)
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
        r = run_cli("create", tmp_path / "f.npy", "--shape", "3", *args)
        assert r.returncode == 2, r.stderr
        assert match in one_error_line(r.stderr) and r.stdout == ""
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
        assert match in one_error_line(capsys.readouterr().err), argv
    assert sorted(os.listdir(tmp_path)) == ["d", "fifo"]


def test_unexpected_exceptions_are_one_line(tmp_path, capsys, monkeypatch):
    from fastinit import _files, _npy

    def boom(*a, **k):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(_npy, "write_npy", boom)
    assert main(["create", str(tmp_path / "x.npy"), "--shape", "3"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "RuntimeError: boom second line" in line and "bug in fastinit" in line
