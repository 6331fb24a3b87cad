"""Dask arrays of initializer values, generated block by block where they are needed.

Needs the ``dask`` extra: ``pip install "fastinit[dask]"`` (dask[array] and distributed).

Element i (in flat C order) of an initializer's output depends only on (seed, i), so each block
of the Dask array is generated on its own, by whichever worker runs the task, from its global
element offsets: no data moves between workers, the graph holds no arrays (only the small
description of the stream), and ``.compute()`` is bit for bit ``initializer(shape, dtype)`` for
any chunking.

Scaling to a real cluster
-------------------------
The graph has one task per block and no dependencies between them, so it is embarrassingly
parallel: with ``distributed.Client(<scheduler address>)`` every worker generates its blocks
locally and, with ``da.to_zarr(x, "s3://bucket/emb.zarr")`` (or a shared filesystem path, or
``da.to_npy_stack``), writes them straight to storage -- nothing is gathered on the client or
the scheduler.  Memory per worker is about (threads per worker) x (block size) plus the write
buffers of the storage layer; pick chunks of 64-256 MiB and, for Zarr, chunks equal to (or
multiples of) the Zarr chunks so each block is one object write.  Throughput scales with the
number of workers until storage bandwidth is the limit.

Each task uses `threads` OpenMP threads (default 1: Dask already runs one task per worker
thread, and nesting both would oversubscribe the cores).  With few, large blocks per worker,
``threads_per_worker=1`` and ``threads=<cores per worker>`` is an alternative.  The values never
depend on either setting.
"""

import itertools

import numpy as np

from fastinit._outofcore import make_plan, resolve_initializer
from fastinit._threads import num_threads
from fastinit._validation import check_shape

__all__ = ["from_initializer"]


def _make_block(plan, bounds, threads):
    out = np.empty(tuple(b - a for a, b in bounds), dtype=plan.dtype)
    if threads is None:
        plan.fill_block(out, bounds)
    else:
        with num_threads(threads):
            plan.fill_block(out, bounds)
    return out


def from_initializer(initializer, shape, *, chunks="auto", dtype="float32", seed=None,
                     threads=1, name=None):
    """A lazy Dask array equal to ``initializer(shape, dtype)``, each block generated apart.

    Args:
        initializer: A fastinit initializer, or anything `fastinit.get` accepts (a name such as
            ``"glorot_uniform"``, a config dict).  Orthogonal cannot be split into independent
            blocks (every element depends on the reflectors of the whole matrix) and raises
            ValueError.
        shape: Shape of the array.
        chunks: Any chunk specification `dask.array` accepts ("auto", an int, a tuple, a
            tuple of tuples, a dict...).  Values never depend on it.
        dtype: float16, bfloat16, float32 or float64 (any numeric dtype for the constant
            initializers and Identity).
        seed: Seed for an initializer given by name or config (ignored by non-random ones).
        threads: OpenMP threads per block task (default 1, see the module docstring); None
            uses fastinit's default on the worker.
        name: Dask key prefix (default: a deterministic token of the initializer, shape,
            dtype and chunks, so equal arrays share keys).

    Returns:
        dask.array.Array

    Each block ``[a0:b0, a1:b1, ...]`` is, in the flat C-order index space, a set of
    contiguous runs: one per index of its leading dimensions, each covering the trailing
    dimensions it spans in full.  A block that spans all trailing dimensions (e.g. row
    chunks) is one run and one fill; otherwise each run is one fill of the stream range
    ``[start, stop)`` -- or, when runs are short and close together (narrow column chunks of a
    narrow matrix), one span covering several rows is generated and sliced.

    Scaling: the graph is embarrassingly parallel (no task depends on another, no arrays in
    it); on a ``distributed`` cluster each worker generates its own blocks, and
    ``da.to_zarr`` / ``da.to_npy_stack`` write them from the workers without gathering.

    Examples:

    >>> import fastinit, fastinit.dask
    >>> x = fastinit.dask.from_initializer("glorot_uniform", (1000, 64), seed=0, chunks=300)
    >>> bool((x.compute() == fastinit.GlorotUniform(seed=0)((1000, 64))).all())
    True
    """
    try:
        import dask.array as da
        from dask.base import tokenize
    except ImportError as e:
        raise ImportError(
            "fastinit.dask needs dask[array]: pip install 'fastinit[dask]'"
        ) from e

    shape = check_shape(shape)
    init = resolve_initializer(initializer, seed)
    plan = make_plan(init, shape, dtype)
    if plan.in_memory:  # pragma: no cover - make_plan raises without allow_in_memory
        raise ValueError("this initializer cannot be generated block by block")
    dt = plan.dtype
    if threads is not None:
        from fastinit._threads import _check_n

        threads = _check_n(threads)
    chunks = da.core.normalize_chunks(chunks, shape, dtype=dt)
    token = tokenize(plan.token(), shape, dt.str, chunks, threads)
    name = f"{name or 'fastinit-' + type(init).__name__.lower()}-{token}"
    plan_key = f"fastinit-plan-{token}"
    offsets = [np.concatenate([[0], np.cumsum(c)]).astype(np.int64).tolist() for c in chunks]
    graph = {plan_key: plan}
    for idx in itertools.product(*(range(len(c)) for c in chunks)):
        bounds = tuple((offsets[d][i], offsets[d][i + 1]) for d, i in enumerate(idx))
        graph[(name,) + idx] = (_make_block, plan_key, bounds, threads)
    meta = np.empty((0,) * len(shape), dtype=dt)
    return da.Array(graph, name, chunks, meta=meta)
