"""OpenMP facts for the Python layer: was the package built with OpenMP, and how many threads
OpenMP would use now (this honours OMP_NUM_THREADS and threadpoolctl's limits, which both act on
the OpenMP runtime's own setting)."""

from fastinit._openmp cimport FI_HAVE_OPENMP, omp_get_max_threads


def openmp_enabled():
    """True when the extension modules were compiled with OpenMP."""
    return bool(FI_HAVE_OPENMP)


def openmp_max_threads():
    """The OpenMP runtime's current thread limit (1 when built without OpenMP)."""
    return int(omp_get_max_threads())


cdef extern from *:
    """
    static const char *fi_cpu_features(void) {
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f")) return "avx512";
        if (__builtin_cpu_supports("avx2")) return "avx2";
    #endif
        return "generic";
    }
    """
    const char *fi_cpu_features()


def cpu_best_path():
    """The widest SIMD level this CPU supports ('avx512', 'avx2' or 'generic')."""
    return fi_cpu_features().decode()
