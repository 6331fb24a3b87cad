# The C kernels' declarations, once: enums, the parameter struct and the entry points of
# src/fi_simd.h (which includes fi_kernels.h, fi_philox.h and fi_math.h).  Every extension that
# calls a kernel cimports from here; Python reads the codes from this module (fastinit._fill).
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t

cdef extern from "fi_simd.h" nogil:
    cpdef enum:
        FI_F32
        FI_F64
        FI_F16
        FI_BF16
    cpdef enum:
        FI_DIST_CONSTANT
        FI_DIST_UNIFORM
        FI_DIST_NORMAL
        FI_DIST_TRUNCNORM
    cpdef enum:
        FI_TN_NORMAL
        FI_TN_UNIFORM
        FI_TN_EXP
        FI_TN_EXP_NEG
    cpdef enum:
        FI_PATH_GENERIC
        FI_PATH_AVX2
        FI_PATH_AVX512

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
    int fi_cpu_best_path() noexcept
    int fi_set_cpu_path(int path) noexcept
    int fi_get_cpu_path() noexcept

    # building blocks, for the known-answer and accuracy tests (fastinit._testing)
    void fi_philox_raw(const uint32_t *ctr, const uint32_t *key, uint32_t *out) noexcept
    float fi_log_f32(float x) noexcept
    double fi_log_f64(double x) noexcept
    void fi_sincos_f32(float x, float *s, float *c) noexcept
    void fi_sincos_f64(double x, double *s, double *c) noexcept
    uint16_t fi_f32_to_f16(float f) noexcept
    uint16_t fi_f32_to_bf16(float f) noexcept
    void fi_round_half_path(int bf16, const float *x, int64_t n, uint16_t *out) noexcept
