"""Per-name seeds: one model seed and a tensor's qualified name -> that tensor's int seed.

A model has many tensors.  Seeding them by position (the first layer gets seed + 0, the next
seed + 1) makes every value depend on the order in which modules are built: insert a layer and
every later weight changes.  fastinit keys each tensor by (model seed, the tensor's full name)
instead, with one fixed function, frozen like the streams (design notes, section 7):

    words = the SHA-256 digest of name.encode("utf-8"), read as 8 little-endian uint32 words
    state = numpy.random.SeedSequence(entropy=seed, spawn_key=words).generate_state(2, uint32)
    seed_for_name(seed, name) = state[0] | (state[1] << 32)          # an int in [0, 2**64)

Python's `hash()` is never used (it changes between processes).  Changing this function changes
every model initialized by name: it is pinned by frozen values in the test suite and follows the
same compatibility policy as the streams (`fastinit.STREAM_VERSION`).
"""

import hashlib
import numbers

from typing import Any

import numpy as np

__all__ = ["seed_for_name"]


def seed_for_name(seed: Any, name: str) -> int:
    """The int seed of the tensor called `name` in a model seeded with `seed`.

    Parameters
    ----------
    seed : int
        The model seed, >= 0 (any size).
    name : str
        The tensor's qualified name, e.g. ``"blocks.3.attn.qkv.weight"``.

    Returns
    -------
    int
        A seed in ``[0, 2**64)``: the SHA-256 digest of the UTF-8 name as eight little-endian
        32-bit words is the ``spawn_key`` of ``numpy.random.SeedSequence(entropy=seed)``, whose
        first two generated uint32 words are the low and high halves.  Unrelated names give
        unrelated seeds; the same (seed, name) gives the same seed on every machine and run.

    Examples
    --------
    >>> import fastinit
    >>> s = fastinit.seed_for_name(0, "wte.weight")
    >>> s == fastinit.seed_for_name(0, "wte.weight") != fastinit.seed_for_name(0, "wpe.weight")
    True
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"Argument `seed` must be an int >= 0. Received: seed={seed!r}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"Argument `seed` must be >= 0. Received: seed={seed}")
    if not isinstance(name, str):
        raise TypeError(f"Argument `name` must be a str. Received: name={name!r}")
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    words = tuple(int(w) for w in np.frombuffer(digest, dtype="<u4"))
    state = np.random.SeedSequence(entropy=seed, spawn_key=words).generate_state(2, np.uint32)
    return int(state[0]) | (int(state[1]) << 32)
