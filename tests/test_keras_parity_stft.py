"""STFT against keras.initializers.STFT: every parameter-free scipy window, None and array
windows, both sides, every scaling, periodic or not, every float dtype.

Keras evaluates the angle -2 pi t f / N in float32 (its numpy backend computes even float64
requests in float32: `ops.multiply(-2, time)` gives float32), whose error grows with the angle,
about pi T; float16 requests are computed in float16.  So Keras's values are within
eps(compute dtype) * pi * T * max|window / scaling| of the exact ones, which is the tolerance.
fastinit is exact to float64 rounding (test_stft.py checks it against numpy's FFT).
"""

import numpy as np
import pytest
from scipy import signal

import fastinit
from tests.helpers import dtype_of
from tests.keras_reference import ki


def _parameter_free_windows():
    names = []
    for name in sorted(signal.windows.__all__):
        try:
            signal.get_window(name, 8)
        except (ValueError, TypeError):  # needs parameters, or not a window name
            continue
        names.append(name)
    return names


WINDOWS = _parameter_free_windows()
assert {"hann", "hamming", "blackman", "boxcar", "bartlett", "tukey"} <= set(WINDOWS)


def _compare(kwargs, shape, dtype):
    k = np.asarray(ki.STFT(**kwargs)(shape, dtype=dtype))
    f = fastinit.STFT(**kwargs)(shape, dtype=dtype)
    assert f.dtype == dtype_of(dtype) and f.shape == shape
    exact = fastinit.STFT(**kwargs)(shape, dtype="float64")
    compute_eps = np.finfo(np.float16 if dtype == "float16" else np.float32).eps
    weight = np.abs(exact[:, 0, 0]).max() if kwargs.get("side", "real") == "real" else 1.0
    tol = compute_eps * np.pi * shape[0] * max(1.0, weight) + 2 * float(
        np.finfo(dtype_of(dtype)).eps if dtype != "bfloat16" else 2.0 ** -7)
    np.testing.assert_allclose(f.astype(np.float64), k.astype(np.float64), rtol=0, atol=tol)


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("side", ["real", "imag"])
@pytest.mark.parametrize("scaling", [None, "density", "spectrum"])
@pytest.mark.parametrize("periodic", [False, True])
def test_named_windows_equal_keras(window, side, scaling, periodic):
    kwargs = dict(side=side, window=window, scaling=scaling, periodic=periodic)
    _compare(kwargs, (16, 1, 9), "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(side="imag", window="hamming", periodic=True, scaling="spectrum"),
    dict(window=None),
    dict(side="imag", window=None, scaling=None),
    dict(window=[0.5, -1.0, 2.0, 0.25, 3.0, 1.0, 0.0, 4.0, 1.0, 1.0, 2.0, 0.5], scaling=None),
    dict(side="imag", window=np.linspace(0.1, 1.0, 12), scaling="density"),
], ids=str)
@pytest.mark.parametrize("shape", [(12, 1, 7), (12, 1, 33)], ids=str)
def test_dtypes_and_array_windows_equal_keras(kwargs, dtype, shape):
    _compare(kwargs, shape, dtype)


def test_long_window_equals_keras():
    _compare(dict(window="hann", periodic=True), (400, 1, 257), "float32")
    _compare(dict(side="imag", window=None), (512, 1, 257), "float32")


def test_bfloat16_rounds_what_keras_float32_gives():
    # Keras computes bfloat16 in float32 too; fastinit rounds its float64 value once
    shape = (16, 1, 9)
    k = np.asarray(ki.STFT()(shape, dtype="float32")).astype(np.float64)
    f = fastinit.STFT()(shape, dtype="bfloat16").astype(np.float64)
    np.testing.assert_allclose(f, k, rtol=2.0 ** -8, atol=1e-5)


def test_keras_float64_is_float32_and_fastinit_is_float64():
    # the difference the README lists: with a window, Keras's numpy backend returns float32
    assert np.asarray(ki.STFT()((8, 1, 5), dtype="float64")).dtype == np.float32
    assert fastinit.STFT()((8, 1, 5), dtype="float64").dtype == np.float64


def test_more_input_channels_repeat_keras_single_channel():
    k = np.asarray(ki.STFT()((16, 3, 9)))
    assert k.shape == (16, 1, 9)  # Keras ignores the channel count
    f = fastinit.STFT()((16, 3, 9))
    for c in range(3):
        np.testing.assert_allclose(f[:, c], k[:, 0], rtol=0, atol=1e-5)


def test_configs_equal_keras_and_load_both_ways():
    for kwargs in [dict(), dict(side="imag", window=None, scaling=None, periodic=True),
                   dict(window=[1.0, 2.0, 3.0], scaling="spectrum")]:
        k = ki.STFT(**kwargs)
        f = fastinit.STFT(**kwargs)
        assert f.get_config() == k.get_config()
        assert type(ki.deserialize(fastinit.serialize(f))) is ki.STFT
        assert fastinit.deserialize(ki.serialize(k)).get_config() == f.get_config()
    # Keras serializes an ndarray window as a "__numpy__" dict; fastinit reads it
    k = ki.STFT(window=np.array([1.0, 2.0, 3.0]))
    back = fastinit.deserialize(ki.serialize(k))
    assert back.window == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(back((3, 1, 5)), np.asarray(k((3, 1, 5))), atol=1e-6)
