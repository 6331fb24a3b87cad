"""Chunk by chunk: sources written to a file descriptor or into an existing array in bounded
memory, generation overlapped with writing."""

from __future__ import annotations

import contextlib
import errno
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
           "DEFAULT_CHUNK_BYTES", "direct_io_wanted", "DIRECT_ALIGN", "DIRECT_MIN_BYTES"]

# ---- direct I/O ------------------------------------------------------------------------------
# Large files are written with O_DIRECT on Linux: the data goes from fastinit's buffers to the
# disk without the kernel copying it into the page cache and writing it back later.  On a
# machine with few cores that copy and the writeback compete with generation for the CPU
# (measured on 2 cores: buffered dd of 2.6 GB takes 0.85 s of system CPU, O_DIRECT 0.12 s).

#: Alignment of direct-I/O buffers, file offsets and lengths: the largest logical block size
#: of common devices (512 or 4096 bytes), so every filesystem that takes O_DIRECT takes these.
DIRECT_ALIGN = 4096

#: Files smaller than this are written through the page cache: for them the page cache's copy
#: costs little, and a file read back soon after it is written is then already in memory.
DIRECT_MIN_BYTES = 64 * 2**20

#: The environment variable that forces direct I/O on ("1") or off ("0"); unset, empty or
#: "auto": direct I/O on Linux for files of DIRECT_MIN_BYTES or more.
DIRECT_IO_ENV = "FASTINIT_DIRECT_IO"


def direct_io_wanted(nbytes: int) -> bool:
    """Whether a file of `nbytes` bytes is to be written with O_DIRECT (see DIRECT_IO_ENV).

    Only where the OS has O_DIRECT and fcntl (Linux); a filesystem may still refuse it, and
    then `write_pieces` writes through the page cache.  Raises ValueError for a value of
    FASTINIT_DIRECT_IO other than 0, 1 or auto.
    """
    env = os.environ.get(DIRECT_IO_ENV, "").strip().lower()
    if env not in ("", "auto", "0", "1"):
        raise ValueError(f"The environment variable {DIRECT_IO_ENV} must be 0, 1 or auto. "
                         f"Received: {DIRECT_IO_ENV}={os.environ[DIRECT_IO_ENV]!r}")
    if not sys.platform.startswith("linux") or not hasattr(os, "O_DIRECT"):
        return False
    if env in ("0", "1"):
        return env == "1"
    return nbytes >= DIRECT_MIN_BYTES


def _set_direct(fd: int, on: bool) -> bool:
    """Turn O_DIRECT on or off for `fd`; False if the filesystem (or OS) refuses."""
    try:
        import fcntl

        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        want = flags | os.O_DIRECT if on else flags & ~os.O_DIRECT
        if want != flags:
            fcntl.fcntl(fd, fcntl.F_SETFL, want)
        return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT) == on
    except (ImportError, AttributeError, OSError):
        return False


def _aligned_bytes(nbytes: int) -> npt.NDArray[np.uint8]:
    """An uninitialized uint8 array of `nbytes` whose data starts on a DIRECT_ALIGN boundary
    (numpy's allocator aligns to 16 bytes; O_DIRECT needs the logical block size)."""
    raw = np.empty(nbytes + DIRECT_ALIGN, np.uint8)
    offset = (-raw.ctypes.data) % DIRECT_ALIGN
    return raw[offset:offset + nbytes]


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
                 counter: ByteCounter, stats: bool = False, direct: bool = False
                 ) -> list[tuple[float, float, float, float] | None]:
    """Write `pieces` -- bytes, and Sources written whole in flat C order -- to `fd`.

    Two buffers of `chunk_bytes`, reused by every Source: the next chunk is generated (on every
    core) while the previous one is written on a writer thread and, with `stats`, summarized
    on a thread of its own (one thread each keeps the chunks in order).  Returns, per piece,
    its (mean, std, min, max) or None (bytes, complex values, or no `stats`).

    With `direct`, `fd` (a new, empty file opened for writing at offset 0) is switched to
    O_DIRECT and written by `_write_pieces_direct`; if the filesystem refuses O_DIRECT, it is
    written as without `direct`.  The bytes in the file are the same either way.
    """
    if direct and _set_direct(fd, True):
        return _write_pieces_direct(fd, pieces, chunk_bytes, counter, stats)
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
                futs: list[Future[Any]] = [ex.submit(write_all, fd, buf)]
                if acc is not None:
                    futs.append(sx.submit(acc.update, buf))
                pending = (futs, buf.nbytes)
        _finish(pending, counter)
    return [None if a is None else a.result() for a in accs]


#: Work on a buffer still in flight: (the futures of its write and statistics, the bytes of
#: data it writes).
_Pending = tuple[Sequence["Future[Any]"], int]


def _finish(pending: _Pending | None, counter: ByteCounter) -> _Pending | None:
    """Wait for a buffer's write (and statistics), then count its bytes; returns None, the
    next `pending`.  A Ctrl-C while waiting still waits (the buffer is in use), then is
    raised."""
    if pending is None:
        return None
    _wait(pending[0])
    counter.add(pending[1])
    return None


def _wait(futs: Sequence[Future[Any]]) -> None:
    """Wait for every future in `futs` (results or errors, in order); a Ctrl-C while waiting
    still waits, then is raised, so that no buffer is reused while a thread reads it."""
    interrupted = None
    for fut in futs:
        while True:
            try:
                fut.result()
                break
            except KeyboardInterrupt as e:  # let the work finish before the buffer is reused
                interrupted = e
    if interrupted is not None:
        raise interrupted


class _DirectWriter:
    """Writes whole staging buffers, in file order, to a file opened with O_DIRECT.

    If a write is refused with EINVAL (a filesystem that took the O_DIRECT flag but wants
    another alignment, or a short write that left the rest of a buffer misaligned), O_DIRECT
    is turned off and the write carries on through the page cache from where it stopped:
    the buffers hold the file's bytes whatever the path they take.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.direct = True
        self.offset = 0   # where the next buffer goes in the file

    def write(self, buf: npt.NDArray[np.uint8]) -> None:
        try:
            write_all(self.fd, buf)
        except OSError as e:
            if e.errno != errno.EINVAL or not self.direct or not _set_direct(self.fd, False):
                raise
            self.direct = False
            done = os.lseek(self.fd, 0, os.SEEK_CUR) - self.offset
            write_all(self.fd, buf[done:])
        self.offset += buf.nbytes


#: The largest scratch buffer of `_write_pieces_direct` (used only for a Source whose items
#: would be misaligned in the staging buffer): bounds the memory of that rare case.
_SCRATCH_BYTES = 4 * 2**20


def _write_pieces_direct(fd: int, pieces: Sequence[bytes | bytearray | Source],
                         chunk_bytes: int, counter: ByteCounter, stats: bool
                         ) -> list[tuple[float, float, float, float] | None]:
    """`write_pieces` to `fd` opened with O_DIRECT: the same bytes, through aligned staging.

    O_DIRECT writes need buffers, file offsets and lengths aligned to the block size, so the
    byte stream is packed in file order into staging buffers of `chunk_bytes` rounded up to
    DIRECT_ALIGN, each covering an aligned range of the file: bytes pieces are copied in, and
    Sources are generated straight into a typed view of the staging buffer at the current
    position (no copy; a chunk ends where the buffer does).  A full buffer goes to the writer
    thread while the other one is filled; the last one is written padded to a multiple of
    DIRECT_ALIGN, and the file is then truncated to its true size.  A Source whose items
    would not be aligned in the buffer (its file offset not a multiple of its dtype's
    alignment: no safetensors or .npy file has one) is generated into a scratch buffer and
    copied.
    """
    total = sum(len(p) if isinstance(p, (bytes, bytearray)) else p.size * p.dtype.itemsize
                for p in pieces)
    size = -(-max(1, min(chunk_bytes, total)) // DIRECT_ALIGN) * DIRECT_ALIGN
    bufs = [_aligned_bytes(size) for _ in range(2 if total > size else 1)]
    # Per buffer: the statistics submitted on its views (to wait for before it is reused) and
    # the write in flight from it.
    stat_futs: list[list[Future[Any]]] = [[] for _ in bufs]
    pending: list[_Pending | None] = [None for _ in bufs]
    order: list[int] = []   # buffers in flight, oldest first (the order they are counted)
    writer = _DirectWriter(fd)
    accs: list[RunningStats | None] = []
    cur = 0
    pos = 0
    scratch: npt.NDArray[np.uint8] | None = None
    scratch_futs: list[Future[Any]] = []

    with ThreadPoolExecutor(1, thread_name_prefix="fastinit-writer") as ex, \
            ThreadPoolExecutor(1, thread_name_prefix="fastinit-stats") as sx:

        def flush() -> None:
            """Hand the current buffer to the writer; make the next one current."""
            nonlocal cur, pos
            buf = bufs[cur]
            end = -(-pos // DIRECT_ALIGN) * DIRECT_ALIGN   # == size unless it is the last
            buf[pos:end] = 0   # padding, cut off by the final ftruncate
            stat_futs[cur].append(ex.submit(writer.write, buf[:end]))
            pending[cur] = (stat_futs[cur], pos)
            stat_futs[cur] = []
            order.append(cur)
            cur = (cur + 1) % len(bufs)
            pos = 0
            if pending[cur] is not None:   # wait for its last write before reusing it
                order.remove(cur)
                pending[cur] = _finish(pending[cur], counter)

        def put(data: npt.NDArray[np.uint8]) -> None:
            """Copy bytes into the staging buffers at the current position."""
            nonlocal pos
            j = 0
            while j < data.size:
                k = min(size - pos, data.size - j)
                bufs[cur][pos:pos + k] = data[j:j + k]
                pos += k
                j += k
                if pos == size:
                    flush()

        for piece in pieces:
            if isinstance(piece, (bytes, bytearray)):
                put(np.frombuffer(piece, np.uint8))
                accs.append(None)
                continue
            acc = RunningStats() if stats and piece.dtype.kind != "c" else None
            accs.append(acc)
            dt = piece.dtype
            start = 0
            while start < piece.size:
                room = (size - pos) // dt.itemsize
                view = None
                if room:
                    n = min(room, piece.size - start)
                    view = bufs[cur][pos:pos + n * dt.itemsize].view(dt)
                    if not view.flags.aligned:
                        view = None
                if view is not None:
                    piece.fill_range(view, start)
                    if acc is not None:
                        stat_futs[cur].append(sx.submit(acc.update, view))
                    pos += view.nbytes
                    if pos == size:
                        flush()
                else:   # misaligned, or an item straddles two buffers: generate, then copy
                    _wait(scratch_futs)   # the statistics of its previous contents
                    if scratch is None or scratch.size < dt.itemsize:
                        scratch = _aligned_bytes(max(dt.itemsize, min(size, _SCRATCH_BYTES)))
                    n = min(scratch.size // dt.itemsize, piece.size - start)
                    chunk = scratch[:n * dt.itemsize].view(dt)
                    piece.fill_range(chunk, start)
                    if acc is not None:
                        scratch_futs = [sx.submit(acc.update, chunk)]
                    put(chunk.view(np.uint8))
                start += n
        if pos:
            flush()
        for k in order:
            _finish(pending[k], counter)
        _wait(scratch_futs)
    if total % DIRECT_ALIGN:
        os.ftruncate(fd, total)
    return [None if a is None else a.result() for a in accs]


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
