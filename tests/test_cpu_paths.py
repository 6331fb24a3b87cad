"""Every CPU code path (generic scalar, AVX2, AVX-512) gives the same bits: each path this machine
supports is forced with the `_fill.set_cpu_path` test hook and compared with the generic path, for
every distribution and dtype, over ranges whose start and size are not multiples of the generator
block (4 / 2 elements) or of any vector width, and against the frozen stream hashes."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import fastinit
from fastinit import Stream, _fill, _testing
from tests.helpers import FLOAT_DTYPES, dtype_of, rounding_inputs
from tests.test_streams import FROZEN, PARAMS

SIMD_PATHS = [p for p in _fill.supported_cpu_paths() if p != "generic"]
ALL_PATHS = list(_fill.supported_cpu_paths())

# (start, size): starts inside blocks and vectors, sizes below / around / above one SIMD
# iteration (256 float32 elements on AVX-512) and one truncated-normal batch (4096), odd tails,
# a range that crosses 2**32 blocks (the counter's high word) and multi-chunk sizes.
RANGES = [(0, 1), (1, 2), (3, 5), (0, 63), (5, 64), (7, 127), (16, 128), (13, 129), (2, 255),
          (0, 256), (1, 300), (6, 530), (1, 1000), (4, 2047), (3, 2049), (0, 5000), (2, 8195),
          (12_345, 70_001), (4 * 2**32 - 37, 3001),
          (2 * 2**32 - 1001, 2003), (2**40 + 1, 999)]

EXTRA = {
    # nearly no rejections, and a one-sided window that rejects ~half (all through FI_TN_NORMAL)
    "truncated_normal_wide": ("truncated_normal", dict(mean=0.5, stddev=2.0, low=-20.0, high=20.0)),
    "truncated_normal_half": ("truncated_normal", dict(mean=0.0, stddev=1.0, low=-0.2, high=5.0)),
    "uniform_unit": ("uniform", dict(low=0.0, high=1.0)),
    # the proposal samplers (vectorized per element): both one-sided tails, Robert's exponential
    # proposal (7 % rejected at [2, 4] sigma, so the SIMD retry rounds run)
    "truncated_normal_2_4": ("truncated_normal", dict(mean=0.0, stddev=1.0, low=2.0, high=4.0)),
    "truncated_normal_lower_tail": ("truncated_normal",
                                    dict(mean=1.0, stddev=0.5, low=-1.5, high=0.0)),
}
CASES = {**PARAMS, **EXTRA}


@pytest.fixture
def restore_path():
    old = _fill.cpu_path()
    yield
    _fill.set_cpu_path(old)


def fill_with(path, case, dtype, start, size, max_attempts=None, seed=2024):
    dist, params = CASES[case]
    _fill.set_cpu_path(path)
    out = np.full(size, 7, dtype_of(dtype))
    return Stream(dist, seed, **params).fill(out, start, max_attempts=max_attempts)


def test_paths_are_reported(restore_path):
    assert ALL_PATHS[0] == "generic"
    assert _fill.cpu_path() in ALL_PATHS
    assert fastinit._config.config_info()["code_path"] == _fill.cpu_path()
    for path in ALL_PATHS:
        _fill.set_cpu_path(path)
        assert _fill.cpu_path() == path
        assert fastinit._config.config_info()["code_path"] == path
    with pytest.raises(ValueError):
        _fill.set_cpu_path("sse9")
    for path in set(_fill.CPU_PATHS) - set(ALL_PATHS):
        with pytest.raises(ValueError):
            _fill.set_cpu_path(path)


@pytest.mark.skipif(not SIMD_PATHS, reason="this CPU has no SIMD path")
@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_simd_path_bit_identical_to_generic(path, case, dtype, restore_path):
    for start, size in RANGES:
        ref = fill_with("generic", case, dtype, start, size)
        got = fill_with(path, case, dtype, start, size)
        np.testing.assert_array_equal(got.view(np.uint8), ref.view(np.uint8),
                                      err_msg=f"{path} {case} {dtype} start={start} size={size}")


@pytest.mark.skipif(not SIMD_PATHS, reason="this CPU has no SIMD path")
@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("attempts", [1, 2, 3])
@pytest.mark.parametrize("case", ["truncated_normal_half", "truncated_normal_2_4",
                                  "truncated_normal_lower_tail", "truncated_normal_narrow"])
def test_truncated_normal_retry_cap_identical(path, dtype, attempts, case, restore_path):
    """The deterministic fallback after max_attempts: on a window that rejects most draws, and
    on the proposal samplers."""
    for start, size in [(3, 5000), (0, 4096), (1, 131), (5, 8200)]:
        ref = fill_with("generic", case, dtype, start, size, attempts)
        got = fill_with(path, case, dtype, start, size, attempts)
        np.testing.assert_array_equal(got.view(np.uint8), ref.view(np.uint8))


@pytest.mark.skipif(not SIMD_PATHS, reason="this CPU has no SIMD path")
@pytest.mark.parametrize("path", SIMD_PATHS)
def test_simd_path_threads_and_chunks(path, restore_path):
    """Multi-chunk, multi-thread fills on a SIMD path equal the generic single-thread fill."""
    size = 300_007
    for case in ("normal", "truncated_normal"):
        for dtype in FLOAT_DTYPES:
            with fastinit.num_threads(1):
                ref = fill_with("generic", case, dtype, 5, size)
            with fastinit.num_threads(2):
                got = fill_with(path, case, dtype, 5, size)
            np.testing.assert_array_equal(got.view(np.uint8), ref.view(np.uint8))


@pytest.mark.skipif(not SIMD_PATHS, reason="this CPU has no SIMD path")
@pytest.mark.parametrize("path", SIMD_PATHS)
def test_buffers_starting_mid_cache_line_same_bits(path, restore_path):
    for case in ("uniform", "normal", "truncated_normal", "truncated_normal_narrow"):
        for dtype in FLOAT_DTYPES:
            for start, size in [(0, 70_001), (3, 5000), (1, 300), (0, 1)]:
                ref = fill_with("generic", case, dtype, start, size)
                _fill.set_cpu_path(path)
                buf = np.full(size + 1, 7, dtype_of(dtype))[1:]  # one element past the line
                dist, params = CASES[case]
                Stream(dist, 2024, **params).fill(buf, start)
                np.testing.assert_array_equal(buf.view(np.uint8), ref.view(np.uint8))


@pytest.mark.parametrize("path", ALL_PATHS)
@pytest.mark.parametrize("case,dtype,seed", sorted(FROZEN))
def test_frozen_values_on_every_path(path, case, dtype, seed, restore_path):
    dist, params = PARAMS[case]
    _fill.set_cpu_path(path)
    a = Stream(dist, seed, **params).fill(np.empty(1001, dtype_of(dtype)), 7)
    assert hashlib.sha256(a.tobytes()).hexdigest()[:16] == FROZEN[(case, dtype, seed)]


@pytest.mark.parametrize("path", ALL_PATHS)
def test_half_rounding_on_every_path(path, restore_path):
    x = rounding_inputs()
    ref16, refbf = np.empty(len(x), np.uint16), np.empty(len(x), np.uint16)
    _testing.round_f16(x, ref16)
    _testing.round_bf16(x, refbf)
    got16, gotbf = np.empty(len(x), np.uint16), np.empty(len(x), np.uint16)
    _testing.round_half_path(path, False, x, got16)
    _testing.round_half_path(path, True, x, gotbf)
    np.testing.assert_array_equal(got16, ref16)
    np.testing.assert_array_equal(gotbf, refbf)
    finite = np.isfinite(x)
    with np.errstate(over="ignore"):
        expect = x[finite].astype(np.float16)
    np.testing.assert_array_equal(got16[finite].view(np.float16), expect)


def _run(env_value, code="from fastinit import _fill; print(_fill.cpu_path())"):
    env = {k: v for k, v in os.environ.items() if k != "FASTINIT_CPU"}
    if env_value is not None:
        env["FASTINIT_CPU"] = env_value
    return subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                          text=True, env=env, check=True)


def test_env_override_generic_is_honoured():
    res = _run("generic")
    assert res.stdout.strip() == "generic"
    assert "Warning" not in res.stderr


def test_env_default_is_the_best_path():
    assert _run(None).stdout.strip() == ALL_PATHS[-1]


@pytest.mark.parametrize("value", ["bogus", "avx1024"])
def test_env_unknown_value_warns_and_falls_back(value):
    res = _run(value)
    assert res.stdout.strip() == ALL_PATHS[-1]
    assert "RuntimeWarning" in res.stderr and "FASTINIT_CPU" in res.stderr


@pytest.mark.parametrize("path", ALL_PATHS)
def test_env_selects_each_supported_path_and_show_config_reports_it(path):
    res = _run(path, "import fastinit; fastinit.show_config()")
    assert f"CPU code path: {path}" in res.stdout
    assert "Warning" not in res.stderr


@pytest.mark.skipif(len(ALL_PATHS) == 3, reason="this CPU supports every path")
def test_env_unsupported_path_warns_and_falls_back():
    res = _run("avx512")
    assert res.stdout.strip() == ALL_PATHS[-1]
    assert "RuntimeWarning" in res.stderr


@pytest.mark.parametrize("path", ALL_PATHS)
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("size", [1, 3, 4, 5, 300, 4099])
def test_range_ending_at_stream_index_2_64(path, case, dtype, size, restore_path):
    # The last representable range: its end, start + size, is 2**64 and wraps to 0 in uint64.
    # It must be written in full, with the same bits as the same elements filled in two pieces
    # (the first ending before 2**64) and as the generic path.
    start = 2**64 - size
    dist, params = CASES[case]
    _fill.set_cpu_path(path)
    whole = Stream(dist, 2024, **params).fill(np.full(size, np.nan, dtype_of(dtype)), start)
    assert np.isfinite(whole.astype(np.float64)).all()  # every element written
    head = fill_with(path, case, dtype, start, size - 1) if size > 1 else whole[:0]
    last = fill_with(path, case, dtype, 2**64 - 1, 1)
    pieces = np.concatenate([head, last])
    assert whole.view(np.uint8).tobytes() == pieces.view(np.uint8).tobytes()
    generic = fill_with("generic", case, dtype, start, size)
    assert whole.view(np.uint8).tobytes() == generic.view(np.uint8).tobytes()
