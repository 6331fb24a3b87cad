"""torch.nn.init's functions on fastinit's streams.

Same names, signatures, defaults, fan rule (torch's layout: dim 1 is fan-in, dim 0 fan-out, both
times prod(shape[2:])), formulas, warnings and error messages as torch 2.13, plus a keyword-only
``seed=``.  Each function fills its tensor in place and returns it.

Seeding: ``seed=`` (an int) keys the values; else one 63-bit int is drawn from ``generator=``
(a torch.Generator); else from torch's default CPU generator, so ``torch.manual_seed(s)`` makes
calls reproducible.  Either way element i of the (contiguous) tensor is a pure function of
(seed, i), whatever the thread count, and any piece can be computed alone (`fill_shard`).
"""

import math
import warnings

import torch

from fastinit.torch import _specs
from fastinit.torch._tensors import (
    FLOAT_DTYPES,
    check_seed,
    fill_tensor,
    is_dtensor,
    numel,
    resolve_seed,
)

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "sparse_",
]

# torch's C++ names, used in its messages
_TORCH_TYPE_NAMES = {
    torch.float16: "c10::Half", torch.bfloat16: "c10::BFloat16", torch.float32: "float",
    torch.float64: "double",
}
_SCALAR_NAMES = {
    torch.bool: "Bool", torch.uint8: "Byte", torch.int8: "Char", torch.int16: "Short",
    torch.int32: "Int", torch.int64: "Long", torch.uint16: "UInt16", torch.uint32: "UInt32",
    torch.uint64: "UInt64",
}
# the torch kernel whose dtype dispatch rejects integer tensors, per function
_UNIFORM_KERNEL, _NORMAL_KERNEL = "check_uniform_bounds", "normal_kernel_cpu"


# ---- gains and fans (torch's code) -----------------------------------------------------------


def calculate_gain(nonlinearity, param=None):
    r"""Return the recommended gain value for the given nonlinearity function.

    ================= ====================================================
    nonlinearity      gain
    ================= ====================================================
    Linear / Identity :math:`1`
    Conv{1,2,3}D      :math:`1`
    Sigmoid           :math:`1`
    Tanh              :math:`\frac{5}{3}`
    ReLU              :math:`\sqrt{2}`
    Leaky Relu        :math:`\sqrt{\frac{2}{1 + \text{negative\_slope}^2}}`
    SELU              :math:`\frac{3}{4}`
    ================= ====================================================

    Exactly `torch.nn.init.calculate_gain` (same values and errors).

    Args:
        nonlinearity: the non-linear function (`nn.functional` name)
        param: optional parameter for the non-linear function
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    elif nonlinearity == "tanh":
        return 5.0 / 3
    elif nonlinearity == "relu":
        return math.sqrt(2.0)
    elif nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, int) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    elif nonlinearity == "selu":
        return 3.0 / 4
    else:
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def calculate_fan_in_and_fan_out(shape):
    """torch's fans of a shape: (shape[1] * rf, shape[0] * rf), rf = prod(shape[2:])."""
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive_field_size = 1
    for s in shape[2:]:
        receptive_field_size *= s
    return shape[1] * receptive_field_size, shape[0] * receptive_field_size


def _correct_fan(shape, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


# ---- specs from parameters (shared with materialize and fill_shard) -------------------------


def _fmt(x):
    return f"{x:g}" if isinstance(x, float) else str(x)


def _uniform_spec(a, b, dtype):
    tname = _TORCH_TYPE_NAMES.get(dtype)
    if tname is not None:
        finfo = torch.finfo(dtype)
        for label, v in (("from", a), ("to", b)):
            if not (finfo.min <= v <= finfo.max):    # also NaN and inf
                raise RuntimeError(f"{label} is out of bounds for {tname}")
    if a > b:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={_fmt(a)} > "
            f"to={_fmt(b)}"
        )
    if a == b:
        return _specs.ConstantSpec(float(a))
    return _specs.uniform_spec(float(a), float(b))


def _normal_spec(mean, std):
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    if std == 0:
        return _specs.ConstantSpec(float(mean))
    return _specs.normal_spec(float(mean), float(std))


def _norm_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _trunc_normal_spec(mean, std, a, b):
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=5,
        )
    _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)   # torch's ZeroDivisionError
    if std < 0:
        raise ValueError(f"trunc_normal_ expects std > 0.0, but found std {_fmt(std)}")
    if a > b:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={_fmt(a)} > "
            f"to={_fmt(b)}"
        )
    if a == b:
        return _specs.ConstantSpec(float(a))
    # infinite bounds: a bound 40 std out is never reached by a float64 normal (|z| < 8.6)
    a = max(float(a), mean - 40.0 * std)
    b = min(float(b), mean + 40.0 * std)
    return _specs.trunc_normal_spec(float(mean), float(std), a, b)


def _kaiming_std(shape, a, mode, nonlinearity):
    fan = _correct_fan(shape, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


def _xavier_std(shape, gain):
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def _sparse_spec(shape, sparsity, std):
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, _ = shape
    # torch zeroes randperm(rows)[:ceil(sparsity * rows)]: Python slicing decides the count
    num_zeros = len(range(rows)[:math.ceil(sparsity * rows)])
    base = _normal_spec(0.0, std)
    if isinstance(base, _specs.ConstantSpec):
        return base
    return _specs.SparseSpec(rows, num_zeros, float(std))


def _dirac_check(shape, groups):
    if len(shape) not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")


def build_spec(name, shape, dtype, kwargs, allow_in_memory=True):
    """The spec of torch-style function `name` with keyword arguments `kwargs` (generator and
    seed excluded) for a global `shape` and `dtype`; None when the call is a no-op (torch's
    zero-element kaiming_* and orthogonal_).  Validates like the function."""
    kw = _bind(name, kwargs)
    if name == "uniform_":
        return _uniform_spec(kw["a"], kw["b"], dtype)
    if name == "normal_":
        return _normal_spec(kw["mean"], kw["std"])
    if name == "trunc_normal_":
        return _trunc_normal_spec(kw["mean"], kw["std"], kw["a"], kw["b"])
    if name == "constant_":
        return _specs.ConstantSpec(kw["val"])
    if name == "ones_":
        return _specs.ConstantSpec(1.0)
    if name == "zeros_":
        return _specs.ConstantSpec(0)
    if name == "eye_":
        if len(shape) != 2:
            raise ValueError("Only tensors with 2 dimensions are supported")
        return _specs.EyeSpec()
    if name == "dirac_":
        _dirac_check(shape, kw["groups"])
        return _specs.DiracSpec(kw["groups"])
    if name == "xavier_uniform_":
        a = math.sqrt(3.0) * _xavier_std(shape, kw["gain"])
        return _uniform_spec(-a, a, dtype)
    if name == "xavier_normal_":
        return _normal_spec(0.0, _xavier_std(shape, kw["gain"]))
    if name in ("kaiming_uniform_", "kaiming_normal_"):
        if 0 in shape:
            warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=4)
            return None
        std = _kaiming_std(shape, kw["a"], kw["mode"], kw["nonlinearity"])
        if name == "kaiming_normal_":
            return _normal_spec(0.0, std)
        bound = math.sqrt(3.0) * std
        return _uniform_spec(-bound, bound, dtype)
    if name == "orthogonal_":
        if len(shape) < 2:
            raise ValueError("Only tensors with 2 or more dimensions are supported")
        if numel(shape) == 0:
            return None
        return _specs.OrthogonalSpec(kw["gain"], allow_in_memory)
    if name == "sparse_":
        return _sparse_spec(shape, kw["sparsity"], kw["std"])
    raise ValueError(f"Unknown torch.nn.init function {name!r}")


_DEFAULTS = {
    "uniform_": {"a": 0.0, "b": 1.0},
    "normal_": {"mean": 0.0, "std": 1.0},
    "trunc_normal_": {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
    "constant_": {"val": None},
    "ones_": {},
    "zeros_": {},
    "eye_": {},
    "dirac_": {"groups": 1},
    "xavier_uniform_": {"gain": 1.0},
    "xavier_normal_": {"gain": 1.0},
    "kaiming_uniform_": {"a": 0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
    "kaiming_normal_": {"a": 0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
    "orthogonal_": {"gain": 1},
    "sparse_": {"sparsity": None, "std": 0.01},
}
RANDOM = {"uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
          "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_"}


def _bind(name, kwargs):
    if name not in _DEFAULTS:
        raise ValueError(
            f"Unknown torch.nn.init function {name!r}; expected one of {sorted(_DEFAULTS)}"
        )
    defaults = _DEFAULTS[name]
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise TypeError(f"{name}() got unexpected keyword argument(s) {sorted(unknown)}")
    kw = {**defaults, **kwargs}
    missing = [k for k, v in kw.items() if v is None]
    if missing:
        raise TypeError(f"{name}() missing required argument(s) {missing}")
    return kw


# ---- the functions --------------------------------------------------------------------------


def check_target(tensor, name):
    """Raise for tensors fastinit does not fill: meta, non-strided, and for random functions
    integer tensors (torch's own error) and float types other than float16/bfloat16/float32/
    float64."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name}() expects a torch.Tensor. Received: {type(tensor).__name__}")
    t = tensor._local_tensor if is_dtensor(tensor) else tensor
    if t.is_meta:
        raise ValueError(
            f"fastinit.torch.{name} cannot fill a meta tensor: it has no storage. Give the "
            "module real storage first (fastinit.torch.materialize(module, seed), or "
            "module.to_empty(device='cpu'))."
        )
    if t.layout != torch.strided:
        raise TypeError(f"fastinit.torch.{name} fills strided (dense) tensors, not {t.layout}.")
    if name in RANDOM and t.dtype not in FLOAT_DTYPES:
        if not t.dtype.is_floating_point and not t.dtype.is_complex:
            kernel = _UNIFORM_KERNEL if "uniform" in name else _NORMAL_KERNEL
            raise NotImplementedError(
                f'"{kernel}" not implemented for '
                f"'{_SCALAR_NAMES.get(t.dtype, str(t.dtype))}'"
            )
        raise TypeError(
            f"fastinit.torch.{name} fills float16, bfloat16, float32 and float64 tensors. "
            f"Received dtype={t.dtype}"
        )


def can_fill(tensor, name):
    """Whether fastinit fills `tensor` for `name` (what patch() routes; the rest goes to torch)."""
    try:
        check_target(tensor, name)
    except (TypeError, ValueError, NotImplementedError):
        return False
    return True


def run(name, tensor, kwargs, generator=None, seed=None):
    check_target(tensor, name)
    shape = tuple(tensor.shape)
    spec = build_spec(name, shape, tensor.dtype, kwargs)
    if spec is None:
        return tensor
    if spec.random:
        s = resolve_seed(seed, generator)
    else:  # constants ignore seeds, but a wrong one is still an error
        if seed is not None:
            if generator is not None:
                raise TypeError("Pass either `seed` or `generator`, not both.")
            check_seed(seed)
        s = None
    return fill_tensor(tensor, spec, s)


def _torch_function(fn, tensor, **kw):
    return torch.overrides.handle_torch_function(fn, (tensor,), tensor=tensor, **kw)


def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None):
    r"""Fill the input Tensor with values drawn from the uniform distribution
    :math:`\mathcal{U}(a, b)`, in ``[a, b)`` in the tensor's dtype.

    Args:
        tensor: an n-dimensional `torch.Tensor`
        a: the lower bound of the uniform distribution
        b: the upper bound of the uniform distribution
        generator: the torch Generator to draw the seed from (default: None)
        seed: an int that keys the values (instead of a generator)
    """
    if torch.overrides.has_torch_function_variadic(tensor):
        return _torch_function(uniform_, tensor, a=a, b=b, generator=generator, seed=seed)
    return run("uniform_", tensor, {"a": a, "b": b}, generator, seed)


def normal_(tensor, mean=0.0, std=1.0, generator=None, *, seed=None):
    r"""Fill the input Tensor with values drawn from the normal distribution
    :math:`\mathcal{N}(\text{mean}, \text{std}^2)`.

    Args:
        tensor: an n-dimensional `torch.Tensor`
        mean: the mean of the normal distribution
        std: the standard deviation of the normal distribution
        generator: the torch Generator to draw the seed from (default: None)
        seed: an int that keys the values (instead of a generator)
    """
    if torch.overrides.has_torch_function_variadic(tensor):
        return _torch_function(normal_, tensor, mean=mean, std=std, generator=generator,
                               seed=seed)
    return run("normal_", tensor, {"mean": mean, "std": std}, generator, seed)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None, *, seed=None):
    r"""Fill the input Tensor with values drawn from a truncated normal distribution.

    The values are drawn from :math:`\mathcal{N}(\text{mean}, \text{std}^2)` restricted to the
    **absolute** bounds ``[a, b]`` (torch's convention), by exact rejection sampling with the
    sampler of best acceptance for the interval (normal rejection, or Robert's uniform or
    exponential proposals), in float32 (float64 for float64 tensors) and rounded once: every
    value lies in ``[a, b]`` in the tensor's dtype, and no value sticks to a bound.  Memory: the
    tensor alone (torch's sampler makes tensor-sized temporaries).

    Args:
        tensor: an n-dimensional `torch.Tensor`
        mean: the mean of the normal distribution
        std: the standard deviation of the normal distribution
        a: the minimum cutoff value
        b: the maximum cutoff value
        generator: the torch Generator to draw the seed from (default: None)
        seed: an int that keys the values (instead of a generator)
    """
    if torch.overrides.has_torch_function_variadic(tensor):
        return _torch_function(trunc_normal_, tensor, mean=mean, std=std, a=a, b=b,
                               generator=generator, seed=seed)
    return run("trunc_normal_", tensor, {"mean": mean, "std": std, "a": a, "b": b},
               generator, seed)


def constant_(tensor, val):
    r"""Fill the input Tensor with the value :math:`\text{val}` (any dtype, as torch)."""
    if torch.overrides.has_torch_function_variadic(tensor):
        return _torch_function(constant_, tensor, val=val)
    return run("constant_", tensor, {"val": val})


def ones_(tensor):
    r"""Fill the input Tensor with the scalar value `1` (any dtype, as torch)."""
    return run("ones_", tensor, {})


def zeros_(tensor):
    r"""Fill the input Tensor with the scalar value `0` (any dtype, as torch)."""
    return run("zeros_", tensor, {})


def eye_(tensor):
    r"""Fill the 2-dimensional input `Tensor` with the identity matrix (any dtype, as torch)."""
    return run("eye_", tensor, {})


def dirac_(tensor, groups=1):
    r"""Fill the {3, 4, 5}-dimensional input `Tensor` with the Dirac delta function.

    Preserves the identity of the inputs in `Convolutional` layers, where as many input
    channels are preserved as possible; with groups > 1 each group of channels preserves
    identity.  Any dtype, as torch.
    """
    return run("dirac_", tensor, {"groups": groups})


def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None):
    r"""Fill the input `Tensor` with values using a Xavier uniform distribution:
    :math:`\mathcal{U}(-a, a)` with
    :math:`a = \text{gain} \times \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}`
    (torch's fans: fan_in = size(1) * rf, fan_out = size(0) * rf)."""
    return run("xavier_uniform_", tensor, {"gain": gain}, generator, seed)


def xavier_normal_(tensor, gain=1.0, generator=None, *, seed=None):
    r"""Fill the input `Tensor` with values using a Xavier normal distribution (untruncated):
    :math:`\mathcal{N}(0, \text{std}^2)` with
    :math:`\text{std} = \text{gain} \times \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}`."""
    return run("xavier_normal_", tensor, {"gain": gain}, generator, seed)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                     seed=None):
    r"""Fill the input `Tensor` with values using a Kaiming uniform distribution:
    :math:`\mathcal{U}(-\text{bound}, \text{bound})` with
    :math:`\text{bound} = \text{gain} \times \sqrt{\frac{3}{\text{fan\_mode}}}`,
    ``gain = calculate_gain(nonlinearity, a)``.  ``nn.Linear``'s default ``a=math.sqrt(5)``
    gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)).  Zero-element tensors warn and are left alone.
    """
    if torch.overrides.has_torch_function_variadic(tensor):
        return _torch_function(kaiming_uniform_, tensor, a=a, mode=mode,
                               nonlinearity=nonlinearity, generator=generator, seed=seed)
    return run("kaiming_uniform_", tensor, {"a": a, "mode": mode, "nonlinearity": nonlinearity},
               generator, seed)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                    seed=None):
    r"""Fill the input `Tensor` with values using a Kaiming normal distribution (untruncated):
    :math:`\mathcal{N}(0, \text{std}^2)` with
    :math:`\text{std} = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}`.
    Zero-element tensors warn and are left alone."""
    return run("kaiming_normal_", tensor, {"a": a, "mode": mode, "nonlinearity": nonlinearity},
               generator, seed)


def orthogonal_(tensor, gain=1, generator=None, *, seed=None):
    r"""Fill the input `Tensor` with a (semi) orthogonal matrix, times `gain`.

    torch's layout: the tensor is viewed as a ``(shape[0], numel // shape[0])`` matrix, which
    gets orthonormal rows or columns (whichever are fewer), Haar-distributed (fastinit's
    Orthogonal: Householder reflectors drawn from the normal stream).  float16 and bfloat16 are
    computed in float32 (torch's CPU QR rejects them).  A DTensor shard computes the whole
    matrix and keeps its piece.
    """
    return run("orthogonal_", tensor, {"gain": gain}, generator, seed)


def sparse_(tensor, sparsity, std=0.01, generator=None, *, seed=None):
    r"""Fill the 2D input `Tensor` as a sparse matrix: :math:`\mathcal{N}(0, \text{std}^2)`
    values with ``ceil(sparsity * rows)`` zeros in each column.

    Unlike torch's, the zero rows come from the seed as well (torch draws them from the global
    RNG even with `generator=`), so the whole result is reproducible; each column's zero rows
    are a uniformly random subset of its rows (see fastinit.torch._specs.SparseSpec).
    """
    return run("sparse_", tensor, {"sparsity": sparsity, "std": std}, generator, seed)


FUNCTIONS = {
    f.__name__: f for f in (
        uniform_, normal_, trunc_normal_, constant_, ones_, zeros_, eye_, dirac_,
        xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_, orthogonal_, sparse_,
    )
}
