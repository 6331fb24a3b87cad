"""seed_for_name (frozen, like the streams) and StreamInitializer."""

import hashlib

import numpy as np
import pytest

import fastinit
from fastinit import StreamInitializer, seed_for_name

# Frozen: changing any of these changes every model initialized by name (fastinit/_names.py).
FROZEN = [
    (0, "", 11147486252024509296),
    (0, "wte.weight", 15545160261184364859),
    (1, "wte.weight", 13005926921689570554),
    (12345, "blocks.0.attn.qkv.weight", 15686998506886973023),
    (2**64 + 5, "é名", 8745898968262862503),
    (0, "lm_head.weight", 16958182386895144683),
]


@pytest.mark.parametrize("seed,name,expected", FROZEN)
def test_seed_for_name_frozen(seed, name, expected):
    assert seed_for_name(seed, name) == expected


@pytest.mark.parametrize("seed,name,expected", FROZEN)
def test_seed_for_name_is_the_documented_function(seed, name, expected):
    words = np.frombuffer(hashlib.sha256(name.encode("utf-8")).digest(), "<u4")
    ss = np.random.SeedSequence(entropy=seed, spawn_key=[int(w) for w in words])
    w0, w1 = ss.generate_state(2, np.uint32)
    assert int(w0) | (int(w1) << 32) == expected


def test_seed_for_name_checks():
    assert seed_for_name(np.int64(3), "a") == seed_for_name(3, "a")
    for bad in (True, -1, 1.0, None, "3"):
        with pytest.raises((TypeError, ValueError), match="seed"):
            seed_for_name(bad, "a")
    with pytest.raises(TypeError, match="name"):
        seed_for_name(0, b"a")


def test_seed_for_name_in_a_subprocess_is_the_same():
    import subprocess
    import sys
    out = subprocess.run(
        [sys.executable, "-c", "import fastinit;print(fastinit.seed_for_name(0, 'wte.weight'))"],
        capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"} | _env(),
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]),
    ).stdout
    assert int(out) == 15545160261184364859


def _env():
    import os
    import pathlib
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    root = str(pathlib.Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.parametrize("dist,params", [
    ("uniform", {"low": -0.5, "high": 2.0}),
    ("normal", {"mean": 1.0, "stddev": 0.1}),
    ("truncated_normal", {"mean": 0.0, "stddev": 0.02, "low": -0.03, "high": 0.05}),
    ("truncated_normal", {"mean": 0.0, "stddev": 1.0}),
])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
def test_stream_initializer_equals_fill_stream(dist, params, dtype):
    init = StreamInitializer(dist, seed=7, **params)
    got = init((64, 33), dtype)
    ref = fastinit.fill_stream(np.empty((64, 33), got.dtype), dist, seed=7, **params)
    assert got.tobytes() == ref.tobytes()
    piece = init.region((64, 33), (slice(5, 9), slice(3, 30)), dtype)
    assert piece.tobytes() == got[5:9, 3:30].tobytes()


def test_stream_initializer_config_and_errors():
    init = StreamInitializer("truncated_normal", seed=1, stddev=0.5, low=-1.0, high=0.25)
    cfg = init.get_config()
    assert cfg == {"distribution": "truncated_normal", "seed": 1, "stddev": 0.5, "low": -1.0,
                   "high": 0.25}
    clone = StreamInitializer.from_config(cfg)
    assert clone((100,)).tobytes() == init((100,)).tobytes()
    ser = fastinit.serialize(init)
    back = fastinit.deserialize(ser, custom_objects={"StreamInitializer": StreamInitializer})
    assert back((10,)).tobytes() == init((10,)).tobytes()
    assert isinstance(init, fastinit.initializers.RandomInitializer)
    with pytest.raises(ValueError, match="distribution"):
        StreamInitializer("gamma")
    with pytest.raises(TypeError, match="Unknown parameter"):
        StreamInitializer("normal", low=1.0)
    with pytest.raises(ValueError, match="low"):
        StreamInitializer("uniform", low=1.0, high=0.0)
    with pytest.raises(ValueError, match="`high`"):
        StreamInitializer("uniform", low=0.0, high=1e6)((4,), "float16")
    # attributes changed after construction take effect, as for the Keras classes
    u = StreamInitializer("uniform", seed=2, low=0.0, high=1.0)
    u.high = 0.5
    assert u((1000,)).max() < 0.5


def test_stream_initializer_not_in_keras_registry():
    assert "StreamInitializer" not in fastinit.initializers.ALL_OBJECTS_DICT
