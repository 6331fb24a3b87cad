"""Parity with Keras 3, the deterministic part: registry names, configs both ways, constructor
defaults and signatures, compute_fans (keras_reference.py sets Keras up)."""

import inspect
import subprocess
import sys

import numpy as np
import pytest

import fastinit
from fastinit.initializers import ALL_OBJECTS_DICT as FI_OBJECTS
from tests.keras_reference import K_OBJECTS, k_compute_fans, ki

CLASS_NAMES = [
    "Constant", "Zeros", "Ones", "Identity", "RandomNormal", "TruncatedNormal", "RandomUniform",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal",
    "LecunUniform", "Orthogonal", "STFT",
]
assert len(CLASS_NAMES) == 16


# ---- 1. names --------------------------------------------------------------------------------


def _keras_names():
    return sorted(K_OBJECTS)


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
    assert set(FI_OBJECTS) == set(K_OBJECTS)
    for name, kcls in K_OBJECTS.items():
        assert FI_OBJECTS[name].__name__ == kcls.__name__, name


def _keras_public_class_attrs():
    out = []
    targets = {getattr(ki, n) for n in CLASS_NAMES} | {ki.Initializer}
    for attr in sorted(dir(ki)):
        if attr.startswith("_"):
            continue
        obj = getattr(ki, attr)
        if inspect.isclass(obj) and obj in targets:
            out.append((attr, obj.__name__))
    return out


KERAS_CLASS_ATTRS = _keras_public_class_attrs()


def test_keras_public_class_attrs_sanity():
    attrs = dict(KERAS_CLASS_ATTRS)
    # snake_case + CamelCase for the 16, CamelCase Initializer, and the three *Initializer
    # aliases.
    assert len(attrs) == 16 * 2 + 1 + 3
    assert attrs["IdentityInitializer"] == "Identity"
    assert attrs["STFTInitializer"] == attrs["stft"] == "STFT"
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
    "STFT": dict(side="imag", window="hamming", scaling="spectrum", periodic=True),
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
    ("STFT", dict(window=None, scaling=None)),
    ("STFT", dict(window=[0.5, 1.0, 0.25], scaling="density")),
    ("STFT", dict(window="blackman", periodic=True)),
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
