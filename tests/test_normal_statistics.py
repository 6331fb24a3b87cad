"""The normal and truncated-normal streams in every dtype, at sizes that prove the method: KS and
chi-square tests (10**8 samples per dtype, slow-marked, with a 2 * 10**6 version always run), tail
masses beyond 3, 4 and 4.5 sigma against scipy, the values beyond 4 sigma against the normal
conditioned on them, and moments over thousands of seeds."""

import math

import numpy as np
import pytest
from scipy import stats

from fastinit import Stream
from tests.helpers import FLOAT_DTYPES, dtype_of


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
    for t in (3.0, 4.0, 4.5):
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
def test_values_beyond_3_5_sigma_are_the_conditional_normal(dtype):
    """The far tail's shape, not only its mass: |z| > 3.5 (4.7e-4 of the values) follows the
    normal conditioned on |z| > 3.5."""
    x = np.abs(normal_sample(dtype, 10_000_000, 5).astype(np.float64))
    tail = x[x > 3.5]
    assert tail.size > 3000
    assert stats.kstest(tail, stats.truncnorm(3.5, np.inf).cdf).pvalue > 1e-4


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
