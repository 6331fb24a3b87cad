"""torch.nn.init's rules without torch: parameters, fans and gains, and each rule's values.

The parameter side of `fastinit.torch` (torch 2.13's defaults, argument binding, fan rule --
dim 1 is fan-in, dim 0 fan-out, both times prod(shape[2:]) -- gains and the kaiming / xavier
standard deviations) lives here so that it needs no torch: `fastinit.torch` imports it, and so do
fastinit's JSON model specs (fastinit._modelspec), whose torch-style rules
(``{"torch": "normal_", "std": 0.02}``) therefore give the values `fastinit.torch.materialize`
gives for ``rule("normal_", std=0.02)``, bit for bit, without importing torch.

`rule_values` is the one implementation of each function's checks (torch's messages) and of the
values it chooses (a constant, a fastinit initializer, orthogonal, eye, dirac, sparse or a
no-op): fastinit.torch maps them to its Specs, the model specs to Sources.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    from fastinit.initializers import Initializer

__all__ = ["calculate_gain", "calculate_fan_in_and_fan_out", "RANDOM", "rule_values", "Values"]


# ---- gains, fans and arguments (torch's code; fastinit.torch imports these) ------------------


def calculate_gain(nonlinearity: str, param: Any = None) -> float:
    r"""Return the recommended gain value for the given nonlinearity function.

    ================= ====================================================
    nonlinearity      gain
    ================= ====================================================
    Linear / Identity :math:`1`
    Conv{1,2,3}D      :math:`1`
    Sigmoid           :math:`1`
    Tanh              :math:`\frac{5}{3}`
    ReLU              :math:`\sqrt{2}`
    Leaky Relu        :math:`\sqrt{\frac{2}{1 + \text{negative\_slope}^2}}`
    SELU              :math:`\frac{3}{4}`
    ================= ====================================================

    Exactly `torch.nn.init.calculate_gain` (same values and errors).

    Args:
        nonlinearity: the non-linear function (`nn.functional` name)
        param: optional parameter for the non-linear function
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    elif nonlinearity == "tanh":
        return 5.0 / 3
    elif nonlinearity == "relu":
        return math.sqrt(2.0)
    elif nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, int) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    elif nonlinearity == "selu":
        return 3.0 / 4
    else:
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def calculate_fan_in_and_fan_out(shape: Sequence[int]) -> tuple[int, int]:
    """torch's fans of a shape: (shape[1] * rf, shape[0] * rf), rf = prod(shape[2:])."""
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive_field_size = 1
    for s in shape[2:]:
        receptive_field_size *= s
    return shape[1] * receptive_field_size, shape[0] * receptive_field_size


def _correct_fan(shape: Sequence[int], mode: str) -> int:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _kaiming_std(shape: Sequence[int], a: Any, mode: str, nonlinearity: str) -> float:
    fan = _correct_fan(shape, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


class DivisionByZeroError(ValueError, ZeroDivisionError):
    """A value torch divides by is zero: a ValueError naming it, and still the
    ZeroDivisionError torch raises there, for code that catches torch's."""


def _xavier_std(shape: Sequence[int], gain: float) -> float:
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    if fan_in + fan_out == 0:
        raise DivisionByZeroError(
            f"xavier_*: fan_in + fan_out is 0 for a tensor of shape {tuple(shape)} (torch "
            f"divides by it and raises ZeroDivisionError). Received: tensor.shape={tuple(shape)}"
        )
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


_DEFAULTS: dict[str, dict[str, Any]] = {
    "uniform_": {"a": 0.0, "b": 1.0},
    "normal_": {"mean": 0.0, "std": 1.0},
    "trunc_normal_": {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
    "constant_": {"val": None},
    "ones_": {},
    "zeros_": {},
    "eye_": {},
    "dirac_": {"groups": 1},
    "xavier_uniform_": {"gain": 1.0},
    "xavier_normal_": {"gain": 1.0},
    "kaiming_uniform_": {"a": 0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
    "kaiming_normal_": {"a": 0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
    "orthogonal_": {"gain": 1},
    "sparse_": {"sparsity": None, "std": 0.01},
}
RANDOM = {"uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
          "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_"}


def _bind(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    if name not in _DEFAULTS:
        raise ValueError(
            f"Unknown torch.nn.init function {name!r}; expected one of {sorted(_DEFAULTS)}"
        )
    defaults = _DEFAULTS[name]
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise TypeError(f"{name}() got unexpected keyword argument(s) {sorted(unknown)}")
    kw = {**defaults, **kwargs}
    missing = [k for k, v in kw.items() if v is None]
    if missing:
        raise TypeError(f"{name}() missing required argument(s) {missing}")
    return kw


# ---- a rule's values, torch-free (fastinit.torch maps them to Specs, model specs to Sources) --


class RangeError(ValueError, RuntimeError):
    """An argument out of the range torch accepts: torch raises RuntimeError from its C++ checks
    (uniform_'s bounds, normal_'s std), fastinit's convention is ValueError; this is both, so
    fastinit.torch matches torch and the model specs keep their ValueErrors, with one message."""


# torch's C++ names of the float dtypes (by numpy name), as its messages spell them
_TORCH_TYPE_NAMES = {"float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float",
                     "float64": "double"}


@dataclass(frozen=True)
class ConstantValues:
    """Every element is `value` (torch's fill_)."""
    value: Any


@dataclass(frozen=True)
class RandomValues:
    """The values of a fastinit initializer: `make(seed)` is it for the tensor's seed."""
    make: Callable[[int], Initializer]


@dataclass(frozen=True)
class OrthogonalValues:
    """torch's orthogonal_: the (shape[0], numel // shape[0]) matrix, times `gain`."""
    gain: float


@dataclass(frozen=True)
class EyeValues:
    """The 2-D identity."""


@dataclass(frozen=True)
class DiracValues:
    """dirac_ with `groups` groups."""
    groups: int


@dataclass(frozen=True)
class SparseValues:
    """sparse_: N(0, std) with `num_zeros` zero rows in each column of `rows` rows."""
    rows: int
    num_zeros: int
    std: float


@dataclass(frozen=True)
class NoValues:
    """torch's no-op on a zero-element tensor (nothing is written); `warning` is torch's, if any."""
    warning: str | None = None


Values = Union[ConstantValues, RandomValues, OrthogonalValues, EyeValues, DiracValues,
               SparseValues, NoValues]


def _fmt(x: object) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _finfo(dtype_name: str) -> Any:
    if dtype_name == "bfloat16":
        import ml_dtypes
        return ml_dtypes.finfo(ml_dtypes.bfloat16)  # type: ignore[no-untyped-call]
    return np.finfo(dtype_name)


def _random(make: Callable[[int], Initializer]) -> RandomValues:
    make(0)   # the initializer validates its parameters now, before any work
    return RandomValues(make)


def _uniform(a: float, b: float, dtype_name: str | None) -> Values:
    if dtype_name in _TORCH_TYPE_NAMES:
        fi = _finfo(dtype_name)
        tname = _TORCH_TYPE_NAMES[dtype_name]
        for label, v in (("from", a), ("to", b)):
            if not (float(fi.min) <= v <= float(fi.max)):    # also NaN and inf
                raise RangeError(f"{label} is out of bounds for {tname}")
    if a > b:
        raise RangeError(f"uniform_ expects to return a [from, to) range, but found "
                         f"from={_fmt(a)} > to={_fmt(b)}")
    if a == b:
        return ConstantValues(float(a))
    from fastinit import RandomUniform
    low, high = float(a), float(b)
    return _random(lambda s: RandomUniform(low, high, seed=s))


def _normal(mean: float, std: float) -> Values:
    if std < 0:
        raise RangeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    if std == 0:
        return ConstantValues(float(mean))
    from fastinit import RandomNormal
    m, sd = float(mean), float(std)
    return _random(lambda s: RandomNormal(m, sd, seed=s))


def _trunc_normal(mean: float, std: float, a: float, b: float, stacklevel: int) -> Values:
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=stacklevel)
    if std == 0:
        raise DivisionByZeroError(
            "Argument `std` of trunc_normal_ must be > 0 (torch divides by it and raises "
            f"ZeroDivisionError). Received: std={_fmt(std)}"
        )
    if std < 0:
        raise ValueError(f"trunc_normal_ expects std > 0.0, but found std {_fmt(std)}")
    if a > b:   # torch checks its bounds through uniform_
        raise RangeError(f"uniform_ expects to return a [from, to) range, but found "
                         f"from={_fmt(a)} > to={_fmt(b)}")
    if a == b:
        return ConstantValues(float(a))
    # infinite bounds: a bound 40 std out is never reached by a float64 normal (|z| < 8.6)
    m, sd = float(mean), float(std)
    lo, hi = max(float(a), m - 40.0 * sd), min(float(b), m + 40.0 * sd)
    from fastinit import StreamInitializer
    return _random(lambda s: StreamInitializer("truncated_normal", seed=s, mean=m, stddev=sd,
                                               low=lo, high=hi))


def _sparse(shape: tuple[int, ...], sparsity: float, std: float) -> Values:
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows = shape[0]
    # torch zeroes randperm(rows)[:ceil(sparsity * rows)]: Python slicing decides the count
    num_zeros = len(range(rows)[:math.ceil(sparsity * rows)])
    base = _normal(0.0, std)
    if isinstance(base, ConstantValues):
        return base
    return SparseValues(rows, num_zeros, float(std))


def _dirac(shape: tuple[int, ...], groups: int) -> Values:
    if len(shape) not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    return DiracValues(groups)


def rule_values(name: str, kw: dict[str, Any], shape: Sequence[int], dtype_name: str | None,
                *, stacklevel: int = 1) -> Values:
    """The values torch-style function `name` gives a tensor of `shape` with its bound
    arguments `kw` (`_bind`'s result): validated with torch's checks and messages, before any
    work.  `dtype_name` is the tensor's numpy dtype name (float16, bfloat16, float32 and float64
    get torch's range check of uniform bounds; None for others).  Warnings point `stacklevel`
    frames up from the caller (1: the caller's line), as ``warnings.warn`` counts.
    """
    shape = tuple(int(n) for n in shape)
    level = stacklevel + 2      # as warn counts from the helper: + the helper and this function
    if name == "uniform_":
        return _uniform(kw["a"], kw["b"], dtype_name)
    if name == "normal_":
        return _normal(kw["mean"], kw["std"])
    if name == "trunc_normal_":
        return _trunc_normal(kw["mean"], kw["std"], kw["a"], kw["b"], level)
    if name == "constant_":
        return ConstantValues(kw["val"])
    if name == "ones_":
        return ConstantValues(1.0)
    if name == "zeros_":
        return ConstantValues(0)
    if name == "eye_":
        if len(shape) != 2:
            raise ValueError("Only tensors with 2 dimensions are supported")
        return EyeValues()
    if name == "dirac_":
        return _dirac(shape, kw["groups"])
    if name == "xavier_uniform_":
        a = math.sqrt(3.0) * _xavier_std(shape, kw["gain"])
        return _uniform(-a, a, dtype_name)
    if name == "xavier_normal_":
        return _normal(0.0, _xavier_std(shape, kw["gain"]))
    if name in ("kaiming_uniform_", "kaiming_normal_"):
        if 0 in shape:
            return NoValues("Initializing zero-element tensors is a no-op")
        std = _kaiming_std(shape, kw["a"], kw["mode"], kw["nonlinearity"])
        if name == "kaiming_normal_":
            return _normal(0.0, std)
        bound = math.sqrt(3.0) * std
        return _uniform(-bound, bound, dtype_name)
    if name == "orthogonal_":
        if len(shape) < 2:
            raise ValueError("Only tensors with 2 or more dimensions are supported")
        if math.prod(shape) == 0:
            return NoValues()
        from fastinit import Orthogonal
        Orthogonal(kw["gain"], seed=0)   # validates gain now
        return OrthogonalValues(kw["gain"])
    if name == "sparse_":
        return _sparse(shape, kw["sparsity"], kw["std"])
    raise ValueError(f"Unknown torch.nn.init function {name!r}")
