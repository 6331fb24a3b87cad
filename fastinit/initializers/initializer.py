"""The Initializer base class: `__call__`, configs, and the region API every consumer uses.

An initializer describes its values through `_source(shape, dtype, allow_in_memory)`, which
returns a `fastinit._regions.Source`: an object that writes any flat range or rectangular region
of ``initializer(shape, dtype)``.  `__call__` fills a whole array through it, `region` one piece,
and the file writers, Dask and the framework adapters call `source` and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from fastinit._regions import ArraySource, Source, normalize_index
from fastinit._typing import Index, Shape, ShapeLike
from fastinit._validation import (
    check_allocatable,
    check_out,
    check_shape,
    fmt_bytes,
    resolve_dtype,
)

_Self = TypeVar("_Self", bound="Initializer")


class Initializer:
    """Initializer base class: all fastinit initializers inherit from this class.

    Subclasses either implement `_source(shape, dtype, allow_in_memory)` (and get `__call__`,
    `source` and `region` from it), or implement `__call__(shape, dtype=None, *, out=None)`
    alone, returning a NumPy array of that shape and dtype; such an initializer can still be
    written to files or split into regions by computing it whole (`allow_in_memory=True`).
    Implement `get_config()` when the constructor takes arguments.
    """

    #: "float": float16, bfloat16, float32, float64; "any": any numeric or bool dtype.
    _dtype_kind = "float"

    def __call__(self, shape: ShapeLike, dtype: npt.DTypeLike | None = None, *,
                 out: npt.NDArray[Any] | None = None) -> npt.NDArray[Any]:
        """The values for `shape` as a new array of `dtype` (float32 by default), or in `out`."""
        shape, dt = self._prepare(shape, dtype, out)
        source = self._source(shape, dt, allow_in_memory=False)
        if out is None:
            check_allocatable(shape, dt)
            out = np.empty(shape, dtype=dt)
        return source.fill_all(out)

    # ---- the region API ----------------------------------------------------------------------

    def source(self, shape: ShapeLike, dtype: npt.DTypeLike | None = None, *,
               allow_in_memory: bool = False) -> Source:
        """A `Source` that writes any flat range or region of ``self(shape, dtype)``.

        Args:
            shape: The whole array's shape.
            dtype: Output dtype (float32 by default).
            allow_in_memory: Initializers whose elements are not independent (Orthogonal) can
                only be split by computing the whole result first; they raise ValueError, stating
                the memory that takes, unless this is True.
        """
        shape = check_shape(shape)
        dt = resolve_dtype(dtype, kind=self._dtype_kind)
        return self._source(shape, dt, allow_in_memory)

    def region(self, shape: ShapeLike, index: Index, dtype: npt.DTypeLike | None = None, *,
               out: npt.NDArray[Any] | None = None,
               allow_in_memory: bool = False) -> npt.NDArray[Any]:
        """The piece ``self(shape, dtype)[index]``, computed alone, bit for bit.

        Memory is the piece's (plus a small index scratch), never the whole array's, so this is
        how a shard of a table too large for one machine is generated where it lives.

        Args:
            shape: The whole array's shape.
            index: One entry per axis (missing trailing axes are taken whole): an int, or a
                slice with step 1 -- what ``jax.make_array_from_callback`` passes, or a shard's
                global offsets as ``slice(start, stop)``.
            dtype: Output dtype (float32 by default).
            out: Optional C-contiguous array of the piece's shape and dtype to fill.
            allow_in_memory: See `source` (Orthogonal).

        Returns:
            The piece, as a new array or `out`.
        """
        shape = check_shape(shape)
        bounds, piece_shape = normalize_index(shape, index)
        dt = self._check_dtype_and_out(dtype, out, piece_shape)
        source = self._source(shape, dt, allow_in_memory)
        if out is None:
            check_allocatable(piece_shape, dt, "index")
            out = np.empty(piece_shape, dtype=dt)
        source.fill_region(out, bounds)
        return out

    def _source(self, shape: Shape, dtype: np.dtype[Any], allow_in_memory: bool) -> Source:
        """The Source of validated (shape, dtype).  The default serves initializers that only
        implement `__call__`: their values exist only as a whole array."""
        if type(self).__call__ is Initializer.__call__:
            raise NotImplementedError(
                "Initializer subclasses must implement the `__call__()` method."
            )
        return in_memory_source(self, shape, dtype, allow_in_memory,
                                f"{type(self).__name__} has no element stream")

    def _prepare(self, shape: ShapeLike, dtype: npt.DTypeLike | None,
                 out: npt.NDArray[Any] | None) -> tuple[Shape, np.dtype[Any]]:
        """Validate shape, dtype and out (of the whole shape)."""
        checked = check_shape(shape)
        return checked, self._check_dtype_and_out(dtype, out, checked)

    def _check_dtype_and_out(self, dtype: npt.DTypeLike | None, out: npt.NDArray[Any] | None,
                             expected: Shape) -> np.dtype[Any]:
        """Validate dtype and out (which must have shape `expected`); returns the dtype, which
        defaults to out's, else float32."""
        if out is not None:
            check_out(out, expected, None)
            if dtype is None:
                dtype = out.dtype
        dt = resolve_dtype(dtype, kind=self._dtype_kind)
        if out is not None:
            check_out(out, expected, dt)
        return dt

    # ---- configs ----------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """Returns the initializer's configuration as a JSON-serializable dict."""
        return {}

    @classmethod
    def from_config(cls: type[_Self], config: dict[str, Any]) -> _Self:
        """Instantiates an initializer from a configuration dictionary."""
        return cls(**config)

    def clone(self: _Self) -> _Self:
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.__class__.__name__}({args})"


def in_memory_source(initializer: Callable[..., Any], shape: Shape, dtype: np.dtype[Any],
                     allow_in_memory: bool, why: str, cost: int | None = None) -> ArraySource:
    """An ArraySource of ``initializer(shape, dtype)`` computed whole, if the caller allows it.

    `why` says why the values cannot be produced piece by piece; `cost` (bytes) is the memory
    the whole computation takes, stated in the error (default: the output's size).
    """
    if cost is None:
        cost = math.prod(shape) * dtype.itemsize
    if not allow_in_memory:
        raise ValueError(
            f"{why}, so it cannot be generated piece by piece: the whole {shape} array must "
            f"be computed in memory first (about {fmt_bytes(cost)}). Pass "
            "allow_in_memory=True to accept that."
        )
    return ArraySource(lambda: initializer(shape, dtype), shape, dtype)


def source_of(initializer: Callable[..., Any], shape: ShapeLike,
              dtype: npt.DTypeLike | None = "float32", *, allow_in_memory: bool = False) -> Source:
    """The Source of ``initializer(shape, dtype)`` for any initializer or plain callable.

    A fastinit initializer gives its own source; any other callable (what `fastinit.get`
    returns for a function or an array) can only be computed whole, so it needs
    `allow_in_memory=True`.
    """
    if isinstance(initializer, Initializer):
        return initializer.source(shape, dtype, allow_in_memory=allow_in_memory)
    shape = check_shape(shape)
    dt = resolve_dtype(dtype, kind="any")
    name = getattr(initializer, "__name__", type(initializer).__name__)
    return in_memory_source(initializer, shape, dt, allow_in_memory,
                            f"{name} is not a fastinit initializer (it has no element stream)")
