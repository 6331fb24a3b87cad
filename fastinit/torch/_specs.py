"""Specs: what the values of a global tensor are, able to write any rectangular piece of it.

A spec is built from validated parameters and a global shape; `fill_tensor`
(fastinit/torch/_tensors.py) then asks it for the piece ``bounds`` (a (start, stop) pair per
axis) of the global tensor, keyed by an int seed:

- `fill_numpy(tensor, arr, global_shape, bounds, seed)` writes into `arr`, a C-contiguous numpy
  view of a CPU tensor of the piece's shape (random specs, through fastinit's region API);
- `fill_torch(local, global_shape, bounds, seed)` writes with torch ops into any tensor
  (constants, eye, dirac: position-dependent only through `bounds`).

Only fastinit's public API is used: initializer classes, `.region`, `__call__(..., out=)`.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import fastinit
from fastinit.initializers import Initializer, StreamInitializer

from fastinit.torch._tensors import Bounds, Shape, numel

Array = np.ndarray[Any, Any]


class Spec:
    """Base: `random` specs consume a seed; `torch_native` ones fill with torch ops."""

    random = False
    torch_native = False

    def fill_numpy(self, tensor: torch.Tensor | None, arr: Array, global_shape: Shape,
                   bounds: Bounds, seed: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def fill_torch(self, local: torch.Tensor, global_shape: Shape, bounds: Bounds,
                   seed: int) -> None:  # pragma: no cover
        raise NotImplementedError


def _is_whole(global_shape: Shape, bounds: Bounds) -> bool:
    return all(a == 0 and b == n for (a, b), n in zip(bounds, global_shape))


def _index(bounds: Bounds) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in bounds)


class InitializerSpec(Spec):
    """The values of a fastinit initializer; `make(seed)` returns it for a call's seed."""

    def __init__(self, make: Callable[[int], Initializer], random: bool = True,
                 allow_in_memory: bool = False) -> None:
        self.make = make
        self.random = random
        self.allow_in_memory = allow_in_memory

    def check(self, global_shape: Shape, dtype: np.dtype[Any]) -> None:
        """Raise the initializer's ValueError now if its values do not fit `dtype` (a std
        float16 cannot hold, say): before any tensor is allocated or written."""
        self.make(0).source(global_shape, dtype)

    def fill_numpy(self, tensor: torch.Tensor | None, arr: Array, global_shape: Shape,
                   bounds: Bounds, seed: int) -> None:
        init = self.make(seed)
        if _is_whole(global_shape, bounds):
            init(global_shape, arr.dtype, out=arr)
        else:
            init.region(global_shape, _index(bounds), arr.dtype, out=arr,
                        allow_in_memory=self.allow_in_memory)


def normal_spec(mean: float, std: float) -> InitializerSpec:
    fastinit.RandomNormal(mean, std, seed=0)  # validates mean and std now, before any work
    return InitializerSpec(lambda s: fastinit.RandomNormal(mean, std, seed=s))


class ConstantSpec(Spec):
    """`fill_` with torch's own semantics (any dtype and device; NaN allowed as in torch)."""

    torch_native = True

    def __init__(self, value: Any) -> None:
        self.value = value

    def fill_torch(self, local: torch.Tensor, global_shape: Shape, bounds: Bounds,
                   seed: int) -> None:
        if isinstance(self.value, (int, float)) and self.value == 0 and not (
                isinstance(self.value, float) and math.copysign(1.0, self.value) < 0):
            local.zero_()
        else:
            local.fill_(self.value)


def _set_ones(local: torch.Tensor, bounds: Bounds, points: Array) -> None:
    """Zero `local`, then write 1 at the global `points` (an (n, ndim) int array) inside it."""
    local.zero_()
    if len(points) == 0:
        return
    lo = np.array([a for a, _ in bounds], dtype=np.int64)
    hi = np.array([b for _, b in bounds], dtype=np.int64)
    inside = np.all((points >= lo) & (points < hi), axis=1)
    pts = points[inside] - lo
    if len(pts):
        idx = tuple(torch.from_numpy(np.ascontiguousarray(pts[:, k])).to(local.device)
                    for k in range(pts.shape[1]))
        local[idx] = 1


class EyeSpec(Spec):
    """torch.eye on a 2-D global shape (ones on the main diagonal, rectangular allowed).

    In a piece starting at global (r0, c0) the global diagonal is the local diagonal of offset
    r0 - c0, so a shard needs no index arrays."""

    torch_native = True

    def fill_torch(self, local: torch.Tensor, global_shape: Shape, bounds: Bounds,
                   seed: int) -> None:
        (r0, _), (c0, _) = bounds
        local.zero_()
        local.diagonal(r0 - c0).fill_(1)


class DiracSpec(Spec):
    """torch's dirac_: ones at [g * out_per_group + d, d, centre...] for d < min(out/group, in)."""

    torch_native = True

    def __init__(self, groups: int) -> None:
        self.groups = groups

    def fill_torch(self, local: torch.Tensor, global_shape: Shape, bounds: Bounds,
                   seed: int) -> None:
        out_per_group = global_shape[0] // self.groups
        min_dim = min(out_per_group, global_shape[1])
        centre = [n // 2 for n in global_shape[2:]]
        grid_g, grid_d = np.meshgrid(np.arange(self.groups), np.arange(min_dim), indexing="ij")
        g, d = grid_g.ravel(), grid_d.ravel()
        cols = [g * out_per_group + d, d] + [np.full_like(d, c) for c in centre]
        _set_ones(local, bounds, np.stack(cols, axis=1).astype(np.int64))


class OrthogonalSpec(Spec):
    """torch's orthogonal_ layout: the (shape[0], numel // shape[0]) matrix, by fastinit's
    Orthogonal (Haar-distributed; orthonormal rows or columns, whichever are fewer)."""

    random = True

    def __init__(self, gain: float, allow_in_memory: bool) -> None:
        fastinit.Orthogonal(gain, seed=0)
        self.gain = gain
        self.allow_in_memory = allow_in_memory

    def fill_numpy(self, tensor: torch.Tensor | None, arr: Array, global_shape: Shape,
                   bounds: Bounds, seed: int) -> None:
        rows = global_shape[0]
        cols = numel(global_shape) // rows
        init = fastinit.Orthogonal(self.gain, seed=seed)
        if _is_whole(global_shape, bounds):
            init((rows, cols), arr.dtype, out=arr.reshape(rows, cols))
            return
        if not self.allow_in_memory:
            raise ValueError(
                f"orthogonal_: every element depends on the whole {rows} x {cols} matrix, so a "
                f"piece of it cannot be generated alone: the whole matrix must be computed in "
                f"memory first (about {rows * cols * arr.dtype.itemsize / 2**20:.1f} MiB). "
                "Pass allow_in_memory=True to accept that."
            )
        whole = init((rows, cols), arr.dtype).reshape(global_shape)
        arr[...] = whole[_index(bounds)]


class SparseSpec(Spec):
    """sparse_: N(0, std) values, then in each column `num_zeros` rows set to zero.

    Unlike torch's (whose zero rows come from the global RNG, even with `generator=`), the zero
    rows come from the seed too.  Column c's zero rows are the `num_zeros` smallest of the keys
    ``K[:, c]`` (ties, which float32 keys make possible, go to the lower row), where K is
    ``StreamInitializer("uniform", seed=seed_for_name(seed, "sparse_ zero rows"), low=0,
    high=1)`` in float32 over the global (rows, cols) shape.  So each column's zeros are a
    uniformly random subset of its rows, and any piece of the tensor is computed alone.

    The selection is exact and sorts almost nothing: keys below a low threshold are zero rows
    for sure, keys in a narrow band around the `num_zeros / rows` quantile are sorted, and a
    column whose counts fall outside the band (probability about 7e-6 per column) is redone
    with a stable argsort of all its keys.  Memory: 2 MiB of keys, 1 MiB of masks and about
    3 MiB of band indices at a time (under 10 MiB at peak), whatever the shape.
    """

    random = True
    KEY_NAME = "sparse_ zero rows"
    BLOCK_ELEMENTS = 1 << 19   # float32 keys per block (2 MiB, and two 0.5 MiB masks)
    MAX_WIDTH = 1 << 15        # columns per pass (15 bits in the packed sort key)
    MAX_BAND = 1 << 16         # band entries per pass (~3 MiB with the sort)
    Z = 4.5                    # band half-width in binomial standard deviations

    def __init__(self, rows: int, num_zeros: int, std: float) -> None:
        self.values = normal_spec(0.0, std)
        self.rows = rows
        self.k = num_zeros

    def _keys(self, seed: int) -> StreamInitializer:
        return StreamInitializer("uniform", seed=fastinit.seed_for_name(seed, self.KEY_NAME),
                                 low=0.0, high=1.0)

    def fill_numpy(self, tensor: torch.Tensor | None, arr: Array, global_shape: Shape,
                   bounds: Bounds, seed: int) -> None:
        self.values.fill_numpy(tensor, arr, global_shape, bounds, seed)
        (r0, r1), (c0, c1) = bounds
        rows, k = self.rows, self.k
        if k <= 0 or r1 <= r0 or c1 <= c0:
            return
        if k >= rows:
            arr[...] = 0
            return
        keys_init = self._keys(seed)
        q = k / rows
        sd = math.sqrt(q * (1.0 - q) / rows)
        thresholds = (np.float32(max(0.0, q - self.Z * sd)), np.float32(min(1.0, q + self.Z * sd)))
        # columns per pass: bounds the band (about 2 Z sd rows entries a column)
        band_per_col = 2.0 * self.Z * sd * rows + 2.0
        width = int(max(1, min(c1 - c0, self.MAX_WIDTH, self.MAX_BAND // band_per_col)))
        flat = arr.reshape(-1)
        for w0 in range(c0, c1, width):
            self._columns(flat, arr, global_shape, bounds, seed, keys_init, thresholds, w0,
                          min(c1, w0 + width))

    def _columns(self, flat: Array, arr: Array, global_shape: Shape, bounds: Bounds, seed: int,
                 keys_init: StreamInitializer, thresholds: tuple[Any, Any], w0: int,
                 w1: int) -> None:
        """Zero the zero rows of global columns [w0, w1) that fall inside the piece."""
        (r0, r1), (c0, c1) = bounds
        rows, k = self.rows, self.k
        lo_t, hi_t = thresholds
        ncols = w1 - w0
        zero_view = arr.view(np.int16) if arr.dtype.itemsize == 2 else arr  # +0.0 is all zeros
        below = np.zeros(ncols, np.int64)
        band_r, band_c, band_k = [], [], []
        block = max(1, self.BLOCK_ELEMENTS // ncols)
        # one buffer of each kind for every block: no second block alive while the next fills
        keys_buf = np.empty(block * ncols, np.float32)
        low_buf = np.empty(block * ncols, np.bool_)
        tmp_buf = np.empty(block * ncols, np.bool_)
        for b0 in range(0, rows, block):
            b1 = min(rows, b0 + block)
            n = (b1 - b0) * ncols
            with fastinit.num_threads(1):   # small blocks: a parallel region costs more than
                keys = keys_init.region(    # it saves, on a busy machine milliseconds each
                    global_shape, (slice(b0, b1), slice(w0, w1)), "float32",
                    out=keys_buf[:n].reshape(b1 - b0, ncols))
            low = np.less(keys, lo_t, out=low_buf[:n].reshape(b1 - b0, ncols))
            below += np.add.reduce(low.view(np.uint8), axis=0, dtype=np.int32)
            # zero rows for sure (unless the column fails, and is redone below)
            i0, i1 = max(b0, r0), min(b1, r1)
            if i1 > i0:
                np.copyto(zero_view[i0 - r0:i1 - r0, w0 - c0:w1 - c0], 0,
                          where=low[i0 - b0:i1 - b0])
            tmp = np.less(keys, hi_t, out=tmp_buf[:n].reshape(b1 - b0, ncols))
            f = np.flatnonzero(np.logical_xor(tmp, low, out=tmp))
            if len(f):
                band_k.append(keys.reshape(-1)[f])
                rr, cc = np.divmod(f, ncols)
                band_r.append(rr + b0)
                band_c.append(cc)
            del keys, low, tmp, f
        need = k - below                         # zeros each column still takes from its band
        if band_r:
            br, bc, bk = np.concatenate(band_r), np.concatenate(band_c), np.concatenate(band_k)
        else:
            br = bc = np.zeros(0, np.int64)
            bk = np.zeros(0, np.float32)
        br, bc = _sort_band(br, bc, bk, rows)
        count = np.bincount(bc, minlength=ncols)
        start = np.cumsum(count) - count
        rank = np.arange(len(bc)) - start[bc]
        failed = (need < 0) | (need > count)
        pick = (rank < need[bc]) & ~failed[bc] & (br >= r0) & (br < r1)
        flat[(br[pick] - r0) * (c1 - c0) + (bc[pick] + (w0 - c0))] = 0
        for c in np.flatnonzero(failed).tolist():
            self._redo_column(arr, global_shape, bounds, seed, keys_init, w0 + c)

    def _redo_column(self, arr: Array, global_shape: Shape, bounds: Bounds, seed: int,
                     keys_init: StreamInitializer, c: int) -> None:
        """The exact rule for global column c: a stable argsort of all its keys."""
        (r0, r1), (c0, _) = bounds
        keys = keys_init.region(global_shape, (slice(None), slice(c, c + 1)), "float32").ravel()
        zero_rows = np.argsort(keys, kind="stable")[:self.k]
        col = np.empty((r1 - r0, 1), arr.dtype)
        self.values.fill_numpy(None, col, global_shape, ((r0, r1), (c, c + 1)), seed)
        inside = zero_rows[(zero_rows >= r0) & (zero_rows < r1)] - r0
        col[inside, 0] = 0
        arr[:, c - c0] = col[:, 0]


def _sort_band(br: Array, bc: Array, bk: Array, rows: int) -> tuple[Array, Array]:

    """(rows, columns) of the band in (column, key, row) order.

    float32 uniform keys in [0, 1) are multiples of 2**-24, so (column, key, row) packs into
    one int64 when rows < 2**24 (columns < 2**15): one sort.  Otherwise two stable sorts (the
    band arrives in row order)."""
    if rows < (1 << 24):
        key24 = (bk * np.float32(1 << 24)).astype(np.int64)
        packed = np.sort((bc << 48) | (key24 << 24) | br)
        return packed & ((1 << 24) - 1), packed >> 48
    order = np.argsort(bk, kind="stable")
    order = order[np.argsort(bc[order], kind="stable")]
    return br[order], bc[order]
