"""Host arrays JAX can adopt without a copy, and the three ways fastinit.jax hands values to JAX:
eagerly (`to_jax`), under a trace (`traced`), and shard by shard (`make_array`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from fastinit._typing import Shape

__all__ = ["aligned_empty", "to_jax", "traced"]

# XLA's CPU client adopts a host buffer without copying it only when the data is aligned to 64
# bytes (cpu_function_runtime::MinAlign); numpy's allocator gives 16.  Every buffer fastinit.jax
# hands to JAX is allocated with this alignment, so `jax.device_put` on a CPU device (and
# `make_array_from_callback`, which calls it per shard) keeps the buffer: peak memory is the
# array, not twice it.
ALIGNMENT = 64


def aligned_empty(shape: Shape, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """An uninitialized C-contiguous array of `shape` and `dtype` whose data is 64-byte aligned."""
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    offset = (-raw.ctypes.data) % ALIGNMENT
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


def to_jax(host: np.ndarray[Any, Any], device: Any = None) -> jax.Array:
    """`host` as a jax.Array on `device` (JAX's default device if None): no copy on a CPU device
    when `host` comes from `aligned_empty`; a host-to-device transfer otherwise."""
    return jax.device_put(host, device)


def traced(host_fn: Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]], words: Any,
           shape: Shape, dtype: np.dtype[Any]) -> jax.Array:
    """The array ``host_fn(key_words)`` as a value inside a trace (jit, vmap, grad's forward).

    A ``jax.pure_callback``: the key's data is the operand, the result's ShapeDtypeStruct is
    static.  XLA runs the Python function on the host when the compiled program runs and copies
    its result into the program's output buffer (one extra pass over memory, and a transfer to
    the accelerator when there is one).  Under vmap each key of the batch is one call.
    """
    return jax.pure_callback(host_fn, jax.ShapeDtypeStruct(shape, dtype), words,
                             vmap_method="sequential")
