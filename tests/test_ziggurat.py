"""The ziggurat behind the normal and truncated-normal streams (fastinit/src/fi_ziggurat.h): its
tables, the (seed, index) -> value mapping of its fast path, and its statistics in every dtype
(KS and chi-square, tail masses against scipy, moments over thousands of seeds).  The sizes
that prove the method (10**8 samples per dtype) are marked slow; smaller ones always run."""

import io
import math
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from fastinit import Stream, _testing
from fastinit._seeding import key_from_seed
from tests.helpers import FLOAT_DTYPES, dtype_of

ROOT = pathlib.Path(__file__).resolve().parent.parent
HEADER = ROOT / "fastinit" / "src" / "fi_ziggurat_tables.h"
GENERATOR = ROOT / "tools" / "gen_ziggurat_tables.py"
R = 3.6541528853610088  # the base layer's edge: the tail starts here


def table(name):
    body = re.search(name + r"\[\d+\][^{]*\{([^}]*)\}", HEADER.read_text()).group(1)
    return [v.strip() for v in body.split(",") if v.strip()]


@pytest.mark.skipif(not GENERATOR.exists(), reason="source tree only")
def test_tables_are_what_the_generator_writes():
    pytest.importorskip("mpmath")
    text = subprocess.run([sys.executable, str(GENERATOR)], capture_output=True, text=True,
                          check=True).stdout
    assert text == HEADER.read_text()


@pytest.mark.skipif(not HEADER.exists(), reason="source tree only")
def test_tables_describe_the_normal():
    """Each layer has the same area v, the layers close at the top, and the fast test's
    thresholds are the ratios x_{i+1} / x_i."""
    w64 = np.array([float.fromhex(v) for v in table("fi_zig_w64")]) * 2.0**52
    f = np.array([float.fromhex(v) for v in table("fi_zig_f")])
    k64 = np.array([int(v.rstrip("L")) for v in table("fi_zig_k64")], dtype=np.float64)
    x = np.append(w64, 0.0)
    assert x[1] == pytest.approx(R, rel=1e-15)
    np.testing.assert_allclose(f, np.exp(-x * x / 2), rtol=1e-14)
    v = x[1:256] * (f[2:257] - f[1:256])                       # layers 1..255
    tail = math.sqrt(math.pi / 2) * math.erfc(R / math.sqrt(2))
    np.testing.assert_allclose(v, R * f[1] + tail, rtol=1e-9)
    np.testing.assert_allclose(x[0] * f[1], R * f[1] + tail, rtol=1e-14)  # the base layer
    np.testing.assert_allclose(k64 / 2.0**52, x[1:] / x[:256], rtol=1e-15, atol=2.0**-52)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fast_path_mapping_by_hand(dtype):
    """Round 0 of element i reads the uniform fill's words: layer = W & 255, sign = bit 8,
    m = W >> 9 (float32) or >> 12 (float64), z = +-m * w[layer] when m < k[layer]."""
    seed, n = 11, 4096
    key = [int(k) for k in key_from_seed(seed)]
    if dtype == "float32":
        w, k, shift, per = (np.array([float.fromhex(v.rstrip("f")) for v in table("fi_zig_w32")],
                                     np.float32),
                            [int(v) for v in table("fi_zig_k32")], 9, 4)
    else:
        w, k, shift, per = (np.array([float.fromhex(v) for v in table("fi_zig_w64")]),
                            [int(v.rstrip("L")) for v in table("fi_zig_k64")], 12, 2)
    z = Stream("normal", seed).fill(np.empty(n, dtype_of(dtype)))
    fast = 0
    for i in range(n):
        words = _testing.philox4x32_10([i // per, 0, 0, 0], key)
        if per == 4:
            W = words[i % 4]
        else:
            W = words[2 * (i % 2)] | words[2 * (i % 2) + 1] << 32
        layer, m = W & 255, W >> shift
        if m < k[layer]:
            fast += 1
            x = (np.float32(m) * w[layer]) if per == 4 else float(m) * w[layer]
            assert z[i] == (-x if (W >> 8) & 1 else x)
    assert 0.97 < fast / n < 0.995  # 98.5 % take the fast path


# ---- statistics ------------------------------------------------------------------------------

FAST_N = 2_000_000
SLOW_N = 100_000_000


def rounding_boundaries(edges, dt):
    """For edge values e representable in dt (none of them 0): the real numbers that round to
    e or above start halfway between e and the dt value below it."""
    e = np.asarray(edges, dt)
    if dt.itemsize == 2:
        bits = e.view(np.uint16).astype(np.int32)
        below = np.where(e.astype(np.float64) > 0, bits - 1, bits + 1).astype(np.uint16).view(dt)
    else:
        below = np.nextafter(e, np.asarray(-np.inf, dt))
    return (e.astype(np.float64) + below.astype(np.float64)) / 2


def chi_square_pvalue(x, dt, lo=-5.0, hi=5.0, bins=100):
    """Counts between edges representable in dt against the normal's mass of the values that
    round into them; the two open tails are bins too."""
    edges = np.unique(np.linspace(lo, hi, bins + 1).astype(dt))
    edges = edges[edges.astype(np.float64) != 0]
    b = rounding_boundaries(edges, dt)
    x64 = x.astype(np.float64)
    counts = np.bincount(np.searchsorted(edges.astype(np.float64), x64, side="right"),
                         minlength=edges.size + 1)
    cdf = stats.norm.cdf(b)
    p = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    return stats.chisquare(counts, p * x.size).pvalue


def normal_sample(dtype, n, seed):
    return Stream("normal", seed).fill(np.empty(n, dtype_of(dtype)))


def check_normal(dtype, n, seed):
    x = normal_sample(dtype, n, seed)
    dt = x.dtype
    assert chi_square_pvalue(x, dt) > 1e-4
    if dtype in ("float32", "float64"):
        assert stats.kstest(x, "norm").pvalue > 1e-4
    # tail masses against scipy: beyond 3 sigma, beyond the ziggurat's tail start r, beyond 4
    x64 = np.abs(x.astype(np.float64))
    for t in (3.0, R, 4.0, 4.5):
        # the dtype's value nearest t decides which samples count as beyond it
        tb = float(rounding_boundaries([t], dt)[0]) if dtype != "float64" else t
        p = 2 * stats.norm.sf(tb)
        count = np.count_nonzero(x64 >= np.asarray(t, dt).astype(np.float64))
        assert abs(count - p * n) < 5 * math.sqrt(p * n) + 2, (t, count, p * n)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_normal_distribution(dtype):
    check_normal(dtype, FAST_N, 3)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_normal_distribution_1e8(dtype):
    check_normal(dtype, SLOW_N, 4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tail_beyond_r_is_the_conditional_normal(dtype):
    """The values from Marsaglia's tail algorithm, |z| > r (0.026 % of them), follow the normal
    conditioned on |z| > r."""
    x = np.abs(normal_sample(dtype, 20_000_000, 5).astype(np.float64))
    tail = x[x > R]
    assert tail.size > 4000
    assert stats.kstest(tail, stats.truncnorm(R, np.inf).cdf).pvalue > 1e-4


def test_truncated_normal_distribution_every_dtype():
    for dtype in FLOAT_DTYPES:
        x = Stream("truncated_normal", 8).fill(np.empty(FAST_N, dtype_of(dtype)))
        x64 = x.astype(np.float64)
        assert -2.0 <= x64.min() and x64.max() <= 2.0
        if dtype in ("float32", "float64"):
            assert stats.kstest(x64, stats.truncnorm(-2.0, 2.0).cdf).pvalue > 1e-4


def test_moments_over_thousands_of_seeds():
    """Each of 3000 seeds: mean and variance of 4096 float32 normals.  Their z-scores must be
    standard normal across seeds (KS), and no single seed may be off by more than 6 sigma."""
    n, seeds = 4096, 3000
    means, variances = np.empty(seeds), np.empty(seeds)
    for s in range(seeds):
        x = normal_sample("float32", n, s).astype(np.float64)
        means[s], variances[s] = x.mean(), x.var()
    zm = means * math.sqrt(n)
    zv = (variances - 1.0) / math.sqrt(2.0 / n)
    assert np.abs(zm).max() < 6 and np.abs(zv).max() < 6
    assert stats.kstest(zm, "norm").pvalue > 1e-4
    # the sample variance's z-score is normal to about 1/sqrt(n); skew it would show at 3000 seeds
    assert abs(zv.mean()) < 5 / math.sqrt(seeds)
