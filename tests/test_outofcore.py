"""save_npy / fill_chunked: bit identity with the in-memory result for every chunking, atomic
replacement, and clean-up on failures (interrupts and bounded memory, which need a child process,
are in test_outofcore_processes.py)."""

import errno
import os
import shutil
import signal

import ml_dtypes
import numpy as np
import pytest

import fastinit
from fastinit import _files
from fastinit._files import WriteInterrupted
from fastinit._regions import StreamSource, flat_pieces
from tests.helpers import leftovers, npy_bytes, same_bits

BF16 = np.dtype(ml_dtypes.bfloat16)

RANDOM = [
    ("uniform", lambda: fastinit.RandomUniform(-1.0, 2.0, seed=11)),
    ("normal", lambda: fastinit.RandomNormal(0.5, 2.0, seed=12)),
    ("truncated_normal", lambda: fastinit.TruncatedNormal(0.0, 1.0, seed=13)),
    ("glorot_uniform", lambda: fastinit.GlorotUniform(seed=14)),
    ("he_normal", lambda: fastinit.HeNormal(seed=15)),
]

# Chunk sizes in elements: 1 and odd sizes put chunk edges inside a generator block (a Philox
# block gives 4 float32 / 2 float64 values; half precision tiles differ again).
CHUNK_ELEMS = [1, 3, 5, 7, 64, 1001, 4096]


@pytest.mark.parametrize("name,make", RANDOM, ids=[r[0] for r in RANDOM])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64", "float16"])
def test_save_npy_is_np_save_of_the_in_memory_result(tmp_path, direct_io, name, make, dtype):
    init = make()
    shape = (33, 31)  # 1023 elements: not a multiple of any block size
    ref = init(shape, dtype)
    expected = npy_bytes(ref)
    dt = np.dtype(BF16 if dtype == "bfloat16" else dtype)
    for elems in CHUNK_ELEMS:
        path = tmp_path / f"{name}-{dtype}-{elems}.npy"
        ret = fastinit.save_npy(path, shape, init, dtype, chunk_bytes=elems * dt.itemsize)
        assert ret == str(path)
        assert path.read_bytes() == expected, elems
    loaded = np.load(path, mmap_mode="r")
    same_bits(loaded.view(ref.dtype), ref)  # np.load reads bfloat16 as raw |V2
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_save_npy_by_name_and_seed(tmp_path, dtype):
    p = tmp_path / "a.npy"
    fastinit.save_npy(p, (40, 7, 3), "glorot_normal", dtype, seed=5, chunk_bytes=100)
    same_bits(np.load(p).view(np.dtype(dtype) if dtype != "bfloat16" else BF16),
               fastinit.GlorotNormal(seed=5)((40, 7, 3), dtype))
    cfg = {"class_name": "VarianceScaling", "config": {"scale": 3.0, "mode": "fan_out"}}
    fastinit.save_npy(p, (64, 9), cfg, dtype, seed=2, force=True)
    same_bits(np.load(p).view(BF16 if dtype == "bfloat16" else dtype),
               fastinit.VarianceScaling(3.0, "fan_out", seed=2)((64, 9), dtype))
    # An instance carries its own seed.
    with pytest.raises(ValueError, match="seed the instance"):
        fastinit.save_npy(p, (3,), fastinit.RandomNormal(seed=1), seed=2, force=True)
    # Non-random initializers ignore the seed.
    fastinit.save_npy(p, (3, 4), "ones", dtype, seed=2, force=True)
    assert (np.load(p).view(BF16 if dtype == "bfloat16" else dtype) == 1).all()


@pytest.mark.parametrize("init,shape,dtype", [
    (fastinit.Zeros(), (17, 5), "float32"),
    (fastinit.Ones(), (17, 5), "bfloat16"),
    (fastinit.Ones(), (6, 7), "int16"),
    (fastinit.Constant(2.5), (4, 9, 3), "float64"),
    (fastinit.Constant(np.arange(9.0)), (4, 9), "float32"),
    (fastinit.Constant(np.arange(9.0)[:, None]), (9, 5), "float16"),
    (fastinit.Identity(), (13, 13), "float32"),
    (fastinit.Identity(gain=3.0), (7, 19), "float64"),
    (fastinit.Identity(gain=2.0), (19, 7), "bfloat16"),
    (fastinit.Identity(), (5, 6), "int32"),
])
def test_non_random_initializers_chunk(tmp_path, direct_io, init, shape, dtype):
    ref = init(shape, dtype)
    dt = np.dtype(BF16 if dtype == "bfloat16" else dtype)
    for elems in (1, 2, 5, 8, 13, 1000):
        p = tmp_path / "c.npy"
        fastinit.save_npy(p, shape, init, dtype, chunk_bytes=elems * dt.itemsize, force=True)
        assert p.read_bytes() == npy_bytes(ref)
        out = np.empty(shape, dt)
        fastinit.fill_chunked(out, init, chunk_elems=elems)
        same_bits(out, ref)


def test_orthogonal_needs_allow_in_memory(tmp_path):
    p = tmp_path / "o.npy"
    with pytest.raises(ValueError, match="Householder.*cannot be generated piece by piece.*allow_in_memory"):
        fastinit.save_npy(p, (64, 32), fastinit.Orthogonal(seed=1))
    with pytest.raises(ValueError, match="allow_in_memory"):
        fastinit.fill_chunked(np.empty((8, 8)), "orthogonal")
    assert not p.exists() and not leftovers(tmp_path)
    fastinit.save_npy(p, (64, 32), fastinit.Orthogonal(seed=1), allow_in_memory=True,
                      chunk_bytes=100)
    same_bits(np.load(p), fastinit.Orthogonal(seed=1)((64, 32)))
    # A plain callable has no stream either.
    with pytest.raises(ValueError, match="no element stream"):
        fastinit.save_npy(tmp_path / "f.npy", (4,), lambda shape, dtype=None: np.ones(shape))


def test_zero_size_and_scalar_shapes(tmp_path):
    for shape in [(0,), (3, 0), ()]:
        p = tmp_path / f"z{len(shape)}.npy"
        fastinit.save_npy(p, shape, "random_uniform", seed=1)
        assert p.read_bytes() == npy_bytes(fastinit.RandomUniform(seed=1)(shape))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
def test_fill_chunked_ndarray_memmap_and_strided(tmp_path, dtype):
    init = fastinit.TruncatedNormal(seed=3)
    shape = (23, 3, 17)
    ref = init(shape, dtype)
    dt = ref.dtype
    for elems in CHUNK_ELEMS:
        out = np.empty(shape, dt)
        assert fastinit.fill_chunked(out, init, chunk_elems=elems) is out
        same_bits(out, ref)
        f = np.empty(shape, dt, order="F")
        fastinit.fill_chunked(f, init, chunk_elems=elems)
        same_bits(f, ref)
        big = np.zeros((23, 3, 40), dt)
        view = big[:, :, 5:22]  # not contiguous
        fastinit.fill_chunked(view, init, chunk_elems=elems)
        same_bits(view, ref)
        assert not big[:, :, :5].view(np.uint8).any() and not big[:, :, 22:].view(np.uint8).any()
    path = tmp_path / "m.bin"
    mm = np.memmap(path, dtype=dt, mode="w+", shape=shape)
    fastinit.fill_chunked(mm, init, chunk_elems=7)
    mm.flush()
    del mm
    same_bits(np.fromfile(path, dtype=dt).reshape(shape), ref)
    # A memmap opened on an .npy file's data (np.lib.format.open_memmap).
    npy = tmp_path / "m.npy"
    mm = np.lib.format.open_memmap(npy, mode="w+", dtype=dt, shape=shape)
    fastinit.fill_chunked(mm, init, chunk_elems=1000, progress=False)
    del mm
    same_bits(np.load(npy).view(dt), ref)


def test_fill_chunked_non_native_byte_order():
    init = fastinit.RandomUniform(seed=4)
    out = np.empty((10, 9), ">f4")
    fastinit.fill_chunked(out, init, chunk_elems=7)
    np.testing.assert_array_equal(out.astype(np.float32), init((10, 9)))


def test_fill_chunked_rejects_read_only():
    a = np.empty(4, np.float32)
    a.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastinit.fill_chunked(a, "zeros")
    with pytest.raises(TypeError):
        fastinit.fill_chunked([0.0], "zeros")


def test_flat_pieces_cover_ranges():
    rng = np.random.default_rng(0)
    for shape in [(5,), (4, 6), (3, 4, 5), (2, 3, 1, 4), ()]:
        n = int(np.prod(shape))
        arr = np.arange(n).reshape(shape)
        for _ in range(30):
            a, b = sorted(rng.integers(0, n + 1, size=2))
            got = [arr[idx].reshape(-1) for _, idx in flat_pieces(shape, a, b)]
            got = np.concatenate(got) if got else np.empty(0, int)
            np.testing.assert_array_equal(got, np.arange(a, b))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
def test_fill_block_any_block(dtype):
    """Blocks that are not contiguous in the flat index space (both strategies: a fill per run,
    and spans sliced in scratch)."""
    rng = np.random.default_rng(1)
    for shape in [(40, 3, 7), (9, 2000), (50, 5), (6, 4, 3, 5)]:
        for init in (fastinit.RandomUniform(seed=2), fastinit.TruncatedNormal(seed=3)):
            ref = init(shape, dtype)
            source = init.source(shape, dtype)
            for _ in range(12):
                bounds = []
                for d in shape:
                    a = int(rng.integers(0, d))
                    b = int(rng.integers(a + 1, d + 1))
                    bounds.append((a, b))
                bounds = tuple(bounds)
                out = np.empty([b - a for a, b in bounds], source.dtype)
                source.fill_region(out, bounds)
                same_bits(out, ref[tuple(slice(a, b) for a, b in bounds)])


def test_exists_needs_force(tmp_path):
    p = tmp_path / "e.npy"
    p.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="force=True"):
        fastinit.save_npy(p, (3,), "zeros")
    assert p.read_bytes() == b"keep"
    fastinit.save_npy(p, (3,), "zeros", force=True)
    assert (np.load(p) == 0).all()
    with pytest.raises(IsADirectoryError):
        fastinit.save_npy(tmp_path, (3,), "zeros", force=True)


def test_unwritable_paths(tmp_path):
    # Tests may run as root, so permissions cannot make a directory unwritable: use a missing
    # directory and a regular file standing in for a directory.
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fastinit.save_npy(tmp_path / "missing" / "a.npy", (3,), "zeros")
    f = tmp_path / "file"
    f.write_bytes(b"")
    with pytest.raises(OSError):
        fastinit.save_npy(f / "a.npy", (3,), "zeros")
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_disk_full_during_write(tmp_path, monkeypatch, direct_io):
    p = tmp_path / "full.npy"
    p.write_bytes(b"old")
    real_write = os.write
    written = [0]

    def write(fd, data):
        if written[0] > 10_000:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = real_write(fd, data)
        written[0] += n
        return n

    monkeypatch.setattr(_files.os, "write", write)
    with pytest.raises(OSError, match="No space left on device.*partial file was removed") as ei:
        fastinit.save_npy(p, (100_000,), "random_uniform", seed=1, chunk_bytes=4096,
                          force=True)
    assert ei.value.errno == errno.ENOSPC
    assert p.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["full.npy"]


def test_disk_full_checked_up_front(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(_files.shutil, "disk_usage",
                        lambda d: usage._replace(free=1000))
    with pytest.raises(OSError, match="Not enough disk space") as ei:
        fastinit.save_npy(tmp_path / "a.npy", (1000,), "zeros")
    assert ei.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []


def test_failure_while_generating_cleans_up(tmp_path, monkeypatch):
    calls = [0]
    real = StreamSource.fill_range

    def fill(self, buf, start):
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("boom")
        return real(self, buf, start)

    monkeypatch.setattr(StreamSource, "fill_range", fill)
    with pytest.raises(RuntimeError, match="boom"):
        fastinit.save_npy(tmp_path / "a.npy", (10_000,), "random_normal", seed=1,
                          chunk_bytes=4000)
    assert os.listdir(tmp_path) == []


def test_sigterm_handler_restored():
    before = signal.getsignal(signal.SIGTERM)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        fastinit.save_npy(os.path.join(d, "a.npy"), (10,), "zeros")
    assert signal.getsignal(signal.SIGTERM) is before


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError):
        fastinit.save_npy(tmp_path / "a.npy", (3,), "zeros", chunk_bytes=1.5)
    with pytest.raises(ValueError):
        fastinit.save_npy(tmp_path / "a.npy", (3,), "zeros", chunk_bytes=0)
    with pytest.raises(ValueError, match="Could not interpret"):
        fastinit.save_npy(tmp_path / "a.npy", (3,), "no_such_initializer")
    with pytest.raises(TypeError):
        fastinit.save_npy(tmp_path / "a.npy", (3,), "random_normal", dtype="int32")
    with pytest.raises(ValueError):
        fastinit.save_npy(tmp_path / "a.npy", (-3,), "random_normal")
    assert os.listdir(tmp_path) == []


def test_write_interrupted_signum_is_a_plain_int():
    """f"{signum}" must read the same on every Python: an IntEnum formats as "Signals.SIGTERM"
    on 3.10 and as "15" on 3.11+."""
    e = WriteInterrupted("stopped", signal.SIGTERM)
    assert type(e.signum) is int and e.signum == signal.SIGTERM
    assert f"{e.signum}" == str(int(signal.SIGTERM))
    assert type(WriteInterrupted("stopped").signum) is int


def test_more_dimensions_than_numpy_allows(tmp_path):
    """No array (so no np.save) has more than 64 dimensions, and np.load refuses the header of
    a file claiming 10000: refuse the shape rather than write such a file."""
    with pytest.raises(ValueError, match="has 65 dimensions; numpy arrays have at most 64"):
        fastinit.save_npy(tmp_path / "a.npy", (1,) * 65, "zeros")
    fastinit.save_npy(tmp_path / "b.npy", (1,) * 64, "ones")
    assert np.load(tmp_path / "b.npy").shape == (1,) * 64
    assert os.listdir(tmp_path) == ["b.npy"]
