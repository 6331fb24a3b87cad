"""patch(): route torch.nn.init's functions to fastinit while active.

torch's modules reach the init functions two ways: most do ``from torch.nn import init`` and call
``init.kaiming_uniform_(...)`` (linear, conv, sparse, normalization, batchnorm, rnn), which reads
the attribute of the module ``torch.nn.init`` at call time; a few bound the functions by name at
import (``from torch.nn.init import xavier_uniform_`` in activation.py for MultiheadAttention and
in transformer.py).  patch() replaces both: the attributes of ``torch.nn.init``, and every
attribute of an imported ``torch.nn.*`` module (plus any module passed in `modules=`) that *is*
one of torch.nn.init's original functions.  Nothing else is touched.
"""

import contextlib
import functools
import sys
import threading
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, Literal

import torch
import torch.nn.init as _torch_init

from fastinit.torch._functions import FUNCTIONS, can_fill

#: torch.nn.init's own functions, captured when fastinit.torch is imported.
ORIGINALS: dict[str, Callable[..., Any]] = {name: getattr(_torch_init, name) for name in FUNCTIONS}
_ORIGINAL_IDS = {id(f): name for name, f in ORIGINALS.items()}

_lock = threading.RLock()
_depth = 0
# (module, attribute, original) replaced by the outermost patch
_saved: list[tuple[ModuleType, str, Callable[..., Any]]] = []
_patched_ids: set[int] = set()   # id() of the modules scanned while patched


def _make_routed(name: str) -> Callable[..., Any]:
    ours, original = FUNCTIONS[name], ORIGINALS[name]

    @functools.wraps(original)
    def routed(*args: Any, **kwargs: Any) -> Any:
        tensor = args[0] if args else kwargs.get("tensor")
        if getattr(tensor, "_is_hf_initialized", False) is True:
            return tensor  # transformers' marker: loaded or already initialized, leave it
        if (isinstance(tensor, torch.Tensor)
                and not torch.overrides.has_torch_function_variadic(tensor)
                and can_fill(tensor, name)):
            return ours(*args, **kwargs)
        # meta, integer, complex, sparse or subclass tensors: torch's own function, unchanged
        return original(*args, **kwargs)

    routed.__fastinit_routed__ = name  # type: ignore[attr-defined]
    return routed


ROUTED = {name: _make_routed(name) for name in FUNCTIONS}


def _targets(
        extra_modules: Iterable[ModuleType],
) -> list[tuple[ModuleType, str, Callable[..., Any]]]:
    """(module, attribute, original) for every binding of an original init function."""
    found = [(_torch_init, name, ORIGINALS[name]) for name in FUNCTIONS
             if getattr(_torch_init, name, None) is ORIGINALS[name]]
    modules = [m for n, m in list(sys.modules.items())
               if m is not None and n.startswith("torch.nn.") and n != "torch.nn.init"]
    modules += list(extra_modules)
    for mod in modules:
        if id(mod) in _patched_ids:
            continue
        _patched_ids.add(id(mod))
        for attr, value in list(vars(mod).items()):
            name = _ORIGINAL_IDS.get(id(value))
            if name is not None and value is ORIGINALS[name]:
                found.append((mod, attr, value))
    return found


def is_patched() -> bool:
    """Whether a patch() is active (in any thread)."""
    return _depth > 0


class patch(contextlib.ContextDecorator):
    """Route torch.nn.init's functions to fastinit while active.

    A context manager and a decorator.  Inside, ``nn.Linear(...)``, ``nn.Conv2d``,
    ``nn.Embedding``, ``nn.MultiheadAttention``, ``reset_parameters()`` and any code calling
    ``torch.nn.init.<name>_`` fill through fastinit's kernels; calls without `generator=` draw
    their seed from torch's default generator, so ``torch.manual_seed(s)`` makes model
    construction reproducible (with fastinit's values, not torch's).  Tensors fastinit does not
    fill (meta, integer, complex, sparse, ``__torch_function__`` subclasses) go to torch's own
    function unchanged, and tensors marked ``_is_hf_initialized = True`` (transformers) are left
    alone.

    The originals are restored when the outermost patch exits, also after an exception.  Patches
    nest (a depth counter).  Like transformers' ``no_init_weights``, it patches the modules
    globally: while any thread is inside a patch(), every thread's calls are routed, and the
    originals come back when the last one exits.

    Args:
        modules: Extra modules to patch, for code that did ``from torch.nn.init import
            normal_`` before the patch (their bindings of the originals are replaced too).
    """

    def __init__(self, modules: Iterable[ModuleType] = ()) -> None:
        self.modules = tuple(modules)

    def __enter__(self) -> "patch":
        global _depth
        with _lock:
            if _depth == 0:
                _patched_ids.clear()
            try:
                for mod, attr, original in _targets(self.modules):
                    setattr(mod, attr, ROUTED[_ORIGINAL_IDS[id(original)]])
                    _saved.append((mod, attr, original))
            except BaseException:
                if _depth == 0:
                    _restore()
                raise
            _depth += 1
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0:
                _restore()
        return False


def _restore() -> None:
    while _saved:
        mod, attr, original = _saved.pop()
        setattr(mod, attr, original)
    _patched_ids.clear()
