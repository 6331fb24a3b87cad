/*
 * fi_math.h -- fastinit's own transcendental functions and 16-bit rounding.
 *
 * Why our own: the value of an element must be the same bits on every CPU path (scalar, AVX2,
 * AVX-512) and every libm.  glibc's logf and a vector log differ in the last bit, so kernels never
 * call libm (sqrt is IEEE correctly rounded everywhere and is the one exception).  Every function
 * here uses only +, -, *, /, sqrt and integer bit operations, in a fixed order; the package is
 * compiled with -ffp-contract=off so the compiler cannot fuse a*b+c differently on different paths.
 *
 * log:     fdlibm's e_log.c / e_logf.c reduction (x = 2^k * m, m in [sqrt(2)/2, sqrt(2)), s = f/(2+f))
 *          and their minimax coefficients, with the one general formula (no special small-f branch).
 *          Only ever called on (0, 1], never on subnormals.
 * sin/cos: Cephes' minimax polynomials on |x| <= pi/4; the argument reduction is exact because the
 *          angle arrives as an integer fraction of a turn (see fi_philox.h).
 */
#ifndef FASTINIT_MATH_H
#define FASTINIT_MATH_H

#include <stdint.h>
#include <string.h>
#include <math.h>

static inline uint32_t fi_f32_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float fi_bits_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static inline uint64_t fi_f64_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double fi_bits_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

/* ---- natural logarithm on (0, 1], normal numbers only ---------------------------------------- */

static inline float fi_log_f32(float x)
{
    const float ln2_hi = 6.9313812256e-01f;  /* 0x3f317180 */
    const float ln2_lo = 9.0580006145e-06f;  /* 0x3717f7d1 */
    const float Lg1 = 0xaaaaaa.0p-24f, Lg2 = 0xccce13.0p-25f;
    const float Lg3 = 0x91e9ee.0p-25f, Lg4 = 0xf89e26.0p-26f;
    uint32_t ix = fi_f32_bits(x);
    int32_t k = (int32_t)(ix >> 23) - 127;
    ix &= 0x007fffffu;
    uint32_t i = (ix + 0x4afb20u) & 0x800000u;       /* 1 when the mantissa is above sqrt(2) */
    float m = fi_bits_f32(ix | (i ^ 0x3f800000u));    /* m in [sqrt(2)/2, sqrt(2)) */
    k += (int32_t)(i >> 23);
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float dk = (float)k;
    float z = s * s;
    float w = z * z;
    float t1 = w * (Lg2 + w * Lg4);
    float t2 = z * (Lg1 + w * Lg3);
    float R = t2 + t1;
    float hfsq = 0.5f * f * f;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
}

static inline double fi_log_f64(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01;  /* 3fe62e42 fee00000 */
    const double ln2_lo = 1.90821492927058770002e-10;  /* 3dea39ef 35793c76 */
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01;
    const double Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01;
    const double Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01;
    const double Lg7 = 1.479819860511658591e-01;
    uint64_t bits = fi_f64_bits(x);
    uint32_t hx = (uint32_t)(bits >> 32);
    int32_t k = (int32_t)(hx >> 20) - 1023;
    hx &= 0x000fffffu;
    uint32_t i = (hx + 0x95f64u) & 0x100000u;
    double m = fi_bits_f64(((uint64_t)(hx | (i ^ 0x3ff00000u)) << 32) | (bits & 0xffffffffu));
    k += (int32_t)(i >> 20);
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double dk = (double)k;
    double z = s * s;
    double w = z * z;
    double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    double R = t2 + t1;
    double hfsq = 0.5 * f * f;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
}

/* ---- sin and cos on |x| <= pi/4 -------------------------------------------------------------- */

static inline void fi_sincos_f32(float x, float *s, float *c)
{
    float z = x * x;
    *s = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * x + x;
    *c = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z
         - 0.5f * z + 1.0f;
}

static inline void fi_sincos_f64(double x, double *s, double *c)
{
    double z = x * x;
    double ps = ((((1.58962301576546568060e-10 * z - 2.50507477628578072866e-8) * z
                   + 2.75573136213857245213e-6) * z - 1.98412698295895385996e-4) * z
                 + 8.33333333332211858878e-3) * z - 1.66666666666666307295e-1;
    double pc = ((((-1.13585365213876817300e-11 * z + 2.08757008419747316778e-9) * z
                   - 2.75573141792967388112e-7) * z + 2.48015872888517045348e-5) * z
                 - 1.38888888888730564116e-3) * z + 4.16666666666665929218e-2;
    *s = x + x * z * ps;
    *c = 1.0 - 0.5 * z + z * z * pc;
}

/* ---- Box-Muller from raw words ---------------------------------------------------------------- */

/* Rotate (c, s) = (cos d, sin d) by k quarter turns: returns cos and sin of (k*pi/2 + d). */
#define FI_QUADRANT(k, c, s, co, so)                     \
    do {                                                \
        switch ((k) & 3) {                              \
        case 0: (co) = (c);  (so) = (s);  break;        \
        case 1: (co) = -(s); (so) = (c);  break;        \
        case 2: (co) = -(c); (so) = -(s); break;        \
        default: (co) = (s); (so) = -(c); break;        \
        }                                               \
    } while (0)

/* Two standard normals from two 32-bit words (float32 stream). */
static inline void fi_box_muller_f32(uint32_t wr, uint32_t wa, float *z0, float *z1)
{
    float u1 = (float)((wr >> 8) + 1u) * 0x1.0p-24f;          /* (0, 1] */
    float r = sqrtf(-2.0f * fi_log_f32(u1));
    uint32_t n = wa >> 8;                                     /* angle = n / 2^24 turns */
    uint32_t k = (n + (1u << 21)) >> 22;                      /* nearest quarter turn, 0..4 */
    int32_t d = (int32_t)n - (int32_t)(k << 22);              /* [-2^21, 2^21) */
    float x = (float)d * 3.7450702829239286e-07f;            /* (pi/2) * 2^-22, |x| <= pi/4 */
    float s, c, co, so;
    fi_sincos_f32(x, &s, &c);
    FI_QUADRANT(k, c, s, co, so);
    *z0 = r * co;
    *z1 = r * so;
}

/* Two standard normals from two 64-bit numbers (float64 stream). */
static inline void fi_box_muller_f64(uint64_t ur, uint64_t ua, double *z0, double *z1)
{
    double u1 = (double)((ur >> 11) + 1u) * 0x1.0p-53;        /* (0, 1] */
    double r = sqrt(-2.0 * fi_log_f64(u1));
    uint64_t n = ua >> 11;                                    /* angle = n / 2^53 turns */
    uint64_t k = (n + (1ull << 50)) >> 51;
    int64_t d = (int64_t)n - (int64_t)(k << 51);              /* [-2^50, 2^50) */
    double x = (double)d * 6.975736996017264e-16;             /* (pi/2) * 2^-51 */
    double s, c, co, so;
    fi_sincos_f64(x, &s, &c);
    FI_QUADRANT(k, c, s, co, so);
    *z0 = r * co;
    *z1 = r * so;
}

/* ---- rounding float32 to 16-bit formats, round-to-nearest-even -------------------------------- */

static inline uint16_t fi_f32_to_bf16(float f)
{
    uint32_t u = fi_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);                 /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* After F. Giesen's float_to_half_fast3_rtne (public domain). */
static inline uint16_t fi_f32_to_f16(float f)
{
    const uint32_t f32infty = 255u << 23;
    const uint32_t f16max = (127u + 16u) << 23;
    const uint32_t denorm_magic_bits = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    uint32_t u = fi_f32_bits(f);
    uint32_t sign = u & 0x80000000u;
    uint32_t o;
    u ^= sign;
    if (u >= f16max) {
        o = (u > f32infty) ? 0x7e00u : 0x7c00u;
    } else if (u < (113u << 23)) {
        /* the FP add rounds the subnormal mantissa with round-to-nearest-even */
        float t = fi_bits_f32(u) + fi_bits_f32(denorm_magic_bits);
        o = fi_f32_bits(t) - denorm_magic_bits;
    } else {
        uint32_t mant_odd = (u >> 13) & 1u;
        u += ((uint32_t)(15 - 127) << 23) + 0xfffu;
        u += mant_odd;
        o = u >> 13;
    }
    return (uint16_t)(o | (sign >> 16));
}

#endif
