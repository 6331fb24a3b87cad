"""Type aliases of the public API's annotations.

Shapes are taken as an int or a sequence of ints and returned as ``tuple[int, ...]``; dtypes
are anything `numpy.dtype` accepts (plus the string "bfloat16"), `numpy.typing.DTypeLike`; seeds
are an int >= 0, a numpy integer, a `numpy.random.SeedSequence`, a `numpy.random.Generator` or
None.  (At run time a shape may also hold numpy integers, anything with ``__index__``.)
"""

from collections.abc import Sequence
from types import EllipsisType
from typing import Any, TypeAlias

import numpy as np

__all__ = ["ShapeLike", "Shape", "Seed", "SeedLike", "Index", "Bounds"]

#: A shape on input: an int (1-D) or a sequence of ints.
ShapeLike: TypeAlias = Sequence[int] | int
#: A validated shape.
Shape: TypeAlias = tuple[int, ...]
#: A seed that keys a stream (None is not one).
Seed: TypeAlias = int | np.integer[Any] | np.random.SeedSequence | np.random.Generator
#: An initializer's `seed` argument: None draws a seed.
SeedLike: TypeAlias = Seed | None
#: An index of `Initializer.region`: ints and step-1 slices, one per axis, and one Ellipsis.
Index: TypeAlias = int | slice | EllipsisType | tuple[int | slice | EllipsisType, ...]
#: A block of an array: a (start, stop) pair per axis.
Bounds: TypeAlias = Sequence[tuple[int, int]]
