"""Orthogonal: Haar-distributed orthogonal matrices by Householder reflectors drawn straight
from the normal stream (the algorithm is in fastinit._orthogonal)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from fastinit._regions import Source
from fastinit._typing import SeedLike, Shape, ShapeLike
from fastinit._validation import check_allocatable, check_finite, float_max
from fastinit.initializers.initializer import in_memory_source
from fastinit.initializers.random_initializers import RandomInitializer


class Orthogonal(RandomInitializer):
    """Initializer that generates an orthogonal matrix (Haar-distributed).

    The shape is flattened to `(prod(shape[:-1]), shape[-1])`; a matrix with at least as many
    rows as columns gets orthonormal columns, otherwise orthonormal rows; the result is
    multiplied by `gain` and reshaped.  float64 is computed in float64; float32, float16 and
    bfloat16 in float32 (rounded once).

    Examples:

    >>> q = Orthogonal(seed=0)(shape=(4, 4), dtype="float64")
    >>> bool(abs(q.T @ q - np.eye(4)).max() < 1e-12)
    True

    Args:
        gain: Multiplicative factor to apply to the orthogonal matrix.
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.

    Reference:

    - [Saxe et al., 2014](https://openreview.net/forum?id=_wzZwKpTDF_9C)
    - [Mezzadri, 2007](https://arxiv.org/abs/math-ph/0609050)
    """

    def __init__(self, gain: float = 1.0, seed: SeedLike = None) -> None:
        self.gain = check_finite("gain", gain)
        super().__init__(seed=seed)

    def __call__(self, shape: ShapeLike, dtype: npt.DTypeLike | None = None, *,
                 out: npt.NDArray[Any] | None = None) -> npt.NDArray[Any]:
        shape, dt = self._prepare(shape, dtype, out)
        self._check(shape, dt)
        if out is None:
            check_allocatable(shape, dt)
        rows = math.prod(shape[:-1])
        cols = shape[-1]
        # Q is formed directly in `out` (a C-contiguous reshape is a view): no second matrix.
        flat_out = None if out is None else out.reshape(rows, cols)
        from fastinit._orthogonal import orthogonal_matrix  # scipy.linalg: see _check

        q = orthogonal_matrix(rows, cols, self.seed, self.gain, dt, out=flat_out)
        return q.reshape(shape) if out is None else out

    def _check(self, shape: Shape, dtype: np.dtype[Any]) -> None:
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        # Imported here, not at module level: fastinit._orthogonal loads scipy.linalg (~0.5 s),
        # which `import fastinit` should not pay for.
        from fastinit._orthogonal import check_lapack_limits

        rows, cols = math.prod(shape[:-1]), shape[-1]
        check_lapack_limits(max(rows, cols), min(rows, cols))
        # |Q_ij| <= 1 up to rounding, so gain * Q stays finite when gain leaves that margin
        if abs(self.gain) > float_max(dtype) / (1.0 + 2.0**-8):
            raise ValueError(
                f"Argument `gain` makes values outside the range of {dtype.name} (largest "
                f"finite value {float_max(dtype):.6g}). Received: gain={self.gain!r}, "
                f"dtype={dtype.name}"
            )

    def _source(self, shape: Shape, dtype: np.dtype[Any], allow_in_memory: bool) -> Source:
        self._check(shape, dtype)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        # the output, plus a float32 work matrix for float16/bfloat16 (fastinit._orthogonal)
        cost = rows * cols * (dtype.itemsize + (4 if dtype.itemsize == 2 else 0))
        return in_memory_source(
            self, shape, dtype, allow_in_memory,
            f"Orthogonal: every element depends on the Householder reflectors of the whole "
            f"{rows} x {cols} matrix", cost)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gain": self.gain}
