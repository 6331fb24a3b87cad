"""save_safetensors(meta_model, path, seed): a model's seed checkpoint, never materialized.

Every tensor of the state dict is streamed into the file chunk by chunk from the rule
`fastinit.torch.materialize` would apply to it (same rules, same defaults, same per-name seeds,
the same Spec objects filling each piece), so loading the file gives the bits materialize gives,
in memory bounded by the writer's two chunk buffers instead of the model.
"""

import numpy as np
import torch

import fastinit
from fastinit._regions import ArraySource, Source, flat_pieces
from fastinit._safetensors import save_safetensors as _save
from fastinit.torch._materialize import (
    CallableRule,
    _collect,
    _describe,
    _is_lazy,
    _join,
    _matchers,
    default_rules,
)
from fastinit.torch._specs import OrthogonalSpec, SparseSpec
from fastinit.torch._tensors import FLOAT_DTYPES, check_seed, is_dtensor, numpy_view


def _np_dtype(dtype):
    if dtype in FLOAT_DTYPES:
        return FLOAT_DTYPES[dtype]
    return torch.empty((), dtype=dtype).numpy().dtype


def _as_torch(arr, dtype):
    """A torch tensor sharing `arr`'s memory (bfloat16 through an int16 view)."""
    if dtype == torch.bfloat16:
        return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(arr)


def _bounds(shape, index):
    """(bounds, piece shape) of a flat_pieces index: ints and slices, trailing axes whole."""
    bounds = []
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

    def __init__(self, spec, shape, torch_dtype, seed):
        super().__init__(shape, _np_dtype(torch_dtype))
        self.spec, self.torch_dtype, self.seed = spec, torch_dtype, seed

    def fill_range(self, buf, start):
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

    def token(self):  # pragma: no cover - not used by the writers
        raise ValueError("a torch spec source cannot be distributed")


class PaddingSource(Source):
    """`inner` with row `row` zeroed (an Embedding's padding_idx, as materialize does)."""

    def __init__(self, inner, row):
        super().__init__(inner.shape, inner.dtype)
        self.inner, self.in_memory = inner, inner.in_memory
        cols = self.size // self.shape[0] if self.shape[0] else 0
        self.lo, self.hi = row * cols, (row + 1) * cols

    def fill_range(self, buf, start):
        self.inner.fill_range(buf, start)
        a, b = max(self.lo, start), min(self.hi, start + buf.size)
        if b > a:
            buf[a - start:b - start] = 0
        return buf

    def token(self):  # pragma: no cover
        raise ValueError("not distributable")


def _whole(fill, shape, torch_dtype):
    """An in-memory Source computed on first use by `fill(cpu_tensor)`."""
    def compute():
        t = torch.empty(shape, dtype=torch_dtype, device="cpu")
        with torch.no_grad():
            fill(t)
        return numpy_view(t)
    return ArraySource(compute, shape, _np_dtype(torch_dtype))


def save_safetensors(module, path, seed, rules=None, *, metadata=None, max_shard_size=None,
                     shards=None, index=None, progress=False, force=False, fsync=False,
                     chunk_bytes=None):
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

    defaults = {}
    for mod_name, mod in module.named_modules():
        own, desc = default_rules(mod)
        for local, r in own.items():
            defaults.setdefault(_join(mod_name, local), r)
        for rel, r in desc.items():
            defaults.setdefault(_join(mod_name, rel), r)

    tensors, seen, uncovered = {}, set(), []
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
        r = next((r for match, r, _ in matchers if any(match(n) for n in names)), None)
        if r is None:
            r = next((defaults[n] for n in names if n in defaults), None)
        if r is None and t.is_meta:
            uncovered.append(e if e is not None else key)
            continue
        tensors[key] = (t, r, fastinit.seed_for_name(seed, names[0]), e)
    if uncovered:
        listed = ", ".join(_describe(e, module) if not isinstance(e, str) else repr(e)
                           for e in uncovered)
        raise ValueError(
            f"save_safetensors: no rule covers {len(uncovered)} tensor(s) of "
            f"{type(module).__name__}: {listed}. Give them rules (as for materialize)."
        )

    sources = {}
    for key, (t, r, s, e) in tensors.items():
        shape, dtype = tuple(t.shape), t.dtype
        if r is None:   # has storage, no rule: its current values, as materialize keeps them
            src = ArraySource(lambda t=t: numpy_view(t.detach().cpu().contiguous()), shape,
                              _np_dtype(dtype))
        elif isinstance(r, CallableRule):
            src = _whole(lambda x, fn=r.fn, s=s: fn(x, s), shape, dtype)
        else:
            try:
                spec = r.spec(shape, dtype)
            except Exception as exc:
                if hasattr(exc, "add_note"):
                    exc.add_note(f"(save_safetensors: the rule {r!r} for {key!r}, shape "
                                 f"{shape}, dtype {dtype})")
                raise
            if spec is None:   # torch's no-op on a zero-element tensor
                src = ArraySource(lambda shape=shape, dtype=dtype: np.empty(
                    shape, _np_dtype(dtype)), shape, _np_dtype(dtype))
            elif isinstance(spec, (OrthogonalSpec, SparseSpec)):
                # every piece would recompute the whole matrix (or its columns' keys)
                src = _whole(lambda x, spec=spec, s=s: spec.fill_numpy(
                    x, numpy_view(x), tuple(x.shape), tuple((0, n) for n in x.shape), s),
                    shape, dtype)
            else:
                src = SpecSource(spec, shape, dtype, s)
        row = _padding_row(e, t) if r is not None else None   # as materialize
        if row is not None:
            src = PaddingSource(src, row)
        sources[key] = src
    kw = {} if chunk_bytes is None else {"chunk_bytes": chunk_bytes}
    return _save(path, sources, metadata={"format": "pt"} if metadata is None else metadata,
                 max_shard_size=max_shard_size, shards=shards, index=index, progress=progress,
                 force=force, fsync=fsync, **kw)


def _padding_row(e, t):
    if e is None or t.dim() < 1 or t.shape[0] == 0:
        return None
    for mod, local in e.owners:
        idx = getattr(mod, "padding_idx", None)
        if local == "weight" and idx is not None and isinstance(
                mod, (torch.nn.Embedding, torch.nn.EmbeddingBag)):
            return idx % t.shape[0]
    return None
