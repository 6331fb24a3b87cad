"""save_safetensors(meta_model, path, seed): a model's seed checkpoint, never materialized.

Every tensor of the state dict is streamed into the file chunk by chunk from the rule
`fastinit.torch.materialize` would apply to it (same rules, same defaults, same per-name seeds,
the same Spec objects filling each piece), so loading the file gives the bits materialize gives,
in memory bounded by the writer's two chunk buffers instead of the model.
"""

import os
import re
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

import fastinit
from fastinit._chunks import DEFAULT_CHUNK_BYTES
from fastinit._regions import ArraySource, Source, flat_pieces
from fastinit._safetensors import save_safetensors as _save
from fastinit.torch._materialize import (
    AnyRule,
    CallableRule,
    _collect,
    _Entry,
    _is_lazy,
    _matchers,
    module_defaults,
    padding_rows,
    rule_for,
    uncovered_error,
)
from fastinit.torch._specs import OrthogonalSpec, SparseSpec, Spec
from fastinit.torch._tensors import (
    FLOAT_DTYPES,
    Bounds,
    Shape,
    check_seed,
    is_dtensor,
    numpy_view,
)


def _np_dtype(dtype: torch.dtype) -> np.dtype[Any]:
    np_dtype: np.dtype[Any] = (FLOAT_DTYPES[dtype] if dtype in FLOAT_DTYPES
                               else torch.empty((), dtype=dtype).numpy().dtype)
    return np_dtype


def _as_torch(arr: npt.NDArray[Any], dtype: torch.dtype) -> torch.Tensor:
    """A torch tensor sharing `arr`'s memory (bfloat16 through an int16 view)."""
    if dtype == torch.bfloat16:
        return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(arr)


def _bounds(shape: Shape, index: tuple[int | slice, ...]) -> tuple[Bounds, Shape]:
    """(bounds, piece shape) of a flat_pieces index: ints and slices, trailing axes whole."""
    bounds: list[tuple[int, int]] = []
    for n, i in zip(shape, tuple(index) + (slice(None),) * (len(shape) - len(index))):
        if isinstance(i, slice):
            a, b, _ = i.indices(n)
            bounds.append((a, b))
        else:
            bounds.append((i, i + 1))
    return tuple(bounds), tuple(b - a for a, b in bounds)


class SpecSource(Source):
    """The values of a fastinit.torch Spec over a global shape, as a flat-range Source: each
    flat range is cut into rectangular pieces (fastinit._regions.flat_pieces), each filled by
    the spec from its global bounds, exactly as a shard is."""

    def __init__(self, spec: Spec, shape: Shape, torch_dtype: torch.dtype, seed: int) -> None:
        super().__init__(shape, _np_dtype(torch_dtype))
        self.spec, self.torch_dtype, self.seed = spec, torch_dtype, seed

    def fill_range(self, buf: npt.NDArray[Any], start: int) -> npt.NDArray[Any]:
        for off, index in flat_pieces(self.shape, start, start + buf.size):
            bounds, piece = _bounds(self.shape, index)
            n = int(np.prod(piece))
            arr = buf[off - start:off - start + n].reshape(piece)
            if self.spec.torch_native:
                with torch.no_grad():
                    self.spec.fill_torch(_as_torch(arr, self.torch_dtype), self.shape, bounds,
                                         self.seed)
            else:
                self.spec.fill_numpy(None, arr, self.shape, bounds, self.seed)
        return buf

    def token(self) -> NoReturn:  # pragma: no cover - not used by the writers
        raise ValueError("a torch spec source cannot be distributed")


class PaddingSource(Source):
    """`inner` with rows `rows` zeroed (Embedding padding_idx rows, as materialize zeroes)."""

    def __init__(self, inner: Source, rows: list[int]) -> None:
        super().__init__(inner.shape, inner.dtype)
        self.inner, self.in_memory = inner, inner.in_memory
        cols = self.size // self.shape[0] if self.shape[0] else 0
        self.ranges = [(row * cols, (row + 1) * cols) for row in rows]

    def fill_range(self, buf: npt.NDArray[Any], start: int) -> npt.NDArray[Any]:
        self.inner.fill_range(buf, start)
        for lo, hi in self.ranges:
            a, b = max(lo, start), min(hi, start + buf.size)
            if b > a:
                buf[a - start:b - start] = 0
        return buf

    def token(self) -> NoReturn:  # pragma: no cover
        raise ValueError("not distributable")


def _whole(fill: Callable[[torch.Tensor], object], shape: Shape,
           torch_dtype: torch.dtype) -> ArraySource:
    """An in-memory Source computed on first use by `fill(cpu_tensor)`."""
    def compute() -> npt.NDArray[Any]:
        t = torch.empty(shape, dtype=torch_dtype, device="cpu")
        with torch.no_grad():
            fill(t)
        return numpy_view(t)
    return ArraySource(compute, shape, _np_dtype(torch_dtype))


def save_safetensors(module: nn.Module, path: str | os.PathLike[str], seed: int,
                     rules: Mapping[str | re.Pattern[str], object] | None = None, *,
                     metadata: Mapping[str, str] | None = None,
                     max_shard_size: int | str | None = None,
                     shards: Iterable[int] | None = None, index: bool | None = None,
                     progress: bool = False,
                     force: bool = False, fsync: bool = False,
                     chunk_bytes: int | None = None) -> list[str]:
    """Write the seed checkpoint of `module` (typically built on the meta device) to safetensors.

    ``model.load_state_dict(safetensors.torch.load_file(path), strict=False)`` on the same
    architecture then gives weights bit-identical to ``fastinit.torch.materialize(model, seed,
    rules)``; nothing is allocated but the writer's chunk buffers (~128 MiB), whatever the model
    size.  Same rules, defaults, per-name seeds and padding rows as `materialize`.

    What is written: the keys of ``module.state_dict()`` (non-persistent buffers are not in it).
    Tied weights (one tensor under several names, e.g. ``lm_head.weight`` and
    ``transformer.wte.weight``) are stored once, under their first state-dict name, as
    transformers' ``save_pretrained`` does: load with ``strict=False`` (the other names are the
    missing keys) or ``assign=True`` into a tied model, whose tie fills the rest.

    Tensors with storage that no rule covers are written with their current values.
    Orthogonal and sparse_ rules, and callable rules ``fn(tensor, seed)``, are computed whole
    in memory (one tensor at a time); every other rule streams.

    Args:
        module: The nn.Module.
        path: ``model.safetensors`` (or the stem of the shards, see
            `fastinit.save_safetensors`).
        seed: The model seed (int >= 0).
        rules: As `materialize`'s.
        metadata: The header's ``__metadata__``; default ``{"format": "pt"}`` (what
            ``safetensors.torch.save_file`` callers such as transformers write).
        max_shard_size, shards, index, progress, force, fsync, chunk_bytes: as
            `fastinit.save_safetensors`.

    Returns:
        The paths written.
    """
    seed = check_seed(seed)
    matchers = _matchers(rules)
    entries = _collect(module)
    state = module.state_dict(keep_vars=True)

    defaults = module_defaults(module)

    tensors: dict[str, tuple[torch.Tensor, AnyRule | None, int, _Entry | None]] = {}
    seen: set[int] = set()
    uncovered: list[_Entry | str] = []
    for key, t in state.items():
        if id(t) in seen:
            continue   # a tied alias: stored once, under its first name
        seen.add(id(t))
        e = entries.get(id(t))
        names = e.names if e is not None else [key]
        if _is_lazy(t):
            raise ValueError(f"{key!r} is an uninitialized lazy parameter: run a forward pass "
                             "first.")
        if is_dtensor(t):
            raise ValueError(f"{key!r} is a DTensor: save_safetensors writes whole tensors; "
                             "build the model unsharded on the meta device.")
        r = rule_for(names, matchers, defaults)
        if r is None and t.is_meta:
            uncovered.append(e if e is not None else key)
            continue
        tensors[key] = (t, r, fastinit.seed_for_name(seed, names[0]), e)
    if uncovered:
        raise uncovered_error("save_safetensors", module, uncovered, "",
                              "Give them rules (as for materialize).")

    sources: dict[str, Source] = {}
    for key, (t, r, s, e) in tensors.items():
        shape, dtype = tuple(t.shape), t.dtype
        src: Source
        if r is None:   # has storage, no rule: its current values, as materialize keeps them
            src = ArraySource(functools.partial(_current_values, t), shape, _np_dtype(dtype))
        elif isinstance(r, CallableRule):
            src = _whole(functools.partial(_call_rule, r.fn, s), shape, dtype)
        else:
            try:
                spec = r.spec(shape, dtype)
            except Exception as exc:
                if hasattr(exc, "add_note"):
                    exc.add_note(f"(save_safetensors: the rule {r!r} for {key!r}, shape "
                                 f"{shape}, dtype {dtype})")
                raise
            if spec is None:   # torch's no-op on a zero-element tensor
                src = ArraySource(functools.partial(np.empty, shape, _np_dtype(dtype)), shape,
                                  _np_dtype(dtype))
            elif isinstance(spec, (OrthogonalSpec, SparseSpec)):
                # every piece would recompute the whole matrix (or its columns' keys)
                src = _whole(functools.partial(_fill_whole, spec, s), shape, dtype)
            else:
                src = SpecSource(spec, shape, dtype, s)
        rows = padding_rows(e) if r is not None and e is not None else []   # as materialize
        if rows:
            src = PaddingSource(src, rows)
        sources[key] = src
    return _save(path, sources, metadata={"format": "pt"} if metadata is None else metadata,
                 max_shard_size=max_shard_size, shards=shards, index=index, progress=progress,
                 force=force, fsync=fsync,
                 chunk_bytes=DEFAULT_CHUNK_BYTES if chunk_bytes is None else chunk_bytes)


def _current_values(t: torch.Tensor) -> npt.NDArray[Any]:
    return numpy_view(t.detach().cpu().contiguous())


def _call_rule(fn: Callable[[torch.Tensor, int], object], seed: int, x: torch.Tensor) -> None:
    fn(x, seed)


def _fill_whole(spec: Spec, seed: int, x: torch.Tensor) -> None:
    spec.fill_numpy(x, numpy_view(x), tuple(x.shape), tuple((0, n) for n in x.shape), seed)

