"""JAX PRNG keys -> fastinit seeds, by one documented, frozen rule.

fastinit's streams are keyed by an int seed; a JAX initializer receives a PRNG key.  The key's
*data* (``jax.random.key_data(key)``: 2 uint32 words for threefry2x32, 4 for rbg and
unsafe_rbg; a raw uint32 key is its own data) names the stream:

    words = the key data, flattened, as uint32
    seed  = fastinit.seed_for_name(0, "jax.random.key:" + "-".join(f"{w:08x}" for w in words))

so the key is hashed with SHA-256 into a SeedSequence spawn key (``fastinit.seed_for_name``,
itself frozen).  The same key gives the same array on every machine; keys from
``jax.random.split`` (or ``fold_in``) give unrelated streams, because any change of a word changes
the digest; threefry and rbg keys never collide (the word count is part of the string).  The
key's implementation name is not part of the rule: a raw key does not carry one, and the typed
key ``jax.random.key(0)`` and the raw ``jax.random.PRNGKey(0)`` hold the same data, so they give
the same array, as they do in JAX.  Changing this rule changes every array made from a key: it is
pinned by frozen values in the tests and follows the streams' compatibility policy.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy
import numpy as np

from fastinit._names import seed_for_name

__all__ = ["key_words", "seed_from_key", "seed_from_key_data"]

_PREFIX = "jax.random.key:"


def is_tracer(x: object) -> bool:
    return isinstance(x, jax.core.Tracer)


def key_words(key: Any) -> Any:
    """The key's data as a uint32 array of shape (n,) (a jax array, traced inside jit).

    Raises TypeError for anything but one typed key or one raw uint32 key.
    """
    if isinstance(key, (bool, np.bool_)) or isinstance(key, numbers.Integral):
        raise TypeError("an int seed has no key data")  # callers handle ints first
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is None or shape is None:
        raise TypeError(
            "Argument `key` must be a jax.random key (jax.random.key or jax.random.PRNGKey) or "
            f"an int seed. Received: key={key!r}"
        )
    if jax.numpy.issubdtype(dtype, jax.dtypes.prng_key):
        if shape != ():
            raise ValueError(
                "Argument `key` must be a single key, not an array of keys (vmap the initializer "
                f"to use a batch of keys). Received: key of shape {shape}"
            )
        return jax.random.key_data(key).reshape(-1)
    if np.dtype(dtype) != np.uint32 or len(shape) != 1 or shape[0] not in (2, 4):
        raise TypeError(
            "Argument `key` must be a jax.random key or a raw uint32 key of shape (2,) or (4,) "
            f"(jax.random.PRNGKey). Received: key of dtype {dtype} and shape {shape}"
        )
    return key


def seed_from_key_data(words: Any) -> int:
    """The fastinit seed of a key whose data (uint32 words) is `words` (see the module doc)."""
    w = np.asarray(words, dtype=np.uint32).reshape(-1)
    return seed_for_name(0, _PREFIX + "-".join(f"{int(x):08x}" for x in w))


def seed_from_key(key: Any) -> int:
    """The fastinit seed of a concrete key, or an int seed (>= 0) passed through unchanged."""
    if isinstance(key, numbers.Integral) and not isinstance(key, (bool, np.bool_)):
        if key < 0:
            raise ValueError(f"Argument `key` as an int seed must be >= 0. Received: key={key}")
        return int(key)
    words = key_words(key)
    if is_tracer(words):
        raise TypeError("a traced key has no concrete seed (use the initializer inside jit)")
    return seed_from_key_data(np.asarray(words))
