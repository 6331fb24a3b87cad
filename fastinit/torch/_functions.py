"""torch.nn.init's functions on fastinit's streams.

Same names, signatures, defaults, fan rule (torch's layout: dim 1 is fan-in, dim 0 fan-out, both
times prod(shape[2:])), formulas, warnings and error messages as torch 2.13, plus a keyword-only
``seed=``.  Each function fills its tensor in place and returns it.

Seeding: ``seed=`` (an int) keys the values; else one 63-bit int is drawn from ``generator=``
(a torch.Generator); else from torch's default CPU generator, so ``torch.manual_seed(s)`` makes
calls reproducible.  Either way element i of the (contiguous) tensor is a pure function of
(seed, i), whatever the thread count, and any piece can be computed alone (`fill_shard`).
"""

import warnings
from collections.abc import Callable
from typing import Any

import torch

from fastinit import _torch_rules as tr
from fastinit._torch_rules import (  # torch-free: shared with fastinit's model specs
    RANDOM,
    _bind,
    calculate_gain,
    rule_values,
)
from fastinit.torch import _specs
from fastinit.torch._tensors import (
    FLOAT_DTYPES,
    Shape,
    check_seed,
    fill_tensor,
    local_tensor,
    resolve_seed,
)

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "sparse_",
]

_SCALAR_NAMES = {
    torch.bool: "Bool", torch.uint8: "Byte", torch.int8: "Char", torch.int16: "Short",
    torch.int32: "Int", torch.int64: "Long", torch.uint16: "UInt16", torch.uint32: "UInt32",
    torch.uint64: "UInt64",
}
# the torch kernel whose dtype dispatch rejects integer tensors, per function
_UNIFORM_KERNEL, _NORMAL_KERNEL = "check_uniform_bounds", "normal_kernel_cpu"


# (gains, fans and argument binding: fastinit/_torch_rules.py, torch-free)


# ---- specs from parameters (shared with materialize and fill_shard) -------------------------


def build_spec(name: str, shape: Shape, dtype: torch.dtype, kwargs: dict[str, Any],
               allow_in_memory: bool = True) -> _specs.Spec | None:
    """The spec of torch-style function `name` with keyword arguments `kwargs` (generator and
    seed excluded) for a global `shape` and `dtype`; None when the call is a no-op (torch's
    zero-element kaiming_* and orthogonal_).  Validates like the function (fastinit._torch_rules,
    torch's checks and messages), and checks that the values fit `dtype`, before any work."""
    kw = _bind(name, kwargs)
    np_dtype = FLOAT_DTYPES.get(dtype)
    # warnings point 3 frames up, as torch's: the torch function (or materialize, fill_shard)
    values = rule_values(name, kw, shape, None if np_dtype is None else np_dtype.name,
                         stacklevel=3)
    spec = _spec_of(values, allow_in_memory)
    if isinstance(values, tr.NoValues) and values.warning is not None:
        warnings.warn(values.warning, stacklevel=3)
    if isinstance(spec, _specs.InitializerSpec) and np_dtype is not None:
        try:
            spec.check(shape, np_dtype)
        except ValueError:   # named by fastinit's initializer: say it in torch's terms
            received = ", ".join(f"{k}={v!r}" for k, v in kw.items())
            raise ValueError(
                f"The arguments of {name} give values outside the range of {dtype} (largest "
                f"finite value {torch.finfo(dtype).max:.6g}) for a tensor of shape {shape}. "
                f"Received: {received}, dtype={dtype}"
            ) from None
    return spec


def _spec_of(values: tr.Values, allow_in_memory: bool) -> _specs.Spec | None:
    """The Spec that fills a tensor (or any piece of it) with `values`."""
    if isinstance(values, tr.ConstantValues):
        return _specs.ConstantSpec(values.value)
    if isinstance(values, tr.RandomValues):
        return _specs.InitializerSpec(values.make)
    if isinstance(values, tr.OrthogonalValues):
        return _specs.OrthogonalSpec(values.gain, allow_in_memory)
    if isinstance(values, tr.EyeValues):
        return _specs.EyeSpec()
    if isinstance(values, tr.DiracValues):
        return _specs.DiracSpec(values.groups)
    if isinstance(values, tr.SparseValues):
        return _specs.SparseSpec(values.rows, values.num_zeros, values.std)
    assert isinstance(values, tr.NoValues)
    return None


# ---- the functions --------------------------------------------------------------------------


def check_target(tensor: object, name: str) -> None:
    """Raise for tensors fastinit does not fill: meta, non-strided, and for random functions
    integer tensors (torch's own error) and float types other than float16/bfloat16/float32/
    float64."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name}() expects a torch.Tensor. Received: {type(tensor).__name__}")
    t = local_tensor(tensor)
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


def can_fill(tensor: object, name: str) -> bool:
    """Whether fastinit fills `tensor` for `name` (what patch() routes; the rest goes to torch)."""
    try:
        check_target(tensor, name)
    except (TypeError, ValueError, NotImplementedError):
        return False
    return True


def run(name: str, tensor: torch.Tensor, kwargs: dict[str, Any],
        generator: torch.Generator | None = None, seed: int | None = None) -> torch.Tensor:
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
        s = 0
    return fill_tensor(tensor, spec, s)


def _torch_function(fn: Callable[..., torch.Tensor], tensor: torch.Tensor,
                    **kw: Any) -> torch.Tensor:
    return torch.overrides.handle_torch_function(fn, (tensor,), tensor=tensor, **kw)


def uniform_(tensor: torch.Tensor, a: float = 0.0, b: float = 1.0,
             generator: torch.Generator | None = None, *,
             seed: int | None = None) -> torch.Tensor:
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


def normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0,
            generator: torch.Generator | None = None, *,
            seed: int | None = None) -> torch.Tensor:
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


def trunc_normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: torch.Generator | None = None, *,
                  seed: int | None = None) -> torch.Tensor:
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


def constant_(tensor: torch.Tensor, val: float) -> torch.Tensor:
    r"""Fill the input Tensor with the value :math:`\text{val}` (any dtype, as torch)."""
    if torch.overrides.has_torch_function_variadic(tensor):
        return _torch_function(constant_, tensor, val=val)
    return run("constant_", tensor, {"val": val})


def ones_(tensor: torch.Tensor) -> torch.Tensor:
    r"""Fill the input Tensor with the scalar value `1` (any dtype, as torch)."""
    return run("ones_", tensor, {})


def zeros_(tensor: torch.Tensor) -> torch.Tensor:
    r"""Fill the input Tensor with the scalar value `0` (any dtype, as torch)."""
    return run("zeros_", tensor, {})


def eye_(tensor: torch.Tensor) -> torch.Tensor:
    r"""Fill the 2-dimensional input `Tensor` with the identity matrix (any dtype, as torch)."""
    return run("eye_", tensor, {})


def dirac_(tensor: torch.Tensor, groups: int = 1) -> torch.Tensor:
    r"""Fill the {3, 4, 5}-dimensional input `Tensor` with the Dirac delta function.

    Preserves the identity of the inputs in `Convolutional` layers, where as many input
    channels are preserved as possible; with groups > 1 each group of channels preserves
    identity.  Any dtype, as torch.
    """
    return run("dirac_", tensor, {"groups": groups})


def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0,
                    generator: torch.Generator | None = None, *,
                    seed: int | None = None) -> torch.Tensor:
    r"""Fill the input `Tensor` with values using a Xavier uniform distribution:
    :math:`\mathcal{U}(-a, a)` with
    :math:`a = \text{gain} \times \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}`
    (torch's fans: fan_in = size(1) * rf, fan_out = size(0) * rf)."""
    return run("xavier_uniform_", tensor, {"gain": gain}, generator, seed)


def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0,
                   generator: torch.Generator | None = None, *,
                   seed: int | None = None) -> torch.Tensor:
    r"""Fill the input `Tensor` with values using a Xavier normal distribution (untruncated):
    :math:`\mathcal{N}(0, \text{std}^2)` with
    :math:`\text{std} = \text{gain} \times \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}`."""
    return run("xavier_normal_", tensor, {"gain": gain}, generator, seed)


def kaiming_uniform_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: torch.Generator | None = None, *,
                     seed: int | None = None) -> torch.Tensor:
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


def kaiming_normal_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: torch.Generator | None = None, *,
                    seed: int | None = None) -> torch.Tensor:
    r"""Fill the input `Tensor` with values using a Kaiming normal distribution (untruncated):
    :math:`\mathcal{N}(0, \text{std}^2)` with
    :math:`\text{std} = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}`.
    Zero-element tensors warn and are left alone."""
    return run("kaiming_normal_", tensor, {"a": a, "mode": mode, "nonlinearity": nonlinearity},
               generator, seed)


def orthogonal_(tensor: torch.Tensor, gain: float = 1,
                generator: torch.Generator | None = None, *,
                seed: int | None = None) -> torch.Tensor:
    r"""Fill the input `Tensor` with a (semi) orthogonal matrix, times `gain`.

    torch's layout: the tensor is viewed as a ``(shape[0], numel // shape[0])`` matrix, which
    gets orthonormal rows or columns (whichever are fewer), Haar-distributed (fastinit's
    Orthogonal: Householder reflectors drawn from the normal stream).  float16 and bfloat16 are
    computed in float32 (torch's CPU QR rejects them).  A DTensor shard computes the whole
    matrix and keeps its piece.
    """
    return run("orthogonal_", tensor, {"gain": gain}, generator, seed)


def sparse_(tensor: torch.Tensor, sparsity: float, std: float = 0.01,
            generator: torch.Generator | None = None, *,
            seed: int | None = None) -> torch.Tensor:
    r"""Fill the 2D input `Tensor` as a sparse matrix: :math:`\mathcal{N}(0, \text{std}^2)`
    values with ``ceil(sparsity * rows)`` zeros in each column.

    Unlike torch's, the zero rows come from the seed as well (torch draws them from the global
    RNG even with `generator=`), so the whole result is reproducible; each column's zero rows
    are a uniformly random subset of its rows (see fastinit.torch._specs.SparseSpec).
    """
    return run("sparse_", tensor, {"sparsity": sparsity, "std": std}, generator, seed)


FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    f.__name__: f for f in (
        uniform_, normal_, trunc_normal_, constant_, ones_, zeros_, eye_, dirac_,
        xavier_uniform_, xavier_normal_, kaiming_uniform_, kaiming_normal_, orthogonal_, sparse_,
    )
}
