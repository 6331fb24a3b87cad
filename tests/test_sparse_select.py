"""sparse_'s zero-row selection (fastinit/_zero_rows.py, kernels in fastinit/_select.pyx) against
the definition, computed by brute force: column c's zero rows are the k smallest keys K[:, c],
ties to the lower row, i.e. the first k of a stable argsort."""

import importlib.util
import math

import ml_dtypes
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

import fastinit  # noqa: E402
from fastinit import _select, _zero_rows  # noqa: E402
from fastinit.initializers import StreamInitializer  # noqa: E402

# SparseSpec lives in fastinit.torch: the tests through it need torch (not installed on every
# CI Python); the kernel tests do not.
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="fastinit.torch needs torch")

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]


def expected(values, keys, k):
    """The whole matrix by the definition: values, with each column's k smallest keys zeroed."""
    w = values.copy()
    zero_rows = np.argsort(keys, axis=0, kind="stable")[:k]
    w[zero_rows, np.arange(keys.shape[1])] = 0
    return w


def blocks_of(whole):
    def fill(r0, r1, c0, c1, out):
        assert out.flags.c_contiguous and out.shape == (r1 - r0, c1 - c0)
        out[...] = whole[r0:r1, c0:c1]
    return fill


@st.composite
def pieces(draw, max_rows=120, max_cols=24):
    rows = draw(st.integers(2, max_rows))
    cols = draw(st.integers(1, max_cols))
    k = draw(st.integers(1, rows - 1))
    r0 = draw(st.integers(0, rows - 1))
    r1 = draw(st.integers(r0 + 1, rows))
    c0 = draw(st.integers(0, cols - 1))
    c1 = draw(st.integers(c0 + 1, cols))
    return rows, cols, k, ((r0, r1), (c0, c1))


@st.composite
def layouts(draw):
    """Block, strip and thread settings small enough that tiny matrices take every path: many
    row blocks, several strips, column ranges on a thread pool, narrow or overflowing bands."""
    return dict(block=draw(st.sampled_from([1, 7, 64, 1 << 19])),
                band_bytes=draw(st.sampled_from([8, 200, 1 << 22])),
                threads=draw(st.sampled_from([1, 2, 3])),
                z=draw(st.sampled_from([0.0, 0.5, 1.0, 4.5])),
                cap=draw(st.sampled_from([0, 1, 3, None])))


def run(mp, layout, fn):
    """fn() with the layout's settings patched into fastinit._zero_rows."""
    mp.setattr(_zero_rows, "BLOCK_KEYS", layout["block"])
    mp.setattr(_zero_rows, "BAND_BYTES", layout["band_bytes"])
    mp.setattr(_zero_rows, "PARALLEL_KEYS", 1)
    if layout["cap"] is not None:    # a band that holds `cap` keys: overflows go to radix select
        band = _zero_rows.band
        mp.setattr(_zero_rows, "band", lambda rows, k, z: band(rows, k, z)[:2] + (layout["cap"],))
    return fn()


@given(pieces(), layouts(), st.sampled_from(DTYPES), st.integers(1, 4),
       st.integers(0, 2**24 - 1))
def test_crafted_keys_with_ties(piece, layout, dtype, distinct, base):
    """Keys drawn from a few values, so most keys tie: the lower row must win every tie, in the
    band, in the sure zeros and in radix select alike."""
    rows, cols, k, bounds = piece
    rng = np.random.default_rng([rows, cols, k, distinct, base])
    levels = (np.array([base, 0, 2**24 - 1, base // 2]) * 2.0**-24).astype(np.float32)
    keys = levels[rng.integers(0, distinct, (rows, cols))]
    values = (rng.standard_normal((rows, cols)) + 8.0).astype(dtype)   # never zero
    (r0, r1), (c0, c1) = bounds
    out = np.full((r1 - r0, c1 - c0), np.nan, dtype)
    with pytest.MonkeyPatch.context() as mp:
        run(mp, layout, lambda: _zero_rows.fill_piece(
            out, bounds, rows, k, blocks_of(keys), blocks_of(values), layout["z"],
            layout["threads"]))
    want = expected(values, keys, k)[r0:r1, c0:c1]
    assert out.tobytes() == want.tobytes()


@needs_torch
@given(pieces(max_rows=400, max_cols=12), layouts(), st.sampled_from(DTYPES),
       st.integers(0, 2**32 - 1))
def test_sparse_spec_pieces_match_the_definition(piece, layout, dtype, seed):
    """SparseSpec's keys and values: any piece equals the same slice of the brute-force whole."""
    from fastinit.torch._specs import SparseSpec
    rows, cols, k, bounds = piece
    std = 0.5
    keys = StreamInitializer("uniform", seed=fastinit.seed_for_name(seed, "sparse_ zero rows"),
                             low=0.0, high=1.0)((rows, cols), "float32")
    values = fastinit.RandomNormal(0.0, std, seed=seed)((rows, cols), dtype)
    (r0, r1), (c0, c1) = bounds
    out = np.full((r1 - r0, c1 - c0), np.nan, dtype)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SparseSpec, "Z", layout["z"])
        with fastinit.num_threads(layout["threads"]):
            run(mp, layout, lambda: SparseSpec(rows, k, std).fill_numpy(
                None, out, (rows, cols), bounds, seed))
    want = expected(values, keys, k)[r0:r1, c0:c1]
    assert out.tobytes() == want.tobytes()


@needs_torch
@pytest.mark.parametrize("sparsity", [0.001, 0.1, 0.5, 0.97])
def test_whole_matrix_with_default_settings(sparsity):
    """The production block and band sizes on a matrix that takes several row blocks."""
    import torch

    import fastinit.torch as ft
    rows, cols, seed = 3000, 400, 11
    t = ft.sparse_(torch.empty(rows, cols), sparsity, std=0.5, seed=seed).numpy()
    keys = StreamInitializer("uniform", seed=fastinit.seed_for_name(seed, "sparse_ zero rows"),
                             low=0.0, high=1.0)((rows, cols), "float32")
    values = fastinit.RandomNormal(0.0, 0.5, seed=seed)((rows, cols), "float32")
    k = math.ceil(sparsity * rows)
    assert t.tobytes() == expected(values, keys, k).tobytes()


def test_band_scan_and_finish_by_hand():
    """Two columns, keys k/8: the band [2, 5)/8 around the quantile, one key below it."""
    keys = (np.array([[4, 1], [2, 6], [1, 3], [3, 3], [7, 0]], np.float32) / 8)
    lo24, hi24 = 2 << 21, 5 << 21
    below, count = np.zeros(2, np.int64), np.zeros(2, np.int64)
    band = np.zeros((2, 4), np.uint64)
    out = np.ones((5, 2), np.float32)
    _select.band_scan(keys, 0, lo24, hi24, below, band, count, out, 0, 0)
    assert below.tolist() == [1, 2] and count.tolist() == [3, 2]
    assert out[:, 0].tolist() == [1, 1, 0, 1, 1] and out[:, 1].tolist() == [0, 1, 1, 1, 0]
    packed = [(4 << 61) + 0, (2 << 61) + 1, (3 << 61) + 3]   # key24 << 40 | row
    assert band[0, :3].tolist() == packed
    failed = np.empty(2, np.uint8)
    _select.band_finish(3, below, band, count, failed, out, 0, 0)   # k = 3
    assert failed.tolist() == [0, 0]
    # column 0: key 1/8 (row 2), then 2/8 (row 1) and 3/8 (row 3) from the band; column 1: 1/8
    # and 0 below the band, then the tie at 3/8 goes to row 2, not row 3
    assert out[:, 0].tolist() == [1, 0, 0, 0, 1] and out[:, 1].tolist() == [0, 1, 0, 1, 0]
    _select.band_finish(5, below, band, count, failed, out, 0, 0)   # more than the bands hold
    assert failed.tolist() == [1, 1]


def test_radix_by_hand():
    keys = (np.array([5, 3, 3, 9, 3, 1], np.float32) * 2.0**-24).reshape(6, 1)
    hist = np.zeros((1, _select.RADIX_BINS), np.int64)
    cols = np.zeros(1, np.int64)
    _select.radix_count(keys, cols, np.zeros(1, np.uint32), 12, hist)
    assert hist[0, 0] == 6 and hist.sum() == 6
    hist[...] = 0
    _select.radix_count(keys, cols, np.zeros(1, np.uint32), 0, hist)
    assert {i: int(hist[0, i]) for i in np.flatnonzero(hist[0])} == {1: 1, 3: 3, 5: 1, 9: 1}
    out = np.ones((6, 1), np.float64)
    ties = np.array([2], np.int64)      # k = 3: key 1, then two of the three 3s
    _select.radix_zero(keys[:4], 0, cols, np.array([3], np.uint32), ties, out, 0, 0)
    _select.radix_zero(keys[4:], 4, cols, np.array([3], np.uint32), ties, out, 0, 0)
    assert out[:, 0].tolist() == [1, 0, 0, 1, 1, 0] and ties[0] == 0


def test_kernels_check_their_buffers():
    keys = np.zeros((2, 3), np.float32)
    z3 = np.zeros(3, np.int64)
    band = np.zeros((3, 2), np.uint64)
    out = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="below has length 2"):
        _select.band_scan(keys, 0, 0, 1, np.zeros(2, np.int64), band, z3, out, 0, 0)
    with pytest.raises(ValueError, match="outside out's 3 columns"):
        _select.band_scan(keys, 0, 0, 1, z3, band, z3, out, 0, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _select.band_scan(keys, 0, 0, 1, z3, band, z3, np.ones((3, 2), np.float32).T, 0, 0)
    ro = out.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _select.band_scan(keys, 0, 0, 1, z3, band, z3, ro, 0, 0)
    with pytest.raises(TypeError, match="2-, 4- or 8-byte"):
        _select.band_scan(keys, 0, 0, 1, z3, band, z3, np.ones((2, 3), np.int8), 0, 0)
    with pytest.raises(ValueError, match="lo24 <= hi24"):
        _select.band_scan(keys, 0, 5, 1, z3, band, z3, out, 0, 0)
    with pytest.raises(ValueError, match="outside \\[0, 2\\*\\*40\\)"):
        _select.band_scan(keys, 2**40 - 1, 0, 1, z3, band, z3, out, 0, 0)
    with pytest.raises(ValueError, match="cols\\[0\\]=3"):
        _select.radix_count(keys, np.array([3], np.int64), np.zeros(1, np.uint32), 12,
                            np.zeros((1, 4096), np.int64))
    with pytest.raises(ValueError, match="shift must be 0 or 12"):
        _select.radix_count(keys, np.array([0], np.int64), np.zeros(1, np.uint32), 4,
                            np.zeros((1, 4096), np.int64))
    assert out.tolist() == np.ones((2, 3)).tolist()    # nothing written by a refused call


@needs_torch
def test_rows_limit():
    from fastinit.torch._specs import SparseSpec
    with pytest.raises(ValueError, match="fewer than 2\\*\\*40 rows"):
        SparseSpec(2**40, 1, 0.01)


@needs_torch
@pytest.mark.parametrize("shape,dtype,z", [((4096, 3000), "float64", 4.5),
                                           ((1 << 21, 3), "bfloat16", 4.5),
                                           ((1 << 18, 70), "float32", 0.0)])
def test_working_memory_is_bounded(shape, dtype, z):
    """numpy's allocations (traced by tracemalloc; the torch output is not) stay under 16 MiB,
    with the thread pool, on wide, tall and all-fallback (Z = 0) matrices."""
    import tracemalloc

    import torch

    import fastinit.torch as ft
    from fastinit.torch._specs import SparseSpec
    t = torch.empty(shape, dtype=getattr(torch, dtype))
    with pytest.MonkeyPatch.context() as mp, fastinit.num_threads(2):
        mp.setattr(SparseSpec, "Z", z)
        tracemalloc.start()
        try:
            ft.sparse_(t, 0.3, seed=4)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 16 * 2**20, peak / 2**20
    # the zero rows of a few columns, by the definition (not a count: N(0, std) values can be
    # exactly 0 in float32, a few times in 2**26 elements)
    rows, cols = shape
    keys = StreamInitializer("uniform", seed=fastinit.seed_for_name(4, "sparse_ zero rows"),
                             low=0.0, high=1.0)
    w = t.float().numpy()
    for c in {0, cols // 2, cols - 1}:
        kc = keys.region(shape, (slice(None), slice(c, c + 1)), "float32")[:, 0]
        zero_rows = np.argsort(kc, kind="stable")[:math.ceil(0.3 * rows)]
        is_zero = np.zeros(rows, bool)
        is_zero[zero_rows] = True
        assert (w[is_zero, c] == 0).all()
        assert (w[~is_zero, c] == 0).sum() <= 2
