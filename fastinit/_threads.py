"""How many threads a kernel call uses.

Default: the OpenMP runtime's limit, `omp_get_max_threads()`, which honours `OMP_NUM_THREADS` and
`threadpoolctl.threadpool_limits(n, user_api="openmp")`.  `set_num_threads(n)` or the
`num_threads(n)` context manager override it for fastinit alone.  The thread count changes speed,
never the values.

Forked children (multiprocessing's "fork" start method, os.fork): the OpenMP runtime's worker
pool does not survive fork(), so before every fork the forking thread's pool is released and the
child starts its own workers; a child uses the same thread count as its parent would, and gives
the same bits.  Where the runtime cannot release its pool (OpenMP < 5.0), children run their
fills on one thread instead of hanging.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator

from fastinit._openmp import openmp_enabled, openmp_max_threads, release_thread_pool
from fastinit._validation import check_positive_int

_override: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "fastinit_num_threads", default=None)
_global_override: int | None = None
# Set in a forked child whose parent could not release its OpenMP pool: parallel regions there
# would hang, so every fill runs on the calling thread.
_serial_after_fork = False
_pool_released = True


def _before_fork() -> None:
    global _pool_released
    _pool_released = release_thread_pool() == 0


def _after_fork_in_child() -> None:
    global _serial_after_fork
    if not _pool_released:
        _serial_after_fork = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def get_num_threads() -> int:
    """The number of threads the next fill will use (1 when built without OpenMP)."""
    if not openmp_enabled() or _serial_after_fork:
        return 1
    n = _override.get()
    if n is None:
        n = _global_override
    if n is None:
        n = openmp_max_threads()
    return max(1, n)


def set_num_threads(n: int | None) -> None:
    """Set fastinit's thread count for this process; None goes back to the OpenMP default."""
    global _global_override
    _global_override = None if n is None else check_positive_int("n", n)


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Context manager: use `n` threads inside the block (per thread and asyncio task)."""
    token = _override.set(None if n is None else check_positive_int("n", n))
    try:
        yield
    finally:
        _override.reset(token)
