"""Cython wrapper over the fill kernels (src/fi_kernels.h, dispatched by src/fi_simd.h).

The caller (fastinit._stream) has validated everything: the buffer is C-contiguous, aligned,
writable and of a supported dtype, and every parameter is finite and consistent.  This layer only
packs the parameters, releases the GIL and runs the kernel over fixed chunks with a static OpenMP
schedule.  The output does not depend on the chunking: every element is a pure function of
(key, global index).

The kernels have a portable scalar path and AVX2 / AVX-512 paths that give the same bits
(src/fi_simd.h).  The path is chosen once, at import: the widest one the CPU supports, or the one
named by the environment variable FASTINIT_CPU=generic|avx2|avx512 (a path the CPU lacks, or an
unknown name, falls back to the widest supported path with a warning).
"""

import os
import warnings

cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport uint16_t, uint32_t, uint64_t, int64_t

cnp.import_array()

cdef extern from "fi_simd.h" nogil:
    ctypedef struct fi_fill_params:
        uint32_t key[2]
        uint64_t start
        int dist
        int dtype
        double p0, p1, lo, hi, za, zb, tn_alpha, tn_m2
        int tn_method
        uint32_t max_attempts
        uint64_t pattern
        int nt_stores
    void fi_fill_range(const fi_fill_params *p, void *buf, int64_t off, int64_t n) noexcept
    void fi_philox_raw(const uint32_t *ctr, const uint32_t *key, uint32_t *out) noexcept
    void fi_box_muller_f32(uint32_t wr, uint32_t wa, float *z0, float *z1) noexcept
    void fi_box_muller_f64(uint64_t ur, uint64_t ua, double *z0, double *z1) noexcept
    float fi_log_f32(float x) noexcept
    double fi_log_f64(double x) noexcept
    void fi_sincos_f32(float x, float *s, float *c) noexcept
    void fi_sincos_f64(double x, double *s, double *c) noexcept
    uint16_t fi_f32_to_f16(float f) noexcept
    uint16_t fi_f32_to_bf16(float f) noexcept
    int fi_cpu_best_path() noexcept
    int fi_set_cpu_path(int path) noexcept
    int fi_get_cpu_path() noexcept
    void fi_round_half_path(int bf16, const float *x, int64_t n, uint16_t *out) noexcept

CPU_PATHS = ("generic", "avx2", "avx512")


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

# Elements per OpenMP work item, and the size below which threads cost more than they save.
cdef int64_t CHUNK = 65536
cdef int64_t PARALLEL_MIN = 32768
# Outputs of at least this many bytes are written with non-temporal stores on the SIMD paths (they
# skip the read-for-ownership of each cache line; only worth it far beyond the last-level cache,
# since the data is then not in cache afterwards).  Same bits either way.  Off by default: on the
# 2-vCPU EPYC development VM the kernels are compute-bound below the regular-store bandwidth and
# the L1 tile + stream copy cost 5-12 % (tests force it with set_nt_min_bytes(0)).
cdef int64_t NT_MIN_BYTES = 1 << 62


def set_nt_min_bytes(int64_t nbytes):
    """Set the non-temporal-store threshold in bytes (tests, benchmarks); returns the old one."""
    global NT_MIN_BYTES
    old = NT_MIN_BYTES
    NT_MIN_BYTES = nbytes
    return old


def fill(cnp.ndarray out, int dist, int dtype_code, uint32_t k0, uint32_t k1, uint64_t start,
         double p0=0.0, double p1=0.0, double lo=0.0, double hi=0.0,
         double za=0.0, double zb=0.0, double tn_alpha=0.0, double tn_m2=0.0,
         int tn_method=0, uint32_t max_attempts=1, uint64_t pattern=0, int n_threads=1):
    """Fill `out` (validated, C-contiguous) with stream elements [start, start + out.size)."""
    cdef fi_fill_params p
    p.key[0] = k0
    p.key[1] = k1
    p.start = start
    p.dist = dist
    p.dtype = dtype_code
    p.p0 = p0
    p.p1 = p1
    p.lo = lo
    p.hi = hi
    p.za = za
    p.zb = zb
    p.tn_alpha = tn_alpha
    p.tn_m2 = tn_m2
    p.tn_method = tn_method
    p.max_attempts = max_attempts
    p.pattern = pattern
    p.nt_stores = cnp.PyArray_NBYTES(out) >= NT_MIN_BYTES
    cdef void *buf = cnp.PyArray_DATA(out)
    cdef int64_t n = cnp.PyArray_SIZE(out)
    cdef int64_t nchunks = (n + CHUNK - 1) // CHUNK
    cdef int64_t c, off
    cdef int nt = n_threads if n >= PARALLEL_MIN else 1
    if nt > nchunks:
        nt = <int> nchunks
    with nogil:
        if nt <= 1:
            fi_fill_range(&p, buf, 0, n)
        else:
            for c in prange(nchunks, num_threads=nt, schedule='static'):
                off = c * CHUNK
                fi_fill_range(&p, buf, off, min(CHUNK, n - off))
    return out


# ---- test hooks: the building blocks, exposed so the tests can check them directly ------------

def philox4x32_10(ctr, key):
    """Raw Philox4x32-10 block for a 4-word counter and 2-word key (known-answer tests)."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t o[4]
    for i in range(4):
        c[i] = ctr[i]
    k[0] = key[0]
    k[1] = key[1]
    fi_philox_raw(c, k, o)
    return (o[0], o[1], o[2], o[3])


def log_f32(float[::1] x, float[::1] out):
    for i in range(x.shape[0]):
        out[i] = fi_log_f32(x[i])


def log_f64(double[::1] x, double[::1] out):
    for i in range(x.shape[0]):
        out[i] = fi_log_f64(x[i])


def sincos_f32(float[::1] x, float[::1] s, float[::1] c):
    for i in range(x.shape[0]):
        fi_sincos_f32(x[i], &s[i], &c[i])


def sincos_f64(double[::1] x, double[::1] s, double[::1] c):
    for i in range(x.shape[0]):
        fi_sincos_f64(x[i], &s[i], &c[i])


def round_f16(float[::1] x, uint16_t[::1] out):
    for i in range(x.shape[0]):
        out[i] = fi_f32_to_f16(x[i])


def round_bf16(float[::1] x, uint16_t[::1] out):
    for i in range(x.shape[0]):
        out[i] = fi_f32_to_bf16(x[i])


def _round_half_path(int bf16, float[::1] x, uint16_t[::1] out):
    if out.shape[0] < x.shape[0]:
        raise ValueError("out is shorter than x")
    if x.shape[0]:
        fi_round_half_path(bf16, &x[0], x.shape[0], &out[0])


def round_f16_path(float[::1] x, uint16_t[::1] out):
    """float16 rounding with the active CPU path's vector code (tests)."""
    _round_half_path(0, x, out)


def round_bf16_path(float[::1] x, uint16_t[::1] out):
    """bfloat16 rounding with the active CPU path's vector code (tests)."""
    _round_half_path(1, x, out)
