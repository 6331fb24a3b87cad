/*
 * fi_simd_fill.h -- the SIMD fills: truncated-normal retries, float32 and float64 fills, float16 /
 * bfloat16 tiles, and the per-path entry point fi_fill_range_<path>.  Included by fi_simd_body.h
 * (once per instruction set), after the vector Philox and transforms it uses; not standalone.
 */

/* ---- truncated normal: vectorized retries of the rejected elements --------------------------- */

/* The rejected elements of a batch whose first element is stream element `bfirst` (a multiple of
   4 resp. 2): idx[] their offsets from bfirst (also their offsets in out[]); val[] their rejected
   normals from the second attempt on (only the max_attempts fallback needs them).  Retry a of element i is word j = i % 4 (float64: i % 2) of the normals of block
   (i / 4, attempt a) -- exactly the retry loop of fi_truncnorm_f32/64 (fi_kernels.h), for
   FI_NV * FV_W rejected elements at once.
   Accepted values are written (scattered) to out[], the still-rejected ones are compacted into
   idx2 / val2 for the next attempt (the buffers then swap); after max_attempts the same
   deterministic clamp as the scalar code.  All four arrays need FI_TN_SLACK spare entries. */
#define FI_TN_BATCH 4096 /* elements per batch: offsets in a batch fit the int32 idx[] */
#define FI_TN_CAP 1024   /* rejected elements held at once (retried early when it fills up) */
#define FI_TN_SLACK (FI_NV * FV_W)
#define FI_V_HALF_TILE 4096 /* float32 tile of the 16-bit fills (one truncated-normal batch) */

static void FI_FN(fi_v_tn_retry_f32)(const fi_fill_params *p, uint64_t bfirst, int32_t *idx,
                                     float *val, int32_t *idx2, float *val2, int cnt, float *out)
{
    const float za = (float)p->za, zb = (float)p->zb;
    const FV_F vmean = FV_SET1_PS((float)p->p0), vstd = FV_SET1_PS((float)p->p1);
    const FV_F vlo = FV_SET1_PS((float)p->lo), vhi = FV_SET1_PS((float)p->hi);
    const FV_F vza = FV_SET1_PS(za), vzb = FV_SET1_PS(zb);
    const uint64_t bbase = bfirst >> 2;
    for (uint32_t a = 1; cnt > 0; a++) {
        if (a >= p->max_attempts) {
            const float mean = (float)p->p0, stddev = (float)p->p1;
            const float lo = (float)p->lo, hi = (float)p->hi;
            for (int k = 0; k < cnt; k++) {
                float v = val[k];
                if (a == 1) { /* max_attempts == 1: the attempt-0 normal is not kept; redo it */
                    float z[4];
                    uint64_t i = bfirst + (uint64_t)idx[k];
                    fi_normal_block_f32(p->key, i >> 2, 0, z);
                    v = z[i & 3u];
                }
                out[idx[k]] = fi_clamp_f32(mean + stddev * fi_clamp_f32(v, za, zb), lo, hi);
            }
            return;
        }
        for (int k = cnt; k < cnt + FI_TN_SLACK; k++) idx[k] = 0;
        int nc = 0;
        for (int k = 0; k < cnt; k += FI_NV * FV_W) {
            FV_I off[FI_NV], c0[FI_NV], c1[FI_NV], w[FI_NV][4];
            for (int v = 0; v < FI_NV; v++) {
                off[v] = FV_LOADU_SI(idx + k + v * FV_W);
                FI_FN(fi_v_block_counters)(bbase, FV_SRLI32(off[v], 2), &c0[v], &c1[v]);
            }
            FI_FN(fi_v_philox_ctr)(p->key, c0, c1, a, FI_TAG_MAIN, w);
            for (int v = 0; v < FI_NV; v++) {
                int m = cnt - k - v * FV_W;
                if (m <= 0) break;
                if (m > FV_W) m = FV_W;
                FV_MF second = FV_BIT1_32(off[v]); /* j = 2, 3: the pair of words 2, 3 */
                FV_F z0, z1;
                FI_FN(fi_v_box_muller_f32)(FV_SEL_SI(second, w[v][0], w[v][2]),
                                           FV_SEL_SI(second, w[v][1], w[v][3]), &z0, &z1);
                FV_F z = FV_SEL_PS(FV_ODD32(off[v]), z0, z1);
                FV_F res = FI_FN(fi_v_clamp_ps)(FV_ADD_PS(vmean, FV_MUL_PS(vstd, z)), vlo, vhi);
                nc += FV_RETRY_POST_PS(out, off[v], m, z, res, vza, vzb, idx2 + nc, val2 + nc);
            }
        }
        int32_t *ti = idx; idx = idx2; idx2 = ti;
        float *tv = val; val = val2; val2 = tv;
        cnt = nc;
    }
}

static void FI_FN(fi_v_tn_retry_f64)(const fi_fill_params *p, uint64_t bfirst, int32_t *idx,
                                     double *val, int32_t *idx2, double *val2, int cnt,
                                     double *out)
{
    const double za = p->za, zb = p->zb;
    const FV_D vmean = FV_SET1_PD(p->p0), vstd = FV_SET1_PD(p->p1);
    const FV_D vlo = FV_SET1_PD(p->lo), vhi = FV_SET1_PD(p->hi);
    const FV_D vza = FV_SET1_PD(za), vzb = FV_SET1_PD(zb);
    const FV_I zero = FV_SET1_32(0);
    const FV_I iota = FV_IOTA32();
    const uint64_t bbase = bfirst >> 1;
    for (uint32_t a = 1; cnt > 0; a++) {
        if (a >= p->max_attempts) {
            for (int k = 0; k < cnt; k++) {
                double v = val[k];
                if (a == 1) { /* max_attempts == 1: the attempt-0 normal is not kept; redo it */
                    double z[2];
                    uint64_t i = bfirst + (uint64_t)idx[k];
                    fi_normal_block_f64(p->key, i >> 1, 0, z);
                    v = z[i & 1u];
                }
                out[idx[k]] = fi_clamp_f64(p->p0 + p->p1 * fi_clamp_f64(v, za, zb), p->lo, p->hi);
            }
            return;
        }
        for (int k = cnt; k < cnt + FI_TN_SLACK; k++) idx[k] = 0;
        int nc = 0;
        for (int k = 0; k < cnt; k += FI_NV * FV_W) {
            FV_I off[FI_NV], c0[FI_NV], c1[FI_NV], w[FI_NV][4];
            for (int v = 0; v < FI_NV; v++) {
                off[v] = FV_LOADU_SI(idx + k + v * FV_W);
                FI_FN(fi_v_block_counters)(bbase, FV_SRLI32(off[v], 1), &c0[v], &c1[v]);
            }
            FI_FN(fi_v_philox_ctr)(p->key, c0, c1, a, FI_TAG_MAIN, w);
            for (int v = 0; v < FI_NV; v++) {
                int m = cnt - k - v * FV_W;
                if (m <= 0) break;
                if (m > FV_W) m = FV_W;
                /* 64-bit lanes: the "lo" half holds 32-bit lanes 4g, 4g+1, "hi" 4g+2, 4g+3 */
                for (int h = 0; h < 2; h++) {
                    FV_I o64 = h ? FV_UNPACKHI32(off[v], zero) : FV_UNPACKLO32(off[v], zero);
                    FV_I l64 = h ? FV_UNPACKHI32(iota, zero) : FV_UNPACKLO32(iota, zero);
                    FV_D z0, z1;
                    if (h)
                        FI_FN(fi_v_box_muller_f64)(FV_UNPACKHI32(w[v][0], w[v][1]),
                                                   FV_UNPACKHI32(w[v][2], w[v][3]), &z0, &z1);
                    else
                        FI_FN(fi_v_box_muller_f64)(FV_UNPACKLO32(w[v][0], w[v][1]),
                                                   FV_UNPACKLO32(w[v][2], w[v][3]), &z0, &z1);
                    FV_D z = FV_SEL_PD(FV_ODD64(o64), z0, z1);
                    FV_D res = FI_FN(fi_v_clamp_pd)(FV_ADD_PD(vmean, FV_MUL_PD(vstd, z)),
                                                    vlo, vhi);
                    nc += FV_RETRY_POST_PD(out, o64, l64, m, z, res, vza, vzb, idx2 + nc,
                                           val2 + nc);
                }
            }
        }
        int32_t *ti = idx; idx = idx2; idx2 = ti;
        double *tv = val; val = val2; val2 = tv;
        cnt = nc;
    }
}

/* ---- truncated normal: the proposal samplers (fi_tn_proposal) in SIMD ------------------------ */

#define FI_TN_PBATCH 4096 /* elements per batch of the proposal samplers */

/* Attempt a of fi_tn_proposal for the FI_NV * FV_W elements i0 + offs[e] (per-element streams:
   lane e's counter is its element), in 64-bit lanes, operation for operation like the scalar
   code; the standardized values go to x[e], and bit e of the result says whether element e
   accepted its proposal at this attempt. */
static inline uint64_t FI_FN(fi_v_tn_prop)(const fi_fill_params *p, uint64_t i0,
                                           const int32_t *offs, uint32_t a,
                                           double x[FI_NV * FV_W])
{
    const int neg = p->tn_method == FI_TN_EXP_NEG, unif = p->tn_method == FI_TN_UNIFORM;
    const double za = neg ? -p->zb : p->za, zb = neg ? -p->za : p->zb;
    const FV_D vza = FV_SET1_PD(za), vzb = FV_SET1_PD(zb), inv = FV_SET1_PD(0x1.0p-53);
    const FV_D width = FV_SET1_PD(zb - za), m2 = FV_SET1_PD(p->tn_m2);
    const FV_D alpha = FV_SET1_PD(p->tn_alpha), half = FV_SET1_PD(0.5);
    const FV_I one = FV_SET1_64(1);
    FV_I c0[FI_NV], c1[FI_NV], w[FI_NV][4];
    for (int v = 0; v < FI_NV; v++)
        FI_FN(fi_v_block_counters)(i0, FV_LOADU_SI(offs + v * FV_W), &c0[v], &c1[v]);
    FI_FN(fi_v_philox_ctr)(p->key, c0, c1, a, FI_TAG_ELEMENT, w);
    uint64_t acc = 0;
    for (int v = 0; v < FI_NV; v++)
        for (int h = 0; h < 2; h++) {
            /* 64-bit lanes: "lo" holds 32-bit lanes 4g, 4g+1, "hi" 4g+2, 4g+3 */
            FV_I U0 = h ? FV_UNPACKHI32(w[v][0], w[v][1]) : FV_UNPACKLO32(w[v][0], w[v][1]);
            FV_I U1 = h ? FV_UNPACKHI32(w[v][2], w[v][3]) : FV_UNPACKLO32(w[v][2], w[v][3]);
            FV_D lu = FI_FN(fi_v_log_f64)(
                FV_MUL_PD(FV_CVTU53_PD(FV_ADD64(FV_SRLI64(U1, 11), one)), inv));
            FV_D xv;
            uint32_t ok;
            if (unif) {
                xv = FV_ADD_PD(vza, FV_MUL_PD(width,
                                              FV_MUL_PD(FV_CVTU53_PD(FV_SRLI64(U0, 11)), inv)));
                xv = FV_SEL_PD(FV_CMPGT_PD(xv, vzb), xv, vzb);
                ok = FV_MASKBITS_PD(FV_CMPLE_PD(
                    lu, FV_MUL_PD(half, FV_SUB_PD(m2, FV_MUL_PD(xv, xv)))));
            } else {
                FV_D e = FV_SUB_PD(FV_SET1_PD(0.0), FI_FN(fi_v_log_f64)(FV_MUL_PD(
                             FV_CVTU53_PD(FV_ADD64(FV_SRLI64(U0, 11), one)), inv)));
                xv = FV_ADD_PD(vza, FV_DIV_PD(e, alpha));
                FV_D t = FV_SUB_PD(xv, alpha);
                ok = FV_MASKBITS_PD(FV_AND_MASK_PD(
                    FV_CMPLE_PD(xv, vzb),
                    FV_CMPLE_PD(lu, FV_MUL_PD(FV_MUL_PD(FV_SET1_PD(-0.5), t), t))));
            }
            double xt[FV_W / 2];
            FV_STORE_PD(xt, xv);
            for (int j = 0; j < FV_W / 2; j++) {
                int e = v * FV_W + 4 * (j >> 1) + 2 * h + (j & 1);
                x[e] = neg ? -xt[j] : xt[j];
                acc |= (uint64_t)((ok >> j) & 1u) << e;
            }
        }
    return acc;
}

/* Standardized values z[0..n) of elements first + [0, n), n <= FI_TN_PBATCH: attempt 0 for all,
   then attempts 1, 2, ... for the rejected ones only (7 % at [2, 4] sigma), FI_NV * FV_W at a
   time; an element still rejected at the last attempt takes fi_tn_proposal's own fallback. */
static void FI_FN(fi_v_tn_batch)(const fi_fill_params *p, uint64_t first, int n, double *z)
{
    int32_t buf1[FI_TN_PBATCH + FI_NV * FV_W], buf2[FI_TN_PBATCH + FI_NV * FV_W];
    int32_t *pend = buf1, *pend2 = buf2;
    int32_t offs[FI_NV * FV_W];
    double x[FI_NV * FV_W];
    int cnt = 0, k = 0;
    for (int e = 0; e < FI_NV * FV_W; e++) offs[e] = e;
    for (; k + FI_NV * FV_W <= n; k += FI_NV * FV_W) {
        uint64_t acc = FI_FN(fi_v_tn_prop)(p, first + (uint64_t)k, offs, 0, x);
        for (int e = 0; e < FI_NV * FV_W; e++) {
            z[k + e] = x[e];
            if (!((acc >> e) & 1u)) pend[cnt++] = k + e;
        }
    }
    /* A tail shorter than a group joins the rejected ones, and the rounds then start at attempt
       0: redoing attempt 0 of an element it rejected rejects it again, so nothing changes. */
    uint32_t a = k < n ? 0u : 1u;
    for (; k < n; k++) pend[cnt++] = k;
    for (; cnt > 0 && a < p->max_attempts; a++) {
        int nc = 0;
        for (int j = cnt; j < cnt + FI_NV * FV_W; j++) pend[j] = 0;
        for (int j = 0; j < cnt; j += FI_NV * FV_W) {
            uint64_t acc = FI_FN(fi_v_tn_prop)(p, first, pend + j, a, x);
            int m = cnt - j < FI_NV * FV_W ? cnt - j : FI_NV * FV_W;
            for (int e = 0; e < m; e++) {
                if ((acc >> e) & 1u) z[pend[j + e]] = x[e];
                else pend2[nc++] = pend[j + e];
            }
        }
        int32_t *t = pend; pend = pend2; pend2 = t;
        cnt = nc;
    }
    for (int j = 0; j < cnt; j++) z[pend[j]] = fi_tn_proposal(p, first + (uint64_t)pend[j]);
}

static void FI_FN(fi_v_tn_proposal_f32)(const fi_fill_params *p, uint64_t first, int64_t n,
                                        float *out)
{
    const float lo = (float)p->lo, hi = (float)p->hi;
    double z[FI_TN_PBATCH];
    for (int64_t k = 0; k < n; k += FI_TN_PBATCH) {
        int m = n - k < FI_TN_PBATCH ? (int)(n - k) : FI_TN_PBATCH;
        FI_FN(fi_v_tn_batch)(p, first + (uint64_t)k, m, z);
        for (int e = 0; e < m; e++) out[k + e] = fi_clamp_f32((float)(p->p0 + p->p1 * z[e]), lo, hi);
    }
}

static void FI_FN(fi_v_tn_proposal_f64)(const fi_fill_params *p, uint64_t first, int64_t n,
                                        double *out)
{
    double z[FI_TN_PBATCH];
    for (int64_t k = 0; k < n; k += FI_TN_PBATCH) {
        int m = n - k < FI_TN_PBATCH ? (int)(n - k) : FI_TN_PBATCH;
        FI_FN(fi_v_tn_batch)(p, first + (uint64_t)k, m, z);
        for (int e = 0; e < m; e++) out[k + e] = fi_clamp_f64(p->p0 + p->p1 * z[e], p->lo, p->hi);
    }
}

/* ---- float32 fills --------------------------------------------------------------------------- */

#define FI_U32 (4 * FV_W * FI_NV) /* float32 elements per iteration */
#define FI_U64 (2 * FV_W * FI_NV) /* float64 elements per iteration */

/* Normals of FI_U32 consecutive elements starting at block `base` (attempt 0), stream order. */
static inline void FI_FN(fi_v_normals_f32)(const uint32_t key[2], uint64_t base,
                                           FV_F o[FI_NV][4])
{
    FV_I w[FI_NV][4];
    FI_FN(fi_v_philox)(key, base, 0, w);
    for (int v = 0; v < FI_NV; v++) {
        FV_F z[4];
        FI_FN(fi_v_box_muller_f32)(w[v][0], w[v][1], &z[0], &z[1]);
        FI_FN(fi_v_box_muller_f32)(w[v][2], w[v][3], &z[2], &z[3]);
        FI_FN(fi_v_transpose_ps)(z, o[v]);
    }
}

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
        const FV_F mean = FV_SET1_PS((float)p->p0), stddev = FV_SET1_PS((float)p->p1);
        for (int64_t e = 0; e < n; e += FI_U32) {
            FV_F o[FI_NV][4];
            FI_FN(fi_v_normals_f32)(p->key, (first + (uint64_t)e) >> 2, o);
            for (int v = 0; v < FI_NV; v++)
                for (int q = 0; q < 4; q++)
                    FV_STORE_PS(out + e + (v * 4 + q) * FV_W,
                                FI_FN(fi_v_clamp_ps)(FV_ADD_PS(mean, FV_MUL_PS(stddev, o[v][q])),
                                                     lo, hi));
        }
    } else { /* truncated normal, FI_TN_NORMAL: attempt 0 as the normal fill, then retries */
        const FV_F mean = FV_SET1_PS((float)p->p0), stddev = FV_SET1_PS((float)p->p1);
        const FV_F za = FV_SET1_PS((float)p->za), zb = FV_SET1_PS((float)p->zb);
        int32_t idx[FI_TN_CAP + FI_TN_SLACK], idx2[FI_TN_CAP + FI_TN_SLACK];
        float val[FI_TN_CAP + FI_TN_SLACK], val2[FI_TN_CAP + FI_TN_SLACK];
        for (int64_t e0 = 0; e0 < n; e0 += FI_TN_BATCH) {
            int64_t e1 = e0 + FI_TN_BATCH < n ? e0 + FI_TN_BATCH : n;
            int cnt = 0;
            for (int64_t e = e0; e < e1; e += FI_U32) {
                FV_F o[FI_NV][4];
                FI_FN(fi_v_normals_f32)(p->key, (first + (uint64_t)e) >> 2, o);
                for (int v = 0; v < FI_NV; v++)
                    for (int q = 0; q < 4; q++) {
                        int32_t pos = (int32_t)(e - e0) + (v * 4 + q) * FV_W;
                        FV_F z = o[v][q];
                        FV_STORE_PS(out + e0 + pos,
                                    FI_FN(fi_v_clamp_ps)(FV_ADD_PS(mean, FV_MUL_PS(stddev, z)),
                                                         lo, hi));
                        FV_MF acc = FV_AND_MASK_PS(FV_CMPGE_PS(z, za), FV_CMPLE_PS(z, zb));
                        cnt += FV_COMPRESS_REJ_PS(acc, pos, idx + cnt);
                    }
                if (cnt > FI_TN_CAP - FI_U32) { /* many rejections: retry them now */
                    FI_FN(fi_v_tn_retry_f32)(p, first + (uint64_t)e0, idx, val, idx2, val2, cnt,
                                             out + e0);
                    cnt = 0;
                }
            }
            FI_FN(fi_v_tn_retry_f32)(p, first + (uint64_t)e0, idx, val, idx2, val2, cnt,
                                     out + e0);
        }
    }
}

static void FI_FN(fi_v_fill_f32)(const fi_fill_params *p, uint64_t first, int64_t n, float *out)
{
    if (p->dist == FI_DIST_TRUNCNORM && p->tn_method != FI_TN_NORMAL) {
        FI_FN(fi_v_tn_proposal_f32)(p, first, n, out);
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
    const int trunc = p->dist == FI_DIST_TRUNCNORM;
    const FV_D mean = FV_SET1_PD(p->p0), stddev = FV_SET1_PD(p->p1);
    const FV_D za = FV_SET1_PD(p->za), zb = FV_SET1_PD(p->zb);
    int32_t idx[FI_TN_CAP + FI_TN_SLACK], idx2[FI_TN_CAP + FI_TN_SLACK];
    double val[FI_TN_CAP + FI_TN_SLACK], val2[FI_TN_CAP + FI_TN_SLACK];
    for (int64_t e0 = 0; e0 < n; e0 += FI_TN_BATCH) {
        int64_t e1 = e0 + FI_TN_BATCH < n ? e0 + FI_TN_BATCH : n;
        int cnt = 0;
        for (int64_t e = e0; e < e1; e += FI_U64) {
            FV_I w[FI_NV][4];
            FI_FN(fi_v_philox)(p->key, (first + (uint64_t)e) >> 1, 0, w);
            for (int v = 0; v < FI_NV; v++) {
                FV_D za0, za1, zb0, zb1;
                FI_FN(fi_v_box_muller_f64)(FV_UNPACKLO32(w[v][0], w[v][1]),
                                           FV_UNPACKLO32(w[v][2], w[v][3]), &za0, &za1);
                FI_FN(fi_v_box_muller_f64)(FV_UNPACKHI32(w[v][0], w[v][1]),
                                           FV_UNPACKHI32(w[v][2], w[v][3]), &zb0, &zb1);
                FV_D z[4];
                z[0] = FV_UNPACKLO_PD(za0, za1);
                z[1] = FV_UNPACKHI_PD(za0, za1);
                z[2] = FV_UNPACKLO_PD(zb0, zb1);
                z[3] = FV_UNPACKHI_PD(zb0, zb1);
                for (int q = 0; q < 4; q++) {
                    int32_t pos = (int32_t)(e - e0) + (v * 4 + q) * (FV_W / 2);
                    FV_STORE_PD(out + e0 + pos,
                                FI_FN(fi_v_clamp_pd)(FV_ADD_PD(mean, FV_MUL_PD(stddev, z[q])),
                                                     lo, hi));
                    if (trunc) {
                        FV_MD acc = FV_AND_MASK_PD(FV_CMPGE_PD(z[q], za), FV_CMPLE_PD(z[q], zb));
                        cnt += FV_COMPRESS_REJ_PD(acc, pos, idx + cnt);
                    }
                }
            }
            if (trunc && cnt > FI_TN_CAP - FI_U64) { /* many rejections: retry them now */
                FI_FN(fi_v_tn_retry_f64)(p, first + (uint64_t)e0, idx, val, idx2, val2, cnt,
                                         out + e0);
                cnt = 0;
            }
        }
        if (trunc)
            FI_FN(fi_v_tn_retry_f64)(p, first + (uint64_t)e0, idx, val, idx2, val2, cnt,
                                     out + e0);
    }
}

static void FI_FN(fi_v_fill_f64)(const fi_fill_params *p, uint64_t first, int64_t n, double *out)
{
    if (p->dist == FI_DIST_TRUNCNORM && p->tn_method != FI_TN_NORMAL) {
        FI_FN(fi_v_tn_proposal_f64)(p, first, n, out);
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

