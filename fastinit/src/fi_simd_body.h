/*
 * fi_simd_body.h -- the SIMD fill kernels, written once over a small set of vector primitives and
 * included by fi_simd.h once per instruction set (AVX2, AVX-512) inside a `#pragma GCC target`
 * region.  Not a standalone header: fi_simd.h defines the primitives (FV_*) and FI_SIMD_NAME.
 * This part holds vector Philox and the vectorized transforms; fi_simd_fill.h (included at the
 * end) the fills built on them.
 *
 * Bit-identity with the scalar reference (fi_kernels.h / fi_math.h) is the whole point, so every
 * formula below repeats the scalar one operation for operation, in the same order: the same
 * conversions (all exact), the same +, -, *, / and sqrt (IEEE, correctly rounded on every path),
 * no FMA (the package is built with -ffp-contract=off and no FMA intrinsic is used), and the
 * quadrant rotation and clamps done with compares and blends instead of branches.
 *
 * Layout.  One vector of FV_W 32-bit lanes runs Philox on FV_W consecutive blocks, one block per
 * lane, the four counter words in four vectors (SoA).  Lane L = 4g + q (g = the 128-bit group,
 * q = the position in it) holds block base + FV_G*q + g: with that order the in-group unpack
 * "transpose" (unpacklo/hi of 32- and 64-bit lanes, which never cross 128-bit groups) leaves the
 * outputs in stream order, so no cross-lane shuffle is needed.
 */

#define FI_CAT_(a, b) a##_##b
#define FI_CAT(a, b) FI_CAT_(a, b)
#define FI_FN(name) FI_CAT(name, FI_SIMD_NAME)

#define FI_NV 4 /* Philox vectors in flight per iteration (independent chains hide latency) */

/* ---- Philox4x32-10 on FV_W blocks per vector ------------------------------------------------- */

/* Counter words of vector v: blocks base + v*FV_W + perm(L), with a carry into the high word. */
static inline void FI_FN(fi_v_counters)(uint64_t base, FV_I c[FI_NV][2])
{
    const FV_I perm = FV_PERM();
    for (int v = 0; v < FI_NV; v++) {
        uint64_t b = base + (uint64_t)v * FV_W;
        FV_I lo0 = FV_SET1_32((int32_t)(uint32_t)b);
        FV_I lo = FV_ADD32(lo0, perm);
        /* carry where lo < lo0 (unsigned) */
        FV_I carry = FV_CARRY32(lo, lo0);
        c[v][0] = lo;
        c[v][1] = FV_ADD32(FV_SET1_32((int32_t)(uint32_t)(b >> 32)), carry);
    }
}

static inline void FI_FN(fi_v_mulhilo)(FV_I a, FV_I m, FV_I *hi, FV_I *lo)
{
    FV_I pe = FV_MULEPU32(a, m);                    /* even lanes: 64-bit products */
    FV_I po = FV_MULEPU32(FV_SRLI64(a, 32), m);     /* odd lanes */
    *hi = FV_HI_FROM_PRODUCTS(pe, po);
    *lo = FV_LO_FROM_PRODUCTS(pe, po);
}

/* Counters of blocks bbase + off[L] (off >= 0), with the carry into the high word. */
static inline void FI_FN(fi_v_block_counters)(uint64_t bbase, FV_I off, FV_I *c0, FV_I *c1)
{
    FV_I lo0 = FV_SET1_32((int32_t)(uint32_t)bbase);
    FV_I lo = FV_ADD32(lo0, off);
    *c0 = lo;
    *c1 = FV_ADD32(FV_SET1_32((int32_t)(uint32_t)(bbase >> 32)), FV_CARRY32(lo, lo0));
}

/* w[v][0..3]: Philox4x32-10 of the counters (c0[v], c1[v], attempt, tag), FI_NV vectors in
   flight. */
static inline void FI_FN(fi_v_philox_ctr)(const uint32_t key[2], const FV_I cin0[FI_NV],
                                          const FV_I cin1[FI_NV], uint32_t attempt,
                                          uint32_t tag, FV_I w[FI_NV][4])
{
    FV_I c0[FI_NV], c1[FI_NV], c2[FI_NV], c3[FI_NV];
    for (int v = 0; v < FI_NV; v++) {
        c0[v] = cin0[v];
        c1[v] = cin1[v];
        c2[v] = FV_SET1_32((int32_t)attempt);
        c3[v] = FV_SET1_32((int32_t)tag);
    }
    const FV_I m0 = FV_SET1_32((int32_t)FI_PHILOX_M0), m1 = FV_SET1_32((int32_t)FI_PHILOX_M1);
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += FI_PHILOX_W0;
            k1 += FI_PHILOX_W1;
        }
        const FV_I vk0 = FV_SET1_32((int32_t)k0), vk1 = FV_SET1_32((int32_t)k1);
        for (int v = 0; v < FI_NV; v++) {
            FV_I hi0, lo0, hi1, lo1;
            FI_FN(fi_v_mulhilo)(c0[v], m0, &hi0, &lo0);
            FI_FN(fi_v_mulhilo)(c2[v], m1, &hi1, &lo1);
            c0[v] = FV_XOR3(hi1, c1[v], vk0);
            c1[v] = lo1;
            c2[v] = FV_XOR3(hi0, c3[v], vk1);
            c3[v] = lo0;
        }
    }
    for (int v = 0; v < FI_NV; v++) {
        w[v][0] = c0[v]; w[v][1] = c1[v]; w[v][2] = c2[v]; w[v][3] = c3[v];
    }
}

/* w[v][0..3]: the four output words of the FV_W blocks of vector v
   (blocks base + v*FV_W + perm). */
static inline void FI_FN(fi_v_philox)(const uint32_t key[2], uint64_t base, uint32_t attempt,
                                      FV_I w[FI_NV][4])
{
    FV_I c[FI_NV][2], c0[FI_NV], c1[FI_NV];
    FI_FN(fi_v_counters)(base, c);
    for (int v = 0; v < FI_NV; v++) {
        c0[v] = c[v][0];
        c1[v] = c[v][1];
    }
    FI_FN(fi_v_philox_ctr)(key, c0, c1, attempt, FI_TAG_MAIN, w);
}

/* ---- float32 transforms (fi_math.h, vectorized) ---------------------------------------------- */

static inline FV_F FI_FN(fi_v_log_f32)(FV_F x)
{
    const FV_F ln2_hi = FV_SET1_PS(6.9313812256e-01f), ln2_lo = FV_SET1_PS(9.0580006145e-06f);
    const FV_F Lg1 = FV_SET1_PS(0xaaaaaa.0p-24f), Lg2 = FV_SET1_PS(0xccce13.0p-25f);
    const FV_F Lg3 = FV_SET1_PS(0x91e9ee.0p-25f), Lg4 = FV_SET1_PS(0xf89e26.0p-26f);
    FV_I ix = FV_CAST_PS_SI(x);
    FV_I k = FV_SUB32(FV_SRLI32(ix, 23), FV_SET1_32(127));
    ix = FV_AND(ix, FV_SET1_32(0x007fffff));
    FV_I i = FV_AND(FV_ADD32(ix, FV_SET1_32(0x4afb20)), FV_SET1_32(0x800000));
    FV_F m = FV_CAST_SI_PS(FV_OR(ix, FV_XOR(i, FV_SET1_32(0x3f800000))));
    k = FV_ADD32(k, FV_SRLI32(i, 23));
    FV_F f = FV_SUB_PS(m, FV_SET1_PS(1.0f));
    FV_F s = FV_DIV_PS(f, FV_ADD_PS(FV_SET1_PS(2.0f), f));
    FV_F dk = FV_CVT32_PS(k);
    FV_F z = FV_MUL_PS(s, s);
    FV_F w = FV_MUL_PS(z, z);
    FV_F t1 = FV_MUL_PS(w, FV_ADD_PS(Lg2, FV_MUL_PS(w, Lg4)));
    FV_F t2 = FV_MUL_PS(z, FV_ADD_PS(Lg1, FV_MUL_PS(w, Lg3)));
    FV_F R = FV_ADD_PS(t2, t1);
    FV_F hfsq = FV_MUL_PS(FV_MUL_PS(FV_SET1_PS(0.5f), f), f);
    /* dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f) */
    FV_F inner = FV_ADD_PS(FV_MUL_PS(s, FV_ADD_PS(hfsq, R)), FV_MUL_PS(dk, ln2_lo));
    return FV_SUB_PS(FV_MUL_PS(dk, ln2_hi), FV_SUB_PS(FV_SUB_PS(hfsq, inner), f));
}

static inline void FI_FN(fi_v_sincos_f32)(FV_F x, FV_F *s, FV_F *c)
{
    FV_F z = FV_MUL_PS(x, x);
    /* ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * x + x */
    FV_F ps = FV_ADD_PS(FV_MUL_PS(FV_SET1_PS(-1.9515295891e-4f), z), FV_SET1_PS(8.3321608736e-3f));
    ps = FV_SUB_PS(FV_MUL_PS(ps, z), FV_SET1_PS(1.6666654611e-1f));
    *s = FV_ADD_PS(FV_MUL_PS(FV_MUL_PS(ps, z), x), x);
    /* ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z
       - 0.5f * z + 1.0f */
    FV_F pc = FV_SUB_PS(FV_MUL_PS(FV_SET1_PS(2.443315711809948e-5f), z),
                        FV_SET1_PS(1.388731625493765e-3f));
    pc = FV_ADD_PS(FV_MUL_PS(pc, z), FV_SET1_PS(4.166664568298827e-2f));
    pc = FV_MUL_PS(FV_MUL_PS(pc, z), z);
    *c = FV_ADD_PS(FV_SUB_PS(pc, FV_MUL_PS(FV_SET1_PS(0.5f), z)), FV_SET1_PS(1.0f));
}

/* fi_box_muller_f32 on FV_W pairs. */
static inline void FI_FN(fi_v_box_muller_f32)(FV_I wr, FV_I wa, FV_F *z0, FV_F *z1)
{
    FV_F u1 = FV_MUL_PS(FV_CVT32_PS(FV_ADD32(FV_SRLI32(wr, 8), FV_SET1_32(1))),
                        FV_SET1_PS(0x1.0p-24f));
    FV_F r = FV_SQRT_PS(FV_MUL_PS(FV_SET1_PS(-2.0f), FI_FN(fi_v_log_f32)(u1)));
    FV_I n = FV_SRLI32(wa, 8);
    FV_I k = FV_SRLI32(FV_ADD32(n, FV_SET1_32(1 << 21)), 22);
    FV_I d = FV_SUB32(n, FV_SLLI32(k, 22));
    FV_F x = FV_MUL_PS(FV_CVT32_PS(d), FV_SET1_PS(3.7450702829239286e-07f));
    FV_F s, c;
    FI_FN(fi_v_sincos_f32)(x, &s, &c);
    FV_MF swap = FV_ODD32(k);
    FV_F co = FV_SEL_PS(swap, c, s), so = FV_SEL_PS(swap, s, c);
    FV_I nco = FV_SLLI32(FV_AND(FV_ADD32(k, FV_SET1_32(1)), FV_SET1_32(2)), 30);
    FV_I nso = FV_SLLI32(FV_AND(k, FV_SET1_32(2)), 30);
    co = FV_CAST_SI_PS(FV_XOR(FV_CAST_PS_SI(co), nco));
    so = FV_CAST_SI_PS(FV_XOR(FV_CAST_PS_SI(so), nso));
    *z0 = FV_MUL_PS(r, co);
    *z1 = FV_MUL_PS(r, so);
}

static inline FV_F FI_FN(fi_v_clamp_ps)(FV_F x, FV_F lo, FV_F hi)
{
    FV_F t = FV_SEL_PS(FV_CMPGT_PS(x, hi), x, hi);
    return FV_SEL_PS(FV_CMPLT_PS(x, lo), t, lo);
}

/* 4x4 in-group transpose of 32-bit lanes: o[q] group g = lane 4g+q of (a0, a1, a2, a3). */
static inline void FI_FN(fi_v_transpose_ps)(FV_F a[4], FV_F o[4])
{
    FV_I t0 = FV_UNPACKLO32(FV_CAST_PS_SI(a[0]), FV_CAST_PS_SI(a[1]));
    FV_I t1 = FV_UNPACKHI32(FV_CAST_PS_SI(a[0]), FV_CAST_PS_SI(a[1]));
    FV_I t2 = FV_UNPACKLO32(FV_CAST_PS_SI(a[2]), FV_CAST_PS_SI(a[3]));
    FV_I t3 = FV_UNPACKHI32(FV_CAST_PS_SI(a[2]), FV_CAST_PS_SI(a[3]));
    o[0] = FV_CAST_SI_PS(FV_UNPACKLO64(t0, t2));
    o[1] = FV_CAST_SI_PS(FV_UNPACKHI64(t0, t2));
    o[2] = FV_CAST_SI_PS(FV_UNPACKLO64(t1, t3));
    o[3] = FV_CAST_SI_PS(FV_UNPACKHI64(t1, t3));
}

/* ---- float64 transforms ---------------------------------------------------------------------- */

static inline FV_D FI_FN(fi_v_log_f64)(FV_D x)
{
    const FV_D ln2_hi = FV_SET1_PD(6.93147180369123816490e-01);
    const FV_D ln2_lo = FV_SET1_PD(1.90821492927058770002e-10);
    const FV_D Lg1 = FV_SET1_PD(6.666666666666735130e-01);
    const FV_D Lg2 = FV_SET1_PD(3.999999999940941908e-01);
    const FV_D Lg3 = FV_SET1_PD(2.857142874366239149e-01);
    const FV_D Lg4 = FV_SET1_PD(2.222219843214978396e-01);
    const FV_D Lg5 = FV_SET1_PD(1.818357216161805012e-01);
    const FV_D Lg6 = FV_SET1_PD(1.531383769920937332e-01);
    const FV_D Lg7 = FV_SET1_PD(1.479819860511658591e-01);
    FV_I bits = FV_CAST_PD_SI(x);
    FV_I hx = FV_SRLI64(bits, 32);
    FV_I k = FV_SUB64(FV_SRLI64(hx, 20), FV_SET1_64(1023));
    hx = FV_AND(hx, FV_SET1_64(0x000fffff));
    FV_I i = FV_AND(FV_ADD64(hx, FV_SET1_64(0x95f64)), FV_SET1_64(0x100000));
    FV_I mb = FV_OR(FV_SLLI64(FV_OR(hx, FV_XOR(i, FV_SET1_64(0x3ff00000))), 32),
                    FV_AND(bits, FV_SET1_64(0xffffffffll)));
    FV_D m = FV_CAST_SI_PD(mb);
    k = FV_ADD64(k, FV_SRLI64(i, 20));
    FV_D f = FV_SUB_PD(m, FV_SET1_PD(1.0));
    FV_D s = FV_DIV_PD(f, FV_ADD_PD(FV_SET1_PD(2.0), f));
    FV_D dk = FV_CVTI64_PD(k);
    FV_D z = FV_MUL_PD(s, s);
    FV_D w = FV_MUL_PD(z, z);
    /* t1 = w * (Lg2 + w * (Lg4 + w * Lg6)) */
    FV_D t1 = FV_MUL_PD(w, FV_ADD_PD(Lg2, FV_MUL_PD(w, FV_ADD_PD(Lg4, FV_MUL_PD(w, Lg6)))));
    /* t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7))) */
    FV_D t2 = FV_MUL_PD(z, FV_ADD_PD(Lg1, FV_MUL_PD(w, FV_ADD_PD(Lg3, FV_MUL_PD(
                  w, FV_ADD_PD(Lg5, FV_MUL_PD(w, Lg7)))))));
    FV_D R = FV_ADD_PD(t2, t1);
    FV_D hfsq = FV_MUL_PD(FV_MUL_PD(FV_SET1_PD(0.5), f), f);
    FV_D inner = FV_ADD_PD(FV_MUL_PD(s, FV_ADD_PD(hfsq, R)), FV_MUL_PD(dk, ln2_lo));
    return FV_SUB_PD(FV_MUL_PD(dk, ln2_hi), FV_SUB_PD(FV_SUB_PD(hfsq, inner), f));
}

static inline void FI_FN(fi_v_sincos_f64)(FV_D x, FV_D *s, FV_D *c)
{
    FV_D z = FV_MUL_PD(x, x);
    FV_D ps = FV_SUB_PD(FV_MUL_PD(FV_SET1_PD(1.58962301576546568060e-10), z),
                        FV_SET1_PD(2.50507477628578072866e-8));
    ps = FV_ADD_PD(FV_MUL_PD(ps, z), FV_SET1_PD(2.75573136213857245213e-6));
    ps = FV_SUB_PD(FV_MUL_PD(ps, z), FV_SET1_PD(1.98412698295895385996e-4));
    ps = FV_ADD_PD(FV_MUL_PD(ps, z), FV_SET1_PD(8.33333333332211858878e-3));
    ps = FV_SUB_PD(FV_MUL_PD(ps, z), FV_SET1_PD(1.66666666666666307295e-1));
    FV_D pc = FV_ADD_PD(FV_MUL_PD(FV_SET1_PD(-1.13585365213876817300e-11), z),
                        FV_SET1_PD(2.08757008419747316778e-9));
    pc = FV_SUB_PD(FV_MUL_PD(pc, z), FV_SET1_PD(2.75573141792967388112e-7));
    pc = FV_ADD_PD(FV_MUL_PD(pc, z), FV_SET1_PD(2.48015872888517045348e-5));
    pc = FV_SUB_PD(FV_MUL_PD(pc, z), FV_SET1_PD(1.38888888888730564116e-3));
    pc = FV_ADD_PD(FV_MUL_PD(pc, z), FV_SET1_PD(4.16666666666665929218e-2));
    /* s = x + x * z * ps;  c = 1.0 - 0.5 * z + z * z * pc */
    *s = FV_ADD_PD(x, FV_MUL_PD(FV_MUL_PD(x, z), ps));
    *c = FV_ADD_PD(FV_SUB_PD(FV_SET1_PD(1.0), FV_MUL_PD(FV_SET1_PD(0.5), z)),
                   FV_MUL_PD(FV_MUL_PD(z, z), pc));
}

/* fi_box_muller_f64 on FV_W/2 pairs of 64-bit numbers. */
static inline void FI_FN(fi_v_box_muller_f64)(FV_I ur, FV_I ua, FV_D *z0, FV_D *z1)
{
    FV_D u1 = FV_MUL_PD(FV_CVTU53_PD(FV_ADD64(FV_SRLI64(ur, 11), FV_SET1_64(1))),
                        FV_SET1_PD(0x1.0p-53));
    FV_D r = FV_SQRT_PD(FV_MUL_PD(FV_SET1_PD(-2.0), FI_FN(fi_v_log_f64)(u1)));
    FV_I n = FV_SRLI64(ua, 11);
    FV_I k = FV_SRLI64(FV_ADD64(n, FV_SET1_64(1ll << 50)), 51);
    FV_I d = FV_SUB64(n, FV_SLLI64(k, 51));
    FV_D x = FV_MUL_PD(FV_CVTI64_PD(d), FV_SET1_PD(6.975736996017264e-16));
    FV_D s, c;
    FI_FN(fi_v_sincos_f64)(x, &s, &c);
    FV_MD swap = FV_ODD64(k);
    FV_D co = FV_SEL_PD(swap, c, s), so = FV_SEL_PD(swap, s, c);
    FV_I nco = FV_SLLI64(FV_AND(FV_ADD64(k, FV_SET1_64(1)), FV_SET1_64(2)), 62);
    FV_I nso = FV_SLLI64(FV_AND(k, FV_SET1_64(2)), 62);
    co = FV_CAST_SI_PD(FV_XOR(FV_CAST_PD_SI(co), nco));
    so = FV_CAST_SI_PD(FV_XOR(FV_CAST_PD_SI(so), nso));
    *z0 = FV_MUL_PD(r, co);
    *z1 = FV_MUL_PD(r, so);
}

static inline FV_D FI_FN(fi_v_clamp_pd)(FV_D x, FV_D lo, FV_D hi)
{
    FV_D t = FV_SEL_PD(FV_CMPGT_PD(x, hi), x, hi);
    return FV_SEL_PD(FV_CMPLT_PD(x, lo), t, lo);
}

/* The fills themselves (truncated-normal retries, float32 / float64 / half fills, the entry
   point), over the primitives above. */
#include "fi_simd_fill.h"

#undef FI_U32
#undef FI_TN_BATCH
#undef FI_TN_SLACK
#undef FI_TN_CAP
#undef FI_V_HALF_TILE
#undef FI_U64
#undef FI_NV
#undef FI_FN
#undef FI_CAT
#undef FI_CAT_
