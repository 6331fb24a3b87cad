"""Orthogonal by Stewart's method (fastinit._orthogonal): orthogonality at n = 1024, the Haar law
and Keras's sign convention, the documented stream layout, shapes, dtypes, out=, determinism,
errors and peak memory."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats

import fastinit
from fastinit import _orthogonal
from fastinit._stream import Stream
from tests.helpers import PEAK_RSS_CODE, as_f64


def _ortho_err(q):
    q = np.asarray(q, np.float64)
    if q.shape[0] >= q.shape[1]:
        return abs(q.T @ q - np.eye(q.shape[1])).max()
    return abs(q @ q.T - np.eye(q.shape[0])).max()


# ---- orthogonality at scale ------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2048, 1024), (1024, 1024), (1024, 2048), (3000, 1024)])
@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-13)])
def test_orthonormal_at_1024(shape, dtype, tol):
    q = fastinit.Orthogonal(seed=7)(shape, dtype=dtype)
    assert q.shape == shape and q.dtype == dtype and q.flags.c_contiguous
    assert np.isfinite(q).all()
    assert _ortho_err(q) <= tol


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (1, 7), (7, 1), (2, 9), (9, 2), (3, 3),
                                   (4, 11), (11, 4), (65, 64), (64, 65), (300, 17), (17, 300),
                                   (700, 130), (130, 700)])
@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-13)])
def test_orthonormal_small_and_odd_shapes(shape, dtype, tol):
    # covers every path: wide (xORGQR), tall with scratch blocks, tall with n < 4 (strided),
    # one and several WY blocks, partial last blocks
    q = fastinit.Orthogonal(gain=1.0, seed=11)(shape, dtype=dtype)
    assert _ortho_err(q) <= tol


def test_conv_shape_and_gain():
    q = fastinit.Orthogonal(gain=2.5, seed=1)((3, 4, 5, 6), dtype="float64")
    assert q.shape == (3, 4, 5, 6)
    m = q.reshape(60, 6) / 2.5
    np.testing.assert_allclose(m.T @ m, np.eye(6), atol=1e-13)
    w = fastinit.Orthogonal(gain=0.5, seed=1)((2, 3, 40), dtype="float32")  # 6 x 40: wide
    m = as_f64(w.reshape(6, 40)) / 0.5
    np.testing.assert_allclose(m @ m.T, np.eye(6), atol=1e-5)


def test_one_by_one_is_plus_minus_gain():
    vals = {float(fastinit.Orthogonal(gain=3.0, seed=s)((1, 1), dtype="float64")[0, 0])
            for s in range(40)}
    assert vals == {3.0, -3.0}


def test_orientations_are_transposes_up_to_rounding():
    for (a, b), dtype, tol in [((300, 40), "float64", 1e-13), ((300, 40), "float32", 1e-5),
                               ((9, 2), "float64", 1e-14), ((129, 128), "float64", 1e-13)]:
        t = fastinit.Orthogonal(seed=4)((a, b), dtype=dtype)
        w = fastinit.Orthogonal(seed=4)((b, a), dtype=dtype)
        np.testing.assert_allclose(as_f64(t), as_f64(w).T, atol=tol)


# ---- the documented stream layout ------------------------------------------------------------


def _stewart_reference(z, m, n):
    """Dense numpy Stewart from Z (n x m): reflector k from Z[k, k:], LAPACK's xLARFG
    convention, Q = H_0 ... H_{n-1} [I; 0], column k times sign(beta_k)."""
    q = np.eye(m)[:, :n]
    refl = []
    for k in range(n):
        g = z[k, k:].astype(np.float64)
        alpha, x = g[0], g[1:]
        xnorm = np.linalg.norm(x)
        if xnorm == 0.0:
            refl.append((None, 0.0, alpha))
            continue
        beta = -math.copysign(math.hypot(alpha, xnorm), alpha)
        tau = (beta - alpha) / beta
        v = np.concatenate([[1.0], x / (alpha - beta)])
        refl.append((v, tau, beta))
    for k in reversed(range(n)):
        v, tau, _ = refl[k]
        if v is not None:
            q[k:, :] -= tau * np.outer(v, v @ q[k:, :])
    signs = np.array([-1.0 if b < 0 else 1.0 for _, _, b in refl])
    return q * signs


@pytest.mark.parametrize("shape", [(7, 4), (4, 7), (5, 5), (9, 2), (2, 9), (40, 33), (33, 40),
                                   (1, 1)])
def test_reflectors_come_from_the_documented_stream_elements(shape):
    rows, cols = shape
    m, n = max(shape), min(shape)
    z = Stream("normal", 123).fill(np.empty((n, m), np.float64))   # Z[k, i] = element k*m + i
    ref = _stewart_reference(z, m, n)
    if rows < cols:
        ref = ref.T
    got = fastinit.Orthogonal(gain=1.0, seed=123)(shape, dtype="float64")
    np.testing.assert_allclose(got, ref, atol=1e-13)
    z32 = Stream("normal", 123).fill(np.empty((n, m), np.float32))
    ref32 = _stewart_reference(z32, m, n)
    got32 = fastinit.Orthogonal(seed=123)(shape, dtype="float32")
    np.testing.assert_allclose(as_f64(got32), ref32.T if rows < cols else ref32, atol=2e-6)


def test_tiling_and_block_sizes_do_not_change_the_reflectors(monkeypatch):
    """The reflectors are a function of (seed, m, n, dtype) only: the fill tile (n < 4) and the
    scratch block (n >= 4) change no bits; the WY block size changes only rounding."""
    ref3 = fastinit.Orthogonal(seed=8)((1000, 3), dtype="float64")
    ref40 = fastinit.Orthogonal(seed=8)((1000, 40), dtype="float64")
    monkeypatch.setattr(_orthogonal, "TILE", 7)
    monkeypatch.setattr(_orthogonal, "REFLECTOR_BLOCK", 3)
    assert fastinit.Orthogonal(seed=8)((1000, 3), dtype="float64").tobytes() == ref3.tobytes()
    assert fastinit.Orthogonal(seed=8)((1000, 40), dtype="float64").tobytes() == ref40.tobytes()
    monkeypatch.setattr(_orthogonal, "WY_BLOCK", (5, 5))
    q = fastinit.Orthogonal(seed=8)((1000, 40), dtype="float64")
    np.testing.assert_allclose(q, ref40, atol=1e-13)
    assert _ortho_err(q) <= 1e-13


# ---- the Haar law and Keras's sign convention ------------------------------------------------


def _mezzadri_numpy(rng, m, n):
    """Keras's recipe with numpy: QR of an m x n Gaussian, Q * sign(diag R)."""
    q, r = np.linalg.qr(rng.standard_normal((m, n)))
    return q * np.sign(np.diag(r))


def test_first_column_uniform_on_sphere():
    """Tall 12 x 5: Q[:, 0] is uniform on S^11, so Q[0, 0]^2 ~ Beta(1/2, 11/2) and the
    projection on a fixed unit vector u has the same law."""
    m, n, draws = 12, 5, 3000
    u = np.ones(m) / math.sqrt(m)
    sq, proj = [], []
    for s in range(draws):
        q = fastinit.Orthogonal(seed=s)((m, n), dtype="float64")
        sq.append(q[0, 0] ** 2)
        proj.append((u @ q[:, 0]) ** 2)
    law = stats.beta(0.5, (m - 1) / 2).cdf
    assert stats.kstest(sq, law).pvalue > 1e-3
    assert stats.kstest(proj, law).pvalue > 1e-3


def test_trace_mean_zero_variance_one():
    n, draws = 16, 3000
    tr = np.array([np.trace(fastinit.Orthogonal(seed=10_000 + s)((n, n), dtype="float64"))
                   for s in range(draws)])
    assert abs(tr.mean()) < 5 / math.sqrt(draws)
    assert abs(tr.var() - 1) < 5 * math.sqrt(2 / draws)


@pytest.mark.parametrize("shape", [(8, 5), (5, 8), (6, 6)])
def test_sign_convention_matches_keras_law(shape):
    """Two-sample KS against the numpy Mezzadri reference (Keras's recipe): Q[0, 0], every
    diagonal entry and the trace.  Without the sign fix Q[0, 0] = -|.| < 0 always (LAPACK's
    convention), so this also checks that the fix is applied with the right sign."""
    rows, cols = shape
    m, n, draws = max(shape), min(shape), 2500
    rng = np.random.default_rng(2024)
    ours = np.stack([fastinit.Orthogonal(seed=s)(shape, dtype="float64") for s in range(draws)])
    ref = np.stack([_mezzadri_numpy(rng, m, n) for _ in range(draws)])
    if rows < cols:
        ref = ref.transpose(0, 2, 1)
    for i in range(n):
        assert stats.ks_2samp(ours[:, i, i], ref[:, i, i]).pvalue > 1e-4, i
    assert stats.ks_2samp(ours[:, 0, 0], ref[:, 0, 0]).pvalue > 1e-4
    assert stats.ks_2samp(ours[:, -1, 0], ref[:, -1, 0]).pvalue > 1e-4
    assert stats.ks_2samp(np.trace(ours, axis1=1, axis2=2),
                          np.trace(ref, axis1=1, axis2=2)).pvalue > 1e-4
    # the sign fix matters: the unfixed QR puts Q[0, 0] <= 0 always
    assert (ours[:, 0, 0] > 0).mean() == pytest.approx(0.5, abs=0.05)


def test_determinant_takes_both_signs():
    dets = [np.linalg.det(fastinit.Orthogonal(seed=s)((5, 5), dtype="float64"))
            for s in range(400)]
    np.testing.assert_allclose(np.abs(dets), 1.0, atol=1e-12)
    assert 0.4 < np.mean(np.array(dets) > 0) < 0.6          # O(n), not SO(n)


# ---- dtypes, out=, determinism, errors -------------------------------------------------------


def test_same_seed_same_bits_different_seed_differs():
    for shape in [(300, 200), (200, 300), (50, 3)]:
        for dtype in ("float32", "float64"):
            a = fastinit.Orthogonal(seed=9)(shape, dtype=dtype)
            b = fastinit.Orthogonal(seed=9)(shape, dtype=dtype)
            assert a.tobytes() == b.tobytes()
            c = fastinit.Orthogonal(seed=10)(shape, dtype=dtype)
            assert not np.array_equal(a, c)


def test_openmp_thread_count_does_not_change_bits():
    shape = (2000, 300)
    with fastinit.num_threads(1):
        a = fastinit.Orthogonal(seed=5)(shape)
    with fastinit.num_threads(2):
        b = fastinit.Orthogonal(seed=5)(shape)
    assert a.tobytes() == b.tobytes()


def test_blas_thread_count_changes_at_most_rounding():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    shape = (1500, 700)
    out = []
    for nt in (1, 2):
        with threadpoolctl.threadpool_limits(nt, user_api="blas"):
            out.append(fastinit.Orthogonal(seed=5)(shape, dtype="float64"))
    np.testing.assert_allclose(out[0], out[1], atol=1e-13)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_float32_rounded_once(dtype):
    for shape in [(64, 32), (32, 64), (3, 4, 5, 6)]:
        q = fastinit.Orthogonal(gain=1.5, seed=1)(shape, dtype=dtype)
        ref = fastinit.Orthogonal(gain=1.5, seed=1)(shape, dtype="float32")
        assert q.dtype.name == dtype and q.shape == shape
        np.testing.assert_array_equal(as_f64(q), as_f64(ref.astype(q.dtype)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape", [(40, 12), (12, 40), (3, 4, 5, 6)])
def test_out_argument(dtype, shape):
    out = np.full(shape, np.nan, dtype=dtype)
    res = fastinit.Orthogonal(seed=2)(shape, out=out)
    assert res is out
    np.testing.assert_array_equal(as_f64(out), as_f64(fastinit.Orthogonal(seed=2)(shape,
                                                                                 dtype=dtype)))


def test_orthogonal_matrix_out_is_filled_in_place():
    out = np.empty((500, 60), np.float32)
    assert _orthogonal.orthogonal_matrix(500, 60, 3, 1.0, np.float32, out=out) is out
    np.testing.assert_array_equal(out, fastinit.Orthogonal(seed=3)((500, 60)))
    out = np.empty((60, 500), np.float64)
    assert _orthogonal.orthogonal_matrix(60, 500, 3, 2.0, np.float64, out=out) is out
    np.testing.assert_array_equal(out, fastinit.Orthogonal(2.0, seed=3)((60, 500), "float64"))


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"at least two-dimensional.*rank 1"):
        fastinit.Orthogonal(seed=0)((5,))
    with pytest.raises(ValueError, match="at least two-dimensional"):
        fastinit.Orthogonal(seed=0)(())
    with pytest.raises(ValueError, match=r"`gain` must be finite"):
        fastinit.Orthogonal(gain=math.nan)
    with pytest.raises(TypeError):
        fastinit.Orthogonal(seed=0)((4, 4), dtype="int32")
    with pytest.raises(ValueError, match="shape"):
        fastinit.Orthogonal(seed=0)((4, 4), out=np.empty((4, 5), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        fastinit.Orthogonal(seed=0)((4, 4), dtype="float64", out=np.empty((4, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        fastinit.Orthogonal(seed=0)((4, 4), out=np.empty((4, 4), np.float32, order="F"))


def test_32_bit_lapack_limit_raises_before_any_work():
    with pytest.raises(ValueError, match="32-bit"):
        _orthogonal.orthogonal_matrix(2**31, 1, 0, 1.0, np.float32)
    with pytest.raises(ValueError, match="32-bit"):
        _orthogonal.orthogonal_matrix(1, 2**31 + 5, 0, 1.0, np.float64)


def test_empty_dimensions_give_empty_arrays():
    assert fastinit.Orthogonal(seed=0)((0, 5)).shape == (0, 5)
    assert fastinit.Orthogonal(seed=0)((3, 0)).shape == (3, 0)


# ---- memory ----------------------------------------------------------------------------------

_MEMORY_SCRIPT = PEAK_RSS_CODE + textwrap.dedent("""
    import resource, sys
    import numpy as np
    import fastinit

    rows, cols, dtype = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    init = fastinit.Orthogonal(seed=0)
    init((rows // 4, cols // 2), dtype=dtype)      # warm up: BLAS buffers, OpenMP threads
    init((cols // 2, rows // 4), dtype=dtype)
    before = proc_status_bytes("VmRSS")
    # ru_maxrss of a fresh child starts at the parent's RSS (Linux keeps it across fork+exec),
    # so reset this process's high-water mark and read VmHWM; ru_maxrss is the fallback.
    if reset_peak_rss():
        peak_of = lambda: proc_status_bytes("VmHWM")
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if base > before:
            print("nan")
            sys.exit(0)
        peak_of = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    q = init((rows, cols), dtype=dtype)
    print((peak_of() - before) / q.nbytes)
""")


@pytest.mark.parametrize("rows,cols", [(4096, 1024), (1024, 4096)])
def test_peak_memory_at_most_1_5x_output(rows, cols):
    res = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, str(rows), str(cols), "float32"],
                         capture_output=True, text=True, check=True)
    ratio = float(res.stdout.strip())
    if math.isnan(ratio):
        pytest.skip("no per-process peak RSS available")
    assert ratio <= 1.5, ratio
