# The one gateway to OpenMP.  Built without -fopenmp, the same code compiles to serial stubs.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FI_HAVE_OPENMP 1
    /* omp_pause_resource_all is OpenMP 5.0.  GCC >= 9 ships it in libgomp while still announcing
       _OPENMP 201511, so the compiler version is checked too; older runtimes cannot release
       their pool. */
    #if _OPENMP >= 201811 || (defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9) \
        || (defined(__clang__) && __clang_major__ >= 8)
    static int fi_omp_release_pool(void) { return omp_pause_resource_all(omp_pause_hard); }
    #else
    static int fi_omp_release_pool(void) { return -1; }
    #endif
    #else
    #define FI_HAVE_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    static int fi_omp_release_pool(void) { return 0; }
    #endif
    """
    int FI_HAVE_OPENMP
    int omp_get_max_threads() noexcept nogil
    int fi_omp_release_pool() noexcept nogil
