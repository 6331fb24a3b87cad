"""sparse_'s piece writer: the values, with the rows of each column's k smallest keys zeroed.

fastinit.torch's sparse_ (SparseSpec, fastinit/torch/_specs.py) makes column c's zero rows the k
smallest of the float32 uniform keys ``K[:, c]`` of the global (rows, cols) matrix, ties going to
the lower row.  `fill_piece` writes any rectangular piece, asking for keys and values in blocks
(`Block`) and never holding more than a few MiB, whatever the shape; the kernels are
fastinit._select's.

Per strip of columns, one pass over the strip's keys: keys below a low threshold are zero rows
for sure and are zeroed at once, keys in a band around the ``k / rows`` quantile are kept, packed
with their row, and each column's missing zero rows are selected from its band.  A column whose
counts fall outside its band (about 7e-6 per column with the default width) is done exactly by a
three-pass radix select over its keys, after its values are restored if the first pass zeroed
too much.  Both ways give the same rows: the definition above, exactly.
"""

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from fastinit import _select
from fastinit._threads import num_threads

#: fill(r0, r1, c0, c1, out) writes rows [r0, r1) x columns [c0, c1) of a global matrix (keys:
#: float32; values: the piece's dtype) into the C-contiguous `out` of shape (r1 - r0, c1 - c0).
Block = Callable[[int, int, int, int, npt.NDArray[Any]], None]

BLOCK_KEYS = 1 << 19      # keys per block, shared by the threads: 2 MiB, about an L2 cache
BAND_BYTES = 1 << 22      # the bands of the strips in progress, shared by the threads: 4 MiB
PARALLEL_KEYS = 1 << 20   # keys below which one thread does the band pass
RADIX_SPAN = 64           # columns per radix batch at most: 2 MiB of histograms
ROW_LIMIT = 1 << _select.ROW_BITS
KEY_SCALE = 1 << 24       # keys are multiples of 2**-24


def band(rows: int, k: int, z: float) -> tuple[int, int, int]:
    """(lo24, hi24, capacity): keys below lo24 / 2**24 are zero rows for sure (if the column's
    count of them is at most k), the band is [lo24, hi24) / 2**24, z binomial standard deviations
    either side of the k / rows quantile, and a column keeps up to `capacity` band keys (6
    standard deviations above the band's expected count, so overflowing it is rarer than 1e-9)."""
    q = k / rows
    sd = math.sqrt(q * (1.0 - q) / rows)
    lo24 = math.floor(max(0.0, q - z * sd) * KEY_SCALE)
    hi24 = min(KEY_SCALE, math.ceil(min(1.0, q + z * sd) * KEY_SCALE))
    mean = rows * (hi24 - lo24) / KEY_SCALE
    capacity = min(rows, math.ceil(mean + 6.0 * math.sqrt(mean) + 16))
    return lo24, hi24, capacity


def fill_piece(out: npt.NDArray[Any], bounds: tuple[tuple[int, int], tuple[int, int]],
               rows: int, k: int, keys: Block, values: Block, z: float, n_threads: int) -> None:
    """Write the piece `out` (C-contiguous, 2-, 4- or 8-byte floats), rows [r0, r1) x columns
    [c0, c1) = `bounds` of a global matrix of `rows` rows: the values, with each column's `k`
    zero rows (0 < k < rows < 2**40) set to +0.0.

    The values are written a block at a time, right after the block's keys are scanned, so the
    zeroing finds them in cache instead of reading and writing the piece a second time.  With
    n_threads > 1 the columns are split into n_threads ranges, each done end to end by one thread
    of a pool: no barrier per block, which on a busy machine costs milliseconds each (an OpenMP
    team per block waits for its slowest thread).  Every column depends on its own keys only,
    so the split changes nothing."""
    (r0, r1), (c0, c1) = bounds
    lo24, hi24, capacity = band(rows, k, z)
    n = max(1, min(n_threads, (c1 - c0) * rows // PARALLEL_KEYS, c1 - c0))
    edges = [c0 + (c1 - c0) * i // n for i in range(n + 1)]
    block = BLOCK_KEYS // n

    def part(i: int) -> npt.NDArray[np.int64]:
        with num_threads(1):   # this thread's region fills: no OpenMP team
            return _band_pass(out, bounds, edges[i], edges[i + 1], rows, k, keys, values, lo24,
                              hi24, capacity, block, BAND_BYTES // n)

    if n == 1:
        failed = part(0)
    else:
        with ThreadPoolExecutor(n, thread_name_prefix="fastinit-sparse") as pool:
            failed = np.concatenate(list(pool.map(part, range(n))))
    buf = np.empty(max(BLOCK_KEYS, RADIX_SPAN), np.float32)
    for cols in _batches(failed):
        _radix_select(out, bounds, cols, rows, k, keys, values, buf, lo24)


def _row_blocks(rows: int, ncols: int, block: int) -> Iterator[tuple[int, int]]:
    step = max(1, block // ncols)
    for b0 in range(0, rows, step):
        yield b0, min(rows, b0 + step)


def _block(buf: npt.NDArray[Any], fill: Block, b0: int, b1: int, s0: int,
           s1: int) -> npt.NDArray[Any]:
    kb = buf[:(b1 - b0) * (s1 - s0)].reshape(b1 - b0, s1 - s0)
    fill(b0, b1, s0, s1, kb)
    return kb


def _as_bits(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """`a` viewed as unsigned integers of its itemsize: numpy copies those without the GIL,
    whatever the float dtype (bfloat16 is a Python-level dtype)."""
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def _band_pass(out: npt.NDArray[Any], bounds: tuple[tuple[int, int], tuple[int, int]], a: int,
               b: int, rows: int, k: int, keys: Block, values: Block, lo24: int, hi24: int,
               capacity: int, block: int, band_bytes: int) -> npt.NDArray[np.int64]:
    """Columns [a, b) of the piece on this thread, in strips whose bands fit `band_bytes`:
    values and sure zeros block by block, then each column's band; returns the failed columns
    (their values and sure zeros are written, the rest is `_radix_select`'s)."""
    (r0, r1), (c0, _) = bounds
    width = max(1, min(b - a, band_bytes // (8 * max(1, capacity))))
    kbuf = np.empty(max(block, width), np.float32)   # a block holds at least one row
    vbuf = np.empty(max(block, width), out.dtype)
    bands = np.empty(width * capacity, np.uint64)
    failed = [np.zeros(0, np.int64)]
    for w0 in range(a, b, width):
        w1 = min(b, w0 + width)
        ncols = w1 - w0
        below = np.zeros(ncols, np.int64)
        count = np.zeros(ncols, np.int64)
        band_ = bands[:ncols * capacity].reshape(ncols, capacity)
        for b0, b1 in _row_blocks(rows, ncols, block):
            kb = _block(kbuf, keys, b0, b1, w0, w1)
            i0, i1 = max(b0, r0), min(b1, r1)
            if i1 <= i0:     # rows outside the piece: counted, never written
                _select.band_scan(kb, b0, lo24, hi24, below, band_, count, out, r0, w0 - c0)
                continue
            vb = _block(vbuf, values, i0, i1, w0, w1)
            _select.band_scan(kb, b0, lo24, hi24, below, band_, count, vb, i0, 0)
            np.copyto(_as_bits(out[i0 - r0:i1 - r0, w0 - c0:w1 - c0]), _as_bits(vb))
        flags = np.empty(ncols, np.uint8)
        _select.band_finish(k, below, band_, count, flags, out, r0, w0 - c0)
        failed.append(np.flatnonzero(flags) + w0)
    return np.concatenate(failed)


def _batches(cols: npt.NDArray[np.int64]) -> Iterator[npt.NDArray[np.int64]]:
    """Sorted columns in runs spanning fewer than RADIX_SPAN columns (their keys are generated
    together; failures are rare and scattered, so most runs hold one column)."""
    i = 0
    while i < len(cols):
        j = int(np.searchsorted(cols, cols[i] + RADIX_SPAN))
        yield cols[i:j]
        i = j


def _select_bin(hist: npt.NDArray[np.int64],
                rank: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(bin holding each row's rank-th smallest element (rank from 1), count in lower bins)."""
    cum = np.cumsum(hist, axis=1)
    b = np.argmax(cum >= rank[:, None], axis=1)
    j = np.arange(len(b))
    return b.astype(np.int64), cum[j, b] - hist[j, b]


def _radix_select(out: npt.NDArray[Any], bounds: tuple[tuple[int, int], tuple[int, int]],
                  cols: npt.NDArray[np.int64], rows: int, k: int, keys: Block, values: Block,
                  buf: npt.NDArray[np.float32], lo24: int) -> None:
    """The exact rule for global columns `cols` (sorted, spanning at most RADIX_SPAN)."""
    (r0, _), (c0, _) = bounds
    s0, s1 = int(cols[0]), int(cols[-1]) + 1
    sel = np.ascontiguousarray(cols - s0, dtype=np.int64)
    n = len(sel)
    hist = np.zeros((n, _select.RADIX_BINS), np.int64)
    for b0, b1 in _row_blocks(rows, s1 - s0, BLOCK_KEYS):
        _select.radix_count(_block(buf, keys, b0, b1, s0, s1), sel, np.zeros(n, np.uint32), 12,
                            hist)
    rank = np.full(n, k, np.int64)
    high, less = _select_bin(hist, rank)
    rank -= less
    hist[...] = 0
    prefix = high.astype(np.uint32)
    for b0, b1 in _row_blocks(rows, s1 - s0, BLOCK_KEYS):
        _select.radix_count(_block(buf, keys, b0, b1, s0, s1), sel, prefix, 0, hist)
    low, less = _select_bin(hist, rank)
    limit = ((high << 12) | low).astype(np.uint32)   # the k-th smallest key, times 2**24
    ties = rank - less                               # keys equal to it that are zero rows
    for j in np.flatnonzero(limit < lo24).tolist():
        _refill(out, bounds, int(cols[j]), values)   # the band pass zeroed too many
    for b0, b1 in _row_blocks(rows, s1 - s0, BLOCK_KEYS):
        _select.radix_zero(_block(buf, keys, b0, b1, s0, s1), b0, sel, limit, ties, out, r0,
                           s0 - c0)


def _refill(out: npt.NDArray[Any], bounds: tuple[tuple[int, int], tuple[int, int]], c: int,
            values: Block) -> None:
    """Write back the values of global column c in the piece, a block of rows at a time."""
    (r0, r1), (c0, _) = bounds
    col = np.empty(min(BLOCK_KEYS, r1 - r0), out.dtype)
    for a in range(r0, r1, BLOCK_KEYS):
        b = min(r1, a + BLOCK_KEYS)
        out[a - r0:b - r0, c - c0] = _block(col, values, a, b, c, c + 1)[:, 0]
