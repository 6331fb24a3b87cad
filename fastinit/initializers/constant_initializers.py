"""The constant initializers: Constant, Zeros, Ones and Identity (Keras's
constant_initializers)."""

from __future__ import annotations

import numbers
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from fastinit._regions import ArrayConstantSource, ConstantSource, IdentitySource, Source
from fastinit._typing import Shape, ShapeLike
from fastinit._validation import (
    BFLOAT16,
    _short,
    check_allocatable,
    check_finite,
    check_representable,
)
from fastinit.initializers.initializer import Initializer


def _check_constant_value(value: Any) -> float | bool | npt.NDArray[Any]:
    if isinstance(value, dict) and value.get("class_name") in ("__tensor__", "__numpy__"):
        cfg = value["config"]
        value = np.asarray(cfg["value"], dtype=cfg.get("dtype"))
    if isinstance(value, (list, tuple, np.ndarray)) or _ndim(value) > 0:
        try:
            arr = np.asarray(value)
        except ValueError as e:  # ragged nested lists, too many dimensions
            raise ValueError(
                "Argument `value` must be a real number or a rectangular array of them "
                f"({e}). Received: value={_short(value)}"
            ) from None
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"Argument `value` must be a real number or an array of them. "
                f"Received: value={value!r}"
            )
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"Argument `value` must be finite. Received: value={value!r}")
        return arr
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    return check_finite("value", value)


def _ndim(value: Any) -> int:
    try:
        return int(np.ndim(value))
    except ValueError:  # ragged nested sequences
        return 1


class Constant(Initializer):
    """Initializer that generates tensors with constant values.

    A scalar fills the tensor; an array is broadcast to the requested shape (Keras accepts this
    too, though its docstring says scalars only).  The value is cast to the requested dtype, so
    `Constant(2.7)` with int32 gives 2.

    Examples:

    >>> init = Constant(10.0)
    >>> init(shape=(2, 2)).tolist()
    [[10.0, 10.0], [10.0, 10.0]]

    Args:
        value: A finite Python scalar, or an array broadcastable to the shape.
    """

    def __init__(self, value: npt.ArrayLike | dict[str, Any] = 0.0) -> None:
        self.value = _check_constant_value(value)

    _dtype_kind = "any"

    def _source(self, shape: Shape, dtype: np.dtype[Any], allow_in_memory: bool) -> Source:
        check_representable("value", self.value, dtype)
        value = self.value
        if type(value) is int and (dtype.kind == "f" or dtype == BFLOAT16) \
                and not -2**63 <= value < 2**64:
            value = float(value)  # numpy casts ints beyond 64 bits to floats only via float
        if isinstance(self.value, np.ndarray):
            try:
                np.broadcast_to(self.value, shape)
            except ValueError:
                raise ValueError(
                    f"Argument `value` of shape {self.value.shape} cannot be broadcast to "
                    f"shape {shape}."
                ) from None
            return ArrayConstantSource(self.value, shape, dtype)
        return ConstantSource(cast("float | bool", value), shape, dtype)

    def get_config(self) -> dict[str, Any]:
        v = self.value
        return {"value": v.tolist() if isinstance(v, np.ndarray) else v}


class Zeros(Initializer):
    """Initializer that generates tensors initialized to 0.

    Examples:

    >>> Zeros()(shape=(2, 2)).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """

    _dtype_kind = "any"

    def __call__(self, shape: ShapeLike, dtype: npt.DTypeLike | None = None, *,
                 out: npt.NDArray[Any] | None = None) -> npt.NDArray[Any]:
        if out is None:  # calloc: the OS hands out zero pages
            shape, dt = self._prepare(shape, dtype, out)
            check_allocatable(shape, dt)
            return np.zeros(shape, dtype=dt)
        return super().__call__(shape, dtype, out=out)

    def _source(self, shape: Shape, dtype: np.dtype[Any], allow_in_memory: bool) -> Source:
        return ConstantSource(0, shape, dtype)


class Ones(Initializer):
    """Initializer that generates tensors initialized to 1.

    Examples:

    >>> Ones()(shape=(2,)).tolist()
    [1.0, 1.0]
    """

    _dtype_kind = "any"

    def _source(self, shape: Shape, dtype: np.dtype[Any], allow_in_memory: bool) -> Source:
        return ConstantSource(1, shape, dtype)


class Identity(Initializer):
    """Initializer that generates the identity matrix (times `gain`).

    Only 2-D shapes; non-square shapes give ones on the main diagonal.  Unlike Keras, `gain` is
    kept in the config, so `clone()` and `from_config` preserve it.

    Examples:

    >>> Identity(gain=2.0)(shape=(2, 3)).tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]

    Args:
        gain: Multiplicative factor to apply to the identity matrix.
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = check_finite("gain", gain)

    _dtype_kind = "any"

    def _source(self, shape: Shape, dtype: np.dtype[Any], allow_in_memory: bool) -> Source:
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        check_representable("gain", self.gain, dtype)
        return IdentitySource(self.gain, shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}
