"""materialize(): a meta-device model -> real CPU tensors, each initialized from (seed, its name);
fill_shard(): any piece of a tensor from its global offsets.

Each tensor's stream is keyed by ``fastinit.seed_for_name(seed, qualified_name)``, so its values
depend on the model seed, its name, its shape, dtype and rule, and on nothing else: adding,
removing or reordering other modules changes no other tensor, and a shard computed alone equals
the same slice of the whole.
"""

import concurrent.futures
import fnmatch
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import numpy as np
import torch
from torch import nn

import fastinit
from fastinit.initializers import Initializer, RandomInitializer
from fastinit._torch_rules import _bind, calculate_fan_in_and_fan_out
from fastinit.torch._functions import FUNCTIONS, build_spec
from fastinit.torch._specs import InitializerSpec, Spec
from fastinit.torch._tensors import (
    Shape,
    check_seed,
    dtensor_piece,
    fill_tensor,
    is_dtensor,
    local_tensor,
)

# ---- rules ----------------------------------------------------------------------------------


class Rule:
    """A torch-style init function with keyword arguments, e.g. ``rule("normal_", std=0.02)``.

    Applied to a tensor (or a shard) with the fans and parameters of the tensor's *global*
    shape; the seed comes from the caller (materialize: the tensor's name).
    """

    def __init__(self, fn: str | Callable[..., Any], /, **kwargs: Any) -> None:
        name = _function_name(fn)
        if name is None and isinstance(fn, str):
            raise ValueError(
                f"Unknown torch.nn.init function {fn!r}; expected one of {sorted(FUNCTIONS)}"
            )
        if name is None:
            raise TypeError(
                "A Rule takes the name of a torch.nn.init function (e.g. 'trunc_normal_') or "
                f"the function itself. Received: {fn!r}"
            )
        kwargs.pop("generator", None)
        if "seed" in kwargs:
            raise TypeError("A Rule's seed comes from the tensor's name; do not pass `seed`.")
        _bind(name, kwargs)
        self.name, self.kwargs = name, dict(kwargs)

    def spec(self, shape: Shape, dtype: torch.dtype,
             allow_in_memory: bool = True) -> Spec | None:
        return build_spec(self.name, tuple(shape), dtype, self.kwargs, allow_in_memory)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rule) and (self.name, self.kwargs) == (other.name, other.kwargs)

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"rule({self.name!r}{args})"


def rule(fn: str | Callable[..., Any], /, **kwargs: Any) -> Rule:
    """A torch-style rule for `materialize` and `fill_shard`: ``rule("trunc_normal_", std=0.02,
    a=-0.04, b=0.04)``, ``rule(torch.nn.init.kaiming_uniform_, a=math.sqrt(5))``."""
    return Rule(fn, **kwargs)


class InitializerRule:
    """A fastinit initializer applied to the tensor's shape as-is (Keras's fan rule: fan_in =
    shape[-2] * receptive field; pass ``input_axes``/``output_axes`` to VarianceScaling for torch
    layouts).  Random initializers are re-seeded per tensor (their own seed is ignored)."""

    def __init__(self, initializer: Initializer) -> None:
        self.initializer = initializer

    def spec(self, shape: Shape, dtype: torch.dtype,
             allow_in_memory: bool = True) -> Spec:
        template = self.initializer
        random = isinstance(template, RandomInitializer)

        def make(seed: int) -> Initializer:
            if not random:
                return template
            init = template.clone()
            assert isinstance(init, RandomInitializer)
            init.seed = seed
            return init

        return InitializerSpec(make, random=random, allow_in_memory=allow_in_memory)

    def __repr__(self) -> str:
        return repr(self.initializer)


class CallableRule:
    """Any other callable, called as ``fn(tensor, seed)`` under ``torch.no_grad()``: it must
    fill `tensor` in place (e.g. recompute a rotary cache).  `seed` is the tensor's int seed."""

    def __init__(self, fn: Callable[[torch.Tensor, int], object]) -> None:
        self.fn = fn

    def __repr__(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))


AnyRule = Union[Rule, InitializerRule, CallableRule]


def _function_name(fn: object) -> str | None:
    """The torch.nn.init name of `fn`: a str, one of our functions or torch's originals."""
    if isinstance(fn, str):
        return fn if fn in FUNCTIONS else None
    from fastinit.torch._patch import ORIGINALS, ROUTED
    for name in FUNCTIONS:
        if fn is FUNCTIONS[name] or fn is ORIGINALS[name] or fn is ROUTED[name]:
            return name
    return None


def as_rule(value: object, *, callables: bool = True) -> "AnyRule":
    """Normalize a user rule value to a Rule, InitializerRule or CallableRule."""
    if isinstance(value, (Rule, InitializerRule, CallableRule)):
        return value
    if isinstance(value, Initializer):
        return InitializerRule(value)
    if isinstance(value, str):
        return Rule(value)
    if isinstance(value, functools.partial) and _function_name(value.func) is not None:
        if value.args:
            raise TypeError(
                f"Pass a partial's arguments by keyword (the tensor comes first). Received: "
                f"{value!r}"
            )
        return Rule(value.func, **value.keywords)
    name = _function_name(value)
    if name is not None:
        return Rule(name)
    if isinstance(value, type) and issubclass(value, Initializer):
        return InitializerRule(value())
    if callables and callable(value):
        return CallableRule(value)
    raise TypeError(
        "A rule is a torch.nn.init function name or function (with functools.partial or "
        "fastinit.torch.rule for arguments), a fastinit initializer"
        + (", or a callable fn(tensor, seed)" if callables else "")
        + f". Received: {value!r}"
    )


#: (matches(name), rule, the user's pattern)
Matcher = tuple[Callable[[str], object], AnyRule, object]


def _matchers(rules: Mapping[str | re.Pattern[str], object] | None) -> list[Matcher]:
    out: list[Matcher] = []
    match: Callable[[str], object]
    for pattern, value in (rules or {}).items():
        if isinstance(pattern, re.Pattern):
            match = pattern.fullmatch
        elif isinstance(pattern, str):
            match = functools.partial(lambda p, name: fnmatch.fnmatchcase(name, p), pattern)
        else:
            raise TypeError(
                "Rule patterns are fnmatch strings ('*.attn.*.weight') or compiled regular "
                f"expressions (re.compile(...), matched in full). Received: {pattern!r}"
            )
        out.append((match, as_rule(value), pattern))
    return out


# ---- torch's module defaults ----------------------------------------------------------------


def _bias_bound(weight: torch.Tensor) -> float:
    fan_in, _ = calculate_fan_in_and_fan_out(tuple(weight.shape))
    return 1 / math.sqrt(fan_in) if fan_in > 0 else 0


def _class(path: str) -> Any:
    mod, _, name = path.rpartition(".")
    try:
        return getattr(__import__(mod, fromlist=[name]), name)
    except (ImportError, AttributeError):  # pragma: no cover - a torch without it
        return ()


_CONV = _class("torch.nn.modules.conv._ConvNd")
_NORM_BASE = _class("torch.nn.modules.batchnorm._NormBase")
_RMS_NORM = getattr(nn, "RMSNorm", ())


def default_rules(mod: nn.Module) -> tuple[dict[str, Rule], dict[str, Rule]]:
    """torch's own initialization of `mod` as rules: (own {local name: rule}, descendants'
    {relative name: rule} that `mod`'s reset overrides).  Mirrors each class's
    reset_parameters / _reset_parameters in torch 2.13."""
    own: dict[str, Rule] = {}
    desc: dict[str, Rule] = {}
    params = dict(mod.named_parameters(recurse=False))
    if isinstance(mod, (nn.Linear, _CONV)) and "weight" in params:
        own["weight"] = Rule("kaiming_uniform_", a=math.sqrt(5))
        if params.get("bias") is not None:
            b = _bias_bound(params["weight"])
            own["bias"] = Rule("uniform_", a=-b, b=b)
    elif isinstance(mod, nn.Bilinear):
        b = 1 / math.sqrt(params["weight"].size(1))
        own["weight"] = Rule("uniform_", a=-b, b=b)
        own["bias"] = Rule("uniform_", a=-b, b=b)
    elif isinstance(mod, (nn.Embedding, nn.EmbeddingBag)):
        own["weight"] = Rule("normal_")              # the padding row is zeroed afterwards
    elif isinstance(mod, _NORM_BASE):
        own.update(weight=Rule("ones_"), bias=Rule("zeros_"), running_mean=Rule("zeros_"),
                   running_var=Rule("ones_"), num_batches_tracked=Rule("zeros_"))
    elif isinstance(mod, (nn.LayerNorm, nn.GroupNorm)):
        own.update(weight=Rule("ones_"), bias=Rule("zeros_"))
    elif isinstance(mod, _RMS_NORM):
        own["weight"] = Rule("ones_")
    elif isinstance(mod, nn.MultiheadAttention):
        for n in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            own[n] = Rule("xavier_uniform_")
        if params.get("in_proj_bias") is not None:
            own["in_proj_bias"] = Rule("zeros_")
            desc["out_proj.bias"] = Rule("zeros_")
        own["bias_k"] = own["bias_v"] = Rule("xavier_normal_")
    elif isinstance(mod, nn.Transformer):
        for n, p in mod.named_parameters():
            if p.dim() > 1:
                desc[n] = Rule("xavier_uniform_")
    elif isinstance(mod, nn.PReLU):
        own["weight"] = Rule("constant_", val=mod.init)
    elif isinstance(mod, (nn.RNNBase, nn.RNNCellBase)):
        stdv = 1.0 / math.sqrt(mod.hidden_size) if mod.hidden_size > 0 else 0
        for n in params:
            own[n] = Rule("uniform_", a=-stdv, b=stdv)
    return own, desc


# ---- materialize ----------------------------------------------------------------------------


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _Entry:
    __slots__ = ("tensor", "names", "owners", "kind", "rule", "spec")

    def __init__(self, tensor: torch.Tensor, name: str, kind: str) -> None:
        self.tensor, self.names, self.kind = tensor, [name], kind
        self.owners: list[tuple[nn.Module, str]] = []
        self.rule: AnyRule | None = None
        self.spec: Spec | None = None


def _collect(module: nn.Module) -> dict[int, _Entry]:
    """{id: _Entry} in named_parameters(), then named_buffers() order (duplicates removed; the
    first name is the canonical one), with every alias name and owning (module, attribute)."""
    entries: dict[int, _Entry] = {}
    for kind, named in (("parameter", module.named_parameters()),
                        ("buffer", module.named_buffers())):
        for name, t in named:
            if id(t) not in entries:
                entries[id(t)] = _Entry(t, name, kind)
    for mod_name, mod in module.named_modules(remove_duplicate=False):
        members = list(mod.named_parameters(recurse=False, remove_duplicate=False))
        members += list(mod.named_buffers(recurse=False, remove_duplicate=False))
        for local, t in members:
            e = entries.get(id(t))
            if e is None:
                continue
            qn = _join(mod_name, local)
            if qn not in e.names:
                e.names.append(qn)
            if (mod, local) not in [(m, n) for m, n in e.owners]:
                e.owners.append((mod, local))
    return entries


def _has_storage(t: torch.Tensor) -> bool:
    return not local_tensor(t).is_meta


def _is_lazy(t: torch.Tensor) -> bool:
    return isinstance(t, (nn.parameter.UninitializedParameter, nn.parameter.UninitializedBuffer))


def _describe(e: _Entry, module: nn.Module) -> str:
    kind = e.kind
    if e.kind == "buffer":
        mod, local = e.owners[0]
        if local in getattr(mod, "_non_persistent_buffers_set", ()):
            kind = "non-persistent buffer"
    alias = f", also {e.names[1:]}" if len(e.names) > 1 else ""
    return f"{e.names[0]!r} ({kind} {tuple(e.tensor.shape)}{alias})"


def module_defaults(module: nn.Module) -> dict[str, Rule]:
    """{qualified name: torch's default rule} over every submodule of `module` (`default_rules`);
    the first module to give a name its default wins (a parent's override comes first)."""
    defaults: dict[str, Rule] = {}
    for mod_name, mod in module.named_modules():
        own, desc = default_rules(mod)
        for local, r in own.items():
            defaults.setdefault(_join(mod_name, local), r)
        for rel, r in desc.items():
            defaults.setdefault(_join(mod_name, rel), r)
    return defaults


def rule_for(names: list[str], matchers: list[Matcher],
             defaults: Mapping[str, Rule]) -> AnyRule | None:
    """The rule of a tensor with `names` (first, canonical): the first matcher matching any of
    them, else the default of the first name that has one, else None."""
    r = next((r for match, r, _ in matchers if any(match(n) for n in names)), None)
    if r is None:
        r = next((defaults[n] for n in names if n in defaults), None)
    return r


def uncovered_error(who: str, module: nn.Module, uncovered: Sequence[_Entry | str], why: str,
                    advice: str) -> ValueError:
    """The error for tensors no rule covers, each named (a str: a state-dict key only)."""
    listed = ", ".join(repr(e) if isinstance(e, str) else _describe(e, module)
                       for e in uncovered)
    return ValueError(
        f"{who}: no rule covers {len(uncovered)} tensor(s) of {type(module).__name__}{why}: "
        f"{listed}. {advice}"
    )


def padding_rows(e: _Entry) -> list[int]:
    """The global rows of `e`'s tensor that torch zeroes: each owning Embedding's or
    EmbeddingBag's padding_idx on its weight (normalized, as torch does, to 0 <= row < rows)."""
    t = e.tensor
    if t.dim() < 1 or t.shape[0] == 0:
        return []
    rows: list[int] = []
    for mod, local in e.owners:
        idx = getattr(mod, "padding_idx", None)
        if local == "weight" and idx is not None and isinstance(
                mod, (nn.Embedding, nn.EmbeddingBag)) and idx % t.shape[0] not in rows:
            rows.append(idx % t.shape[0])
    return rows


def materialize(module: nn.Module, seed: int,
                rules: Mapping[str | re.Pattern[str], object] | None = None, *,
                strict: bool = True) -> list[str]:
    """Give a meta-device model real CPU storage and initialize every tensor by name.

    Build the model on the meta device (``with torch.device("meta"): model = Model()``), then
    ``materialize(model, seed=0)``: every parameter and buffer gets CPU storage (its dtype and
    memory format kept; ``requires_grad`` kept) and is filled from its own stream, keyed by
    ``fastinit.seed_for_name(seed, qualified_name)``.

    Which rule fills a tensor:
      1. the first entry of `rules` whose pattern matches one of its names;
      2. else its module's torch default: Linear / Conv* / ConvTranspose*: kaiming_uniform_(a=
         sqrt(5)) and bias U(+-1/sqrt(fan_in)); Bilinear; Embedding / EmbeddingBag: N(0, 1);
         LayerNorm / GroupNorm / RMSNorm / BatchNorm* / InstanceNorm*: weight 1, bias 0, running
         stats 0 and 1; MultiheadAttention: in_proj xavier_uniform_, in_proj_bias and
         out_proj.bias 0, bias_k / bias_v xavier_normal_; Transformer: xavier_uniform_ on every
         matrix; PReLU; RNN / LSTM / GRU (and cells): U(+-1/sqrt(hidden_size));
      3. else none: a tensor with storage (built on CPU in ``__init__``) is kept as it is, and a
         meta tensor is *uncovered*.
    Embedding and EmbeddingBag rows at ``padding_idx`` are zeroed after any rule.

    Args:
        module: An nn.Module, typically built on the meta device.  Tensors that already have
            storage are re-initialized in place when a rule covers them (DTensors too: each
            rank fills its local shard from its global offsets).
        seed: The model seed, an int >= 0.
        rules: Optional dict {pattern: rule}.  A pattern is an fnmatch string matched against
            the qualified name (``"*.attn.*.weight"``, ``"lm_head.weight"``) or a compiled
            ``re.Pattern`` (full match).  A rule is a torch.nn.init function name or function
            (``"zeros_"``, ``torch.nn.init.orthogonal_``), one with arguments
            (``fastinit.torch.rule("trunc_normal_", std=0.02)`` or ``functools.partial``), a
            fastinit initializer (applied to the shape as-is, with Keras's fans; re-seeded per
            tensor), or any callable ``fn(tensor, seed)`` that fills the tensor in place.
        strict: With True (default), uncovered meta tensors raise a ValueError naming them,
            before anything is allocated.  With False they are left on the meta device (never
            as uninitialized memory) and their names are returned.

    Returns:
        The list of qualified names left on the meta device (empty when strict).

    The tensors are filled by a pool of ``fastinit.get_num_threads()`` threads, one tensor per
    thread at a time, largest first (a tensor larger than its share is filled alone with every
    thread); callable rules run in the calling thread.  Values never depend on this.

    Tied weights (one Parameter under several names, e.g. an embedding and an lm_head) are
    allocated once, kept tied in every owning module, and initialized once: under their first
    name in ``named_parameters()`` order, with the first matching rule over all their names,
    else the default of that first name's module.  (``module.to_empty`` unties them.)

    Non-persistent buffers computed in ``__init__`` (rotary caches, position ids) hold no values
    on the meta device: they are reported as uncovered unless a rule recomputes them
    (``{"*.inv_freq": lambda t, seed: t.copy_(...)}``), or unless ``__init__`` builds them on
    CPU explicitly (``device="cpu"``), in which case they are kept.
    """
    seed = check_seed(seed)
    matchers = _matchers(rules)
    entries = list(_collect(module).values())
    for e in entries:
        if _is_lazy(e.tensor):
            raise ValueError(
                f"{e.names[0]!r} is an uninitialized lazy parameter: run a forward pass (or "
                "give the lazy module its input shape) before materializing."
            )

    defaults = module_defaults(module)
    uncovered = []
    for e in entries:
        e.rule = rule_for(e.names, matchers, defaults)
        if e.rule is None and not _has_storage(e.tensor):
            uncovered.append(e)
    if uncovered and strict:
        raise uncovered_error(
            "materialize", module, uncovered,
            ", which would be left as uninitialized memory",
            "Give them rules (rules={pattern: 'zeros_' | fastinit.torch.rule('normal_', "
            "std=0.02) | a fastinit initializer | fn(tensor, seed)}), build them with values on "
            "CPU in __init__ (materialize keeps tensors that have storage), or pass "
            "strict=False to leave them on the meta device and get their names back."
        )

    # every check and spec before any allocation: errors come before work
    for e in entries:
        if e.rule is not None and is_dtensor(e.tensor) and local_tensor(e.tensor).is_meta:
            raise ValueError(
                f"{e.names[0]!r} is a meta DTensor: call module.to_empty(device=...) after "
                "sharding, then materialize fills each rank's local shards."
            )
    for e in entries:
        if e.rule is None or isinstance(e.rule, CallableRule):
            continue
        shape = tuple(e.tensor.shape)
        try:
            e.spec = e.rule.spec(shape, e.tensor.dtype)
        except Exception as exc:
            if hasattr(exc, "add_note"):
                exc.add_note(f"(materialize: the rule {e.rule!r} for {e.names[0]!r}, shape "
                             f"{shape}, dtype {e.tensor.dtype})")
            raise

    for e in entries:
        if e.rule is None:
            continue
        t = e.tensor
        if t.is_meta:
            new = torch.empty_like(t, device="cpu")
            if isinstance(t, nn.Parameter):
                new = nn.Parameter(new, requires_grad=t.requires_grad)
            for mod, local in e.owners:
                setattr(mod, local, new)
            e.tensor = new
    tasks: list[tuple[int, Callable[[], None]]] = []
    for e in entries:
        if e.rule is None:
            continue
        s = fastinit.seed_for_name(seed, e.names[0])
        if isinstance(e.rule, CallableRule):   # user code: in this thread, in model order
            with torch.no_grad():
                e.rule.fn(e.tensor, s)
            _zero_padding(e)
        elif e.spec is not None:
            tasks.append((e.tensor.numel() * e.tensor.element_size(),
                          functools.partial(_fill_entry, e, s)))
        else:
            _zero_padding(e)
    _run_tasks(tasks, fastinit.get_num_threads())
    return [e.names[0] for e in uncovered]


def _fill_entry(e: _Entry, seed: int) -> None:
    assert e.spec is not None
    fill_tensor(e.tensor, e.spec, seed)
    _zero_padding(e)


def _zero_padding(e: _Entry) -> None:
    for row in padding_rows(e):
        _zero_row(e.tensor, row)


def _run_tasks(tasks: list[tuple[int, Callable[[], None]]], n_threads: int) -> None:
    """Run fills [(bytes, fn)] on `n_threads` threads, fastest first-to-last.

    A model is many tensors, most of them small: one OpenMP team per tensor pays a wake-up per
    tensor (milliseconds each on a busy machine).  So tensors are spread over a pool of
    `n_threads` Python threads, each filling one tensor at a time on one thread (the kernels
    release the GIL), largest first; a tensor larger than its fair share of the rest is filled
    first, alone, with all the threads.  Values never depend on this: each tensor's stream is
    keyed by its name.
    """
    tasks = sorted(tasks, key=lambda t: t[0], reverse=True)
    remaining = sum(size for size, _ in tasks)
    while tasks and (n_threads <= 1 or tasks[0][0] * n_threads >= remaining):
        size, fn = tasks.pop(0)
        fn()
        remaining -= size
    if not tasks:
        return

    def one_thread(fn: Callable[[], None]) -> None:
        with fastinit.num_threads(1):
            fn()

    with concurrent.futures.ThreadPoolExecutor(n_threads) as pool:
        futures = [pool.submit(one_thread, fn) for _, fn in tasks]
        for f in futures:
            f.result()


def _zero_row(t: torch.Tensor, row: int) -> None:
    """Zero global row `row` of `t` (of a DTensor: of the local shard, if it holds it)."""
    with torch.no_grad():
        if is_dtensor(t):
            local, _, offsets = dtensor_piece(t)
            r = row - offsets[0]
            if 0 <= r < local.shape[0]:
                local[r].zero_()
        else:
            t[row].zero_()


# ---- shards ---------------------------------------------------------------------------------


def fill_shard(tensor: Any, init_rule: object, global_shape: Shape | None = None,
               offsets: Shape | None = None, *, seed: int,
               allow_in_memory: bool = False) -> Any:
    """Fill a piece of a tensor from its global offsets, bit-identical to the same slice of
    the whole tensor filled at once.

    Args:
        tensor: The local piece: a torch tensor (any device, contiguous or not) or a numpy
            array, of the piece's shape; or a DTensor (then `global_shape` and `offsets` come
            from its mesh and placements, and its local shard is filled).
        init_rule: A torch.nn.init function name or function (``"kaiming_uniform_"``,
            ``torch.nn.init.trunc_normal_``), ``fastinit.torch.rule(name, **kwargs)`` or a
            functools.partial for arguments, or a fastinit initializer.  Fans and parameters
            come from `global_shape`, never from the piece.
        global_shape: The whole tensor's shape.
        offsets: The global index of the piece's first element, one int per axis.
        seed: The tensor's int seed (the same on every rank), e.g.
            ``fastinit.seed_for_name(model_seed, name)``.  Required.
        allow_in_memory: orthogonal_ (and fastinit's Orthogonal) need the whole matrix; they
            raise ValueError, stating its size, unless this is True.

    Returns:
        `tensor`.

    Row, column and block pieces cost memory proportional to the piece; column pieces are one
    native call per batch of rows.  sparse_'s zero rows need the keys of the piece's whole
    columns, a few MiB at a time.
    """
    seed = check_seed(seed)
    r = as_rule(init_rule, callables=False)
    assert not isinstance(r, CallableRule)
    if is_dtensor(tensor):
        if global_shape is not None or offsets is not None:
            raise TypeError("A DTensor knows its global shape and offsets: do not pass them.")
        gshape = tuple(tensor.shape)
        spec = r.spec(gshape, tensor.dtype, allow_in_memory)
        if spec is not None:
            fill_tensor(tensor, spec, seed)
        return tensor
    if global_shape is None or offsets is None:
        raise TypeError("fill_shard needs `global_shape` and `offsets` (or a DTensor).")
    target = tensor
    if isinstance(tensor, np.ndarray):
        if tensor.dtype == fastinit_bfloat16():
            target = torch.from_numpy(tensor.view(np.int16)).view(torch.bfloat16)
        else:
            target = torch.from_numpy(tensor)
    elif not isinstance(tensor, torch.Tensor):
        raise TypeError(
            f"fill_shard fills a torch tensor or a numpy array. Received: {type(tensor).__name__}"
        )
    gshape = tuple(int(n) for n in global_shape)
    offsets = tuple(int(o) for o in offsets)
    local = tuple(target.shape)
    if len(gshape) != len(local) or len(offsets) != len(local):
        raise ValueError(
            f"The piece has shape {local}; `global_shape` {gshape} and `offsets` {offsets} "
            "need one entry per axis."
        )
    for o, n, g in zip(offsets, local, gshape):
        if o < 0 or o + n > g:
            raise ValueError(
                f"The piece of shape {local} at offsets {offsets} does not fit in the global "
                f"shape {gshape}."
            )
    spec = r.spec(gshape, target.dtype, allow_in_memory)
    if spec is not None:
        fill_tensor(target, spec, seed, gshape, offsets)
    return tensor


def fastinit_bfloat16() -> np.dtype[Any]:
    import ml_dtypes
    bfloat16: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)
    return bfloat16
