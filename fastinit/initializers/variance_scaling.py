"""VarianceScaling and its presets (Glorot, He and Lecun, uniform and normal), and Keras's fan
rules (`compute_fans`)."""

from __future__ import annotations

import math
import sys
import numbers
from collections.abc import Iterable
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from fastinit._fans import compute_fans as _compute_fans
from fastinit._messages import bad_scale, invalid_distribution, invalid_mode
from fastinit._stream import Stream
from fastinit._typing import SeedLike, Shape, ShapeLike
from fastinit._validation import check_shape
from fastinit.initializers.random_initializers import RandomInitializer

# Standard deviation of a standard normal truncated to [-2, 2] (scipy.stats.truncnorm.std(-2, 2)).
TRUNCATED_NORMAL_STD = 0.87962566103423978


def _check_axes(name: str, axes: object) -> list[int] | None:
    if axes is None:
        return None
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
        axes = [axes]
    try:
        vals = list(cast("Iterable[Any]", axes))
    except TypeError:
        raise TypeError(
            f"Argument `{name}` must be a list of ints or None. Received: {name}={axes!r}"
        ) from None
    for a in vals:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral):
            raise TypeError(
                f"Argument `{name}` must be a list of ints or None. Received: {name}={axes!r}"
            )
    return [int(a) for a in vals]


def compute_fans(shape: ShapeLike, input_axes: int | Iterable[int] | None = None,
                 output_axes: int | Iterable[int] | None = None) -> tuple[int, int]:
    """Computes the number of input and output units for a weight shape (Keras's rules).

    Args:
        shape: Integer shape tuple.
        input_axes: Optional list of ints, the axes that count as inputs.
        output_axes: Optional list of ints, the axes that count as outputs.  Both axis lists
            must be given for either to count (as in Keras).

    Returns:
        A tuple of ints `(fan_in, fan_out)`.

    Examples:

    >>> compute_fans((3, 3, 4, 8))
    (36, 72)
    >>> compute_fans((3, 4, 5), input_axes=[0], output_axes=[1, 2])
    (3, 20)
    """
    return _fans(check_shape(shape), _check_axes("input_axes", input_axes),
                 _check_axes("output_axes", output_axes))


def _fans(shape: Shape, input_axes: list[int] | None,
          output_axes: list[int] | None) -> tuple[int, int]:
    """compute_fans of a validated shape and axis lists: only the axes' range is checked here,
    as it depends on the shape."""
    if input_axes is not None and output_axes is not None:
        rank = len(shape)
        for name, axes in (("input_axes", input_axes), ("output_axes", output_axes)):
            for a in axes:
                if not -rank <= a < rank:
                    raise ValueError(
                        f"Argument `{name}` has axis {a}, out of range for shape {shape} of "
                        f"rank {rank}. Received: {name}={axes}"
                    )
        return _compute_fans(shape, tuple(input_axes), tuple(output_axes))
    return _compute_fans(shape)


# "fan_geo_avg" (JAX's mode, sqrt(fan_in * fan_out)) is fastinit's extension beyond Keras.
_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")


class VarianceScaling(RandomInitializer):
    """Initializer that adapts its scale to the shape of its input tensors.

    With `distribution="truncated_normal"` or `"untruncated_normal"`, samples are drawn from a
    (truncated or untruncated) normal with mean zero and standard deviation (after truncation)
    `sqrt(scale / n)`, where `n` is `max(1, fan_in)`, `max(1, fan_out)`,
    `max(1, (fan_in + fan_out) / 2)` or `max(1, sqrt(fan_in * fan_out))` by `mode`.  The truncated normal is cut at two standard
    deviations of the underlying normal, whose stddev is `sqrt(scale / n) / 0.87962566103423978`.
    With `distribution="uniform"`, samples come from [-limit, limit) with
    `limit = sqrt(3 * scale / n)`.  `"normal"` means `"truncated_normal"`, as in Keras.

    Examples:

    >>> init = VarianceScaling(scale=0.1, mode="fan_in", distribution="uniform", seed=0)
    >>> init(shape=(2, 2)).shape
    (2, 2)

    Args:
        scale: Scaling factor (positive float).
        mode: One of `"fan_in"`, `"fan_out"`, `"fan_avg"` (case-sensitive), or
            `"fan_geo_avg"` (the geometric mean of the fans, as in `jax.nn.initializers`): an
            extension beyond Keras, whose own VarianceScaling rejects it.
        distribution: `"truncated_normal"`, `"untruncated_normal"` or `"uniform"`
            (case-insensitive; `"normal"` means `"truncated_normal"`).
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
        input_axes: Optional list of ints, the axes counted by fan-in.
        output_axes: Optional list of ints, the axes counted by fan-out (both or neither).
    """

    _stream_arguments = {p: ("scale",) for p in ("low", "high", "mean", "stddev")}
    _derived_stream = True

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: SeedLike = None,
                 input_axes: int | Iterable[int] | None = None,
                 output_axes: int | Iterable[int] | None = None) -> None:
        # (mypy holds float and numbers.Real disjoint: the cast keeps this check typed)
        if isinstance(scale, (bool, np.bool_)) or not isinstance(cast(object, scale),
                                                                  numbers.Real):
            raise TypeError(bad_scale(scale))
        try:
            positive = math.isfinite(scale) and scale > 0.0
        except OverflowError:  # an int beyond float64's range
            positive = False
        if not positive:
            raise ValueError(bad_scale(scale))
        if not isinstance(mode, str) or mode not in _MODES:
            raise ValueError(invalid_mode(mode, _MODES))
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        if dist == "normal":
            dist = "truncated_normal"
        if dist not in _DISTRIBUTIONS:
            raise ValueError(invalid_distribution(distribution, _DISTRIBUTIONS))
        self.scale = float(scale)
        self.mode = mode
        self.distribution = dist
        self.input_axes = _check_axes("input_axes", input_axes)
        self.output_axes = _check_axes("output_axes", output_axes)
        super().__init__(seed=seed)

    def _range_context(self, shape: Shape) -> str:
        return f" for shape {shape}"

    def _divisor(self, shape: Shape) -> float | int:
        """Keras's n: max(1, fan_in), max(1, fan_out) or max(1, (fan_in + fan_out) / 2); and
        max(1, sqrt(fan_in * fan_out)) for fastinit's "fan_geo_avg"."""
        fan_in, fan_out = _fans(shape, self.input_axes, self.output_axes)
        if self.mode == "fan_in":
            return max(1, fan_in)
        if self.mode == "fan_out":
            return max(1, fan_out)
        if self.mode == "fan_avg":
            return max(1, (fan_in + fan_out) / 2) if fan_in + fan_out < 2**1000 else \
                max(1, (fan_in + fan_out) // 2)
        if self.mode == "fan_geo_avg":
            # a product beyond float64 (fans beyond 2**500) goes through logarithms
            if fan_in == 0 or fan_out == 0:
                return 1
            if fan_in * fan_out < 2**1000:
                return max(1, math.sqrt(fan_in * fan_out))
            return max(1, math.exp(0.5 * (math.log(fan_in) + math.log(fan_out))))
        # the attribute was changed after construction
        raise ValueError(invalid_mode(self.mode, _MODES))

    def _root(self, shape: Shape, k: float) -> float:
        """sqrt(k scale / n), Keras's formula where it is exact in float64; through logarithms
        where scale / n would underflow to a subnormal or zero, or n is beyond float64."""
        n = self._divisor(shape)
        try:
            s = self.scale / n
        except OverflowError:  # an int fan beyond float64
            s = 0.0
        if s >= sys.float_info.min and k * s < math.inf:
            return math.sqrt(k * s)
        root = math.exp(0.5 * (math.log(k) + math.log(self.scale) - math.log(n)))
        if not root > 0.0:
            raise ValueError(
                f"Argument `scale` gives a standard deviation that underflows float64 for shape "
                f"{shape} (fans beyond 1e600). Received: scale={self.scale!r}"
            )
        return root

    def stream(self, shape: Shape) -> Stream:
        if self.distribution == "truncated_normal":
            stddev = self._root(shape, 1.0) / TRUNCATED_NORMAL_STD
            return Stream("truncated_normal", self.seed, mean=0.0, stddev=stddev)
        if self.distribution == "untruncated_normal":
            return Stream("normal", self.seed, mean=0.0, stddev=self._root(shape, 1.0))
        if self.distribution != "uniform":  # the attribute was changed after construction
            raise ValueError(invalid_distribution(self.distribution, _DISTRIBUTIONS))
        limit = self._root(shape, 3.0)
        return Stream("uniform", self.seed, low=-limit, high=limit)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _VarianceScalingPreset(VarianceScaling):
    _preset: ClassVar[tuple[float, str, str] | None] = None  # (scale, mode, distribution)

    def __init__(self, seed: SeedLike = None, input_axes: int | Iterable[int] | None = None,
                 output_axes: int | Iterable[int] | None = None) -> None:
        scale, mode, distribution = cast("tuple[float, str, str]", self._preset)
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed,
                         input_axes=input_axes, output_axes=output_axes)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._init_seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_VarianceScalingPreset):
    """The Glorot uniform initializer, also called Xavier uniform initializer.

    Draws from [-limit, limit) with `limit = sqrt(6 / (fan_in + fan_out))`.

    Args:
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
        input_axes, output_axes: Optional fan axes (see `VarianceScaling`).

    Reference:

    - [Glorot et al., 2010](http://proceedings.mlr.press/v9/glorot10a.html)
    """

    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_VarianceScalingPreset):
    """The Glorot normal initializer, also called Xavier normal initializer.

    Draws from a truncated normal centered on 0 with `stddev = sqrt(2 / (fan_in + fan_out))`
    after truncation.

    Reference:

    - [Glorot et al., 2010](http://proceedings.mlr.press/v9/glorot10a.html)
    """

    _preset = (1.0, "fan_avg", "truncated_normal")


class LecunNormal(_VarianceScalingPreset):
    """Lecun normal initializer: truncated normal with `stddev = sqrt(1 / fan_in)`.

    Reference:

    - [Klambauer et al., 2017](https://arxiv.org/abs/1706.02515)
    """

    _preset = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_VarianceScalingPreset):
    """Lecun uniform initializer: [-limit, limit) with `limit = sqrt(3 / fan_in)`.

    Reference:

    - [LeCun et al., 1998](https://link.springer.com/chapter/10.1007/3-540-49430-8_2)
    """

    _preset = (1.0, "fan_in", "uniform")


class HeNormal(_VarianceScalingPreset):
    """He normal initializer: truncated normal with `stddev = sqrt(2 / fan_in)`.

    Reference:

    - [He et al., 2015](https://arxiv.org/abs/1502.01852)
    """

    _preset = (2.0, "fan_in", "truncated_normal")


class HeUniform(_VarianceScalingPreset):
    """He uniform variance scaling initializer: [-limit, limit), `limit = sqrt(6 / fan_in)`.

    Reference:

    - [He et al., 2015](https://arxiv.org/abs/1502.01852)
    """

    _preset = (2.0, "fan_in", "uniform")
