"""Parity with Keras 3: names, configs, defaults, fan maths, statistics and seed semantics.

fastinit draws from its own counter-based streams, so random values are compared with Keras's
statistically (two-sample KS tests, moment checks with tolerances derived from the sample size),
never bit for bit.  Everything deterministic (names, configs, defaults, fans, constant
initializers) must match exactly, except for the deliberate differences listed in
fastinit/initializers.py (Identity keeps `gain`; `get("constant")` works).

Keras runs on its numpy backend (which imports jax); the module is skipped if keras (or the
backend's dependencies) cannot be imported.
"""

import inspect
import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "numpy")
keras = pytest.importorskip("keras")
stats = pytest.importorskip("scipy.stats")

import fastinit  # noqa: E402
from fastinit.initializers import ALL_OBJECTS_DICT as FI_OBJECTS  # noqa: E402
from keras.src.initializers import ALL_OBJECTS_DICT as K_OBJECTS  # noqa: E402
from keras.src.initializers.random_initializers import compute_fans as k_compute_fans  # noqa: E402

ki = keras.initializers

STFT_NAMES = {"STFT", "stft", "STFTInitializer"}

CLASS_NAMES = [
    "Constant", "Zeros", "Ones", "Identity", "RandomNormal", "TruncatedNormal", "RandomUniform",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal",
    "LecunUniform", "Orthogonal",
]
assert len(CLASS_NAMES) == 15

TRUNC_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


# ---- 1. names --------------------------------------------------------------------------------


def _keras_names():
    return sorted(k for k in K_OBJECTS if k not in STFT_NAMES)


@pytest.mark.parametrize("name", _keras_names())
def test_get_name_resolves_to_same_class_name(name):
    kcls = K_OBJECTS[name]
    if kcls.__name__ == "Initializer":
        fobj = fastinit.get(name)
        assert type(fobj) is fastinit.Initializer
        kobj = ki.get(name)
        assert type(kobj).__name__ == "Initializer"
        with pytest.raises(NotImplementedError):
            kobj((2, 2))
        with pytest.raises(NotImplementedError):
            fobj((2, 2))
        return
    if kcls.__name__ == "Constant":
        # Keras's get("constant") raises KeyError('value') (documented difference).
        with pytest.raises(KeyError):
            ki.get(name)
    fobj = fastinit.get(name)
    assert isinstance(fobj, fastinit.Initializer)
    assert type(fobj).__name__ == kcls.__name__
    assert type(fobj) is getattr(fastinit, kcls.__name__)


def test_registry_keys_match_keras():
    assert set(FI_OBJECTS) == set(K_OBJECTS) - STFT_NAMES
    for name, kcls in K_OBJECTS.items():
        if name in STFT_NAMES:
            continue
        assert FI_OBJECTS[name].__name__ == kcls.__name__, name


def _keras_public_class_attrs():
    out = []
    targets = {getattr(ki, n) for n in CLASS_NAMES} | {ki.Initializer}
    for attr in sorted(dir(ki)):
        if attr.startswith("_") or attr in STFT_NAMES:
            continue
        obj = getattr(ki, attr)
        if inspect.isclass(obj) and obj in targets:
            out.append((attr, obj.__name__))
    return out


KERAS_CLASS_ATTRS = _keras_public_class_attrs()


def test_keras_public_class_attrs_sanity():
    attrs = dict(KERAS_CLASS_ATTRS)
    # snake_case + CamelCase for the 15, CamelCase Initializer, and the two *Initializer aliases.
    assert len(attrs) == 15 * 2 + 1 + 2
    assert attrs["IdentityInitializer"] == "Identity"
    assert attrs["OrthogonalInitializer"] == "Orthogonal"


@pytest.mark.parametrize("attr,class_name", KERAS_CLASS_ATTRS)
def test_public_attributes_are_the_same_classes(attr, class_name):
    assert hasattr(fastinit, attr), attr
    assert getattr(fastinit, attr) is getattr(fastinit, class_name)
    assert getattr(fastinit, attr).__name__ == class_name
    assert attr in fastinit.__all__


@pytest.mark.parametrize(
    "bad", ["GLOROT_UNIFORM", "Glorot_Uniform", "xavier_uniform", "kaiming_normal", "eye",
            "GlorotUniform ", ""]
)
def test_unknown_names_raise_value_error_in_both(bad):
    with pytest.raises(ValueError):
        ki.get(bad)
    with pytest.raises(ValueError):
        fastinit.get(bad)


def test_get_none_class_and_callable_like_keras():
    assert ki.get(None) is None and fastinit.get(None) is None
    assert type(fastinit.get(fastinit.HeNormal)) is fastinit.HeNormal
    assert type(ki.get(ki.HeNormal)) is ki.HeNormal

    def fn(shape, dtype=None):
        return np.ones(shape)

    assert ki.get(fn) is fn and fastinit.get(fn) is fn
    with pytest.raises(ValueError):
        ki.get(3)
    with pytest.raises(ValueError):
        fastinit.get(3)


def test_get_constant_works_in_fastinit_keras_raises_keyerror():
    # Documented deliberate difference: Keras's Constant.from_config indexes config["value"].
    with pytest.raises(KeyError):
        ki.get("constant")
    with pytest.raises(KeyError):
        ki.get("Constant")
    for name in ("constant", "Constant"):
        obj = fastinit.get(name)
        assert type(obj) is fastinit.Constant
        assert obj.get_config() == {"value": 0.0}
        np.testing.assert_array_equal(obj((2, 3)), np.zeros((2, 3), np.float32))


# ---- 2. configs ------------------------------------------------------------------------------

NON_DEFAULT_ARGS = {
    "Constant": dict(value=2.5),
    "Zeros": {},
    "Ones": {},
    "Identity": dict(gain=3.0),
    "RandomNormal": dict(mean=0.5, stddev=2.0, seed=7),
    "TruncatedNormal": dict(mean=1.0, stddev=0.5, seed=8),
    "RandomUniform": dict(minval=-1.0, maxval=3.0, seed=9),
    "VarianceScaling": dict(scale=0.3, mode="fan_out", distribution="untruncated_normal",
                            seed=10, input_axes=[0, 1], output_axes=[2]),
    "GlorotUniform": dict(seed=1, input_axes=[0], output_axes=[1]),
    "GlorotNormal": dict(seed=2, input_axes=[0, 1], output_axes=[2]),
    "HeNormal": dict(seed=3),
    "HeUniform": dict(seed=4, input_axes=[2], output_axes=[0, 1]),
    "LecunNormal": dict(seed=5, input_axes=[1], output_axes=[0]),
    "LecunUniform": dict(seed=6),
    "Orthogonal": dict(gain=2.0, seed=11),
}
assert set(NON_DEFAULT_ARGS) == set(CLASS_NAMES)

EXTRA_CONFIG_CASES = [
    ("Constant", dict(value=-3)),
    ("VarianceScaling", dict(scale=2.5, mode="fan_avg", distribution="uniform", seed=0)),
    ("VarianceScaling", dict(scale=1.5, mode="fan_in", distribution="truncated_normal", seed=12)),
    ("VarianceScaling", dict()),
    ("RandomNormal", dict()),  # unseeded: seed None in both configs
    ("GlorotUniform", dict()),
    ("Orthogonal", dict(gain=0.5)),
]

CONFIG_CASES = list(NON_DEFAULT_ARGS.items()) + EXTRA_CONFIG_CASES
CONFIG_IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CONFIG_CASES)]


@pytest.mark.parametrize("name,kwargs", CONFIG_CASES, ids=CONFIG_IDS)
def test_fastinit_serialize_is_read_by_keras(name, kwargs):
    fobj = getattr(fastinit, name)(**kwargs)
    ser = fastinit.serialize(fobj)
    assert ser == ki.serialize(getattr(ki, name)(**kwargs)) or name == "Identity"
    kobj = ki.deserialize(ser)
    assert type(kobj) is getattr(ki, name)
    if name == "Identity":
        # Documented deliberate difference: Keras drops gain, fastinit keeps it.
        assert kobj.get_config() == {}
        assert fobj.get_config() == {"gain": kwargs.get("gain", 1.0)}
        assert kobj.gain == kwargs.get("gain", 1.0)  # Keras's ctor still takes it from config
    else:
        assert kobj.get_config() == fobj.get_config()


@pytest.mark.parametrize("name,kwargs", CONFIG_CASES, ids=CONFIG_IDS)
def test_keras_serialize_is_read_by_fastinit(name, kwargs):
    kobj = getattr(ki, name)(**kwargs)
    fobj = fastinit.deserialize(ki.serialize(kobj))
    assert type(fobj) is getattr(fastinit, name)
    if name == "Identity":
        # Keras's config has no gain, so the gain comes back as the default.
        assert kobj.get_config() == {}
        assert fobj.get_config() == {"gain": 1.0}
    else:
        assert fobj.get_config() == kobj.get_config()
    # and the same through fastinit.get(dict), like keras.initializers.get(dict)
    assert fastinit.get(ki.serialize(kobj)).get_config() == fobj.get_config()


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_config_keys_match_keras(name):
    fkeys = set(getattr(fastinit, name)().get_config())
    kkeys = set(getattr(ki, name)().get_config())
    if name == "Identity":
        assert kkeys == set() and fkeys == {"gain"}  # documented: fastinit keeps gain
    else:
        assert fkeys == kkeys
    # key order too (configs are compared as dicts, but JSON files show it)
    if name != "Identity":
        assert list(getattr(fastinit, name)().get_config()) == list(
            getattr(ki, name)().get_config()
        )


def test_identity_clone_keeps_gain():
    assert fastinit.Identity(gain=2.0).clone().gain == 2.0
    assert ki.Identity(gain=2.0).clone().gain == 1.0  # the Keras bug fastinit fixes


def test_constant_array_value_from_keras_tensor_config():
    kobj = ki.Constant(np.array([1.0, 2.0]))
    fobj = fastinit.deserialize(ki.serialize(kobj))
    np.testing.assert_array_equal(fobj((3, 2)), kobj((3, 2)))
    # and fastinit's list config goes back into Keras
    kback = ki.deserialize(fastinit.serialize(fastinit.Constant([1.0, 2.0])))
    np.testing.assert_array_equal(kback((3, 2)), np.array([[1.0, 2.0]] * 3, np.float32))


def test_variance_scaling_distribution_normalisation_like_keras():
    for dist in ("normal", "Normal", "TRUNCATED_NORMAL", "Uniform", "untruncated_normal"):
        f = fastinit.VarianceScaling(distribution=dist)
        k = ki.VarianceScaling(distribution=dist)
        assert f.distribution == k.distribution
    for mode in ("FAN_IN", "fanin"):
        with pytest.raises(ValueError):
            ki.VarianceScaling(mode=mode)
        with pytest.raises(ValueError):
            fastinit.VarianceScaling(mode=mode)


# ---- 3. defaults -----------------------------------------------------------------------------


def _init_params(cls):
    if cls.__init__ is object.__init__:
        return []
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize("name", CLASS_NAMES + ["Initializer"])
def test_constructor_defaults_match_keras(name):
    fparams = _init_params(getattr(fastinit, name))
    kparams = _init_params(getattr(ki, name))
    assert fparams == kparams


@pytest.mark.parametrize("name", CLASS_NAMES + ["Initializer"])
def test_call_signature_matches_keras_plus_out(name):
    fsig = inspect.signature(getattr(fastinit, name).__call__)
    ksig = inspect.signature(getattr(ki, name).__call__)
    fparams = dict(fsig.parameters)
    out = fparams.pop("out")
    assert out.kind is inspect.Parameter.KEYWORD_ONLY and out.default is None
    assert [(p.name, p.kind, p.default) for p in fparams.values()] == [
        (p.name, p.kind, p.default) for p in ksig.parameters.values()
    ]


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_default_instances_have_equal_configs(name):
    f = getattr(fastinit, name)().get_config()
    k = getattr(ki, name)().get_config()
    if name == "Identity":
        assert f == {"gain": 1.0} and k == {}
    else:
        assert f == k


# ---- 4. compute_fans -------------------------------------------------------------------------

FAN_SHAPES = [(), (7,), (3, 5), (3, 3, 4, 8), (2, 3, 4, 5, 6), (0, 5), (5, 0), (1, 1, 1),
              (1,), (0,), (2, 0, 3), (64, 1), [3, 4]]


@pytest.mark.parametrize("shape", FAN_SHAPES, ids=str)
def test_compute_fans_default_rule(shape):
    f = fastinit.compute_fans(shape)
    k = k_compute_fans(shape)
    assert f == k
    assert all(type(x) is int for x in f)


AXES_CASES = [
    ((3, 4, 5), [0], [1, 2]),
    ((3, 4, 5), [2], [0, 1]),
    ((2, 3, 4, 5), [0, 2], [1, 3]),
    ((3, 4, 5), (0,), (1,)),
    ((3, 4, 5), [], [0]),
    ((3, 4, 5), [0, 0], [1]),
    ((3, 4, 5), 0, 1),
    # only one given: ignored (default rule), as in Keras
    ((3, 4, 5), [0], None),
    ((3, 4, 5), None, [1, 2]),
    ((3, 4, 5), [-1], None),
    ((3, 3, 4, 8), None, [0]),
    ((7, 9), [1], None),
    # repeated axes multiply past 64 bits: Keras's exact Python-int result, no C overflow
    ((2**31, 3), [0, 0, 0], [1]),
    ((2**40, 2**20), [0, 1, 0, 1], [1, 1, 1, 1, 1]),
]


@pytest.mark.parametrize("shape,input_axes,output_axes", AXES_CASES, ids=str)
def test_compute_fans_with_axes(shape, input_axes, output_axes):
    k_in = [input_axes] if isinstance(input_axes, int) else input_axes
    k_out = [output_axes] if isinstance(output_axes, int) else output_axes
    assert fastinit.compute_fans(shape, input_axes, output_axes) == k_compute_fans(
        shape, k_in, k_out
    )


NEGATIVE_AXES_CODE = r"""
import fastinit
cases = [((3, 4, 5), [-1], [0]), ((3, 4, 5), [0], [-2, -1]), ((2, 3, 4, 5), [-3], [-1, 0])]
for shape, i, o in cases:
    print(fastinit.compute_fans(shape, i, o))
print(fastinit.HeUniform(seed=1, input_axes=[-2], output_axes=[-1])((3, 4, 5)).shape)
"""


def test_compute_fans_negative_axes_like_keras():
    # Negative axes count from the end, as in Keras.  Run in a subprocess: _fans.pyx is compiled
    # with wraparound=False, and an un-normalized negative index there reads out of bounds
    # (it segfaulted before the fix), which would take the whole test run down.
    cases = [((3, 4, 5), [-1], [0]), ((3, 4, 5), [0], [-2, -1]), ((2, 3, 4, 5), [-3], [-1, 0])]
    expected = [str(k_compute_fans(s, i, o)) for s, i, o in cases] + [str((3, 4, 5))]
    proc = subprocess.run(
        [sys.executable, "-c", NEGATIVE_AXES_CODE], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.split("\n")[: len(expected)] == expected


# ---- 5. statistics vs Keras ------------------------------------------------------------------

N_STAT_SEEDS = 3
KS_ALPHA = 1e-3
N_SE = 5.0


def _dist_of(name, kwargs, shape):
    """(kind, params) of the theoretical distribution: kind in uniform/normal/truncated."""
    if name == "RandomNormal":
        return "normal", dict(mean=kwargs["mean"], std=kwargs["stddev"])
    if name == "RandomUniform":
        return "uniform", dict(low=kwargs["minval"], high=kwargs["maxval"])
    if name == "TruncatedNormal":
        return "truncated", dict(mean=kwargs["mean"], raw=kwargs["stddev"])
    presets = {
        "GlorotUniform": (1.0, "fan_avg", "uniform"),
        "GlorotNormal": (1.0, "fan_avg", "truncated_normal"),
        "HeNormal": (2.0, "fan_in", "truncated_normal"),
        "HeUniform": (2.0, "fan_in", "uniform"),
        "LecunNormal": (1.0, "fan_in", "truncated_normal"),
        "LecunUniform": (1.0, "fan_in", "uniform"),
    }
    if name == "VarianceScaling":
        scale, mode, dist = kwargs["scale"], kwargs["mode"], kwargs["distribution"]
    else:
        scale, mode, dist = presets[name]
    fan_in, fan_out = k_compute_fans(shape)
    n = {"fan_in": max(1.0, fan_in), "fan_out": max(1.0, fan_out),
         "fan_avg": max(1.0, (fan_in + fan_out) / 2.0)}[mode]
    var = scale / n
    if dist == "uniform":
        lim = math.sqrt(3.0 * var)
        return "uniform", dict(low=-lim, high=lim)
    if dist == "untruncated_normal":
        return "normal", dict(mean=0.0, std=math.sqrt(var))
    return "truncated", dict(mean=0.0, raw=math.sqrt(var) / TRUNC_STD)


def _moments(kind, p):
    """(mean, std, excess kurtosis) of the theoretical distribution."""
    if kind == "uniform":
        return (p["low"] + p["high"]) / 2, (p["high"] - p["low"]) / math.sqrt(12), -1.2
    if kind == "normal":
        return p["mean"], p["std"], 0.0
    k = float(stats.truncnorm(-2, 2).stats(moments="k"))
    return p["mean"], p["raw"] * TRUNC_STD, k


STAT_CASES = [
    ("GlorotUniform", {}, (256, 512)),
    ("GlorotNormal", {}, (256, 512)),
    ("HeNormal", {}, (256, 512)),
    ("HeNormal", {}, (3, 3, 32, 64)),
    ("HeUniform", {}, (256, 512)),
    ("LecunNormal", {}, (256, 512)),
    ("LecunUniform", {}, (256, 512)),
    ("VarianceScaling", dict(scale=0.3, mode="fan_out", distribution="untruncated_normal"),
     (256, 512)),
    ("RandomNormal", dict(mean=0.5, stddev=2.0), (256, 512)),
    ("RandomUniform", dict(minval=-1.0, maxval=3.0), (256, 512)),
    ("TruncatedNormal", dict(mean=1.0, stddev=0.5), (256, 512)),
]


def test_truncated_std_constant():
    assert TRUNC_STD == pytest.approx(float(stats.truncnorm(-2, 2).std()), rel=1e-14)
    assert fastinit.initializers.TRUNCATED_NORMAL_STD == TRUNC_STD


def _check_bounds(values, kind, p, strict_upper):
    x = values.astype(np.float64)
    if kind == "uniform":
        lo, hi = p["low"], p["high"]
        if strict_upper:
            # fastinit: [minval, maxval) in the output dtype
            assert x.min() >= lo and x.max() < hi, (x.min(), x.max(), lo, hi)
        else:
            # Keras samples float64 in [lo, hi) and rounds to float32, which may reach hi.
            lo32, hi32 = float(np.float32(lo)), float(np.float32(hi))
            assert x.min() >= min(lo, lo32) and x.max() <= max(hi, hi32)
        # the range is actually used
        width = hi - lo
        assert x.min() < lo + 1e-3 * width and x.max() > hi - 1e-3 * width
    elif kind == "truncated":
        lo, hi = p["mean"] - 2 * p["raw"], p["mean"] + 2 * p["raw"]
        if strict_upper:
            assert x.min() >= lo and x.max() <= hi, (x.min(), x.max(), lo, hi)
        else:
            lo32, hi32 = float(np.float32(lo)), float(np.float32(hi))
            assert x.min() >= min(lo, lo32) and x.max() <= max(hi, hi32)
        width = hi - lo
        assert x.min() < lo + 0.01 * width and x.max() > hi - 0.01 * width


def _check_moments(values, kind, p):
    x = values.astype(np.float64).ravel()
    n = x.size
    mean, std, ex_kurt = _moments(kind, p)
    se_mean = std / math.sqrt(n)
    # Var(sample variance) ~ sigma^4 (kurtosis - 1) / n;  se(std) ~ se(var) / (2 sigma)
    se_std = std * math.sqrt((ex_kurt + 2.0) / n) / 2.0
    assert abs(x.mean() - mean) < N_SE * se_mean, (x.mean(), mean, se_mean)
    assert abs(x.std() - std) < N_SE * se_std, (x.std(), std, se_std)


@pytest.mark.parametrize("case", range(len(STAT_CASES)),
                         ids=[f"{n}-{'x'.join(map(str, s))}" for n, _, s in STAT_CASES])
def test_statistics_match_keras(case):
    name, kwargs, shape = STAT_CASES[case]
    kind, p = _dist_of(name, kwargs, shape)
    for i in range(N_STAT_SEEDS):
        # distinct seeds per case: the same seed would give exactly rescaled copies of another
        # case's stream (the KS statistic is scale-invariant), i.e. no new evidence
        seed = 1000 + 10 * case + i
        fvals = getattr(fastinit, name)(**kwargs, seed=seed)(shape)
        kvals = getattr(ki, name)(**kwargs, seed=seed + 500)(shape)
        assert fvals.shape == kvals.shape == tuple(shape)
        assert fvals.dtype == kvals.dtype == np.float32
        pvalue = stats.ks_2samp(fvals.ravel(), kvals.ravel()).pvalue
        assert pvalue > KS_ALPHA, (name, i, pvalue)
        _check_bounds(fvals, kind, p, strict_upper=True)
        _check_bounds(kvals, kind, p, strict_upper=False)
        _check_moments(fvals, kind, p)
        _check_moments(kvals, kind, p)  # the formula itself is Keras's


EDGE_SHAPES = [(), (7,), (0, 5), (5, 0), (1, 1, 1), [2, 3]]


@pytest.mark.parametrize("name", ["GlorotUniform", "HeNormal", "LecunUniform", "RandomNormal",
                                  "TruncatedNormal", "RandomUniform", "VarianceScaling"])
@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
def test_edge_shapes_like_keras(name, shape):
    f = getattr(fastinit, name)(seed=1)(shape)
    k = np.asarray(getattr(ki, name)(seed=1)(shape))
    assert f.shape == k.shape == tuple(shape)
    assert f.dtype == k.dtype
    assert np.isfinite(f).all()


def test_statistics_ks_detects_a_wrong_scale():
    # The KS test above is not toothless: a 2% scale error is detected at this sample size.
    shape = (256, 512)
    f = fastinit.HeNormal(seed=1)(shape)
    k = ki.HeNormal(seed=2)(shape) * 1.02
    assert stats.ks_2samp(f.ravel(), k.ravel()).pvalue < KS_ALPHA


# ---- 6. Orthogonal ---------------------------------------------------------------------------

ORTHO_SHAPES = [(5, 3), (3, 5), (2, 3, 4), (4, 3, 2), (64, 64)]


def _check_orthonormal(q, shape, gain, tol):
    assert q.shape == tuple(shape)
    flat = np.asarray(q, np.float64).reshape(-1, shape[-1])
    rows, cols = flat.shape
    g = flat.T @ flat if rows >= cols else flat @ flat.T
    np.testing.assert_allclose(g, gain**2 * np.eye(min(rows, cols)), atol=tol * gain**2)


@pytest.mark.parametrize("shape", ORTHO_SHAPES, ids=str)
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_orthogonal_orthonormal_like_keras(shape, gain):
    for seed in (0, 1):
        f = fastinit.Orthogonal(gain=gain, seed=seed)(shape)
        k = ki.Orthogonal(gain=gain, seed=seed)(shape)
        assert f.dtype == k.dtype == np.float32
        _check_orthonormal(f, shape, gain, 1e-5)
        _check_orthonormal(k, shape, gain, 1e-5)
    f64 = fastinit.Orthogonal(gain=gain, seed=3)(shape, dtype="float64")
    assert f64.dtype == np.float64  # documented: Keras returns float32 here
    _check_orthonormal(f64, shape, gain, 1e-12)


def test_orthogonal_distribution_matches_keras():
    n = 2000
    f = np.stack([fastinit.Orthogonal(seed=s)((8, 8)) for s in range(n)]).astype(np.float64)
    k = np.stack([ki.Orthogonal(seed=10_000 + s)((8, 8)) for s in range(n)]).astype(np.float64)
    for stat_f, stat_k, what in [
        (f[:, 0, 0], k[:, 0, 0], "[0,0] entry"),
        (np.trace(f, axis1=1, axis2=2), np.trace(k, axis1=1, axis2=2), "trace"),
        (f[:, 7, 3], k[:, 7, 3], "[7,3] entry"),
        (np.sign(np.linalg.det(f)), np.sign(np.linalg.det(k)), "sign of det"),
    ]:
        pvalue = stats.ks_2samp(stat_f, stat_k).pvalue
        assert pvalue > KS_ALPHA, (what, pvalue)
    # Haar: E[q00] = 0, Var[q00] = 1/8, E[trace] = 0, Var[trace] = 1
    assert abs(f[:, 0, 0].mean()) < 5 * math.sqrt(1 / 8 / n)
    assert f[:, 0, 0].var() == pytest.approx(1 / 8, rel=5 * math.sqrt(2 / n))
    assert abs(np.trace(f, axis1=1, axis2=2).mean()) < 5 / math.sqrt(n)


# ---- 7. seed semantics -----------------------------------------------------------------------

SEEDED = [
    ("RandomNormal", {}), ("TruncatedNormal", {}), ("RandomUniform", {}),
    ("VarianceScaling", {}), ("GlorotUniform", {}), ("GlorotNormal", {}), ("HeNormal", {}),
    ("HeUniform", {}), ("LecunNormal", {}), ("LecunUniform", {}), ("Orthogonal", {}),
]
LIBS = {"fastinit": fastinit, "keras": ki}


@pytest.mark.parametrize("lib", list(LIBS))
@pytest.mark.parametrize("name,kwargs", SEEDED, ids=[n for n, _ in SEEDED])
def test_seed_semantics_like_keras(lib, name, kwargs):
    mod = LIBS[lib]
    cls = getattr(mod, name)
    shape = (6, 5)
    # same instance twice: identical
    a = cls(**kwargs, seed=42)
    np.testing.assert_array_equal(a(shape), a(shape))
    # two instances with the same int seed: identical; a different seed: different
    np.testing.assert_array_equal(cls(**kwargs, seed=42)(shape), a(shape))
    assert not np.array_equal(cls(**kwargs, seed=43)(shape), a(shape))
    # int-seeded clone: identical
    np.testing.assert_array_equal(a.clone()(shape), a(shape))
    # unseeded instance repeats itself
    u = cls(**kwargs)
    first = u(shape)
    np.testing.assert_array_equal(u(shape), first)
    assert u.get_config()["seed"] is None
    # two unseeded instances differ, and the clone of an unseeded one differs
    assert not np.array_equal(cls(**kwargs)(shape), first)
    assert not np.array_equal(u.clone()(shape), first)
    # random.seed before construction makes unseeded instances reproducible
    state = random.getstate()
    try:
        random.seed(123)
        r1 = cls(**kwargs)(shape)
        random.seed(123)
        r2 = cls(**kwargs)(shape)
    finally:
        random.setstate(state)
    np.testing.assert_array_equal(r1, r2)


def test_keras_set_random_seed_makes_fastinit_reproducible():
    state, npstate = random.getstate(), np.random.get_state()
    try:
        keras.utils.set_random_seed(7)
        a = fastinit.GlorotUniform()((4, 4))
        keras.utils.set_random_seed(7)
        b = fastinit.GlorotUniform()((4, 4))
        keras.utils.set_random_seed(8)
        c = fastinit.GlorotUniform()((4, 4))
    finally:
        random.setstate(state)
        np.random.set_state(npstate)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_unseeded_seed_drawn_like_keras():
    # Both draw random.randint(1, 1e9) once at construction.
    state = random.getstate()
    try:
        random.seed(99)
        fseed = fastinit.HeNormal().seed
        random.seed(99)
        kseed = ki.HeNormal().seed
    finally:
        random.setstate(state)
    assert fseed == kseed


# ---- 8. deterministic initializers: exact values ---------------------------------------------

DET_CASES = [
    ("Zeros", ()), ("Ones", ()), ("Identity", ()), ("Identity", (2.0,)), ("Identity", (-3,)),
    ("Constant", (2.7,)), ("Constant", (-3,)), ("Constant", (0.0,)), ("Constant", ([1, 2],)),
    ("Constant", ([1.5, -2.5],)),
]


@pytest.mark.parametrize("name,args", DET_CASES, ids=[f"{n}{a}" for n, a in DET_CASES])
@pytest.mark.parametrize("shape", [(2, 3), (3, 2)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "int32", None])
def test_deterministic_values_equal_keras(name, args, shape, dtype):
    kinit = getattr(ki, name)(*args)
    finit = getattr(fastinit, name)(*args)
    if name == "Constant" and np.ndim(args[0]) and shape == (2, 3):
        with pytest.raises(ValueError):
            kinit(shape, dtype)
        with pytest.raises(ValueError):
            finit(shape, dtype)
        return
    k = np.asarray(kinit(shape, dtype))
    f = finit(shape, dtype)
    expected_dtype = np.dtype(dtype or "float32")
    assert f.dtype == expected_dtype
    assert f.shape == k.shape == shape
    if name == "Identity" and dtype == "int32":
        # Keras's numpy backend computes `gain * eye(int32)` and returns float64; fastinit keeps
        # the requested dtype.  The values are the same for integral gains.
        np.testing.assert_array_equal(f.astype(np.float64), k.astype(np.float64))
    else:
        assert k.dtype == f.dtype
        np.testing.assert_array_equal(f, k)


def test_constant_rounds_toward_zero_for_int_dtype_like_keras():
    for v, want in [(2.7, 2), (-2.7, -2), (0.9, 0)]:
        k = ki.Constant(v)((2, 2), "int32")
        f = fastinit.Constant(v)((2, 2), "int32")
        np.testing.assert_array_equal(f, k)
        assert (f == want).all()


def test_identity_rejects_non_2d_like_keras():
    for shape in [(3,), (2, 2, 2)]:
        with pytest.raises(ValueError):
            ki.Identity()(shape)
        with pytest.raises(ValueError):
            fastinit.Identity()(shape)


def test_orthogonal_rejects_1d_like_keras():
    with pytest.raises(ValueError):
        ki.Orthogonal(seed=1)((4,))
    with pytest.raises(ValueError):
        fastinit.Orthogonal(seed=1)((4,))
