"""Host arrays JAX can adopt without a copy, and the ways fastinit.jax hands host-computed values
to JAX: eagerly (`to_jax`), under a trace (`traced`, `traced_in_chunks`) and shard by shard
(`make_array`).  Streamed initializers under a trace on the CPU skip the host altogether:
fastinit.jax._xla."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from fastinit._regions import Source
from fastinit._threads import num_threads
from fastinit._typing import Shape

__all__ = ["aligned_empty", "to_jax", "traced", "traced_in_chunks", "CHUNK_BYTES"]

# Under jit, a streamed initializer is generated in pieces of this many bytes (see
# traced_in_chunks): the memory beyond the output is two pieces, whatever the output's size.
CHUNK_BYTES = 4 << 20

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
    out: jax.Array = jax.device_put(host, device)
    return out


def traced(host_fn: Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]], words: Any,
           shape: Shape, dtype: np.dtype[Any]) -> jax.Array:
    """The array ``host_fn(key_words)`` as a value inside a trace (jit, vmap, grad's forward).

    A ``jax.pure_callback``: the key's data is the operand, the result's ShapeDtypeStruct is
    static.  XLA runs the Python function on the host when the compiled program runs and copies
    its result into the program's output buffer (one extra pass over memory, and a transfer to
    the accelerator when there is one).  Under vmap each key of the batch is one call.
    """
    out: jax.Array = jax.pure_callback(
        host_fn, jax.ShapeDtypeStruct(shape, dtype),  # type: ignore[no-untyped-call]
        words, vmap_method="sequential")
    return out


def traced_in_chunks(source_of: Callable[[np.ndarray[Any, Any]], Source], words: Any,
                     shape: Shape, dtype: np.dtype[Any]) -> jax.Array:
    """Like `traced`, for a source that can fill any flat range: the output is built by a
    ``lax.fori_loop`` whose body is one ``pure_callback`` per CHUNK_BYTES piece (flat elements
    [i c, (i + 1) c), filled by ``source.fill_range``), written into the loop's carry with
    ``dynamic_update_slice``, which XLA updates in place.  So the memory beyond the output is
    one piece on the host and one in XLA's buffer (8 MiB), not a second output (except for
    bfloat16, see below); the output is
    written twice (zeroed by XLA when the loop starts, then filled).  Each piece is filled on
    one thread (see `piece`); bit-identical to the eager result whatever the thread count.  Outputs of 2**31 elements
    or more (int32 offsets) fall back to one callback for the whole array.
    """
    n = math.prod(shape)
    chunk = max(1, CHUNK_BYTES // dtype.itemsize)
    cache: dict[bytes, Source] = {}

    def source(w: np.ndarray[Any, Any]) -> Source:
        key = np.asarray(w).tobytes()
        if key not in cache:            # one Source per key: the stream's key words once
            cache.clear()
            cache[key] = source_of(np.asarray(w))
        return cache[key]

    def piece(w: np.ndarray[Any, Any], start: int, size: int) -> np.ndarray[Any, Any]:
        buf = aligned_empty((size,), dtype)
        # One thread per piece: XLA's loop runs the pieces one after another, and waking an
        # OpenMP team for every 4 MiB costs more than it gains when the cores are busy
        # (measured on a loaded 2-core VM: 28 ms a piece on 2 threads, 0.45 ms on one).
        with num_threads(1):
            source(w).fill_range(buf, start)
        return buf

    if n >= 2**31 or n <= chunk:
        return traced(lambda w: piece(w, 0, n).reshape(shape), words, shape, dtype)
    full, rest = divmod(n, chunk)
    # bfloat16 travels through the loop as its uint16 bit pattern: XLA's CPU backend rewrites
    # bfloat16 updates through float32, which copies the whole carry on every iteration
    # (measured: 10 s instead of 0.2 s for 2**26 elements).  The final bitcast costs one more
    # output-sized buffer on the CPU backend, which copies it: the lesser evil.
    carried = np.dtype(np.uint16) if dtype.name == "bfloat16" else dtype

    def carried_piece(w: np.ndarray[Any, Any], start: int, size: int) -> np.ndarray[Any, Any]:
        return piece(w, start, size).view(carried)

    spec = jax.ShapeDtypeStruct((chunk,), carried)  # type: ignore[no-untyped-call]

    def body(i: Any, acc: jax.Array) -> jax.Array:
        part = jax.pure_callback(lambda w, i: carried_piece(w, int(i) * chunk, chunk), spec,
                                 words, i, vmap_method="sequential")
        updated: jax.Array = jax.lax.dynamic_update_slice(acc, part, (i * chunk,))
        return updated

    acc = jax.lax.fori_loop(0, full, body, jax.numpy.zeros((n,), carried))
    if rest:
        tail_spec = jax.ShapeDtypeStruct((rest,), carried)  # type: ignore[no-untyped-call]
        tail = jax.pure_callback(lambda w: carried_piece(w, full * chunk, rest), tail_spec,
                                 words, vmap_method="sequential")
        acc = jax.lax.dynamic_update_slice(acc, tail, (full * chunk,))
    if carried != dtype:
        acc = jax.lax.bitcast_convert_type(acc, dtype)
    result: jax.Array = acc.reshape(shape)
    return result
