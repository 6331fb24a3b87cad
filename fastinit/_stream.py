"""Streams: a distribution, its parameters and a seed; element i of a stream is a pure function of
(seed, i).  `Stream.fill(out, start)` writes elements [start, start + out.size) into any writable
buffer, which is what chunked, out-of-core and distributed generation build on.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
import numbers
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from fastinit import _fill
from fastinit._seeding import key_from_seed, normalize_seed
from fastinit._threads import get_num_threads
from fastinit._typing import Seed
from fastinit._validation import (
    FLOAT_DTYPES,
    below,
    ceil_to,
    check_finite,
    check_positive,
    check_writable_buffer,
    compute_dtype,
    fits,
    float_down,
    float_max,
    float_up,
    floor_to,
)

#: Version of the (seed, index) -> value mapping.  Changing any stream is a breaking change.
STREAM_VERSION = 1

_DIST_CODES = {"uniform": _fill.FI_DIST_UNIFORM, "normal": _fill.FI_DIST_NORMAL,
               "truncated_normal": _fill.FI_DIST_TRUNCNORM}
DISTRIBUTIONS = tuple(_DIST_CODES)

TN_NORMAL, TN_UNIFORM = _fill.FI_TN_NORMAL, _fill.FI_TN_UNIFORM
TN_EXP, TN_EXP_NEG = _fill.FI_TN_EXP, _fill.FI_TN_EXP_NEG
TN_METHOD_NAMES = {
    TN_NORMAL: "normal rejection",
    TN_UNIFORM: "uniform proposal (Robert 1995)",
    TN_EXP: "exponential proposal, upper tail (Robert 1995)",
    TN_EXP_NEG: "exponential proposal, lower tail (Robert 1995)",
}
_LOG_2PI = math.log(2.0 * math.pi)
# Attempts are capped so that the deterministic fallback runs with probability < 1e-30.
_FALLBACK_LOG_PROB = math.log(1e-30)
# Largest |z| a Box-Muller normal reaches: sqrt(-2 log 2^-24) = 5.77 from float32's 24-bit
# uniforms, sqrt(-2 log 2^-53) = 8.57 in float64; rounded up.
_Z_MAX = {np.dtype(np.float32): 5.8, np.dtype(np.float64): 8.6}


class ParameterRangeError(ValueError):
    """A finite parameter that the output dtype cannot hold: the values would overflow to inf or
    NaN.  `param` is the stream parameter; initializers re-raise it under their own argument
    names."""

    def __init__(self, param: str, value: float, dtype: np.dtype[Any], detail: str,
                 params: tuple[str, ...] | None = None, empty: bool = False) -> None:
        self.param, self.value, self.dtype, self.detail = param, value, dtype, detail
        #: every stream parameter involved; `empty`: no value of the dtype lies in the interval
        self.params = params or (param,)
        self.empty = empty
        super().__init__(
            detail if empty else
            f"Argument `{param}` {detail}. Received: {param}={value!r}, dtype={dtype.name}"
        )

    @property
    def range_text(self) -> str:
        """'float32 (largest finite value 3.40282e+38)'."""
        return f"{self.dtype.name} (largest finite value {float_max(self.dtype):.6g})"


@functools.lru_cache(maxsize=1024)
def truncnorm_plan(za: float, zb: float) -> tuple[int, float, float, int, float]:
    """(method, alpha, m2, max_attempts, acceptance) for standardized bounds za < zb.

    Each candidate sampler's acceptance rate is computed in log space (so far tails do not
    underflow) and the best one is used:
      normal rejection       P = Phi(zb) - Phi(za)
      uniform proposal       P / (phi(m) (zb - za)),  m the point of [za, zb] nearest 0
      exponential proposal   P sqrt(2 pi) alpha exp(alpha za - alpha^2 / 2), alpha the optimal
                             rate (za + sqrt(za^2 + 4)) / 2; only for one-sided intervals
    Normal rejection wins ties and is the choice for Keras's +-2 sigma (acceptance 0.9545).
    """
    from scipy.special import log_ndtr

    m = 0.0 if za <= 0.0 <= zb else min(abs(za), abs(zb))
    if za >= 0.0:
        la, lb = float(log_ndtr(-za)), float(log_ndtr(-zb))      # upper-tail masses
        frac = -math.expm1(lb - la)
        log_p = la + math.log(frac) if frac > 0.0 else None
    elif zb <= 0.0:
        la, lb = float(log_ndtr(za)), float(log_ndtr(zb))
        frac = -math.expm1(la - lb)
        log_p = lb + math.log(frac) if frac > 0.0 else None
    else:
        p = 0.5 * (math.erf(zb / math.sqrt(2.0)) - math.erf(za / math.sqrt(2.0)))
        log_p = math.log(p) if p > 0.0 else None
    if log_p is None:
        # An interval too short for the difference to resolve: its mass is width * density.
        log_p = math.log(zb - za) - 0.5 * _LOG_2PI - 0.5 * m * m
    candidates = [
        (log_p, TN_NORMAL, 0.0),
        (log_p + 0.5 * m * m + 0.5 * _LOG_2PI - math.log(zb - za), TN_UNIFORM, 0.0),
    ]
    if za >= 0.0 or zb <= 0.0:
        t = za if za >= 0.0 else -zb
        alpha = 0.5 * (t + math.sqrt(t * t + 4.0))
        log_acc = log_p + 0.5 * _LOG_2PI + math.log(alpha) + alpha * t - 0.5 * alpha * alpha
        candidates.append((log_acc, TN_EXP if za >= 0.0 else TN_EXP_NEG, alpha))
    log_acc, method, alpha = max(candidates, key=lambda c: (c[0], -c[1]))
    acc = min(1.0, math.exp(log_acc)) if math.isfinite(log_acc) else 0.0
    if not acc > 0.0:
        # Only for tails millions of sigma out, where float64 cannot resolve the tail masses
        # (|log P| ~ z^2 / 2 loses every digit of the acceptance).
        raise ValueError(
            "Arguments `low` and `high` put the truncation interval too far in the tail to "
            f"sample in float64. Received: low and high at {za!r} and {zb!r} standard "
            "deviations from the mean"
        )
    if acc >= 1.0:
        attempts = 1
    else:
        attempts = math.ceil(_FALLBACK_LOG_PROB / math.log1p(-acc))
    attempts = max(32, attempts)
    return method, alpha, m * m, attempts, acc


class Stream:
    """A reproducible element stream: `distribution` with `params`, keyed by `seed`.

    Args:
        distribution: "uniform" (`low`, `high`; values in [low, high)), "normal" (`mean`,
            `stddev`) or "truncated_normal" (`mean`, `stddev`, and bounds `low`, `high` that
            default to mean -+ 2 stddev; values in [low, high]).
        seed: int >= 0, numpy.random.SeedSequence or numpy.random.Generator (required: every
            chunk of a stream must agree on it).
        **params: the distribution's parameters, all finite.

    Element i depends only on (seed, i, distribution, params, dtype): never on the thread
    count, on chunking, or on which buffer it lands in.
    """

    __slots__ = ("distribution", "params", "seed", "_key", "_tn", "_za", "_zb", "_kernels")

    distribution: str
    params: dict[str, float]
    seed: int

    def __init__(self, distribution: str, seed: Seed, **params: float) -> None:
        if not isinstance(distribution, str) or distribution not in _DIST_CODES:
            raise ValueError(
                f"Argument `distribution` must be one of {DISTRIBUTIONS}. "
                f"Received: distribution={distribution!r}"
            )
        self.distribution = distribution
        self.seed = normalize_seed(seed, allow_none=False)
        self._key = key_from_seed(self.seed)
        self._tn: tuple[int, float, float, int, float] | None = None
        # dtype -> (_fill.Kernel, doubled), built and checked once per dtype
        self._kernels: dict[np.dtype[Any], tuple[_fill.Kernel, bool]] = {}
        low: float | None
        high: float | None
        allowed = {"uniform": ("low", "high"), "normal": ("mean", "stddev"),
                   "truncated_normal": ("mean", "stddev", "low", "high")}[distribution]
        unknown = set(params) - set(allowed)
        if unknown:
            raise TypeError(
                f"Unknown parameter(s) {sorted(unknown)} for distribution {distribution!r}; "
                f"expected {allowed}"
            )
        if distribution == "uniform":
            low = check_finite("low", params.get("low", 0.0), rounding="up")
            high = check_finite("high", params.get("high", 1.0), rounding="down")
            if not low < high:
                raise ValueError(
                    f"Argument `low` must be less than `high`. Received: low={low}, high={high}"
                )
            self.params = {"low": low, "high": high}
        else:
            mean = check_finite("mean", params.get("mean", 0.0))
            stddev = check_positive("stddev", params.get("stddev", 1.0))
            self.params = {"mean": mean, "stddev": stddev}
            if distribution == "truncated_normal":
                low = params.get("low")
                high = params.get("high")
                derived = low is None and high is None
                # mean -+ 2 stddev rounded inwards, exactly: the bounds hold for the real numbers
                low = (float_up(Fraction(mean) - 2 * Fraction(stddev)) if low is None
                       else check_finite("low", low, rounding="up"))
                high = (float_down(Fraction(mean) + 2 * Fraction(stddev)) if high is None
                        else check_finite("high", high, rounding="down"))
                if not (math.isfinite(low) and math.isfinite(high)):
                    raise ValueError(
                        "Arguments `mean` and `stddev` put the truncation bounds "
                        "mean -+ 2 stddev beyond float64's range. "
                        f"Received: mean={mean!r}, stddev={stddev!r}"
                    )
                if derived and not low < high:
                    raise ValueError(
                        "Arguments `mean` and `stddev` give truncation bounds mean -+ 2 stddev "
                        f"that float64 cannot tell apart. Received: mean={mean!r}, "
                        f"stddev={stddev!r}"
                    )
                if not low < high:
                    raise ValueError(
                        f"Argument `low` must be less than `high`. Received: low={low}, "
                        f"high={high}"
                    )
                za, zb = (low - mean) / stddev, (high - mean) / stddev
                if not (math.isfinite(za) and math.isfinite(zb)) or not za < zb:
                    raise ValueError(
                        "The bounds are not distinct once standardized by `stddev`. "
                        f"Received: low={low}, high={high}, mean={mean}, stddev={stddev}"
                    )
                self.params.update(low=low, high=high)
                self._za, self._zb = za, zb
                self._tn = truncnorm_plan(za, zb)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Stream({self.distribution!r}, seed={self.seed}, {args})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (for Dask workers, process pools) as its definition; kernels are rebuilt.
        return (_rebuild_stream, (self.distribution, self.seed, self.params))

    @property
    def truncnorm_method(self) -> str | None:
        """The sampler a truncated normal stream uses (None for other distributions)."""
        return None if self._tn is None else TN_METHOD_NAMES[self._tn[0]]

    def check_dtype(self, dtype: npt.DTypeLike) -> None:
        """Raise ValueError unless this stream's values are finite and in bounds in `dtype`.

        Called before any work; the result is cached per dtype.
        """
        self._kernel(np.dtype(dtype))

    def kernel_for(self, dtype: npt.DTypeLike) -> tuple[_fill.Kernel, bool]:
        """(the checked `_fill.Kernel` that writes this stream in `dtype`, `doubled`), for a
        caller that runs the kernel outside `fill` (fastinit.jax's XLA handler).  `doubled`:
        the kernel draws a halved interval and `fill` doubles its values afterwards (see
        `_compute_kernel_args`).  Raises as `check_dtype` does."""
        return self._kernel(np.dtype(dtype))

    def _kernel(self, dtype: np.dtype[Any],
                max_attempts: int | None = None) -> tuple[_fill.Kernel, bool]:
        """(the _fill.Kernel for `dtype`, doubled): built from checked parameters, cached."""
        entry = self._kernels.get(dtype) if max_attempts is None else None
        if entry is None:
            p0, p1, lo, hi, doubled = self._compute_kernel_args(dtype)
            dist = _DIST_CODES[self.distribution]
            if self._tn is None:
                kernel = _fill.Kernel(dist, dtype, self._key, p0, p1, lo, hi)
            else:
                method, alpha, m2, attempts, _ = self._tn
                kernel = _fill.Kernel(dist, dtype, self._key, p0, p1, lo, hi, self._za,
                                      self._zb, method, alpha, m2,
                                      attempts if max_attempts is None else max_attempts)
            entry = (kernel, doubled)
            if max_attempts is None:
                self._kernels[dtype] = entry
        return entry

    def _out_of_range(self, param: str, dtype: np.dtype[Any],
                      what: str = "gives values outside the range of") -> ParameterRangeError:
        return ParameterRangeError(
            param, self.params[param], dtype,
            f"{what} {dtype.name} (largest finite value {float_max(dtype):.6g})")

    def _compute_kernel_args(self, dtype: np.dtype[Any]
                             ) -> tuple[float, float, float, float, bool]:
        """The checks of the parameters against the output dtype, and the kernel's arguments.

        Every value must be finite in `dtype` and every intermediate finite in the dtype the
        kernel computes in (float32 for float32/float16/bfloat16, float64 for float64), or a
        ValueError names the parameter.  A uniform interval wider than that dtype's largest value
        but inside the output range is still sampled: U(low, high) = 2 U(low/2, high/2), exact in
        binary floating point, so the kernel draws the halved interval and the values are
        doubled afterwards (`doubled`).
        """
        p = self.params
        dmax = float_max(dtype)
        ct = compute_dtype(dtype)
        cmax = float_max(ct)
        if self.distribution == "normal":
            mean, stddev = p["mean"], p["stddev"]
            if abs(mean) > dmax:
                raise self._out_of_range("mean", dtype, "is outside the range of")
            if not fits(stddev, ct) or abs(mean) + _Z_MAX[ct] * stddev > dmax:
                err = self._out_of_range("stddev", dtype)
                if mean:  # both make the values: name both
                    err.params = ("mean", "stddev")
                raise err
            # The clamp never binds (the check above bounds |mean + stddev z|); it is a guard.
            return mean, stddev, -dmax, dmax, False
        low, high = p["low"], p["high"]
        if self.distribution == "uniform":
            if low < -dmax:
                raise self._out_of_range("low", dtype, "is outside the range of")
            if high > dmax:
                raise self._out_of_range("high", dtype, "is outside the range of")
        else:
            # A truncation bound may lie beyond the dtype (a one-sided tail, say); the values
            # the sampler can actually produce must not.
            mean, stddev = p["mean"], p["stddev"]
            if abs(mean) > cmax:
                raise self._out_of_range("mean", dtype, "is outside the range of")
            if not fits(stddev, ct):
                raise self._out_of_range("stddev", dtype, "is outside the range of")
            zlo, zhi = self._reach(ct)
            if mean + stddev * zlo < -dmax:
                raise self._out_of_range("low" if low < -dmax else "stddev", dtype)
            if mean + stddev * zhi > dmax:
                raise self._out_of_range("high" if high > dmax else "stddev", dtype)
        lo = ceil_to(low, dtype)
        if self.distribution == "uniform":
            hi, interval = below(high, dtype), "[low, high)"
        else:
            hi, interval = floor_to(high, dtype), "[low, high]"
        if not lo <= hi:
            raise ParameterRangeError(
                "low", p["low"], dtype,
                f"No {dtype.name} value lies in {interval}. Received: low={p['low']!r}, "
                f"high={p['high']!r}", params=("low", "high"), empty=True)
        if self.distribution == "uniform":
            if fits(high - low, ct):
                return low, high - low, lo, hi, False
            # |low| and |high| are both far above the smallest normal here, so halving is exact
            return low / 2, high / 2 - low / 2, lo / 2, hi / 2, True
        return mean, stddev, lo, hi, False

    def _reach(self, ct: np.dtype[Any]) -> tuple[float, float]:
        """The standardized values [zlo, zhi] the truncated-normal sampler can return.

        Normal rejection returns normals inside [za, zb], and |z| never exceeds _Z_MAX; the
        uniform proposal stays in [za, zb]; the exponential proposal adds at most
        -log(2^-53) / alpha = 36.8 / alpha to its near bound.
        """
        za, zb = self._za, self._zb
        tn = cast("tuple[int, float, float, int, float]", self._tn)  # a truncated normal's
        method, alpha = tn[0], tn[1]
        if method == TN_NORMAL:
            zmax = _Z_MAX[ct]
            return min(max(za, -zmax), zb), max(min(zb, zmax), za)
        if method == TN_EXP:
            return za, min(zb, za + 36.8 / alpha)
        if method == TN_EXP_NEG:
            return max(za, zb - 36.8 / alpha), zb
        return za, zb

    def fill(self, out: npt.NDArray[Any], start: int = 0, *,
             max_attempts: int | None = None) -> npt.NDArray[Any]:
        """Write stream elements [start, start + out.size) into `out` (flat, C order); return it.

        `out` must be a C-contiguous, aligned, writable ndarray of float16, bfloat16, float32 or
        float64.  `max_attempts` overrides the truncated-normal retry cap (tests use it to force
        the fallback); it changes the stream and is not for normal use.
        """
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
        if out.dtype not in FLOAT_DTYPES:
            raise TypeError(
                f"out has dtype {out.dtype.name}; streams fill float16, bfloat16, float32 or "
                "float64"
            )
        check_writable_buffer(out)
        # (mypy holds int and numbers.Integral disjoint: the casts keep these checks typed)
        if isinstance(start, (bool, np.bool_)) or not isinstance(cast(object, start),
                                                                  numbers.Integral):
            raise TypeError(f"Argument `start` must be an int. Received: start={start!r}")
        start = int(start)
        if start < 0 or start + out.size > 2**64:
            raise ValueError(
                f"Argument `start` must satisfy 0 <= start and start + out.size <= 2**64. "
                f"Received: start={start}"
            )
        if max_attempts is not None:
            if isinstance(max_attempts, bool) \
                    or not isinstance(cast(object, max_attempts), numbers.Integral) \
                    or not 1 <= max_attempts < 2**32:
                raise ValueError(f"max_attempts must be an int >= 1, got {max_attempts!r}")
            if self._tn is None:
                max_attempts = None
        kernel, doubled = self._kernel(out.dtype, max_attempts)
        if out.size:
            kernel.fill(out, start, get_num_threads())
            if doubled:
                np.multiply(out, 2, out=out)
        return out

    def fill_runs(self, out: npt.NDArray[Any], starts: npt.NDArray[np.int64],
                  run_length: int) -> npt.NDArray[Any]:
        """Write runs of `run_length` elements starting at stream indices `starts` (an int64
        array), back to back into the C-contiguous `out`, in one native call: the pieces of a
        column block, say.  The caller (fastinit._regions) has validated the indices."""
        kernel, doubled = self._kernel(out.dtype)
        kernel.fill_runs(out, starts, run_length, get_num_threads())
        if doubled:
            np.multiply(out, 2, out=out)
        return out


def _rebuild_stream(distribution: str, seed: int, params: dict[str, float]) -> Stream:
    return Stream(distribution, seed, **params)


def fill_stream(out: npt.NDArray[Any], distribution: str, *, seed: Seed, start: int = 0,
                **params: float) -> npt.NDArray[Any]:
    """Fill a buffer with elements [start, start + out.size) of a distribution's stream.

    This is the low-level entry point the initializers, the out-of-core writer and the Dask
    backend share: element i of the stream depends only on (seed, i, distribution, params,
    dtype), so any buffer, chunk, thread count or machine gives the same bits for the same
    index.

    Parameters
    ----------
    out : numpy.ndarray
        C-contiguous, aligned, writable array of float16, bfloat16, float32 or float64, filled
        in place in flat C order.
    distribution : {"uniform", "normal", "truncated_normal"}
        "uniform" takes `low`, `high` (default 0, 1; values in [low, high)).
        "normal" takes `mean`, `stddev` (default 0, 1).
        "truncated_normal" takes `mean`, `stddev` and bounds `low`, `high` (default
        mean -+ 2 stddev, as Keras truncates; values in [low, high]).
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Keys the stream.  Required.
    start : int, optional
        Stream index of ``out.flat[0]``.

    Returns
    -------
    numpy.ndarray
        `out`.

    Examples
    --------
    >>> import numpy as np, fastinit
    >>> whole = fastinit.fill_stream(np.empty(10, np.float32), "normal", seed=0)
    >>> part = fastinit.fill_stream(np.empty(4, np.float32), "normal", seed=0, start=3)
    >>> bool((whole[3:7] == part).all())
    True
    """
    return Stream(distribution, seed, **params).fill(out, start)
