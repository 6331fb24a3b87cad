/*
 * fi_simd_fill.h -- the SIMD fills: truncated-normal retries, float32 and float64 fills, float16 /
 * bfloat16 tiles, and the per-path entry point fi_fill_range_<path>.  Included by fi_simd_body.h
 * (once per instruction set), after the vector Philox and transforms it uses; not standalone.
 */

/* ---- the ziggurat (fi_ziggurat.h), FV_W lanes at a time --------------------------------------- */

/* fi_exp_f64, operation for operation. */
static inline FV_D FI_FN(fi_v_exp_f64)(FV_D x)
{
    const FV_D ln2_hi = FV_SET1_PD(6.93147180369123816490e-01);
    const FV_D ln2_lo = FV_SET1_PD(1.90821492927058770002e-10);
    const FV_D P1 = FV_SET1_PD(1.66666666666666019037e-01);
    const FV_D P2 = FV_SET1_PD(-2.77777777770155933842e-03);
    const FV_D P3 = FV_SET1_PD(6.61375632143793436117e-05);
    const FV_D P4 = FV_SET1_PD(-1.65339022054652515390e-06);
    const FV_D P5 = FV_SET1_PD(4.13813679705723846039e-08);
    FV_I k = FV_CVTT_PD_I64(FV_SUB_PD(FV_MUL_PD(FV_SET1_PD(1.44269504088896338700e+00), x),
                                      FV_SET1_PD(0.5)));
    FV_D dk = FV_CVTI64_PD(k);
    FV_D hi = FV_SUB_PD(x, FV_MUL_PD(dk, ln2_hi));
    FV_D lo = FV_MUL_PD(dk, ln2_lo);
    FV_D t = FV_SUB_PD(hi, lo);
    FV_D tt = FV_MUL_PD(t, t);
    FV_D q = FV_ADD_PD(P4, FV_MUL_PD(tt, P5));
    q = FV_ADD_PD(P3, FV_MUL_PD(tt, q));
    q = FV_ADD_PD(P2, FV_MUL_PD(tt, q));
    q = FV_ADD_PD(P1, FV_MUL_PD(tt, q));
    FV_D c = FV_SUB_PD(t, FV_MUL_PD(tt, q));
    /* 1 - ((lo - (t c) / (2 - c)) - hi) */
    FV_D r = FV_DIV_PD(FV_MUL_PD(t, c), FV_SUB_PD(FV_SET1_PD(2.0), c));
    FV_D y = FV_SUB_PD(FV_SET1_PD(1.0), FV_SUB_PD(FV_SUB_PD(lo, r), hi));
    return FV_CAST_SI_PD(FV_ADD64(FV_CAST_PD_SI(y), FV_SLLI64(k, 52)));
}

/* The wedge test of fi_zig_wedge in 64-bit lanes: |x| (double), layer l (64-bit lanes) and the
   first 64-bit number of aux(i, a, 0); returns the accepted-lane bits. */
static inline uint32_t FI_FN(fi_v_wedge)(FV_D ax, FV_I l, FV_I U)
{
    FV_D u = FV_MUL_PD(FV_CVTU53_PD(FV_SRLI64(U, 11)), FV_SET1_PD(0x1.0p-53));
    FV_D f0 = FV_GATHER_PD(fi_zig_f, l), f1 = FV_GATHER_PD(fi_zig_f + 1, l);
    FV_D y = FV_ADD_PD(f0, FV_MUL_PD(u, FV_SUB_PD(f1, f0)));
    FV_D e = FI_FN(fi_v_exp_f64)(FV_MUL_PD(FV_MUL_PD(FV_SET1_PD(-0.5), ax), ax));
    return FV_MASKBITS_PD(FV_CMPLT_PD(y, e));
}

/* Round 0's fast test on FV_W words: *z = the signed candidate; returns the bits of the lanes
   whose candidate is under the curve (m < k[l]). */
static inline uint32_t FI_FN(fi_v_zig_fast_f32)(FV_I W, FV_F *z)
{
    FV_I l = FV_AND(W, FV_SET1_32(255));
    FV_I m = FV_SRLI32(W, 9);
    FV_F x = FV_MUL_PS(FV_CVT32_PS(m), FV_GATHER_PS(fi_zig_w32, l));
    FV_I sgn = FV_SLLI32(FV_AND(W, FV_SET1_32(256)), 23);
    *z = FV_CAST_SI_PS(FV_XOR(FV_CAST_PS_SI(x), sgn));
    return FV_LT32_BITS(m, FV_GATHER_32(fi_zig_k32, l));
}

static inline uint32_t FI_FN(fi_v_zig_fast_f64)(FV_I W, FV_D *z)
{
    FV_I l = FV_AND(W, FV_SET1_64(255));
    FV_I m = FV_SRLI64(W, 12);
    FV_D x = FV_MUL_PD(FV_CVTU53_PD(m), FV_GATHER_PD(fi_zig_w64, l));
    FV_I sgn = FV_SLLI64(FV_AND(W, FV_SET1_64(256)), 55);
    *z = FV_CAST_SI_PD(FV_XOR(FV_CAST_PD_SI(x), sgn));
    return FV_LT64_BITS(m, FV_GATHER_64(fi_zig_k64, l));
}

/* The lanes `todo` that missed the fast test: the wedge in SIMD (aux words aw0, aw1 = words 0, 1
   of aux(i, a, 0) per lane), the tail (layer 0, 0.026 % of elements) with the scalar code.
   Returns the produced-lane bits among todo; *z updated for tail lanes. */
static uint32_t FI_FN(fi_v_zig_slow_f32)(const uint32_t key[2], FV_I W, FV_I aw0, FV_I aw1,
                                         uint64_t ibase, FV_I off, uint32_t a, FV_F *z,
                                         uint32_t todo)
{
    const FV_I zero = FV_SET1_32(0);
    FV_I l = FV_AND(W, FV_SET1_32(255));
    uint32_t tail = FV_EQ32_BITS(l, zero) & todo;
    uint32_t prod = 0;
    if (todo & ~tail) {
        /* 64-bit lanes: the "lo" half holds 32-bit lanes 4g, 4g+1, the "hi" half 4g+2, 4g+3 */
        FV_F ax = FV_PAIRS_PS(FV_CAST_SI_PS(FV_AND(FV_CAST_PS_SI(*z), FV_SET1_32(0x7fffffff))));
        uint32_t acc[2];
        acc[0] = FI_FN(fi_v_wedge)(FV_CVT_LO_PD(ax), FV_UNPACKLO32(l, zero),
                                   FV_UNPACKLO32(aw0, aw1));
        acc[1] = FI_FN(fi_v_wedge)(FV_CVT_HI_PD(ax), FV_UNPACKHI32(l, zero),
                                   FV_UNPACKHI32(aw0, aw1));
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < FV_W / 2; j++)
                if ((acc[h] >> j) & 1u) prod |= 1u << (4 * (j >> 1) + 2 * h + (j & 1));
        prod &= todo & ~tail;
    }
    if (tail) {
        uint32_t wt[FV_W];
        int32_t ot[FV_W];
        float zt[FV_W];
        FV_STORE_SI(wt, W);
        FV_STORE_SI(ot, off);
        FV_STORE_PS(zt, *z);
        for (int L = 0; L < FV_W; L++)
            if ((tail >> L) & 1u) {
                float t = (float)fi_zig_tail(key, ibase + (uint64_t)(int64_t)ot[L], a);
                zt[L] = ((wt[L] >> 8) & 1u) ? -t : t;
            }
        *z = FV_LOAD_PS(zt);
        prod |= tail;
    }
    return prod;
}

/* The same in float64: W, U (word pair 0, 1 of aux(i, a, 0)) and off in 64-bit lanes. */
static uint32_t FI_FN(fi_v_zig_slow_f64)(const uint32_t key[2], FV_I W, FV_I U, uint64_t ibase,
                                         FV_I off, uint32_t a, FV_D *z, uint32_t todo)
{
    FV_I l = FV_AND(W, FV_SET1_64(255));
    uint32_t tail = FV_EQ64_BITS(l, FV_SET1_64(0)) & todo;
    uint32_t prod = 0;
    if (todo & ~tail) {
        FV_D ax = FV_CAST_SI_PD(FV_AND(FV_CAST_PD_SI(*z), FV_SET1_64(0x7fffffffffffffffll)));
        prod = FI_FN(fi_v_wedge)(ax, l, U) & todo & ~tail;
    }
    if (tail) {
        uint64_t wt[FV_W / 2];
        int64_t ot[FV_W / 2];
        double zt[FV_W / 2];
        FV_STORE_SI(wt, W);
        FV_STORE_SI(ot, off);
        FV_STORE_PD(zt, *z);
        for (int L = 0; L < FV_W / 2; L++)
            if ((tail >> L) & 1u) {
                double t = fi_zig_tail(key, ibase + (uint64_t)ot[L], a);
                zt[L] = ((wt[L] >> 8) & 1u) ? -t : t;
            }
        *z = FV_LOAD_PD(zt);
        prod |= tail;
    }
    return prod;
}

/* Rounds of the elements of a batch that round 0's fast path did not settle.  The batch starts
   at stream element bfirst (a multiple of 4 resp. 2); idx[0..cnt) are the offsets of the pending
   elements from bfirst (and in out[]).  Round a (from 0: the fast-path misses still need their
   wedge or tail) draws the pending elements' words in SIMD (FI_NV * FV_W elements at once,
   Philox on their own blocks at attempt a, and on aux(i, a, 0) when a lane needs the wedge),
   writes the settled ones and compacts the others into idx2 (then the buffers swap).  In the
   last round every value is written: the candidate clamped into [za, zb], as fi_zig_from_* does.
   idx and idx2 need FI_TN_SLACK spare entries. */
#define FI_TN_BATCH 4096 /* elements per batch: offsets in a batch fit the int32 idx[] */
#define FI_TN_CAP 1024   /* pending elements held at once (retried early when it fills up) */
#define FI_TN_SLACK (FI_NV * FV_W)
#define FI_V_HALF_TILE 4096 /* float32 tile of the 16-bit fills (one truncated-normal batch) */

static void FI_FN(fi_v_zig_retry_f32)(const fi_fill_params *p, uint64_t bfirst, int32_t *idx,
                                      int32_t *idx2, int cnt, float *out, float za, float zb,
                                      uint32_t rounds)
{
    const FV_F vmean = FV_SET1_PS((float)p->p0), vstd = FV_SET1_PS((float)p->p1);
    const FV_F vlo = FV_SET1_PS((float)p->lo), vhi = FV_SET1_PS((float)p->hi);
    const FV_F vza = FV_SET1_PS(za), vzb = FV_SET1_PS(zb);
    const uint64_t bbase = bfirst >> 2;
    for (uint32_t a = 0; cnt > 0 && a < rounds; a++) {
        const int last = a + 1 == rounds;
        for (int k = cnt; k < cnt + FI_TN_SLACK; k++) idx[k] = 0;
        int nc = 0;
        for (int k = 0; k < cnt; k += FI_NV * FV_W) {
            FV_I off[FI_NV], c0[FI_NV], c1[FI_NV], w[FI_NV][4], W[FI_NV];
            FV_F z[FI_NV];
            uint32_t acc[FI_NV], todo[FI_NV], any = 0;
            for (int v = 0; v < FI_NV; v++) {
                off[v] = FV_LOADU_SI(idx + k + v * FV_W);
                FI_FN(fi_v_block_counters)(bbase, FV_SRLI32(off[v], 2), &c0[v], &c1[v]);
            }
            FI_FN(fi_v_philox_ctr)(p->key, c0, c1, a, FI_TAG_MAIN, w);
            for (int v = 0; v < FI_NV; v++) {
                int m = cnt - k - v * FV_W;
                uint32_t valid = m <= 0 ? 0u : m >= FV_W ? (uint32_t)((1ull << FV_W) - 1u)
                                                         : (1u << m) - 1u;
                FV_MF odd = FV_ODD32(off[v]), hi2 = FV_BIT1_32(off[v]);
                W[v] = FV_SEL_SI(hi2, FV_SEL_SI(odd, w[v][0], w[v][1]),
                                 FV_SEL_SI(odd, w[v][2], w[v][3]));
                acc[v] = FI_FN(fi_v_zig_fast_f32)(W[v], &z[v]);
                todo[v] = ~acc[v] & valid;
                any |= todo[v];
            }
            if (any) { /* the wedge's uniforms, aux(i, a, 0), for all FI_NV vectors at once */
                FV_I aw[FI_NV][4];
                for (int v = 0; v < FI_NV; v++)
                    FI_FN(fi_v_block_counters)(bfirst, off[v], &c0[v], &c1[v]);
                FI_FN(fi_v_philox_ctr)(p->key, c0, c1, a, FI_TAG_ZIG, aw);
                for (int v = 0; v < FI_NV; v++)
                    if (todo[v])
                        acc[v] |= FI_FN(fi_v_zig_slow_f32)(p->key, W[v], aw[v][0], aw[v][1],
                                                           bfirst, off[v], a, &z[v], todo[v]);
            }
            for (int v = 0; v < FI_NV; v++) {
                int m = cnt - k - v * FV_W;
                if (m <= 0) break;
                if (m > FV_W) m = FV_W;
                acc[v] &= FV_MASKBITS_PS(FV_AND_MASK_PS(FV_CMPGE_PS(z[v], vza),
                                                        FV_CMPLE_PS(z[v], vzb)));
                FV_F res = FI_FN(fi_v_clamp_ps)(
                    FV_ADD_PS(vmean, FV_MUL_PS(vstd, FI_FN(fi_v_clamp_ps)(z[v], vza, vzb))), vlo,
                    vhi);
                float rt[FV_W];
                int32_t ot[FV_W];
                FV_STORE_PS(rt, res);
                FV_STORE_SI(ot, off[v]);
                for (int L = 0; L < m; L++) {
                    if (last || ((acc[v] >> L) & 1u)) out[ot[L]] = rt[L];
                    else idx2[nc++] = ot[L];
                }
            }
        }
        int32_t *t = idx; idx = idx2; idx2 = t;
        cnt = nc;
    }
}

static void FI_FN(fi_v_zig_retry_f64)(const fi_fill_params *p, uint64_t bfirst, int32_t *idx,
                                      int32_t *idx2, int cnt, double *out, double za, double zb,
                                      uint32_t rounds)
{
    const FV_D vmean = FV_SET1_PD(p->p0), vstd = FV_SET1_PD(p->p1);
    const FV_D vlo = FV_SET1_PD(p->lo), vhi = FV_SET1_PD(p->hi);
    const FV_D vza = FV_SET1_PD(za), vzb = FV_SET1_PD(zb);
    const FV_I zero = FV_SET1_32(0);
    const FV_I iota = FV_IOTA32();
    const uint64_t bbase = bfirst >> 1;
    for (uint32_t a = 0; cnt > 0 && a < rounds; a++) {
        const int last = a + 1 == rounds;
        for (int k = cnt; k < cnt + FI_TN_SLACK; k++) idx[k] = 0;
        int nc = 0;
        for (int k = 0; k < cnt; k += FI_NV * FV_W) {
            FV_I off[FI_NV], c0[FI_NV], c1[FI_NV], w[FI_NV][4], W[FI_NV][2], o64[FI_NV][2];
            FV_D z[FI_NV][2];
            uint32_t acc[FI_NV][2], todo[FI_NV][2], any = 0;
            for (int v = 0; v < FI_NV; v++) {
                off[v] = FV_LOADU_SI(idx + k + v * FV_W);
                FI_FN(fi_v_block_counters)(bbase, FV_SRLI32(off[v], 1), &c0[v], &c1[v]);
            }
            FI_FN(fi_v_philox_ctr)(p->key, c0, c1, a, FI_TAG_MAIN, w);
            /* 64-bit lanes: the "lo" half holds 32-bit lanes 4g, 4g+1, "hi" 4g+2, 4g+3 */
            for (int v = 0; v < FI_NV; v++)
                for (int h = 0; h < 2; h++) {
                    FV_I l64 = h ? FV_UNPACKHI32(iota, zero) : FV_UNPACKLO32(iota, zero);
                    FV_I U0 = h ? FV_UNPACKHI32(w[v][0], w[v][1]) : FV_UNPACKLO32(w[v][0], w[v][1]);
                    FV_I U1 = h ? FV_UNPACKHI32(w[v][2], w[v][3]) : FV_UNPACKLO32(w[v][2], w[v][3]);
                    int m = cnt - k - v * FV_W;
                    o64[v][h] = h ? FV_UNPACKHI32(off[v], zero) : FV_UNPACKLO32(off[v], zero);
                    W[v][h] = FV_CAST_PD_SI(FV_SEL_PD(FV_ODD64(o64[v][h]), FV_CAST_SI_PD(U0),
                                                      FV_CAST_SI_PD(U1)));
                    acc[v][h] = FI_FN(fi_v_zig_fast_f64)(W[v][h], &z[v][h]);
                    todo[v][h] = ~acc[v][h] & FV_LT64_BITS(l64, FV_SET1_64(m))
                                 & ((1u << (FV_W / 2)) - 1u);
                    any |= todo[v][h];
                }
            if (any) {
                FV_I aw[FI_NV][4];
                for (int v = 0; v < FI_NV; v++)
                    FI_FN(fi_v_block_counters)(bfirst, off[v], &c0[v], &c1[v]);
                FI_FN(fi_v_philox_ctr)(p->key, c0, c1, a, FI_TAG_ZIG, aw);
                for (int v = 0; v < FI_NV; v++)
                    for (int h = 0; h < 2; h++)
                        if (todo[v][h]) {
                            FV_I U = h ? FV_UNPACKHI32(aw[v][0], aw[v][1])
                                       : FV_UNPACKLO32(aw[v][0], aw[v][1]);
                            acc[v][h] |= FI_FN(fi_v_zig_slow_f64)(p->key, W[v][h], U, bfirst,
                                                                  o64[v][h], a, &z[v][h],
                                                                  todo[v][h]);
                        }
            }
            for (int v = 0; v < FI_NV; v++) {
                int m = cnt - k - v * FV_W;
                if (m <= 0) break;
                for (int h = 0; h < 2; h++) {
                    FV_I l64 = h ? FV_UNPACKHI32(iota, zero) : FV_UNPACKLO32(iota, zero);
                    uint32_t a2 = acc[v][h] & FV_MASKBITS_PD(FV_AND_MASK_PD(
                                      FV_CMPGE_PD(z[v][h], vza), FV_CMPLE_PD(z[v][h], vzb)));
                    FV_D res = FI_FN(fi_v_clamp_pd)(
                        FV_ADD_PD(vmean, FV_MUL_PD(vstd, FI_FN(fi_v_clamp_pd)(z[v][h], vza, vzb))),
                        vlo, vhi);
                    double rt[FV_W / 2];
                    int64_t ot[FV_W / 2], lt[FV_W / 2];
                    FV_STORE_PD(rt, res);
                    FV_STORE_SI(ot, o64[v][h]);
                    FV_STORE_SI(lt, l64);
                    for (int L = 0; L < FV_W / 2; L++) {
                        if (lt[L] >= m) continue;
                        if (last || ((a2 >> L) & 1u)) out[ot[L]] = rt[L];
                        else idx2[nc++] = (int32_t)ot[L];
                    }
                }
            }
        }
        int32_t *t = idx; idx = idx2; idx2 = t;
        cnt = nc;
    }
}

/* Round 0's fast path for elements [first, first + n) (first % 4 == 0, n % FI_U32 == 0) in
   batches of FI_TN_BATCH, then fi_v_zig_retry_f32 for the pending ones (misses of the fast test
   or of the bounds), from round 0.  Normal: za, zb = -inf, +inf. */
#define FI_U32 (4 * FV_W * FI_NV) /* float32 elements per iteration */
#define FI_U64 (2 * FV_W * FI_NV) /* float64 elements per iteration */

static void FI_FN(fi_v_zig_body_f32)(const fi_fill_params *p, uint64_t first, int64_t n,
                                     float *out, float za, float zb, uint32_t rounds)
{
    const FV_F lo = FV_SET1_PS((float)p->lo), hi = FV_SET1_PS((float)p->hi);
    const FV_F mean = FV_SET1_PS((float)p->p0), stddev = FV_SET1_PS((float)p->p1);
    const FV_F vza = FV_SET1_PS(za), vzb = FV_SET1_PS(zb);
    int32_t idx[FI_TN_CAP + FI_TN_SLACK], idx2[FI_TN_CAP + FI_TN_SLACK];
    for (int64_t e0 = 0; e0 < n; e0 += FI_TN_BATCH) {
        int64_t e1 = e0 + FI_TN_BATCH < n ? e0 + FI_TN_BATCH : n;
        const uint64_t bfirst = first + (uint64_t)e0;
        int cnt = 0;
        for (int64_t e = e0; e < e1; e += FI_U32) {
            FV_I w[FI_NV][4];
            FI_FN(fi_v_philox)(p->key, (first + (uint64_t)e) >> 2, 0, w);
            for (int v = 0; v < FI_NV; v++) {
                FV_F a[4], o[4];
                for (int j = 0; j < 4; j++) a[j] = FV_CAST_SI_PS(w[v][j]);
                FI_FN(fi_v_transpose_ps)(a, o);
                for (int q = 0; q < 4; q++) {
                    int32_t pos = (int32_t)(e - e0) + (v * 4 + q) * FV_W;
                    FV_F z;
                    uint32_t acc = FI_FN(fi_v_zig_fast_f32)(FV_CAST_PS_SI(o[q]), &z);
                    acc &= FV_MASKBITS_PS(FV_AND_MASK_PS(FV_CMPGE_PS(z, vza),
                                                         FV_CMPLE_PS(z, vzb)));
                    FV_STORE_PS(out + e0 + pos,
                                FI_FN(fi_v_clamp_ps)(FV_ADD_PS(mean, FV_MUL_PS(
                                    stddev, FI_FN(fi_v_clamp_ps)(z, vza, vzb))), lo, hi));
                    cnt += FV_COMPRESS_REJ_BITS_PS(acc, pos, idx + cnt);
                }
            }
            if (cnt > FI_TN_CAP - FI_U32) { /* many pending: settle them now */
                FI_FN(fi_v_zig_retry_f32)(p, bfirst, idx, idx2, cnt, out + e0, za, zb, rounds);
                cnt = 0;
            }
        }
        FI_FN(fi_v_zig_retry_f32)(p, bfirst, idx, idx2, cnt, out + e0, za, zb, rounds);
    }
}

/* The same in float64 (first % 2 == 0, n % FI_U64 == 0). */
static void FI_FN(fi_v_zig_body_f64)(const fi_fill_params *p, uint64_t first, int64_t n,
                                     double *out, double za, double zb, uint32_t rounds)
{
    const FV_D lo = FV_SET1_PD(p->lo), hi = FV_SET1_PD(p->hi);
    const FV_D mean = FV_SET1_PD(p->p0), stddev = FV_SET1_PD(p->p1);
    const FV_D vza = FV_SET1_PD(za), vzb = FV_SET1_PD(zb);
    int32_t idx[FI_TN_CAP + FI_TN_SLACK], idx2[FI_TN_CAP + FI_TN_SLACK];
    for (int64_t e0 = 0; e0 < n; e0 += FI_TN_BATCH) {
        int64_t e1 = e0 + FI_TN_BATCH < n ? e0 + FI_TN_BATCH : n;
        const uint64_t bfirst = first + (uint64_t)e0;
        int cnt = 0;
        for (int64_t e = e0; e < e1; e += FI_U64) {
            FV_I w[FI_NV][4];
            FI_FN(fi_v_philox)(p->key, (first + (uint64_t)e) >> 1, 0, w);
            for (int v = 0; v < FI_NV; v++) {
                FV_I U[4], S[4];
                U[0] = FV_UNPACKLO32(w[v][0], w[v][1]); /* U0 of lanes 4g, 4g+1 */
                U[1] = FV_UNPACKHI32(w[v][0], w[v][1]); /* U0 of lanes 4g+2, 4g+3 */
                U[2] = FV_UNPACKLO32(w[v][2], w[v][3]); /* U1 of lanes 4g, 4g+1 */
                U[3] = FV_UNPACKHI32(w[v][2], w[v][3]); /* U1 of lanes 4g+2, 4g+3 */
                S[0] = FV_UNPACKLO64(U[0], U[2]);       /* stream order */
                S[1] = FV_UNPACKHI64(U[0], U[2]);
                S[2] = FV_UNPACKLO64(U[1], U[3]);
                S[3] = FV_UNPACKHI64(U[1], U[3]);
                for (int q = 0; q < 4; q++) {
                    int32_t pos = (int32_t)(e - e0) + (v * 4 + q) * (FV_W / 2);
                    FV_D z;
                    uint32_t acc = FI_FN(fi_v_zig_fast_f64)(S[q], &z);
                    acc &= FV_MASKBITS_PD(FV_AND_MASK_PD(FV_CMPGE_PD(z, vza),
                                                         FV_CMPLE_PD(z, vzb)));
                    FV_STORE_PD(out + e0 + pos,
                                FI_FN(fi_v_clamp_pd)(FV_ADD_PD(mean, FV_MUL_PD(
                                    stddev, FI_FN(fi_v_clamp_pd)(z, vza, vzb))), lo, hi));
                    cnt += FV_COMPRESS_REJ_BITS_PD(acc, pos, idx + cnt);
                }
            }
            if (cnt > FI_TN_CAP - FI_U64) {
                FI_FN(fi_v_zig_retry_f64)(p, bfirst, idx, idx2, cnt, out + e0, za, zb, rounds);
                cnt = 0;
            }
        }
        FI_FN(fi_v_zig_retry_f64)(p, bfirst, idx, idx2, cnt, out + e0, za, zb, rounds);
    }
}

/* ---- float32 fills --------------------------------------------------------------------------- */

/* Elements [first, first + n) of the float32 stream; first % 4 == 0 and n % FI_U32 == 0. */
static void FI_FN(fi_v_body_f32)(const fi_fill_params *p, uint64_t first, int64_t n, float *out)
{
    const FV_F lo = FV_SET1_PS((float)p->lo), hi = FV_SET1_PS((float)p->hi);
    if (p->dist == FI_DIST_UNIFORM) {
        const FV_F low = FV_SET1_PS((float)p->p0), scale = FV_SET1_PS((float)p->p1);
        const FV_F inv = FV_SET1_PS(0x1.0p-24f);
        for (int64_t e = 0; e < n; e += FI_U32) {
            FV_I w[FI_NV][4];
            FI_FN(fi_v_philox)(p->key, (first + (uint64_t)e) >> 2, 0, w);
            for (int v = 0; v < FI_NV; v++) {
                FV_F a[4], o[4];
                for (int j = 0; j < 4; j++) {
                    FV_F u = FV_MUL_PS(FV_CVT32_PS(FV_SRLI32(w[v][j], 8)), inv);
                    a[j] = FI_FN(fi_v_clamp_ps)(FV_ADD_PS(low, FV_MUL_PS(u, scale)), lo, hi);
                }
                FI_FN(fi_v_transpose_ps)(a, o);
                for (int q = 0; q < 4; q++)
                    FV_STORE_PS(out + e + (v * 4 + q) * FV_W, o[q]);
            }
        }
    } else if (p->dist == FI_DIST_NORMAL) {
        FI_FN(fi_v_zig_body_f32)(p, first, n, out, -INFINITY, INFINITY, FI_ZIG_ROUNDS);
    } else { /* truncated normal, FI_TN_NORMAL */
        FI_FN(fi_v_zig_body_f32)(p, first, n, out, (float)p->za, (float)p->zb, p->max_attempts);
    }
}

static void FI_FN(fi_v_fill_f32)(const fi_fill_params *p, uint64_t first, int64_t n, float *out)
{
    if (p->dist == FI_DIST_TRUNCNORM && p->tn_method != FI_TN_NORMAL) {
        fi_fill_f32(p, first, n, out);
        return;
    }
    int64_t head = (int64_t)((4u - (unsigned)(first & 3u)) & 3u);
    if (head > n) head = n;
    if (head) fi_fill_f32(p, first, head, out);
    int64_t body = (n - head) / FI_U32 * FI_U32;
    if (body) {
        FI_FN(fi_v_body_f32)(p, first + (uint64_t)head, body, out + head);
    }
    int64_t tail = n - head - body;
    if (tail >= 16) { /* one SIMD iteration into a buffer beats a long scalar tail */
        float tmp[FI_U32] __attribute__((aligned(64)));
        FI_FN(fi_v_body_f32)(p, first + (uint64_t)(head + body), FI_U32, tmp);
        memcpy(out + head + body, tmp, (size_t)tail * sizeof(float));
    } else if (tail) {
        fi_fill_f32(p, first + (uint64_t)(head + body), tail, out + head + body);
    }
}

/* ---- float64 fills --------------------------------------------------------------------------- */

/* Elements [first, first + n) of the float64 stream; first % 2 == 0 and n % FI_U64 == 0. */
static void FI_FN(fi_v_body_f64)(const fi_fill_params *p, uint64_t first, int64_t n, double *out)
{
    const FV_D lo = FV_SET1_PD(p->lo), hi = FV_SET1_PD(p->hi);
    if (p->dist == FI_DIST_UNIFORM) {
        const FV_D low = FV_SET1_PD(p->p0), scale = FV_SET1_PD(p->p1);
        const FV_D inv = FV_SET1_PD(0x1.0p-53);
        for (int64_t e = 0; e < n; e += FI_U64) {
            FV_I w[FI_NV][4];
            FI_FN(fi_v_philox)(p->key, (first + (uint64_t)e) >> 1, 0, w);
            for (int v = 0; v < FI_NV; v++) {
                FV_I U[4];
                U[0] = FV_UNPACKLO32(w[v][0], w[v][1]); /* U0 of lanes 4g, 4g+1 */
                U[1] = FV_UNPACKHI32(w[v][0], w[v][1]); /* U0 of lanes 4g+2, 4g+3 */
                U[2] = FV_UNPACKLO32(w[v][2], w[v][3]); /* U1 of lanes 4g, 4g+1 */
                U[3] = FV_UNPACKHI32(w[v][2], w[v][3]); /* U1 of lanes 4g+2, 4g+3 */
                FV_D f[4];
                for (int j = 0; j < 4; j++) {
                    FV_D u = FV_MUL_PD(FV_CVTU53_PD(FV_SRLI64(U[j], 11)), inv);
                    f[j] = FI_FN(fi_v_clamp_pd)(FV_ADD_PD(low, FV_MUL_PD(u, scale)), lo, hi);
                }
                double *o = out + e + v * 4 * (FV_W / 2);
                FV_STORE_PD(o + 0 * (FV_W / 2), FV_UNPACKLO_PD(f[0], f[2]));
                FV_STORE_PD(o + 1 * (FV_W / 2), FV_UNPACKHI_PD(f[0], f[2]));
                FV_STORE_PD(o + 2 * (FV_W / 2), FV_UNPACKLO_PD(f[1], f[3]));
                FV_STORE_PD(o + 3 * (FV_W / 2), FV_UNPACKHI_PD(f[1], f[3]));
            }
        }
        return;
    }
    if (p->dist == FI_DIST_NORMAL)
        FI_FN(fi_v_zig_body_f64)(p, first, n, out, -INFINITY, INFINITY, FI_ZIG_ROUNDS);
    else /* truncated normal, FI_TN_NORMAL */
        FI_FN(fi_v_zig_body_f64)(p, first, n, out, p->za, p->zb, p->max_attempts);
}

static void FI_FN(fi_v_fill_f64)(const fi_fill_params *p, uint64_t first, int64_t n, double *out)
{
    if (p->dist == FI_DIST_TRUNCNORM && p->tn_method != FI_TN_NORMAL) {
        fi_fill_f64(p, first, n, out);
        return;
    }
    int64_t head = (int64_t)(first & 1u);
    if (head > n) head = n;
    if (head) fi_fill_f64(p, first, head, out);
    int64_t body = (n - head) / FI_U64 * FI_U64;
    if (body) {
        FI_FN(fi_v_body_f64)(p, first + (uint64_t)head, body, out + head);
    }
    int64_t tail = n - head - body;
    if (tail >= 8) {
        double tmp[FI_U64] __attribute__((aligned(64)));
        FI_FN(fi_v_body_f64)(p, first + (uint64_t)(head + body), FI_U64, tmp);
        memcpy(out + head + body, tmp, (size_t)tail * sizeof(double));
    } else if (tail) {
        fi_fill_f64(p, first + (uint64_t)(head + body), tail, out + head + body);
    }
}

/* ---- float16 / bfloat16: float32 tiles in SIMD, rounded in SIMD ------------------------------ */

static void FI_FN(fi_v_round_half)(int bf16, const float *in, int64_t n, uint16_t *out)
{
    int64_t j = 0;
    if (bf16)
        for (; j + 2 * FV_W <= n; j += 2 * FV_W)
            FV_STORE_BF16x2(out + j, FV_LOAD_PS(in + j), FV_LOAD_PS(in + j + FV_W));
    else
        for (; j + 2 * FV_W <= n; j += 2 * FV_W)
            FV_STORE_F16x2(out + j, FV_LOAD_PS(in + j), FV_LOAD_PS(in + j + FV_W));
    for (; j < n; j++) out[j] = bf16 ? fi_f32_to_bf16(in[j]) : fi_f32_to_f16(in[j]);
}

static void FI_FN(fi_v_fill_half)(const fi_fill_params *p, uint64_t first, int64_t n,
                                  uint16_t *out)
{
    float tile[FI_V_HALF_TILE] __attribute__((aligned(64)));
    const int bf16 = p->dtype == FI_BF16;
    int64_t done = 0;
    while (done < n) {
        /* tiles end on multiples of FI_HALF_TILE of the stream index, so they start on blocks */
        uint64_t g = first + (uint64_t)done;
        int64_t m = FI_V_HALF_TILE - (int64_t)(g % FI_V_HALF_TILE);
        if (m > n - done) m = n - done;
        FI_FN(fi_v_fill_f32)(p, g, m, tile);
        FI_FN(fi_v_round_half)(bf16, tile, m, out + done);
        done += m;
    }
}

static void FI_FN(fi_fill_range)(const fi_fill_params *p, void *buf, int64_t off, int64_t n)
{
    uint64_t first = p->start + (uint64_t)off;
    if (n <= 0) return;
    if (p->dist == FI_DIST_CONSTANT) { fi_fill_constant(p, buf, off, n); return; }
    switch (p->dtype) {
    case FI_F32: FI_FN(fi_v_fill_f32)(p, first, n, (float *)buf + off); break;
    case FI_F64: FI_FN(fi_v_fill_f64)(p, first, n, (double *)buf + off); break;
    default: FI_FN(fi_v_fill_half)(p, first, n, (uint16_t *)buf + off); break;
    }
}

/* Test hook: round n floats to float16 / bfloat16 with this path's vector code. */
static void FI_FN(fi_round_half)(int bf16, const float *in, int64_t n, uint16_t *out)
{
    FI_FN(fi_v_round_half)(bf16, in, n, out);
}

