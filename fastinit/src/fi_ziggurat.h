/*
 * fi_ziggurat.h -- standard normals by the 256-layer ziggurat (Marsaglia & Tsang 2000), scalar
 * reference.  The SIMD paths (fi_simd_fill.h) run the same rounds and call fi_zig_round_* below for
 * the few lanes that miss the fast test, so every path gives these bits.
 *
 * THE NORMAL STREAM (STREAM_VERSION 2; see fi_philox.h for the counter layout).  Element i draws
 * from its own sequence of candidate words, one per round a = 0, 1, 2, ...:
 *   float32: W = word i % 4 of the main-stream block (i / 4, attempt a)      (32 bits)
 *   float64: W = 64-bit number i % 2 (w1:w0 or w3:w2) of block (i / 2, attempt a)
 * Round a uses W as: layer l = W & 255, sign = bit 8, m = W >> 9 (float32, 23 bits) or
 * W >> 12 (float64, 52 bits), candidate x = m * w[l] (x_l 2^-23 resp. 2^-52, one rounding).
 *   fast:  m < k[l], i.e. x < x_{l+1} exactly (integer test): x is under the curve, done.
 *          This is round 0's outcome for 98.5 % of elements; round 0 reads exactly the words the
 *          uniform fill reads.
 *   wedge: l >= 1: U = the 53-bit uniform of aux(i, a, 0).U0; accept x if
 *          f_l + U (f_{l+1} - f_l) < exp(-x^2 / 2), in float64 with fi_exp_f64.
 *   tail:  l == 0 and x >= r: Marsaglia's tail, looping on its own tries k = 0, 1, ...:
 *          e1 = -log(u1) / r, e2 = -log(u2) with u1, u2 in (0, 1] the 53-bit uniforms of
 *          aux(i, a, k).U0 / U1; accept r + e1 when 2 e2 > e1^2 (fi_log_f64).  After 64 tries
 *          (probability < 1e-60) the value is r.
 *   aux(i, a, k) = Philox of the counter {i_lo, i_hi, a, FI_TAG_ZIG | k << 8}: per element, so a
 *   wedge or tail never takes numbers that belong to another element.
 * A round that rejects (wedge) moves to round a + 1.  The tail must loop inside itself: a tail
 * draw restarted from a fresh round would under-weight the tail by its acceptance rate.
 * The truncated normal (FI_TN_NORMAL) runs the same rounds and also rejects a normal outside
 * [za, zb]: each round produces an exact N(0, 1) draw independently of the earlier ones, so
 * rejecting on the bounds and moving on to the next round samples N(0, 1) restricted to [za, zb].
 * After max_rounds rounds (normal: FI_ZIG_ROUNDS = 32, P < 1e-69; truncated normal: the plan's
 * max_attempts, P < 1e-30) the last candidate clamped into [za, zb] is the value.
 *
 * Exactness.  x is a point of a grid of step x_l 2^-23 (float32) or 2^-52 (float64) inside its
 * layer: at the top of a layer that is one ulp of the output, as for the uniform fill's 24- and
 * 53-bit grids; the layer choice and the fast test are exact integer operations, so the only
 * approximations are the one rounding of m * w[l] (w[l] itself rounded once, 2^-24 relative) and,
 * in the rare wedge and tail steps, fdlibm-accurate exp/log (< 1 ulp, float64).  The tail works
 * in float64 for every dtype, so float32 / float16 / bfloat16 get float64's tail resolution; the
 * largest |z| is r + sqrt(2 * 53 ln 2) = 12.23.
 */
#ifndef FASTINIT_ZIGGURAT_H
#define FASTINIT_ZIGGURAT_H

#include <stdint.h>
#include "fi_philox.h"
#include "fi_math.h"
#include "fi_ziggurat_tables.h"

#define FI_TAG_ZIG 2u
#define FI_ZIG_ROUNDS 32u      /* normal: rounds before the fallback (each rejects with p = 0.67 %) */
#define FI_ZIG_TAIL_TRIES 64u  /* tail tries before the fallback (each rejects with p < 8 %) */

/* The two 53-bit numbers of aux(i, a, k), as U >> 11. */
static inline void fi_zig_aux(const uint32_t key[2], uint64_t i, uint32_t a, uint32_t k,
                              uint64_t u[2])
{
    uint32_t ctr[4] = {(uint32_t)i, (uint32_t)(i >> 32), a, FI_TAG_ZIG | (k << 8)};
    uint32_t w[4];
    fi_philox4x32_10(ctr, key, w);
    u[0] = (((uint64_t)w[1] << 32) | w[0]) >> 11;
    u[1] = (((uint64_t)w[3] << 32) | w[2]) >> 11;
}

/* |z| from the tail beyond r (Marsaglia 1964), float64. */
static inline double fi_zig_tail(const uint32_t key[2], uint64_t i, uint32_t a)
{
    const double r = FI_ZIG_R;
    uint64_t u[2];
    for (uint32_t k = 0; k < FI_ZIG_TAIL_TRIES; k++) {
        fi_zig_aux(key, i, a, k, u);
        double e1 = -fi_log_f64((double)(u[0] + 1u) * 0x1.0p-53) / r;
        double e2 = -fi_log_f64((double)(u[1] + 1u) * 0x1.0p-53);
        if (e2 + e2 > e1 * e1) return r + e1;
    }
    return r;
}

/* Wedge test of layer l >= 1 for |x| = ax: 1 when accepted. */
static inline int fi_zig_wedge(const uint32_t key[2], uint64_t i, uint32_t a, unsigned l,
                               double ax)
{
    uint64_t u[2];
    fi_zig_aux(key, i, a, 0, u);
    double y = fi_zig_f[l] + ((double)u[0] * 0x1.0p-53) * (fi_zig_f[l + 1] - fi_zig_f[l]);
    return y < fi_exp_f64(-0.5 * ax * ax);
}

/* One round from candidate word W: 1 when it produces a normal (*z), 0 when the wedge rejects
   (*z = the signed candidate, kept for the fallback). */
static inline int fi_zig_round_f32(const uint32_t key[2], uint64_t i, uint32_t a, uint32_t W,
                                   float *z)
{
    unsigned l = W & 255u;
    int32_t m = (int32_t)(W >> 9);
    float x = (float)m * fi_zig_w32[l];
    int neg = (W >> 8) & 1u;
    *z = neg ? -x : x;
    if (m < fi_zig_k32[l]) return 1;
    if (l == 0) {
        float t = (float)fi_zig_tail(key, i, a);
        *z = neg ? -t : t;
        return 1;
    }
    return fi_zig_wedge(key, i, a, l, (double)x);
}

static inline int fi_zig_round_f64(const uint32_t key[2], uint64_t i, uint32_t a, uint64_t W,
                                   double *z)
{
    unsigned l = (unsigned)(W & 255u);
    int64_t m = (int64_t)(W >> 12);
    double x = (double)m * fi_zig_w64[l];
    int neg = (int)((W >> 8) & 1u);
    *z = neg ? -x : x;
    if (m < fi_zig_k64[l]) return 1;
    if (l == 0) {
        double t = fi_zig_tail(key, i, a);
        *z = neg ? -t : t;
        return 1;
    }
    return fi_zig_wedge(key, i, a, l, x);
}

/* The candidate word of element i in round a. */
static inline uint32_t fi_zig_word_f32(const uint32_t key[2], uint64_t i, uint32_t a)
{
    uint32_t w[4];
    fi_stream_words(key, i >> 2, a, FI_TAG_MAIN, w);
    return w[i & 3u];
}

static inline uint64_t fi_zig_word_f64(const uint32_t key[2], uint64_t i, uint32_t a)
{
    uint32_t w[4];
    fi_stream_words(key, i >> 1, a, FI_TAG_MAIN, w);
    return (i & 1u) ? ((uint64_t)w[3] << 32) | w[2] : ((uint64_t)w[1] << 32) | w[0];
}

/* Element i's value in [za, zb] from round a on, whose word is W (rounds a < max_rounds). */
static inline float fi_zig_from_f32(const uint32_t key[2], uint64_t i, uint32_t a, uint32_t W,
                                    uint32_t max_rounds, float za, float zb)
{
    float z;
    for (;;) {
        if (fi_zig_round_f32(key, i, a, W, &z) && z >= za && z <= zb) return z;
        if (++a >= max_rounds) break;
        W = fi_zig_word_f32(key, i, a);
    }
    return z < za ? za : (z > zb ? zb : z);
}

static inline double fi_zig_from_f64(const uint32_t key[2], uint64_t i, uint32_t a, uint64_t W,
                                     uint32_t max_rounds, double za, double zb)
{
    double z;
    for (;;) {
        if (fi_zig_round_f64(key, i, a, W, &z) && z >= za && z <= zb) return z;
        if (++a >= max_rounds) break;
        W = fi_zig_word_f64(key, i, a);
    }
    return z < za ? za : (z > zb ? zb : z);
}

#endif
