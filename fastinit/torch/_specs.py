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
from fastinit._zero_rows import ROW_LIMIT, fill_piece
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

    The selection (fastinit/_zero_rows.py, kernels in fastinit/_select.pyx) is exact and takes
    one pass over the keys of the piece's columns, generated in blocks, each block's values
    written right after its keys are scanned: keys below a low threshold are zero rows for
    sure, keys in a band `Z` binomial standard deviations either side of the `num_zeros / rows`
    quantile are selected from, and a column whose counts fall outside its band (probability
    about 7e-6) is redone by an exact radix select.  Memory: 2 MiB of keys, as many values
    (4 MiB in float64) and at most 4 MiB of bands at a time, whatever the shape or thread
    count.  Rows: fewer than 2**40.
    """

    random = True
    KEY_NAME = "sparse_ zero rows"
    Z = 4.5                    # band half-width in binomial standard deviations

    def __init__(self, rows: int, num_zeros: int, std: float) -> None:
        if rows >= ROW_LIMIT:
            raise ValueError(f"sparse_ supports fewer than 2**40 rows, got rows={rows}")
        self.values = normal_spec(0.0, std)
        self.rows = rows
        self.k = num_zeros

    def _keys(self, seed: int) -> StreamInitializer:
        return StreamInitializer("uniform", seed=fastinit.seed_for_name(seed, self.KEY_NAME),
                                 low=0.0, high=1.0)

    def fill_numpy(self, tensor: torch.Tensor | None, arr: Array, global_shape: Shape,
                   bounds: Bounds, seed: int) -> None:
        (r0, r1), (c0, c1) = bounds
        rows, k = self.rows, self.k
        if k <= 0 or r1 <= r0 or c1 <= c0:
            self.values.fill_numpy(tensor, arr, global_shape, bounds, seed)
            return
        if k >= rows:
            arr[...] = 0
            return
        keys_init = self._keys(seed)
        values_init = self.values.make(seed)

        def keys(b0: int, b1: int, s0: int, s1: int, out: Array) -> None:
            keys_init.region(global_shape, (slice(b0, b1), slice(s0, s1)), "float32", out=out)

        def values(b0: int, b1: int, s0: int, s1: int, out: Array) -> None:
            values_init.region(global_shape, (slice(b0, b1), slice(s0, s1)), out.dtype, out=out)

        fill_piece(arr, ((r0, r1), (c0, c1)), rows, k, keys, values, self.Z,
                   fastinit.get_num_threads())
