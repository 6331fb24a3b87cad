"""The one seam between Python and the fill kernels (src/fi_kernels.h, dispatched by
src/fi_simd.h).

`Kernel` holds one stream's parameters for one output dtype; `Kernel.fill` writes any range of
the stream into a buffer and `Kernel.fill_runs` writes many equal-length runs (a column block of
a matrix, say) in one call.  `fill_constant` writes a constant.  Each entry point takes the
output array and checks it itself -- its dtype against the kernel's, C-contiguity, alignment,
writability and the index range -- so no call from Python can make a kernel write outside its
buffer; the parameters' meaning (finite, consistent, in the dtype's range) is checked by the
Python layer (fastinit._stream) before a Kernel is built.  The GIL is released around each
kernel call; work is split over a static OpenMP schedule of fixed chunks, and the output does not
depend on the split: every element is a pure function of (key, global index).

The kernels have a portable scalar path and AVX2 / AVX-512 paths that give the same bits
(src/fi_simd.h).  The path is chosen once, at import: the widest one the CPU supports, or the one
named by the environment variable FASTINIT_CPU=generic|avx2|avx512 (a path the CPU lacks, or an
unknown name, falls back to the widest supported path with a warning).
"""

import os
import warnings

import ml_dtypes
import numpy as np

cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

cnp.import_array()

#: The kernels' code paths, indexed by their FI_PATH_* codes.
CPU_PATHS = tuple({FI_PATH_GENERIC: "generic", FI_PATH_AVX2: "avx2",
                   FI_PATH_AVX512: "avx512"}[code] for code in range(3))

#: The kernels' dtype code of each output dtype they fill.
DTYPE_CODES = {
    np.dtype(np.float32): FI_F32,
    np.dtype(np.float64): FI_F64,
    np.dtype(np.float16): FI_F16,
    np.dtype(ml_dtypes.bfloat16): FI_BF16,
}

# Elements per OpenMP work item, and the size below which threads cost more than they save.
cdef int64_t CHUNK = 65536
cdef int64_t PARALLEL_MIN = 32768
cdef object U64_END = 2**64


def supported_cpu_paths():
    """The code paths this CPU can run, narrowest first (always starts with 'generic')."""
    return CPU_PATHS[:fi_cpu_best_path() + 1]


def cpu_path():
    """The code path the fill kernels use now: 'generic', 'avx2' or 'avx512'."""
    return CPU_PATHS[fi_get_cpu_path()]


def set_cpu_path(name):
    """Switch the fill kernels to code path `name` (tests and benchmarks); returns the old one.

    Raises ValueError for an unknown name or a path this CPU cannot run.  Not thread-safe: do not
    call it while another thread is filling."""
    if name not in CPU_PATHS:
        raise ValueError(f"unknown CPU path {name!r}; expected one of {CPU_PATHS}")
    if name not in supported_cpu_paths():
        raise ValueError(f"this CPU cannot run the {name!r} path "
                         f"(supported: {supported_cpu_paths()})")
    old = cpu_path()
    fi_set_cpu_path(CPU_PATHS.index(name))
    return old


def _select_cpu_path_at_import():
    best = CPU_PATHS[fi_cpu_best_path()]
    want = os.environ.get("FASTINIT_CPU", "").strip().lower()
    if not want:
        want = best
    elif want not in CPU_PATHS:
        warnings.warn(f"FASTINIT_CPU={want!r} is not one of {CPU_PATHS}; using {best!r}",
                      RuntimeWarning, stacklevel=2)
        want = best
    elif want not in supported_cpu_paths():
        warnings.warn(f"FASTINIT_CPU={want!r}: this CPU cannot run that path; using {best!r}",
                      RuntimeWarning, stacklevel=2)
        want = best
    fi_set_cpu_path(CPU_PATHS.index(want))


_select_cpu_path_at_import()


cdef check_output(cnp.ndarray out, object dtype):
    """numpy's checks of an output buffer, plus its dtype against the one expected."""
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, this kernel fills {dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(out):
        raise ValueError("out must be C-contiguous")
    if not cnp.PyArray_ISALIGNED(out):
        raise ValueError("out must be aligned")
    if not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError("out is read-only")


cdef int threads_for(int64_t n, int64_t items, int n_threads) noexcept:
    cdef int nt = n_threads if n >= PARALLEL_MIN else 1
    if nt > items:
        nt = <int> items
    return nt if nt > 1 else 1


cdef void fill_chunks(const fi_fill_params *q, void *buf, int64_t n, int n_threads):
    """Buffer elements [0, n) over a static OpenMP schedule of CHUNK-element work items."""
    cdef int64_t nchunks = (n + CHUNK - 1) // CHUNK
    cdef int64_t c, off
    cdef int nt = threads_for(n, nchunks, n_threads)
    with nogil:
        if nt == 1:
            fi_fill_range(q, buf, 0, n)
        else:
            for c in prange(nchunks, num_threads=nt, schedule='static'):
                off = c * CHUNK
                fi_fill_range(q, buf, off, min(CHUNK, n - off))


cdef class Kernel:
    """One stream's kernel parameters in one output dtype.

    Args:
        dist: FI_DIST_UNIFORM (p0 = low, p1 = high - low), FI_DIST_NORMAL or
            FI_DIST_TRUNCNORM (p0 = mean, p1 = stddev).
        dtype: float32, float64, float16 or bfloat16.
        key: the two 32-bit Philox key words.
        lo, hi: clamp bounds, representable in `dtype`.
        za, zb, tn_method, tn_alpha, tn_m2, max_attempts: the truncated-normal sampler
            (fastinit._stream.truncnorm_plan).
    """

    cdef fi_fill_params p
    cdef readonly object dtype

    def __cinit__(self, int dist, dtype, key, double p0, double p1, double lo, double hi,
                  double za=0.0, double zb=0.0, int tn_method=FI_TN_NORMAL,
                  double tn_alpha=0.0, double tn_m2=0.0, uint32_t max_attempts=1):
        if dist not in (FI_DIST_UNIFORM, FI_DIST_NORMAL, FI_DIST_TRUNCNORM):
            raise ValueError(f"unknown distribution code {dist}")
        if tn_method not in (FI_TN_NORMAL, FI_TN_UNIFORM, FI_TN_EXP, FI_TN_EXP_NEG):
            raise ValueError(f"unknown truncated-normal method {tn_method}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.dtype = np.dtype(dtype)
        code = DTYPE_CODES.get(self.dtype)
        if code is None:
            raise TypeError(f"the kernels fill float16, bfloat16, float32 or float64, "
                            f"not {self.dtype}")
        k0, k1 = key
        self.p.key[0] = k0
        self.p.key[1] = k1
        self.p.start = 0
        self.p.dist = dist
        self.p.dtype = code
        self.p.p0 = p0
        self.p.p1 = p1
        self.p.lo = lo
        self.p.hi = hi
        self.p.za = za
        self.p.zb = zb
        self.p.tn_alpha = tn_alpha
        self.p.tn_m2 = tn_m2
        self.p.tn_method = tn_method
        self.p.max_attempts = max_attempts
        self.p.pattern = 0

    def fill(self, cnp.ndarray out, start, int n_threads=1):
        """Write stream elements [start, start + out.size) into `out` (flat C order)."""
        check_output(out, self.dtype)
        cdef int64_t n = cnp.PyArray_SIZE(out)
        if not 0 <= start <= U64_END - n:
            raise ValueError(f"stream range [{start}, {start} + {n}) is outside [0, 2**64)")
        cdef fi_fill_params q = self.p
        q.start = <uint64_t> start
        fill_chunks(&q, cnp.PyArray_DATA(out), n, n_threads)
        return out

    def fill_runs(self, cnp.ndarray out, const int64_t[::1] starts, int64_t run_length,
                  int n_threads=1):
        """Write len(starts) runs of `run_length` stream elements back to back into `out`:
        run r is stream elements [starts[r], starts[r] + run_length).  One native call for any
        number of runs, however short."""
        check_output(out, self.dtype)
        cdef int64_t nruns = starts.shape[0]
        cdef int64_t n = cnp.PyArray_SIZE(out)
        if run_length < 0 or n != nruns * run_length:
            raise ValueError(f"out has {n} elements, not {nruns} runs of {run_length}")
        cdef int64_t r, lo_start = 0, hi_start = 0
        with nogil:
            for r in range(nruns):
                if starts[r] < lo_start:
                    lo_start = starts[r]
                if starts[r] > hi_start:
                    hi_start = starts[r]
        if lo_start < 0:
            raise ValueError(f"a run starts at {lo_start} < 0")
        if n == 0:
            return out
        cdef char *buf = <char *> cnp.PyArray_DATA(out)
        cdef int itemsize = <int> cnp.PyArray_ITEMSIZE(out)
        cdef int64_t ngroups = (nruns + RUNS_PER_ITEM - 1) // RUNS_PER_ITEM
        cdef int64_t g, r0
        cdef int nt = threads_for(n, ngroups, n_threads)
        with nogil:
            if nt == 1:
                fill_run_group(&self.p, buf, itemsize, &starts[0], 0, nruns, run_length)
            else:
                for g in prange(ngroups, num_threads=nt, schedule='static'):
                    r0 = g * RUNS_PER_ITEM
                    fill_run_group(&self.p, buf, itemsize, &starts[0], r0,
                                   min(nruns, r0 + RUNS_PER_ITEM), run_length)
        return out


# Runs per OpenMP work item of fill_runs.
cdef int64_t RUNS_PER_ITEM = 512
# Short runs separated by short gaps (a column block of a narrow matrix) are generated as one span
# of the stream into a tile and copied out: a SIMD fill of the whole span costs less than one
# fill call per run, each of which computes at least one full vector iteration (256 float32
# elements on AVX-512).  A run of SPAN_MAX_RUN or more elements, or a gap over SPAN_MAX_GAP, is
# filled directly.
cdef enum:
    TILE_BYTES = 65536
cdef int64_t SPAN_MAX_RUN = 256
cdef int64_t SPAN_MAX_GAP = 256


cdef inline void run_into(const fi_fill_params *p, char *buf, int itemsize, int64_t start,
                          int64_t off, int64_t n) noexcept nogil:
    # fi_fill_range writes buffer elements [off, off + n) as stream elements start' + off ...;
    # choose start' so that buffer element off is stream element `start` (uint64 wraps).
    cdef fi_fill_params q = p[0]
    q.start = <uint64_t> start - <uint64_t> off
    fi_fill_range(&q, buf, off, n)


cdef void fill_run_group(const fi_fill_params *p, char *buf, int itemsize,
                         const int64_t *starts, int64_t r, int64_t r_end,
                         int64_t n) noexcept nogil:
    """Runs r .. r_end - 1 (run k: stream [starts[k], starts[k] + n) into buffer element k*n)."""
    cdef char tile[TILE_BYTES]
    cdef int64_t tile_elems = TILE_BYTES // itemsize
    cdef int64_t r1, span, k
    cdef fi_fill_params q = p[0]
    while r < r_end:
        r1 = r + 1
        if n < SPAN_MAX_RUN:
            while (r1 < r_end and starts[r1] >= starts[r1 - 1] + n
                   and starts[r1] - starts[r1 - 1] - n <= SPAN_MAX_GAP
                   and starts[r1] + n - starts[r] <= tile_elems):
                r1 += 1
        if r1 - r == 1:
            run_into(p, buf, itemsize, starts[r], r * n, n)
        else:
            span = starts[r1 - 1] + n - starts[r]
            q.start = <uint64_t> starts[r]
            fi_fill_range(&q, tile, 0, span)
            for k in range(r, r1):
                memcpy(buf + k * n * itemsize, tile + (starts[k] - starts[r]) * itemsize,
                       n * itemsize)
        r = r1


_PATTERN_VIEW = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def fill_constant(cnp.ndarray out, value, int n_threads=1):
    """Fill `out` with `value` cast to its dtype (the caller checked that the cast is exact
    enough: no overflow, no wraparound).  1/2/4/8-byte items of a C-contiguous array go through
    the parallel kernel; anything else through numpy."""
    cdef fi_fill_params q
    cdef int64_t n = cnp.PyArray_SIZE(out)
    cdef int itemsize = out.dtype.itemsize
    if not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError("out is read-only")
    if n == 0:
        return out
    if itemsize not in _PATTERN_VIEW or not cnp.PyArray_IS_C_CONTIGUOUS(out) \
            or not cnp.PyArray_ISALIGNED(out):
        out[...] = np.asarray(value).astype(out.dtype)
        return out
    memset(&q, 0, sizeof(q))
    q.dist = FI_DIST_CONSTANT
    q.dtype = itemsize
    q.start = 0
    q.pattern = int(np.asarray(value).astype(out.dtype).reshape(1).view(
        _PATTERN_VIEW[itemsize])[0])
    fill_chunks(&q, cnp.PyArray_DATA(out), n, n_threads)
    return out
