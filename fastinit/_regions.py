"""Regions: any rectangular piece of an initializer's output, computed alone.

An initializer gives a *source* for a (shape, dtype): an object that writes any flat C-order
range of ``initializer(shape, dtype)`` (`fill_range`, what file writers stream) or any
rectangular block (`fill_region`, what Dask blocks, torch shards and JAX shards need), with
the same bits as the whole array and in memory proportional to the piece.  Every consumer goes
through a source and knows nothing else about the initializer.

A C-order block is a set of equal-length contiguous runs of the flat index space: one per index
of its leading axes, each covering the trailing axes the block spans in full (a row block is a
single run).  Random sources write all runs of a block with one native call per batch of runs
(`Stream.fill_runs`), so a column block of a tall table costs no Python loop per row.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from fastinit import _fill
from fastinit._stream import STREAM_VERSION, Stream
from fastinit._threads import get_num_threads
from fastinit._typing import Bounds, Index, Shape

__all__ = ["normalize_index", "Source", "StreamSource", "ConstantSource", "ArrayBackedSource",
           "ArrayConstantSource", "IdentitySource", "ArraySource", "STFTSource", "flat_pieces"]

# Runs whose start indices are computed and filled per native call: bounds the index scratch
# (8 bytes a run) whatever the number of runs.
RUN_BATCH = 1 << 16


def _prod(dims: Iterable[int]) -> int:
    return math.prod(dims) if dims else 1


def normalize_index(shape: Shape, index: Index
                    ) -> tuple[tuple[tuple[int, int], ...], Shape]:
    """(bounds, result_shape) for ``array_of_shape[index]``.

    `index` has at most one entry per axis (missing trailing axes are taken whole, one Ellipsis
    may stand for the axes it skips): an int (negative counts from the end) takes one position
    and drops the axis from the result, a slice with step 1 (or None) takes a range, exactly
    what ``jax.make_array_from_callback`` passes a callback.  `bounds` has a (start, stop) pair
    per axis.
    """
    if not isinstance(index, tuple):
        index = (index,)
    if sum(1 for i in index if i is Ellipsis) > 1:
        raise IndexError(f"an index can only have a single ellipsis. Received: index={index!r}")
    if any(i is Ellipsis for i in index):
        k = next(n for n, i in enumerate(index) if i is Ellipsis)
        fill = len(shape) - (len(index) - 1)
        index = index[:k] + (slice(None),) * max(fill, 0) + index[k + 1:]
    if len(index) > len(shape):
        raise IndexError(
            f"too many indices for shape {shape}: {len(index)} were given. "
            f"Received: index={index!r}"
        )
    index = index + (slice(None),) * (len(shape) - len(index))
    bounds, result_shape = [], []
    # entries as objects: mypy holds int and numbers.Integral disjoint
    for axis, (entry, n) in enumerate(zip(cast("tuple[object, ...]", index), shape)):
        if isinstance(entry, slice):
            if entry.step not in (None, 1):
                raise ValueError(
                    f"Argument `index` must use slices with step 1; axis {axis} has step "
                    f"{entry.step!r}. Received: index={index!r}"
                )
            for v in (entry.start, entry.stop):
                if v is not None and (isinstance(v, (bool, np.bool_))
                                      or not isinstance(v, numbers.Integral)):
                    raise TypeError(
                        f"Argument `index` must hold ints and slices of ints; axis {axis} has "
                        f"{entry!r}. Received: index={index!r}"
                    )
            start, stop, _ = entry.indices(n)
            stop = max(start, stop)
            bounds.append((start, stop))
            result_shape.append(stop - start)
        elif isinstance(entry, numbers.Integral) and not isinstance(entry, (bool, np.bool_)):
            i = int(entry)
            if not -n <= i < n:
                raise IndexError(
                    f"index {i} is out of bounds for axis {axis} with size {n}. "
                    f"Received: index={index!r}"
                )
            i += n if i < 0 else 0
            bounds.append((i, i + 1))
        else:
            raise TypeError(
                f"Argument `index` must hold ints and slices with step 1; axis {axis} has "
                f"{entry!r} of type {type(entry).__name__}. Received: index={index!r}"
            )
    return tuple(bounds), tuple(result_shape)


def flat_pieces(shape: Iterable[int], a: int, b: int
                ) -> Iterator[tuple[int, tuple[int | slice, ...]]]:
    """Split the C-order flat range [a, b) of an array of `shape` into index expressions.

    Yields (flat_start, index) pairs, in order, such that ``arr[index]`` is the contiguous run of
    flat elements starting at flat_start; their concatenation is exactly [a, b).  At most about
    2 * ndim pieces.
    """
    shape = tuple(shape)

    def rec(dim: int, base: int, lo: int, hi: int, prefix: tuple[int | slice, ...]
            ) -> Iterator[tuple[int, tuple[int | slice, ...]]]:
        if lo >= hi:
            return
        if dim == len(shape):
            yield base, prefix
            return
        inner = _prod(shape[dim + 1:])
        i0, r0 = divmod(lo, inner)
        i1, r1 = divmod(hi, inner)
        if r0:
            if i0 == i1:
                yield from rec(dim + 1, base + i0 * inner, r0, r1, prefix + (i0,))
                return
            yield from rec(dim + 1, base + i0 * inner, r0, inner, prefix + (i0,))
            i0 += 1
        if i1 > i0:
            yield base + i0 * inner, prefix + (slice(i0, i1),)
        if r1:
            yield from rec(dim + 1, base + i1 * inner, 0, r1, prefix + (i1,))

    yield from rec(0, 0, a, b, ())


def region_runs(shape: Shape, bounds: Bounds
                ) -> tuple[int, int, int, Callable[[], Iterator[npt.NDArray[np.int64]]]]:
    """(first_start, run_length, n_runs, batches) of a block in the flat C-order index space.

    `batches()` yields int64 arrays of run starts, at most RUN_BATCH at a time, in C order.
    A block that spans every trailing axis after its first partial one is a single run.
    """
    nd = len(shape)
    j = nd - 1
    while j > 0 and bounds[j] == (0, shape[j]):
        j -= 1
    inner = _prod(shape[j + 1:])
    a_j, b_j = bounds[j] if nd else (0, 1)
    run = (b_j - a_j) * inner
    strides = [_prod(shape[d + 1:]) for d in range(j)]
    lead = tuple(b - a for a, b in bounds[:j])
    base = sum(a * s for (a, _), s in zip(bounds[:j], strides)) + a_j * inner
    n_runs = _prod(lead)

    def batches() -> Iterator[npt.NDArray[np.int64]]:
        # Run r's start: base + sum_d idx_d(r) stride_d, with idx the C-order multi-index of r
        # over `lead`; the last leading axis varies fastest, so a batch is a few aranges.
        last, last_stride = (lead[-1], strides[-1]) if lead else (1, 0)
        outer = np.zeros(1, np.int64)
        for n, s in zip(lead[:-1], strides[:-1]):  # starts of the outer index combinations
            outer = (outer[:, None] + np.arange(n, dtype=np.int64) * s).reshape(-1)
        for r0 in range(0, n_runs, RUN_BATCH):
            r = np.arange(r0, min(n_runs, r0 + RUN_BATCH), dtype=np.int64)
            q, rem = np.divmod(r, last)
            yield outer[q] + rem * last_stride + base

    return base, run, n_runs, batches


class Source:
    """Writes any part of ``initializer(shape, dtype)``.

    Subclasses implement `fill_range` and `token`; `fill_region` defaults to one `fill_range`
    per run of the block.
    """

    #: True when the source holds the whole result in memory (allow_in_memory).
    in_memory = False

    def __init__(self, shape: Iterable[int], dtype: npt.DTypeLike) -> None:
        self.shape: Shape = tuple(shape)
        self.dtype: np.dtype[Any] = np.dtype(dtype)
        self.size = _prod(self.shape)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype.name})"

    def fill_range(self, buf: npt.NDArray[Any], start: int) -> npt.NDArray[Any]:
        """Write flat elements [start, start + buf.size) into `buf` (1-D, C-contiguous)."""
        raise NotImplementedError

    def fill_all(self, out: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Write the whole result into the C-contiguous `out` of the source's shape."""
        self.fill_range(out.reshape(-1), 0)
        return out

    def fill_region(self, out: npt.NDArray[Any], bounds: Bounds) -> npt.NDArray[Any]:
        """Write the block ``result[a0:b0, a1:b1, ...]`` into the C-contiguous `out`.

        `bounds` holds a (start, stop) pair per axis; `out` has the block's shape (or any shape
        of its size).
        """
        if out.size == 0:
            return out
        first, run, n_runs, batches = region_runs(self.shape, bounds)
        if n_runs == 1:
            self.fill_range(out.reshape(-1), first)
            return out
        flat = out.reshape(n_runs, run)
        r = 0
        for starts in batches():
            for k, s in enumerate(starts.tolist()):
                self.fill_range(flat[r + k], s)
            r += len(starts)
        return out

    def token(self) -> tuple[Any, ...]:
        """A deterministic description of the values (Dask task names)."""
        raise NotImplementedError


class StreamSource(Source):
    """A random initializer's values: element i of the output is element i of `stream`."""

    def __init__(self, stream: Stream, shape: Iterable[int], dtype: npt.DTypeLike) -> None:
        super().__init__(shape, dtype)
        self.stream = stream

    def fill_range(self, buf: npt.NDArray[Any], start: int) -> npt.NDArray[Any]:
        return self.stream.fill(buf, start)

    def fill_region(self, out: npt.NDArray[Any], bounds: Bounds) -> npt.NDArray[Any]:
        if out.size == 0:
            return out
        first, run, n_runs, batches = region_runs(self.shape, bounds)
        if n_runs == 1:
            self.stream.fill(out.reshape(-1), first)
            return out
        flat = out.reshape(-1)
        r = 0
        for starts in batches():
            piece = flat[r * run:(r + len(starts)) * run]
            self.stream.fill_runs(piece, starts, run)
            r += len(starts)
        return out

    def token(self) -> tuple[Any, ...]:
        s = self.stream
        return ("stream", STREAM_VERSION, s.distribution, sorted(s.params.items()), s.seed,
                self.dtype.str)


class ConstantSource(Source):
    """Every element is `value` (cast to the dtype)."""

    def __init__(self, value: float | bool, shape: Iterable[int], dtype: npt.DTypeLike) -> None:
        super().__init__(shape, dtype)
        self.value = value

    def fill_range(self, buf: npt.NDArray[Any], start: int) -> npt.NDArray[Any]:
        return _fill.fill_constant(buf, self.value, get_num_threads())

    def fill_region(self, out: npt.NDArray[Any], bounds: Bounds) -> npt.NDArray[Any]:
        return _fill.fill_constant(out, self.value, get_num_threads())

    def token(self) -> tuple[Any, ...]:
        return ("constant", repr(self.value), self.dtype.str)


class ArrayBackedSource(Source):
    """A source whose values are an array (or a view, such as a broadcast) of the whole shape:
    pieces are copied out of `values`."""

    @property
    def values(self) -> npt.NDArray[Any]:
        raise NotImplementedError

    def fill_all(self, out: npt.NDArray[Any]) -> npt.NDArray[Any]:
        out[...] = self.values
        return out

    def fill_range(self, buf: npt.NDArray[Any], start: int) -> npt.NDArray[Any]:
        values = self.values
        if values.flags.c_contiguous:
            buf[...] = values.reshape(-1)[start:start + buf.size]
            return buf
        for off, idx in flat_pieces(self.shape, start, start + buf.size):
            piece = values[idx]
            buf[off - start:off - start + piece.size] = piece.reshape(-1)
        return buf

    def fill_region(self, out: npt.NDArray[Any], bounds: Bounds) -> npt.NDArray[Any]:
        block = self.values[tuple(slice(a, b) for a, b in bounds)]
        out.reshape(block.shape)[...] = block
        return out


class ArrayConstantSource(ArrayBackedSource):
    """An array broadcast to the shape (a Constant with an array value)."""

    def __init__(self, value: npt.ArrayLike, shape: Iterable[int], dtype: npt.DTypeLike) -> None:
        super().__init__(shape, dtype)
        self.value = np.asarray(value).astype(self.dtype)

    @property
    def values(self) -> npt.NDArray[Any]:
        return np.broadcast_to(self.value, self.shape)   # a view: no memory

    def token(self) -> tuple[Any, ...]:
        return ("constant-array", self.value.dtype.str, self.value.shape, self.value.tobytes())


class IdentitySource(Source):
    """`gain` on the main diagonal of a 2-D shape, zeros elsewhere."""

    def __init__(self, gain: float, shape: Iterable[int], dtype: npt.DTypeLike) -> None:
        super().__init__(shape, dtype)
        self.gain = gain
        self.diag = np.asarray(gain).astype(self.dtype)

    def fill_range(self, buf: npt.NDArray[Any], start: int) -> npt.NDArray[Any]:
        _fill.fill_constant(buf, 0, get_num_threads())
        rows, cols = self.shape
        step = cols + 1
        stop = start + buf.size
        k0 = -(-start // step)
        k1 = min(min(rows, cols), -(-stop // step))
        if k1 > k0:
            first = k0 * step - start
            buf[first:first + (k1 - k0 - 1) * step + 1:step] = self.diag
        return buf

    def fill_region(self, out: npt.NDArray[Any], bounds: Bounds) -> npt.NDArray[Any]:
        (r0, r1), (c0, c1) = bounds
        block = out.reshape(r1 - r0, c1 - c0)
        _fill.fill_constant(block, 0, get_num_threads())
        k = np.arange(max(r0, c0), min(r1, c1))
        block[k - r0, k - c0] = self.diag
        return out

    def token(self) -> tuple[Any, ...]:
        return ("identity", self.gain, self.dtype.str)


class ArraySource(ArrayBackedSource):
    """The whole result, computed in memory (allow_in_memory=True) on first use.

    `compute()` returns the array; it runs when the first piece is asked for, so a writer can
    check its destination before paying for it.
    """

    in_memory = True

    def __init__(self, compute: Callable[[], npt.ArrayLike], shape: Iterable[int],
                 dtype: npt.DTypeLike) -> None:
        super().__init__(shape, dtype)
        self._compute: Callable[[], npt.ArrayLike] | None = compute
        self._array: npt.NDArray[Any] | None = None

    @property
    def array(self) -> npt.NDArray[Any]:
        if self._array is None:
            compute = cast("Callable[[], npt.ArrayLike]", self._compute)  # None once computed
            arr = np.asarray(compute())
            if arr.shape != self.shape:
                raise ValueError(f"the initializer returned shape {arr.shape}, expected "
                                 f"{self.shape}")
            self._array = np.ascontiguousarray(arr, dtype=self.dtype)
            self._compute = None
        return self._array

    @property
    def values(self) -> npt.NDArray[Any]:
        return self.array

    def token(self) -> tuple[Any, ...]:
        raise ValueError("an in-memory result cannot be distributed")


class STFTSource(Source):
    """The kernels of a short-time Fourier transform (Keras's STFT initializer).

    Element ``(t, c, f)`` of a ``(T, C, F)`` shape is ``trig(-2 pi t f / N) * weight[t]`` with
    ``N = 2 (F - 1)``, trig cos (side "real") or sin ("imag"), the same for every channel c.
    The angle is reduced exactly, ``t f mod N`` in integers, before the one float64 cos/sin, so a
    long window loses no precision to a large argument; each value is rounded once to the dtype.
    `weight` is the window divided by its scaling, or None for no window (all ones).
    """

    def __init__(self, side: str, weight: npt.NDArray[np.float64] | None, shape: Iterable[int],
                 dtype: npt.DTypeLike) -> None:
        super().__init__(shape, dtype)
        self.side = side
        self.weight = weight

    def _block(self, t0: int, t1: int, f0: int, f1: int) -> npt.NDArray[np.float64]:
        """The (t1 - t0, f1 - f0) float64 values of one channel."""
        n = 2 * (self.shape[2] - 1)
        t = np.arange(t0, t1, dtype=np.int64)[:, None]
        f = np.arange(f0, f1, dtype=np.int64)[None, :]
        # t * f < T * F, which check_shape holds below 2**63: no int64 overflow, even for the
        # giant virtual shapes regions allow.  F == 1 has only the DC bin (frequency 0 for any
        # N; Keras divides 0 by 0 there).
        k = (t * f) % n if n else np.zeros((t1 - t0, f1 - f0), np.int64)
        angle = (2.0 * np.pi / n if n else 0.0) * k
        block: npt.NDArray[np.float64] = np.cos(angle) if self.side == "real" else -np.sin(angle)
        if self.weight is not None:
            block *= self.weight[t0:t1, None]
        return block

    def fill_region(self, out: npt.NDArray[Any], bounds: Bounds) -> npt.NDArray[Any]:
        if out.size == 0:
            return out
        (t0, t1), (c0, c1), (f0, f1) = bounds
        view = out.reshape(t1 - t0, c1 - c0, f1 - f0)
        # Row batches bound the float64 scratch to about 1 MiB whatever the piece.
        rows = max(1, (1 << 17) // max(1, f1 - f0))
        for a in range(t0, t1, rows):
            b = min(t1, a + rows)
            view[a - t0:b - t0] = self._block(a, b, f0, f1)[:, None, :].astype(self.dtype)
        return out

    def fill_range(self, buf: npt.NDArray[Any], start: int) -> npt.NDArray[Any]:
        for off, idx in flat_pieces(self.shape, start, start + buf.size):
            bounds = tuple(
                (i.start, i.stop) if isinstance(i, slice) else (i, i + 1) for i in idx
            ) + tuple((0, n) for n in self.shape[len(idx):])
            size = _prod(b - a for a, b in bounds)
            self.fill_region(buf[off - start:off - start + size], bounds)
        return buf

    def token(self) -> tuple[Any, ...]:
        weight = None if self.weight is None else hashlib.sha256(self.weight.tobytes()).hexdigest()
        return ("stft", self.side, weight, self.dtype.str)
