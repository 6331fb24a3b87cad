"""Direct I/O (O_DIRECT) for streamed file writes: the same bytes, statistics and progress as
through the page cache, for sizes on both sides of the 4096-byte alignment and of the chunk
edges; the fallbacks when a filesystem refuses O_DIRECT; the FASTINIT_DIRECT_IO switch.

(The interrupt tests of test_safetensors.py, test_outofcore_processes.py, and the byte-identity
tests of test_safetensors.py and test_outofcore.py run both ways too, through the `direct_io`
fixture.)"""

import errno
import os
import sys
import tempfile

import numpy as np
import pytest

import fastinit
from fastinit import _chunks, _files, _npy
from fastinit._chunks import DIRECT_ALIGN, DIRECT_MIN_BYTES, ByteCounter, write_pieces
from fastinit._regions import Source
from fastinit._safetensors import safetensors_header
from tests.helpers import leftovers, npy_bytes

safetensors = pytest.importorskip("safetensors")
from safetensors.numpy import save as st_save  # noqa: E402

HAVE_DIRECT = sys.platform.startswith("linux") and hasattr(os, "O_DIRECT")
needs_direct = pytest.mark.skipif(not HAVE_DIRECT, reason="O_DIRECT is Linux's")


def _o_direct_is_set(fd):
    import fcntl

    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


@pytest.fixture
def spy_direct(monkeypatch):
    """Records, per call of the direct-I/O writer, whether the file had O_DIRECT set."""
    calls = []
    real = _chunks._write_pieces_direct

    def spy(fd, *args, **kwargs):
        calls.append(_o_direct_is_set(fd))
        return real(fd, *args, **kwargs)

    monkeypatch.setattr(_chunks, "_write_pieces_direct", spy)
    return calls


def _write_both_ways(monkeypatch, spy_direct, write, path):
    """`write(path)` with FASTINIT_DIRECT_IO=0 then =1; returns the two files' bytes, and
    checks that the second one took the direct path with O_DIRECT on."""
    out = []
    for mode in ("0", "1"):
        monkeypatch.setenv("FASTINIT_DIRECT_IO", mode)
        del spy_direct[:]
        write(path)
        assert spy_direct == ([True] if mode == "1" else [])
        out.append(path.read_bytes())
        path.unlink()
    return out


# ---- the same bytes --------------------------------------------------------------------------

NPY_HEADER = len(_npy.npy_header((1,), np.dtype(np.float16)))


@needs_direct
@pytest.mark.parametrize("file_bytes", [NPY_HEADER, NPY_HEADER + 2, 4094, 4096, 4098, 8192,
                                        3 * 4096 + 2, 5 * 4096])
@pytest.mark.parametrize("chunk_bytes", [2, 4094, 4096, 5000, 64 * 2**20])
def test_npy_sizes_around_the_alignment(tmp_path, monkeypatch, spy_direct, file_bytes,
                                        chunk_bytes):
    """Files of, and around, multiples of 4096 bytes (header only, one element), with staging
    buffers smaller than, equal to and larger than the file."""
    n = (file_bytes - NPY_HEADER) // 2
    init = fastinit.RandomNormal(seed=3)
    expected = npy_bytes(init((n,), "float16"))
    assert len(expected) == file_bytes

    def write(path):
        fastinit.save_npy(path, (n,), init, "float16", chunk_bytes=chunk_bytes)

    buffered, direct = _write_both_ways(monkeypatch, spy_direct, write, tmp_path / "a.npy")
    assert buffered == expected
    assert direct == expected
    assert not leftovers(tmp_path)


def _tensors_of_size(total):
    """One float32 tensor whose safetensors file is exactly `total` bytes."""
    n = 1
    while True:   # the header's length depends on the digits of n
        src = fastinit.RandomUniform(seed=5).source((n,), "float32")
        head = len(safetensors_header([("w", src)])[0])
        want = (total - head) // 4
        if want == n:
            return {"w": (fastinit.RandomUniform(seed=5), (n,), "float32")}
        n = want


MIXED = {
    "f64": (fastinit.GlorotUniform(seed=1), (37, 41), "float64"),
    "f32": (fastinit.RandomNormal(seed=2), (1000,), "float32"),
    "bf16": (fastinit.TruncatedNormal(seed=3), (3, 4097), "bfloat16"),
    "f16": (fastinit.Ones(), (5,), "float16"),
    "f16b": (fastinit.HeNormal(seed=4), (333, 3), "float16"),
    "i8": (fastinit.Constant(3), (7,), "int8"),
    "u64": (fastinit.Constant(2**40), (2,), "uint64"),
    "b": (fastinit.Ones(), (3,), "bool"),
}

CASES = {
    "header only": {},
    "one element": {"x": (fastinit.RandomNormal(seed=1), (1,), "bfloat16")},
    "mixed dtypes": MIXED,
    "8192 bytes": _tensors_of_size(8192),
    "3 x 4096 + 8 bytes": _tensors_of_size(3 * 4096 + 8),
}


@needs_direct
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("chunk_bytes", [24, 4096, 10_000, 64 * 2**20])
def test_safetensors_same_bytes(tmp_path, monkeypatch, spy_direct, case, chunk_bytes):
    tensors = CASES[case]
    meta = {"format": "pt"} if case == "mixed dtypes" else None
    arrays = {k: init(shape, dt) for k, (init, shape, dt) in tensors.items()}
    expected = st_save(arrays, metadata=meta)
    if case in ("8192 bytes", "3 x 4096 + 8 bytes"):
        assert len(expected) == {"8192 bytes": 8192, "3 x 4096 + 8 bytes": 3 * 4096 + 8}[case]

    def write(path):
        fastinit.save_safetensors(path, tensors, metadata=meta, chunk_bytes=chunk_bytes)

    buffered, direct = _write_both_ways(monkeypatch, spy_direct, write,
                                        tmp_path / "m.safetensors")
    assert buffered == expected
    assert direct == expected


@needs_direct
def test_shards_and_index_same_bytes(tmp_path, monkeypatch, spy_direct):
    """Sharded: each shard file takes the direct path; the index (small) too when forced."""
    files = {}
    for mode in ("0", "1"):
        monkeypatch.setenv("FASTINIT_DIRECT_IO", mode)
        d = tmp_path / mode
        d.mkdir()
        del spy_direct[:]
        written = fastinit.save_safetensors(d / "m.safetensors", MIXED, max_shard_size=20_000,
                                            chunk_bytes=4096)
        assert len(written) > 2
        assert spy_direct == ([True] * len(written) if mode == "1" else [])
        files[mode] = {os.path.basename(p): open(p, "rb").read() for p in written}
    assert files["0"] == files["1"]


# ---- misaligned pieces, straddling items, statistics and progress ---------------------------


class _Bar:
    def __init__(self):
        self.updates = []

    def update(self, n):
        self.updates.append(n)


def _write_pieces_to(path, pieces, chunk_bytes, direct, stats=True):
    bar = _Bar()
    counter = ByteCounter(bar)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        results = write_pieces(fd, pieces, chunk_bytes, counter, stats, direct)
    finally:
        os.close(fd)
    return results, counter.done, bar.updates


def _close(got, ref):
    """Statistics equal up to float64 rounding (the chunks differ); min and max exactly."""
    if ref is None:
        assert got is None
        return
    mean, std, lo, hi = got
    assert abs(mean - ref[0]) <= 1e-12 * max(abs(ref[0]), ref[1])
    assert std == pytest.approx(ref[1], rel=1e-12, abs=0)
    assert (lo, hi) == (ref[2], ref[3])


@needs_direct
@pytest.mark.parametrize("chunk_bytes", [1, 4096, 6000, 2**20])
@pytest.mark.parametrize("scratch_bytes", [7, 64, 4 * 2**20])
def test_misaligned_sources_are_copied(tmp_path, monkeypatch, spy_direct, chunk_bytes,
                                       scratch_bytes):
    """Sources at file offsets that are not multiples of their item size (write_pieces allows
    it; no file format fastinit writes has one) go through the scratch buffer, items
    straddling two staging buffers included: the bytes, statistics and progress are those of
    the buffered path."""
    monkeypatch.setattr(_chunks, "_SCRATCH_BYTES", scratch_bytes)
    sources = [fastinit.RandomUniform(seed=1).source((1000,), "float32"),
               fastinit.RandomNormal(seed=2).source((333,), "float64"),
               fastinit.TruncatedNormal(seed=3).source((77,), "bfloat16"),
               fastinit.GlorotNormal(seed=4).source((64, 65), "float16"),
               fastinit.Ones().source((5,), "complex64"),
               fastinit.RandomNormal(seed=5).source((2500,), "float32")]
    pieces = [b"abc", sources[0], b"x", sources[1], b"yz", sources[2], sources[3], b"q",
              sources[4], b"r", sources[5], b"end"]
    expected = b"".join(p if isinstance(p, bytes) else p.fill_all(np.empty(p.shape, p.dtype))
                        .tobytes() for p in pieces)
    ref, done_b, updates_b = _write_pieces_to(tmp_path / "b", pieces, chunk_bytes, False)
    got, done_d, updates_d = _write_pieces_to(tmp_path / "d", pieces, chunk_bytes, True)
    assert spy_direct == [True]
    assert (tmp_path / "b").read_bytes() == expected
    assert (tmp_path / "d").read_bytes() == expected
    for g, r in zip(got, ref):
        _close(g, r)
    assert [g is None for g in got] == [not isinstance(p, Source) or p.dtype.kind == "c"
                                        for p in pieces]
    assert done_b == done_d == sum(updates_d) == len(expected)
    assert all(0 < u <= max(DIRECT_ALIGN, -(-chunk_bytes // DIRECT_ALIGN) * DIRECT_ALIGN)
               for u in updates_d)


@needs_direct
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16", "float64"])
def test_statistics_same_as_buffered(tmp_path, monkeypatch, dtype):
    init = fastinit.RandomNormal(mean=0.25, seed=3)
    results = []
    for mode in ("0", "1"):
        monkeypatch.setenv("FASTINIT_DIRECT_IO", mode)
        target = _files.resolve_target(str(tmp_path / "s.npy"), True)
        results.append(_npy.write_npy(target, init.source((700, 1001), dtype),
                                      chunk_bytes=2**20 + 6, stats=True))
    _close(results[1], results[0])
    x = init((700, 1001), dtype).astype(np.float64)
    _close(results[1], (x.mean(), x.std(), x.min(), x.max()))


# ---- the fallbacks ---------------------------------------------------------------------------


@needs_direct
def test_filesystem_refusing_the_flag_is_written_buffered(tmp_path, monkeypatch, spy_direct):
    """fcntl(F_SETFL, O_DIRECT) refused (EINVAL, as tmpfs did before Linux 6.6): the file is
    written through the page cache, with the same bytes."""
    import fcntl

    real = fcntl.fcntl

    def refuse(fd, cmd, arg=0):
        if cmd == fcntl.F_SETFL and arg & os.O_DIRECT:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real(fd, cmd, arg)

    monkeypatch.setattr(fcntl, "fcntl", refuse)
    monkeypatch.setenv("FASTINIT_DIRECT_IO", "1")
    p = tmp_path / "m.safetensors"
    fastinit.save_safetensors(p, MIXED, chunk_bytes=4096)
    assert spy_direct == []
    arrays = {k: init(shape, dt) for k, (init, shape, dt) in MIXED.items()}
    assert p.read_bytes() == st_save(arrays)


@needs_direct
@pytest.mark.parametrize("partial", [0, 4096])
def test_filesystem_refusing_the_writes_falls_back(tmp_path, monkeypatch, spy_direct, partial):
    """The flag taken but a direct write refused with EINVAL -- at once, or after part of the
    buffer went out (a short write leaving the rest misaligned): O_DIRECT is turned off and the
    write resumes where it stopped, through the page cache; the file has the same bytes."""
    real = _chunks.write_all
    seen = []

    def picky(fd, buf):
        if _o_direct_is_set(fd):
            seen.append("direct")
            if partial and buf.nbytes > partial:
                assert os.write(fd, memoryview(buf[:partial])) == partial
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        seen.append("buffered")
        real(fd, buf)

    monkeypatch.setattr(_chunks, "write_all", picky)
    monkeypatch.setenv("FASTINIT_DIRECT_IO", "1")
    p = tmp_path / "m.safetensors"
    fastinit.save_safetensors(p, MIXED, chunk_bytes=3 * 4096)
    assert spy_direct == [True]
    assert seen[0] == "direct" and seen[1:] == ["buffered"] * (len(seen) - 1)
    assert len(seen) > 3   # several buffers after the fallback
    arrays = {k: init(shape, dt) for k, (init, shape, dt) in MIXED.items()}
    assert p.read_bytes() == st_save(arrays)


@needs_direct
def test_other_write_errors_are_raised(tmp_path, monkeypatch):
    """Only EINVAL falls back: an I/O error in a direct write fails the write as before."""
    real = _chunks.write_all

    def failing(fd, buf):
        if _o_direct_is_set(fd):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(fd, buf)

    monkeypatch.setattr(_chunks, "write_all", failing)
    monkeypatch.setenv("FASTINIT_DIRECT_IO", "1")
    with pytest.raises(OSError, match="Input/output error.*partial file was removed") as ei:
        fastinit.save_npy(tmp_path / "a.npy", (10_000,), "random_normal", seed=1)
    assert ei.value.errno == errno.EIO
    assert os.listdir(tmp_path) == []


@needs_direct
@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm")
def test_tmpfs(monkeypatch):
    """tmpfs: it refused O_DIRECT before Linux 6.6 (the buffered fallback) and takes it since
    (the direct path); either way the bytes are the reference's."""
    monkeypatch.setenv("FASTINIT_DIRECT_IO", "1")
    arrays = {k: init(shape, dt) for k, (init, shape, dt) in MIXED.items()}
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        p = os.path.join(d, "m.safetensors")
        fastinit.save_safetensors(p, MIXED, chunk_bytes=4096, fsync=True)
        assert open(p, "rb").read() == st_save(arrays)
        assert os.listdir(d) == ["m.safetensors"]


# ---- interrupts ------------------------------------------------------------------------------


class _Interrupting(Source):
    """A source that raises KeyboardInterrupt at its `after`-th fill (as a Ctrl-C would)."""

    def __init__(self, inner, after):
        super().__init__(inner.shape, inner.dtype)
        self.inner = inner
        self.calls = 0
        self.after = after

    def fill_range(self, buf, start):
        self.calls += 1
        if self.calls == self.after:
            raise KeyboardInterrupt
        return self.inner.fill_range(buf, start)


@pytest.mark.parametrize("after", [1, 5])
def test_ctrl_c_mid_write_leaves_nothing(tmp_path, direct_io, after):
    src = _Interrupting(fastinit.RandomNormal(seed=1).source((100_000,)), after)
    with pytest.raises(fastinit.WriteInterrupted, match="partial file was removed"):
        fastinit.save_safetensors(tmp_path / "m.safetensors", {"a": src}, chunk_bytes=4096)
    assert src.calls == after
    assert os.listdir(tmp_path) == []


# ---- the switch ------------------------------------------------------------------------------


def test_switch(monkeypatch):
    monkeypatch.delenv("FASTINIT_DIRECT_IO", raising=False)
    assert not _chunks.direct_io_wanted(DIRECT_MIN_BYTES - 1)
    assert _chunks.direct_io_wanted(DIRECT_MIN_BYTES) == HAVE_DIRECT
    for auto in ("auto", " AUTO ", ""):
        monkeypatch.setenv("FASTINIT_DIRECT_IO", auto)
        assert not _chunks.direct_io_wanted(DIRECT_MIN_BYTES - 1)
        assert _chunks.direct_io_wanted(DIRECT_MIN_BYTES) == HAVE_DIRECT
    monkeypatch.setenv("FASTINIT_DIRECT_IO", "1")
    assert _chunks.direct_io_wanted(0) == HAVE_DIRECT
    monkeypatch.setenv("FASTINIT_DIRECT_IO", "0")
    assert not _chunks.direct_io_wanted(2**40)


def test_bad_switch_value_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTINIT_DIRECT_IO", "yes")
    with pytest.raises(ValueError, match="FASTINIT_DIRECT_IO must be 0, 1 or auto. "
                                         "Received: FASTINIT_DIRECT_IO='yes'"):
        fastinit.save_npy(tmp_path / "a.npy", (3,), "zeros")
    assert os.listdir(tmp_path) == []


@needs_direct
def test_auto_direct_for_large_files_only(tmp_path, monkeypatch, spy_direct):
    monkeypatch.delenv("FASTINIT_DIRECT_IO", raising=False)
    fastinit.save_npy(tmp_path / "small.npy", (1000,), "random_normal", seed=1)
    assert spy_direct == []
    n = DIRECT_MIN_BYTES // 4
    fastinit.save_npy(tmp_path / "big.npy", (n,), "random_normal", seed=1)
    assert spy_direct == [True]
    got = np.load(tmp_path / "big.npy", mmap_mode="r")
    np.testing.assert_array_equal(got[-1000:],
                                  fastinit.RandomNormal(seed=1).region((n,), slice(n - 1000, n)))
    assert os.path.getsize(tmp_path / "big.npy") == NPY_HEADER + 4 * n
