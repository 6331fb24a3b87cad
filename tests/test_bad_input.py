"""Every public entry point rejects bad input before any work starts, naming the argument and the
value received; `out=` is left untouched."""

import math
import re

import numpy as np
import pytest

import fastinit
from fastinit import Stream, fill_stream

RANDOM_INITS = [
    fastinit.RandomNormal, fastinit.TruncatedNormal, fastinit.RandomUniform,
    fastinit.VarianceScaling, fastinit.GlorotUniform, fastinit.GlorotNormal, fastinit.HeNormal,
    fastinit.HeUniform, fastinit.LecunNormal, fastinit.LecunUniform, fastinit.Orthogonal,
]
ALL_INITS = RANDOM_INITS + [fastinit.Zeros, fastinit.Ones, fastinit.Constant, fastinit.Identity]


def make(cls):
    return cls(seed=0) if cls in RANDOM_INITS else cls()


# ---- shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_INITS)
@pytest.mark.parametrize("shape,exc,match", [
    ((3, -1), ValueError, r"non-negative.*shape=\(3, -1\)"),
    ((2.5, 3), TypeError, r"must contain ints.*shape=\(2.5, 3\)"),
    (("3", 3), TypeError, r"must contain ints"),
    ((True, 3), TypeError, r"not bools"),
    ((2**40, 2**40), ValueError, r"too large"),
    ((0, 2**40, 2**40), ValueError, r"too large"),
    (None, TypeError, r"shape=None"),
])
def test_bad_shapes(cls, shape, exc, match):
    with pytest.raises(exc, match=match):
        make(cls)(shape)


@pytest.mark.parametrize("cls", ALL_INITS)
def test_zero_size_shapes_return_empty_arrays(cls):
    init = make(cls)
    for shape in ((0, 5), (5, 0), (0, 0)):
        a = init(shape)
        assert a.shape == shape and a.dtype == np.float32
    if cls not in (fastinit.Orthogonal, fastinit.Identity):
        assert init((0,)).shape == (0,)
        assert init((3, 0, 4)).shape == (3, 0, 4)


def test_numpy_integer_dimensions_are_fine():
    a = fastinit.GlorotUniform(seed=0)((np.int64(3), np.uint8(4)))
    assert a.shape == (3, 4)
    assert fastinit.Zeros()(5).shape == (5,)


# ---- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize("ctor,match", [
    (lambda: fastinit.RandomNormal(mean=math.nan), r"`mean` must be finite.*mean=nan"),
    (lambda: fastinit.RandomNormal(stddev=math.inf), r"`stddev` must be finite.*stddev=inf"),
    (lambda: fastinit.RandomNormal(stddev=0.0), r"`stddev` must be positive.*stddev=0.0"),
    (lambda: fastinit.RandomNormal(stddev=-1.0), r"`stddev` must be positive.*stddev=-1.0"),
    (lambda: fastinit.TruncatedNormal(stddev=0), r"`stddev` must be positive"),
    (lambda: fastinit.TruncatedNormal(mean=-math.inf), r"`mean` must be finite"),
    (lambda: fastinit.RandomUniform(minval=1.0, maxval=1.0),
     r"`minval` must be less than `maxval`.*minval=1.0, maxval=1.0"),
    (lambda: fastinit.RandomUniform(minval=2.0, maxval=1.0), r"minval=2.0, maxval=1.0"),
    (lambda: fastinit.RandomUniform(maxval=math.nan), r"`maxval` must be finite"),
    (lambda: fastinit.VarianceScaling(scale=0.0), r"^Argument `scale` must be positive float\. Received: scale=0\.0$"),
    (lambda: fastinit.VarianceScaling(scale=-2), r"scale=-2"),
    (lambda: fastinit.VarianceScaling(scale=math.nan), r"scale=nan"),
    (lambda: fastinit.VarianceScaling(mode="FAN_IN"),
     r"^Invalid `mode` argument: FAN_IN\. Please use one of \{.*\} "
     r"\(fastinit also accepts 'fan_geo_avg'\)\. Received: mode='FAN_IN'$"),
    (lambda: fastinit.VarianceScaling(distribution="gauss"),
     r"^Invalid `distribution` argument: gauss\.Please use one of \{.*\}\. "
     r"Received: distribution='gauss'$"),
    (lambda: fastinit.Orthogonal(gain=math.inf), r"`gain` must be finite.*gain=inf"),
    (lambda: fastinit.Identity(gain=math.nan), r"`gain` must be finite"),
    (lambda: fastinit.Constant(math.nan), r"`value` must be finite"),
    (lambda: fastinit.Constant([1.0, math.inf]), r"`value` must be finite"),
])
def test_bad_parameters_raise_value_error(ctor, match):
    with pytest.raises(ValueError, match=match):
        ctor()


@pytest.mark.parametrize("ctor,match", [
    (lambda: fastinit.RandomNormal(mean="0"), r"`mean` must be a real number.*mean='0'"),
    (lambda: fastinit.RandomUniform(minval=None), r"`minval` must be a real number"),
    (lambda: fastinit.VarianceScaling(scale="1"),
     r"^Argument `scale` must be positive float\. Received: scale='1'$"),
    (lambda: fastinit.VarianceScaling(input_axes="ab", output_axes=[1]),
     r"`input_axes` must be a list of ints"),
    (lambda: fastinit.Constant("x"), r"`value` must be a real number"),
])
def test_bad_parameter_types_raise_type_error(ctor, match):
    with pytest.raises(TypeError, match=match):
        ctor()


def test_mode_and_distribution_wording():
    with pytest.raises(ValueError, match=r"Invalid `mode` argument: 3"):
        fastinit.VarianceScaling(mode=3)
    # Keras: distribution is case-insensitive and "normal" means truncated
    assert fastinit.VarianceScaling(distribution="NORMAL").distribution == "truncated_normal"


def test_axes_out_of_range():
    init = fastinit.VarianceScaling(input_axes=[0], output_axes=[5], seed=0)
    with pytest.raises(ValueError, match=r"`output_axes` has axis 5.*rank 3"):
        init((3, 4, 5))


def test_stream_parameter_errors():
    with pytest.raises(ValueError, match=r"`distribution` must be one of"):
        Stream("gauss", 0)
    with pytest.raises(ValueError, match=r"`low` must be less than `high`"):
        Stream("uniform", 0, low=1.0, high=0.0)
    with pytest.raises(ValueError, match=r"`low` must be less than `high`"):
        Stream("truncated_normal", 0, low=1.0, high=1.0)
    with pytest.raises(ValueError, match=r"`stddev` must be positive"):
        Stream("normal", 0, stddev=0.0)
    with pytest.raises(ValueError, match=r"`high` must be finite"):
        Stream("uniform", 0, high=math.inf)
    with pytest.raises(ValueError, match=r"`high` is outside the range of float32"):
        Stream("uniform", 0, low=-1e38, high=1e39).fill(np.empty(4, np.float32))
    with pytest.raises(TypeError, match=r"Unknown parameter\(s\) \['sigma'\]"):
        Stream("normal", 0, sigma=1.0)


# ---- dtypes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", RANDOM_INITS)
@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool", "complex64", "object", "U3"])
def test_random_initializers_reject_non_float_dtypes(cls, dtype):
    expected = re.escape(f"dtype={np.dtype(dtype)}")
    with pytest.raises(TypeError, match=rf"`dtype` must be a floating-point dtype.*{expected}"):
        make(cls)((2, 2), dtype=dtype)


def test_unknown_dtype_string():
    with pytest.raises(TypeError, match=r"`dtype` is not a dtype numpy understands"):
        fastinit.GlorotUniform(seed=0)((2, 2), dtype="float33")


def test_constant_initializers_accept_numeric_dtypes_but_not_objects():
    assert fastinit.Ones()((2,), dtype="int32").tolist() == [1, 1]
    assert fastinit.Constant(2.7)((2,), dtype="int32").tolist() == [2, 2]
    assert fastinit.Zeros()((2,), dtype="bool").tolist() == [False, False]
    with pytest.raises(TypeError, match=r"numeric or bool dtype.*dtype=object"):
        fastinit.Ones()((2,), dtype=object)


# ---- out= ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_INITS)
def test_out_wrong_dtype(cls):
    out = np.full((4, 4), 7.0, np.float64)
    with pytest.raises(TypeError, match=r"out has dtype float64, expected float32"):
        make(cls)((4, 4), dtype="float32", out=out)
    assert (out == 7.0).all()


@pytest.mark.parametrize("cls", ALL_INITS)
def test_out_wrong_shape(cls):
    out = np.full((4, 5), 7.0, np.float32)
    with pytest.raises(ValueError, match=r"out has shape \(4, 5\), expected \(4, 4\)"):
        make(cls)((4, 4), out=out)
    assert (out == 7.0).all()


@pytest.mark.parametrize("cls", ALL_INITS)
def test_out_not_contiguous(cls):
    base = np.full((4, 8), 7.0, np.float32)
    with pytest.raises(ValueError, match=r"out must be C-contiguous"):
        make(cls)((4, 4), out=base[:, ::2])
    with pytest.raises(ValueError, match=r"out must be C-contiguous"):
        make(cls)((4, 4), out=np.asfortranarray(np.zeros((4, 4), np.float32)))
    assert (base == 7.0).all()


@pytest.mark.parametrize("cls", ALL_INITS)
def test_out_read_only(cls):
    out = np.full((4, 4), 7.0, np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"out is read-only"):
        make(cls)((4, 4), out=out)


def test_out_not_an_array_or_misaligned_or_byteswapped():
    with pytest.raises(TypeError, match=r"out must be a numpy.ndarray, got list"):
        fastinit.GlorotUniform(seed=0)((2,), out=[0.0, 0.0])
    raw = np.zeros(4 * 4 + 1, np.uint8)[1:].view(np.float32)
    with pytest.raises(ValueError, match=r"out must be aligned"):
        fastinit.GlorotUniform(seed=0)((4,), out=raw)
    with pytest.raises(ValueError, match=r"native byte order"):
        fastinit.GlorotUniform(seed=0)((4,), out=np.zeros(4, ">f4"))


def test_out_dtype_taken_from_out_when_dtype_is_none():
    out = np.zeros((3, 3), np.float64)
    assert fastinit.HeNormal(seed=1)((3, 3), out=out) is out
    np.testing.assert_array_equal(out, fastinit.HeNormal(seed=1)((3, 3), dtype="float64"))


def test_fill_stream_out_checks():
    with pytest.raises(TypeError, match=r"out has dtype int32"):
        fill_stream(np.zeros(3, np.int32), "normal", seed=0)
    with pytest.raises(ValueError, match=r"out must be C-contiguous"):
        fill_stream(np.zeros(6, np.float32)[::2], "normal", seed=0)
    with pytest.raises(TypeError, match=r"`start` must be an int.*start=1.5"):
        fill_stream(np.zeros(3, np.float32), "normal", seed=0, start=1.5)
    with pytest.raises(ValueError, match=r"`start` must satisfy.*start=-1"):
        fill_stream(np.zeros(3, np.float32), "normal", seed=0, start=-1)
    with pytest.raises(ValueError, match=r"start=18446744073709551615"):
        fill_stream(np.zeros(3, np.float32), "normal", seed=0, start=2**64 - 1)


# ---- seeds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", RANDOM_INITS)
@pytest.mark.parametrize("seed,exc,match", [
    (-1, ValueError, r"`seed` must be >= 0.*seed=-1"),
    (1.5, TypeError, r"^`seed` argument should be an instance of .*Received: seed=1\.5 of type "
                     r"float\. fastinit initializers take an int >= 0"),
    ("42", TypeError, r"seed='42'"),
    (True, TypeError, r"not a bool.*seed=True"),
    ([1, 2], TypeError, r"seed=\[1, 2\]"),
    ({"class_name": "SeedGenerator", "config": {"seed": 1}}, ValueError, r"SeedGenerator"),
])
def test_bad_seeds(cls, seed, exc, match):
    with pytest.raises(exc, match=match):
        cls(seed=seed)


def test_fill_stream_requires_a_seed():
    with pytest.raises(TypeError, match=r"seed=None"):
        fill_stream(np.zeros(3, np.float32), "normal", seed=None)


def test_good_seed_types():
    ss = np.random.SeedSequence(5)
    a = fastinit.HeNormal(seed=ss)((10,))
    np.testing.assert_array_equal(a, fastinit.HeNormal(seed=np.random.SeedSequence(5))((10,)))
    g1, g2 = np.random.default_rng(1), np.random.default_rng(1)
    np.testing.assert_array_equal(fastinit.HeNormal(seed=g1)((10,)),
                                  fastinit.HeNormal(seed=g2)((10,)))
    # a generator-seeded instance is still stateless, and its config rebuilds it exactly
    init = fastinit.HeNormal(seed=np.random.default_rng(2))
    np.testing.assert_array_equal(init((10,)), init((10,)))
    np.testing.assert_array_equal(init((10,)), init.clone()((10,)))
    assert fastinit.HeNormal(seed=np.int64(3)).get_config()["seed"] == 3


# ---- registry --------------------------------------------------------------------------------


def test_registry_errors():
    with pytest.raises(ValueError, match=r"^Could not interpret initializer identifier: GLOROT\. "
                       r"Received: identifier='GLOROT'$"):
        fastinit.get("GLOROT")
    with pytest.raises(ValueError, match=r"Could not interpret initializer identifier: 3"):
        fastinit.get(3)
    with pytest.raises(ValueError, match=r"'class_name'"):
        fastinit.deserialize({"config": {}})
    with pytest.raises(TypeError, match=r"must be a fastinit initializer"):
        fastinit.serialize("glorot_uniform")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'nope'"):
        fastinit.deserialize({"class_name": "GlorotUniform", "config": {"nope": 1}})


def test_thread_setter_errors():
    with pytest.raises(ValueError, match=r"`n` must be >= 1.*n=0"):
        fastinit.set_num_threads(0)
    with pytest.raises(TypeError, match=r"n=2.0"):
        fastinit.set_num_threads(2.0)
    with pytest.raises(ValueError, match=r"n=-3"):
        with fastinit.num_threads(-3):
            pass


# ---- parameters against the output dtype -------------------------------------------------------
# Finite parameters never give NaN or inf: each is either computed correctly or refused before
# any work with a ValueError naming the argument, the value and the dtype.


@pytest.mark.parametrize("ctor,dtype,match", [
    (lambda: fastinit.RandomUniform(-1e39, 1e39, seed=0), "float32",
     r"`minval` is outside the range of float32.*minval=-1e\+39, dtype=float32"),
    (lambda: fastinit.RandomUniform(-1.0, 1e39, seed=0), "float32",
     r"`maxval` is outside the range of float32.*maxval=1e\+39"),
    (lambda: fastinit.RandomUniform(-3e38, 3e38, seed=0), "float16",
     r"`minval` is outside the range of float16.*dtype=float16"),
    (lambda: fastinit.VarianceScaling(scale=1e78, distribution="uniform", seed=0), "float32",
     r"`scale` gives values outside the range of float32.*scale=1e\+78, dtype=float32"),
    (lambda: fastinit.VarianceScaling(scale=1e78, seed=0), "float32", r"`scale`.*float32"),
    (lambda: fastinit.VarianceScaling(scale=1e10, distribution="untruncated_normal", seed=0),
     "float16", r"`scale` gives values outside the range of float16.*shape \(4, 4\)"),
    (lambda: fastinit.RandomNormal(mean=1e39, seed=0), "float32",
     r"`mean` is outside the range of float32.*mean=1e\+39"),
    (lambda: fastinit.RandomNormal(stddev=1e38, seed=0), "float32",
     r"`stddev` gives values outside the range of float32.*stddev=1e\+38"),
    (lambda: fastinit.RandomNormal(stddev=2e4, seed=0), "float16", r"`stddev`.*float16"),
    (lambda: fastinit.TruncatedNormal(mean=2e38, stddev=1e38, seed=0), "float32",
     r"`mean` and `stddev` give values outside the range of float32"),
    (lambda: fastinit.Constant(1e39), "float32",
     r"`value` does not fit in float32.*value=1e\+39, dtype=float32"),
    (lambda: fastinit.Constant(70000.0), "float16", r"`value` does not fit in float16"),
    (lambda: fastinit.Constant([1.0, 1e39]), "float32", r"`value` does not fit in float32"),
    (lambda: fastinit.Constant(300), "int8", r"`value` does not fit in int8.*value=300"),
    (lambda: fastinit.Constant(-1), "uint8", r"`value` does not fit in uint8"),
    (lambda: fastinit.Constant(2.0**40), "int32", r"`value` does not fit in int32"),
    (lambda: fastinit.Constant(10**400), "float64", r"`value` does not fit in float64"),
    (lambda: fastinit.Constant(10**400), "int64", r"`value` does not fit in int64"),
    (lambda: fastinit.Identity(gain=1e39), "float32", r"`gain` does not fit in float32"),
    (lambda: fastinit.Identity(gain=70000), "float16", r"`gain` does not fit in float16"),
    (lambda: fastinit.Identity(gain=200), "int8", r"`gain` does not fit in int8"),
    (lambda: fastinit.Orthogonal(gain=1e39, seed=0), "float32",
     r"`gain` makes values outside the range of float32.*gain=1e\+39"),
    (lambda: fastinit.Orthogonal(gain=1e5, seed=0), "bfloat16" if False else "float16",
     r"`gain`.*float16"),
])
def test_parameters_the_dtype_cannot_hold_are_refused_before_work(ctor, dtype, match):
    init = ctor()
    out = np.full((4, 4), 7, dtype=fastinit._validation.resolve_dtype(dtype, kind="any"))
    before = out.copy()
    with pytest.raises(ValueError, match=match):
        init((4, 4), dtype=dtype, out=out)
    assert out.tobytes() == before.tobytes()
    with pytest.raises(ValueError, match=match):
        init((4, 4), dtype=dtype)


@pytest.mark.parametrize("ctor,name", [
    (lambda: fastinit.RandomNormal(mean=10**400), "mean"),
    (lambda: fastinit.RandomNormal(stddev=10**400), "stddev"),
    (lambda: fastinit.RandomUniform(maxval=10**400), "maxval"),
    (lambda: fastinit.TruncatedNormal(mean=-(10**400)), "mean"),
    (lambda: fastinit.VarianceScaling(scale=10**400), "scale"),
    (lambda: fastinit.Orthogonal(gain=10**400), "gain"),
    (lambda: fastinit.Identity(gain=10**400), "gain"),
])
def test_huge_python_ints_raise_value_error_not_overflow_error(ctor, name):
    with pytest.raises(ValueError, match=rf"`{name}`"):
        ctor()


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_uniform_wider_than_the_largest_float_is_computed(dtype):
    # [low, high) fits in the dtype but high - low does not: the values are still drawn from
    # the whole interval (not one constant, not NaN), half-open, bit-identical in chunks.
    dt = fastinit._validation.resolve_dtype(dtype)
    big = 0.9 * fastinit._validation.float_max(dt)
    init = fastinit.RandomUniform(-big, big, seed=3)
    v = init((4096,), dtype=dtype)
    x = v.astype(np.float64)
    assert np.isfinite(x).all()
    assert x.min() >= -big and x.max() < big
    u = x / big                                               # uniform on [-1, 1)
    assert u.min() < -0.99 and u.max() > 0.99                 # spread over the interval
    assert abs(u.mean()) < 0.05 and abs(u.std() - 1 / math.sqrt(3)) < 0.02
    part = fill_stream(np.empty(1001, dt), "uniform", seed=3, start=1500, low=-big, high=big)
    assert part.tobytes() == v[1500:2501].tobytes()


def test_truncated_normal_bounds_beyond_the_dtype_are_fine_when_values_fit():
    # a one-sided tail: the upper bound is far beyond float32, the values are not
    s = Stream("truncated_normal", 0, mean=0.0, stddev=1.0, low=1.0, high=1e300)
    v = s.fill(np.empty(10000, np.float32))
    assert np.isfinite(v).all() and v.min() >= 1.0
