/*
 * fi_simd_avx512.h -- the FV_* vector primitives on AVX-512 (F, DQ, BW, VL): 16 32-bit lanes.
 * Included by fi_simd.h inside its AVX-512 `#pragma GCC target` region, right before
 * fi_simd_body.h; not standalone.  fi_simd_undef.h undefines them afterwards.
 */

#define FI_SIMD_NAME avx512
#define FV_W 16
#define FV_G 4
#define FV_I __m512i
#define FV_F __m512
#define FV_D __m512d
#define FV_MF __mmask16
#define FV_MD __mmask8

#define FV_PERM() _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)
#define FV_SET1_32(x) _mm512_set1_epi32(x)
#define FV_SET1_64(x) _mm512_set1_epi64((long long)(x))
#define FV_SET1_PS(x) _mm512_set1_ps(x)
#define FV_SET1_PD(x) _mm512_set1_pd(x)
#define FV_ADD32(a, b) _mm512_add_epi32(a, b)
#define FV_SUB32(a, b) _mm512_sub_epi32(a, b)
#define FV_ADD64(a, b) _mm512_add_epi64(a, b)
#define FV_SUB64(a, b) _mm512_sub_epi64(a, b)
#define FV_CARRY32(lo, lo0) \
    _mm512_maskz_set1_epi32(_mm512_cmp_epu32_mask(lo, lo0, _MM_CMPINT_LT), 1)
#define FV_AND(a, b) _mm512_and_si512(a, b)
#define FV_OR(a, b) _mm512_or_si512(a, b)
#define FV_XOR(a, b) _mm512_xor_si512(a, b)
#define FV_XOR3(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0x96)
#define FV_SRLI32(a, n) _mm512_srli_epi32(a, n)
#define FV_SLLI32(a, n) _mm512_slli_epi32(a, n)
#define FV_SRLI64(a, n) _mm512_srli_epi64(a, n)
#define FV_SLLI64(a, n) _mm512_slli_epi64(a, n)
#define FV_MULEPU32(a, b) _mm512_mul_epu32(a, b)
/* high / low halves of the even-lane (pe) and odd-lane (po) 64-bit products, one op each:
   a merge-masked swap of adjacent 32-bit lanes */
#define FV_HI_FROM_PRODUCTS(pe, po) \
    _mm512_mask_shuffle_epi32(po, (__mmask16)0x5555, pe, _MM_PERM_CDAB)
#define FV_LO_FROM_PRODUCTS(pe, po) \
    _mm512_mask_shuffle_epi32(pe, (__mmask16)0xAAAA, po, _MM_PERM_CDAB)
#define FV_UNPACKLO32(a, b) _mm512_unpacklo_epi32(a, b)
#define FV_UNPACKHI32(a, b) _mm512_unpackhi_epi32(a, b)
#define FV_UNPACKLO64(a, b) _mm512_unpacklo_epi64(a, b)
#define FV_UNPACKHI64(a, b) _mm512_unpackhi_epi64(a, b)
#define FV_UNPACKLO_PD(a, b) _mm512_unpacklo_pd(a, b)
#define FV_UNPACKHI_PD(a, b) _mm512_unpackhi_pd(a, b)
#define FV_CAST_PS_SI(a) _mm512_castps_si512(a)
#define FV_CAST_SI_PS(a) _mm512_castsi512_ps(a)
#define FV_CAST_PD_SI(a) _mm512_castpd_si512(a)
#define FV_CAST_SI_PD(a) _mm512_castsi512_pd(a)
#define FV_CVT32_PS(a) _mm512_cvtepi32_ps(a)
#define FV_CVTI64_PD(a) _mm512_cvtepi64_pd(a)   /* exact here: |a| < 2^53 */
#define FV_CVTU53_PD(a) _mm512_cvtepi64_pd(a)   /* exact here: 0 <= a <= 2^53 */
#define FV_ADD_PS(a, b) _mm512_add_ps(a, b)
#define FV_SUB_PS(a, b) _mm512_sub_ps(a, b)
#define FV_MUL_PS(a, b) _mm512_mul_ps(a, b)
#define FV_DIV_PS(a, b) _mm512_div_ps(a, b)
#define FV_SQRT_PS(a) _mm512_sqrt_ps(a)
#define FV_ADD_PD(a, b) _mm512_add_pd(a, b)
#define FV_SUB_PD(a, b) _mm512_sub_pd(a, b)
#define FV_MUL_PD(a, b) _mm512_mul_pd(a, b)
#define FV_DIV_PD(a, b) _mm512_div_pd(a, b)
#define FV_SQRT_PD(a) _mm512_sqrt_pd(a)
#define FV_CMPGT_PS(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)
#define FV_CMPLT_PS(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define FV_CMPGE_PS(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ)
#define FV_CMPLE_PS(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ)
#define FV_CMPGT_PD(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ)
#define FV_CMPLT_PD(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ)
#define FV_CMPGE_PD(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ)
#define FV_CMPLE_PD(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ)
#define FV_AND_MASK_PS(a, b) ((__mmask16)((a) & (b)))
#define FV_AND_MASK_PD(a, b) ((__mmask8)((a) & (b)))
#define FV_MASKBITS_PS(m) ((uint32_t)(m))
#define FV_MASKBITS_PD(m) ((uint32_t)(m))
#define FV_SEL_PS(m, a, b) _mm512_mask_blend_ps(m, a, b)      /* m ? b : a */
#define FV_SEL_PD(m, a, b) _mm512_mask_blend_pd(m, a, b)
#define FV_ODD32(k) _mm512_test_epi32_mask(k, _mm512_set1_epi32(1))
#define FV_ODD64(k) _mm512_test_epi64_mask(k, _mm512_set1_epi64(1))
#define FV_LOAD_PS(p) _mm512_loadu_ps(p)
#define FV_STORE_PS(p, v) _mm512_storeu_ps(p, v)
#define FV_STORE_PD(p, v) _mm512_storeu_pd(p, v)

/* float16: vcvtps2ph with round-to-nearest-even gives Giesen's bits for every non-NaN input;
   NaNs (never produced by the kernels) take the scalar code's canonical quiet NaN. */
static inline void fi_v_f16_avx512(uint16_t *out, __m512 v)
{
    __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_si256((__m256i *)out, h);
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    if (nan) {
        float tmp[16];
        _mm512_storeu_ps(tmp, v);
        for (int j = 0; j < 16; j++)
            if (nan & (1u << j)) out[j] = fi_f32_to_f16(tmp[j]);
    }
}

/* bfloat16 of 32 floats, one store: the rounded value sits in the high half of each 32-bit lane
   (NaN: the quiet bit set instead of rounding), and vpermt2w gathers the 32 high halves. */
static inline __m512i fi_v_bf16_hi_avx512(__m512 v)
{
    __m512i u = _mm512_castps_si512(v);
    __mmask16 nan = _mm512_cmp_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                          _mm512_set1_epi32(0x7f800000), _MM_CMPINT_GT);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                    _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
    return _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000));
}

static inline void fi_v_bf16x2_avx512(uint16_t *p, __m512 a, __m512 b)
{
    const __m512i odd_words = _mm512_setr_epi32(
        0x00030001, 0x00070005, 0x000b0009, 0x000f000d, 0x00130011, 0x00170015, 0x001b0019,
        0x001f001d, 0x00230021, 0x00270025, 0x002b0029, 0x002f002d, 0x00330031, 0x00370035,
        0x003b0039, 0x003f003d);
    _mm512_storeu_si512((void *)p, _mm512_permutex2var_epi16(fi_v_bf16_hi_avx512(a), odd_words,
                                                             fi_v_bf16_hi_avx512(b)));
}

#define FV_LOADU_SI(p) _mm512_loadu_si512((const void *)(p))
#define FV_BIT1_32(k) _mm512_test_epi32_mask(k, _mm512_set1_epi32(2))
#define FV_SEL_SI(m, a, b) _mm512_mask_blend_epi32(m, a, b)

/* Append the offsets pos + lane of the rejected lanes (acc clear) at idx, which has 16 entries
   of room; returns how many.  Register compress + full store: branch-free (a branch per vector
   would mispredict on about half of them) and compress-to-memory is slow on Zen 4. */
static inline int fi_v_rej_avx512(__mmask16 acc, int32_t pos, int32_t *idx)
{
    __mmask16 rej = (__mmask16)~acc;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm512_storeu_si512((void *)idx,
                        _mm512_maskz_compress_epi32(rej, _mm512_add_epi32(iota,
                                                                          _mm512_set1_epi32(pos))));
    return __builtin_popcount((unsigned)rej);
}
#define FV_COMPRESS_REJ_PS(acc, pos, idx) fi_v_rej_avx512(acc, pos, idx)

static inline int fi_v_rej_pd_avx512(__mmask8 acc, int32_t pos, int32_t *idx)
{
    __mmask8 rej = (__mmask8)~acc;
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_storeu_si256((__m256i *)idx,
                        _mm256_maskz_compress_epi32(rej, _mm256_add_epi32(iota,
                                                                          _mm256_set1_epi32(pos))));
    return __builtin_popcount((unsigned)rej);
}
#define FV_COMPRESS_REJ_PD(acc, pos, idx) fi_v_rej_pd_avx512(acc, pos, idx)
#define FV_IOTA32() _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

/* Retry post-processing (see fi_v_tn_retry_f32): of the first m lanes, scatter the accepted
   results res to out[off], append the rejected (off, z) at idx2 / val2; returns how many. */
static inline int fi_v_post_ps_avx512(float *out, __m512i off, int m, __m512 z, __m512 res,
                                      __m512 za, __m512 zb, int32_t *idx2, float *val2)
{
    __mmask16 valid = (__mmask16)((1u << m) - 1u);
    __mmask16 acc = _mm512_mask_cmp_ps_mask(valid, z, za, _CMP_GE_OQ)
                    & _mm512_cmp_ps_mask(z, zb, _CMP_LE_OQ);
    _mm512_mask_i32scatter_ps(out, acc, off, res, 4);
    __mmask16 rej = valid & (__mmask16)~acc;
    _mm512_storeu_si512((void *)idx2, _mm512_maskz_compress_epi32(rej, off));
    _mm512_storeu_ps(val2, _mm512_maskz_compress_ps(rej, z));
    return __builtin_popcount((unsigned)rej);
}

/* The same for 64-bit lanes: offsets o64, lane numbers l64 (valid when < m). */
static inline int fi_v_post_pd_avx512(double *out, __m512i o64, __m512i l64, int m, __m512d z,
                                      __m512d res, __m512d za, __m512d zb, int32_t *idx2,
                                      double *val2)
{
    __mmask8 valid = _mm512_cmp_epi64_mask(l64, _mm512_set1_epi64(m), _MM_CMPINT_LT);
    __mmask8 acc = _mm512_mask_cmp_pd_mask(valid, z, za, _CMP_GE_OQ)
                   & _mm512_cmp_pd_mask(z, zb, _CMP_LE_OQ);
    _mm512_mask_i64scatter_pd(out, acc, o64, res, 8);
    __mmask8 rej = valid & (__mmask8)~acc;
    _mm256_storeu_si256((__m256i *)idx2,
                        _mm512_cvtepi64_epi32(_mm512_maskz_compress_epi64(rej, o64)));
    _mm512_storeu_pd(val2, _mm512_maskz_compress_pd(rej, z));
    return __builtin_popcount((unsigned)rej);
}
#define FV_RETRY_POST_PS(out, off, m, z, res, za, zb, idx2, val2) \
    fi_v_post_ps_avx512(out, off, m, z, res, za, zb, idx2, val2)
#define FV_RETRY_POST_PD(out, o64, l64, m, z, res, za, zb, idx2, val2) \
    fi_v_post_pd_avx512(out, o64, l64, m, z, res, za, zb, idx2, val2)

#define FV_STORE_F16x2(p, a, b) (fi_v_f16_avx512(p, a), fi_v_f16_avx512((p) + 16, b))
#define FV_STORE_BF16x2(p, a, b) fi_v_bf16x2_avx512(p, a, b)

