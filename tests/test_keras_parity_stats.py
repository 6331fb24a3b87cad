"""Parity with Keras 3, the random part: every random initializer's values follow Keras's
distribution (KS tests, bounds, moments), and Orthogonal's matrices are orthonormal and Haar
distributed like Keras's (keras_reference.py sets Keras up)."""

import math

import numpy as np
import pytest

import fastinit
from tests.keras_reference import k_compute_fans, ki, stats

TRUNC_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


# ---- 5. statistics vs Keras ------------------------------------------------------------------

N_STAT_SEEDS = 3
KS_ALPHA = 1e-3
N_SE = 5.0


def _dist_of(name, kwargs, shape):
    """(kind, params) of the theoretical distribution: kind in uniform/normal/truncated."""
    if name == "RandomNormal":
        return "normal", dict(mean=kwargs["mean"], std=kwargs["stddev"])
    if name == "RandomUniform":
        return "uniform", dict(low=kwargs["minval"], high=kwargs["maxval"])
    if name == "TruncatedNormal":
        return "truncated", dict(mean=kwargs["mean"], raw=kwargs["stddev"])
    presets = {
        "GlorotUniform": (1.0, "fan_avg", "uniform"),
        "GlorotNormal": (1.0, "fan_avg", "truncated_normal"),
        "HeNormal": (2.0, "fan_in", "truncated_normal"),
        "HeUniform": (2.0, "fan_in", "uniform"),
        "LecunNormal": (1.0, "fan_in", "truncated_normal"),
        "LecunUniform": (1.0, "fan_in", "uniform"),
    }
    if name == "VarianceScaling":
        scale, mode, dist = kwargs["scale"], kwargs["mode"], kwargs["distribution"]
    else:
        scale, mode, dist = presets[name]
    fan_in, fan_out = k_compute_fans(shape)
    n = {"fan_in": max(1.0, fan_in), "fan_out": max(1.0, fan_out),
         "fan_avg": max(1.0, (fan_in + fan_out) / 2.0)}[mode]
    var = scale / n
    if dist == "uniform":
        lim = math.sqrt(3.0 * var)
        return "uniform", dict(low=-lim, high=lim)
    if dist == "untruncated_normal":
        return "normal", dict(mean=0.0, std=math.sqrt(var))
    return "truncated", dict(mean=0.0, raw=math.sqrt(var) / TRUNC_STD)


def _moments(kind, p):
    """(mean, std, excess kurtosis) of the theoretical distribution."""
    if kind == "uniform":
        return (p["low"] + p["high"]) / 2, (p["high"] - p["low"]) / math.sqrt(12), -1.2
    if kind == "normal":
        return p["mean"], p["std"], 0.0
    k = float(stats.truncnorm(-2, 2).stats(moments="k"))
    return p["mean"], p["raw"] * TRUNC_STD, k


STAT_CASES = [
    ("GlorotUniform", {}, (256, 512)),
    ("GlorotNormal", {}, (256, 512)),
    ("HeNormal", {}, (256, 512)),
    ("HeNormal", {}, (3, 3, 32, 64)),
    ("HeUniform", {}, (256, 512)),
    ("LecunNormal", {}, (256, 512)),
    ("LecunUniform", {}, (256, 512)),
    ("VarianceScaling", dict(scale=0.3, mode="fan_out", distribution="untruncated_normal"),
     (256, 512)),
    ("RandomNormal", dict(mean=0.5, stddev=2.0), (256, 512)),
    ("RandomUniform", dict(minval=-1.0, maxval=3.0), (256, 512)),
    ("TruncatedNormal", dict(mean=1.0, stddev=0.5), (256, 512)),
]


def test_truncated_std_constant():
    assert TRUNC_STD == pytest.approx(float(stats.truncnorm(-2, 2).std()), rel=1e-14)
    assert fastinit.initializers.TRUNCATED_NORMAL_STD == TRUNC_STD


def _check_bounds(values, kind, p, strict_upper):
    x = values.astype(np.float64)
    if kind == "uniform":
        lo, hi = p["low"], p["high"]
        if strict_upper:
            # fastinit: [minval, maxval) in the output dtype
            assert x.min() >= lo and x.max() < hi, (x.min(), x.max(), lo, hi)
        else:
            # Keras samples float64 in [lo, hi) and rounds to float32, which may reach hi.
            lo32, hi32 = float(np.float32(lo)), float(np.float32(hi))
            assert x.min() >= min(lo, lo32) and x.max() <= max(hi, hi32)
        # the range is actually used
        width = hi - lo
        assert x.min() < lo + 1e-3 * width and x.max() > hi - 1e-3 * width
    elif kind == "truncated":
        lo, hi = p["mean"] - 2 * p["raw"], p["mean"] + 2 * p["raw"]
        if strict_upper:
            assert x.min() >= lo and x.max() <= hi, (x.min(), x.max(), lo, hi)
        else:
            lo32, hi32 = float(np.float32(lo)), float(np.float32(hi))
            assert x.min() >= min(lo, lo32) and x.max() <= max(hi, hi32)
        width = hi - lo
        assert x.min() < lo + 0.01 * width and x.max() > hi - 0.01 * width


def _check_moments(values, kind, p):
    x = values.astype(np.float64).ravel()
    n = x.size
    mean, std, ex_kurt = _moments(kind, p)
    se_mean = std / math.sqrt(n)
    # Var(sample variance) ~ sigma^4 (kurtosis - 1) / n;  se(std) ~ se(var) / (2 sigma)
    se_std = std * math.sqrt((ex_kurt + 2.0) / n) / 2.0
    assert abs(x.mean() - mean) < N_SE * se_mean, (x.mean(), mean, se_mean)
    assert abs(x.std() - std) < N_SE * se_std, (x.std(), std, se_std)


@pytest.mark.parametrize("case", range(len(STAT_CASES)),
                         ids=[f"{n}-{'x'.join(map(str, s))}" for n, _, s in STAT_CASES])
def test_statistics_match_keras(case):
    name, kwargs, shape = STAT_CASES[case]
    kind, p = _dist_of(name, kwargs, shape)
    for i in range(N_STAT_SEEDS):
        # distinct seeds per case: the same seed would give exactly rescaled copies of another
        # case's stream (the KS statistic is scale-invariant), i.e. no new evidence
        seed = 1000 + 10 * case + i
        fvals = getattr(fastinit, name)(**kwargs, seed=seed)(shape)
        kvals = getattr(ki, name)(**kwargs, seed=seed + 500)(shape)
        assert fvals.shape == kvals.shape == tuple(shape)
        assert fvals.dtype == kvals.dtype == np.float32
        pvalue = stats.ks_2samp(fvals.ravel(), kvals.ravel()).pvalue
        assert pvalue > KS_ALPHA, (name, i, pvalue)
        _check_bounds(fvals, kind, p, strict_upper=True)
        _check_bounds(kvals, kind, p, strict_upper=False)
        _check_moments(fvals, kind, p)
        _check_moments(kvals, kind, p)  # the formula itself is Keras's


EDGE_SHAPES = [(), (7,), (0, 5), (5, 0), (1, 1, 1), [2, 3]]


@pytest.mark.parametrize("name", ["GlorotUniform", "HeNormal", "LecunUniform", "RandomNormal",
                                  "TruncatedNormal", "RandomUniform", "VarianceScaling"])
@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
def test_edge_shapes_like_keras(name, shape):
    f = getattr(fastinit, name)(seed=1)(shape)
    k = np.asarray(getattr(ki, name)(seed=1)(shape))
    assert f.shape == k.shape == tuple(shape)
    assert f.dtype == k.dtype
    assert np.isfinite(f).all()


def test_statistics_ks_detects_a_wrong_scale():
    # The KS test above is not toothless: a 5% scale error is detected at this sample size.
    # (Two samples of n = 131072 reject at 1e-3 above D = 1.95 sqrt(2 / n) = 0.0076; a scale
    # error s moves the CDF by up to s * phi(1) = 0.012 at s = 5%, but only 0.0047 at 2%, which
    # an earlier version of this test relied on and which passes or fails with the seed.)
    shape = (256, 512)
    f = fastinit.HeNormal(seed=1)(shape)
    k = ki.HeNormal(seed=2)(shape) * 1.05
    assert stats.ks_2samp(f.ravel(), k.ravel()).pvalue < KS_ALPHA


# ---- 6. Orthogonal ---------------------------------------------------------------------------

ORTHO_SHAPES = [(5, 3), (3, 5), (2, 3, 4), (4, 3, 2), (64, 64)]


def _check_orthonormal(q, shape, gain, tol):
    assert q.shape == tuple(shape)
    flat = np.asarray(q, np.float64).reshape(-1, shape[-1])
    rows, cols = flat.shape
    g = flat.T @ flat if rows >= cols else flat @ flat.T
    np.testing.assert_allclose(g, gain**2 * np.eye(min(rows, cols)), atol=tol * gain**2)


@pytest.mark.parametrize("shape", ORTHO_SHAPES, ids=str)
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_orthogonal_orthonormal_like_keras(shape, gain):
    for seed in (0, 1):
        f = fastinit.Orthogonal(gain=gain, seed=seed)(shape)
        k = ki.Orthogonal(gain=gain, seed=seed)(shape)
        assert f.dtype == k.dtype == np.float32
        _check_orthonormal(f, shape, gain, 1e-5)
        _check_orthonormal(k, shape, gain, 1e-5)
    f64 = fastinit.Orthogonal(gain=gain, seed=3)(shape, dtype="float64")
    assert f64.dtype == np.float64  # documented: Keras returns float32 here
    _check_orthonormal(f64, shape, gain, 1e-12)


def test_orthogonal_distribution_matches_keras():
    n = 2000
    f = np.stack([fastinit.Orthogonal(seed=s)((8, 8)) for s in range(n)]).astype(np.float64)
    k = np.stack([ki.Orthogonal(seed=10_000 + s)((8, 8)) for s in range(n)]).astype(np.float64)
    for stat_f, stat_k, what in [
        (f[:, 0, 0], k[:, 0, 0], "[0,0] entry"),
        (np.trace(f, axis1=1, axis2=2), np.trace(k, axis1=1, axis2=2), "trace"),
        (f[:, 7, 3], k[:, 7, 3], "[7,3] entry"),
        (np.sign(np.linalg.det(f)), np.sign(np.linalg.det(k)), "sign of det"),
    ]:
        pvalue = stats.ks_2samp(stat_f, stat_k).pvalue
        assert pvalue > KS_ALPHA, (what, pvalue)
    # Haar: E[q00] = 0, Var[q00] = 1/8, E[trace] = 0, Var[trace] = 1
    assert abs(f[:, 0, 0].mean()) < 5 * math.sqrt(1 / 8 / n)
    assert f[:, 0, 0].var() == pytest.approx(1 / 8, rel=5 * math.sqrt(2 / n))
    assert abs(np.trace(f, axis1=1, axis2=2).mean()) < 5 / math.sqrt(n)
