"""A user's script over fastinit's public API, annotated as a `mypy --strict` user writes it.

tests/test_typing.py type-checks it (``mypy --strict``) and runs it: every call must both
type-check and work.  `assert_type` pins what the API returns, so a function that silently
went back to returning Any would fail the check.

    python tests/typing/example_user.py            # runs it (writes only to a temp dir)
    python -m mypy --strict tests/typing/example_user.py
"""

from __future__ import annotations

import pathlib
import sys
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

import fastinit
import fastinit.initializers

if TYPE_CHECKING:  # typing.assert_type is Python >= 3.11; the check targets 3.10
    from typing_extensions import assert_type
else:
    def assert_type(value, expected_type):  # what typing.assert_type does at run time
        return value


class Halves(fastinit.Initializer):
    """A user's own initializer: only `__call__`, as Keras initializers are written."""

    def __call__(self, shape: Sequence[int] | int, dtype: npt.DTypeLike | None = None, *,
                 out: npt.NDArray[Any] | None = None) -> npt.NDArray[Any]:
        values = np.full(shape, 0.5, dtype=dtype or "float32")
        if out is None:
            return values
        out[...] = values
        return out


def initializers() -> None:
    init = fastinit.GlorotUniform(seed=0)
    w = init((64, 32))
    assert_type(w, npt.NDArray[Any])
    assert w.shape == (64, 32) and w.dtype == np.float32
    assert init([64, 32], dtype="float64").dtype == np.float64
    out = np.empty((64, 32), np.float32)
    assert init((64, 32), out=out) is out and (out == w).all()

    # every seed kind
    seeds: list[int | np.integer[Any] | np.random.SeedSequence | np.random.Generator | None] = [
        7, np.int64(7), np.random.SeedSequence(7), np.random.default_rng(7), None]
    for seed in seeds:
        assert fastinit.RandomNormal(mean=1.0, stddev=0.5, seed=seed)(10).shape == (10,)
    seeded = fastinit.HeNormal(seed=3)
    seeded.seed = None  # re-seeds with a fresh seed ...
    assert_type(seeded.seed, int)  # ... and reads back as an int
    seeded.seed = np.random.SeedSequence(4)

    assert fastinit.Constant(2.5)((2, 2)).tolist() == [[2.5, 2.5], [2.5, 2.5]]
    assert fastinit.Constant([1, 2])((3, 2), dtype="int32").tolist() == [[1, 2]] * 3
    assert fastinit.Identity(gain=2.0)((2, 2)).tolist() == [[2.0, 0.0], [0.0, 2.0]]
    assert fastinit.Zeros()(3, "bfloat16").dtype.itemsize == 2
    assert fastinit.VarianceScaling(scale=2.0, mode="fan_out", distribution="uniform",
                                    input_axes=[0], output_axes=[1])((4, 5)).shape == (4, 5)
    q = fastinit.Orthogonal(gain=1.0, seed=1)((8, 8), dtype="float64")
    assert np.allclose(q.T @ q, np.eye(8))
    assert fastinit.glorot_normal(seed=1)((3,)).shape == (3,)  # the snake-case aliases
    assert Halves()((2,)).tolist() == [0.5, 0.5]


def regions() -> None:
    init = fastinit.LecunUniform(seed=5)
    whole = init((50, 40))
    piece = init.region((50, 40), (slice(10, 20), slice(5, None)))
    assert_type(piece, npt.NDArray[Any])
    assert (piece == whole[10:20, 5:]).all()
    assert (init.region((50, 40), (3, ...)) == whole[3]).all()
    assert (init.region((50, 40), 7) == whole[7]).all()

    source = init.source((50, 40))
    assert_type(source.shape, tuple[int, ...])
    assert_type(source.dtype, np.dtype[Any])
    buf = np.empty(100, np.float32)
    assert (source.fill_range(buf, 150) == whole.reshape(-1)[150:250]).all()
    block = np.empty((5, 10), np.float32)
    source.fill_region(block, [(0, 5), (30, 40)])
    assert (block == whole[:5, 30:]).all()

    ortho = fastinit.Orthogonal(seed=2).source((6, 4), allow_in_memory=True)
    assert ortho.in_memory
    assert fastinit.initializers.source_of(Halves(), (2, 3), allow_in_memory=True).size == 6


def configs() -> None:
    init = fastinit.GlorotUniform(seed=0)
    config = fastinit.serialize(init)
    assert_type(config, dict[str, Any])
    assert config["class_name"] == "GlorotUniform"
    restored = fastinit.deserialize(config)
    assert_type(restored, fastinit.Initializer)
    assert (restored((4, 4)) == init((4, 4))).all()
    assert isinstance(fastinit.deserialize("he_uniform"), fastinit.HeUniform)

    assert_type(fastinit.get(init), fastinit.GlorotUniform)
    assert_type(fastinit.get(fastinit.Ones), fastinit.Ones)
    assert_type(fastinit.get("zeros"), fastinit.Initializer)
    assert_type(fastinit.get({"class_name": "Ones", "config": {}}), fastinit.Initializer)
    assert_type(fastinit.get(None), None)
    table = fastinit.get(np.arange(6.0).reshape(2, 3))
    assert table((2, 3), "float32").dtype == np.float32

    clone = init.clone()
    assert_type(clone, fastinit.GlorotUniform)
    same = fastinit.GlorotUniform.from_config(init.get_config())
    assert_type(same, fastinit.GlorotUniform)
    assert (same((3, 3)) == init((3, 3))).all()

    fans = fastinit.compute_fans((3, 3, 16, 32))
    assert_type(fans, tuple[int, int])
    assert fans == (144, 288)
    assert fastinit.compute_fans((3, 4, 5), input_axes=[0], output_axes=[1, 2]) == (3, 20)


def streams() -> None:
    whole = fastinit.fill_stream(np.empty(10, np.float32), "normal", seed=0)
    part = fastinit.fill_stream(np.empty(4, np.float32), "normal", seed=0, start=3)
    assert_type(part, npt.NDArray[Any])
    assert (whole[3:7] == part).all()

    stream = fastinit.Stream("truncated_normal", np.random.SeedSequence(1), mean=0.0,
                             stddev=1.0, low=-1.0, high=3.0)
    values = stream.fill(np.empty(1000, np.float64), start=10)
    assert values.min() >= -1.0 and values.max() <= 3.0
    method = stream.truncnorm_method
    assert_type(method, str | None)
    assert fastinit.STREAM_VERSION == 1


def threads_and_files(tmp: pathlib.Path) -> None:
    with fastinit.num_threads(1):
        one = fastinit.HeUniform(seed=1)((300, 300))
    fastinit.set_num_threads(2)
    n = fastinit.get_num_threads()
    assert_type(n, int)
    fastinit.set_num_threads(None)
    assert (one == fastinit.HeUniform(seed=1)((300, 300))).all()

    path = fastinit.save_npy(tmp / "emb.npy", (1000, 16), "glorot_uniform", seed=0,
                             chunk_bytes=4096)
    assert_type(path, str)
    assert (np.load(path) == fastinit.GlorotUniform(seed=0)((1000, 16))).all()
    fastinit.save_npy(str(tmp / "q.npy"), (8, 8), fastinit.Orthogonal(seed=0),
                      dtype="float64", allow_in_memory=True, force=True, fsync=True)

    mm = np.lib.format.open_memmap(tmp / "mm.npy", mode="w+", dtype=np.float32,
                                   shape=(100, 10))
    # fill_chunked returns `out` as it came: still a memmap, still float64 below
    filled: np.memmap[Any, Any] = fastinit.fill_chunked(mm, fastinit.RandomUniform(seed=2),
                                                        chunk_elems=64)
    assert (filled == fastinit.RandomUniform(seed=2)((100, 10))).all()
    arr: npt.NDArray[np.float64] = fastinit.fill_chunked(np.empty((10, 10), np.float64), "ones")
    assert (arr == 1.0).all()

    fastinit.show_config()


def main() -> int:
    initializers()
    regions()
    configs()
    streams()
    with tempfile.TemporaryDirectory() as tmp:
        threads_and_files(pathlib.Path(tmp))
    print("example_user: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
