"""make_array: a sharded jax.Array whose every shard is generated alone, where it lives."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

import fastinit
from fastinit._regions import normalize_index
from fastinit.jax._arrays import aligned_empty
from fastinit.jax._keys import seed_from_key

__all__ = ["make_array"]


def make_array(init: Any, shape: Any, sharding: jax.sharding.Sharding, dtype: Any,
               key_or_seed: Any) -> jax.Array:
    """The global array ``init(key, shape, dtype)`` laid out by `sharding`, shard by shard.

    Built with ``jax.make_array_from_callback``: each addressable shard is generated alone from
    the region API, into a 64-byte aligned host buffer that a CPU device adopts without a copy,
    so the memory used is the shards themselves (devices holding the same shard each get their
    own copy, as JAX does).  The values do not depend on the mesh or the partition spec: every
    layout gives the same global array, bit for bit, equal to the unsharded ``init(key, shape,
    dtype)``.

    Parameters
    ----------
    init : fastinit.jax initializer or fastinit.Initializer
        What `fastinit.jax.glorot_uniform()` etc. return (also `zeros`/`ones`), or one of
        fastinit's Keras-style initializers, which carries its own seed (then `key_or_seed`
        must be None).
    shape : tuple of int
    sharding : jax.sharding.Sharding
        E.g. ``NamedSharding(mesh, PartitionSpec("x", None))``.
    dtype : dtype or None
        None is JAX's default float dtype.
    key_or_seed : jax key, int or None
        A JAX key (mapped to a seed by the rule in `fastinit.jax`) or an int fastinit seed.

    Orthogonal and delta-orthogonal need their whole matrix: each callback computes it, so
    prefer them replicated or small.
    """
    if not isinstance(sharding, jax.sharding.Sharding):
        raise TypeError(f"Argument `sharding` must be a jax.sharding.Sharding. "
                        f"Received: sharding={sharding!r}")
    from fastinit.jax._initializers import Initializer, _dtype, _shape

    shape = _shape(shape)
    if isinstance(init, fastinit.Initializer):
        if key_or_seed is not None:
            raise ValueError(
                "A fastinit.Initializer carries its own seed: pass key_or_seed=None. "
                f"Received: key_or_seed={key_or_seed!r}")
        fi = init
        dt = _dtype(dtype, floating=fi._dtype_kind == "float")
        fi.source(shape, dt)                 # validates (and refuses Orthogonal) before work

        def callback(index: Any) -> np.ndarray[Any, Any]:
            out = aligned_empty(normalize_index(shape, index)[1], dt)
            return fi.region(shape, index, dt, out=out)
    else:
        jinit = getattr(init, "_fastinit_jax", init)
        if not isinstance(jinit, Initializer):
            raise TypeError(
                "Argument `init` must be a fastinit.jax initializer (fastinit.jax.normal(), "
                f"...) or a fastinit.Initializer. Received: init={init!r}")
        if key_or_seed is None:
            raise TypeError("Argument `key_or_seed` is required: a jax.random key or an int "
                            "seed. Received: key_or_seed=None")
        dt = _dtype(jinit.dtype if dtype is None else dtype, floating=jinit._floating)
        jinit._check(shape, dt)
        seed = seed_from_key(key_or_seed)

        def callback(index: Any) -> np.ndarray[Any, Any]:
            return jinit._piece(seed, shape, dt, index)

    return jax.make_array_from_callback(shape, sharding, callback, dtype=dt)
