"""StreamInitializer: any fastinit stream (distribution + parameters) as an initializer.

The Keras classes cannot express every distribution adapters need, e.g. torch's
``trunc_normal_(mean, std, a, b)`` with absolute bounds.  This class wraps a `fastinit.Stream`
as a seeded initializer, with the region API and a config like the others.
"""

from __future__ import annotations

from typing import Any

from fastinit._stream import Stream
from fastinit._typing import Shape
from fastinit.initializers.random_initializers import RandomInitializer

_PARAMS = {"uniform": ("low", "high"), "normal": ("mean", "stddev"),
           "truncated_normal": ("mean", "stddev", "low", "high")}


class StreamInitializer(RandomInitializer):
    """Initializer drawing element i of its output from element i of a fastinit stream.

    Examples:

    >>> init = StreamInitializer("truncated_normal", seed=0, mean=0.0, stddev=0.02,
    ...                          low=-0.04, high=0.04)
    >>> v = init(shape=(1000,))
    >>> bool(v.min() >= -0.04 and v.max() <= 0.04)
    True

    Args:
        distribution: "uniform" (`low`, `high`: values in [low, high)), "normal" (`mean`,
            `stddev`) or "truncated_normal" (`mean`, `stddev` and absolute bounds `low`, `high`,
            which default to mean -+ 2 stddev; values in [low, high]).  See `fastinit.Stream`.
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
        **params: The distribution's parameters, validated at construction.

    Its values equal ``fastinit.fill_stream(out, distribution, seed=seed, **params)`` bit for bit.
    It is not one of Keras's classes, so `fastinit.get` does not know its name; deserialize it
    with ``custom_objects={"StreamInitializer": StreamInitializer}``.
    """

    def __init__(self, distribution: str, seed: Any = None, **params: Any) -> None:
        # Stream validates the distribution, the parameter names and their values.
        stream = Stream(distribution, 0, **params)
        self.distribution = distribution
        self._param_names = tuple(p for p in _PARAMS[distribution] if p in params)
        for p in self._param_names:
            setattr(self, p, stream.params[p])
        self._stream_arguments = {  # type: ignore[misc]  # per instance: the params given
            p: (p,) for p in _PARAMS[distribution] if p in params}
        super().__init__(seed=seed)

    def _params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self._param_names}

    def stream(self, shape: Shape) -> Stream:
        return Stream(self.distribution, self.seed, **self._params())

    def get_config(self) -> dict[str, Any]:
        return {"distribution": self.distribution, **super().get_config(), **self._params()}
