"""asv suites: large fills (time and peak memory), per-call overhead on small shapes, Orthogonal.

Every initializer is seeded (see _helpers.FILLS): a stream's cost does not depend on the seed,
and fixed seeds keep runs comparable across commits.
"""

import numpy as np

import fastinit

from ._helpers import FILLS, ORTHOGONAL_QUICK_SHAPES, WARMUP_SHAPE, kernel_shape

INITIALIZERS = {key: getattr(fastinit, name)(**kwargs) for key, (name, kwargs) in FILLS.items()}


class _FillCase:
    """Parameters and setup shared by the large-fill suites.

    Sizes are even powers of two, so each is a square 2-D kernel (256², 2048², 8192²): fans, and
    so Glorot's and He's scales, are those of a real Dense kernel of that many elements.
    """

    params = (
        [2**16, 2**22, 2**26],
        ["float32", "float64", "float16", "bfloat16"],
        [1, 2],
        list(INITIALIZERS),
    )
    param_names = ["size", "dtype", "threads", "initializer"]
    # One 2**26 float64 truncated normal on one thread can take over a second; asv repeats it up
    # to ten times, so the default 60 s is too tight on a slow or busy machine.
    timeout = 300

    def setup(self, size, dtype, threads, initializer):
        self.shape = kernel_shape(size)
        self.init = INITIALIZERS[initializer]
        fastinit.set_num_threads(threads)
        # One-time costs (lazy imports, starting the OpenMP threads) belong here, not in the
        # first measured call, which is the only one under --quick and in peakmem_*.
        self.init(WARMUP_SHAPE, dtype)

    def teardown(self, size, dtype, threads, initializer):
        fastinit.set_num_threads(None)


class Fill(_FillCase):
    """A new array per call: what `init(shape, dtype)` costs, page faults included."""

    def time_fill(self, size, dtype, threads, initializer):
        self.init(self.shape, dtype)

    def peakmem_fill(self, size, dtype, threads, initializer):
        self.init(self.shape, dtype)


class FillOut(_FillCase):
    """Into a preallocated, already-touched `out=`: the generator alone, without page faults.

    A class of its own so that its `out` buffer does not count in `Fill.peakmem_fill`.
    """

    def setup(self, size, dtype, threads, initializer):
        super().setup(size, dtype, threads, initializer)
        # Filling it once both gets the dtype right (bfloat16 included) and faults its pages in.
        self.out = self.init(self.shape, dtype)

    def time_fill_out(self, size, dtype, threads, initializer):
        self.init(self.shape, dtype, out=self.out)


class SmallShapes:
    """Per-call overhead on a 64x64 Dense kernel (4096 elements), where Python-side work
    (validation, fans, stream set-up) dominates; numpy's standard_normal of the same size and
    dtype is the reference for a cheap call.  Default thread count, as a user would call it.
    """

    params = ["GlorotUniform", "RandomNormal", "HeNormal", "numpy standard_normal"]
    param_names = ["generator"]

    def setup(self, generator):
        if generator == "numpy standard_normal":
            rng = np.random.default_rng(0)
            self.call = lambda: rng.standard_normal(4096, dtype=np.float32)
        else:
            init = getattr(fastinit, generator)(seed=0)
            self.call = lambda: init((64, 64), "float32")
        self.call()  # lazy imports on the first call would dwarf the call itself

    def time_dense_kernel(self, generator):
        self.call()


class Orthogonal:
    """QR of a Gaussian matrix: BLAS/LAPACK-bound, fastinit's own share is the normal fill."""

    params = (["float32", "float64"], ORTHOGONAL_QUICK_SHAPES)
    param_names = ["dtype", "shape"]
    timeout = 120

    def setup(self, dtype, shape):
        self.init = fastinit.Orthogonal(seed=0)
        self.init((16, 16), dtype)  # lazy imports (numpy.linalg, the QR module) out of the timing

    def time_orthogonal(self, dtype, shape):
        self.init(shape, dtype)

    def peakmem_orthogonal(self, dtype, shape):
        self.init(shape, dtype)
