"""Streamed initializers under ``jax.jit``: XLA fills its own output buffer through an FFI call.

fastinit registers one XLA FFI handler on the CPU platform (``fastinit._fill.xla_fill_handler``,
a nogil Cython function over the same kernels and OpenMP loop as every other fill).  Inside a
trace, an initializer whose values are one of fastinit's streams becomes two operations:

1. a ``jax.pure_callback`` of a few microseconds that turns the JAX key's data into the stream's
   two Philox key words (``seed_from_key_data`` -> the Source -> its kernel, the same path as
   the eager call) plus the thread count in force (`fastinit.get_num_threads` in XLA's thread:
   `set_num_threads` and ``OMP_NUM_THREADS`` apply, the `num_threads` context manager does not);
2. ``jax.ffi.ffi_call`` of the handler, with every other kernel parameter as a static attribute
   (checked for the output dtype at trace time); it writes the values straight into the
   output buffer XLA allocated: no host copy, no zeroing first, nothing beyond the output.

The bits equal the eager result (the tests compare them).  On other platforms (GPU, TPU), for a
stream whose kernel doubles its values afterwards (a uniform interval wider than the dtype's
largest value), and where registration fails (a jaxlib whose FFI API this build does not
support), fastinit.jax falls back to the chunked ``pure_callback`` loop (`traced_in_chunks`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from fastinit import _fill
from fastinit._regions import Source, StreamSource
from fastinit._threads import get_num_threads
from fastinit._typing import Shape

__all__ = ["TARGET", "available", "stream_operands", "traced_stream"]

#: The FFI target name fastinit registers with XLA (CPU platform).
TARGET = "fastinit_fill_stream"

_registered: bool | None = None


def available() -> bool:
    """Register the handler with XLA once; False (with a warning) if XLA refuses it."""
    global _registered
    if _registered is None:
        try:
            # With no CPU client yet, jaxlib only queues the target and checks the handler when
            # the client starts, where a refusal breaks the backend instead of landing here.
            jax.devices("cpu")
            jax.ffi.register_ffi_target(TARGET, _fill.xla_fill_handler(), platform="cpu")
            _registered = True
        except Exception as exc:  # an XLA too old or too new for this build's FFI header
            warnings.warn(f"fastinit.jax: XLA did not accept fastinit's FFI handler ({exc}); "
                          "under jax.jit the values come from host callbacks instead",
                          RuntimeWarning, stacklevel=3)
            _registered = False
    return _registered


def stream_operands(source: Source, dtype: np.dtype[Any]
                    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    """(key words uint32[2], parameters float64[13]) of the kernel that fills `source` in
    `dtype`, or None if the handler cannot fill it alone (not a stream, or doubled)."""
    if not isinstance(source, StreamSource):
        return None
    kernel, doubled = source.stream.kernel_for(dtype)
    if doubled:
        return None
    key, params = kernel.xla_operands()
    return key, params


def traced_stream(source_of: Callable[[np.ndarray[Any, Any]], Source], words: Any,
                  shape: Shape, dtype: np.dtype[Any],
                  fallback: Callable[[], jax.Array]) -> jax.Array:
    """The values of ``source_of(key words)`` inside a trace (see the module doc); `fallback()`
    builds them another way where the FFI call cannot (other platforms, other sources)."""
    probe = stream_operands(source_of(np.zeros(words.shape, np.uint32)), dtype)
    if probe is None or not available():
        return fallback()
    params = probe[1]

    def key_and_threads(w: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        ops = stream_operands(source_of(np.asarray(w)), dtype)
        # fastinit's streams take their parameters from the shape alone; a key that changed
        # them would make the traced attributes wrong, so it is an error, not silent bits.
        if ops is None or not np.array_equal(ops[1], params):
            raise RuntimeError("fastinit.jax: the stream's parameters depend on the key")
        return np.array([ops[0][0], ops[0][1], get_num_threads()], np.uint32)

    def on_cpu(w: Any) -> jax.Array:
        operand = jax.pure_callback(
            key_and_threads, jax.ShapeDtypeStruct((3,), np.uint32),  # type: ignore[no-untyped-call]
            w, vmap_method="sequential")
        call = jax.ffi.ffi_call(TARGET, jax.ShapeDtypeStruct(shape, dtype),  # type: ignore[no-untyped-call]
                                vmap_method="sequential")
        out: jax.Array = call(operand, params=params)
        return out

    def elsewhere(w: Any) -> jax.Array:
        return fallback()

    result: jax.Array = jax.lax.platform_dependent(words, cpu=on_cpu, default=elsewhere)
    return result
