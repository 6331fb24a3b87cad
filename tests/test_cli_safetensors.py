"""`fastinit create --spec` (safetensors seed checkpoints) and `fastinit info` on safetensors."""

import json
import os

import numpy as np
import pytest

import fastinit
from fastinit.cli import main
from tests.helpers import one_error_line, run_cli

pytest.importorskip("safetensors")
from safetensors.numpy import load_file  # noqa: E402

SPEC = {
    "seed": 1,
    "metadata": {"format": "pt"},
    "tensors": {
        "emb.weight": {"shape": [300, 16], "initializer": {"torch": "normal_", "std": 0.02}},
        "fc.weight": {"shape": [16, 64], "dtype": "float64", "initializer": "glorot_uniform"},
        "fc.bias": {"shape": [64], "initializer": "zeros"},
        "steps": {"shape": [], "dtype": "int32",
                  "initializer": {"class_name": "Constant", "config": {"value": 5}}},
    },
}


@pytest.fixture
def spec_file(tmp_path):
    p = tmp_path / "spec.json"
    p.write_text(json.dumps(SPEC))
    return p


def _values(out, name):
    line = next(ln for ln in out.splitlines() if ln.split() and ln.split()[0] == name)
    return dict(item.split("=") for item in line.split() if "=" in item)


def test_create_from_spec(tmp_path, spec_file, capsys):
    path = tmp_path / "m.safetensors"
    assert main(["create", str(path), "--spec", str(spec_file)]) == 0
    out = capsys.readouterr().out
    ref = tmp_path / "ref.safetensors"
    fastinit.save_safetensors(ref, fastinit.load_spec(str(spec_file)))
    assert path.read_bytes() == ref.read_bytes()
    assert f"wrote {path}" in out and "4 tensors" in out and "GB/s" in out
    # per-tensor summary from the streamed statistics
    for name, arr in load_file(path).items():
        if arr.size > 1:
            v = _values(out, name)
            a = arr.astype(np.float64)
            assert float(v["mean"]) == pytest.approx(a.mean(), rel=1e-5, abs=1e-12)
            assert float(v["std"]) == pytest.approx(a.std(), rel=1e-5, abs=1e-12)
            assert float(v["min"]) == pytest.approx(a.min(), rel=1e-5)
            assert float(v["max"]) == pytest.approx(a.max(), rel=1e-5)
    assert "torch normal_(std=0.02)" in out and "glorot_uniform" in out


def test_sharded_create_and_info(tmp_path, spec_file, capsys):
    path = tmp_path / "model.safetensors"
    assert main(["create", str(path), "--spec", str(spec_file), "--max-shard-size",
                 "10KB"]) == 0
    files = sorted(os.listdir(tmp_path))
    assert files == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                     "model.safetensors.index.json", "spec.json"]
    capsys.readouterr()
    assert main(["info", str(tmp_path / "model.safetensors.index.json")]) == 0
    out = capsys.readouterr().out
    assert "4 tensors in 2 files" in out and "27,652 bytes" in out
    assert main(["info", str(tmp_path / files[0])]) == 0
    out = capsys.readouterr().out
    assert "emb.weight" in out and "F32" in out and "[300, 16]" in out
    assert "{'format': 'pt'}" in out
    os.remove(tmp_path / files[1])
    assert main(["info", str(tmp_path / "model.safetensors.index.json")]) == 1
    assert "MISSING" in capsys.readouterr().out


def test_existing_files_name_the_cli_flag(tmp_path, spec_file, capsys):
    # The library's hint is force=True; a CLI user needs the flag.  Sharded output is checked
    # file by file (a shard or the index may be the one that exists), before anything is written.
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"keep")
    assert main(["create", str(path), "--spec", str(spec_file)]) == 1
    err = one_error_line(capsys.readouterr().err)
    assert "already exists; pass --force to overwrite it" in err and "force=True" not in err
    assert path.read_bytes() == b"keep"
    index = tmp_path / "model.safetensors.index.json"
    index.write_text("keep")
    assert main(["create", str(path), "--spec", str(spec_file), "--max-shard-size",
                 "10KB"]) == 1
    err = one_error_line(capsys.readouterr().err)
    assert "model.safetensors.index.json already exists; pass --force" in err
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors", "model.safetensors.index.json",
                                            "spec.json"]
    assert main(["create", str(path), "--spec", str(spec_file), "--max-shard-size",
                 "10KB", "--force"]) == 0
    assert json.loads(index.read_text())["metadata"]["total_size"] > 0


def test_progress_bar_over_all_bytes(tmp_path):
    spec = tmp_path / "big.json"
    spec.write_text(json.dumps({"seed": 0, "tensors": {
        "a": {"shape": [2**23], "initializer": "random_uniform"},
        "b": {"shape": [2**23], "initializer": "random_normal"}}}))
    r = run_cli("create", tmp_path / "big.safetensors", "--spec", spec, "--max-shard-size",
                "40MB")
    assert r.returncode == 0, r.stderr
    assert "64.0M" in r.stderr and "100%" in r.stderr   # one bar over both shards


@pytest.mark.parametrize("args, match", [
    (["--shape", "3"], "--shape cannot be used with --spec"),
    (["--seed", "3"], "--seed cannot be used with --spec"),
    (["--init", "zeros"], "--init cannot be used"),
    (["--max-shard-size", "5XB"], "unit 'XB' not supported"),
    (["--max-shard-size", "0"], "--max-shard-size"),
    (["--threads", "0"], "threads"),
])
def test_usage_errors(tmp_path, spec_file, capsys, args, match):
    p = tmp_path / "x.safetensors"
    assert main(["create", str(p), "--spec", str(spec_file), *args]) == 2
    assert match in one_error_line(capsys.readouterr().err)
    assert not p.exists()


def test_bad_specs_and_files(tmp_path, spec_file, capsys):
    bad = tmp_path / "bad.json"
    for text, match in (("{", "not valid JSON"), ('{"seed": -1, "tensors": {}}', "seed"),
                        (json.dumps({"seed": 0, "tensors": {"a": {"shape": [2],
                                     "initializer": "nope"}}}), "tensor 'a'")):
        bad.write_text(text)
        assert main(["create", str(tmp_path / "x.safetensors"), "--spec", str(bad)]) == 2
        assert match in one_error_line(capsys.readouterr().err)
    assert main(["create", str(tmp_path / "x.safetensors"), "--spec",
                 str(tmp_path / "missing.json")]) == 1
    assert "No such file" in one_error_line(capsys.readouterr().err)
    assert main(["create", str(tmp_path / "x.npy"), "--spec", str(spec_file)]) == 2
    assert ".safetensors" in one_error_line(capsys.readouterr().err)
    assert main(["create", str(tmp_path / "x.npy"), "--shape", "3",
                 "--max-shard-size", "1GB"]) == 2
    assert "--spec" in one_error_line(capsys.readouterr().err)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    assert main(["info", str(junk)]) == 1
    assert "not a valid safetensors" in one_error_line(capsys.readouterr().err)
    idx = tmp_path / "x.index.json"
    idx.write_text("[]")
    assert main(["info", str(idx)]) == 1
    assert "not a safetensors index" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "x.safetensors").exists()


def test_create_from_a_shipped_example_by_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["create", "emb.safetensors", "--spec", "embedding_table"]) == 0
    out = capsys.readouterr().out
    ref = tmp_path / "ref.safetensors"
    shipped = os.path.join(os.path.dirname(fastinit.__file__), "specs", "embedding_table.json")
    fastinit.save_safetensors(ref, fastinit.load_spec(shipped))
    assert (tmp_path / "emb.safetensors").read_bytes() == ref.read_bytes()
    assert "embedding_table (seed 0, 1 tensors)" in out
    # a file of that name in the working directory wins over the example
    (tmp_path / "embedding_table").write_text(json.dumps(SPEC))
    assert main(["create", "mine.safetensors", "--spec", "embedding_table"]) == 0
    assert "4 tensors" in capsys.readouterr().out
