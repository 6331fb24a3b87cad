"""Chunk by chunk: sources written to a file descriptor or into an existing array in bounded
memory, generation overlapped with writing."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ContextManager, TypeVar, cast

import numpy as np
import numpy.typing as npt

from fastinit._regions import Source, flat_pieces
from fastinit._stats import RunningStats
from fastinit._typing import SeedLike
from fastinit._validation import check_positive_int

DEFAULT_CHUNK_BYTES = 64 * 2**20

_A = TypeVar("_A", bound="np.ndarray[Any, Any]")

__all__ = ["write_pieces", "fill_chunked", "progress_bar", "write_all", "ByteCounter",
           "DEFAULT_CHUNK_BYTES"]


class ByteCounter:
    """Bytes written so far (for error messages), and the progress bar they advance."""

    def __init__(self, bar: Any = None) -> None:
        self.done = 0
        self.bar = bar

    def add(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)


def progress_bar(progress: bool, total: int, desc: str) -> ContextManager[Any]:
    if not progress:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    bar: ContextManager[Any] = tqdm(
        total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, file=sys.stderr,
        mininterval=0.5, leave=True, dynamic_ncols=True)
    return bar


def write_all(fd: int, buf: npt.NDArray[Any]) -> None:
    # numpy's stubs give ndarray the buffer protocol (`__buffer__`) on Python >= 3.12 only
    mv = memoryview(buf.reshape(-1).view(np.uint8))  # type: ignore[arg-type,unused-ignore]
    while mv:
        n = os.write(fd, mv)
        mv = mv[n:]


def write_pieces(fd: int, pieces: Sequence[bytes | bytearray | Source], chunk_bytes: int,
                 counter: ByteCounter, stats: bool = False
                 ) -> list[tuple[float, float, float, float] | None]:
    """Write `pieces` -- bytes, and Sources written whole in flat C order -- to `fd`.

    Two buffers of `chunk_bytes`, reused by every Source: the next chunk is generated (on every
    core) while the previous one is written on a writer thread and, with `stats`, summarized
    on a thread of its own (one thread each keeps the chunks in order).  Returns, per piece,
    its (mean, std, min, max) or None (bytes, complex values, or no `stats`).
    """
    sizes = [p.size * p.dtype.itemsize for p in pieces if not isinstance(p, (bytes, bytearray))]
    room = max(8, min(chunk_bytes, max(sizes, default=0)))
    raw = [np.empty(room, np.uint8) for _ in range(2 if sizes else 0)]
    accs: list[RunningStats | None] = []
    k = 0
    pending: _Pending | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="fastinit-writer") as ex, \
            ThreadPoolExecutor(1, thread_name_prefix="fastinit-stats") as sx:
        for piece in pieces:
            if isinstance(piece, (bytes, bytearray)):
                pending = _finish(pending, counter)
                write_all(fd, np.frombuffer(piece, np.uint8))
                counter.add(len(piece))
                accs.append(None)
                continue
            acc = RunningStats() if stats and piece.dtype.kind != "c" else None
            accs.append(acc)
            chunk = max(1, chunk_bytes // piece.dtype.itemsize)
            for start in range(0, piece.size, chunk):
                n = min(chunk, piece.size - start)
                buf = raw[k % 2][:n * piece.dtype.itemsize].view(piece.dtype)
                k += 1
                piece.fill_range(buf, start)
                pending = _finish(pending, counter)
                pending = (ex.submit(write_all, fd, buf),
                           None if acc is None else sx.submit(acc.update, buf), buf.nbytes)
        _finish(pending, counter)
    return [None if a is None else a.result() for a in accs]


#: A chunk being written: (the write, the statistics or None, its bytes).
_Pending = tuple["Future[None]", "Future[RunningStats] | None", int]


def _finish(pending: _Pending | None, counter: ByteCounter) -> _Pending | None:
    """Wait for a chunk's write (and statistics), then count it; returns None, the next
    `pending`.  A Ctrl-C while waiting still waits (the buffer is in use), then is raised."""
    if pending is None:
        return None
    interrupted = None
    for fut in pending[:-1]:
        while fut is not None:
            try:
                fut.result()
                break
            except KeyboardInterrupt as e:  # let the work finish before the buffer is reused
                interrupted = e
    if interrupted is not None:
        raise interrupted
    counter.add(pending[-1])
    return None


# ---- filling existing buffers ----------------------------------------------------------------


#: The C library (ctypes.CDLL), loaded by the first `_release_pages`.
_libc: Any = None


def _release_pages(arr: npt.NDArray[Any]) -> None:
    """Drop the process's mapping of a written chunk of a shared file mapping (np.memmap in
    r+/w+ mode): the data stays in the page cache (and reaches the file), but the pages stop
    counting towards this process's resident memory.  Never used on private or anonymous memory,
    where it would discard the data."""
    global _libc
    if sys.platform != "linux":
        return
    try:
        import ctypes

        libc = _libc
        if libc is None:
            libc = _libc = ctypes.CDLL(None, use_errno=True)
        page = os.sysconf("SC_PAGE_SIZE")
        a = arr.ctypes.data
        b = a + arr.nbytes
        a = -(-a // page) * page
        b = (b // page) * page
        if b > a:
            libc.madvise(ctypes.c_void_p(a), ctypes.c_size_t(b - a), 4)  # MADV_DONTNEED
    except (OSError, AttributeError, ValueError):
        pass


def fill_chunked(out: _A, initializer: Callable[..., Any] | str | dict[str, Any], *,
                 chunk_elems: int | None = None, progress: bool = False, seed: SeedLike = None,
                 allow_in_memory: bool = False) -> _A:
    """Fill an existing writable array with ``initializer(out.shape, out.dtype)``, chunk by chunk.

    `out` may be an `np.memmap` (of a file far larger than RAM) or any writable ndarray; the
    bits are the same as one in-memory call, whatever `chunk_elems`.  Each chunk is a parallel
    fill over every core.  For an np.memmap opened "r+" or "w+", each written chunk is released
    from the process's resident set (the data stays in the page cache and goes to the file), so
    memory stays bounded; call ``out.flush()`` to write it out synchronously.  Arrays that are
    not C-contiguous, aligned and native-endian are filled through a scratch chunk.

    Args:
        out: Writable numpy array (or np.memmap).
        initializer: A fastinit initializer or anything `fastinit.get` accepts.
        chunk_elems: Elements per chunk (default: 64 MiB worth).
        progress: Show a tqdm progress bar on stderr.
        seed: Seed for an initializer given by name (see `save_npy`).
        allow_in_memory: See `save_npy` (Orthogonal).

    Returns:
        `out`.
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray or np.memmap, got {type(out).__name__}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    from fastinit._registry import resolve_initializer
    from fastinit.initializers import source_of

    init = resolve_initializer(initializer, seed)
    dt = out.dtype
    native = dt if dt.isnative else dt.newbyteorder("=")
    source = source_of(init, out.shape, native, allow_in_memory=allow_in_memory)
    if chunk_elems is None:
        chunk_elems = max(1, DEFAULT_CHUNK_BYTES // native.itemsize)
    chunk_elems = check_positive_int("chunk_elems", chunk_elems)
    n = source.size
    direct = out.flags.c_contiguous and out.flags.aligned and dt.isnative
    flat = out.reshape(-1) if direct else None
    release = (isinstance(out, np.memmap) and getattr(out, "_mmap", None) is not None
               and getattr(out, "mode", None) in ("r+", "w+"))
    scratch = None if direct else np.empty(min(chunk_elems, n), dtype=native)
    with progress_bar(progress, n * dt.itemsize, "fill") as bar:
        for start in range(0, n, chunk_elems):
            stop = min(n, start + chunk_elems)
            if direct:
                part = cast("npt.NDArray[Any]", flat)[start:stop]
                source.fill_range(part, start)
                if release:
                    _release_pages(part)
            else:
                buf = cast("npt.NDArray[Any]", scratch)[:stop - start]
                source.fill_range(buf, start)
                for off, idx in flat_pieces(out.shape, start, stop):
                    dst = out[idx]
                    src = buf[off - start:off - start + dst.size]
                    if isinstance(dst, np.ndarray):
                        dst[...] = src.reshape(dst.shape)
                    else:  # a single element: write it in place
                        out[idx] = src[0]
            if bar is not None:
                bar.update((stop - start) * dt.itemsize)
    return out
