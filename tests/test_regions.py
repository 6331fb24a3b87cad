"""The region API: any rectangular piece of any initializer's output, computed alone, equals the
same piece of the whole array bit for bit, in memory proportional to the piece."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastinit
from tests.helpers import FLOAT_DTYPES, PEAK_RSS_CODE, dtype_of

CHUNKABLE = [
    lambda: fastinit.Zeros(),
    lambda: fastinit.Ones(),
    lambda: fastinit.Constant(2.5),
    lambda: fastinit.RandomNormal(mean=0.5, stddev=2.0, seed=1),
    lambda: fastinit.RandomUniform(minval=-3.0, maxval=1.0, seed=2),
    lambda: fastinit.TruncatedNormal(stddev=0.3, seed=3),
    lambda: fastinit.VarianceScaling(scale=2.0, mode="fan_out", distribution="uniform", seed=4),
    lambda: fastinit.VarianceScaling(distribution="untruncated_normal", seed=5),
    lambda: fastinit.GlorotUniform(seed=6),
    lambda: fastinit.GlorotNormal(seed=7),
    lambda: fastinit.HeNormal(seed=8),
    lambda: fastinit.HeUniform(seed=9),
    lambda: fastinit.LecunNormal(seed=10),
    lambda: fastinit.LecunUniform(seed=11),
]
IDS = ["zeros", "ones", "constant", "normal", "uniform", "truncated", "vs_uniform",
       "vs_normal", "glorot_u", "glorot_n", "he_n", "he_u", "lecun_n", "lecun_u"]

SHAPES = [(37,), (13, 29), (5, 7, 11), (3, 4, 5, 6)]


def _random_index(rng, shape):
    """A random index of ints and step-1 slices, sometimes shorter than the rank, sometimes
    with negative ints and open or empty slices."""
    index = []
    for n in shape[:rng.integers(1, len(shape) + 1)]:
        kind = rng.integers(0, 5)
        if kind == 0:
            index.append(int(rng.integers(-n, n)))
        elif kind == 1:
            index.append(slice(None))
        elif kind == 2:  # possibly empty
            a = int(rng.integers(0, n + 1))
            index.append(slice(a, a + int(rng.integers(0, 2))))
        else:
            a, b = sorted(int(v) for v in rng.integers(0, n + 1, 2))
            index.append(slice(a, b))
    return tuple(index)


@pytest.mark.parametrize("make", CHUNKABLE, ids=IDS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_random_regions_equal_slices_of_the_whole(make, dtype):
    init = make()
    rng = np.random.default_rng(abs(hash((IDS[CHUNKABLE.index(make)], dtype))) % 2**32)
    for shape in SHAPES:
        whole = init(shape, dtype)
        for _ in range(12):
            index = _random_index(rng, shape)
            piece = init.region(shape, index, dtype)
            expected = whole[index]
            assert piece.shape == np.shape(expected)
            assert piece.dtype == whole.dtype
            assert piece.tobytes() == np.ascontiguousarray(expected).tobytes(), index


@pytest.mark.parametrize("make", CHUNKABLE, ids=IDS)
def test_full_empty_and_int_regions(make):
    init = make()
    shape = (6, 5, 4)
    whole = init(shape)
    assert init.region(shape, ()).tobytes() == whole.tobytes()
    assert init.region(shape, (slice(None),) * 3).tobytes() == whole.tobytes()
    assert init.region(shape, (Ellipsis, slice(1, 3))).tobytes() == \
        np.ascontiguousarray(whole[..., 1:3]).tobytes()
    assert init.region(shape, (slice(2, 2),)).shape == (0, 5, 4)
    assert init.region(shape, (slice(4, 1), 0)).shape == (0, 4)
    e = init.region(shape, (1, 2, 3))
    assert e.shape == () and e.tobytes() == whole[1, 2, 3].tobytes()
    assert init.region(shape, (-1, slice(None), -4)).tobytes() == whole[-1, :, -4].tobytes()


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint16", "float64", "bool"])
def test_constant_initializers_regions_in_any_dtype(dtype):
    shape = (9, 7)
    for init in (fastinit.Zeros(), fastinit.Ones(), fastinit.Constant(3),
                 fastinit.Identity(gain=2), fastinit.Constant(np.arange(7) % 2)):
        whole = init(shape, dtype)
        for index in [(slice(2, 8), slice(1, 4)), (3,), (slice(None), 6), (slice(5, 9),)]:
            got = init.region(shape, index, dtype)
            assert got.tobytes() == np.ascontiguousarray(whole[index]).tobytes()


def test_identity_regions_off_and_on_the_diagonal():
    init = fastinit.Identity(gain=1.5)
    shape = (50, 70)
    whole = init(shape, "float64")
    for index in [(slice(10, 20), slice(40, 60)), (slice(30, 45), slice(25, 52)), (17,),
                  (slice(None), 49), (slice(48, 50), slice(60, 70))]:
        assert init.region(shape, index, "float64").tobytes() == \
            np.ascontiguousarray(whole[index]).tobytes()


def test_out_is_filled_in_place_and_checked():
    init = fastinit.GlorotNormal(seed=3)
    shape = (100, 30)
    out = np.full((10, 5), np.nan, np.float32)
    got = init.region(shape, (slice(20, 30), slice(7, 12)), out=out)
    assert got is out and out.tobytes() == np.ascontiguousarray(init(shape)[20:30, 7:12]).tobytes()
    with pytest.raises(ValueError, match=r"out has shape \(10, 6\), expected \(10, 5\)"):
        init.region(shape, (slice(20, 30), slice(7, 12)), out=np.empty((10, 6), np.float32))
    with pytest.raises(TypeError, match=r"out has dtype float64, expected float32"):
        init.region(shape, (slice(20, 30), slice(7, 12)), "float32",
                    out=np.empty((10, 5), np.float64))
    bf = init.region(shape, (slice(0, 4),), out=np.empty((4, 30), dtype_of("bfloat16")))
    assert bf.tobytes() == init(shape, "bfloat16")[:4].tobytes()


@pytest.mark.parametrize("index,exc,match", [
    ((slice(0, 4, 2),), ValueError, r"slices with step 1; axis 0 has step 2"),
    ((1.5,), TypeError, r"axis 0 has 1.5 of type float"),
    (("a",), TypeError, r"ints and slices"),
    ((slice(0.5, 2),), TypeError, r"ints and slices of ints"),
    ((True,), TypeError, r"axis 0 has True"),
    ((10,), IndexError, r"index 10 is out of bounds for axis 0 with size 10"),
    ((-11,), IndexError, r"index -11 is out of bounds"),
    ((1, 2, 3), IndexError, r"too many indices"),
    ((Ellipsis, Ellipsis), IndexError, r"single ellipsis"),
])
def test_bad_indices_are_refused(index, exc, match):
    with pytest.raises(exc, match=match):
        fastinit.HeUniform(seed=0).region((10, 20), index)


def test_column_block_of_a_million_row_table():
    # A column shard: 10**6 runs of 16 elements, one native call per batch of runs.
    init = fastinit.RandomNormal(seed=12, stddev=0.02)
    shape = (10**6, 64)
    piece = init.region(shape, (slice(None), slice(32, 48)))
    whole = init(shape)
    assert piece.tobytes() == np.ascontiguousarray(whole[:, 32:48]).tobytes()
    single = init.region(shape, (slice(None), 63))          # one element per row
    assert single.tobytes() == np.ascontiguousarray(whole[:, 63]).tobytes()


def test_column_block_is_independent_of_threads():
    init = fastinit.TruncatedNormal(seed=2)
    shape = (20_000, 33)
    with fastinit.num_threads(1):
        one = init.region(shape, (slice(5, 19_999), slice(3, 4)))
    with fastinit.num_threads(2):
        two = init.region(shape, (slice(5, 19_999), slice(3, 4)))
    assert one.tobytes() == two.tobytes()


def test_orthogonal_states_the_memory_it_needs():
    init = fastinit.Orthogonal(seed=1)
    with pytest.raises(ValueError, match=r"whole 4096 x 2048 matrix.*about 33.6 MB.*"
                                         r"allow_in_memory=True"):
        init.region((4096, 2048), (slice(0, 10),))
    with pytest.raises(ValueError, match=r"about 50.3 MB"):  # + a float32 work matrix
        init.region((4096, 2048), (slice(0, 10),), "bfloat16")
    whole = init((64, 48))
    got = init.region((64, 48), (slice(10, 20), slice(5, 9)), allow_in_memory=True)
    assert got.tobytes() == np.ascontiguousarray(whole[10:20, 5:9]).tobytes()


def test_region_of_a_2_33_element_shape_is_generated_alone():
    # 2**33 float32 elements would be 32 GiB: the piece must be computed without the whole, in a
    # subprocess whose peak RSS is measured, and equal the stream's elements at those indices.
    # Peak RSS from VmHWM after /proc/self/clear_refs: ru_maxrss of a child starts at its
    # parent's peak.
    code = PEAK_RSS_CODE + textwrap.dedent("""
        import numpy as np, fastinit
        fastinit.GlorotUniform(seed=5).region((64, 64), (slice(0, 2),))  # warm-up
        reset_peak_rss()
        base = proc_status_bytes("VmRSS")
        shape = (2**23, 2**10)
        init = fastinit.GlorotUniform(seed=5)
        rows, cols = slice(2**22, 2**22 + 300), slice(100, 900)
        piece = init.region(shape, (rows, cols))
        stream = init.source(shape).stream
        ok = all(
            (piece[k] == stream.fill(np.empty(800, np.float32), (rows.start + k) * 2**10 + 100))
            .all() for k in range(300))
        col = init.region(shape, (slice(2**23 - 5000, None), 7), "bfloat16")
        print(ok, piece.shape, col.shape, proc_status_bytes("VmHWM") - base)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    fields = r.stdout.split()
    assert fields[0] == "True"
    # the piece is 0.9 MiB and the whole 32 GiB: a few MiB of index scratch and code at most
    assert int(fields[-1]) < 16 * 2**20, f"peak RSS grew by {int(fields[-1]) // 2**20} MiB"


def test_source_is_what_consumers_use():
    # The file writer, Dask and the region API all go through the same source: equal bits.
    init = fastinit.LecunUniform(seed=3)
    src = init.source((40, 30), "float16")
    flat = np.empty(1200, np.float16)
    src.fill_range(flat[:700], 0)
    src.fill_range(flat[700:], 700)
    assert flat.tobytes() == init((40, 30), "float16").tobytes()
    with pytest.raises(TypeError, match=r"floating-point dtype"):
        init.source((4, 4), "int32")
