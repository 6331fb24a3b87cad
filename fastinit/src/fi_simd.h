/*
 * fi_simd.h -- runtime-dispatched SIMD versions of the fill kernels (AVX2, AVX-512) and the entry
 * point fi_fill_range() that the Cython layer calls.
 *
 * The scalar code in fi_kernels.h is the reference: every SIMD path produces exactly its bits
 * (tests/test_cpu_paths.py checks all paths against it).  The vector kernels are written once, in
 * fi_simd_body.h, over the FV_* primitives defined here, and compiled twice inside
 * `#pragma GCC target` regions, so the rest of the extension keeps the baseline x86-64 ISA and
 * runs on any CPU; the path is chosen once at import (fastinit/_fill.pyx: the best the CPU
 * supports, or the FASTINIT_CPU environment variable) and stored in fi_cpu_path.
 *
 * What SIMD covers: uniform, normal and the FI_TN_NORMAL truncated normal, in float32 / float64
 * and float16 / bfloat16 (float32 tiles of 4096 rounded in SIMD).  The truncated normal runs
 * attempt 0 exactly like the normal fill, collects the rejected elements (~4.6 % for +-2 sigma)
 * of each 4096-element batch, and re-draws them from their own sub-streams (block, attempt a)
 * FI_NV * FV_W at a time, still in SIMD, until all are accepted or max_attempts is reached.
 * The proposal samplers of the truncated normal (tn_method != 0) run attempt 0 of FI_NV * FV_W
 * consecutive elements at once (their per-element streams, Philox and the two float64 logs in
 * SIMD), then the rejected ones' later attempts FI_NV * FV_W at a time; only an element that
 * reaches max_attempts (p < 1e-30) runs the scalar fi_tn_proposal.  Constant fills use the scalar
 * reference, and so do heads of a range up to the next generator block (< 4 elements) and
 * tails shorter than 16 elements; longer tails compute one full SIMD iteration into a buffer.
 */
#ifndef FASTINIT_SIMD_H
#define FASTINIT_SIMD_H

#include "fi_kernels.h"

enum { FI_PATH_GENERIC = 0, FI_PATH_AVX2 = 1, FI_PATH_AVX512 = 2 };

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(FI_NO_SIMD)
#define FI_HAVE_X86_SIMD 1
#else
#define FI_HAVE_X86_SIMD 0
#endif

static int fi_cpu_path = FI_PATH_GENERIC;

#if FI_HAVE_X86_SIMD
#include <immintrin.h>

/* GCC: pre-register-allocation scheduling interleaves the long, independent dependency chains of
   the vector log / sqrt / sin / cos (about 25 % faster float64 normals).  Scheduling never changes
   a result; fp-contract=off is restated so that no FMA can appear whatever the command line. */
#if !defined(__clang__)
#define FI_SIMD_OPTIMIZE \
    _Pragma("GCC optimize(\"schedule-insns\", \"sched-pressure\", \"fp-contract=off\")")
#endif

/* ======================================= AVX-512 ============================================== */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl")
FI_SIMD_OPTIMIZE
#endif

#include "fi_simd_avx512.h"
#include "fi_simd_body.h"
#include "fi_simd_undef.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

/* ========================================= AVX2 =============================================== */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
FI_SIMD_OPTIMIZE
#endif

#include "fi_simd_avx2.h"
#include "fi_simd_body.h"
#include "fi_simd_undef.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* FI_HAVE_X86_SIMD */

/* ---- dispatch -------------------------------------------------------------------------------- */

/* The widest path this CPU runs (AVX-512 needs F, DQ, BW and VL). */
static int fi_cpu_best_path(void)
{
#if FI_HAVE_X86_SIMD
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return FI_PATH_AVX512;
    if (__builtin_cpu_supports("avx2"))
        return FI_PATH_AVX2;
#endif
    return FI_PATH_GENERIC;
}

/* Select a path; returns the path now active (a path the CPU lacks is refused: unchanged). */
static int fi_set_cpu_path(int path)
{
    if (path >= FI_PATH_GENERIC && path <= fi_cpu_best_path())
        fi_cpu_path = path;
    return fi_cpu_path;
}

static int fi_get_cpu_path(void) { return fi_cpu_path; }

/* Fill buffer elements [off, off + n); buffer element 0 is stream element p->start. */
static inline void fi_fill_range(const fi_fill_params *p, void *buf, int64_t off, int64_t n)
{
#if FI_HAVE_X86_SIMD
    if (fi_cpu_path == FI_PATH_AVX512) { fi_fill_range_avx512(p, buf, off, n); return; }
    if (fi_cpu_path == FI_PATH_AVX2) { fi_fill_range_avx2(p, buf, off, n); return; }
#endif
    fi_fill_range_generic(p, buf, off, n);
}

/* Test hook: round to float16 / bfloat16 with the active path's vector code. */
static inline void fi_round_half_path(int bf16, const float *in, int64_t n, uint16_t *out)
{
#if FI_HAVE_X86_SIMD
    if (fi_cpu_path == FI_PATH_AVX512) { fi_round_half_avx512(bf16, in, n, out); return; }
    if (fi_cpu_path == FI_PATH_AVX2) { fi_round_half_avx2(bf16, in, n, out); return; }
#endif
    for (int64_t j = 0; j < n; j++) out[j] = bf16 ? fi_f32_to_bf16(in[j]) : fi_f32_to_f16(in[j]);
}

#endif
