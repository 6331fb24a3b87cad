# The one gateway to OpenMP.  Built without -fopenmp, the same code compiles to serial stubs.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FI_HAVE_OPENMP 1
    #else
    #define FI_HAVE_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    int FI_HAVE_OPENMP
    int omp_get_max_threads() noexcept nogil
