"""fastinit.torch's torch.nn.init functions: distributions against torch's own, bits against
fastinit's arrays, torch's fans/messages/warnings, in-place semantics, dtypes and seeding."""

import math
import re
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="fastinit.torch needs torch (pip install torch)")
stats = pytest.importorskip("scipy.stats")

import fastinit  # noqa: E402
import fastinit.torch as ft  # noqa: E402
import torch.nn.init as ti  # noqa: E402
from torch import nn  # noqa: E402

P_MIN = 1e-4   # KS p-value floor; fixed seeds make every test deterministic
NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu"]


def both(name, shape, *args, dtype=torch.float32, **kwargs):
    """(fastinit's values, torch's values) of one function on fresh tensors of `shape`."""
    ours = getattr(ft, name)(torch.empty(shape, dtype=dtype), *args, seed=1234, **kwargs)
    torch.manual_seed(0)
    theirs = getattr(ti, name)(torch.empty(shape, dtype=dtype), *args, **kwargs)
    return ours.double().flatten().numpy(), theirs.double().flatten().numpy()


def assert_same_distribution(a, b, std=None):
    res = stats.ks_2samp(a, b)
    assert res.pvalue > P_MIN, (res, a.std(), b.std())
    assert abs(a.mean() - b.mean()) < 6 * b.std() / math.sqrt(len(b)) + 1e-12
    if std is not None:
        assert a.std() == pytest.approx(std, rel=0.02)


# ---- distributions against torch ------------------------------------------------------------


@pytest.mark.parametrize("shape", [(256, 512), (128, 64, 3, 3), (16, 8, 5, 5, 5)])
@pytest.mark.parametrize("name,args,kwargs", [
    ("uniform_", (-0.3, 0.7), {}),
    ("normal_", (0.5, 2.0), {}),
    ("trunc_normal_", (), {"std": 0.02, "a": -0.04, "b": 0.03}),
    ("trunc_normal_", (), {}),
    ("xavier_uniform_", (), {"gain": 2.0}),
    ("xavier_normal_", (), {}),
    ("kaiming_uniform_", (), {"a": math.sqrt(5)}),
    ("kaiming_uniform_", (), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", (), {}),
    ("kaiming_normal_", (), {"a": 0.2, "mode": "fan_out"}),
])
def test_same_distribution_as_torch(name, args, kwargs, shape):
    ours, theirs = both(name, shape, *args, **kwargs)
    assert_same_distribution(ours, theirs)


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_every_nonlinearity_of_calculate_gain(nonlinearity):
    shape = (128, 64, 3, 3)
    fan_in, fan_out = 64 * 9, 128 * 9
    assert ft.calculate_gain(nonlinearity) == ti.calculate_gain(nonlinearity)
    gain = ti.calculate_gain(nonlinearity, 0)   # kaiming_* pass a=0 as the slope
    ours, theirs = both("kaiming_normal_", shape, nonlinearity=nonlinearity)
    assert_same_distribution(ours, theirs, std=gain / math.sqrt(fan_in))
    ours, theirs = both("kaiming_uniform_", shape, mode="fan_out", nonlinearity=nonlinearity)
    assert_same_distribution(ours, theirs, std=gain / math.sqrt(fan_out))
    assert np.abs(ours).max() <= math.sqrt(3.0) * gain / math.sqrt(fan_out)


def test_calculate_gain_is_torchs():
    for p in (None, 0.2, 1, 0.0):
        assert ft.calculate_gain("leaky_relu", p) == ti.calculate_gain("leaky_relu", p)
    for bad, param in (("gelu", None), ("leaky_relu", True), ("leaky_relu", "x")):
        with pytest.raises(ValueError) as theirs:
            ti.calculate_gain(bad, param)
        with pytest.raises(ValueError, match=f"^{theirs.value}$"):
            ft.calculate_gain(bad, param)


def test_kaiming_sqrt5_is_linear_default():
    w = ft.kaiming_uniform_(torch.empty(300, 400), a=math.sqrt(5), seed=0).numpy()
    assert np.abs(w).max() < 1 / math.sqrt(400)
    assert w.std() == pytest.approx(1 / math.sqrt(3 * 400), rel=0.01)


def test_orthogonal_torch_layout():
    for shape in [(64, 32), (32, 64), (16, 4, 3, 3), (8, 2, 5)]:
        w = ft.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=2.0, seed=3)
        m = w.reshape(shape[0], -1).numpy() / 2.0
        if m.shape[0] >= m.shape[1]:
            np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-12)
        else:
            np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-12)
    # torch's flattening (rows = shape[0]), not Keras's (rows = prod(shape[:-1]))
    w = ft.orthogonal_(torch.empty(4, 3, 2), seed=3).numpy()
    ref = fastinit.Orthogonal(seed=3)((4, 6))
    assert w.reshape(4, 6).tobytes() == ref.tobytes()
    # Haar: the distribution of an entry matches torch's
    ours = np.concatenate([ft.orthogonal_(torch.empty(64, 64), seed=s).flatten().numpy()
                           for s in range(8)])
    torch.manual_seed(0)
    theirs = np.concatenate([ti.orthogonal_(torch.empty(64, 64)).flatten().numpy()
                             for _ in range(8)])
    assert_same_distribution(ours.astype(np.float64), theirs.astype(np.float64))


def test_orthogonal_half_precision_where_torch_fails():
    with pytest.raises((NotImplementedError, RuntimeError)):
        ti.orthogonal_(torch.empty(8, 8, dtype=torch.bfloat16))
    w = ft.orthogonal_(torch.empty(8, 8, dtype=torch.bfloat16), seed=1).double().numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(8), atol=0.03)


def test_sparse_zeros_per_column_and_values():
    rows, cols, sparsity = 1000, 64, 0.3
    w = ft.sparse_(torch.empty(rows, cols), sparsity, std=0.5, seed=5).numpy()
    assert ((w == 0).sum(0) == math.ceil(sparsity * rows)).all()
    nz = w[w != 0].astype(np.float64)
    torch.manual_seed(0)
    t = ti.sparse_(torch.empty(rows, cols), sparsity, std=0.5).numpy()
    assert_same_distribution(nz, t[t != 0].astype(np.float64))
    # reproducible from the seed, zero rows included (torch's are not, even with a generator)
    again = ft.sparse_(torch.empty(rows, cols), sparsity, std=0.5, seed=5).numpy()
    assert w.tobytes() == again.tobytes()
    # the zero rows of each column are uniformly spread over the rows
    zero_rows = np.nonzero(w == 0)[0]
    assert stats.kstest(zero_rows / rows, "uniform").pvalue > P_MIN
    # no two columns share their zero rows
    patterns = {tuple(np.nonzero(w[:, c] == 0)[0]) for c in range(cols)}
    assert len(patterns) == cols


@pytest.mark.parametrize("sparsity", [0.0, -0.5, 1.0, 1.5, 0.999, 0.001])
def test_sparse_counts_like_torch(sparsity):
    w = ft.sparse_(torch.empty(7, 5), sparsity, seed=1).numpy()
    t = ti.sparse_(torch.empty(7, 5), sparsity).numpy()
    assert ((w == 0).sum(0) == (t == 0).sum(0)).all()


def test_sparse_column_fallback_matches_the_band(monkeypatch):
    from fastinit.torch._specs import SparseSpec
    ref = ft.sparse_(torch.empty(500, 40), 0.25, seed=9).numpy()
    monkeypatch.setattr(SparseSpec, "Z", 0.0)   # an empty band: every column takes the fallback
    got = ft.sparse_(torch.empty(500, 40), 0.25, seed=9).numpy()
    assert got.tobytes() == ref.tobytes()
    monkeypatch.setattr(SparseSpec, "Z", 1.0)   # a narrow band: some columns fail, some pass
    got = ft.sparse_(torch.empty(500, 40), 0.25, seed=9).numpy()
    assert got.tobytes() == ref.tobytes()


# ---- truncated normal -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_trunc_normal_small_std_never_near_bounds(dtype):
    w = ft.trunc_normal_(torch.empty(512, 512, dtype=dtype), std=0.002, seed=0)
    v = w.double().numpy()
    assert np.abs(v).max() < 0.002 * 6          # no value stuck at +-2 (torch's old bug)
    assert v.std() == pytest.approx(0.002, rel=0.02)
    assert stats.kurtosis(v.ravel(), fisher=False) == pytest.approx(3.0, abs=0.05)


@pytest.mark.filterwarnings("ignore:mean is more than 2 std")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 0.002, -0.003, 0.002), (0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 2.5, 3.0),
    (1.0, 0.5, 1.1, 1.12), (0.0, 1.0, -1e-3, 1e-3), (0.0, 0.02, -0.04, 0.04),
])
def test_trunc_normal_values_inside_bounds_in_every_dtype(dtype, mean, std, a, b):
    w = ft.trunc_normal_(torch.empty(200, 500, dtype=dtype), mean, std, a, b, seed=2)
    v = w.double().numpy()
    assert v.min() >= a and v.max() <= b
    ref = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    if dtype in (torch.float32, torch.float64) and b - a > 10 * std * 1e-3:
        assert stats.kstest(v.ravel()[:50000], ref.cdf).pvalue > P_MIN


def test_trunc_normal_infinite_bounds_and_warnings():
    v = ft.trunc_normal_(torch.empty(100000), std=2.0, a=-math.inf, b=math.inf, seed=1).numpy()
    assert v.std() == pytest.approx(2.0, rel=0.02)
    v = ft.trunc_normal_(torch.empty(100000), a=1.0, b=math.inf, seed=1).numpy()
    assert v.min() >= 1.0
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        ft.trunc_normal_(torch.empty(10), mean=10.0, seed=1)
    with pytest.raises(ZeroDivisionError):      # torch's error, still caught as such
        ft.trunc_normal_(torch.empty(10), std=0.0, seed=1)
    with pytest.raises(ValueError, match=r"Argument `std` of trunc_normal_ must be > 0.*"
                                         r"Received: std=0"):
        ft.trunc_normal_(torch.empty(10), std=0.0, seed=1)
    with pytest.raises(RuntimeError, match=r"\[from, to\) range, but found from=2 > to=-2"):
        ft.trunc_normal_(torch.empty(10), a=2.0, b=-2.0, seed=1)
    assert (ft.trunc_normal_(torch.empty(4), a=0.5, b=0.5, seed=1) == 0.5).all()


# ---- bits: the same as fastinit's arrays ----------------------------------------------------


def _reference(name, shape, dtype, seed, kwargs):
    """fastinit's own array for the function's parameters (the formulas re-derived here)."""
    shape = tuple(shape)
    fan_in = shape[1] * math.prod(shape[2:]) if len(shape) > 1 else None
    fan_out = shape[0] * math.prod(shape[2:]) if len(shape) > 1 else None
    if name == "uniform_":
        return fastinit.RandomUniform(kwargs["a"], kwargs["b"], seed=seed)(shape, dtype)
    if name == "normal_":
        return fastinit.RandomNormal(kwargs["mean"], kwargs["std"], seed=seed)(shape, dtype)
    if name == "trunc_normal_":
        return fastinit.StreamInitializer("truncated_normal", seed=seed, mean=0.0,
                                          stddev=kwargs["std"], low=-2.0, high=2.0)(shape, dtype)
    if name == "xavier_uniform_":
        a = math.sqrt(3.0) * math.sqrt(2.0 / float(fan_in + fan_out))
        return fastinit.RandomUniform(-a, a, seed=seed)(shape, dtype)
    if name == "xavier_normal_":
        return fastinit.RandomNormal(0.0, math.sqrt(2.0 / float(fan_in + fan_out)),
                                     seed=seed)(shape, dtype)
    if name == "kaiming_uniform_":
        bound = math.sqrt(3.0) * (math.sqrt(2.0 / (1 + 5)) / math.sqrt(fan_in))
        return fastinit.RandomUniform(-bound, bound, seed=seed)(shape, dtype)
    if name == "kaiming_normal_":
        return fastinit.RandomNormal(0.0, math.sqrt(2.0) / math.sqrt(fan_out),
                                     seed=seed)(shape, dtype)
    if name == "orthogonal_":
        return fastinit.Orthogonal(seed=seed)((shape[0], math.prod(shape[1:])), dtype)
    raise AssertionError(name)


BIT_CASES = [
    ("uniform_", {"a": -1.0, "b": 3.0}), ("normal_", {"mean": 0.25, "std": 0.5}),
    ("trunc_normal_", {"std": 0.7}), ("xavier_uniform_", {}), ("xavier_normal_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}), ("orthogonal_", {}),
]


@pytest.mark.parametrize("name,kwargs", BIT_CASES)
@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
def test_bits_equal_fastinit_arrays(name, kwargs, dtype):
    shape = (48, 20, 3)
    t = torch.empty(shape, dtype=getattr(torch, dtype))
    getattr(ft, name)(t, **kwargs, seed=77)
    ref = _reference(name, shape, dtype, 77, kwargs)
    if dtype == "bfloat16":
        got = t.view(torch.int16).numpy()
        assert got.tobytes() == ref.view(np.int16).tobytes()
    else:
        assert t.numpy().tobytes() == ref.tobytes()


# ---- in place, views, parameters, dtypes ----------------------------------------------------


@pytest.mark.parametrize("name,kwargs", BIT_CASES + [("sparse_", {"sparsity": 0.2})])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_in_place_and_views(name, kwargs, dtype):
    fn = getattr(ft, name)
    t = torch.empty(30, 40, dtype=dtype)
    ptr = t.data_ptr()
    assert fn(t, **kwargs, seed=3) is t and t.data_ptr() == ptr
    # a non-contiguous view gets the values a contiguous tensor of its shape gets
    base = torch.zeros(40, 30, dtype=dtype)
    view = base.T
    fn(view, **kwargs, seed=3)
    assert torch.equal(view, t) and view.data_ptr() == base.data_ptr()
    # a strided slice leaves the rest alone
    big = torch.zeros(60, 40, dtype=dtype)
    fn(big[::2], **kwargs, seed=3)
    assert torch.equal(big[::2], t) and (big[1::2] == 0).all()
    # a leaf parameter that requires grad
    p = torch.nn.Parameter(torch.empty(30, 40, dtype=dtype))
    v = p._version
    assert fn(p, **kwargs, seed=3) is p
    assert torch.equal(p.detach(), t) and p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p._version > v    # autograd sees the in-place write


def test_autograd_sees_the_write():
    w = torch.nn.Parameter(torch.ones(3, 3))
    y = (w * w).sum()
    ft.normal_(w, seed=1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_seeding_generator_and_default():
    g = torch.Generator().manual_seed(5)
    a = ft.normal_(torch.empty(100), generator=g)
    b = ft.normal_(torch.empty(100), generator=g)
    assert not torch.equal(a, b)
    g.manual_seed(5)
    assert torch.equal(ft.normal_(torch.empty(100), generator=g), a)
    g.manual_seed(5)
    s = int(torch.randint(0, 2**63 - 1, (), generator=g).item())
    assert torch.equal(ft.normal_(torch.empty(100), seed=s), a)
    torch.manual_seed(11)
    x = ft.xavier_uniform_(torch.empty(10, 10))
    torch.manual_seed(11)
    assert torch.equal(ft.xavier_uniform_(torch.empty(10, 10)), x)
    with torch.device("meta"):  # the draw ignores a default-device context
        torch.manual_seed(11)
        y = ft.xavier_uniform_(torch.empty(10, 10, device="cpu"))
    assert torch.equal(x, y)
    with pytest.raises(TypeError, match="either `seed` or `generator`"):
        ft.normal_(torch.empty(3), generator=g, seed=1)
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises((TypeError, ValueError), match="seed"):
            ft.normal_(torch.empty(3), seed=bad)
    with pytest.raises(TypeError, match="generator"):
        ft.normal_(torch.empty(3), generator=5)


def test_element_i_depends_on_seed_and_index_only():
    whole = ft.normal_(torch.empty(1000), seed=4)
    for threads in (1, 2):
        with fastinit.num_threads(threads):
            assert torch.equal(ft.normal_(torch.empty(1000), seed=4), whole)
    assert torch.equal(ft.normal_(torch.empty(10, 100), seed=4).flatten(), whole)


@pytest.mark.parametrize("name", ["uniform_", "normal_", "trunc_normal_", "xavier_uniform_",
                                  "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
                                  "orthogonal_", "sparse_"])
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8, torch.bool])
def test_integer_tensors_error_like_torch(name, dtype):
    args = (0.5,) if name == "sparse_" else ()
    with pytest.raises(Exception) as theirs:
        getattr(ti, name)(torch.zeros(4, 4, dtype=dtype), *args)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(ft, name)(torch.zeros(4, 4, dtype=dtype), *args, seed=1)
    if "not implemented for" in str(theirs.value) and name != "trunc_normal_":
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int8, torch.bool, torch.bfloat16,
                                   torch.float16, torch.float64, torch.complex64])
def test_constant_eye_dirac_on_any_dtype_like_torch(dtype):
    for name, shape, args in (("ones_", (3, 4), ()), ("zeros_", (3, 4), ()),
                              ("constant_", (3, 4), (1,)), ("eye_", (3, 5), ()),
                              ("dirac_", (4, 2, 3, 3), (2,)), ("dirac_", (6, 4, 3), ()),
                              ("dirac_", (2, 2, 3, 1, 3), ())):
        ours = getattr(ft, name)(torch.full(shape, 7, dtype=dtype), *args)
        theirs = getattr(ti, name)(torch.full(shape, 7, dtype=dtype), *args)
        assert torch.equal(ours, theirs), (name, dtype)


def test_constant_semantics_follow_torch():
    assert torch.equal(ft.constant_(torch.empty(3, dtype=torch.int32), 2.7),
                       torch.full((3,), 2, dtype=torch.int32))
    assert ft.constant_(torch.empty(3), math.nan).isnan().all()
    with pytest.raises(RuntimeError, match="without overflow"):
        ft.constant_(torch.empty(3, dtype=torch.int8), 300)


def test_complex_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="float16, bfloat16, float32 and float64"):
        ft.uniform_(torch.empty(3, dtype=torch.complex64), seed=1)


def test_meta_tensor_clear_error():
    with pytest.raises(ValueError, match="cannot fill a meta tensor.*materialize"):
        ft.kaiming_uniform_(torch.empty(3, 3, device="meta"), seed=1)


def test_zero_element_tensors():
    for name in ("kaiming_uniform_", "kaiming_normal_"):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            getattr(ft, name)(torch.empty(0, 3), seed=1)
    for name in ("uniform_", "normal_", "trunc_normal_", "orthogonal_", "xavier_uniform_"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert getattr(ft, name)(torch.empty(3, 0), seed=1).shape == (3, 0)
    ft.sparse_(torch.empty(0, 4), 0.5, seed=1)
    with pytest.raises(ZeroDivisionError):        # torch's too
        ft.xavier_uniform_(torch.empty(0, 0), seed=1)
    with pytest.raises(ValueError, match=r"fan_in \+ fan_out is 0 .*shape \(0, 0\)"):
        ft.xavier_normal_(torch.empty(0, 0), seed=1)
    assert ft.normal_(torch.empty(()), seed=1).shape == ()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_values_outside_the_dtype_raise_before_any_work(dtype):
    big = float(torch.finfo(dtype).max) * 4
    t = torch.full((4, 4), 7.0, dtype=dtype)
    pattern = (rf"The arguments of normal_ give values outside the range of {dtype} \(largest "
               r"finite value .*\) for a tensor of shape \(4, 4\)\. "
               + re.escape(f"Received: mean=0.0, std={big!r}, dtype={dtype}"))
    with pytest.raises(ValueError, match=pattern):
        ft.normal_(t, std=big, seed=1)
    assert (t == 7).all()                      # untouched
    with pytest.raises(ValueError, match=r"The arguments of xavier_normal_ .*gain="):
        ft.xavier_normal_(t, gain=big, seed=1)
    # materialize: raised while building the specs, before any storage is allocated
    with torch.device("meta"):
        m = nn.Linear(4, 4).to(dtype)
    with pytest.raises(ValueError, match=r"The arguments of normal_"):
        ft.materialize(m, 0, rules={"weight": ft.rule("normal_", std=big)})
    assert m.weight.is_meta and m.bias.is_meta


def test_errors_match_torch():
    t = torch.empty(4, 4)
    cases = [
        ("uniform_", (t, 1.0, 0.0), {}), ("uniform_", (t, 0.0, math.inf), {}),
        ("uniform_", (t, math.nan, 1.0), {}),
        ("uniform_", (torch.empty(3, dtype=torch.float16), 0.0, 1e6), {}),
        ("normal_", (t, 0.0, -1.0), {}), ("xavier_uniform_", (torch.empty(3),), {}),
        ("kaiming_uniform_", (t,), {"mode": "fan_avg"}),
        ("kaiming_normal_", (t,), {"nonlinearity": "gelu"}),
        ("eye_", (torch.empty(2, 2, 2),), {}), ("dirac_", (torch.empty(2, 2),), {}),
        ("dirac_", (torch.empty(3, 2, 3), 2), {}), ("orthogonal_", (torch.empty(3),), {}),
        ("sparse_", (torch.empty(2, 2, 2), 0.1), {}),
    ]
    for name, args, kwargs in cases:
        with pytest.raises(Exception) as theirs:
            getattr(ti, name)(*args, **kwargs)
        with pytest.raises(type(theirs.value)) as ours:
            getattr(ft, name)(*args, **kwargs)
        assert str(ours.value) == str(theirs.value), name
    # modes are case-insensitive, as in torch
    ft.kaiming_uniform_(t, mode="FAN_OUT", seed=1)
    # degenerate intervals are constants, as in torch
    assert (ft.uniform_(t, 2.0, 2.0) == 2.0).all()
    assert (ft.normal_(t, 3.0, 0.0) == 3.0).all()


def test_torch_function_subclasses_dispatch():
    calls = []

    class Traced(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            calls.append(getattr(func, "__name__", func))
            return super().__torch_function__(func, types, args, kwargs or {})

    t = torch.empty(4, 4).as_subclass(Traced)
    ft.uniform_(t, seed=1)
    assert "uniform_" in calls


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors_generated_on_cpu_and_copied():  # pragma: no cover - needs a GPU
    t = torch.empty(64, 32, device="cuda", dtype=torch.bfloat16)
    ft.kaiming_uniform_(t, seed=3)
    ref = ft.kaiming_uniform_(torch.empty(64, 32, dtype=torch.bfloat16), seed=3)
    assert torch.equal(t.cpu(), ref)


def test_hugepage_advice_changes_nothing():
    from fastinit.torch import _tensors
    big = torch.empty(3 << 20)      # 12 MiB: advised when the kernel allows it
    ft.uniform_(big, seed=1)
    ref = fastinit.RandomUniform(0.0, 1.0, seed=1)(big.shape)
    assert big.numpy().tobytes() == ref.tobytes()
    _tensors.advise_hugepages(torch.empty(10))   # small: nothing to do
