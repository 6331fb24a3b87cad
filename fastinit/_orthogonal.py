"""Haar-distributed orthogonal matrices, Keras's way: QR of a Gaussian matrix with Mezzadri's
sign fix (Q * sign(diag R)), which makes the distribution exactly Haar.

The Gaussian matrix is fastinit's normal stream ("normal", mean 0, stddev 1) in the compute
dtype (float64 for float64 output, float32 otherwise), laid out as the tall (m, n) matrix,
m = max(rows, cols), n = min(rows, cols), in C order.
"""

import numpy as np

from fastinit._stream import Stream


def orthogonal_matrix(rows, cols, seed, gain, dtype):
    """A (rows, cols) matrix with orthonormal columns (rows >= cols) or rows, times `gain`."""
    m, n = max(rows, cols), min(rows, cols)
    work = np.float64 if dtype == np.float64 else np.float32
    if m * n == 0:
        return np.zeros((rows, cols), dtype=dtype)
    a = Stream("normal", seed, mean=0.0, stddev=1.0).fill(np.empty((m, n), dtype=work))
    q, r = np.linalg.qr(a)
    d = np.diagonal(r)
    q *= np.where(d < 0, -1.0, 1.0).astype(work)
    if rows < cols:
        q = q.T
    if gain != 1.0:
        q *= work(gain)
    return np.ascontiguousarray(q).astype(dtype, copy=False)
