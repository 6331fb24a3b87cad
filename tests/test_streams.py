"""Streams are pinned: frozen values per (kernel, dtype, seed), and bit-identical results for any
thread count, chunking, start offset and `out=`."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

import fastinit
from fastinit import Stream, fill_stream
from tests.helpers import FLOAT_DTYPES, dtype_of

PARAMS = {
    "uniform": ("uniform", dict(low=-0.5, high=2.0)),
    "normal": ("normal", dict(mean=0.25, stddev=1.5)),
    "truncated_normal": ("truncated_normal", dict(mean=0.0, stddev=1.0)),
    "truncated_normal_tail": ("truncated_normal", dict(mean=0.0, stddev=1.0, low=3.0, high=9.0)),
    "truncated_normal_narrow": ("truncated_normal",
                                dict(mean=1.0, stddev=2.0, low=0.9, high=1.1)),
}

# sha256 (first 16 hex digits) of the bytes of elements [7, 1008) -- STREAM_VERSION 1.
# If one of these changes, the stream changed: that is a breaking change (see fi_philox.h).
FROZEN = {
    ("uniform", "float32", 0): "e3b5bdb609c5de96",
    ("uniform", "float32", 12345): "8dfdb1523be3f31e",
    ("uniform", "float64", 0): "d36f8604754f4eff",
    ("uniform", "float64", 12345): "ae20c3a8972dd778",
    ("uniform", "float16", 0): "5c52f2485f205ba1",
    ("uniform", "float16", 12345): "0be3c65e91e69908",
    ("uniform", "bfloat16", 0): "bceae40a9bfbd3c1",
    ("uniform", "bfloat16", 12345): "5d42ff276497eaa0",
    ("normal", "float32", 0): "aad47a090fcfe653",
    ("normal", "float32", 12345): "c4de5698ad22a9f4",
    ("normal", "float64", 0): "2eff926b7a3315fa",
    ("normal", "float64", 12345): "d8832db90bd447f6",
    ("normal", "float16", 0): "4854b3c10b42c46a",
    ("normal", "float16", 12345): "b4b0ce7f8f6252ca",
    ("normal", "bfloat16", 0): "13989d4f6976a818",
    ("normal", "bfloat16", 12345): "e7551ceb6a3e21e7",
    ("truncated_normal", "float32", 0): "87423e8297207271",
    ("truncated_normal", "float32", 12345): "c0104c2494fe0812",
    ("truncated_normal", "float64", 0): "770aa29c697574ee",
    ("truncated_normal", "float64", 12345): "9af67b7042fbd8f7",
    ("truncated_normal", "float16", 0): "6f9a24fcc367a763",
    ("truncated_normal", "float16", 12345): "cf0b780a1d3b7992",
    ("truncated_normal", "bfloat16", 0): "46aed77f49324008",
    ("truncated_normal", "bfloat16", 12345): "e83a22acd9e2e9d1",
    ("truncated_normal_tail", "float32", 0): "fc827885e087a62b",
    ("truncated_normal_tail", "float32", 12345): "3b28be508f1a6bdd",
    ("truncated_normal_tail", "float64", 0): "0193361b41f81da6",
    ("truncated_normal_tail", "float64", 12345): "e88f85b392b34168",
    ("truncated_normal_tail", "float16", 0): "1d8d7547f82d1d22",
    ("truncated_normal_tail", "float16", 12345): "0a148a7a434cd2b6",
    ("truncated_normal_tail", "bfloat16", 0): "5e93bf79070e5e73",
    ("truncated_normal_tail", "bfloat16", 12345): "71b9c7e95d0e8e73",
    ("truncated_normal_narrow", "float32", 0): "791d926c1f9e6a5e",
    ("truncated_normal_narrow", "float32", 12345): "a109da6138510a23",
    ("truncated_normal_narrow", "float64", 0): "0d9cd8641a79262b",
    ("truncated_normal_narrow", "float64", 12345): "de4056eb362a905a",
    ("truncated_normal_narrow", "float16", 0): "05dcf0ba413d7cac",
    ("truncated_normal_narrow", "float16", 12345): "6f027af5adcae71a",
    ("truncated_normal_narrow", "bfloat16", 0): "c0015f73f42f2075",
    ("truncated_normal_narrow", "bfloat16", 12345): "b50c0672b8b1d53f",
}


def test_stream_version_is_pinned():
    assert fastinit.STREAM_VERSION == 1


@pytest.mark.parametrize("case,dtype,seed", sorted(FROZEN))
def test_frozen_values(case, dtype, seed):
    dist, params = PARAMS[case]
    a = Stream(dist, seed, **params).fill(np.empty(1001, dtype_of(dtype)), 7)
    assert hashlib.sha256(a.tobytes()).hexdigest()[:16] == FROZEN[(case, dtype, seed)]


def test_frozen_leading_values_readable():
    """The same pin in a form a reader can check by hand (seed 42, float32, unit parameters)."""
    expect = {
        "uniform": ["0x1.426ab8p-3", "0x1.155d7p-4", "0x1.d517ep-5", "0x1.5d97c2p-1"],
        "normal": ["0x1.c05fdp+0", "0x1.965d2ep-1", "-0x1.f5d378p-1", "-0x1.174018p+1"],
        # element 3 is rejected (|z| > 2) and re-drawn from its own sub-stream
        "truncated_normal": ["0x1.c05fdp+0", "0x1.965d2ep-1", "-0x1.f5d378p-1",
                             "-0x1.aa4846p+0"],
    }
    for dist, hexes in expect.items():
        a = Stream(dist, 42).fill(np.empty(4, np.float32))
        assert [float(x) for x in a] == [float.fromhex(h) for h in hexes]


def test_truncated_normal_keeps_accepted_normals():
    """Attempt 0 of the truncated normal is the normal stream itself (Keras: 're-drawn')."""
    n = Stream("normal", 3).fill(np.empty(100_000, np.float32))
    t = Stream("truncated_normal", 3).fill(np.empty(100_000, np.float32))
    inside = np.abs(n) <= 2
    np.testing.assert_array_equal(n[inside], t[inside])
    assert (t[~inside] != n[~inside]).all()


SIZE = 300_007  # not a multiple of 4, of the OpenMP chunk, or of a half-precision tile


@pytest.mark.parametrize("case", sorted(PARAMS))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_bit_identical_across_threads_chunks_and_offsets(case, dtype):
    dist, params = PARAMS[case]
    dt = dtype_of(dtype)
    stream = Stream(dist, 2024, **params)
    with fastinit.num_threads(1):
        ref = stream.fill(np.empty(SIZE, dt))
    for nt in (2, 4):
        with fastinit.num_threads(nt):
            np.testing.assert_array_equal(stream.fill(np.empty(SIZE, dt)).view(np.uint8),
                                          ref.view(np.uint8))
    # arbitrary chunkings, with edges inside generator blocks
    for cuts in ([1, 2, 3, 5, 65536, 65537, 200_001], [4, 8, 131_072], [99_999, 100_000]):
        pieces, lo = [], 0
        for hi in cuts + [SIZE]:
            pieces.append(stream.fill(np.empty(hi - lo, dt), start=lo))
            lo = hi
        np.testing.assert_array_equal(np.concatenate(pieces).view(np.uint8), ref.view(np.uint8))
    # a range generated alone equals the same slice of the whole
    for start, stop in ((0, 1), (1, 2), (3, 11), (12_345, 67_891), (SIZE - 5, SIZE)):
        part = stream.fill(np.empty(stop - start, dt), start=start)
        np.testing.assert_array_equal(part.view(np.uint8), ref[start:stop].view(np.uint8))


def test_far_offsets_use_the_high_counter_word():
    s = Stream("uniform", 1)
    a = s.fill(np.empty(8, np.float32), start=2**34 - 3)
    b = s.fill(np.empty(8, np.float32), start=2**2 - 3 + 8)
    assert not np.array_equal(a, b)
    whole = s.fill(np.empty(16, np.float32), start=2**34 - 11)
    np.testing.assert_array_equal(whole[8:], a)


def test_out_equals_new_array_for_every_initializer(float_dtype):
    for init in (fastinit.GlorotUniform(seed=1), fastinit.HeNormal(seed=2),
                 fastinit.RandomNormal(seed=3), fastinit.TruncatedNormal(seed=4),
                 fastinit.RandomUniform(seed=5), fastinit.VarianceScaling(
                     distribution="untruncated_normal", seed=6)):
        new = init((123, 45), dtype=float_dtype)
        out = np.full((123, 45), 7, dtype=float_dtype)
        got = init((123, 45), dtype=float_dtype, out=out)
        assert got is out
        np.testing.assert_array_equal(out.view(np.uint8), new.view(np.uint8))


def test_initializer_is_the_flat_stream():
    """An initializer's array is its stream in C order: shape does not matter beyond params."""
    init = fastinit.RandomNormal(mean=1.0, stddev=2.0, seed=8)
    a = init((6, 7))
    flat = fill_stream(np.empty(42, np.float32), "normal", seed=8, mean=1.0, stddev=2.0)
    np.testing.assert_array_equal(a.ravel(), flat)


def test_half_precision_is_the_float32_stream_rounded_once():
    s = Stream("normal", 11, mean=0.0, stddev=3.0)
    f32 = s.fill(np.empty(50_000, np.float32))
    f16 = s.fill(np.empty(50_000, np.float16))
    np.testing.assert_array_equal(f16, f32.astype(np.float16))
    bf = s.fill(np.empty(50_000, dtype_of("bfloat16")))
    np.testing.assert_array_equal(bf.view(np.uint16), f32.astype(bf.dtype).view(np.uint16))


@pytest.mark.parametrize("env", [{"OMP_NUM_THREADS": "1"}, {"OMP_NUM_THREADS": "2"},
                                 {"OMP_NUM_THREADS": "4"}])
def test_same_bits_in_fresh_processes_with_omp_num_threads(env, tmp_path):
    code = (
        "import hashlib, fastinit;"
        "a = fastinit.HeNormal(seed=9)((1000, 333));"
        "print(fastinit.get_num_threads(), hashlib.sha256(a.tobytes()).hexdigest())"
    )
    import os

    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    nt, digest = res.stdout.split()
    assert int(nt) == int(env["OMP_NUM_THREADS"])
    with fastinit.num_threads(1):
        ref = fastinit.HeNormal(seed=9)((1000, 333))
    assert digest == hashlib.sha256(ref.tobytes()).hexdigest()
