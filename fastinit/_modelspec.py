"""Model specs: a whole model's initial weights described in a small JSON file.

    {
      "seed": 0,
      "dtype": "bfloat16",                      (optional: the default dtype, float32 if absent)
      "metadata": {"format": "pt"},             (optional: the safetensors __metadata__)
      "tensors": {
        "wte.weight": {"shape": [50257, 2048], "initializer": {"torch": "normal_", "std": 0.02}},
        "h.0.ln_1.weight": {"shape": [2048], "initializer": "ones"},
        "h.0.attn.c_attn.weight": {"shape": [2048, 6144], "dtype": "float32",
                                   "initializer": {"class_name": "GlorotUniform", "config": {}}}
      }
    }

An initializer is a Keras name (``"glorot_uniform"``), a Keras config dict (``{"class_name":
..., "config": {...}}``), or a torch.nn.init-style rule (``{"torch": "kaiming_uniform_", "a":
2.236}``, the arguments of the torch function by keyword), which gives the values
`fastinit.torch.materialize` gives for ``rule("kaiming_uniform_", a=2.236)`` without importing
torch (fastinit._torch_rules).

Each tensor's stream is keyed by ``fastinit.seed_for_name(seed, name)`` (design notes,
section 7): its values depend on the model seed, its name, shape, dtype and initializer only, so
adding, removing or reordering other tensors changes none of its bytes.  A seed inside a Keras
config is refused: it would silently give every tensor the same stream.

Two example specs ship in fastinit/specs/: embedding_table.json and gpt_1p3b.json.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from fastinit._names import seed_for_name
from fastinit._regions import ArraySource, Source
from fastinit._registry import resolve_initializer
from fastinit import _torch_rules as tr
from fastinit._validation import check_shape, resolve_dtype
from fastinit.initializers import Constant, Identity, Orthogonal, source_of

__all__ = ["ModelSpec", "load_spec", "example_spec_path", "EXAMPLE_SPECS"]

EXAMPLE_SPECS = ("embedding_table", "gpt_1p3b")

_TOP_KEYS = {"seed", "dtype", "metadata", "tensors"}
_TENSOR_KEYS = {"shape", "dtype", "initializer"}


class ModelSpec:
    """A parsed, validated model spec: `seed`, `metadata` and, per tensor name (in the file's
    order, which decides the sharding), a Source keyed by (seed, name)."""

    def __init__(self, seed: int, tensors: dict[str, Source],
                 metadata: dict[str, str] | None, described: dict[str, str]) -> None:
        self.seed = seed
        self.tensors = tensors
        self.metadata = metadata
        #: name -> a short text of its initializer (for summaries)
        self.described = described

    @property
    def nbytes(self) -> int:
        return sum(s.size * s.dtype.itemsize for s in self.tensors.values())


def example_spec_path(name: str) -> str:
    """The path of a spec shipped with fastinit: "embedding_table" or "gpt_1p3b"."""
    if name not in EXAMPLE_SPECS:
        raise ValueError(f"No example spec {name!r}; there are {list(EXAMPLE_SPECS)}")
    return str(resources.files("fastinit") / "specs" / f"{name}.json")


def load_spec(spec: str | os.PathLike[str] | Mapping[str, Any]) -> ModelSpec:
    """Parse and validate a model spec: a JSON file's path, the name of a spec shipped with
    fastinit ("embedding_table", "gpt_1p3b"; a file of that name wins), or the decoded dict.

    Every tensor is checked (names, shapes, dtypes, initializers and their arguments) before
    anything is generated; errors are ValueError or TypeError naming the tensor.
    """
    if isinstance(spec, Mapping):
        where = "the spec"
        data: Any = spec
    else:
        where = os.fspath(spec)
        if where in EXAMPLE_SPECS and not os.path.exists(where):
            where = example_spec_path(where)
        with open(where, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where} is not valid JSON: {e}") from None
    if not isinstance(data, Mapping):
        raise TypeError(f"{where}: a spec is a JSON object with 'seed' and 'tensors'")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; a spec has "
                         f"{sorted(_TOP_KEYS)}")
    seed = data.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{where}: 'seed' must be an int >= 0. Received: seed={seed!r}")
    default_dtype = data.get("dtype", "float32")
    metadata = data.get("metadata")
    if metadata is not None and not (isinstance(metadata, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError(f"{where}: 'metadata' must map str to str. Received: {metadata!r}")
    tensors = data.get("tensors")
    if not isinstance(tensors, Mapping) or not tensors:
        raise ValueError(f"{where}: 'tensors' must be a non-empty object of name -> "
                         "{shape, dtype, initializer}")
    sources: dict[str, Source] = {}
    described: dict[str, str] = {}
    for name, entry in tensors.items():
        try:
            sources[name], described[name] = _tensor(int(seed), name, entry, default_dtype)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{where}: tensor {name!r}: {e}") from None
    return ModelSpec(int(seed), sources, dict(metadata) if metadata is not None else None,
                     described)


def _tensor(seed: int, name: str, entry: Any, default_dtype: Any) -> tuple[Source, str]:
    if not isinstance(entry, Mapping):
        raise TypeError(f"expected an object with shape, dtype and initializer, got {entry!r}")
    unknown = set(entry) - _TENSOR_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; a tensor has {sorted(_TENSOR_KEYS)}")
    if "shape" not in entry or "initializer" not in entry:
        raise ValueError("needs 'shape' and 'initializer'")
    shape = check_shape(entry["shape"])
    init = entry["initializer"]
    dtype = resolve_dtype(entry.get("dtype", default_dtype), kind="any")
    s = seed_for_name(seed, name)
    if isinstance(init, Mapping) and "torch" in init:
        kwargs = {k: v for k, v in init.items() if k != "torch"}
        fn = init["torch"]
        if not isinstance(fn, str):
            raise TypeError(f"'torch' names a torch.nn.init function. Received: {fn!r}")
        if "seed" in kwargs or "generator" in kwargs:
            raise ValueError("a rule's seed comes from the spec's seed and the tensor's name")
        args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        return _torch_source(fn, kwargs, shape, dtype, s), f"torch {fn}({args.lstrip(', ')})"
    if isinstance(init, Mapping):
        cfg = init.get("config")
        if isinstance(cfg, Mapping) and cfg.get("seed") is not None:
            raise ValueError("a seed inside an initializer's config would give every tensor the "
                             "same stream; the seed comes from the spec's seed and the name")
        label = str(init.get("class_name"))
    elif isinstance(init, str):
        label = init
    else:
        raise TypeError("an initializer is a Keras name, a Keras config dict or a torch rule "
                        f'{{"torch": "normal_", "std": 0.02}}. Received: {init!r}')
    instance = resolve_initializer(dict(init) if isinstance(init, Mapping) else init, s)
    # An orthogonal matrix needs all of it at once; a spec that asks for one accepts that.
    return source_of(instance, shape, dtype, allow_in_memory=True), label



def _torch_source(name: str, kwargs: dict[str, Any], shape: tuple[int, ...], dtype: np.dtype[Any],
                  seed: int) -> Source:
    """The Source of torch-style rule `name` with `kwargs` for the tensor's `seed`: the values
    `fastinit.torch.materialize` gives under ``rule(name, **kwargs)`` (fastinit._torch_rules
    validates and chooses them).  orthogonal_ computes the whole (shape[0], rest) matrix in
    memory; dirac_ and sparse_ need fastinit.torch."""
    try:
        values = tr.rule_values(name, tr._bind(name, dict(kwargs)), shape, dtype.name,
                             stacklevel=4)   # warnings point at load_spec's caller
    except (ValueError, TypeError) as e:   # torch's messages: say which function
        raise type(e)(f"{name}: {e}") from None
    if isinstance(values, tr.ConstantValues):
        return Constant(values.value).source(shape, dtype)
    if isinstance(values, tr.NoValues):   # no elements: nothing to draw
        return Constant(0).source(shape, dtype)
    if isinstance(values, tr.RandomValues):
        return values.make(seed).source(shape, dtype)
    if isinstance(values, tr.EyeValues):
        return Identity(1.0).source(shape, dtype)
    if isinstance(values, tr.OrthogonalValues):
        rows = shape[0]
        init = Orthogonal(values.gain, seed=seed)

        def compute() -> npt.NDArray[Any]:
            return init((rows, math.prod(shape) // rows), dtype).reshape(shape)
        return ArraySource(compute, shape, dtype)
    assert isinstance(values, (tr.DiracValues, tr.SparseValues))
    raise ValueError(f"{name} is not available without torch (fastinit.torch.materialize or "
                     "fastinit.torch.save_safetensors have it)")
