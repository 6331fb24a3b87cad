"""Destinations and atomic writes: the guarantees every file writer shares.

A file is written to a temporary name beside its destination and renamed over it only when
complete; on any failure -- Ctrl-C, SIGTERM, a full disk, any exception -- the temporary file is
removed and the destination is untouched.  Destinations are checked before any work: symlinks
are written through (like np.save), anything but a regular file is refused, and a replaced file
keeps its mode.  The format-specific writers (fastinit._npy, and more to come) give this module
their header bytes and their sources (fastinit._regions) and nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

import numpy as np

from fastinit._chunks import (ByteCounter, direct_io_wanted, progress_bar, write_all,
                              write_pieces)
from fastinit._regions import Source
from fastinit._validation import fmt_bytes

TEMP_SUFFIX = ".fastinit-tmp"

__all__ = ["WriteInterrupted", "Target", "resolve_target", "write_atomically", "file_kind",
           "TEMP_SUFFIX", "FORCE_HINT"]


class WriteInterrupted(KeyboardInterrupt):
    """A write stopped by SIGINT (Ctrl-C) or SIGTERM; the partial file has been removed.

    A KeyboardInterrupt subclass, so `except Exception` does not swallow it.  `signum` is the
    signal number, a plain int (``signal.Signals(e.signum).name`` gives its name).
    """

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        # A plain int, not a signal.Signals member: f"{signum}" formats an IntEnum as
        # "Signals.SIGINT" on Python 3.10 but as "2" on 3.11+.
        self.signum = int(signum)


# ---- the destination -------------------------------------------------------------------------

_NOT_REGULAR: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class Target:
    """Where a file goes, checked by `resolve_target`.

    `path` is the name the caller gave (for messages); `final` the absolute name the rename
    replaces (`path` itself, or the file its symlinks lead to) and `dirname` its directory,
    where the temporary file goes; `st` the `os.stat` of the regular file being replaced, or
    None for a new file.
    """

    def __init__(self, path: str, final: str, st: os.stat_result | None) -> None:
        self.path = path
        self.final = final
        self.dirname = os.path.dirname(final)
        self.st = st


def file_kind(mode: int) -> str:
    for test, kind in _NOT_REGULAR:
        if test(mode):
            return kind
    return "a special file"


#: What an existing destination's error tells a library caller; the CLI names its flag instead.
FORCE_HINT = "pass force=True to overwrite it"


def resolve_target(path: str, force: bool, *, force_hint: str = FORCE_HINT) -> Target:
    """Check that `path` can be written, before any work starts; return a `Target`.

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
        kind = file_kind(st.st_mode)
        cls = IsADirectoryError if stat.S_ISDIR(st.st_mode) else OSError
        err = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
        raise cls(err, f"Cannot write {path}{via}: it is {kind}, not a regular file")
    if os.path.lexists(path) and not force:
        raise FileExistsError(errno.EEXIST, f"{path} already exists; {force_hint}")
    target = Target(path, final, st)
    if st is None and not os.path.isdir(target.dirname):
        if os.path.lexists(target.dirname):
            raise NotADirectoryError(
                errno.ENOTDIR, f"Cannot write {path}{via}: {target.dirname} is not a directory")
        raise FileNotFoundError(
            errno.ENOENT, f"Cannot write {path}{via}: directory {target.dirname} does not exist")
    return target


def temp_path(dirname: str, name: str) -> str:
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


def check_space(target: Target, nbytes: int) -> None:
    try:
        free = shutil.disk_usage(target.dirname).free
    except OSError:
        return
    if nbytes > free:
        raise OSError(errno.ENOSPC,
                      f"Not enough disk space for {target.path}: it needs "
                      f"{nbytes} bytes ({fmt_bytes(nbytes)}), "
                      f"{free} bytes ({fmt_bytes(free)}) are free in {target.dirname}")


def _keep_owner_and_mode(fd: int, st: os.stat_result) -> None:
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


# ---- signals ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _sigterm_raises(path: str) -> Iterator[None]:
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

    def handler(signum: int, frame: FrameType | None) -> None:
        raise WriteInterrupted(f"terminated by SIGTERM while writing {path}", signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _block_signals() -> set[int | signal.Signals] | None:
    """Block SIGINT/SIGTERM delivery (main thread only); returns the mask to restore or None."""
    if threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _restore_signals(mask: set[int | signal.Signals] | None) -> None:
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


# ---- the atomic write ------------------------------------------------------------------------


def write_atomically(target: Target, pieces: Sequence[bytes | bytearray | Source], *,
                     chunk_bytes: int, progress: bool = False, progress_min_bytes: int = 0,
                     fsync: bool = False, stats: bool = False, counter: ByteCounter | None = None
                     ) -> list[tuple[float, float, float, float] | None]:
    """Write `pieces` (bytes, and Sources written whole in flat C order) to `target`.

    The data goes to a temporary file beside the destination, renamed over it when complete
    (keeping a replaced file's mode); on any exception the temporary file is removed and the
    error raised, a Ctrl-C or SIGTERM as WriteInterrupted.  Sources are generated chunk by chunk
    on every core while the previous chunk is written (fastinit._chunks.write_pieces); a
    progress bar shows when `progress` and the data has `progress_min_bytes` or more.  With
    `stats`, each Source's (mean, std, min, max) come from its chunks as they are written.
    A caller writing several files passes its own `counter` (with its progress bar over all
    of them); `progress` is then ignored.

    Files of 64 MiB or more are written with O_DIRECT on Linux, bypassing the page cache
    (fastinit._chunks.direct_io_wanted: FASTINIT_DIRECT_IO=0 or 1 forces it off or on); a
    filesystem that refuses it is written through the page cache, with the same bytes.

    Returns a list with, per piece, its statistics (None for bytes, complex values, or without
    `stats`).
    """
    nbytes = sum(len(p) if isinstance(p, (bytes, bytearray)) else p.size * p.dtype.itemsize
                 for p in pieces)
    direct = direct_io_wanted(nbytes)
    check_space(target, nbytes)
    tmp = temp_path(target.dirname, os.path.basename(target.final))
    show = counter is None and progress and nbytes >= progress_min_bytes
    with _sigterm_raises(target.path), \
            progress_bar(show, nbytes, os.path.basename(target.path)) as bar:
        if counter is None:
            counter = ByteCounter(bar)
        results = _write_to_temp_then_rename(target, tmp, pieces, chunk_bytes, counter, nbytes,
                                             fsync, stats, direct)
    if fsync:
        with contextlib.suppress(OSError):
            dfd = os.open(target.dirname, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    return results


def _write_to_temp_then_rename(target: Target, tmp: str,
                               pieces: Sequence[bytes | bytearray | Source], chunk_bytes: int,
                               counter: ByteCounter, nbytes: int, fsync: bool, stats: bool,
                               direct: bool = False
                               ) -> list[tuple[float, float, float, float] | None]:
    path = target.path
    fd = -1
    # Signals stay blocked from before the temp file exists until the `try` that removes it
    # is active, so no interrupt can leave it behind.
    mask = _block_signals()
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                         0o666)
        finally:
            _restore_signals(mask)
        results = write_pieces(fd, pieces, chunk_bytes, counter, stats, direct)
        if target.st is not None:
            _keep_owner_and_mode(fd, target.st)
        if fsync:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target.final)
        return results
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
            done = counter.done
            what = ("No space left on device" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                    else exc.strerror or str(exc))
            if not os.path.lexists(tmp) and done == 0 and fd < 0 and exc.filename == tmp:
                raise OSError(exc.errno, f"Cannot write {path}: {what}") from None
            raise OSError(
                exc.errno,
                f"Could not write {path}: {what} (after {done} of {nbytes} bytes); "
                "the partial file was removed",
            ) from exc
        raise
