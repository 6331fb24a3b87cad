"""Cython wrapper over the fill kernels (src/fi_kernels.h).

The caller (fastinit._stream) has validated everything: the buffer is C-contiguous, aligned,
writable and of a supported dtype, and every parameter is finite and consistent.  This layer only
packs the parameters, releases the GIL and runs the kernel over fixed chunks with a static OpenMP
schedule.  The output does not depend on the chunking: every element is a pure function of
(key, global index).
"""

cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport uint16_t, uint32_t, uint64_t, int64_t

cnp.import_array()

cdef extern from "fi_kernels.h" nogil:
    ctypedef struct fi_fill_params:
        uint32_t key[2]
        uint64_t start
        int dist
        int dtype
        double p0, p1, lo, hi, za, zb, tn_alpha, tn_m2
        int tn_method
        uint32_t max_attempts
        uint64_t pattern
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

# Elements per OpenMP work item, and the size below which threads cost more than they save.
cdef int64_t CHUNK = 65536
cdef int64_t PARALLEL_MIN = 32768


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
