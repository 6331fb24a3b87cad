"""Out-of-core generation: arrays larger than RAM, written chunk by chunk.

Every random initializer draws element i of its output from a counter-based stream as a pure
function of (seed, i), so any flat range [a, b) of the C-order output can be generated on its
own, with the same bits as the whole array in memory.  This module builds on that:

* `save_npy` writes a standard .npy file (header from `numpy.lib.format`, byte-identical to
  ``np.save(path, initializer(shape, dtype))``) through a fixed pair of buffers, so peak memory
  is about 2 x `chunk_bytes` plus the interpreter, whatever the array size.
* `fill_chunked` fills an existing writable array (an `np.memmap`, or any ndarray) chunk by
  chunk.

Both go through a *plan* (`make_plan`): an object that writes any flat range of the output into
a buffer (`plan.fill(buf, start)`) or any hyper-rectangular block (`plan.fill_block`), which the
Dask backend (`fastinit.dask`) shares.
"""

import contextlib
import errno
import io
import math
import numbers
import os
import secrets
import shutil
import signal
import stat
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastinit._stream import STREAM_VERSION
from fastinit._validation import check_shape, resolve_dtype

DEFAULT_CHUNK_BYTES = 64 * 2**20
TEMP_SUFFIX = ".fastinit-tmp"

__all__ = ["save_npy", "fill_chunked", "make_plan", "resolve_initializer", "WriteInterrupted",
           "DEFAULT_CHUNK_BYTES"]


class WriteInterrupted(KeyboardInterrupt):
    """A write stopped by SIGINT (Ctrl-C) or SIGTERM; the partial file has been removed.

    A KeyboardInterrupt subclass, so `except Exception` does not swallow it.  `signum` is the
    signal number, a plain int (``signal.Signals(e.signum).name`` gives its name).
    """

    def __init__(self, message, signum=signal.SIGINT):
        super().__init__(message)
        # A plain int, not a signal.Signals member: f"{signum}" formats an IntEnum as
        # "Signals.SIGINT" on Python 3.10 but as "2" on 3.11+.
        self.signum = int(signum)


# ---- resolving the initializer ----------------------------------------------------------------


def resolve_initializer(initializer, seed=None):
    """An initializer instance from an instance or anything `fastinit.get` accepts.

    `seed`, when not None, becomes the seed of a random initializer given by name or config
    (it is ignored by the non-random ones: Constant, Zeros, Ones, Identity).  Giving both an
    instance and a seed is an error: seed the instance instead.
    """
    from fastinit._registry import get
    from fastinit.initializers import Initializer, RandomInitializer

    if initializer is None:
        raise TypeError("Argument `initializer` must be an initializer or a name, not None")
    by_name = isinstance(initializer, (str, dict))
    if isinstance(initializer, str):
        initializer = {"class_name": initializer, "config": {}}
    if by_name and seed is not None:
        initializer = dict(initializer)
        cfg = dict(initializer.get("config") or {})
        from fastinit.initializers import ALL_OBJECTS_DICT

        cls = ALL_OBJECTS_DICT.get(initializer.get("class_name"))
        if isinstance(cls, type) and issubclass(cls, RandomInitializer):
            cfg["seed"] = seed
        initializer["config"] = cfg
    elif seed is not None:
        raise ValueError(
            "Argument `seed` only applies when `initializer` is a name or a config dict; "
            f"seed the instance instead. Received: initializer={initializer!r}, seed={seed!r}"
        )
    obj = get(initializer)
    if not callable(obj):
        raise TypeError(f"Could not interpret initializer identifier: {initializer!r}")
    if not isinstance(obj, Initializer) and by_name:
        raise TypeError(f"Could not interpret initializer identifier: {initializer!r}")
    return obj


# ---- plans: write any flat range or block of the output ---------------------------------------


def _prod(dims):
    return math.prod(dims) if dims else 1


def flat_pieces(shape, a, b):
    """Split the C-order flat range [a, b) of an array of `shape` into index expressions.

    Yields (flat_start, index) pairs, in order, such that ``arr[index]`` is the contiguous run of
    flat elements starting at flat_start; their concatenation is exactly [a, b).  At most about
    2 * ndim pieces.
    """
    shape = tuple(shape)

    def rec(dim, base, lo, hi, prefix):
        if lo >= hi:
            return
        if dim == len(shape):
            yield base, prefix
            return
        inner = _prod(shape[dim + 1:])
        i0, r0 = divmod(lo, inner)
        i1, r1 = divmod(hi, inner)
        if r0:
            if i0 == i1:
                yield from rec(dim + 1, base + i0 * inner, r0, r1, prefix + (i0,))
                return
            yield from rec(dim + 1, base + i0 * inner, r0, inner, prefix + (i0,))
            i0 += 1
        if i1 > i0:
            yield base + i0 * inner, prefix + (slice(i0, i1),)
        if r1:
            yield from rec(dim + 1, base + i1 * inner, 0, r1, prefix + (i1,))

    yield from rec(0, 0, a, b, ())


# Block generation cost model (measured on the kernels): one fill call costs about as much as
# generating ~1000 elements; so rows of a block that skip fewer than this many elements between
# them are generated as one span and sliced, longer gaps get one fill call per run.
_GATHER_MAX_GAP = 1024
_SCRATCH_ELEMS = 1 << 22


class Plan:
    """Writes any part of ``initializer(shape, dtype)``.  Subclasses implement `fill`."""

    #: True when the plan holds the whole result in memory (allow_in_memory).
    in_memory = False

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype
        self.size = _prod(shape)

    def fill(self, buf, start):
        """Write flat elements [start, start + buf.size) into `buf` (1-D, C-contiguous)."""
        raise NotImplementedError

    def token(self):
        """A deterministic description of the values (for Dask task names)."""
        raise NotImplementedError

    def fill_block(self, out, bounds):
        """Fill the C-contiguous array `out` with the block ``result[a0:b0, a1:b1, ...]``.

        `bounds` is a tuple of (start, stop) per dimension.  A block is generally not one
        contiguous range of the flat index space: it is split into contiguous runs (one per
        index of the leading dimensions, each run covering the trailing dimensions the block
        spans in full), and each run is one `fill` call -- or, when the runs are short and
        close together, a whole span covering several runs is generated into a scratch buffer
        and sliced (cheaper than many tiny calls).
        """
        shape = self.shape
        nd = len(shape)
        if out.size == 0:
            return out
        if nd == 0:
            self.fill(out.reshape(1), 0)
            return out
        # j: the first dimension after which the block spans every dimension in full.
        j = nd - 1
        while j > 0 and bounds[j] == (0, shape[j]):
            j -= 1
        inner = _prod(shape[j + 1:])
        a_j, b_j = bounds[j]
        run = (b_j - a_j) * inner
        if j == 0:
            self.fill(out.reshape(-1), a_j * inner)
            return out
        # Strides (in elements) of the leading dimensions 0..j-1.
        strides = [_prod(shape[d + 1:]) for d in range(j)]
        lead = [b - a for a, b in bounds[:j]]
        base = sum(a * s for (a, _), s in zip(bounds[:j], strides)) + a_j * inner
        row_stride = strides[j - 1]          # distance between consecutive runs along dim j-1
        gap = row_stride - run
        if gap <= _GATHER_MAX_GAP:
            # Generate whole spans of dim j-1 rows into scratch, then take the runs out of them.
            n_rows = lead[j - 1]
            outer_lead = lead[:j - 1]
            out3 = out.reshape(_prod(outer_lead), n_rows, run)
            rows_per = max(1, _SCRATCH_ELEMS // row_stride)
            scratch = np.empty(min(n_rows, rows_per) * row_stride, dtype=self.dtype)
            for o, ostart in enumerate(self._outer_starts(outer_lead, strides[:j - 1], base)):
                for k0 in range(0, n_rows, rows_per):
                    k1 = min(n_rows, k0 + rows_per)
                    span = (k1 - k0 - 1) * row_stride + run
                    buf = scratch[:span]
                    self.fill(buf, ostart + k0 * row_stride)
                    full = scratch[:(k1 - k0) * row_stride].reshape(k1 - k0, row_stride)
                    out3[o, k0:k1] = full[:, :run]
        else:
            out2 = out.reshape(_prod(lead), run)
            for r, start in enumerate(self._outer_starts(lead, strides, base)):
                self.fill(out2[r], start)
        return out

    @staticmethod
    def _outer_starts(lead, strides, base):
        """Flat starts of the runs, in C order over the leading block indices."""
        if not lead:
            return [base]
        grids = np.ix_(*[np.arange(n, dtype=np.int64) * s for n, s in zip(lead, strides)])
        total = np.zeros(tuple(lead), dtype=np.int64)
        for g in grids:
            total = total + g
        return (total.reshape(-1) + base).tolist()


class StreamPlan(Plan):
    def __init__(self, stream, shape, dtype):
        super().__init__(shape, dtype)
        self.stream = stream

    def fill(self, buf, start):
        self.stream.fill(buf, start)
        return buf

    def token(self):
        s = self.stream
        return ("stream", STREAM_VERSION, s.distribution, sorted(s.params.items()), s.seed)


class ScalarConstantPlan(Plan):
    def __init__(self, value, shape, dtype):
        super().__init__(shape, dtype)
        self.value = value

    def fill(self, buf, start):
        from fastinit.initializers import _constant_fill

        return _constant_fill(buf, self.value)

    def token(self):
        return ("constant", repr(self.value))


class ArrayConstantPlan(Plan):
    def __init__(self, value, shape, dtype):
        super().__init__(shape, dtype)
        try:
            np.broadcast_to(value, shape)
        except ValueError:
            raise ValueError(
                f"Argument `value` of shape {value.shape} cannot be broadcast to shape {shape}."
            ) from None
        self.value = value.astype(dtype)

    def _src(self):
        return np.broadcast_to(self.value, self.shape)

    def fill(self, buf, start):
        src = self._src()
        for off, idx in flat_pieces(self.shape, start, start + buf.size):
            piece = src[idx]
            buf[off - start:off - start + piece.size] = piece.reshape(-1)
        return buf

    def fill_block(self, out, bounds):
        out[...] = self._src()[tuple(slice(a, b) for a, b in bounds)]
        return out

    def token(self):
        return ("constant-array", self.value.dtype.str, self.value.shape, self.value.tobytes())


class IdentityPlan(Plan):
    def __init__(self, gain, shape, dtype):
        super().__init__(shape, dtype)
        self.gain = gain
        self.diag = np.asarray(gain).astype(dtype)

    def fill(self, buf, start):
        from fastinit.initializers import _constant_fill

        _constant_fill(buf, 0)
        rows, cols = self.shape
        step = cols + 1
        m = min(rows, cols)
        stop = start + buf.size
        k0 = -(-start // step)
        k1 = min(m, -(-stop // step))
        if k1 > k0:
            first = k0 * step - start
            buf[first:first + (k1 - k0 - 1) * step + 1:step] = self.diag
        return buf

    def fill_block(self, out, bounds):
        from fastinit.initializers import _constant_fill

        _constant_fill(out, 0)
        (r0, r1), (c0, c1) = bounds
        k = np.arange(max(r0, c0), min(r1, c1))
        out[k - r0, k - c0] = self.diag
        return out

    def token(self):
        return ("identity", self.gain)


class ArrayPlan(Plan):
    """The whole result, computed in memory (allow_in_memory=True)."""

    in_memory = True

    def __init__(self, array):
        super().__init__(array.shape, array.dtype)
        self.array = np.ascontiguousarray(array)

    def fill(self, buf, start):
        buf[...] = self.array.reshape(-1)[start:start + buf.size]
        return buf

    def fill_block(self, out, bounds):
        out[...] = self.array[tuple(slice(a, b) for a, b in bounds)]
        return out

    def token(self):
        raise ValueError("an in-memory result cannot be distributed")


def _fmt_bytes(n):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


class _Deferred:
    """An in-memory plan whose (expensive) computation has not run yet.

    `_make_plan(..., defer=True)` validates everything and returns this instead of computing
    Orthogonal (or another callable) at once, so that a writer can check its destination
    first.  `dtype` is the output dtype when known in advance (Orthogonal), else None.
    """

    in_memory = True

    def __init__(self, initializer, shape, dtype, dt, name):
        self.initializer = initializer
        self.shape = shape
        self.size = _prod(shape)
        self.dtype_arg = dtype
        self.dtype = dt
        self.name = name

    def compute(self):
        arr = np.asarray(self.initializer(self.shape, self.dtype_arg))
        if arr.shape != self.shape:
            raise ValueError(
                f"Initializer {self.name} returned shape {arr.shape}, expected {self.shape}")
        return ArrayPlan(arr)


# numpy has no public constant for its dimension limit (NPY_MAXDIMS): 64 since numpy 2.0.
_MAX_NDIM = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32


def make_plan(initializer, shape, dtype="float32", *, allow_in_memory=False):
    """The plan that writes ``initializer(shape, dtype)`` piece by piece.

    Random initializers (all but Orthogonal) chunk through their stream, Constant/Zeros/Ones
    trivially, Identity by diagonal position.  Orthogonal and other callables cannot be
    chunked: ValueError, unless `allow_in_memory=True`, in which case the whole result is
    computed in memory first (memory cost: the output plus the initializer's workspace).
    """
    return _make_plan(initializer, shape, dtype, allow_in_memory=allow_in_memory)


def _make_plan(initializer, shape, dtype="float32", *, allow_in_memory=False, defer=False):
    """`make_plan`; with `defer`, an in-memory result comes back as a `_Deferred`."""
    from fastinit.initializers import (
        Constant, Identity, Ones, Orthogonal, RandomInitializer, Zeros, check_identity_shape,
        check_orthogonal_shape,
    )

    shape = check_shape(shape)
    if len(shape) > _MAX_NDIM:
        # No array, so no np.save, could hold it; np.load would refuse its header.
        raise ValueError(f"Argument `shape` has {len(shape)} dimensions; numpy arrays have at "
                         f"most {_MAX_NDIM}. Received: shape={shape!r}")
    cls = type(initializer)
    if isinstance(initializer, RandomInitializer) and not isinstance(initializer, Orthogonal) \
            and cls.__call__ is RandomInitializer.__call__:
        dt = resolve_dtype(dtype)
        try:
            stream = initializer.stream(shape, dt)
        except NotImplementedError:
            stream = None
        if stream is not None:
            return StreamPlan(stream, shape, dt)
    if cls in (Zeros, Ones):
        return ScalarConstantPlan(0 if cls is Zeros else 1, shape,
                                  resolve_dtype(dtype, kind="any"))
    if cls is Constant:
        dt = resolve_dtype(dtype, kind="any")
        if isinstance(initializer.value, np.ndarray):
            return ArrayConstantPlan(initializer.value, shape, dt)
        return ScalarConstantPlan(initializer.value, shape, dt)
    if cls is Identity:
        dt = resolve_dtype(dtype, kind="any")
        check_identity_shape(shape)
        return IdentityPlan(initializer.gain, shape, dt)
    name = getattr(cls, "__name__", repr(initializer))
    dt = None
    if isinstance(initializer, Orthogonal):
        dt = resolve_dtype(dtype)
        check_orthogonal_shape(shape)
        if not allow_in_memory:
            rows, cols = _prod(shape[:-1]), shape[-1]
            out_bytes = _prod(shape) * dt.itemsize
            # float16/bfloat16 are computed in a float32 matrix first (fastinit._orthogonal)
            est = out_bytes + (rows * cols * 4 if dt.itemsize == 2 else 0)
            raise ValueError(
                f"Orthogonal cannot be generated chunk by chunk: every element depends on the "
                f"Householder reflectors of the whole {rows} x {cols} matrix, so it must be "
                f"computed in memory. Pass allow_in_memory=True to accept that (memory cost: "
                f"about {_fmt_bytes(est)} for shape {shape}, the output plus a small workspace"
                f"{' and a float32 work matrix' if dt.itemsize == 2 else ''})."
            )
    elif not allow_in_memory:
        raise ValueError(
            f"Initializer {name} has no element stream, so it cannot be generated chunk by "
            "chunk. Pass allow_in_memory=True to compute it in memory first (memory cost: the "
            "output plus the initializer's workspace)."
        )
    deferred = _Deferred(initializer, shape, dtype, dt, name)
    return deferred if defer else deferred.compute()


# ---- writing ---------------------------------------------------------------------------------


def _check_positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Argument `{name}` must be a positive int. Received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"Argument `{name}` must be >= 1. Received: {name}={value!r}")
    return int(value)


def _npy_header(shape, dtype):
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


def _progress_bar(progress, total, desc):
    if not progress:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                file=sys.stderr, mininterval=0.5, leave=True, dynamic_ncols=True)


def _write_all(fd, buf):
    mv = memoryview(buf.reshape(-1).view(np.uint8))
    while mv:
        n = os.write(fd, mv)
        mv = mv[n:]


@contextlib.contextmanager
def _sigterm_raises(path):
    """While active, a SIGTERM that would kill the process raises WriteInterrupted instead.

    Only the default disposition (SIG_DFL) is replaced, and only in the main thread (the one
    where Python runs signal handlers).  Any disposition the caller chose is left in place,
    untouched: SIG_IGN stays ignored (the write goes on), and a handler the caller installed
    (in Python or C) keeps running -- if it raises, the write is cleaned up like after any
    other exception.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        old = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):
        old = None
    if old is not signal.SIG_DFL:
        yield
        return

    def handler(signum, frame):
        raise WriteInterrupted(f"terminated by SIGTERM while writing {path}", signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _block_signals():
    """Block SIGINT/SIGTERM delivery (main thread only); returns the mask to restore or None."""
    if threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _restore_signals(mask):
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


# ---- the destination -------------------------------------------------------------------------

_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class _Target:
    """Where a .npy file goes, checked by `_resolve_target`.

    `path` is the name the caller gave (for messages); `final` the absolute name the rename
    replaces (`path` itself, or the file its symlinks lead to) and `dirname` its directory,
    where the temporary file goes; `st` the `os.stat` of the regular file being replaced, or
    None for a new file.
    """

    def __init__(self, path, final, st):
        self.path = path
        self.final = final
        self.dirname = os.path.dirname(final)
        self.st = st


def _file_kind(mode):
    for test, kind in _NOT_REGULAR:
        if test(mode):
            return kind
    return "a special file"


def _resolve_target(path, force, *, force_hint="pass force=True to overwrite it"):
    """Check that `path` can be written, before any work starts; return a `_Target`.

    Like np.save (which opens `path`), a write goes *through* symlinks -- chains of them and
    relative ones too, and a dangling link creates the file it points to -- because renaming
    over the link itself would turn it into a regular file and leave its target stale.  A
    regular file is replaced; anything else (a directory, FIFO, device, socket) is refused, as
    replacing /dev/null or a pipe someone reads is never what the caller meant.
    """
    if path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep)):
        raise IsADirectoryError(errno.EISDIR, f"Cannot write {path}: it names a directory")
    final = os.path.realpath(path)
    via = f" (a symlink to {final})" if os.path.islink(path) else ""
    try:
        st = os.lstat(final)
    except (FileNotFoundError, NotADirectoryError):
        st = None  # a new file; its directory is checked below
    except OSError as e:
        raise OSError(e.errno, f"Cannot write {path}{via}: {e.strerror}") from None
    if st is not None and stat.S_ISLNK(st.st_mode):  # realpath stops at a loop
        raise OSError(errno.ELOOP, f"Cannot write {path}: its symbolic links form a loop")
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = _file_kind(st.st_mode)
        cls = IsADirectoryError if stat.S_ISDIR(st.st_mode) else OSError
        err = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
        raise cls(err, f"Cannot write {path}{via}: it is {kind}, not a regular file")
    if os.path.lexists(path) and not force:
        raise FileExistsError(errno.EEXIST, f"{path} already exists; {force_hint}")
    target = _Target(path, final, st)
    if st is None and not os.path.isdir(target.dirname):
        if os.path.lexists(target.dirname):
            raise NotADirectoryError(
                errno.ENOTDIR, f"Cannot write {path}{via}: {target.dirname} is not a directory")
        raise FileNotFoundError(
            errno.ENOENT, f"Cannot write {path}{via}: directory {target.dirname} does not exist")
    return target


def _temp_path(dirname, name):
    """A fresh temporary name beside `name` in `dirname`, within the filesystem's NAME_MAX.

    The random token and suffix take 27 bytes; the rest is as much of `name` as fits (cut
    on a character boundary of its UTF-8 bytes), so any legal name works, even 255 bytes long.
    """
    try:
        name_max = os.pathconf(dirname, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no such limit
        name_max = None
    if not name_max or name_max < 0:
        name_max = 255
    tail = f".{secrets.token_hex(6)}{TEMP_SUFFIX}"
    raw = os.fsencode(name)
    room = max(0, name_max - 1 - len(tail))  # 1: the leading dot that hides the file
    if len(raw) > room:
        cut = room
        while cut > 0 and (raw[cut] & 0xC0) == 0x80:  # not inside a multi-byte character
            cut -= 1
        raw = raw[:cut]
    return os.path.join(dirname, "." + os.fsdecode(raw) + tail)


def _check_space(target, nbytes):
    try:
        free = shutil.disk_usage(target.dirname).free
    except OSError:
        return
    if nbytes > free:
        raise OSError(errno.ENOSPC,
                      f"Not enough disk space for {target.path}: it needs "
                      f"{nbytes} bytes ({_fmt_bytes(nbytes)}), "
                      f"{free} bytes ({_fmt_bytes(free)}) are free in {target.dirname}")


def _keep_owner_and_mode(fd, st):
    """Give the new file the permission bits of the file it replaces (and its owner and group,
    where the process may set them: a root user overwriting someone's file)."""
    if hasattr(os, "fchown"):
        own = os.fstat(fd)
        if (own.st_uid, own.st_gid) != (st.st_uid, st.st_gid):
            with contextlib.suppress(OSError):
                os.fchown(fd, st.st_uid, st.st_gid)
    if hasattr(os, "fchmod"):
        # After fchown, which may clear the set-user/group-ID bits.
        os.fchmod(fd, stat.S_IMODE(st.st_mode))


def save_npy(path, shape, initializer, dtype="float32", *, seed=None,
             chunk_bytes=DEFAULT_CHUNK_BYTES, progress=False, force=False,
             allow_in_memory=False, fsync=False):
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
    chunk_bytes = _check_positive_int("chunk_bytes", chunk_bytes)
    shape = check_shape(shape)
    init = resolve_initializer(initializer, seed)
    # Arguments first, then the destination, and only then the work (an in-memory Orthogonal).
    plan = _make_plan(init, shape, dtype, allow_in_memory=allow_in_memory, defer=True)
    target = _resolve_target(path, force)
    _write_npy(target, plan, chunk_bytes=chunk_bytes, progress=progress, fsync=fsync)
    return path


def _write_npy(target, plan, *, chunk_bytes, progress=False, progress_min_bytes=0,
               fsync=False, stats=False):
    """Write `plan` (a Plan, or a `_Deferred` computed here) as a .npy file to `target`.

    The writer behind `save_npy` and the CLI, which check their arguments and the target
    first.  A progress bar shows when `progress` and the data has `progress_min_bytes` or
    more.  With `stats`, the values' (mean, std, min, max) are computed from the chunks as
    they are written (see `_RunningStats`; the same numbers `npy_stats` reads back from the
    file, up to rounding, at almost no cost).

    Returns (the plan written -- the computed one for a `_Deferred` --, the statistics or
    None, also for complex values).
    """
    if isinstance(plan, _Deferred):
        if plan.dtype is not None:  # check the space before the computation, when we can
            _check_space(target, len(_npy_header(plan.shape, plan.dtype))
                         + plan.size * plan.dtype.itemsize)
        plan = plan.compute()
    dt = plan.dtype
    header = _npy_header(plan.shape, dt)
    nbytes = plan.size * dt.itemsize
    _check_space(target, len(header) + nbytes)
    tmp = _temp_path(target.dirname, os.path.basename(target.final))
    chunk = max(1, chunk_bytes // dt.itemsize)
    progress = progress and nbytes >= progress_min_bytes
    acc = _RunningStats() if stats and dt.kind != "c" else None  # no std of complex values
    with _sigterm_raises(target.path):
        _write_npy_atomically(target, tmp, header, plan, chunk, nbytes, progress, fsync, acc)
    if fsync:
        with contextlib.suppress(OSError):
            dfd = os.open(target.dirname, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    return plan, (None if acc is None else acc.result())


def _write_npy_atomically(target, tmp, header, plan, chunk, nbytes, progress, fsync, stats):
    """Write header + plan to `tmp`, then rename it over `target`; on any exception remove
    `tmp`.  Each chunk also goes through `stats.update` unless `stats` is None."""
    path = target.path
    dt = plan.dtype
    fd = -1
    done = 0
    # Signals stay blocked from before the temp file exists until the `try` that removes it
    # is active, so no interrupt can leave it behind.
    mask = _block_signals()
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                         0o666)
        finally:
            _restore_signals(mask)
        _write_all(fd, np.frombuffer(header, dtype=np.uint8))
        if plan.size:
            with _progress_bar(progress, nbytes, os.path.basename(path)) as bar, \
                    ThreadPoolExecutor(1, thread_name_prefix="fastinit-writer") as ex, \
                    ThreadPoolExecutor(1, thread_name_prefix="fastinit-stats") as sx:
                # Two buffers: the next chunk is generated (on every core) while the previous
                # one is written and, on a thread of its own, summarized into `stats`.  One
                # thread each keeps the chunks in order.
                bufs = [np.empty(min(chunk, plan.size), dtype=dt) for _ in range(2)]
                pending = None
                for i, start in enumerate(range(0, plan.size, chunk)):
                    buf = bufs[i % 2][:min(chunk, plan.size - start)]
                    plan.fill(buf, start)
                    if pending is not None:
                        _wait(pending)
                        done += pending[-1]
                        if bar is not None:
                            bar.update(pending[-1])
                    pending = (ex.submit(_write_all, fd, buf),
                               None if stats is None else sx.submit(stats.update, buf),
                               buf.nbytes)
                _wait(pending)
                done += pending[-1]
                if bar is not None:
                    bar.update(pending[-1])
        if target.st is not None:
            _keep_owner_and_mode(fd, target.st)
        if fsync:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target.final)
    except BaseException as exc:
        mask = _block_signals()
        try:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        finally:
            _restore_signals(mask)
        if isinstance(exc, WriteInterrupted):
            raise WriteInterrupted(f"{exc}; the partial file was removed", exc.signum) from None
        if isinstance(exc, KeyboardInterrupt):
            raise WriteInterrupted(
                f"interrupted while writing {path}; the partial file was removed") from None
        if isinstance(exc, OSError):
            what = ("No space left on device" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                    else exc.strerror or str(exc))
            if not os.path.lexists(tmp) and done == 0 and fd < 0 and exc.filename == tmp:
                raise OSError(exc.errno, f"Cannot write {path}: {what}") from None
            raise OSError(
                exc.errno,
                f"Could not write {path}: {what} (after {done} of {nbytes} data bytes); "
                "the partial file was removed",
            ) from exc
        raise


def _wait(pending):
    """Wait for a chunk's write (and statistics); a Ctrl-C while waiting still waits (the
    buffer is in use), then is raised."""
    interrupted = None
    for fut in pending[:-1]:
        while fut is not None:
            try:
                fut.result()
                break
            except KeyboardInterrupt as e:  # let the work finish before the buffer is freed
                interrupted = e
    if interrupted is not None:
        raise interrupted


# ---- filling existing buffers ----------------------------------------------------------------


def _release_pages(arr):
    """Drop the process's mapping of a written chunk of a shared file mapping (np.memmap in
    r+/w+ mode): the data stays in the page cache (and reaches the file), but the pages stop
    counting towards this process's resident memory.  Never used on private or anonymous memory,
    where it would discard the data."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        libc = _release_pages.libc
        if libc is None:
            libc = _release_pages.libc = ctypes.CDLL(None, use_errno=True)
        page = os.sysconf("SC_PAGE_SIZE")
        a = arr.ctypes.data
        b = a + arr.nbytes
        a = -(-a // page) * page
        b = (b // page) * page
        if b > a:
            libc.madvise(ctypes.c_void_p(a), ctypes.c_size_t(b - a), 4)  # MADV_DONTNEED
    except (OSError, AttributeError, ValueError):
        pass


_release_pages.libc = None


def fill_chunked(out, initializer, *, chunk_elems=None, progress=False, seed=None,
                 allow_in_memory=False):
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
    init = resolve_initializer(initializer, seed)
    dt = out.dtype
    native = dt if dt.isnative else dt.newbyteorder("=")
    plan = make_plan(init, out.shape, native, allow_in_memory=allow_in_memory)
    if chunk_elems is None:
        chunk_elems = max(1, DEFAULT_CHUNK_BYTES // native.itemsize)
    chunk_elems = _check_positive_int("chunk_elems", chunk_elems)
    n = plan.size
    direct = out.flags.c_contiguous and out.flags.aligned and dt.isnative
    flat = out.reshape(-1) if direct else None
    release = (isinstance(out, np.memmap) and getattr(out, "_mmap", None) is not None
               and getattr(out, "mode", None) in ("r+", "w+"))
    scratch = None if direct else np.empty(min(chunk_elems, n), dtype=native)
    with _progress_bar(progress, n * dt.itemsize, "fill") as bar:
        for start in range(0, n, chunk_elems):
            stop = min(n, start + chunk_elems)
            if direct:
                part = flat[start:stop]
                plan.fill(part, start)
                if release:
                    _release_pages(part)
            else:
                buf = scratch[:stop - start]
                plan.fill(buf, start)
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


# ---- reading back in constant memory ----------------------------------------------------------


def read_npy_header(path):
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
                shape, fortran, dtype = npformat._read_array_header(f, version)
        except (ValueError, EOFError) as e:
            raise ValueError(f"{path} is not a valid .npy file: {e}") from None
        return shape, dtype, fortran, f.tell()


class _RunningStats:
    """Mean, std, min and max of values seen chunk by chunk, in constant memory.

    float64 throughout.  Values go through blocks of `BLOCK` elements (one 8 MiB float64
    scratch, whatever the chunk size): each block's mean and sum of squared deviations come
    from two passes (deviations from the block's own mean, so no cancellation), and blocks
    are merged with the parallel formula of Chan, Golub & LeVeque, accurate for any number of
    blocks.  So the result depends on the chunking only through rounding (~1e-14 relative).
    min and max are exact: float64 holds every float value written (and ints up to 2**53),
    and rounding to float64 is monotonic.  A NaN, once seen, makes all four NaN.
    """

    # Measured on 64 MiB chunks: ~1M elements per block costs 1-2 ns per element; much
    # smaller blocks pay numpy's per-call overhead (64K: about twice as slow).
    BLOCK = 1 << 20

    def __init__(self):
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self._x = None

    def update(self, values):
        if values.dtype.kind == "c":
            raise TypeError(f"statistics of {values.dtype} values are not supported")
        values = values.reshape(-1)
        need = min(self.BLOCK, values.size)
        if self._x is None or self._x.size < need:
            self._x = np.empty(need, np.float64)
        for s in range(0, values.size, self.BLOCK):
            v = values[s:s + self.BLOCK]
            x = self._x[:v.size]
            np.copyto(x, v, casting="unsafe")
            self._merge(x)
        return self

    def _merge(self, x):
        k = x.size
        lo = float(x.min())
        hi = float(x.max())
        cm = float(x.mean())
        x -= cm
        # Not np.dot: BLAS may wake its own threads for every block, which then fight the
        # fill's OpenMP threads for the cores (measured: 40 ns per element instead of 1).
        np.multiply(x, x, out=x)
        cm2 = float(x.sum())
        n = self.n
        tot = n + k
        delta = cm - self.mean
        self.mean += delta * k / tot
        self.m2 += cm2 + delta * delta * n * k / tot
        self.n = tot
        if self.lo == self.lo and not lo >= self.lo:  # lo is smaller, or NaN
            self.lo = lo
        if self.hi == self.hi and not hi <= self.hi:
            self.hi = hi

    def result(self):
        """(mean, std, min, max); all NaN when no values were seen."""
        if self.n == 0:
            return math.nan, math.nan, math.nan, math.nan
        if self.lo != self.lo or self.hi != self.hi:
            return math.nan, math.nan, math.nan, math.nan
        return self.mean, math.sqrt(self.m2 / self.n), self.lo, self.hi


def npy_stats(path, dtype=None, *, chunk_bytes=16 * 2**20):
    """(mean, std, min, max) of the values of a .npy file, reading it chunk by chunk.

    Constant memory (a `chunk_bytes` buffer).  `dtype` overrides the header's dtype (for
    bfloat16, stored as raw 2-byte void).  Computed as `fastinit create` computes them while
    writing (`_RunningStats`: float64, blocks merged with Chan's parallel formula).
    """
    shape, file_dt, _, offset = read_npy_header(path)
    dt = np.dtype(dtype) if dtype is not None else file_dt
    if dt.itemsize != file_dt.itemsize:
        raise ValueError(f"dtype {dt} does not match the file's {file_dt}")
    n_total = _prod(shape)
    chunk = max(1, chunk_bytes // dt.itemsize)
    buf = np.empty(min(chunk, n_total), dtype=dt)
    stats = _RunningStats()
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        remaining = n_total
        while remaining:
            k = min(chunk, remaining)
            view = buf[:k]
            mv = memoryview(view.view(np.uint8))
            got = 0
            while got < mv.nbytes:
                r = f.readinto(mv[got:])
                if not r:
                    raise ValueError(f"{path} is truncated")
                got += r
            stats.update(view)
            remaining -= k
    return stats.result()
