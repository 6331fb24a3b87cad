/* A stream's elements [0, n) of one buffer over a static OpenMP schedule of `chunk`-element work
   items: the loop behind Kernel.fill and the XLA FFI handler (_fill.pyx).  It is C, not a Cython
   prange, because the handler runs on XLA's threads, which may never have run Python: Cython's
   prange code asks for and saves Python's thread state around the parallel region (harmless with
   one interpreter, wrong once a subinterpreter exists).  The bits do not depend on `threads`:
   every element is a pure function of (key, global index). */
#ifndef FI_PARALLEL_H
#define FI_PARALLEL_H

#include <stdint.h>
#include "fi_simd.h"

static inline void fi_fill_chunks(const fi_fill_params *q, void *buf, int64_t n, int64_t chunk,
                                  int threads)
{
    const int64_t nchunks = (n + chunk - 1) / chunk;
    int64_t c;
    if (threads <= 1 || nchunks <= 1) {
        fi_fill_range(q, buf, 0, n);
        return;
    }
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (c = 0; c < nchunks; c++) {
        const int64_t off = c * chunk;
        fi_fill_range(q, buf, off, n - off < chunk ? n - off : chunk);
    }
}

#endif
