"""fastinit's own log, sin/cos and 16-bit rounding: accurate, and rounding exactly like numpy
(float16) and ml_dtypes (bfloat16)."""

import math

import ml_dtypes
import numpy as np

from fastinit import _testing
from tests.helpers import rounding_inputs


def ulp_error(got, ref, dtype):
    ref = np.asarray(ref, np.float64)
    spacing = np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref) / spacing


def test_log_f32_within_one_ulp_on_the_stream_inputs():
    # Box-Muller feeds log with (k + 1) * 2**-24, k a 24-bit integer: sample them densely.
    k = np.arange(0, 2**24, 13, dtype=np.float64)
    x = ((k + 1) * 2.0**-24).astype(np.float32)
    out = np.empty_like(x)
    _testing.log_f32(x, out)
    ref = np.log(x.astype(np.float64))
    nz = ref != 0
    assert ulp_error(out[nz], ref[nz], np.float32).max() <= 1.0
    assert out[-1] == 0.0 or x[-1] != 1.0


def test_log_f64_within_one_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.random(500_000), [2.0**-53, 0.5, 1.0 - 2.0**-53, 1.0]])
    x = x[x > 0]
    out = np.empty_like(x)
    _testing.log_f64(x, out)
    ref = np.log(x)
    nz = ref != 0
    assert ulp_error(out[nz], ref[nz], np.float64).max() <= 1.0


def test_sincos_on_the_reduced_range():
    t = np.linspace(-math.pi / 4, math.pi / 4, 400_001)
    s, c = np.empty_like(t), np.empty_like(t)
    _testing.sincos_f64(t, s, c)
    assert np.abs(s - np.sin(t)).max() < 2.3e-16
    assert np.abs(c - np.cos(t)).max() < 2.3e-16
    t32 = t.astype(np.float32)
    s32, c32 = np.empty_like(t32), np.empty_like(t32)
    _testing.sincos_f32(t32, s32, c32)
    t64 = t32.astype(np.float64)
    assert np.abs(s32 - np.sin(t64)).max() < 1.2e-7
    assert np.abs(c32 - np.cos(t64)).max() < 1.2e-7


def test_float16_rounding_matches_numpy_bit_for_bit():
    x = rounding_inputs(nans=False)
    got = np.empty(x.shape, np.uint16)
    _testing.round_f16(x, got)
    with np.errstate(over="ignore"):
        ref = x.astype(np.float16)
    np.testing.assert_array_equal(got, ref.view(np.uint16))


def test_bfloat16_rounding_matches_ml_dtypes_bit_for_bit():
    x = rounding_inputs(nans=False)
    got = np.empty(x.shape, np.uint16)
    _testing.round_bf16(x, got)
    np.testing.assert_array_equal(got, x.astype(ml_dtypes.bfloat16).view(np.uint16))


def test_nan_rounds_to_nan():
    x = np.array([np.nan, -np.nan], np.float32)
    got16, gotb = np.empty(2, np.uint16), np.empty(2, np.uint16)
    _testing.round_f16(x, got16)
    _testing.round_bf16(x, gotb)
    assert np.isnan(got16.view(np.float16)).all()
    assert np.isnan(gotb.view(ml_dtypes.bfloat16).astype(np.float32)).all()
