"""The Keras API without Keras: formulas (fans, limits, stddevs), seeds, configs, names,
Constant / Identity / Orthogonal."""

import inspect
import json
import math
import random
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

import fastinit
from fastinit import compute_fans
from fastinit.initializers import TRUNCATED_NORMAL_STD
from tests.helpers import as_f64

ALL_CLASSES = [
    fastinit.Zeros, fastinit.Ones, fastinit.Constant, fastinit.RandomNormal,
    fastinit.RandomUniform, fastinit.TruncatedNormal, fastinit.VarianceScaling,
    fastinit.Orthogonal, fastinit.Identity, fastinit.GlorotUniform, fastinit.GlorotNormal,
    fastinit.HeUniform, fastinit.HeNormal, fastinit.LecunUniform, fastinit.LecunNormal,
]


# ---- fans ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((3, 5), (3, 5)), ((3, 3, 4, 8), (36, 72)),
    ((2, 3, 4, 5, 6), (120, 144)), ((0, 5), (0, 5)), ((1, 1, 1), (1, 1)),
])
def test_compute_fans_keras_rules(shape, fans):
    assert compute_fans(shape) == fans


def test_compute_fans_axes():
    assert compute_fans((3, 4, 5), input_axes=[0], output_axes=[1, 2]) == (3, 20)
    assert compute_fans((3, 4, 5), input_axes=[-1], output_axes=[0]) == (5, 3)
    # only one of them given: ignored, as in Keras
    assert compute_fans((3, 4, 5), input_axes=[0]) == (12, 15)
    assert compute_fans((3, 4, 5), output_axes=[0]) == (12, 15)


# ---- formulas --------------------------------------------------------------------------------

SHAPE = (300, 700)
FAN_IN, FAN_OUT = SHAPE


def _uniform_limit(init):
    s = init.stream(SHAPE)
    return s.params["high"], s.params["low"]


@pytest.mark.parametrize("cls,limit", [
    (fastinit.GlorotUniform, math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (fastinit.HeUniform, math.sqrt(6 / FAN_IN)),
    (fastinit.LecunUniform, math.sqrt(3 / FAN_IN)),
])
def test_uniform_presets(cls, limit):
    init = cls(seed=1)
    high, low = _uniform_limit(init)
    assert high == pytest.approx(limit, rel=1e-15) and low == -high
    x = as_f64(init(SHAPE))
    assert x.max() < limit and x.min() >= -limit
    assert stats.kstest(x.ravel(), stats.uniform(-limit, 2 * limit).cdf).pvalue > 1e-3


@pytest.mark.parametrize("cls,std", [
    (fastinit.GlorotNormal, math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (fastinit.HeNormal, math.sqrt(2 / FAN_IN)),
    (fastinit.LecunNormal, math.sqrt(1 / FAN_IN)),
])
def test_truncated_presets(cls, std):
    init = cls(seed=2)
    s = init.stream(SHAPE)
    assert s.distribution == "truncated_normal"
    raw = std / TRUNCATED_NORMAL_STD
    assert s.params["stddev"] == pytest.approx(raw, rel=1e-15)
    assert s.params["low"] == pytest.approx(-2 * raw) and s.params["high"] == pytest.approx(2 * raw)
    x = as_f64(init(SHAPE)).ravel()
    assert np.abs(x).max() <= 2 * raw
    # the post-truncation std is the formula's (5 standard errors)
    assert abs(x.std() - std) < 5 * std * 0.55 / math.sqrt(x.size)
    assert stats.kstest(x, stats.truncnorm(-2, 2, scale=raw).cdf).pvalue > 1e-3


@pytest.mark.parametrize("mode,n", [("fan_in", FAN_IN), ("fan_out", FAN_OUT),
                                    ("fan_avg", (FAN_IN + FAN_OUT) / 2)])
@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal", "untruncated_normal",
                                          "normal"])
def test_variance_scaling_formulas(mode, n, distribution):
    scale = 0.7
    init = fastinit.VarianceScaling(scale=scale, mode=mode, distribution=distribution, seed=3)
    s = init.stream(SHAPE)
    var = scale / n
    if distribution == "uniform":
        assert s.params["high"] == pytest.approx(math.sqrt(3 * var), rel=1e-15)
    elif distribution == "untruncated_normal":
        assert s.distribution == "normal"
        assert s.params["stddev"] == pytest.approx(math.sqrt(var), rel=1e-15)
    else:
        assert s.distribution == "truncated_normal"
        assert s.params["stddev"] == pytest.approx(math.sqrt(var) / 0.87962566103423978, rel=1e-15)
    x = as_f64(init(SHAPE))
    assert abs(x.var() / var - 1) < 0.02


def test_variance_scaling_max_one_guard_and_conv_fans():
    # zero fans: max(1, fan) keeps it finite
    init = fastinit.VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", seed=0)
    assert init.stream((0, 5)).params["high"] == pytest.approx(math.sqrt(3.0))
    # conv kernel (3, 3, 16, 32): fan_in = 144, fan_out = 288
    g = fastinit.GlorotUniform(seed=0).stream((3, 3, 16, 32))
    assert g.params["high"] == pytest.approx(math.sqrt(6 / (144 + 288)))
    # explicit axes
    e = fastinit.HeNormal(seed=0, input_axes=[0], output_axes=[1, 2]).stream((8, 4, 5))
    assert e.params["stddev"] == pytest.approx(math.sqrt(2 / 8) / TRUNCATED_NORMAL_STD)


def test_basic_random_defaults_and_values():
    n = fastinit.RandomNormal(seed=0).stream((3,))
    assert n.params == {"mean": 0.0, "stddev": 0.05}
    u = fastinit.RandomUniform(seed=0).stream((3,))
    assert u.params == {"low": -0.05, "high": 0.05}
    t = fastinit.TruncatedNormal(seed=0).stream((3,))
    assert t.params["stddev"] == 0.05 and t.params["high"] == pytest.approx(0.1)
    x = as_f64(fastinit.TruncatedNormal(mean=3.0, stddev=0.5, seed=4)((100_000,)))
    assert x.min() >= 2.0 and x.max() <= 4.0


# ---- seeds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [c for c in ALL_CLASSES if "seed" in inspect.signature(c).parameters])
def test_seed_semantics(cls):
    shape = (6, 5)
    a = cls(seed=42)
    np.testing.assert_array_equal(a(shape), a(shape))                 # stateless
    np.testing.assert_array_equal(a(shape), cls(seed=42)(shape))      # same seed, same values
    assert not np.array_equal(a(shape), cls(seed=43)(shape))
    u = cls()
    np.testing.assert_array_equal(u(shape), u(shape))                 # seed fixed at construction
    assert u.get_config()["seed"] is None
    assert not np.array_equal(u(shape), u.clone()(shape))             # clone draws a new seed
    np.testing.assert_array_equal(a(shape), a.clone()(shape))         # seeded clone is equal
    random.seed(123)
    r1 = cls()(shape)
    random.seed(123)
    np.testing.assert_array_equal(r1, cls()(shape))                   # random.seed reproduces


# ---- configs ---------------------------------------------------------------------------------


def _instances():
    return [
        fastinit.Zeros(), fastinit.Ones(), fastinit.Constant(3.5), fastinit.Constant([1, 2]),
        fastinit.RandomNormal(0.5, 2.0, seed=1), fastinit.RandomUniform(-1.0, 3.0, seed=2),
        fastinit.TruncatedNormal(1.0, 0.5, seed=3),
        fastinit.VarianceScaling(0.3, "fan_out", "uniform", seed=4, input_axes=[0],
                                 output_axes=[1, 2]),
        fastinit.Orthogonal(gain=2.0, seed=5), fastinit.Identity(gain=3.0),
        fastinit.GlorotUniform(seed=6), fastinit.GlorotNormal(seed=7), fastinit.HeUniform(seed=8),
        fastinit.HeNormal(seed=9), fastinit.LecunUniform(seed=10), fastinit.LecunNormal(seed=11),
        fastinit.HeNormal(),
    ]


@pytest.mark.parametrize("init", _instances(), ids=lambda i: type(i).__name__)
def test_config_round_trip(init):
    cfg = init.get_config()
    json.dumps(cfg)                                                    # JSON-serializable
    again = type(init).from_config(cfg)
    assert again.get_config() == cfg
    ser = fastinit.serialize(init)
    assert ser == {"module": "keras.initializers", "class_name": type(init).__name__,
                   "config": cfg, "registered_name": None}
    back = fastinit.deserialize(json.loads(json.dumps(ser)))
    assert type(back) is type(init) and back.get_config() == cfg
    shape = (3, 4, 5) if isinstance(init, fastinit.VarianceScaling) else (4, 2)
    if cfg.get("seed", 0) is not None:
        np.testing.assert_array_equal(back(shape), init(shape))


def test_config_keys_are_kerass():
    keys = {
        fastinit.Zeros: set(), fastinit.Ones: set(), fastinit.Constant: {"value"},
        fastinit.RandomNormal: {"seed", "mean", "stddev"},
        fastinit.TruncatedNormal: {"seed", "mean", "stddev"},
        fastinit.RandomUniform: {"seed", "minval", "maxval"},
        fastinit.VarianceScaling: {"seed", "scale", "mode", "distribution", "input_axes",
                                   "output_axes"},
        fastinit.Orthogonal: {"seed", "gain"},
        fastinit.Identity: {"gain"},  # Keras drops gain; we keep it (documented)
        fastinit.GlorotUniform: {"seed", "input_axes", "output_axes"},
        fastinit.HeNormal: {"seed", "input_axes", "output_axes"},
    }
    for cls, k in keys.items():
        assert set(cls().get_config()) == k, cls


def test_identity_clone_keeps_gain():
    assert fastinit.Identity(gain=2.0).clone().gain == 2.0


def test_deserialize_reads_keras_style_configs():
    legacy = {"class_name": "he_normal", "config": {"seed": 5}}
    assert isinstance(fastinit.deserialize(legacy), fastinit.HeNormal)
    tensor_value = {"module": "keras.initializers", "class_name": "Constant",
                    "config": {"value": {"class_name": "__tensor__",
                                         "config": {"value": [1.0, 2.0], "dtype": "float32"}}},
                    "registered_name": None}
    c = fastinit.deserialize(tensor_value)
    assert c((3, 2)).tolist() == [[1.0, 2.0]] * 3
    assert isinstance(fastinit.deserialize("OrthogonalInitializer"), fastinit.Orthogonal)


# ---- names -----------------------------------------------------------------------------------


def test_snake_case_names_are_aliases():
    for cls in ALL_CLASSES:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in cls.__name__).lstrip("_")
        assert getattr(fastinit, snake) is cls
    assert fastinit.IdentityInitializer is fastinit.Identity
    assert fastinit.OrthogonalInitializer is fastinit.Orthogonal


@pytest.mark.parametrize("name,cls", [
    ("GlorotUniform", fastinit.GlorotUniform), ("glorot_uniform", fastinit.GlorotUniform),
    ("zero", fastinit.Zeros), ("zeros", fastinit.Zeros), ("one", fastinit.Ones),
    ("normal", fastinit.RandomNormal), ("random_normal", fastinit.RandomNormal),
    ("uniform", fastinit.RandomUniform), ("IdentityInitializer", fastinit.Identity),
    ("constant", fastinit.Constant), ("variance_scaling", fastinit.VarianceScaling),
])
def test_get_by_name(name, cls):
    assert type(fastinit.get(name)) is cls


def test_get_other_identifiers():
    assert fastinit.get(None) is None
    assert isinstance(fastinit.get(fastinit.HeNormal), fastinit.HeNormal)
    inst = fastinit.HeNormal(seed=1)
    assert fastinit.get(inst) is inst

    def fn(shape, dtype=None):
        return np.ones(shape)

    assert fastinit.get(fn) is fn
    assert isinstance(fastinit.get({"class_name": "Ones", "config": {}}), fastinit.Ones)
    arr = np.arange(6.0).reshape(2, 3)
    f = fastinit.get(arr)
    np.testing.assert_array_equal(f((2, 3), dtype="float32"), arr.astype(np.float32))
    with pytest.raises(ValueError, match=r"Expected `shape` to be \(2, 3\)"):
        f((3, 2))


def test_get_is_case_sensitive():
    with pytest.raises(ValueError, match="Could not interpret"):
        fastinit.get("Glorot_Uniform")


# ---- constant initializers -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int8", "int64",
                                   "uint16", "bool", "complex64", "complex128"])
def test_constant_fill_every_dtype(dtype):
    from fastinit._validation import resolve_dtype

    dt = resolve_dtype(dtype, kind="any")
    for shape in ((), (5,), (100_003,), (300, 301)):
        a = fastinit.Constant(3)(shape, dtype=dt)
        assert a.dtype == dt and a.shape == shape
        np.testing.assert_array_equal(a, np.full(shape, 3).astype(dt))
    np.testing.assert_array_equal(fastinit.Zeros()((7,), dtype=dt), np.zeros(7, dt))
    np.testing.assert_array_equal(fastinit.Ones()((7,), dtype=dt), np.ones(7, dt))
    out = np.empty((70_001,), dt)
    assert fastinit.Ones()((70_001,), out=out) is out
    np.testing.assert_array_equal(out, np.ones(70_001, dt))
    np.testing.assert_array_equal(fastinit.Zeros()((70_001,), out=out), np.zeros(70_001, dt))


def test_constant_casts_like_keras_and_broadcasts():
    assert fastinit.Constant(2.7)((3,), dtype="int32").tolist() == [2, 2, 2]
    assert fastinit.Constant(2.7)((2,), dtype="bool").tolist() == [True, True]
    assert fastinit.Constant([1, 2])((3, 2)).tolist() == [[1.0, 2.0]] * 3
    assert fastinit.Constant()((2,)).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"`value` of shape \(2,\) cannot be broadcast"):
        fastinit.Constant([1, 2])((3, 3))


def test_identity():
    assert fastinit.Identity()((2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert fastinit.Identity(gain=2)((3, 2), dtype="int32").tolist() == [[2, 0], [0, 2], [0, 0]]
    out = np.full((3, 3), 9.0, np.float32)
    fastinit.Identity(0.5)((3, 3), out=out)
    np.testing.assert_array_equal(out, 0.5 * np.eye(3))
    with pytest.raises(ValueError, match=r"only be used for 2D matrices.*rank 3"):
        fastinit.Identity()((2, 2, 2))


# ---- orthogonal ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 3, 4), (4, 3, 2), (1, 1), (3, 4, 5, 6),
                                   (64, 64)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_orthogonal_shapes(shape, dtype):
    gain = 1.5
    q = fastinit.Orthogonal(gain=gain, seed=3)(shape, dtype=dtype)
    assert q.shape == shape and q.dtype == dtype
    rows, cols = math.prod(shape[:-1]), shape[-1]
    m = q.reshape(rows, cols).astype(np.float64) / gain
    tol = 1e-5 if dtype == "float32" else 1e-13
    if rows >= cols:
        np.testing.assert_allclose(m.T @ m, np.eye(cols), atol=tol)
    else:
        np.testing.assert_allclose(m @ m.T, np.eye(rows), atol=tol)


def test_orthogonal_half_precision_and_out():
    for dtype in ("float16", "bfloat16"):
        q = fastinit.Orthogonal(seed=1)((16, 16), dtype=dtype)
        ref = fastinit.Orthogonal(seed=1)((16, 16), dtype="float32")
        np.testing.assert_array_equal(as_f64(q), as_f64(ref.astype(q.dtype)))
    out = np.empty((8, 4), np.float64)
    assert fastinit.Orthogonal(seed=2)((8, 4), out=out) is out
    np.testing.assert_array_equal(out, fastinit.Orthogonal(seed=2)((8, 4), dtype="float64"))


def test_orthogonal_rank_error():
    with pytest.raises(ValueError, match=r"at least two-dimensional.*rank 1"):
        fastinit.Orthogonal(seed=0)((5,))


def test_orthogonal_is_haar():
    """Over many draws at n = 16 the trace has mean 0 and variance 1, and the first column is
    uniform on the sphere (its first coordinate squared is Beta(1/2, 15/2))."""
    n, draws = 16, 3000
    traces, first = [], []
    for s in range(draws):
        q = fastinit.Orthogonal(seed=s)((n, n), dtype="float64")
        traces.append(np.trace(q))
        first.append(q[0, 0])
    traces = np.array(traces)
    assert abs(traces.mean()) < 5 / math.sqrt(draws)
    assert abs(traces.var() - 1) < 5 * math.sqrt(2 / draws)
    assert stats.kstest(np.square(first), stats.beta(0.5, (n - 1) / 2).cdf).pvalue > 1e-3
    # Mezzadri's sign fix: without it the diagonal would be biased positive
    assert abs(np.mean(first)) < 5 / math.sqrt(draws * n)


# ---- attributes changed after construction are honoured (Keras re-reads them every call) -------


@pytest.mark.parametrize("cls,attr,value", [
    (fastinit.RandomNormal, "stddev", 100.0),
    (fastinit.RandomNormal, "mean", 3.0),
    (fastinit.TruncatedNormal, "stddev", 7.0),
    (fastinit.RandomUniform, "maxval", 9.0),
    (fastinit.RandomUniform, "minval", -9.0),
    (fastinit.VarianceScaling, "scale", 40.0),
    (fastinit.VarianceScaling, "mode", "fan_out"),
    (fastinit.VarianceScaling, "distribution", "uniform"),
    (fastinit.GlorotUniform, "seed", 1),
    (fastinit.HeNormal, "seed", 12345),
    (fastinit.Orthogonal, "gain", 3.0),
    (fastinit.Orthogonal, "seed", 5),
])
def test_changed_attributes_change_the_next_call(cls, attr, value, tmp_path):
    init = cls(seed=0)
    shape = (64, 32)
    first = init(shape)
    setattr(init, attr, value)
    second = init(shape)                          # same shape: no stale cached stream
    assert second.tobytes() != first.tobytes()
    rebuilt = cls.from_config(init.get_config())  # the config tells the same story
    assert rebuilt(shape).tobytes() == second.tobytes()
    if cls is not fastinit.Orthogonal:            # and so do the file writer and the stream
        path = fastinit.save_npy(tmp_path / "w.npy", shape, init)
        assert np.load(path).tobytes() == second.tobytes()


def test_assigning_seed_validates_it_and_none_draws_a_new_one():
    init = fastinit.GlorotUniform(seed=3)
    with pytest.raises(ValueError, match=r"seed=-1"):
        init.seed = -1
    with pytest.raises(TypeError, match=r"seed"):
        init.seed = "x"
    assert init.seed == 3
    init.seed = None
    assert isinstance(init.seed, int) and init.get_config()["seed"] is None


def test_a_bad_value_assigned_later_is_refused_at_call_time():
    init = fastinit.RandomNormal(seed=0)
    init.stddev = -1.0
    with pytest.raises(ValueError, match=r"`stddev` must be positive"):
        init((3, 3))
    vs = fastinit.VarianceScaling(seed=0)
    vs.mode = "fan_sideways"
    with pytest.raises(ValueError, match=r"Invalid `mode` argument: fan_sideways\. .*Received: mode='fan_sideways'"):
        vs((3, 3))


def test_in_place_edit_of_a_list_attribute_is_seen():
    init = fastinit.VarianceScaling(seed=0, input_axes=[0], output_axes=[1], mode="fan_out",
                                    distribution="uniform")
    shape = (8, 16, 4)
    first = init(shape)
    init.output_axes.append(2)            # fan_out 16 -> 64: a different limit
    second = init(shape)
    assert np.abs(second).max() != np.abs(first).max()
    assert second.tobytes() == fastinit.VarianceScaling.from_config(init.get_config())(
        shape).tobytes()


def test_seed_sequence_maps_to_the_documented_int_not_to_its_entropy():
    ss = np.random.SeedSequence(5)
    w0, w1 = (int(w) for w in ss.generate_state(2, np.uint32))
    a = fastinit.GlorotUniform(seed=np.random.SeedSequence(5))((16, 16))
    assert fastinit.GlorotUniform(seed=np.random.SeedSequence(5)).seed == w0 | (w1 << 32)
    assert a.tobytes() == fastinit.GlorotUniform(seed=w0 | (w1 << 32))((16, 16)).tobytes()
    assert a.tobytes() != fastinit.GlorotUniform(seed=5)((16, 16)).tobytes()


def test_import_fastinit_stays_light():
    # scipy.linalg (~0.5 s) loads with the first Orthogonal, scipy.signal with the first named
    # STFT window; no framework and no adapter ever loads with fastinit
    code = ("import sys, fastinit; "
            "print(sorted(m for m in ('scipy.linalg', 'scipy.signal', 'torch', 'jax', 'jaxlib', "
            "'flax', 'keras', 'dask', 'fastinit.keras', 'fastinit.jax', 'fastinit.torch', "
            "'fastinit.dask') "
            "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# ---- fan_geo_avg: fastinit's extension beyond Keras (JAX's mode) ------------------------------

@pytest.mark.parametrize("distribution, k", [("uniform", 3.0), ("untruncated_normal", 1.0),
                                             ("truncated_normal", 1.0)])
def test_fan_geo_avg_scales_by_the_geometric_mean_of_the_fans(distribution, k):
    init = fastinit.VarianceScaling(2.0, "fan_geo_avg", distribution, seed=3)
    v = init((900, 100), dtype="float64")
    std = math.sqrt(2.0 / math.sqrt(900 * 100))     # n = sqrt(fan_in * fan_out) = 300
    assert abs(v.std() / std - 1) < 0.01            # 9e4 samples: sem ~0.25 %
    if distribution == "uniform":
        assert np.abs(v).max() < math.sqrt(k) * std
    # the same stream as the other modes with the equivalent scale: only n changes
    same = fastinit.VarianceScaling(2.0 * 500 / 300, "fan_avg", distribution, seed=3)
    np.testing.assert_allclose(v, same((900, 100), dtype="float64"), rtol=1e-12)


def test_fan_geo_avg_config_round_trip_and_messages():
    init = fastinit.VarianceScaling(0.5, "fan_geo_avg", "uniform", seed=1, input_axes=[0],
                                    output_axes=[1, 2])
    cfg = fastinit.serialize(init)
    assert cfg["config"]["mode"] == "fan_geo_avg"
    back = fastinit.deserialize(cfg)
    assert back.get_config() == init.get_config()
    whole = init((4, 5, 6)).tobytes()
    assert back((4, 5, 6)).tobytes() == whole == init.clone()((4, 5, 6)).tobytes()
    # (the set's order is Keras's, which depends on the hash seed once Keras is imported)
    with pytest.raises(ValueError, match=r"Please use one of \{[^}]*\} "
                                         r"\(fastinit also accepts 'fan_geo_avg'\)"):
        fastinit.VarianceScaling(mode="fan_geo")
    # fans of zero (an empty axis) behave like the other modes: n = 1, no division by zero
    assert fastinit.VarianceScaling(mode="fan_geo_avg", seed=0)((0, 4)).shape == (0, 4)
