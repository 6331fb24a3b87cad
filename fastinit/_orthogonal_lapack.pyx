"""LAPACK/BLAS kernels for fastinit._orthogonal (Stewart's method, see its docstring).

All routines work in place on validated buffers (the Python layer checks shapes, dtypes,
contiguity and 32-bit limits) and release the GIL around every LAPACK/BLAS call.  LAPACK and BLAS
come from scipy (scipy.linalg.cython_lapack / cython_blas, 32-bit `int` dimensions); their threads
are the BLAS library's own pool, not OpenMP.

Layout vocabulary: a C-contiguous (r, c) array is the column-major (Fortran) c x r matrix of its
transpose.  "wide" buffers are C (n, m) = Fortran m x n, which is LAPACK's native layout for the
m x n factor Q; "tall" buffers are C (m, n) = Fortran n x m holding Q^T, for which
`orgqr_rowmajor` runs the blocked compact-WY accumulation itself with GEMM/TRMM on the
transposed operands.
"""

cimport cython
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
from libc.string cimport memset, memcpy

from scipy.linalg.cython_lapack cimport slarfg, dlarfg, sorgqr, dorgqr
from scipy.linalg.cython_blas cimport sgemm, dgemm, strmm, dtrmm, ssyrk, dsyrk

# Elements below which the element-wise loops run on one thread (threads cost more there).
cdef Py_ssize_t PARALLEL_MIN = 65536


ctypedef fused real:
    float
    double


cdef inline void _larfg(int n, real *alpha, real *x, int incx, real *tau) noexcept nogil:
    if real is float:
        slarfg(&n, alpha, x, &incx, tau)
    else:
        dlarfg(&n, alpha, x, &incx, tau)


cdef inline void _gemm(char ta, char tb, int m, int n, int k, real alpha, real *a, int lda,
                       real *b, int ldb, real beta, real *c, int ldc) noexcept nogil:
    if real is float:
        sgemm(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc)
    else:
        dgemm(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc)


cdef inline void _trmm(char side, char uplo, char ta, char diag, int m, int n, real alpha,
                       real *a, int lda, real *b, int ldb) noexcept nogil:
    if real is float:
        strmm(&side, &uplo, &ta, &diag, &m, &n, &alpha, a, &lda, b, &ldb)
    else:
        dtrmm(&side, &uplo, &ta, &diag, &m, &n, &alpha, a, &lda, b, &ldb)


cdef inline void _syrk(char uplo, char trans, int n, int k, real alpha, real *a, int lda,
                       real beta, real *c, int ldc) noexcept nogil:
    if real is float:
        ssyrk(&uplo, &trans, &n, &k, &alpha, a, &lda, &beta, c, &ldc)
    else:
        dsyrk(&uplo, &trans, &n, &k, &alpha, a, &lda, &beta, c, &ldc)


cdef void _t_rowwise(int n, int k, real *v, int ldv, real *tau, real *t, int ldt,
                     real *g) noexcept nogil:
    """T of xLARFT('F', 'R', n, k, v, ldv, tau, t, ldt), computed with one SYRK.

    Vt (k x n, unit upper triangular in its first k columns, stored rows in v) gives the Gram
    matrix G = Vt Vt^T (upper part): SYRK over the columns k..n-1, plus the small triangle.
    Then xLARFT's recurrence: T[i, i] = tau_i, T[0:i, i] = -tau_i T[0:i, 0:i] G[0:i, i].
    xLARFT itself runs k BLAS-2 GEMVs over row-strided storage, which costs more than the
    whole accumulation for tall-skinny matrices.
    """
    cdef int i, j, l
    cdef real acc
    if n > k:
        _syrk(c'U', c'N', k, n - k, 1, v + k * ldv, ldv, 0, g, ldt)
    else:
        for j in range(k):
            for i in range(j + 1):
                g[i + j * ldt] = 0
    # G[i, j] (i < j) += sum over columns l < k of Vt[i, l] Vt[j, l], with Vt[j, l] = 0 for
    # l < j and 1 at l = j
    for j in range(k):
        for i in range(j):
            acc = v[i + j * ldv]
            for l in range(j + 1, k):
                acc = acc + v[i + l * ldv] * v[j + l * ldv]
            g[i + j * ldt] = g[i + j * ldt] + acc
    for i in range(k):
        t[i + i * ldt] = tau[i]
        for j in range(i):
            acc = 0
            for l in range(j, i):
                acc = acc + t[j + l * ldt] * g[l + i * ldt]
            t[j + i * ldt] = -tau[i] * acc
        for j in range(i + 1, k):
            t[j + i * ldt] = 0


@cython.boundscheck(False)
@cython.wraparound(False)
def larfg_rows(real[:, ::1] a, Py_ssize_t col0, real[::1] tau, real[::1] sgn):
    """xLARFG on row j of `a` from column col0 + j to the end, for every row j.

    Row j holds the Gaussian vector of reflector j (alpha = a[j, col0 + j], x = the rest).  On
    return it holds beta_j at the diagonal and v_j below it (LAPACK's storage); tau[j] = tau_j,
    sgn[j] = sign(beta_j) with sign(+-0) = +1.
    """
    cdef Py_ssize_t rows = a.shape[0], cols = a.shape[1], j, c
    if tau.shape[0] < rows or sgn.shape[0] < rows or col0 + rows > cols:
        raise ValueError("larfg_rows: inconsistent shapes")
    with nogil:
        for j in range(rows):
            c = col0 + j
            _larfg(<int>(cols - c), &a[j, c], &a[j, c + 1] if c + 1 < cols else &a[j, c], 1,
                   &tau[j])
            sgn[j] = -1 if a[j, c] < 0 else 1


@cython.boundscheck(False)
@cython.wraparound(False)
def larfg_column(real[:, ::1] a, Py_ssize_t k, real[::1] tau, real[::1] sgn):
    """xLARFG on column k of the tall buffer `a` from row k down (stride = row length)."""
    cdef Py_ssize_t m = a.shape[0], n = a.shape[1]
    if not (0 <= k < n and k < m):
        raise ValueError("larfg_column: bad column")
    with nogil:
        _larfg(<int>(m - k), &a[k, k], &a[k + 1, k] if k + 1 < m else &a[k, k], <int>n,
               &tau[k])
        sgn[k] = -1 if a[k, k] < 0 else 1


@cython.boundscheck(False)
@cython.wraparound(False)
def scatter_block(real[:, ::1] scratch, real[:, ::1] out, Py_ssize_t k0, int n_threads=1):
    """out[r, k0 + j] = scratch[j, r] for every r >= k0 + j (the reflector part of column k0+j).

    Row-major pass over `out`: each row gets one contiguous segment, so writes are whole cache
    lines; the reads stream along the scratch rows.
    """
    cdef Py_ssize_t bb = scratch.shape[0], m = out.shape[0], r, j, jmax
    if scratch.shape[1] != m or k0 + bb > out.shape[1]:
        raise ValueError("scatter_block: inconsistent shapes")
    cdef int nt = n_threads if (m - k0) * bb >= PARALLEL_MIN else 1
    with nogil:
        for r in prange(k0, m, num_threads=nt, schedule='static'):
            jmax = r - k0 + 1
            if jmax > bb:
                jmax = bb
            for j in range(jmax):
                out[r, k0 + j] = scratch[j, r]


@cython.boundscheck(False)
@cython.wraparound(False)
def scale_columns(real[:, ::1] a, real[::1] s, int n_threads=1):
    """a[:, k] *= s[k] (row-major pass)."""
    cdef Py_ssize_t m = a.shape[0], n = a.shape[1], r, k
    if s.shape[0] != n:
        raise ValueError("scale_columns: inconsistent shapes")
    cdef int nt = n_threads if m * n >= PARALLEL_MIN else 1
    with nogil:
        for r in prange(m, num_threads=nt, schedule='static'):
            for k in range(n):
                a[r, k] = a[r, k] * s[k]


@cython.boundscheck(False)
@cython.wraparound(False)
def scale_rows(real[:, ::1] a, real[::1] s, int n_threads=1):
    """a[k, :] *= s[k]."""
    cdef Py_ssize_t n = a.shape[0], m = a.shape[1], r, k
    cdef real f
    if s.shape[0] != n:
        raise ValueError("scale_rows: inconsistent shapes")
    cdef int nt = n_threads if m * n >= PARALLEL_MIN else 1
    with nogil:
        for k in prange(n, num_threads=nt, schedule='static'):
            f = s[k]
            for r in range(m):
                a[k, r] = a[k, r] * f


@cython.boundscheck(False)
@cython.wraparound(False)
def orgqr_wide(real[:, ::1] a, real[::1] tau):
    """xORGQR(m, n, n) on the C (n, m) buffer `a` (= Fortran m x n, lda = m) holding the
    reflectors row-wise; on return row k of `a` is column k of Q = H_1 ... H_n."""
    cdef int n = <int>a.shape[0], m = <int>a.shape[1], lwork = -1, info = 0
    cdef real wq = 0
    cdef real *work
    if tau.shape[0] < n or n > m:
        raise ValueError("orgqr_wide: inconsistent shapes")
    if n == 0:
        return
    with nogil:
        if real is float:
            sorgqr(&m, &n, &n, &a[0, 0], &m, &tau[0], &wq, &lwork, &info)
        else:
            dorgqr(&m, &n, &n, &a[0, 0], &m, &tau[0], &wq, &lwork, &info)
    if info != 0:
        raise RuntimeError(f"xORGQR workspace query failed: info={info}")
    lwork = <int>wq
    if lwork < n:
        lwork = n
    work = <real *>malloc(<size_t>lwork * sizeof(real))
    if work == NULL:
        raise MemoryError()
    try:
        with nogil:
            if real is float:
                sorgqr(&m, &n, &n, &a[0, 0], &m, &tau[0], work, &lwork, &info)
            else:
                dorgqr(&m, &n, &n, &a[0, 0], &m, &tau[0], work, &lwork, &info)
    finally:
        free(work)
    if info != 0:
        raise RuntimeError(f"xORGQR failed: info={info}")


@cython.boundscheck(False)
@cython.wraparound(False)
def orgqr_rowmajor(real[:, ::1] a, real[::1] tau, int nb=64):
    """Q = H_1 ... H_n (m x n, m >= n) formed in place in the C (m, n) buffer `a`.

    `a` is the Fortran n x m matrix Y = Q^T (ldy = n); reflector k is stored in row k of Y
    (Y[k, k+1:m] = v_k below its implicit 1, i.e. a[k+1:, k]).  This is xORGQR transposed:
    blocks of nb reflectors, last block first; for a block starting at kb with T from
    `_t_rowwise` (one SYRK; xLARFT('F', 'R') is BLAS-2 over strided rows and was measured 7.8x
    slower) so that H_kb ... H_kb+b-1 = I - V T V^T:
        trailing rows of Y:  W = C2t V2t^T (GEMM), W := W T^T (TRMM),
                             C2t -= W V2t (GEMM), C1t = -W V1t (TRMM)
        panel rows of Y:     M = V1 T^T,  Y[panel, kb+b:] = -M V2t (TRMM, in place),
                             Y[panel, kb:kb+b] = I - M V1t,  Y[panel, :kb] = 0
    where Vt = [V1t | V2t] = Y[kb:kb+b, kb:] (V1t unit upper triangular) and
    Ct = [C1t | C2t] = Y[kb+b:, kb:] (C1t = 0 on entry, as in xORGQR).  Workspace:
    W (n x nb) and four nb x nb matrices.
    """
    cdef Py_ssize_t m = a.shape[0], n = a.shape[1]
    if n > m or tau.shape[0] < n:
        raise ValueError("orgqr_rowmajor: inconsistent shapes")
    if n == 0:
        return
    if nb < 1:
        nb = 1
    if nb > n:
        nb = <int>n
    cdef real *y = &a[0, 0]
    cdef real *t = <real *>malloc(<size_t>(4 * nb * nb + n * nb) * sizeof(real))
    if t == NULL:
        raise MemoryError()
    cdef real *mm_ = t + nb * nb
    cdef real *p = mm_ + nb * nb
    cdef real *g = p + nb * nb
    cdef real *w = g + nb * nb
    cdef int ldy = <int>n, b, nt, rest, i, j, l
    cdef Py_ssize_t kb, r
    cdef real s
    try:
        with nogil:
            kb = ((n - 1) // nb) * nb
            while kb >= 0:
                b = <int>(n - kb) if n - kb < nb else nb
                nt = <int>(n - kb - b)
                rest = <int>(m - kb - b)
                # T (b x b upper triangular, ldt = nb)
                _t_rowwise(<int>(m - kb), b, y + kb + kb * ldy, ldy, &tau[kb], t, nb, g)
                if nt > 0:
                    # W (nt x b, ldw = nt) = C2t V2t^T
                    if rest > 0:
                        _gemm(c'N', c'T', nt, b, rest, 1, y + (kb + b) + (kb + b) * ldy, ldy,
                              y + kb + (kb + b) * ldy, ldy, 0, w, nt)
                    else:
                        memset(w, 0, <size_t>nt * b * sizeof(real))
                    _trmm(c'R', c'U', c'T', c'N', nt, b, 1, t, nb, w, nt)
                    if rest > 0:
                        _gemm(c'N', c'N', nt, rest, b, -1, w, nt, y + kb + (kb + b) * ldy, ldy,
                              1, y + (kb + b) + (kb + b) * ldy, ldy)
                    _trmm(c'R', c'U', c'N', c'U', nt, b, -1, y + kb + kb * ldy, ldy, w, nt)
                    for j in range(b):          # C1t = W  (columns kb..kb+b of Y)
                        memcpy(y + (kb + b) + (kb + j) * ldy, w + j * nt,
                               <size_t>nt * sizeof(real))
                # M = V1 T^T  (b x b lower triangular, ld nb): M := T^T, M := V1t^T M
                for j in range(b):
                    for i in range(b):
                        mm_[i + j * nb] = t[j + i * nb] if i >= j else 0
                _trmm(c'L', c'U', c'T', c'U', b, b, 1, y + kb + kb * ldy, ldy, mm_, nb)
                # P = M V1t
                for j in range(b):
                    memcpy(p + j * nb, mm_ + j * nb, <size_t>b * sizeof(real))
                _trmm(c'R', c'U', c'N', c'U', b, b, 1, y + kb + kb * ldy, ldy, p, nb)
                # Y[panel, kb+b:] = -M V2t
                if rest > 0:
                    _trmm(c'L', c'L', c'N', c'N', b, rest, -1, mm_, nb,
                          y + kb + (kb + b) * ldy, ldy)
                # Y[panel, kb:kb+b] = I - P
                for j in range(b):
                    for i in range(b):
                        s = -p[i + j * nb]
                        if i == j:
                            s = s + 1
                        y[(kb + i) + (kb + j) * ldy] = s
                # Y[panel, :kb] = 0  (C rows 0..kb-1, columns kb..kb+b)
                for r in range(kb):
                    memset(y + kb + r * ldy, 0, <size_t>b * sizeof(real))
                kb -= nb
    finally:
        free(t)
