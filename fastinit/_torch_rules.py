"""torch.nn.init's rules without torch: parameters, fans and gains, and values as fastinit Sources.

The parameter side of `fastinit.torch` (torch 2.13's defaults, argument binding, fan rule --
dim 1 is fan-in, dim 0 fan-out, both times prod(shape[2:]) -- gains and the kaiming / xavier
standard deviations) lives here so that it needs no torch: `fastinit.torch` imports it, and so do
fastinit's JSON model specs (fastinit._modelspec), whose torch-style rules
(``{"torch": "normal_", "std": 0.02}``) therefore give the values `fastinit.torch.materialize`
gives for ``rule("normal_", std=0.02)``, bit for bit, without importing torch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from fastinit._regions import ArraySource, Source
from fastinit._validation import BFLOAT16

__all__ = ["calculate_gain", "calculate_fan_in_and_fan_out", "RANDOM", "torch_rule_source"]


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


# ---- values as fastinit Sources (what fastinit.torch's specs fill, torch-free) ---------------


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _finfo(dtype: np.dtype[Any]) -> Any:
    if dtype == BFLOAT16:
        import ml_dtypes
        return ml_dtypes.finfo(ml_dtypes.bfloat16)  # type: ignore[no-untyped-call]
    return np.finfo(dtype)


#: make(seed) -> the tensor's Source; the seed is the tensor's own (fastinit.seed_for_name).
SourceMaker = Callable[[int], Source]


def _uniform(a: float, b: float, shape: tuple[int, ...], dtype: np.dtype[Any]) -> SourceMaker:
    if dtype.kind == "f":
        fi = _finfo(dtype)
        for label, v in (("from", a), ("to", b)):
            if not (float(fi.min) <= v <= float(fi.max)):    # also NaN and inf
                raise ValueError(f"uniform_: {label}={_fmt(v)} is out of bounds for {dtype}")
    if a > b:
        raise ValueError(f"uniform_ expects to return a [from, to) range, but found "
                         f"from={_fmt(a)} > to={_fmt(b)}")
    if a == b:
        return _constant(float(a), shape, dtype)
    from fastinit import RandomUniform
    return lambda s: RandomUniform(float(a), float(b), seed=s).source(shape, dtype)


def _normal(mean: float, std: float, shape: tuple[int, ...], dtype: np.dtype[Any]
            ) -> SourceMaker:
    if std < 0:
        raise ValueError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    if std == 0:
        return _constant(float(mean), shape, dtype)
    from fastinit import RandomNormal
    return lambda s: RandomNormal(float(mean), float(std), seed=s).source(shape, dtype)


def _trunc_normal(mean: float, std: float, a: float, b: float, shape: tuple[int, ...],
                  dtype: np.dtype[Any]) -> SourceMaker:
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=4)
    if std <= 0:
        raise ValueError(f"trunc_normal_ expects std > 0.0, but found std {_fmt(std)}")
    if a > b:
        raise ValueError(f"trunc_normal_ expects a <= b, but found a={_fmt(a)} > b={_fmt(b)}")
    if a == b:
        return _constant(float(a), shape, dtype)
    # as fastinit.torch: a bound 40 std out is never reached by a float64 normal (|z| < 8.6)
    lo = max(float(a), mean - 40.0 * std)
    hi = min(float(b), mean + 40.0 * std)
    from fastinit import StreamInitializer
    return lambda s: StreamInitializer("truncated_normal", seed=s, mean=float(mean),
                                       stddev=float(std), low=lo, high=hi).source(shape, dtype)


def _constant(value: Any, shape: tuple[int, ...], dtype: np.dtype[Any]) -> SourceMaker:
    from fastinit import Constant
    src = Constant(value).source(shape, dtype)
    return lambda s: src


def _orthogonal(gain: float, shape: tuple[int, ...], dtype: np.dtype[Any]) -> SourceMaker:
    from fastinit import Orthogonal
    rows = shape[0]
    cols = math.prod(shape) // rows
    Orthogonal(gain, seed=0)   # validates gain now

    def make(s: int) -> Source:
        def compute() -> npt.NDArray[Any]:
            return Orthogonal(gain, seed=s)((rows, cols), dtype).reshape(shape)
        return ArraySource(compute, shape, dtype)
    return make


def torch_rule_source(name: str, kwargs: dict[str, Any], shape: Sequence[int],
                      dtype: np.dtype[Any]) -> SourceMaker:
    """make(seed) -> the Source of torch-style rule `name` (e.g. "kaiming_uniform_") with
    `kwargs` over a tensor of `shape` and `dtype`: the values `fastinit.torch.materialize`
    gives a tensor of that shape and dtype under ``rule(name, **kwargs)`` with that seed.

    Validates like the torch function, before any work.  orthogonal_ computes the whole
    (shape[0], rest) matrix in memory.  dirac_ and sparse_ need fastinit.torch.
    """
    shape = tuple(int(n) for n in shape)
    kw = _bind(name, dict(kwargs))
    if name == "uniform_":
        return _uniform(kw["a"], kw["b"], shape, dtype)
    if name == "normal_":
        return _normal(kw["mean"], kw["std"], shape, dtype)
    if name == "trunc_normal_":
        return _trunc_normal(kw["mean"], kw["std"], kw["a"], kw["b"], shape, dtype)
    if name == "constant_":
        return _constant(kw["val"], shape, dtype)
    if name == "ones_":
        return _constant(1, shape, dtype)
    if name == "zeros_":
        return _constant(0, shape, dtype)
    if name == "eye_":
        if len(shape) != 2:
            raise ValueError("eye_: only tensors with 2 dimensions are supported")
        from fastinit import Identity
        src = Identity(1.0).source(shape, dtype)
        return lambda s: src
    if name == "xavier_uniform_":
        a = math.sqrt(3.0) * _xavier_std(shape, kw["gain"])
        return _uniform(-a, a, shape, dtype)
    if name == "xavier_normal_":
        return _normal(0.0, _xavier_std(shape, kw["gain"]), shape, dtype)
    if name in ("kaiming_uniform_", "kaiming_normal_"):
        if 0 in shape:
            return _constant(0, shape, dtype)    # no elements: nothing to draw
        std = _kaiming_std(shape, kw["a"], kw["mode"], kw["nonlinearity"])
        if name == "kaiming_normal_":
            return _normal(0.0, std, shape, dtype)
        bound = math.sqrt(3.0) * std
        return _uniform(-bound, bound, shape, dtype)
    if name == "orthogonal_":
        if len(shape) < 2:
            raise ValueError("orthogonal_: only tensors with 2 or more dimensions are supported")
        if math.prod(shape) == 0:
            return _constant(0, shape, dtype)
        return _orthogonal(kw["gain"], shape, dtype)
    raise ValueError(f"{name} is not available without torch (fastinit.torch.materialize or "
                     "fastinit.torch.save_safetensors have it)")
