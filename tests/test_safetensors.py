"""save_safetensors: byte identity with the reference writer, the header rules its reader
enforces, Hugging Face sharding, shards written alone, model specs keyed by name, interrupts,
bounded memory."""

import errno
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastinit
from fastinit import _files
from fastinit._modelspec import example_spec_path, load_spec
from fastinit._safetensors import parse_size, plan_shards, read_safetensors_header
from tests.helpers import dtype_of, interrupt_mid_write, leftovers, start_slow_writer

safetensors = pytest.importorskip("safetensors")
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import save as st_save  # noqa: E402

FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["bool", "uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
RANDOM_INITS = [fastinit.GlorotUniform, fastinit.RandomNormal, fastinit.TruncatedNormal,
                fastinit.HeNormal, fastinit.RandomUniform, fastinit.LecunUniform]


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(-1)


def validate(path):
    """The reference reader's rules, checked independently of fastinit's reader: an 8-byte
    little-endian length, a JSON object, offsets that tile the data from 0 in offset order,
    byte counts = prod(shape) * itemsize, the last offset = file size - 8 - header length."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and 8 + n <= len(raw)
    text = raw[8:8 + n].decode("utf-8")
    assert text.startswith("{") and text.rstrip(" ").endswith("}")   # padded with spaces only
    head = json.loads(text)
    items = sorted((v["data_offsets"], k, v) for k, v in head.items() if k != "__metadata__")
    size = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4,
            "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
    pos = 0
    for (a, b), name, info in items:
        assert a == pos, (name, a, pos)
        assert b - a == int(np.prod(info["shape"], dtype=np.int64)) * size[info["dtype"]], name
        pos = b
    assert pos == len(raw) - 8 - n
    return head


# ---- byte identity with safetensors.numpy ---------------------------------------------------

names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=12).filter(
    lambda s: s != "__metadata__")
shapes = st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)


@st.composite
def tensor_dicts(draw):
    out = {}
    for name in draw(st.lists(names, min_size=0, max_size=6, unique=True)):
        shape = draw(shapes)
        if draw(st.booleans()):
            dtype = draw(st.sampled_from(FLOATS))
            cls = draw(st.sampled_from(RANDOM_INITS))
            init = cls(seed=draw(st.integers(0, 2**32)))
        else:
            dtype = draw(st.sampled_from(FLOATS + INTS))
            init = fastinit.Constant(draw(st.integers(0, 1)) if dtype == "bool"
                                     else draw(st.integers(0, 100)))
        out[name] = (init, shape, dtype)
    meta = draw(st.one_of(st.none(), st.dictionaries(names, names, max_size=1)))
    return out, meta


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(tensor_dicts())
def test_byte_identical_to_safetensors_numpy(tmp_path, direct_io, case):
    tensors, meta = case
    path = tmp_path / "a.safetensors"
    fastinit.save_safetensors(path, tensors, metadata=meta, force=True, chunk_bytes=24)
    arrays = {k: init(shape, dtype_of(dt) if dt in FLOATS else dt)
              for k, (init, shape, dt) in tensors.items()}
    validate(path)
    if not tensors and meta == {}:
        # safetensors 0.8 writes the invalid header '{},"__metadata__":{}}' here; fastinit
        # writes '{"__metadata__":{}}', what it writes for an empty map beside tensors.
        assert path.read_bytes()[8:].rstrip(b" ") == b'{"__metadata__":{}}'
        return
    assert path.read_bytes() == st_save(arrays, metadata=meta)
    assert read_safetensors_header(path)[1] == json.loads(
        path.read_bytes()[8:8 + struct.unpack("<Q", path.read_bytes()[:8])[0]])


def test_every_dtype_in_one_file_and_the_dtype_order(tmp_path):
    tensors = {f"t{i}": (fastinit.Ones(), (3, 2), dt) for i, dt in enumerate(INTS)}
    tensors.update({f"f{i}": (fastinit.GlorotNormal(seed=i), (4, 5), dt)
                    for i, dt in enumerate(FLOATS)})
    path = tmp_path / "all.safetensors"
    fastinit.save_safetensors(path, tensors)
    arrays = {k: init(shape, dtype_of(dt) if dt in FLOATS else dt)
              for k, (init, shape, dt) in tensors.items()}
    assert path.read_bytes() == st_save(arrays)
    head = validate(path)
    order = [v["dtype"] for _, v in sorted(head.items(), key=lambda kv: kv[1]["data_offsets"])]
    assert order == ["U64", "I64", "F64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16",
                     "I8", "U8", "BOOL"]


def test_several_metadata_keys_are_sorted(tmp_path):
    meta = {"z": "1", "a": "2", "m": "é\n\x01\"\\"}
    path = tmp_path / "m.safetensors"
    fastinit.save_safetensors(path, {"w": (fastinit.Zeros(), (2,))}, metadata=meta)
    raw = path.read_bytes()
    text = raw[8:8 + struct.unpack("<Q", raw[:8])[0]].decode()
    assert text.startswith('{"__metadata__":{"a":"2","m":"é\\n\\u0001\\"\\\\","z":"1"}')
    # the reference writer's metadata order varies between runs: the same bytes up to it
    ref = st_save({"w": np.zeros(2, np.float32)}, metadata=meta)
    assert len(ref) == len(raw) and json.loads(ref[8:8 + len(text)]) == json.loads(text)
    with safe_open(path, "np") as f:
        assert f.metadata() == meta


@pytest.mark.parametrize("dtype", FLOATS)
def test_safe_open_reads_every_tensor_bit_equal(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    tensors = {"emb": fastinit.RandomNormal(0.0, 0.02, seed=3).source((1000, 33), dtype),
               "w": fastinit.GlorotUniform(seed=4).source((64, 65), dtype),
               "b": fastinit.Zeros().source((65,), dtype)}
    path = tmp_path / "x.safetensors"
    fastinit.save_safetensors(path, tensors, chunk_bytes=1000)   # many chunks per tensor
    with safe_open(path, "pt") as f:
        for name, src in tensors.items():
            got = f.get_tensor(name)
            ref = np.empty(src.shape, src.dtype)
            src.fill_all(ref)
            if got.dtype == torch.bfloat16:
                got = got.view(torch.int16)
            assert _bits(got.numpy()).tobytes() == _bits(ref).tobytes()


def test_validator_rejects_broken_files(tmp_path):
    path = tmp_path / "ok.safetensors"
    fastinit.save_safetensors(path, {"a": (fastinit.Ones(), (4,)), "b": (fastinit.Ones(), (2,))})
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])

    def write(h, data=raw[8 + n:]):
        body = json.dumps(h).encode()
        body += b" " * (-len(body) % 8)
        p = tmp_path / "bad.safetensors"
        p.write_bytes(struct.pack("<Q", len(body)) + body + data)
        return p

    gap = json.loads(json.dumps(head))
    gap["b"]["data_offsets"] = [20, 28]
    with pytest.raises(ValueError, match="starts at"):
        read_safetensors_header(write(gap, raw[8 + n:] + b"\0" * 4))
    wrong = json.loads(json.dumps(head))
    wrong["a"]["shape"] = [3]
    with pytest.raises(ValueError, match="needs 12 bytes"):
        read_safetensors_header(write(wrong))
    with pytest.raises(ValueError, match="data ends at"):
        read_safetensors_header(write(head, raw[8 + n:] + b"x"))
    assert read_safetensors_header(write(head))[1] == head


def test_inputs_arrays_and_bad_input(tmp_path):
    arr = np.arange(12, dtype=">i4").reshape(3, 4)          # big-endian: written little-endian
    path = tmp_path / "arr.safetensors"
    fastinit.save_safetensors(path, {"x": arr, "y": ("glorot_uniform", (2, 3))})
    with safe_open(path, "np") as f:
        np.testing.assert_array_equal(f.get_tensor("x"), arr)
    with pytest.raises(FileExistsError):
        fastinit.save_safetensors(path, {"x": arr})
    with pytest.raises(TypeError, match="safetensors has no dtype"):
        fastinit.save_safetensors(tmp_path / "c.safetensors", {"c": np.zeros(2, np.complex64)})
    with pytest.raises(TypeError, match="Tensor 'd'"):
        fastinit.save_safetensors(tmp_path / "d.safetensors", {"d": [1, 2]})
    with pytest.raises(ValueError, match="__metadata__"):
        fastinit.save_safetensors(tmp_path / "e.safetensors", {"__metadata__": arr})
    with pytest.raises(TypeError, match="metadata"):
        fastinit.save_safetensors(tmp_path / "f.safetensors", {"x": arr}, metadata={"a": 1})
    assert sorted(os.listdir(tmp_path)) == ["arr.safetensors"]


def test_disk_space_checked_up_front(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(_files.shutil, "disk_usage", lambda d: usage._replace(free=1000))
    tensors = {f"w{i}": (fastinit.Zeros(), (400,)) for i in range(4)}
    with pytest.raises(OSError, match="Not enough disk space") as ei:
        fastinit.save_safetensors(tmp_path / "m.safetensors", tensors, max_shard_size=2000)
    assert ei.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []


# ---- sharding -------------------------------------------------------------------------------


def test_parse_size_as_huggingface_hub():
    assert parse_size("5GB") == 5 * 10**9
    assert parse_size(" 500mb ") == 500 * 10**6
    assert parse_size("1.5KB") == 1500
    assert parse_size("2TB") == 2 * 10**12
    assert parse_size(123) == 123
    for bad in ("5GiB", "GB", "xGB", "5", "0KB"):
        with pytest.raises(ValueError):
            parse_size(bad)
    for bad in (0, -1):
        with pytest.raises(ValueError):
            parse_size(bad)
    with pytest.raises(TypeError):
        parse_size(True)


def test_split_rule_of_huggingface_hub():
    # huggingface_hub's docstring example: limit 10, sizes [6, 6, 2, 6, 2, 2]
    sizes = list(zip("abcdef", [6, 6, 2, 6, 2, 2]))
    assert plan_shards(sizes, 10) == [["a"], ["b", "c"], ["d", "e", "f"]]
    # a tensor over the limit is a shard of its own, appended when met
    assert plan_shards(list(zip("wxyz", [3, 20, 4, 5])), 10) == [["x"], ["w", "y"], ["z"]]
    assert plan_shards([("a", 10), ("b", 0), ("c", 1)], 10) == [["a", "b"], ["c"]]
    assert plan_shards([], 10) == []


def _model():
    return {
        "emb": (fastinit.RandomNormal(seed=1), (100, 8), "bfloat16"),      # 1600 bytes
        "big": (fastinit.GlorotUniform(seed=2), (50, 50), "float32"),      # 10000: alone
        "w1": (fastinit.HeNormal(seed=3), (20, 20), "float32"),            # 1600
        "b1": (fastinit.Zeros(), (20,), "float32"),                        # 80
        "w2": (fastinit.LecunUniform(seed=4), (20, 20), "float16"),        # 800
        "steps": (fastinit.Constant(7), (3,), "int64"),                    # 24
    }


def test_sharded_files_and_index(tmp_path):
    path = tmp_path / "model.safetensors"
    written = fastinit.save_safetensors(path, _model(), max_shard_size="3KB",
                                        metadata={"format": "pt"})
    names = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    assert [os.path.basename(p) for p in written] == names + ["model.safetensors.index.json"]
    assert sorted(os.listdir(tmp_path)) == sorted(names + ["model.safetensors.index.json"])
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    # the split: [emb(1600)] then big alone (appended when met), then w1.. : 1600 + 80 + 800
    # + 24 = 2504 <= 3000 -- but emb + w1 = 3200 > 3000 closes emb's shard first
    assert index == {"metadata": {"total_size": 1600 + 10000 + 1600 + 80 + 800 + 24},
                     "weight_map": {"big": names[0], "emb": names[1], "w1": names[2],
                                    "b1": names[2], "w2": names[2], "steps": names[2]}}
    # every shard is the reference writer's file of its tensors, with the metadata
    arrays = {k: init(shape, dtype_of(dt) if dt in FLOATS else dt)
              for k, (init, shape, dt) in _model().items()}
    for name in names:
        part = {k: v for k, v in arrays.items() if index["weight_map"][k] == name}
        assert (tmp_path / name).read_bytes() == st_save(part, metadata={"format": "pt"})
        validate(tmp_path / name)


def test_one_shard_is_the_plain_file(tmp_path):
    path = tmp_path / "model.safetensors"
    assert fastinit.save_safetensors(path, _model(), max_shard_size="5GB") == [str(path)]
    other = tmp_path / "plain.safetensors"
    fastinit.save_safetensors(other, _model())
    assert path.read_bytes() == other.read_bytes()
    empty = tmp_path / "empty.safetensors"
    assert fastinit.save_safetensors(empty, {}, max_shard_size=10) == [str(empty)]
    assert empty.read_bytes() == st_save({})


def test_shards_written_alone_are_identical(tmp_path):
    whole, alone = tmp_path / "whole", tmp_path / "alone"
    whole.mkdir()
    alone.mkdir()
    fastinit.save_safetensors(whole / "model.safetensors", _model(), max_shard_size=3000)
    # shard 2 in this process, shards 3 and 1 in another one, the index by itself
    assert fastinit.save_safetensors(alone / "model.safetensors", _model(),
                                     max_shard_size=3000, shards=[2]) == [
        str(alone / "model-00002-of-00003.safetensors")]
    code = textwrap.dedent(f"""
        import fastinit
        from tests.test_safetensors import _model
        fastinit.save_safetensors({str(alone / "model.safetensors")!r}, _model(),
                                  max_shard_size=3000, shards=[3, 1])
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    fastinit.save_safetensors(alone / "model.safetensors", _model(), max_shard_size=3000,
                              shards=[], index=True)
    assert sorted(os.listdir(alone)) == sorted(os.listdir(whole))
    for name in os.listdir(whole):
        assert (alone / name).read_bytes() == (whole / name).read_bytes(), name
    with pytest.raises(ValueError, match="shard numbers from 1 to 3"):
        fastinit.save_safetensors(alone / "model.safetensors", _model(), max_shard_size=3000,
                                  shards=[4])
    with pytest.raises(ValueError, match="need max_shard_size"):
        fastinit.save_safetensors(alone / "x.safetensors", _model(), shards=[1])
    with pytest.raises(ValueError, match="must end in .safetensors"):
        fastinit.save_safetensors(alone / "x.bin", _model(), max_shard_size=3000)


# ---- model specs ------------------------------------------------------------------------------


def _spec(tensors, seed=5):
    return {"seed": seed, "tensors": tensors}


SMALL = {
    "wte.weight": {"shape": [64, 16], "dtype": "bfloat16",
                   "initializer": {"torch": "normal_", "std": 0.02}},
    "h.0.w": {"shape": [16, 48], "initializer": "glorot_uniform"},
    "h.0.b": {"shape": [48], "initializer": "zeros"},
    "h.0.k": {"shape": [16, 16], "dtype": "float64",
              "initializer": {"class_name": "VarianceScaling",
                              "config": {"scale": 2.0, "mode": "fan_out"}}},
    "steps": {"shape": [], "dtype": "int64", "initializer": {"class_name": "Constant",
                                                            "config": {"value": 3}}},
}


def _tensor_bytes(path):
    with safe_open(path, "np") as f:
        out = {}
        for k in f.keys():
            sl = f.get_slice(k)
            out[k] = (sl.get_dtype(), sl.get_shape())
    raw = path.read_bytes()
    offset, head = read_safetensors_header(path)
    return {k: raw[offset + v["data_offsets"][0]:offset + v["data_offsets"][1]]
            for k, v in head.items() if k != "__metadata__"}


def test_spec_streams_are_keyed_by_name(tmp_path):
    spec = load_spec(_spec(SMALL))
    a = tmp_path / "a.safetensors"
    fastinit.save_safetensors(a, spec)
    data = _tensor_bytes(a)
    s = fastinit.seed_for_name(5, "h.0.w")
    assert data["h.0.w"] == fastinit.GlorotUniform(seed=s)((16, 48)).tobytes()
    s = fastinit.seed_for_name(5, "h.0.k")
    ref = fastinit.VarianceScaling(2.0, "fan_out", seed=s)((16, 16), "float64")
    assert data["h.0.k"] == ref.tobytes()
    s = fastinit.seed_for_name(5, "wte.weight")
    assert data["wte.weight"] == fastinit.RandomNormal(0.0, 0.02, seed=s)(
        (64, 16), dtype_of("bfloat16")).tobytes()
    assert data["steps"] == np.int64(3).tobytes()
    # adding a tensor (first, last, or with a name sorting between others) changes no other
    more = dict(SMALL)
    more["h.0.a"] = {"shape": [16, 16], "initializer": "he_normal"}
    more = {"aaa": {"shape": [7], "initializer": "random_normal"}, **more}
    b = tmp_path / "b.safetensors"
    fastinit.save_safetensors(b, load_spec(_spec(more)))
    data_b = _tensor_bytes(b)
    assert set(data_b) == set(data) | {"h.0.a", "aaa"}
    for k, v in data.items():
        assert data_b[k] == v, k
    # another model seed changes every random tensor
    c = tmp_path / "c.safetensors"
    fastinit.save_safetensors(c, load_spec(_spec(SMALL, seed=6)))
    data_c = _tensor_bytes(c)
    assert data_c["h.0.w"] != data["h.0.w"] and data_c["h.0.b"] == data["h.0.b"]


TORCH_RULES = [
    {"torch": "normal_", "std": 0.02},
    {"torch": "uniform_", "a": -0.1, "b": 0.3},
    {"torch": "trunc_normal_", "std": 0.02, "a": -0.04, "b": 0.04},
    {"torch": "kaiming_uniform_", "a": 2.236},
    {"torch": "kaiming_normal_", "mode": "fan_out", "nonlinearity": "relu"},
    {"torch": "xavier_uniform_", "gain": 1.5},
    {"torch": "xavier_normal_"},
    {"torch": "orthogonal_", "gain": 0.5},
    {"torch": "eye_"},
    {"torch": "constant_", "val": 0.25},
    {"torch": "ones_"},
    {"torch": "zeros_"},
]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_torch_rules_match_materialize_without_torch(tmp_path, dtype):
    """A spec's torch-style rules give materialize's bits (and the spec path imports no
    torch: checked in a child process below)."""
    torch = pytest.importorskip("torch")
    import fastinit.torch as ft
    shape = [24, 40]
    tensors = {f"p{i}": {"shape": shape, "dtype": dtype, "initializer": r}
               for i, r in enumerate(TORCH_RULES)}
    path = tmp_path / "t.safetensors"
    fastinit.save_safetensors(path, load_spec(_spec(tensors, seed=11)))

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for i in range(len(TORCH_RULES)):
                self.register_parameter(f"p{i}", torch.nn.Parameter(
                    torch.empty(shape, dtype=getattr(torch, dtype))))

    with torch.device("meta"):
        m = M()
    rules = {f"p{i}": ft.rule(r["torch"], **{k: v for k, v in r.items() if k != "torch"})
             for i, r in enumerate(TORCH_RULES)}
    ft.materialize(m, 11, rules)
    data = _tensor_bytes(path)
    for name, p in m.named_parameters():
        t = p.detach()
        t = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
        assert data[name] == t.numpy().tobytes(), (name, tensors[name])


def test_spec_path_imports_no_torch(tmp_path):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(_spec({f"p{i}": {"shape": [8, 8], "initializer": r}
                                      for i, r in enumerate(TORCH_RULES)})))
    code = textwrap.dedent(f"""
        import sys, fastinit
        fastinit.save_safetensors({str(tmp_path / "s.safetensors")!r},
                                  fastinit.load_spec({str(spec)!r}))
        assert "torch" not in sys.modules, "torch was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("bad, match", [
    ({"tensors": {"a": {"shape": [2], "initializer": "zeros"}}}, "'seed'"),
    (_spec({}), "non-empty"),
    (_spec({"a": {"shape": [2]}}), "needs 'shape' and 'initializer'"),
    (_spec({"a": {"shape": [-2], "initializer": "zeros"}}), "tensor 'a'"),
    (_spec({"a": {"shape": [2], "initializer": "nope"}}), "nope"),
    (_spec({"a": {"shape": [2, 2], "initializer": {"torch": "normal_", "sd": 1}}}), "sd"),
    (_spec({"a": {"shape": [2, 2], "initializer": {"torch": "sparse_", "sparsity": 0.1}}}),
     "without torch"),
    (_spec({"a": {"shape": [2], "initializer": {"class_name": "RandomNormal",
                                                "config": {"seed": 3}}}}), "same stream"),
    (_spec({"a": {"shape": [2], "initializer": "zeros", "dtyp": "int8"}}), "unknown keys"),
    ({**_spec({"a": {"shape": [2], "initializer": "zeros"}}), "extra": 1}, "unknown keys"),
    (_spec({"a": {"shape": [2], "dtype": "float32", "initializer": 3}}), "Keras name"),
])
def test_bad_specs(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        load_spec(bad)


def test_example_specs():
    gpt = load_spec(example_spec_path("gpt_1p3b"))
    assert gpt.nbytes == 2 * 1_315_723_264       # 1.3B parameters in bfloat16
    assert len(gpt.tensors) == 2 + 24 * 12 + 2
    assert gpt.tensors["wte.weight"].shape == (50257, 2048)
    assert "lm_head.weight" not in gpt.tensors   # tied to wte, as GPT-2
    assert {s.dtype.name for s in gpt.tensors.values()} == {"bfloat16"}
    emb = load_spec(example_spec_path("embedding_table"))
    assert list(emb.tensors) == ["embedding.weight"]
    with pytest.raises(ValueError, match="No example spec"):
        example_spec_path("nope")


# ---- interrupts and memory --------------------------------------------------------------------

_SLOW_WRITER = """
    import sys
    import fastinit
    tensors = {"a": ("random_uniform", (8 * 2**20,)), "b": ("random_normal", (8 * 2**20,))}
    try:
        fastinit.save_safetensors(sys.argv[1], tensors, chunk_bytes=2**20)
    except fastinit.WriteInterrupted as e:
        print("INTERRUPTED", e.signum, e, flush=True)
        sys.exit(3)
    print("FINISHED", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_write_leaves_nothing(tmp_path, direct_io, sig):
    proc = start_slow_writer(_SLOW_WRITER, tmp_path / "m.safetensors")
    out, err = interrupt_mid_write(proc, tmp_path, sig)
    assert proc.returncode == 3, (out, err)
    assert f"INTERRUPTED {int(sig)}" in out and "partial file was removed" in out
    assert os.listdir(tmp_path) == [] and not leftovers(tmp_path)


@pytest.mark.slow
def test_4gib_two_tensor_file_in_bounded_memory(tmp_path):
    """A 4 GiB file of two tensors with peak RSS <= 256 MiB (measured in a fresh child)."""
    if shutil.disk_usage(tmp_path).free < 10 * 2**30:
        pytest.skip("needs 10 GiB free")
    target = tmp_path / "huge.safetensors"
    n = 2**29  # float32: 2 GiB each
    code = textwrap.dedent(f"""
        import resource
        import fastinit
        fastinit.save_safetensors({str(target)!r}, {{
            "a": fastinit.RandomUniform(seed=7).source(({n},)),
            "b": fastinit.RandomNormal(seed=8).source(({n // 2}, 2))}})
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    try:
        res = subprocess.run(["/bin/sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, code],
                             capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, res.stderr
        peak_mib = int(res.stdout.split()[-1]) / 1024
        assert peak_mib <= 256, f"peak RSS {peak_mib:.0f} MiB"
        validate_offsets = read_safetensors_header(target)
        assert os.path.getsize(target) == validate_offsets[0] + 4 * 2**30
        with safe_open(target, "np") as f:
            got = f.get_slice("b")[2**27:2**27 + 10]
        ref = fastinit.RandomNormal(seed=8).region((n // 2, 2), (slice(2**27, 2**27 + 10),))
        np.testing.assert_array_equal(got, ref)
    finally:
        target.unlink(missing_ok=True)


@pytest.mark.parametrize("rule, dtype", [
    ({"torch": "uniform_", "a": 2, "b": -2}, "float32"),
    ({"torch": "uniform_", "a": -1e6, "b": 1}, "float16"),
    ({"torch": "uniform_", "a": -1e39, "b": 1}, "bfloat16"),
    ({"torch": "normal_", "std": -1}, "float32"),
    ({"torch": "trunc_normal_", "std": 0}, "float32"),
    ({"torch": "trunc_normal_", "std": -1}, "float32"),
    ({"torch": "trunc_normal_", "a": 2, "b": -2}, "float32"),
    ({"torch": "kaiming_uniform_", "mode": "fan_inn"}, "float32"),
    ({"torch": "xavier_normal_", "gain": 1}, "float64"),
])
def test_torch_rule_errors_are_fastinit_torchs(rule, dtype):
    """A spec's bad torch-style rule raises the ValueError fastinit.torch raises for it (one
    check, one message: fastinit._torch_rules.rule_values), naming the function."""
    torch = pytest.importorskip("torch")
    import fastinit.torch as ft
    shape = [0, 0] if rule["torch"] == "xavier_normal_" else [4, 3]
    kwargs = {k: v for k, v in rule.items() if k != "torch"}
    with pytest.raises(Exception) as from_torch:
        getattr(ft, rule["torch"])(torch.empty(shape, dtype=getattr(torch, dtype)), seed=0,
                                   **kwargs)
    with pytest.raises(ValueError) as from_spec:
        load_spec(_spec({"a": {"shape": shape, "dtype": dtype, "initializer": rule}}))
    assert isinstance(from_spec.value, type(from_torch.value))
    assert str(from_spec.value).endswith(f"tensor 'a': {rule['torch']}: {from_torch.value}")
