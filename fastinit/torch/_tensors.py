"""Torch tensors as fastinit outputs: zero-copy numpy views, seeds, and the one fill path.

Every public function, `patch()`, `materialize` and `fill_shard` end in `fill_tensor`, which hands
a *spec* (what the values are, fastinit/torch/_specs.py) the piece of the global tensor that a
torch tensor holds:

- a contiguous CPU tensor is filled in place through a numpy view of its storage (float16,
  float32, float64 directly; bfloat16 as ``t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)``):
  no copy, `data_ptr()` unchanged;
- any other tensor (a non-contiguous view, a CUDA tensor) gets exactly the values a contiguous
  tensor of its shape would get: they are generated into a contiguous CPU temporary and
  `copy_`-ed in;
- a DTensor's local shard is filled from its global offsets, so the full tensor is the same for
  any mesh and placement.
"""

import ctypes
import math
import numbers
import os
import sys
from typing import TYPE_CHECKING, Any

import ml_dtypes
import numpy as np
import torch

if TYPE_CHECKING:
    from fastinit.torch._specs import Spec

Shape = tuple[int, ...]
Bounds = tuple[tuple[int, int], ...]   # a (start, stop) pair per axis

FLOAT_DTYPES = {
    torch.float16: np.dtype(np.float16),
    torch.bfloat16: np.dtype(ml_dtypes.bfloat16),
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
}

# ---- seeds ---------------------------------------------------------------------------------


def check_seed(seed: object) -> int:
    """`seed` as a Python int >= 0 (ints and numpy ints only)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"Argument `seed` must be an int >= 0. Received: seed={seed!r}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"Argument `seed` must be >= 0. Received: seed={seed}")
    return seed


def resolve_seed(seed: object, generator: "torch.Generator | None") -> int:
    """The int seed of one call: `seed`, else one 63-bit int drawn from `generator`, else from
    torch's default CPU generator (so ``torch.manual_seed(s)`` makes unseeded calls
    reproducible; each call advances the generator by one draw)."""
    if seed is not None:
        if generator is not None:
            raise TypeError("Pass either `seed` or `generator`, not both.")
        return check_seed(seed)
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(
                "Argument `generator` must be a torch.Generator or None. "
                f"Received: generator={generator!r}"
            )
        device = generator.device
    else:
        device = torch.device("cpu")
    # device= explicitly: under `with torch.device("meta")` a factory would make a meta tensor
    draw = torch.randint(0, 2**63 - 1, (), generator=generator, device=device, dtype=torch.int64)
    return int(draw.item())


# ---- numpy views and hugepages --------------------------------------------------------------


def numpy_view(t: torch.Tensor) -> np.ndarray[Any, Any]:
    """A writable numpy array sharing the storage of the contiguous CPU tensor `t`."""
    d = t.detach()
    if d.dtype == torch.bfloat16:
        return d.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return d.numpy()


def _hugepages_wanted() -> bool:
    if os.environ.get("FASTINIT_TORCH_HUGEPAGES", "0") != "1" or not sys.platform.startswith(
            "linux"):
        return False
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[madvise]" in f.read()   # "[always]": the kernel does it already
    except OSError:
        return False


_MADV_HUGEPAGE = 14
_HUGE = 2 << 20
_HUGEPAGE_MIN_BYTES = 4 << 20
_madvise: Any = None
if _hugepages_wanted():
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
        _madvise = _libc.madvise
        _madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        _madvise.restype = ctypes.c_int
    except (OSError, AttributeError):
        _madvise = None


def advise_hugepages(t: torch.Tensor) -> None:
    """Ask Linux for transparent huge pages under the 2 MiB-aligned interior of a large CPU
    tensor before it is first written (THP in "madvise" mode).

    Opt-in: set FASTINIT_TORCH_HUGEPAGES=1 (Linux, THP in "madvise" mode).  Fresh allocations
    are faulted in 4 KiB pages otherwise, which can cost more than the fill itself; with huge
    pages the first write faults 2 MiB at a time.  On a 2-core VM this was 2.7x faster in one
    run and up to 2x slower in others (the hypervisor backs fresh huge pages slowly), so it is
    off by default.  Advisory only: values and addresses never change, errors are ignored,
    memory already touched is unaffected.
    """
    if _madvise is None:
        return
    n = t.numel() * t.element_size()
    if n < _HUGEPAGE_MIN_BYTES:
        return
    p = t.data_ptr()
    a = (p + _HUGE - 1) & ~(_HUGE - 1)
    e = (p + n) & ~(_HUGE - 1)
    if e > a:
        _madvise(a, e - a, _MADV_HUGEPAGE)


# ---- the fill path --------------------------------------------------------------------------


def is_dtensor(t: object) -> bool:
    if "torch.distributed.tensor" not in sys.modules:
        return False
    from torch.distributed.tensor import DTensor
    return isinstance(t, DTensor)


def local_tensor(t: torch.Tensor) -> torch.Tensor:
    """The tensor holding `t`'s values on this rank: a DTensor's local shard, else `t`."""
    local: torch.Tensor = t._local_tensor if is_dtensor(t) else t  # type: ignore[attr-defined]
    return local


def dtensor_piece(t: Any) -> tuple[torch.Tensor, Shape, Shape]:
    """(local tensor, global shape, global offsets) of a DTensor."""
    from torch.distributed.tensor import Partial
    try:
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
    except ImportError:  # pragma: no cover - moved in a later torch
        raise NotImplementedError(
            "fastinit.torch cannot find torch.distributed.tensor._utils."
            "compute_local_shape_and_global_offset in this torch version; fill the local shard "
            "with fastinit.torch.fill_shard(t.to_local(), rule, t.shape, offsets, seed=...)."
        ) from None
    if any(isinstance(p, Partial) for p in t.placements):
        raise ValueError(
            "Cannot initialize a DTensor with a Partial placement: its local tensors are "
            f"summands, not pieces. Received placements={t.placements}"
        )
    local = t._local_tensor
    shape, offsets = compute_local_shape_and_global_offset(t.shape, t.device_mesh, t.placements)
    if tuple(shape) != tuple(local.shape):
        raise ValueError(
            f"The DTensor's local tensor has shape {tuple(local.shape)}, but its placements "
            f"give a local shape of {tuple(shape)}."
        )
    return local, tuple(t.shape), tuple(int(o) for o in offsets)


def fill_tensor(tensor: torch.Tensor, spec: "Spec", seed: int,
                global_shape: Shape | None = None,
                offsets: Shape | None = None) -> torch.Tensor:
    """Write the piece of ``spec``'s global tensor that `tensor` holds, in place; return `tensor`.

    `global_shape` defaults to the tensor's shape and `offsets` to zeros (the whole tensor).
    """
    local = tensor
    if is_dtensor(tensor):
        if global_shape is not None:
            raise TypeError("A DTensor knows its global shape and offsets: do not pass them.")
        local, global_shape, offsets = dtensor_piece(tensor)
    shape = tuple(local.shape)
    if global_shape is None:
        global_shape = shape
    if offsets is None:
        offsets = (0,) * len(shape)
    bounds = tuple((o, o + n) for o, n in zip(offsets, shape))
    with torch.no_grad():
        if spec.torch_native:
            spec.fill_torch(local, global_shape, bounds, seed)
        elif local.device.type == "cpu" and local.is_contiguous() and local.layout == torch.strided:
            advise_hugepages(local)
            spec.fill_numpy(local, numpy_view(local), global_shape, bounds, seed)
            if not local.is_inference():
                # numpy writes bypass autograd's version counter; count it like an in-place op
                torch.autograd.graph.increment_version(local)
        else:
            tmp = torch.empty(shape, dtype=local.dtype, device="cpu")
            spec.fill_numpy(tmp, numpy_view(tmp), global_shape, bounds, seed)
            local.copy_(tmp)
    return tensor


def numel(shape: Shape) -> int:

    return math.prod(shape)
