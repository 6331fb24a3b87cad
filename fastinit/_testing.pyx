"""Test hooks: the kernels' building blocks, exposed so that the test suite can check them
directly (Philox known-answer vectors, the accuracy of fastinit's own log and sin/cos, the
float16/bfloat16 rounding on each CPU path).  Not part of the API; nothing in the package uses
this module."""

from libc.stdint cimport int64_t, uint16_t, uint32_t

from fastinit._fill cimport (
    fi_f32_to_bf16,
    fi_f32_to_f16,
    fi_get_cpu_path,
    fi_log_f32,
    fi_log_f64,
    fi_philox_raw,
    fi_round_half_path,
    fi_set_cpu_path,
    fi_sincos_f32,
    fi_sincos_f64,
)

from fastinit._fill import CPU_PATHS


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


def round_half_path(str path, bint bf16, float[::1] x, uint16_t[::1] out):
    """float16 (bf16=False) or bfloat16 rounding with the vector code of CPU path `path`.

    This module has its own copy of the dispatch state (the kernels are static inline C), so
    the path is selected here for the call and restored after."""
    if out.shape[0] < x.shape[0]:
        raise ValueError("out is shorter than x")
    cdef int want = CPU_PATHS.index(path)
    cdef int old = fi_get_cpu_path()
    if fi_set_cpu_path(want) != want:
        raise ValueError(f"this CPU cannot run the {path!r} path")
    try:
        if x.shape[0]:
            fi_round_half_path(bf16, &x[0], x.shape[0], &out[0])
    finally:
        fi_set_cpu_path(old)
