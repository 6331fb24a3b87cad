"""STFT: the kernels of a short-time Fourier transform as a Conv1D layer computes it (Keras's
STFT initializer, which Keras keeps in constant_initializers)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from fastinit._messages import with_received
from fastinit._regions import Source, STFTSource
from fastinit._typing import Shape
from fastinit._validation import _short, fits, float_max
from fastinit.initializers.initializer import Initializer

_SIDES = ("real", "imag")
_SCALINGS = (None, "density", "spectrum")


def _check_window(window: Any) -> str | npt.NDArray[np.float64] | None:
    """A window name scipy.signal.get_window knows, a real finite array, or None."""
    if window is None:
        return None
    if isinstance(window, str):
        from scipy import signal  # ~0.2 s: only when a named window is used

        try:
            # What Keras does (a length-1 window): scipy's own error for an unknown name.
            signal.get_window(window, 1)
        except ValueError as e:
            raise ValueError(f"{e} Received: window={window!r}") from None
        return window
    if isinstance(window, dict) and window.get("class_name") in ("__numpy__", "__tensor__"):
        cfg = window["config"]  # an array as keras.saving writes it
        window = np.asarray(cfg["value"], dtype=cfg.get("dtype"))
    try:
        arr = np.asarray(window)
    except ValueError:  # ragged nested lists
        arr = np.asarray(None)
    if arr.dtype.kind not in "iuf" or arr.dtype == object:
        raise TypeError(
            "Argument `window` must be the name of a scipy.signal window, an array of real "
            f"numbers or None. Received: window={_short(window)}"
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"Argument `window` must be finite. Received: window={_short(window)}")
    return arr


def _check_side(side: object) -> None:
    if not isinstance(side, str) or side not in _SIDES:
        raise ValueError(with_received(f"side should be 'real' or 'imag', not {side}", "side",
                                       side))


def _check_scaling(scaling: object) -> None:
    if scaling is not None and (not isinstance(scaling, str) or scaling not in _SCALINGS):
        raise ValueError(
            "Scaling is invalid, it must be `None`, 'density' or 'spectrum'. "
            f"Received scaling={scaling}"
        )


def _check_periodic(periodic: object) -> None:
    if not isinstance(periodic, (bool, np.bool_)):
        raise TypeError(f"Argument `periodic` must be a bool. Received: periodic={periodic!r}")


class STFT(Initializer):
    """Initializer of Conv kernels for Short-term Fourier Transformation (STFT).

    For a shape ``(T, C, F)``, with ``T`` the window length and ``F = fft_length // 2 + 1``
    the frequency bins kept, element ``(t, c, f)`` is

        cos(-2 pi t f / (2 (F - 1))) * w[t] / s      (side "real"; sin for "imag")

    where ``w`` is the window and ``s`` its scaling: ``sqrt(sum(w**2))`` ("density"),
    ``sum(|w|)`` ("spectrum") or 1 (None); with no window, ``w = 1`` and ``s = 1``.  Every input
    channel ``c`` gets the same kernel.  The values are computed in float64 with the angle
    reduced exactly and rounded once to the dtype, so they equal Keras's float64 result to
    rounding (Keras's float32 result carries the float32 error of its angles).

    Examples:

    >>> init = STFT("real", "hann", "density", False)
    >>> init(shape=(128, 1, 513)).shape
    (128, 1, 513)

    Args:
        side: `"real"` or `"imag"`: whether the kernel computes the real or the imaginary part
            of the transform.  Defaults to `"real"`.
        window: The name of a window in `scipy.signal.windows` (`"hann"`, `"hamming"`, ...),
            a 1-D array of the window's values (its length must be the shape's first
            dimension), or None for no window.  Defaults to `"hann"`.
        scaling: `"density"` (L2), `"spectrum"` (L1) or None: how the window is normalized.
            Defaults to `"density"`.
        periodic: If True, a named window is periodic (`fftbins=True` in scipy), else
            symmetric.  Defaults to False.
    """

    def __init__(self, side: str = "real", window: str | npt.ArrayLike | None = "hann",
                 scaling: str | None = "density", periodic: bool = False) -> None:
        _check_side(side)
        self._window = _check_window(window)
        _check_scaling(scaling)
        _check_periodic(periodic)
        self.side = side
        self.scaling = scaling
        self.periodic = bool(periodic)

    @property
    def window(self) -> str | list[float] | None:
        """The window as configured: a name, a list of values, or None."""
        w = self._window
        return w.tolist() if isinstance(w, np.ndarray) else w

    @window.setter
    def window(self, window: str | npt.ArrayLike | None) -> None:
        self._window = _check_window(window)

    def _weight(self, frame_length: int) -> npt.NDArray[np.float64] | None:
        """The window divided by its scaling, in float64 (None: no window)."""
        w = self._window
        if w is None:
            return None
        if isinstance(w, str):
            if frame_length == 0:
                return np.zeros(0)
            from scipy import signal

            w = np.asarray(signal.get_window(w, frame_length, self.periodic), dtype=np.float64)
        if w.ndim != 1 or w.shape[-1] != frame_length:
            raise ValueError(
                "The shape of `window` must be equal to [frame_length]."
                f"Received: window shape={w.shape}, frame_length={frame_length}"
            )
        if self.scaling is None or w.size == 0:
            return w
        peak = float(np.max(np.abs(w)))
        if peak == 0.0:
            raise ValueError(
                f"Argument `window` is all zeros, so scaling={self.scaling!r} divides by zero "
                f"(Keras returns NaN). Received: window={_short(self.window)}, "
                f"frame_length={frame_length}"
            )
        unit = w / peak  # norms of w / peak cannot overflow
        if self.scaling == "density":
            s = math.sqrt(float(np.dot(unit, unit)))
        else:
            s = float(np.sum(np.abs(unit)))
        return unit / s

    def _source(self, shape: Shape, dtype: np.dtype[Any], allow_in_memory: bool) -> Source:
        if len(shape) != 3:
            raise ValueError(
                "STFT kernels have 3-D shapes (frame_length, input_channels, fft_length // 2 "
                f"+ 1). Received: shape={shape} of rank {len(shape)}."
            )
        # attributes assigned after construction take effect, checked like the arguments
        _check_side(self.side)
        _check_scaling(self.scaling)
        _check_periodic(self.periodic)
        weight = self._weight(shape[0])
        if weight is not None and self.scaling is None and weight.size:
            # the real side's DC bin is the window itself (cos 0 = 1)
            if not fits(float(np.max(np.abs(weight))), dtype):
                raise ValueError(
                    f"Argument `window` does not fit in {dtype.name} (largest finite value "
                    f"{float_max(dtype):.6g}). Received: window={_short(self.window)}, "
                    f"dtype={dtype.name}"
                )
        return STFTSource(self.side, weight, shape, dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "window": self.window,
            "periodic": self.periodic,
            "scaling": self.scaling,
        }
