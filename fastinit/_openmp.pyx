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

