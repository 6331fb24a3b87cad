""".npy files of any size, written chunk by chunk in bounded memory, and read back.

`save_npy` writes exactly the bytes of ``np.save(path, initializer(shape, dtype))``: the header
from `numpy.lib.format`, then the source's values in flat C order (fastinit._files does the
atomic, interrupt-safe write).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from fastinit._chunks import DEFAULT_CHUNK_BYTES
from fastinit._files import Target, resolve_target, write_atomically
from fastinit._regions import Source
from fastinit._registry import resolve_initializer
from fastinit._stats import RunningStats
from fastinit._typing import SeedLike, Shape, ShapeLike
from fastinit._validation import check_positive_int
from fastinit.initializers import source_of

__all__ = ["save_npy", "write_npy", "npy_header", "read_npy_header", "npy_stats"]

def save_npy(path: str | os.PathLike[str] | bytes | os.PathLike[bytes], shape: ShapeLike,
             initializer: Callable[..., Any] | str | dict[str, Any],
             dtype: npt.DTypeLike | None = "float32", *, seed: SeedLike = None,
             chunk_bytes: int = DEFAULT_CHUNK_BYTES, progress: bool = False, force: bool = False,
             allow_in_memory: bool = False, fsync: bool = False) -> str:
    """Write ``initializer(shape, dtype)`` to a .npy file, chunk by chunk, in bounded memory.

    The file is a standard .npy (header from `numpy.lib.format`), byte-identical to
    ``np.save(path, initializer(shape, dtype))``, and ``np.load(path, mmap_mode="r")`` reads it
    without loading it.  (bfloat16 is stored as numpy stores it, with descr ``'<V2'``: view it
    as ``ml_dtypes.bfloat16`` after loading.)

    Chunks are generated with every core (each is a parallel fill) into one of two buffers of
    `chunk_bytes` while the other is written, so peak memory is about 2 x `chunk_bytes` plus the
    interpreter (~200 MiB in all by default), whatever the size of the array.

    The data goes to a temporary file in the destination directory, renamed over `path` only
    when complete.  On any failure -- Ctrl-C (KeyboardInterrupt), SIGTERM, disk full, an
    unwritable directory -- the temporary file is removed and the error raised: `path` is
    either the complete new file or untouched.

    What `path` may be: a new file in an existing directory, or (with `force`) a regular file,
    which is replaced and keeps its permission bits (a new file gets 0o666 minus the umask).
    A symlink is written through, like np.save does: the file it leads to (through chains
    and relative links; a dangling link creates its target) is replaced, with the temporary
    file beside it, and the link stays a link.  A directory, FIFO, device or socket is refused
    before any work.  (A file with several hard links is replaced by a new file under this
    name only; its other names keep the old data.)

    Signals: SIGINT is Python's KeyboardInterrupt (or whatever the caller made it).  SIGTERM
    normally kills the process at once, which would leave the temporary file behind; so when
    its disposition is the default (SIG_DFL) and the call runs in the main thread, save_npy
    installs a handler for the duration of the call that raises WriteInterrupted, and restores
    SIG_DFL afterwards.  A disposition the caller chose is kept as it is: with SIGTERM ignored
    (SIG_IGN) the write carries on to the end; a handler of the caller's is called as usual
    (if it raises, the write is cleaned up and its exception propagates).

    Args:
        path: Destination file name (str or path-like).  Conventionally ends in ``.npy``.
        shape: Shape of the array.
        initializer: A fastinit initializer, or anything `fastinit.get` accepts (a name such as
            ``"glorot_uniform"``, a config dict).
        dtype: float16, bfloat16, float32 or float64 (any numeric dtype for Constant, Zeros,
            Ones and Identity).
        seed: Seed for an initializer given by name or config (ignored by the non-random
            ones); not allowed together with an instance.
        chunk_bytes: Bytes per chunk (each of the two buffers).
        progress: Show a tqdm progress bar on stderr.
        force: Overwrite an existing file.
        allow_in_memory: Orthogonal (or any initializer without an element stream) cannot be
            chunked -- every element depends on the Householder reflectors of the whole
            matrix -- so it raises ValueError unless this is True; then the result is computed
            in memory first and written out (memory cost: the output plus a small workspace,
            and a float32 work matrix for float16/bfloat16).
        fsync: fsync the file (and directory) before returning, for durability across a crash.

    Returns:
        The path written, as a str.

    Raises:
        FileExistsError: `path` exists and `force` is False.
        IsADirectoryError: `path` is a directory.
        OSError: the file cannot be written (missing or unwritable directory, disk full, a
            FIFO, device or socket...).
        ValueError, TypeError: bad shape, dtype, initializer, or a non-chunkable initializer.
        WriteInterrupted: (a KeyboardInterrupt) on SIGINT or SIGTERM.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    chunk_bytes = check_positive_int("chunk_bytes", chunk_bytes)
    init = resolve_initializer(initializer, seed)
    # Arguments first, then the destination, and only then the work (an in-memory source
    # computes on first use).
    source = source_of(init, shape, dtype, allow_in_memory=allow_in_memory)
    target = resolve_target(path, force)
    write_npy(target, source, chunk_bytes=chunk_bytes, progress=progress, fsync=fsync)
    return path


def write_npy(target: Target, source: Source, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
              progress: bool = False, progress_min_bytes: int = 0, fsync: bool = False,
              stats: bool = False) -> tuple[float, float, float, float] | None:
    """Write `source` as a .npy file to the checked `target` (fastinit._files.Target).

    The writer behind `save_npy` and the CLI, which check their arguments and the target
    first.  With `stats`, returns the values' (mean, std, min, max) computed from the chunks
    as they are written (the numbers `npy_stats` reads back from the file, up to rounding, at
    almost no cost); else, or for complex values, None.
    """
    header = npy_header(source.shape, source.dtype)
    return write_atomically(target, [header, source], chunk_bytes=chunk_bytes,
                            progress=progress, progress_min_bytes=progress_min_bytes,
                            fsync=fsync, stats=stats)[1]


def npy_header(shape: Shape, dtype: np.dtype[Any]) -> bytes:
    """The .npy header bytes np.save would write for an array of this shape and dtype."""
    from numpy.lib import format as npformat

    d = {"descr": npformat.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    try:
        npformat.write_array_header_1_0(buf, d)
    except ValueError:
        buf = io.BytesIO()
        npformat.write_array_header_2_0(buf, d)
    return buf.getvalue()


# ---- reading back in constant memory ----------------------------------------------------------


def read_npy_header(path: str | os.PathLike[str]
                    ) -> tuple[Shape, np.dtype[Any], bool, int]:
    """(shape, dtype, fortran_order, data_offset) of a .npy file, reading only its header."""
    from numpy.lib import format as npformat

    with open(path, "rb") as f:
        try:
            version = npformat.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = npformat.read_array_header_2_0(f)
            else:
                # numpy's private reader of format 3.0 headers, absent from its stubs
                shape, fortran, dtype = npformat._read_array_header(  # type: ignore[attr-defined]
                    f, version)
        except (ValueError, EOFError) as e:
            raise ValueError(f"{path} is not a valid .npy file: {e}") from None
        return shape, dtype, fortran, f.tell()


def npy_stats(path: str | os.PathLike[str], dtype: npt.DTypeLike | None = None, *,
              chunk_bytes: int = 16 * 2**20) -> tuple[float, float, float, float]:
    """(mean, std, min, max) of the values of a .npy file, reading it chunk by chunk.

    Constant memory (a `chunk_bytes` buffer).  `dtype` overrides the header's dtype (for
    bfloat16, stored as raw 2-byte void).  Computed as `fastinit create` computes them while
    writing (`RunningStats`: float64, blocks merged with Chan's parallel formula).
    """
    shape, file_dt, _, offset = read_npy_header(path)
    dt = np.dtype(dtype) if dtype is not None else file_dt
    if dt.itemsize != file_dt.itemsize:
        raise ValueError(f"dtype {dt} does not match the file's {file_dt}")
    n_total = math.prod(shape)
    chunk = max(1, chunk_bytes // dt.itemsize)
    buf = np.empty(min(chunk, n_total), dtype=dt)
    stats = RunningStats()
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        remaining = n_total
        while remaining:
            k = min(chunk, remaining)
            view = buf[:k]
            # numpy's stubs give ndarray `__buffer__` on Python >= 3.12 only
            mv = memoryview(view.view(np.uint8))  # type: ignore[arg-type,unused-ignore]
            got = 0
            while got < mv.nbytes:
                r = f.readinto(mv[got:])
                if not r:
                    raise ValueError(f"{path} is truncated")
                got += r
            stats.update(view)
            remaining -= k
    return stats.result()
