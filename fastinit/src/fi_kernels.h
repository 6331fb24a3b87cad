/*
 * fi_kernels.h -- the fill kernels: constant, uniform, normal and truncated normal, in float32,
 * float64, float16 and bfloat16, over any range [start, start + n) of an element stream.
 *
 * Kernels never fail and never touch Python: the Python layer has validated every parameter and
 * computed the clamp bounds, so here everything is arithmetic.  The code here is the portable
 * scalar reference: fi_fill_range_generic() fills elements [off, off + n) of a buffer whose
 * element 0 is stream element `start`.  The Cython layer calls fi_fill_range() (fi_simd.h) from a
 * static OpenMP schedule over fixed chunks; it runs this code or an AVX2 / AVX-512 version of it
 * that gives exactly the same bits.
 *
 * float16 and bfloat16 are computed exactly as float32 (same stream, same arithmetic), clamped to
 * bounds that are representable in the output type, and rounded once, FI_HALF_TILE values at a
 * time from a buffer on the stack: there is never a full float32 copy.  Clamping before rounding
 * is enough because rounding is monotone: lo <= x <= hi implies lo <= round(x) <= hi when lo and
 * hi are representable.
 *
 * Truncated normal (see fastinit/_stream.py for how the method is chosen):
 *   FI_TN_NORMAL   rejection from the Box-Muller normals of the main stream: attempt 0 uses the
 *                  same words as the normal fill, retry a of element i uses block (i's block,
 *                  attempt a) and i's own position in it.  Used whenever P(a <= Z <= b) is large.
 *   FI_TN_UNIFORM  Robert (1995) uniform proposal on [za, zb], accept if log u <= (m2 - x^2) / 2,
 *                  where m2 = min x^2 on the interval.  For short intervals.
 *   FI_TN_EXP      Robert (1995) translated-exponential proposal with rate alpha, for one-sided
 *                  tails (za >= 0; FI_TN_EXP_NEG mirrors zb <= 0).
 *   The proposal samplers draw per element (tag FI_TAG_ELEMENT, block = element index,
 *   attempt = retry) and work in float64.  After max_attempts rejections (probability < 1e-30
 *   by the choice of max_attempts) the last proposal is clamped into [za, zb]: deterministic,
 *   in bounds, and never a hang.
 */
#ifndef FASTINIT_KERNELS_H
#define FASTINIT_KERNELS_H

#include <stdint.h>
#include <stddef.h>
#include "fi_philox.h"
#include "fi_math.h"

enum { FI_F32 = 0, FI_F64 = 1, FI_F16 = 2, FI_BF16 = 3 };
enum { FI_DIST_CONSTANT = 0, FI_DIST_UNIFORM = 1, FI_DIST_NORMAL = 2, FI_DIST_TRUNCNORM = 3 };
enum { FI_TN_NORMAL = 0, FI_TN_UNIFORM = 1, FI_TN_EXP = 2, FI_TN_EXP_NEG = 3 };

#define FI_HALF_TILE 512

typedef struct {
    uint32_t key[2];
    uint64_t start;        /* stream index of buffer element 0 */
    int dist;              /* FI_DIST_* */
    int dtype;             /* FI_F32, ...; for FI_DIST_CONSTANT the item size in bytes */
    double p0, p1;         /* uniform: low, high - low;  normal / truncnorm: mean, stddev */
    double lo, hi;         /* clamp bounds, representable in the output dtype */
    double za, zb;         /* truncnorm: standardized bounds */
    double tn_alpha;       /* truncnorm FI_TN_EXP*: rate */
    double tn_m2;          /* truncnorm FI_TN_UNIFORM: min of x^2 on [za, zb] */
    int tn_method;         /* FI_TN_* */
    uint32_t max_attempts; /* truncnorm: attempts before the deterministic fallback (>= 1) */
    uint64_t pattern;      /* constant: the bit pattern of one element */
} fi_fill_params;

/* Walk elements [first, first + n) block by block, W elements a block: inside, b is the block
   index, j..jend the positions of the block to write and o the next output index.  The loop counts
   elements rather than comparing against first + n, which wraps to 0 for a range that ends at
   stream index 2^64. */
#define FI_BLOCKS_BEGIN(first, n, W)                                                          \
    {                                                                                         \
        uint64_t i_ = (first);                                                                \
        int64_t left_ = (n), o = 0;                                                           \
        while (left_ > 0) {                                                                   \
            uint64_t b = i_ / (W);                                                            \
            unsigned j = (unsigned)(i_ % (W));                                                \
            unsigned jend = ((int64_t)((W) - j) < left_) ? (W) : j + (unsigned)left_;         \
            left_ -= (int64_t)(jend - j);                                                     \
            i_ += jend - j;
#define FI_BLOCKS_END                                                                         \
        }                                                                                     \
    }

static inline float fi_clamp_f32(float x, float lo, float hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static inline double fi_clamp_f64(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* ---- uniform ---------------------------------------------------------------------------------- */

static void fi_uniform_f32(const fi_fill_params *p, uint64_t first, int64_t n, float *out)
{
    const float low = (float)p->p0, scale = (float)p->p1;
    const float lo = (float)p->lo, hi = (float)p->hi;
    uint32_t w[4];
    FI_BLOCKS_BEGIN(first, n, 4)
        fi_stream_words(p->key, b, 0, FI_TAG_MAIN, w);
        for (; j < jend; j++) {
            float u = (float)(w[j] >> 8) * 0x1.0p-24f;
            out[o++] = fi_clamp_f32(low + u * scale, lo, hi);
        }
    FI_BLOCKS_END
}

static void fi_uniform_f64(const fi_fill_params *p, uint64_t first, int64_t n, double *out)
{
    const double low = p->p0, scale = p->p1, lo = p->lo, hi = p->hi;
    uint32_t w[4];
    FI_BLOCKS_BEGIN(first, n, 2)
        fi_stream_words(p->key, b, 0, FI_TAG_MAIN, w);
        for (; j < jend; j++) {
            uint64_t U = ((uint64_t)w[2 * j + 1] << 32) | w[2 * j];
            double u = (double)(U >> 11) * 0x1.0p-53;
            out[o++] = fi_clamp_f64(low + u * scale, lo, hi);
        }
    FI_BLOCKS_END
}

/* ---- normal ----------------------------------------------------------------------------------- */

static inline void fi_normal_block_f32(const uint32_t key[2], uint64_t b, uint32_t attempt,
                                       float z[4])
{
    uint32_t w[4];
    fi_stream_words(key, b, attempt, FI_TAG_MAIN, w);
    fi_box_muller_f32(w[0], w[1], &z[0], &z[1]);
    fi_box_muller_f32(w[2], w[3], &z[2], &z[3]);
}

static inline void fi_normal_block_f64(const uint32_t key[2], uint64_t b, uint32_t attempt,
                                       double z[2])
{
    uint32_t w[4];
    fi_stream_words(key, b, attempt, FI_TAG_MAIN, w);
    fi_box_muller_f64(((uint64_t)w[1] << 32) | w[0], ((uint64_t)w[3] << 32) | w[2], &z[0], &z[1]);
}

static void fi_normal_f32(const fi_fill_params *p, uint64_t first, int64_t n, float *out)
{
    const float mean = (float)p->p0, stddev = (float)p->p1;
    const float lo = (float)p->lo, hi = (float)p->hi;
    float z[4];
    FI_BLOCKS_BEGIN(first, n, 4)
        fi_normal_block_f32(p->key, b, 0, z);
        for (; j < jend; j++)
            out[o++] = fi_clamp_f32(mean + stddev * z[j], lo, hi);
    FI_BLOCKS_END
}

static void fi_normal_f64(const fi_fill_params *p, uint64_t first, int64_t n, double *out)
{
    const double mean = p->p0, stddev = p->p1, lo = p->lo, hi = p->hi;
    double z[2];
    FI_BLOCKS_BEGIN(first, n, 2)
        fi_normal_block_f64(p->key, b, 0, z);
        for (; j < jend; j++)
            out[o++] = fi_clamp_f64(mean + stddev * z[j], lo, hi);
    FI_BLOCKS_END
}

/* ---- truncated normal ------------------------------------------------------------------------- */

/* One standardized draw from the proposal samplers (float64, per-element stream). */
static double fi_tn_proposal(const fi_fill_params *p, uint64_t i)
{
    const int neg = p->tn_method == FI_TN_EXP_NEG;
    const double za = neg ? -p->zb : p->za, zb = neg ? -p->za : p->zb;
    double x = za;
    uint32_t w[4];
    for (uint32_t a = 0; a < p->max_attempts; a++) {
        fi_stream_words(p->key, i, a, FI_TAG_ELEMENT, w);
        uint64_t U0 = ((uint64_t)w[1] << 32) | w[0];
        uint64_t U1 = ((uint64_t)w[3] << 32) | w[2];
        double lu = fi_log_f64((double)((U1 >> 11) + 1u) * 0x1.0p-53);  /* log of (0, 1] */
        if (p->tn_method == FI_TN_UNIFORM) {
            x = za + (zb - za) * ((double)(U0 >> 11) * 0x1.0p-53);
            if (x > zb) x = zb;
            if (lu <= 0.5 * (p->tn_m2 - x * x)) return x;
        } else {
            double e = -fi_log_f64((double)((U0 >> 11) + 1u) * 0x1.0p-53);
            x = za + e / p->tn_alpha;
            double t = x - p->tn_alpha;
            if (x <= zb && lu <= -0.5 * t * t) return neg ? -x : x;
        }
    }
    x = fi_clamp_f64(x, za, zb);                                  /* deterministic fallback */
    return neg ? -x : x;
}

static void fi_truncnorm_f32(const fi_fill_params *p, uint64_t first, int64_t n, float *out)
{
    const float mean = (float)p->p0, stddev = (float)p->p1;
    const float lo = (float)p->lo, hi = (float)p->hi;
    const float za = (float)p->za, zb = (float)p->zb;
    if (p->tn_method != FI_TN_NORMAL) {
        for (int64_t k = 0; k < n; k++) {
            double x = p->p0 + p->p1 * fi_tn_proposal(p, first + (uint64_t)k);
            out[k] = fi_clamp_f32((float)x, lo, hi);
        }
        return;
    }
    float z[4], zr[4];
    FI_BLOCKS_BEGIN(first, n, 4)
        fi_normal_block_f32(p->key, b, 0, z);
        for (; j < jend; j++) {
            float v = z[j];
            for (uint32_t a = 1; !(v >= za && v <= zb); a++) {
                if (a >= p->max_attempts) { v = fi_clamp_f32(v, za, zb); break; }
                fi_normal_block_f32(p->key, b, a, zr);
                v = zr[j];
            }
            out[o++] = fi_clamp_f32(mean + stddev * v, lo, hi);
        }
    FI_BLOCKS_END
}

static void fi_truncnorm_f64(const fi_fill_params *p, uint64_t first, int64_t n, double *out)
{
    const double mean = p->p0, stddev = p->p1, lo = p->lo, hi = p->hi;
    const double za = p->za, zb = p->zb;
    if (p->tn_method != FI_TN_NORMAL) {
        for (int64_t k = 0; k < n; k++)
            out[k] = fi_clamp_f64(mean + stddev * fi_tn_proposal(p, first + (uint64_t)k), lo, hi);
        return;
    }
    double z[2], zr[2];
    FI_BLOCKS_BEGIN(first, n, 2)
        fi_normal_block_f64(p->key, b, 0, z);
        for (; j < jend; j++) {
            double v = z[j];
            for (uint32_t a = 1; !(v >= za && v <= zb); a++) {
                if (a >= p->max_attempts) { v = fi_clamp_f64(v, za, zb); break; }
                fi_normal_block_f64(p->key, b, a, zr);
                v = zr[j];
            }
            out[o++] = fi_clamp_f64(mean + stddev * v, lo, hi);
        }
    FI_BLOCKS_END
}

/* ---- dispatch --------------------------------------------------------------------------------- */

static void fi_fill_f32(const fi_fill_params *p, uint64_t first, int64_t n, float *out)
{
    switch (p->dist) {
    case FI_DIST_UNIFORM: fi_uniform_f32(p, first, n, out); break;
    case FI_DIST_NORMAL: fi_normal_f32(p, first, n, out); break;
    default: fi_truncnorm_f32(p, first, n, out); break;
    }
}

static void fi_fill_f64(const fi_fill_params *p, uint64_t first, int64_t n, double *out)
{
    switch (p->dist) {
    case FI_DIST_UNIFORM: fi_uniform_f64(p, first, n, out); break;
    case FI_DIST_NORMAL: fi_normal_f64(p, first, n, out); break;
    default: fi_truncnorm_f64(p, first, n, out); break;
    }
}

static void fi_fill_half(const fi_fill_params *p, uint64_t first, int64_t n, uint16_t *out)
{
    float tile[FI_HALF_TILE];
    for (int64_t done = 0; done < n; done += FI_HALF_TILE) {
        int64_t m = (n - done < FI_HALF_TILE) ? n - done : FI_HALF_TILE;
        fi_fill_f32(p, first + (uint64_t)done, m, tile);
        if (p->dtype == FI_BF16)
            for (int64_t j = 0; j < m; j++) out[done + j] = fi_f32_to_bf16(tile[j]);
        else
            for (int64_t j = 0; j < m; j++) out[done + j] = fi_f32_to_f16(tile[j]);
    }
}

static void fi_fill_constant(const fi_fill_params *p, void *buf, int64_t off, int64_t n)
{
    switch (p->dtype) {
    case 1: {
        uint8_t v = (uint8_t)p->pattern, *o = (uint8_t *)buf + off;
        for (int64_t j = 0; j < n; j++) o[j] = v;
        break;
    }
    case 2: {
        uint16_t v = (uint16_t)p->pattern, *o = (uint16_t *)buf + off;
        for (int64_t j = 0; j < n; j++) o[j] = v;
        break;
    }
    case 4: {
        uint32_t v = (uint32_t)p->pattern, *o = (uint32_t *)buf + off;
        for (int64_t j = 0; j < n; j++) o[j] = v;
        break;
    }
    default: {
        uint64_t v = p->pattern, *o = (uint64_t *)buf + off;
        for (int64_t j = 0; j < n; j++) o[j] = v;
        break;
    }
    }
}

/* The scalar reference: fill buffer elements [off, off + n); buffer element 0 is stream element
   p->start.  fi_simd.h's fi_fill_range() dispatches to this or to a SIMD path with the same bits. */
static void fi_fill_range_generic(const fi_fill_params *p, void *buf, int64_t off, int64_t n)
{
    uint64_t first = p->start + (uint64_t)off;
    if (n <= 0) return;
    if (p->dist == FI_DIST_CONSTANT) { fi_fill_constant(p, buf, off, n); return; }
    switch (p->dtype) {
    case FI_F32: fi_fill_f32(p, first, n, (float *)buf + off); break;
    case FI_F64: fi_fill_f64(p, first, n, (double *)buf + off); break;
    default: fi_fill_half(p, first, n, (uint16_t *)buf + off); break;
    }
}

/* Test hook: raw generator words, for the known-answer tests. */
static inline void fi_philox_raw(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    fi_philox4x32_10(ctr, key, out);
}

#endif
