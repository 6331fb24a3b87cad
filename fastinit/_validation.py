"""Checks that run before any work starts.  Public-layer messages follow Keras's wording
("Argument `x` must be ... Received: x=..."); `out=` checks follow numpy's."""

from __future__ import annotations

import math
import numbers
import os
import operator
from collections.abc import Iterable
from fractions import Fraction
from typing import Any, SupportsIndex, cast

import ml_dtypes
import numpy as np
import numpy.typing as npt

from fastinit._typing import Shape

BFLOAT16: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)

#: The floating dtypes the random initializers produce.
FLOAT_DTYPES = frozenset({np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16),
                          BFLOAT16})
_MAX_INTP = np.iinfo(np.intp).max
# numpy has no public constant for its dimension limit (NPY_MAXDIMS): 64 since numpy 2.0.
MAX_NDIM = 64


def check_shape(shape: object, argname: str = "shape") -> Shape:
    """Return `shape` as a tuple of Python ints, rejecting negative, non-integer and huge shapes."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if isinstance(shape, (str, bytes)):
        raise TypeError(
            f"Argument `{argname}` must be a tuple of non-negative ints, not a string. "
            f"Received: {argname}={shape!r}"
        )
    try:
        dims = tuple(cast("Iterable[object]", shape))
    except TypeError:
        raise TypeError(
            f"Argument `{argname}` must be a tuple of non-negative ints. "
            f"Received: {argname}={shape!r}"
        ) from None
    out = []
    for d in dims:
        if isinstance(d, (bool, np.bool_)):
            raise TypeError(
                f"Argument `{argname}` must contain ints, not bools. Received: {argname}={shape!r}"
            )
        try:
            d = operator.index(cast("SupportsIndex", d))
        except TypeError:
            raise TypeError(
                f"Argument `{argname}` must contain ints. Received: {argname}={shape!r}"
            ) from None
        if d < 0:
            raise ValueError(
                f"Argument `{argname}` must contain non-negative ints. "
                f"Received: {argname}={shape!r}"
            )
        out.append(d)
    if len(out) > MAX_NDIM:
        # No array could hold it: np.empty, np.save and np.load refuse it.
        raise ValueError(f"Argument `{argname}` has {len(out)} dimensions; numpy arrays have "
                         f"at most {MAX_NDIM}. Received: {argname}={shape!r}")
    # Zero-size shapes are fine, but the other dimensions still have to be representable:
    # fans multiply them.
    size = 1
    for d in out:
        if d:
            size *= d
    if size > _MAX_INTP:
        raise ValueError(
            f"Argument `{argname}` describes an array too large for this platform "
            f"({size} elements). Received: {argname}={shape!r}"
        )
    return tuple(out)


def resolve_dtype(dtype: npt.DTypeLike | None, *, kind: str = "float",
                  argname: str = "dtype") -> np.dtype[Any]:
    """The numpy dtype for `dtype` (None means float32, Keras's default floatx).

    kind="float": float16, bfloat16, float32 or float64, else TypeError.
    kind="any":   any numeric or bool dtype (constant initializers).
    """
    if dtype is None:
        return np.dtype(np.float32)
    try:
        dt = BFLOAT16 if (isinstance(dtype, str) and dtype == "bfloat16") else np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"Argument `{argname}` is not a dtype numpy understands. Received: {argname}={dtype!r}"
        ) from None
    if kind == "float":
        if dt not in FLOAT_DTYPES:
            raise TypeError(
                f"Argument `{argname}` must be a floating-point dtype (float16, bfloat16, "
                f"float32 or float64). Received: {argname}={dt}"
            )
    elif not (dt.kind in "biufc" or dt == BFLOAT16):
        raise TypeError(
            f"Argument `{argname}` must be a numeric or bool dtype. Received: {argname}={dt}"
        )
    return dt


def check_out(out: object, shape: Iterable[int] | None,
              dtype: npt.DTypeLike | None) -> np.dtype[Any]:
    """Check an `out=` array against the expected shape and dtype (numpy's rules and wording).

    `dtype=None` means: take the out array's dtype.  Returns the dtype to use.
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    check_writable_buffer(out, "out")
    if dtype is not None and out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype.name}, expected {np.dtype(dtype).name}")
    if shape is not None and out.shape != tuple(shape):
        raise ValueError(f"out has shape {out.shape}, expected {tuple(shape)}")
    dt: np.dtype[Any] = out.dtype
    return dt


def check_writable_buffer(arr: npt.NDArray[Any], argname: str = "out") -> None:
    flags = arr.flags
    if not flags.c_contiguous:
        raise ValueError(f"{argname} must be C-contiguous")
    if not flags.aligned:
        raise ValueError(f"{argname} must be aligned")
    if not flags.writeable:
        raise ValueError(f"{argname} is read-only")
    if not arr.dtype.isnative:
        raise ValueError(f"{argname} must be in native byte order")


def check_finite(name: str, value: object, rounding: str = "nearest") -> float:
    """Return `value` as a float, rejecting non-numbers, NaN and inf.

    A value float64 cannot hold exactly (a Fraction, a longdouble, a Decimal) is rounded to the
    nearest float64, or with `rounding="up"` / `"down"` to the nearest one above / below it, so
    that a bound rounded that way still holds for the real number given.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a real number. Received: {name}={value!r}")
    try:
        v = float(value)
    except (OverflowError, ZeroDivisionError):  # an int or Fraction beyond float64's range
        v = math.inf if cast(float, value) > 0 else -math.inf
    if rounding != "nearest" and math.isfinite(v) and not isinstance(value, (int, float)):
        exact = _exact(value)
        if exact is not None:
            v = float_up(exact) if rounding == "up" else float_down(exact)
    if not math.isfinite(v):
        raise ValueError(f"Argument `{name}` must be finite. Received: {name}={_short(value)}")
    # Keep a Python int as given (configs then read like Keras's: `mean=1`, not `1.0`).
    given: object = value
    return given if type(given) is int else v


def float_up(x: Fraction) -> float:
    """The smallest float64 >= the rational x."""
    v = float(x)
    return math.nextafter(v, math.inf) if Fraction(v) < x else v


def float_down(x: Fraction) -> float:
    """The largest float64 <= the rational x."""
    v = float(x)
    return math.nextafter(v, -math.inf) if Fraction(v) > x else v


def _exact(value: object) -> Fraction | None:
    """The exact rational value of a real number, when it can be had."""
    try:
        return Fraction(cast(float, value))
    except (TypeError, ValueError):
        ratio = getattr(value, "as_integer_ratio", None)  # numpy floats, longdouble
        if ratio is None:
            return None
        num, den = ratio()
        return Fraction(num, den)


def check_positive(name: str, value: object) -> float:
    v = check_finite(name, value)
    if v <= 0.0:
        raise ValueError(f"Argument `{name}` must be positive. Received: {name}={_short(value)}")
    return v


# ---- values representable in a floating dtype ------------------------------------------------

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _step(v: float, dtype: np.dtype[Any], up: bool) -> float:
    """The neighbour of the dtype value `v` (a numpy scalar of `dtype`) towards +inf or -inf."""
    ui = _UINT[dtype.itemsize]
    a = np.array(v, dtype=dtype)
    if float(a) == 0.0:
        tiny = np.array(1, dtype=ui).view(dtype)
        return float(tiny) if up else -float(tiny)
    bits = int(a.view(ui))
    positive = float(a) > 0
    bits = bits + 1 if positive == up else bits - 1
    return float(np.array(bits, dtype=ui).view(dtype))


def _nearest(x: float, dtype: np.dtype[Any]) -> float:
    with np.errstate(over="ignore"):
        return float(np.array(x, dtype=np.float64).astype(dtype))


def floor_to(x: float, dtype: np.dtype[Any]) -> float:
    """The largest value of `dtype` that is <= x (x finite; -inf when x < -max)."""
    v = _nearest(x, dtype)
    if v > x:
        v = _step(v, dtype, up=False)
    return v


def ceil_to(x: float, dtype: np.dtype[Any]) -> float:
    """The smallest value of `dtype` that is >= x."""
    v = _nearest(x, dtype)
    if v < x:
        v = _step(v, dtype, up=True)
    return v


def below(x: float, dtype: np.dtype[Any]) -> float:
    """The largest value of `dtype` that is strictly < x."""
    v = floor_to(x, dtype)
    if v == x:
        v = _step(v, dtype, up=False)
    return v


# ---- values representable in an output dtype -------------------------------------------------


def float_max(dtype: npt.DTypeLike) -> float:
    """The largest finite value of a floating dtype (bfloat16 included)."""
    # ml_dtypes.finfo is not annotated (its package is typed, this class is not)
    return float(ml_dtypes.finfo(dtype).max)  # type: ignore[no-untyped-call]


def compute_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype the kernels compute `dtype` in: float64 for float64, float32 otherwise."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def fits(x: float, dtype: np.dtype[Any]) -> bool:
    """True when the real number x converts to a finite value of the floating `dtype`."""
    with np.errstate(over="ignore"):
        return bool(np.isfinite(np.asarray(float(x), dtype=np.float64).astype(dtype)))


def check_representable(name: str, value: object, dtype: np.dtype[Any]) -> None:
    """Reject a constant whose conversion to `dtype` would overflow to inf or wrap around.

    Floats must stay finite; integer dtypes take values in their range (a float is truncated
    toward zero first, as numpy's cast does, so Constant(2.7) in int32 gives 2); bool takes
    anything.  `value` is a scalar or an array of real numbers.
    """
    arr = np.asarray(value)
    if dtype.kind == "b" or arr.size == 0:
        return
    if arr.dtype == object:  # Python ints beyond int64; as floats they overflow to inf
        arr = np.array([v if dtype.kind in "iu" else _float_or_inf(v) for v in arr.flat],
                       dtype=object if dtype.kind in "iu" else np.float64).reshape(arr.shape)
    if dtype.kind in "fc" or dtype == BFLOAT16:
        limit = float_max(dtype) if dtype.kind != "c" else float(
            np.finfo(np.float32 if dtype.itemsize == 8 else np.float64).max)
        with np.errstate(over="ignore", invalid="ignore"):
            cast = arr.astype(dtype)
            bad = not np.isfinite(cast.astype(np.complex128 if dtype.kind == "c" else np.float64)).all()
        if bad:
            worst = arr.flat[int(np.argmax(np.abs(arr.astype(np.float64))))]
            shown = _short(value) if arr.ndim == 0 else f"{_short(value)} (largest {worst!r})"
            raise ValueError(
                f"Argument `{name}` does not fit in {dtype.name} (largest finite value "
                f"{limit:.6g}). Received: {name}={shown}, dtype={dtype.name}"
            )
        return
    info = np.iinfo(dtype)
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            t = np.trunc(arr)
        lo, hi = float(t.min()), float(t.max())
    else:
        lo, hi = int(arr.min()), int(arr.max())
    if lo < info.min or hi > info.max:
        raise ValueError(
            f"Argument `{name}` does not fit in {dtype.name} (values {info.min} to {info.max}); "
            f"it would wrap around. Received: {name}={_short(value)}, dtype={dtype.name}"
        )


def _float_or_inf(v: Any) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _short(value: object, limit: int = 80) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def fmt_bytes(n: float) -> str:
    """A byte count for messages: '1.07 GB', '512 kB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def check_positive_int(name: str, value: object) -> int:
    """`value` as an int >= 1, or TypeError/ValueError naming the argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Argument `{name}` must be a positive int. Received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"Argument `{name}` must be >= 1. Received: {name}={value!r}")
    return int(value)


def _memory_limit() -> int | None:
    """Physical memory plus swap, in bytes (Linux; None where unknown)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("SwapTotal:"):
                    total += int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(total)


def check_allocatable(shape: Shape, dtype: np.dtype[Any], argname: str = "shape") -> None:
    """Refuse, before allocating, an array this machine cannot hold: more bytes than the
    platform addresses, or than its memory and swap (filling it would get the process killed).
    Regions and files have no such limit."""
    nbytes = math.prod(shape) * dtype.itemsize
    limit = _MAX_INTP if _MEMORY_LIMIT is None else min(_MAX_INTP, _MEMORY_LIMIT)
    # numpy refuses a shape whose nonzero dimensions span more bytes than it addresses, even
    # when another dimension is 0
    span = math.prod(d for d in shape if d) * dtype.itemsize
    if span > _MAX_INTP:
        raise ValueError(
            f"Argument `{argname}` spans {span} bytes of {dtype.name} along its nonzero "
            f"dimensions, more than numpy can address, even for an empty array. "
            f"Received: {argname}={shape!r}"
        )
    if nbytes > limit:
        raise ValueError(
            f"Argument `{argname}` describes an array of {nbytes} bytes ({fmt_bytes(nbytes)}) "
            f"of {dtype.name}, more than this machine can hold ({fmt_bytes(limit)}). Generate "
            f"it piece by piece (`region`, `save_npy`). Received: {argname}={shape!r}"
        )


_MEMORY_LIMIT = _memory_limit()
