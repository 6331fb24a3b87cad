"""Haar-distributed orthogonal matrices by Stewart's method (1980) at BLAS-3 speed.

Keras's Orthogonal draws a tall m x n Gaussian matrix (m = max(rows, cols), n = min(rows, cols)),
takes Q from its QR factorization, multiplies column k by sign(R[k, k]) (Mezzadri 2007, which
makes Q exactly Haar-distributed on the Stiefel manifold), transposes when rows < cols and
multiplies by `gain`.  fastinit produces the same distribution with half the flops:

  1. Reflectors drawn directly (Stewart 1980; LAPACK's xLAROR).  In Householder QR of a Gaussian
     matrix, the part of column k that reflector k sees (rows k..m-1, after the first k
     reflectors) is again an iid N(0, 1) vector independent of everything before it
     (orthogonal invariance), so it is drawn fresh: for k = 0..n-1, xLARFG on a Gaussian vector
     g_k of length m - k gives v_k, tau_k and beta_k = R[k, k] with exactly the joint law they
     have in xGEQRF on a Gaussian matrix.  No xGEQRF is run.
  2. One blocked compact-WY accumulation Q = H_0 H_1 ... H_{n-1} [I_n; 0] (xORGQR's
     algorithm; 2mn^2 - 2n^3/3 flops, all but O(mn) of them in GEMM/TRMM).
  3. Mezzadri's fix: column k of Q times sign(beta_k) (sign(+-0) = +1), folded with `gain` into
     one scaling pass; then transposed when rows < cols.

THE STREAM (which random numbers feed which reflector).  The Gaussians are fastinit's normal
stream (distribution "normal", mean 0, stddev 1, STREAM_VERSION 1, keyed by `seed`) in the
compute dtype (float64 for float64 output, float32 for float32/float16/bfloat16).  Let Z be the
n x m matrix of stream elements in C order, Z[k, i] = element k*m + i.  Reflector k's vector is
g_k = Z[k, k:m] (alpha = Z[k, k], x = Z[k, k+1:m]); the elements Z[k, 0:k] (n(n-1)/2 of them,
the "upper triangle") are drawn by the fill but never used.  Equivalently g_k is the lower
trapezoid of the tall Gaussian matrix Z^T, column k from the diagonal down.  The values
therefore depend only on (seed, m, n, compute dtype): Orthogonal((a, b)) and Orthogonal((b, a))
use the same reflectors, and their outputs are transposes of each other up to rounding (the two
orientations accumulate Q in different memory layouts, so the last bits can differ).

LAPACK/BLAS (scipy.linalg.cython_lapack / cython_blas, in fastinit._orthogonal_lapack, GIL
released).  LAPACK is column-major; a C-contiguous (r, c) array is the Fortran c x r matrix of
its transpose, and Q is formed directly in the output buffer in the layout the final C-order
(rows, cols) array needs:
  * rows < cols (wide): the output buffer C (n, m) is Fortran m x n, LAPACK's own layout for
    Q.  Stream elements fill the buffer directly (row k of the buffer = Z[k, :]), xLARFG runs on
    row k from column k, and xORGQR(m, n, n) (workspace from an lwork = -1 query) overwrites the
    buffer with Q in Fortran order, i.e. row k of the output = column k of Q: exactly the
    transposed result.
  * rows >= cols (tall and square): the output buffer C (m, n) is Fortran n x m, the layout of
    Q^T.  xORGLQ would fit it, but its unblocked row panels stride across the whole matrix
    (measured 8x slower than xORGQR at 65536 x 256), and xLARFT('F', 'R') is BLAS-2 over the
    same strided rows.  So reflector k is stored in column k of the buffer (= row k of Q^T)
    and `orgqr_rowmajor` runs xORGQR's blocked algorithm on the transposed operands: T from
    one SYRK per block (xLARFT's recurrence on the Gram matrix of the block), then GEMM/TRMM
    updates of the trailing rows and of the panel itself (no unblocked xORG2R; see its
    docstring).  Block size 64 (n < 512) or 128.  The reflectors are made in blocks of
    b <= 16 columns: Z[k0:k0+b, :] is filled into a contiguous b x m scratch (one stream call),
    xLARFG runs on each scratch row, and the rows are scattered into their columns in one
    row-major pass.  When n < 4 (no room for a scratch within a quarter of the output) column
    k is filled through a tile and xLARFG runs on it in place with stride n.
Memory: the output buffer, plus O(n * 128) xORGQR/WY workspace, plus (tall only) the b x m
reflector scratch, b = min(16, n // 4), i.e. at most a quarter of the output and 16/n of it in
general.  Never a second full matrix in the compute dtype; float16/bfloat16 output is computed
in a float32 buffer and rounded once (the one extra matrix: a float32 copy next to the half
precision result).

Limits: LAPACK/BLAS take 32-bit ints, so m and n (leading dimensions) must be < 2**31; larger
dimensions raise ValueError before any work.  The total m * n may exceed 2**31: every offset
into the buffer is computed in 64 bits (here, in OpenBLAS's BLASLONG and in gfortran's array
indexing), but that regime (>= 8 GiB in float32) is not exercised by the tests.

Determinism: the reflectors (step 1) depend only on (seed, m, n, dtype): the stream never
depends on the thread count.  Steps 2-3 are BLAS: same seed -> same bits for a fixed BLAS
library and BLAS thread count.  Across BLAS thread counts (or BLAS builds/CPUs) the blocked
products may split their sums differently, so results agree to rounding (about 1e-6 float32,
1e-15 float64, relative) rather than bitwise.  fastinit's own OpenMP thread count never changes
the values.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt

from fastinit import _orthogonal_lapack as _ol
from fastinit._stream import Stream
from fastinit._threads import get_num_threads
from fastinit._typing import Seed

INT32_MAX = 2**31 - 1

#: Block size of the tall-case compact-WY accumulation (n < 512, n >= 512).
WY_BLOCK = (64, 128)
#: Reflectors per scratch block (tall case).
REFLECTOR_BLOCK = 16
#: Elements per fill tile when n < 4 (tall case).
TILE = 1 << 20


def check_lapack_limits(m: int, n: int) -> None:
    if m > INT32_MAX or n > INT32_MAX:
        raise ValueError(
            f"Argument `shape` flattens to a {m} x {n} matrix; Orthogonal's LAPACK uses 32-bit "
            "integers, so both flattened dimensions must be < 2**31."
        )


def _stewart_wide(buf: npt.NDArray[Any], stream: Stream, gain: float,
                  nt: int) -> npt.NDArray[Any]:
    """rows < cols: buf is C (n, m) = Fortran m x n; on return buf = (Q D)^T * gain."""
    n, m = buf.shape
    work = buf.dtype.type
    stream.fill(buf)                         # buf[k, i] = Z[k, i] = element k*m + i
    tau = np.empty(n, work)
    sgn = np.empty(n, work)
    _ol.larfg_rows(buf, 0, tau, sgn)
    _ol.orgqr_wide(buf, tau)
    _ol.scale_rows(buf, sgn * work(gain), nt)
    return buf


def _stewart_tall(buf: npt.NDArray[Any], stream: Stream, gain: float,
                  nt: int) -> npt.NDArray[Any]:
    """rows >= cols: buf is C (m, n) = Fortran n x m (Q^T); on return buf = Q D * gain."""
    m, n = buf.shape
    work = buf.dtype.type
    tau = np.empty(n, work)
    sgn = np.empty(n, work)
    b = min(REFLECTOR_BLOCK, n // 4)
    if b >= 1:
        scratch = np.empty(b * m, work)
        for k0 in range(0, n, b):
            bb = min(b, n - k0)
            blk = stream.fill(scratch[: bb * m], start=k0 * m).reshape(bb, m)
            _ol.larfg_rows(blk, k0, tau[k0:k0 + bb], sgn[k0:k0 + bb])
            _ol.scatter_block(blk, buf, k0, nt)
        del scratch, blk
    else:
        tile = np.empty(min(TILE, m), work)
        for k in range(n):
            for r0 in range(k, m, TILE):
                r1 = min(m, r0 + TILE)
                buf[r0:r1, k] = stream.fill(tile[: r1 - r0], start=k * m + r0)
            _ol.larfg_column(buf, k, tau, sgn)
        del tile
    _ol.orgqr_rowmajor(buf, tau, WY_BLOCK[n >= 512])
    _ol.scale_columns(buf, sgn * work(gain), nt)
    return buf


def orthogonal_matrix(rows: int, cols: int, seed: Seed, gain: float, dtype: npt.DTypeLike,
                      out: npt.NDArray[Any] | None = None) -> npt.NDArray[Any]:
    """A (rows, cols) matrix with orthonormal columns (rows >= cols) or rows, times `gain`.

    `out`, if given, must be a C-contiguous (rows, cols) array of `dtype`; when `dtype` is the
    compute dtype (float32/float64) Q is formed directly in it.
    """
    dtype = np.dtype(dtype)
    m, n = max(rows, cols), min(rows, cols)
    work = np.float64 if dtype == np.float64 else np.float32
    if m * n == 0:
        if out is None:
            return np.zeros((rows, cols), dtype=dtype)
        out[...] = 0
        return out
    check_lapack_limits(m, n)
    stream = Stream("normal", seed, mean=0.0, stddev=1.0)
    direct = (out is not None and out.dtype == work and out.shape == (rows, cols)
              and out.flags.c_contiguous and out.flags.aligned and out.flags.writeable)
    buf = cast("npt.NDArray[Any]", out) if direct else np.empty((rows, cols), work)
    nt = get_num_threads()
    if rows >= cols:
        _stewart_tall(buf, stream, gain, nt)
    else:
        _stewart_wide(buf, stream, gain, nt)
    if direct:
        return buf  # `out`
    if out is not None:
        out[...] = buf.astype(dtype, copy=False)
        return out
    return buf.astype(dtype, copy=False)
