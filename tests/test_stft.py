"""STFT without Keras: values against an independent DFT reference, regions, configs, errors.
(Parity with keras.initializers.STFT itself is in test_keras_parity_stft.py.)"""

import json
import math
import re

import ml_dtypes
import numpy as np
import pytest
from scipy import signal

import fastinit
from tests.helpers import FLOAT_DTYPES, dtype_of


def scipy_error(window):
    """scipy's own message for a bad window name, which fastinit's message begins with (its
    wording changed between scipy versions), as a regex."""
    try:
        signal.get_window(window, 8)
    except ValueError as e:
        return re.escape(str(e))
    raise AssertionError(f"scipy accepted the window {window!r}")


def dft_reference(shape, side, window, scaling, periodic):
    """The kernel from numpy's FFT: row t of the rfft of the unit impulse at t (mod N) is
    exp(-2 pi i t f / N), i.e. cos - i sin of Keras's angle; then window / scaling."""
    t_len, channels, f_len = shape
    n = 2 * (f_len - 1)
    if n:
        spectrum = np.fft.rfft(np.eye(n)[np.arange(t_len) % n], n=n)
        trig = spectrum.real if side == "real" else spectrum.imag
    else:  # the DC bin alone
        trig = np.ones((t_len, 1)) if side == "real" else np.zeros((t_len, 1))
    if window is not None:
        w = (signal.get_window(window, t_len, periodic) if isinstance(window, str)
             else np.asarray(window, np.float64))
        if scaling == "density":
            w = w / np.sqrt(np.sum(w * w))
        elif scaling == "spectrum":
            w = w / np.sum(np.abs(w))
        trig = trig * w[:, None]
    return np.broadcast_to(trig[:, None, :], shape)


CASES = [
    dict(),
    dict(side="imag"),
    dict(window=None),
    dict(side="imag", window=None, scaling=None),
    dict(window="hamming", scaling="spectrum", periodic=True),
    dict(window="blackman", scaling=None),
    dict(window="tukey", periodic=True),
    dict(side="imag", window=[0.5, -1.0, 2.0, 0.25, 3.0, 1.0, 0.0, 4.0], scaling="spectrum"),
]
SHAPES = [(8, 1, 5), (8, 3, 17), (8, 1, 2), (8, 2, 1)]


@pytest.mark.parametrize("kwargs", CASES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_float64_values_equal_the_dft_to_rounding(kwargs, shape):
    init = fastinit.STFT(**kwargs)
    cfg = init.get_config()
    ref = dft_reference(shape, cfg["side"], cfg["window"], cfg["scaling"], cfg["periodic"])
    got = init(shape, dtype="float64")
    assert got.dtype == np.float64 and got.shape == shape
    # exact angle reduction, one cos/sin: a few float64 ulps of values of magnitude <= 1
    # (the FFT reference itself carries ~log2(N) ulps)
    np.testing.assert_allclose(got, ref, rtol=0, atol=8 * np.finfo(np.float64).eps * max(
        1.0, np.abs(ref).max()))


def test_long_windows_stay_accurate():
    # t * f reaches 2**21 here: the exact integer reduction keeps every value to float64 ulps,
    # where a float64 angle of size ~pi * T would lose ~11 bits
    shape = (2048, 1, 1025)
    got = fastinit.STFT(window=None)(shape, dtype="float64")
    ref = dft_reference(shape, "real", None, None, False)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)


@pytest.mark.parametrize("shape", [(2**31, 1, 2**31 + 1), (4, 1, 2**60 + 1)], ids=str)
def test_regions_of_giant_shapes_reduce_the_angle_exactly(shape):
    # t * f near 2**62, and N * F beyond 2**63: still cos(2 pi ((t f) mod N) / N) to rounding
    init = fastinit.STFT(window=None)
    t0, f0 = shape[0] - 3, shape[2] - 4
    got = init.region(shape, (slice(t0, t0 + 3), 0, slice(f0, f0 + 4)), "float64")
    n = 2 * (shape[2] - 1)
    ref = [[math.cos(2 * math.pi * ((t * f) % n) / n) for f in range(f0, f0 + 4)]
           for t in range(t0, t0 + 3)]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", FLOAT_DTYPES)
def test_every_dtype_is_the_float64_value_rounded_once(name):
    dt = dtype_of(name)
    init = fastinit.STFT(side="imag", window="hann", scaling="spectrum")
    shape = (33, 2, 40)
    got = init(shape, dtype=dt)
    assert got.dtype == dt
    assert got.tobytes() == init(shape, dtype="float64").astype(dt).tobytes()


@pytest.mark.parametrize("name", FLOAT_DTYPES)
def test_regions_and_ranges_are_the_same_bits(name):
    dt = dtype_of(name)
    init = fastinit.STFT(window="hamming", periodic=True)
    shape = (37, 3, 20)
    full = init(shape, dtype=dt)
    for index in [(slice(5, 30), slice(1, 3), slice(3, 17)), (7,), (slice(None), 2, 19),
                  (slice(36, 37), slice(0, 3), slice(0, 0)), (0, 0, 0)]:
        assert init.region(shape, index, dt).tobytes() == full[index].tobytes(), index
    source = init.source(shape, dt)
    for start, size in [(0, full.size), (123, 500), (59, 1), (full.size - 7, 7)]:
        buf = np.empty(size, dt)
        source.fill_range(buf, start)
        assert buf.tobytes() == full.reshape(-1)[start:start + size].tobytes()


def test_large_regions_batch_their_rows():
    # more rows than one scratch batch (2**17 elements): the batches join without a seam
    init = fastinit.STFT(side="imag", window=None)
    shape = (300, 1, 1025)
    full = init(shape)
    assert init.region(shape, (slice(1, 299),)).tobytes() == full[1:299].tobytes()
    np.testing.assert_allclose(full, dft_reference(shape, "imag", None, None, False),
                               rtol=0, atol=2e-7)


def test_save_npy_writes_the_same_array(tmp_path):
    path = tmp_path / "stft.npy"
    init = fastinit.STFT(window="hann")
    fastinit.save_npy(str(path), (400, 1, 257), init)
    assert np.load(path).tobytes() == init((400, 1, 257)).tobytes()


def test_every_channel_gets_the_same_kernel():
    a = fastinit.STFT()((16, 4, 9))
    for c in range(4):
        assert a[:, c].tobytes() == fastinit.STFT()((16, 1, 9))[:, 0].tobytes()


def test_single_bin_is_dc_and_zero_sizes_are_empty():
    w = signal.get_window("hann", 6, False)
    np.testing.assert_allclose(fastinit.STFT()((6, 1, 1), dtype="float64")[:, 0, 0],
                               w / np.sqrt(np.sum(w * w)), rtol=1e-15)
    assert not fastinit.STFT(side="imag")((6, 1, 1)).any()
    for shape in [(0, 1, 5), (4, 0, 5), (4, 1, 0)]:
        assert fastinit.STFT()(shape).shape == shape


def test_config_round_trip_and_names():
    init = fastinit.STFT(side="imag", window=np.array([1.0, 2.0, 3.0]), scaling=None,
                         periodic=True)
    cfg = init.get_config()
    assert cfg == {"side": "imag", "window": [1.0, 2.0, 3.0], "periodic": True, "scaling": None}
    assert list(cfg) == ["side", "window", "periodic", "scaling"]  # Keras's key order
    json.dumps(cfg)
    back = fastinit.deserialize(json.loads(json.dumps(fastinit.serialize(init))))
    assert type(back) is fastinit.STFT and back.get_config() == cfg
    assert back((3, 1, 4)).tobytes() == init((3, 1, 4)).tobytes()
    assert init.clone().get_config() == cfg
    for name in ("STFT", "stft", "STFTInitializer"):
        assert type(fastinit.get(name)) is fastinit.STFT
        assert name in fastinit.__all__
    assert fastinit.stft is fastinit.STFTInitializer is fastinit.STFT
    # an array as keras.saving writes it
    numpy_cfg = {"class_name": "__numpy__", "config": {"value": [1.0, 2.0], "dtype": "float32"}}
    assert fastinit.STFT(window=numpy_cfg).window == [1.0, 2.0]


def test_attributes_assigned_later_take_effect_and_are_checked():
    init = fastinit.STFT()
    init.side = "imag"
    assert init((8, 1, 5)).tobytes() == fastinit.STFT(side="imag")((8, 1, 5)).tobytes()
    init.periodic = True
    assert init((8, 1, 5)).tobytes() == fastinit.STFT(side="imag", periodic=True)(
        (8, 1, 5)).tobytes()
    init.side = "both"
    with pytest.raises(ValueError, match=r"^side should be 'real' or 'imag', not both"):
        init((8, 1, 5))
    init.side, init.scaling = "real", "l1"
    with pytest.raises(ValueError, match=r"^Scaling is invalid"):
        init((8, 1, 5))


def test_window_attribute_is_checked_and_used():
    init = fastinit.STFT()
    init.window = [1.0, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(init((4, 1, 3), dtype="float64")[:, 0, 0], 0.5)
    with pytest.raises(ValueError, match="^" + scipy_error("no_such_window")):
        init.window = "no_such_window"


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(side="Real"), ValueError, r"^side should be 'real' or 'imag', not Real\. "
                                    r"Received: side='Real'$"),
    (dict(scaling="l2"), ValueError, r"^Scaling is invalid, it must be `None`, 'density' or "
                                     r"'spectrum'\. Received scaling=l2"),
    (dict(window="nope"), ValueError, "^" + scipy_error("nope") + ".*Received: window='nope'$"),
    (dict(window="kaiser"), ValueError, "^" + scipy_error("kaiser")),
    (dict(window=[1.0, np.nan]), ValueError, r"`window` must be finite"),
    (dict(window=["a", "b"]), TypeError, r"`window` must be the name of a scipy.signal window"),
    (dict(window=("kaiser", 8.0)), TypeError, r"`window` must be the name"),
    (dict(window=[[1.0], [1.0, 2.0]]), TypeError, r"`window` must be the name"),
    (dict(periodic="yes"), TypeError, r"`periodic` must be a bool\. Received: periodic='yes'"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fastinit.STFT(**kwargs)


@pytest.mark.parametrize("init,shape,dtype,match", [
    (fastinit.STFT(), (4, 5), None, r"3-D shapes.*Received: shape=\(4, 5\) of rank 2"),
    (fastinit.STFT(window=[1.0, 2.0]), (3, 1, 5), None,
     r"^The shape of `window` must be equal to \[frame_length\]\.Received: window "
     r"shape=\(2,\), frame_length=3$"),
    (fastinit.STFT(window=[[1.0, 2.0]]), (2, 1, 5), None, r"window shape=\(1, 2\)"),
    (fastinit.STFT(window=[0.0, 0.0]), (2, 1, 5), None, r"`window` is all zeros"),
    (fastinit.STFT(window="hann"), (2, 1, 5), None, r"`window` is all zeros"),  # hann(2) = 0
    (fastinit.STFT(window=[1e5, 1.0], scaling=None), (2, 1, 5), "float16",
     r"`window` does not fit in float16.*dtype=float16"),
])
def test_bad_calls(init, shape, dtype, match):
    with pytest.raises(ValueError, match=match):
        init(shape, dtype)


def test_huge_windows_are_normalized_without_overflow():
    got = fastinit.STFT(window=[1e300, 1e300], scaling="density")((2, 1, 2), dtype="float64")
    np.testing.assert_allclose(np.abs(got), 2 ** -0.5, rtol=1e-15)
    # without scaling the window is the value: fine in float64, refused in float32
    assert fastinit.STFT(window=[1e300, 1.0], scaling=None)((2, 1, 2), "float64")[0, 0, 0] == 1e300
    with pytest.raises(ValueError, match=r"does not fit in float32"):
        fastinit.STFT(window=[1e300, 1.0], scaling=None)((2, 1, 2))


def test_only_float_dtypes():
    with pytest.raises(TypeError, match=r"floating-point dtype"):
        fastinit.STFT()((4, 1, 3), dtype="int32")
    assert fastinit.STFT()((4, 1, 3), dtype="bfloat16").dtype == ml_dtypes.bfloat16
