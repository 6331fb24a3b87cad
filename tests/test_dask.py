"""fastinit.dask: every chunking gives the in-memory bits, locally and on a distributed cluster,
and blocks are written to Zarr / .npy stacks from the workers."""

import os

import ml_dtypes
import numpy as np
import pytest

import fastinit
from tests.helpers import same_bits

da = pytest.importorskip("dask.array")
fdask = pytest.importorskip("fastinit.dask")

BF16 = np.dtype(ml_dtypes.bfloat16)

INITS = [
    ("uniform", lambda: fastinit.RandomUniform(-0.5, 0.5, seed=21)),
    ("normal", lambda: fastinit.RandomNormal(seed=22)),
    ("truncated_normal", lambda: fastinit.TruncatedNormal(seed=23)),
]

SHAPE = (37, 11, 13)
# Chunkings with edges inside generator blocks (4 float32 / 2 float64 values per block), blocks
# that are one contiguous flat range, and blocks made of many short runs.
CHUNKINGS = ["auto", 5, (37, 11, 13), (7, 11, 13), (1, 1, 13), (5, 3, 4), (37, 11, 3),
             (4, 11, 1), ((30, 7), (2, 9), (13,))]


@pytest.mark.parametrize("name,make", INITS, ids=[i[0] for i in INITS])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_compute_equals_in_memory_for_any_chunking(name, make, dtype):
    init = make()
    ref = init(SHAPE, dtype)
    for chunks in CHUNKINGS:
        x = fdask.from_initializer(init, SHAPE, chunks=chunks, dtype=dtype)
        assert x.dtype == ref.dtype and x.shape == SHAPE
        same_bits(x.compute(scheduler="threads"), ref)
    # Slicing the lazy array only generates the blocks it needs, with the same values.
    x = fdask.from_initializer(init, SHAPE, chunks=(5, 3, 4), dtype=dtype)
    same_bits(x[3:30, 2:9, 5:6].compute(scheduler="sync"), ref[3:30, 2:9, 5:6])


def test_float64_and_names():
    x = fdask.from_initializer("he_uniform", (100, 17), chunks=(9, 5), dtype="float64", seed=3)
    same_bits(x.compute(), fastinit.HeUniform(seed=3)((100, 17), "float64"))
    # Deterministic keys: the same array twice has the same name; another seed does not.
    y = fdask.from_initializer("he_uniform", (100, 17), chunks=(9, 5), dtype="float64", seed=3)
    z = fdask.from_initializer("he_uniform", (100, 17), chunks=(9, 5), dtype="float64", seed=4)
    assert x.name == y.name != z.name


@pytest.mark.parametrize("init,shape,dtype", [
    (fastinit.Zeros(), (20, 9), "float32"),
    (fastinit.Ones(), (20, 9), "bfloat16"),
    (fastinit.Constant(np.arange(9.0)), (20, 9), "float64"),
    (fastinit.Identity(gain=2.0), (20, 9), "float32"),
    (fastinit.Identity(), (9, 20), "int8"),
])
def test_non_random(init, shape, dtype):
    for chunks in [(3, 4), (20, 1), (7, 9), "auto"]:
        x = fdask.from_initializer(init, shape, chunks=chunks, dtype=dtype)
        same_bits(x.compute(), init(shape, dtype))


def test_orthogonal_cannot_be_distributed():
    with pytest.raises(ValueError, match="cannot be generated piece by piece"):
        fdask.from_initializer(fastinit.Orthogonal(seed=0), (10, 10))


def test_scalar_and_empty_shapes():
    for shape in [(), (0, 5), (5, 0)]:
        x = fdask.from_initializer("random_normal", shape, seed=1)
        same_bits(x.compute(), fastinit.RandomNormal(seed=1)(shape))


def test_threads_argument():
    ref = fastinit.GlorotUniform(seed=9)((300, 200))
    for threads in (None, 1, 2):
        x = fdask.from_initializer("glorot_uniform", (300, 200), seed=9, chunks=(150, 200),
                                   threads=threads)
        same_bits(x.compute(), ref)
    with pytest.raises(ValueError):
        fdask.from_initializer("glorot_uniform", (3, 3), threads=0)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None, host="127.0.0.1")
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_distributed_compute_zarr_and_npy_stack(client, tmp_path, dtype):
    zarr = pytest.importorskip("zarr")
    init = fastinit.TruncatedNormal(seed=31)
    shape = (1003, 257)
    ref = init(shape, dtype)
    x = fdask.from_initializer(init, shape, chunks=(100, 65), dtype=dtype)
    same_bits(client.compute(x).result(), ref)

    if dtype == "float32":  # Zarr has no bfloat16 data type
        store = str(tmp_path / "emb.zarr")
        da.to_zarr(x, store, compute=True)
        same_bits(zarr.open_array(store, mode="r")[...], ref)
        same_bits(da.from_zarr(store).compute(), ref)

    stack = str(tmp_path / "stack")
    da.to_npy_stack(stack, x, axis=0)
    files = sorted(f for f in os.listdir(stack) if f.endswith(".npy"))
    assert len(files) == 11
    got = np.concatenate([np.load(os.path.join(stack, f)) for f in
                          sorted(files, key=lambda f: int(f.split(".")[0]))])
    same_bits(got.view(ref.dtype), ref)


@pytest.mark.parametrize("name,make", INITS, ids=[i[0] for i in INITS])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_file_memory_and_dask_agree(tmp_path, name, make, dtype):
    init = make()
    ref = init(SHAPE, dtype)
    path = tmp_path / "a.npy"
    fastinit.save_npy(path, SHAPE, init, dtype, chunk_bytes=7 * ref.dtype.itemsize)
    from_file = np.load(path).view(ref.dtype)
    from_dask = fdask.from_initializer(init, SHAPE, chunks=(6, 5, 7), dtype=dtype).compute()
    same_bits(from_file, ref)
    same_bits(from_dask, from_file)
