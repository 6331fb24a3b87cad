"""Seeds: int | None | SeedSequence | Generator -> an int seed -> the generator's key words.

Everything is first reduced to a non-negative int seed, so that an initializer's config can hold
it and `from_config` rebuilds the same stream; the key is then always
`SeedSequence(int_seed).generate_state(2, uint32)`, so seeds 0, 1, 2, ... give unrelated streams.
"""

from __future__ import annotations

import functools
import numbers
import random
from typing import Literal, overload

import numpy as np

from fastinit._typing import Seed, SeedLike


def draw_default_seed() -> int:
    """A fresh seed for an unseeded instance, drawn like Keras does (`random.randint(1, 1e9)`).

    Drawing from Python's `random` means `random.seed(s)` (as `keras.utils.set_random_seed`
    does) makes unseeded instances reproducible too.
    """
    return random.randint(1, int(1e9))


@overload
def normalize_seed(seed: Seed, *, allow_none: bool = ...) -> int: ...
@overload
def normalize_seed(seed: SeedLike, *, allow_none: Literal[False]) -> int: ...
@overload
def normalize_seed(seed: SeedLike, *, allow_none: bool = ...) -> int | None: ...


def normalize_seed(seed: object, *, allow_none: bool = True) -> int | None:
    """Return a non-negative int seed, or None when `seed` is None and that is allowed.

    A `SeedSequence` maps to a 64-bit int from its own state (no spawning, so the same sequence
    always gives the same int); a `Generator` is asked for one 63-bit int, which advances it.
    """
    if seed is None:
        if allow_none:
            return None
        raise TypeError(
            "Argument `seed` must be an int >= 0, a numpy.random.SeedSequence or a "
            "numpy.random.Generator. Received: seed=None"
        )
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(
            "Argument `seed` must be an int >= 0, None, a numpy.random.SeedSequence or a "
            f"numpy.random.Generator, not a bool. Received: seed={seed!r}"
        )
    if isinstance(seed, numbers.Integral):
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"Argument `seed` must be >= 0. Received: seed={seed}")
        return seed
    if isinstance(seed, np.random.SeedSequence):
        words = seed.generate_state(2, np.uint32)
        return int(words[0]) | (int(words[1]) << 32)
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63, dtype=np.int64))
    raise TypeError(
        "Argument `seed` must be an int >= 0, None, a numpy.random.SeedSequence or a "
        f"numpy.random.Generator. Received: seed={seed!r} of type {type(seed).__name__}"
    )


@functools.lru_cache(maxsize=4096)
def key_from_seed(seed: int) -> tuple[int, int]:
    """The two 32-bit Philox key words for a normalized int seed."""
    k = np.random.SeedSequence(seed).generate_state(2, np.uint32)
    return int(k[0]), int(k[1])
