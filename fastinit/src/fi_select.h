/*
 * fi_select.h -- the two bit tricks of fastinit/_select.pyx's band scan.
 *
 * The scan looks at every key but acts on few (those below the band's top, about 13% at
 * sparsity 0.1): a branch per key mispredicts often enough to cost several times the keys'
 * generation.  So it compares 16 keys at once into a bit mask and visits only the set bits.
 * SSE2 is part of x86-64, so the vector path needs no -march flag; other CPUs get the same mask
 * from scalar compares.
 */
#ifndef FASTINIT_SELECT_H
#define FASTINIT_SELECT_H

#include <stdint.h>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
/* Bit i set when x[i] < t, for i < 16. */
static inline uint32_t fi_lt_mask16(const float *x, float t)
{
    const __m128 v = _mm_set1_ps(t);
    return (uint32_t)_mm_movemask_ps(_mm_cmplt_ps(_mm_loadu_ps(x), v))
         | (uint32_t)_mm_movemask_ps(_mm_cmplt_ps(_mm_loadu_ps(x + 4), v)) << 4
         | (uint32_t)_mm_movemask_ps(_mm_cmplt_ps(_mm_loadu_ps(x + 8), v)) << 8
         | (uint32_t)_mm_movemask_ps(_mm_cmplt_ps(_mm_loadu_ps(x + 12), v)) << 12;
}
#else
static inline uint32_t fi_lt_mask16(const float *x, float t)
{
    uint32_t m = 0;
    for (int i = 0; i < 16; i++)
        m |= (uint32_t)(x[i] < t) << i;
    return m;
}
#endif

/* Index of the lowest set bit of m != 0. */
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static inline int fi_ctz32(uint32_t m) { unsigned long i; _BitScanForward(&i, m); return (int)i; }
#else
static inline int fi_ctz32(uint32_t m) { return __builtin_ctz(m); }
#endif

#endif
