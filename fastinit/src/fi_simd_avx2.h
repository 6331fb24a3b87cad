/*
 * fi_simd_avx2.h -- the FV_* vector primitives on AVX2: 8 32-bit lanes.  Included by fi_simd.h
 * inside its AVX2 `#pragma GCC target` region, right before fi_simd_body.h; not standalone.
 * fi_simd_undef.h undefines them afterwards.
 */

#define FI_SIMD_NAME avx2
#define FV_W 8
#define FV_G 2
#define FV_I __m256i
#define FV_F __m256
#define FV_D __m256d
#define FV_MF __m256
#define FV_MD __m256d

#define FV_PERM() _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)
#define FV_SET1_32(x) _mm256_set1_epi32(x)
#define FV_SET1_64(x) _mm256_set1_epi64x((long long)(x))
#define FV_SET1_PS(x) _mm256_set1_ps(x)
#define FV_SET1_PD(x) _mm256_set1_pd(x)
#define FV_ADD32(a, b) _mm256_add_epi32(a, b)
#define FV_SUB32(a, b) _mm256_sub_epi32(a, b)
#define FV_ADD64(a, b) _mm256_add_epi64(a, b)
#define FV_SUB64(a, b) _mm256_sub_epi64(a, b)
/* lo < lo0 unsigned  <=>  (lo ^ 2^31) < (lo0 ^ 2^31) signed; the mask is -1, so subtract it */
#define FV_CARRY32(lo, lo0) \
    _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_cmpgt_epi32( \
        _mm256_xor_si256(lo0, _mm256_set1_epi32((int)0x80000000u)), \
        _mm256_xor_si256(lo, _mm256_set1_epi32((int)0x80000000u))))
#define FV_AND(a, b) _mm256_and_si256(a, b)
#define FV_OR(a, b) _mm256_or_si256(a, b)
#define FV_XOR(a, b) _mm256_xor_si256(a, b)
#define FV_XOR3(a, b, c) _mm256_xor_si256(_mm256_xor_si256(a, b), c)
#define FV_SRLI32(a, n) _mm256_srli_epi32(a, n)
#define FV_SLLI32(a, n) _mm256_slli_epi32(a, n)
#define FV_SRLI64(a, n) _mm256_srli_epi64(a, n)
#define FV_SLLI64(a, n) _mm256_slli_epi64(a, n)
#define FV_MULEPU32(a, b) _mm256_mul_epu32(a, b)
#define FV_HI_FROM_PRODUCTS(pe, po) _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA)
#define FV_LO_FROM_PRODUCTS(pe, po) _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA)
#define FV_UNPACKLO32(a, b) _mm256_unpacklo_epi32(a, b)
#define FV_UNPACKHI32(a, b) _mm256_unpackhi_epi32(a, b)
#define FV_UNPACKLO64(a, b) _mm256_unpacklo_epi64(a, b)
#define FV_UNPACKHI64(a, b) _mm256_unpackhi_epi64(a, b)
#define FV_UNPACKLO_PD(a, b) _mm256_unpacklo_pd(a, b)
#define FV_UNPACKHI_PD(a, b) _mm256_unpackhi_pd(a, b)
#define FV_CAST_PS_SI(a) _mm256_castps_si256(a)
#define FV_CAST_SI_PS(a) _mm256_castsi256_ps(a)
#define FV_CAST_PD_SI(a) _mm256_castpd_si256(a)
#define FV_CAST_SI_PD(a) _mm256_castsi256_pd(a)
#define FV_CVT32_PS(a) _mm256_cvtepi32_ps(a)
#define FV_CVTI64_PD(a) fi_v_cvti64_pd_avx2(a)
#define FV_CVTU53_PD(a) fi_v_cvtu53_pd_avx2(a)
#define FV_ADD_PS(a, b) _mm256_add_ps(a, b)
#define FV_SUB_PS(a, b) _mm256_sub_ps(a, b)
#define FV_MUL_PS(a, b) _mm256_mul_ps(a, b)
#define FV_DIV_PS(a, b) _mm256_div_ps(a, b)
#define FV_SQRT_PS(a) _mm256_sqrt_ps(a)
#define FV_ADD_PD(a, b) _mm256_add_pd(a, b)
#define FV_SUB_PD(a, b) _mm256_sub_pd(a, b)
#define FV_MUL_PD(a, b) _mm256_mul_pd(a, b)
#define FV_DIV_PD(a, b) _mm256_div_pd(a, b)
#define FV_SQRT_PD(a) _mm256_sqrt_pd(a)
#define FV_CMPGT_PS(a, b) _mm256_cmp_ps(a, b, _CMP_GT_OQ)
#define FV_CMPLT_PS(a, b) _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define FV_CMPGE_PS(a, b) _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define FV_CMPLE_PS(a, b) _mm256_cmp_ps(a, b, _CMP_LE_OQ)
#define FV_CMPGT_PD(a, b) _mm256_cmp_pd(a, b, _CMP_GT_OQ)
#define FV_CMPLT_PD(a, b) _mm256_cmp_pd(a, b, _CMP_LT_OQ)
#define FV_CMPGE_PD(a, b) _mm256_cmp_pd(a, b, _CMP_GE_OQ)
#define FV_CMPLE_PD(a, b) _mm256_cmp_pd(a, b, _CMP_LE_OQ)
#define FV_AND_MASK_PS(a, b) _mm256_and_ps(a, b)
#define FV_AND_MASK_PD(a, b) _mm256_and_pd(a, b)
#define FV_MASKBITS_PS(m) ((uint32_t)_mm256_movemask_ps(m))
#define FV_MASKBITS_PD(m) ((uint32_t)_mm256_movemask_pd(m))
#define FV_SEL_PS(m, a, b) _mm256_blendv_ps(a, b, m)          /* m ? b : a */
#define FV_SEL_PD(m, a, b) _mm256_blendv_pd(a, b, m)
#define FV_ODD32(k) _mm256_castsi256_ps(_mm256_slli_epi32(k, 31))  /* blendv reads the sign */
#define FV_ODD64(k) _mm256_castsi256_pd(_mm256_slli_epi64(k, 63))
#define FV_LOAD_PS(p) _mm256_loadu_ps(p)
#define FV_STORE_PS(p, v) _mm256_storeu_ps(p, v)
#define FV_STORE_PD(p, v) _mm256_storeu_pd(p, v)

/* Exact int64 -> double for |a| < 2^51: the bits of 1.5 * 2^52 + a, minus 1.5 * 2^52. */
static inline __m256d fi_v_cvti64_pd_avx2(__m256i a)
{
    const __m256d magic = _mm256_set1_pd(0x1.8p52);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(a, _mm256_castpd_si256(magic))),
                         magic);
}

/* Exact uint64 -> double for a <= 2^53: (high 32 bits) * 2^32 + (low 32 bits), each exact. */
static inline __m256d fi_v_cvtu53_pd_avx2(__m256i a)
{
    const __m256d magic = _mm256_set1_pd(0x1.0p52);
    const __m256i mbits = _mm256_castpd_si256(magic);
    __m256d hi = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(a, 32),
                                                                   mbits)), magic);
    __m256d lo = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(
                     _mm256_and_si256(a, _mm256_set1_epi64x(0xffffffffll)), mbits)), magic);
    return _mm256_add_pd(_mm256_mul_pd(hi, _mm256_set1_pd(0x1.0p32)), lo);
}

/* Giesen's float_to_half_fast3_rtne, 8 lanes, as 32-bit results. */
static inline __m256i fi_v_f16_avx2(__m256 f)
{
    const __m256i f32infty = _mm256_set1_epi32(255 << 23);
    const __m256i f16max = _mm256_set1_epi32((127 + 16) << 23);
    const __m256i magic = _mm256_set1_epi32(((127 - 15) + (23 - 10) + 1) << 23);
    __m256i u = _mm256_castps_si256(f);
    __m256i sign = _mm256_and_si256(u, _mm256_set1_epi32((int)0x80000000u));
    u = _mm256_xor_si256(u, sign);
    /* u >= f16max: inf or NaN */
    __m256i big = _mm256_cmpgt_epi32(u, _mm256_sub_epi32(f16max, _mm256_set1_epi32(1)));
    __m256i o_big = _mm256_blendv_epi8(_mm256_set1_epi32(0x7c00), _mm256_set1_epi32(0x7e00),
                                       _mm256_cmpgt_epi32(u, f32infty));
    /* u < 113 << 23: subnormal result, rounded by the FP add */
    __m256i small = _mm256_cmpgt_epi32(_mm256_set1_epi32(113 << 23), u);
    __m256i o_small = _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(
                          _mm256_castsi256_ps(u), _mm256_castsi256_ps(magic))), magic);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 13), _mm256_set1_epi32(1));
    __m256i o_norm = _mm256_add_epi32(u, _mm256_set1_epi32((int)(((uint32_t)(15 - 127) << 23)
                                                                 + 0xfffu)));
    o_norm = _mm256_srli_epi32(_mm256_add_epi32(o_norm, odd), 13);
    __m256i o = _mm256_blendv_epi8(_mm256_blendv_epi8(o_norm, o_small, small), o_big, big);
    return _mm256_or_si256(o, _mm256_srli_epi32(sign, 16));
}

static inline __m256i fi_v_bf16_avx2(__m256 f)
{
    __m256i u = _mm256_castps_si256(f);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                     _mm256_set1_epi32(0x7f800000));
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                    _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))));
    r = _mm256_srli_epi32(r, 16);
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(r, q, nan);
}

/* Pack two vectors of 32-bit results (each <= 0xffff) into 16 uint16 in order. */
static inline void fi_v_store16_avx2(uint16_t *p, __m256i a, __m256i b)
{
    __m256i h = _mm256_packus_epi32(a, b);                    /* a0-3 b0-3 | a4-7 b4-7 */
    h = _mm256_permute4x64_epi64(h, _MM_SHUFFLE(3, 1, 2, 0)); /* a0-7 b0-7 */
    _mm256_storeu_si256((__m256i *)p, h);
}

#define FV_LOADU_SI(p) _mm256_loadu_si256((const __m256i *)(p))
#define FV_BIT1_32(k) _mm256_castsi256_ps(_mm256_slli_epi32(k, 30))
#define FV_SEL_SI(m, a, b) \
    _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), m))

/* Branch-free left-packing of the lanes selected by a movemask (a branch per vector would
   mispredict on about a third of them): nibble k of fi_v_compress8_lut[mask] is the lane of the
   k-th set bit. */
static const uint32_t fi_v_compress8_lut[256] = {
    0x00000000u, 0x00000000u, 0x00000001u, 0x00000010u, 0x00000002u, 0x00000020u, 0x00000021u,
    0x00000210u, 0x00000003u, 0x00000030u, 0x00000031u, 0x00000310u, 0x00000032u, 0x00000320u,
    0x00000321u, 0x00003210u, 0x00000004u, 0x00000040u, 0x00000041u, 0x00000410u, 0x00000042u,
    0x00000420u, 0x00000421u, 0x00004210u, 0x00000043u, 0x00000430u, 0x00000431u, 0x00004310u,
    0x00000432u, 0x00004320u, 0x00004321u, 0x00043210u, 0x00000005u, 0x00000050u, 0x00000051u,
    0x00000510u, 0x00000052u, 0x00000520u, 0x00000521u, 0x00005210u, 0x00000053u, 0x00000530u,
    0x00000531u, 0x00005310u, 0x00000532u, 0x00005320u, 0x00005321u, 0x00053210u, 0x00000054u,
    0x00000540u, 0x00000541u, 0x00005410u, 0x00000542u, 0x00005420u, 0x00005421u, 0x00054210u,
    0x00000543u, 0x00005430u, 0x00005431u, 0x00054310u, 0x00005432u, 0x00054320u, 0x00054321u,
    0x00543210u, 0x00000006u, 0x00000060u, 0x00000061u, 0x00000610u, 0x00000062u, 0x00000620u,
    0x00000621u, 0x00006210u, 0x00000063u, 0x00000630u, 0x00000631u, 0x00006310u, 0x00000632u,
    0x00006320u, 0x00006321u, 0x00063210u, 0x00000064u, 0x00000640u, 0x00000641u, 0x00006410u,
    0x00000642u, 0x00006420u, 0x00006421u, 0x00064210u, 0x00000643u, 0x00006430u, 0x00006431u,
    0x00064310u, 0x00006432u, 0x00064320u, 0x00064321u, 0x00643210u, 0x00000065u, 0x00000650u,
    0x00000651u, 0x00006510u, 0x00000652u, 0x00006520u, 0x00006521u, 0x00065210u, 0x00000653u,
    0x00006530u, 0x00006531u, 0x00065310u, 0x00006532u, 0x00065320u, 0x00065321u, 0x00653210u,
    0x00000654u, 0x00006540u, 0x00006541u, 0x00065410u, 0x00006542u, 0x00065420u, 0x00065421u,
    0x00654210u, 0x00006543u, 0x00065430u, 0x00065431u, 0x00654310u, 0x00065432u, 0x00654320u,
    0x00654321u, 0x06543210u, 0x00000007u, 0x00000070u, 0x00000071u, 0x00000710u, 0x00000072u,
    0x00000720u, 0x00000721u, 0x00007210u, 0x00000073u, 0x00000730u, 0x00000731u, 0x00007310u,
    0x00000732u, 0x00007320u, 0x00007321u, 0x00073210u, 0x00000074u, 0x00000740u, 0x00000741u,
    0x00007410u, 0x00000742u, 0x00007420u, 0x00007421u, 0x00074210u, 0x00000743u, 0x00007430u,
    0x00007431u, 0x00074310u, 0x00007432u, 0x00074320u, 0x00074321u, 0x00743210u, 0x00000075u,
    0x00000750u, 0x00000751u, 0x00007510u, 0x00000752u, 0x00007520u, 0x00007521u, 0x00075210u,
    0x00000753u, 0x00007530u, 0x00007531u, 0x00075310u, 0x00007532u, 0x00075320u, 0x00075321u,
    0x00753210u, 0x00000754u, 0x00007540u, 0x00007541u, 0x00075410u, 0x00007542u, 0x00075420u,
    0x00075421u, 0x00754210u, 0x00007543u, 0x00075430u, 0x00075431u, 0x00754310u, 0x00075432u,
    0x00754320u, 0x00754321u, 0x07543210u, 0x00000076u, 0x00000760u, 0x00000761u, 0x00007610u,
    0x00000762u, 0x00007620u, 0x00007621u, 0x00076210u, 0x00000763u, 0x00007630u, 0x00007631u,
    0x00076310u, 0x00007632u, 0x00076320u, 0x00076321u, 0x00763210u, 0x00000764u, 0x00007640u,
    0x00007641u, 0x00076410u, 0x00007642u, 0x00076420u, 0x00076421u, 0x00764210u, 0x00007643u,
    0x00076430u, 0x00076431u, 0x00764310u, 0x00076432u, 0x00764320u, 0x00764321u, 0x07643210u,
    0x00000765u, 0x00007650u, 0x00007651u, 0x00076510u, 0x00007652u, 0x00076520u, 0x00076521u,
    0x00765210u, 0x00007653u, 0x00076530u, 0x00076531u, 0x00765310u, 0x00076532u, 0x00765320u,
    0x00765321u, 0x07653210u, 0x00007654u, 0x00076540u, 0x00076541u, 0x00765410u, 0x00076542u,
    0x00765420u, 0x00765421u, 0x07654210u, 0x00076543u, 0x00765430u, 0x00765431u, 0x07654310u,
    0x00765432u, 0x07654320u, 0x07654321u, 0x76543210u,
};

static inline __m256i fi_v_compress_perm_avx2(uint32_t packed)
{
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)packed),
                                              _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                            _mm256_set1_epi32(7));
}

/* Append the offsets pos + lane of the rejected lanes at idx (8 entries of room); returns how
   many. */
static inline int fi_v_rej_avx2(__m256 acc, int32_t pos, int32_t *idx)
{
    uint32_t rej = ~(uint32_t)_mm256_movemask_ps(acc) & 0xffu;
    __m256i perm = fi_v_compress_perm_avx2(fi_v_compress8_lut[rej]);
    _mm256_storeu_si256((__m256i *)idx, _mm256_add_epi32(perm, _mm256_set1_epi32(pos)));
    return __builtin_popcount(rej);
}
#define FV_COMPRESS_REJ_PS(acc, pos, idx) fi_v_rej_avx2(acc, pos, idx)

static inline int fi_v_rej_pd_avx2(__m256d acc, int32_t pos, int32_t *idx)
{
    uint32_t rej = ~(uint32_t)_mm256_movemask_pd(acc) & 0xfu;
    __m256i perm = fi_v_compress_perm_avx2(fi_v_compress8_lut[rej]);  /* 4 lanes: same table */
    _mm_storeu_si128((__m128i *)idx, _mm256_castsi256_si128(_mm256_add_epi32(
                                         perm, _mm256_set1_epi32(pos))));
    return __builtin_popcount(rej);
}
#define FV_COMPRESS_REJ_PD(acc, pos, idx) fi_v_rej_pd_avx2(acc, pos, idx)
#define FV_IOTA32() _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)

static inline int fi_v_post_ps_avx2(float *out, __m256i off, int m, __m256 z, __m256 res,
                                    __m256 za, __m256 zb, int32_t *idx2, float *val2)
{
    float zz[8], rr[8];
    int32_t oo[8];
    const float a = _mm256_cvtss_f32(za), b = _mm256_cvtss_f32(zb);
    _mm256_storeu_ps(zz, z);
    _mm256_storeu_ps(rr, res);
    _mm256_storeu_si256((__m256i *)oo, off);
    int n = 0;
    for (int L = 0; L < m; L++) {
        if (zz[L] >= a && zz[L] <= b) {
            out[oo[L]] = rr[L];
        } else {
            idx2[n] = oo[L];
            val2[n] = zz[L];
            n++;
        }
    }
    return n;
}

static inline int fi_v_post_pd_avx2(double *out, __m256i o64, __m256i l64, int m, __m256d z,
                                    __m256d res, __m256d za, __m256d zb, int32_t *idx2,
                                    double *val2)
{
    double zz[4], rr[4];
    int64_t oo[4], ll[4];
    const double a = _mm256_cvtsd_f64(za), b = _mm256_cvtsd_f64(zb);
    _mm256_storeu_pd(zz, z);
    _mm256_storeu_pd(rr, res);
    _mm256_storeu_si256((__m256i *)oo, o64);
    _mm256_storeu_si256((__m256i *)ll, l64);
    int n = 0;
    for (int L = 0; L < 4; L++) {
        if (ll[L] >= m) continue;
        if (zz[L] >= a && zz[L] <= b) {
            out[oo[L]] = rr[L];
        } else {
            idx2[n] = (int32_t)oo[L];
            val2[n] = zz[L];
            n++;
        }
    }
    return n;
}
#define FV_RETRY_POST_PS(out, off, m, z, res, za, zb, idx2, val2) \
    fi_v_post_ps_avx2(out, off, m, z, res, za, zb, idx2, val2)
#define FV_RETRY_POST_PD(out, o64, l64, m, z, res, za, zb, idx2, val2) \
    fi_v_post_pd_avx2(out, o64, l64, m, z, res, za, zb, idx2, val2)

#define FV_STORE_F16x2(p, a, b) fi_v_store16_avx2(p, fi_v_f16_avx2(a), fi_v_f16_avx2(b))
#define FV_STORE_BF16x2(p, a, b) fi_v_store16_avx2(p, fi_v_bf16_avx2(a), fi_v_bf16_avx2(b))

