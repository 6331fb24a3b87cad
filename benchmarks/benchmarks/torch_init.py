"""asv suites for fastinit.torch: torch.nn.init functions (fastinit and stock torch side by side)
and model construction (stock, patch(), meta + materialize) on a small GPT skeleton.

Skipped (NotImplementedError in setup, asv's convention) when torch is not installed.
"""

import functools
import math

from ._helpers import TORCH_CALLS, gpt_class

try:
    import torch
    import torch.nn.init as torch_init

    import fastinit.torch as ft
except ImportError:  # pragma: no cover - asv without the torch extra
    torch = None

CALLS = {name: TORCH_CALLS[name] for name in (
    "uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
    "xavier_uniform_", "xavier_normal_", "orthogonal_", "sparse_", "constant_")}


class TorchFunctions:
    """In-place fills of an existing, touched tensor: fastinit.torch against torch.nn.init."""

    params = ([2**20, 2**24], ["float32", "bfloat16"], list(CALLS), ["fastinit", "torch"])
    param_names = ["size", "dtype", "function", "library"]
    timeout = 600

    def setup(self, size, dtype, function, library):
        if torch is None:
            raise NotImplementedError("torch is not installed")
        if library == "torch" and function == "orthogonal_" and dtype == "bfloat16":
            raise NotImplementedError("torch's orthogonal_ has no bfloat16 QR on CPU")
        torch.set_num_threads(2)
        side = math.isqrt(size)
        self.t = torch.zeros((side, side), dtype=getattr(torch, dtype))
        self.fn = getattr(ft if library == "fastinit" else torch_init, function)
        self.args, self.kwargs = CALLS[function]
        self.fn(torch.zeros(64, 64, dtype=self.t.dtype), *self.args, **self.kwargs)

    def time_fill(self, size, dtype, function, library):
        self.fn(self.t, *self.args, **self.kwargs)

    def peakmem_fill(self, size, dtype, function, library):
        self.fn(self.t, *self.args, **self.kwargs)


class ModelConstruction:
    """A ~60M-parameter GPT skeleton (vocab 50257, d=512, 8 layers), 2 threads."""

    params = (["stock", "patch", "materialize"],)
    param_names = ["mode"]
    timeout = 600

    def setup(self, mode):
        if torch is None:
            raise NotImplementedError("torch is not installed")
        torch.set_num_threads(2)
        self.GPT = functools.partial(gpt_class(), 50257, 512, 8)
        with torch.device("meta"):
            self.GPT()

    def _build(self, mode):
        if mode == "stock":
            return self.GPT()
        if mode == "patch":
            with ft.patch():
                return self.GPT()
        with torch.device("meta"):
            model = self.GPT()
        ft.materialize(model, 0)
        return model

    def time_construct(self, mode):
        self._build(mode)

    def peakmem_construct(self, mode):
        self._build(mode)
