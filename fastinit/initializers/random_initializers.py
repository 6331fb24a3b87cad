"""The seeded initializers' base, and RandomNormal, TruncatedNormal and RandomUniform.

Each draws element i of its output from a counter-based stream (fastinit._stream) as a pure
function of (seed, i), so any piece of the output can be computed alone.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from fastinit._messages import bad_seed_type
from fastinit._regions import Source, StreamSource
from fastinit._seeding import draw_default_seed, normalize_seed
from fastinit._stream import ParameterRangeError, Stream
from fastinit._typing import Shape, SeedLike
from fastinit._validation import check_finite, check_positive
from fastinit.initializers.initializer import Initializer


class SeedTypeError(TypeError, ValueError):
    """A seed of a type neither Keras nor fastinit accepts.  Keras raises ValueError there and
    fastinit's other type checks raise TypeError, so this is both."""


def _is_seed_generator(seed: object) -> bool:
    """A keras.random.SeedGenerator, recognized without importing Keras."""
    return any(c.__name__ == "SeedGenerator" and c.__module__.startswith("keras")
               for c in type(seed).__mro__)


class RandomInitializer(Initializer):
    """Base of the seeded initializers.

    `seed` is an int >= 0, None, a numpy.random.SeedSequence or a numpy.random.Generator.  As in
    Keras, an instance gives the same values on every call; an unseeded instance draws its seed
    once, at construction, from Python's `random` (so `random.seed` makes it reproducible), and
    its config keeps `seed: None`, so a clone draws a new seed and differs.
    """

    #: For each stream parameter, the constructor arguments it comes from (error messages);
    #: `_derived_stream` when the stream's parameters are computed from them (VarianceScaling).
    _stream_arguments: ClassVar[dict[str, tuple[str, ...]]] = {}
    _derived_stream = False

    def __init__(self, seed: SeedLike = None) -> None:
        self.seed = seed

    @property
    def seed(self) -> int:
        """The int seed of the values; assigning it re-seeds (None draws a fresh seed)."""
        return self._seed

    @seed.setter
    def seed(self, seed: SeedLike) -> None:
        if isinstance(seed, dict) or _is_seed_generator(seed):
            raise (ValueError if isinstance(seed, dict) else TypeError)(
                f"A {'serialized ' if isinstance(seed, dict) else ''}keras SeedGenerator cannot "
                "seed a fastinit initializer: fastinit initializers are stateless (the same "
                f"values on every call). Pass an int seed. Received: seed={seed!r}"
            )
        if seed is not None and not isinstance(seed, (numbers.Integral, np.random.SeedSequence,
                                                      np.random.Generator)):
            # a type Keras rejects too: Keras's ValueError, and a TypeError as before
            raise SeedTypeError(bad_seed_type(seed))
        s = normalize_seed(seed)
        # The config keeps the seed as given (None stays None, as in Keras), so a clone of an
        # unseeded instance draws a new seed.
        self._init_seed = s
        self._seed = draw_default_seed() if s is None else s

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._init_seed}

    def stream(self, shape: Shape) -> Stream:
        """The `Stream` this initializer draws `shape` from (for chunked generation)."""
        raise NotImplementedError

    def checked_stream(self, shape: Shape, dtype: np.dtype[Any]) -> Stream:
        """`stream(shape, dtype)`, checked against `dtype` before any work.

        Keras re-reads its attributes on every call, and so does this: the last stream is
        reused only while the shape, the seed and every configured parameter are unchanged
        (compared through the config's repr, so an in-place edit of a list is seen too), so no
        cache outlives `init.stddev = ...` or `init.seed = ...`.  A parameter the dtype cannot
        hold raises ValueError under this initializer's argument names.
        """
        key = (shape, self._seed, repr(self.get_config()))
        last = self.__dict__.get("_last_stream")
        stream: Stream
        if last is not None and last[0] == key:
            stream = last[1]
        else:
            stream = self.stream(shape)
            self._last_stream = (key, stream)
        try:
            stream.check_dtype(dtype)
        except ParameterRangeError as e:
            names = tuple(dict.fromkeys(
                n for p in e.params for n in self._stream_arguments.get(p, (p,))))
            received = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
            if e.empty:
                what = (f"leave{'s' if len(names) == 1 else ''} no {e.dtype.name} value in "
                        "the interval of the values")
            elif len(names) > 1:
                what = f"give values outside the range of {e.range_text}"
            elif self._derived_stream:
                what = f"gives values outside the range of {e.range_text}"
            else:
                what = e.detail
            joined = " and ".join(f"`{n}`" for n in names)
            raise ValueError(
                f"Argument{'s' if len(names) > 1 else ''} {joined} {what}"
                f"{self._range_context(shape)}. Received: {received}, dtype={e.dtype.name}"
            ) from None
        return stream

    def _range_context(self, shape: Shape) -> str:
        return ""

    def _source(self, shape: Shape, dtype: np.dtype[Any], allow_in_memory: bool) -> Source:
        return StreamSource(self.checked_stream(shape, dtype), shape, dtype)


class _MeanStddevInitializer(RandomInitializer):
    """Shared by RandomNormal and TruncatedNormal: `mean`, `stddev` and a stream."""

    _distribution: ClassVar[str | None] = None  # set by the subclasses
    _stream_arguments = {"mean": ("mean",), "stddev": ("stddev",), "low": ("mean", "stddev"),
                         "high": ("mean", "stddev")}

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: SeedLike = None) -> None:
        self.mean = check_finite("mean", mean)
        self.stddev = check_positive("stddev", stddev)
        super().__init__(seed=seed)

    def stream(self, shape: Shape) -> Stream:
        return Stream(cast(str, self._distribution), self.seed, mean=self.mean,
                      stddev=self.stddev)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomNormal(_MeanStddevInitializer):
    """Random normal initializer.

    Draws samples from a normal distribution for given parameters.

    Examples:

    >>> init = RandomNormal(mean=0.0, stddev=1.0, seed=0)
    >>> init(shape=(2, 2)).shape
    (2, 2)

    Args:
        mean: Mean of the random values to generate.
        stddev: Standard deviation of the random values to generate (> 0).
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
    """

    _distribution = "normal"


class TruncatedNormal(_MeanStddevInitializer):
    """Initializer that generates a truncated normal distribution.

    Values more than two standard deviations from the mean are discarded and re-drawn (by
    rejection sampling, each element from its own sub-stream), so every value lies in
    [mean - 2 stddev, mean + 2 stddev], also after rounding to float16 or bfloat16.

    Examples:

    >>> v = TruncatedNormal(mean=0.0, stddev=1.0, seed=0)(shape=(1000,))
    >>> bool(abs(v).max() <= 2.0)
    True

    Args:
        mean: Mean of the random values to generate.
        stddev: Standard deviation of the random values before truncation (> 0).
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
    """

    _distribution = "truncated_normal"


class RandomUniform(RandomInitializer):
    """Random uniform initializer.

    Draws samples from a uniform distribution on [minval, maxval); `maxval` is never reached, in
    any dtype.

    Examples:

    >>> v = RandomUniform(minval=0.0, maxval=1.0, seed=0)(shape=(1000,))
    >>> bool(v.min() >= 0.0 and v.max() < 1.0)
    True

    Args:
        minval: Lower bound of the range (inclusive).
        maxval: Upper bound of the range (exclusive), > minval.
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
    """

    _stream_arguments = {"low": ("minval",), "high": ("maxval",)}

    def __init__(self, minval: float = -0.05, maxval: float = 0.05,
                 seed: SeedLike = None) -> None:
        self.minval = check_finite("minval", minval, rounding="up")
        self.maxval = check_finite("maxval", maxval, rounding="down")
        if not self.minval < self.maxval:
            raise ValueError(
                "Argument `minval` must be less than `maxval`. "
                f"Received: minval={minval}, maxval={maxval}"
            )
        super().__init__(seed=seed)

    def stream(self, shape: Shape) -> Stream:
        return Stream("uniform", self.seed, low=self.minval, high=self.maxval)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}
