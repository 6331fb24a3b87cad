"""OpenMP facts for the Python layer: was the package built with OpenMP, and how many threads
OpenMP would use now (this honours OMP_NUM_THREADS and threadpoolctl's limits, which both act on
the OpenMP runtime's own setting); and the fork guard."""

from fastinit._openmp cimport FI_HAVE_OPENMP, fi_omp_release_pool, omp_get_max_threads


def openmp_enabled():
    """True when the extension modules were compiled with OpenMP."""
    return bool(FI_HAVE_OPENMP)


def openmp_max_threads():
    """The OpenMP runtime's current thread limit (1 when built without OpenMP)."""
    return int(omp_get_max_threads())


def release_thread_pool():
    """Shut down the calling thread's OpenMP worker threads; 0 on success.

    GNU libgomp keeps its workers alive between parallel regions, and a forked child inherits
    the pool's bookkeeping but not its threads, so the child's next parallel region waits
    forever for workers that do not exist.  Releasing the pool right before fork() makes the
    child (and the parent, on its next parallel region) start fresh workers.  Returns nonzero
    when the runtime cannot do it (OpenMP older than 5.0, or called inside a parallel region).
    """
    return int(fi_omp_release_pool())
