"""asv suites for fastinit.torch: torch.nn.init functions (fastinit and stock torch side by side)
and model construction (stock, patch(), meta + materialize) on a small GPT skeleton.

Skipped (NotImplementedError in setup, asv's convention) when torch is not installed.
"""

import math

try:
    import torch
    import torch.nn.init as torch_init

    import fastinit.torch as ft
except ImportError:  # pragma: no cover - asv without the torch extra
    torch = None

CALLS = {
    "uniform_": ((), {"a": -1.0, "b": 1.0}),
    "normal_": ((), {"std": 0.02}),
    "trunc_normal_": ((), {"std": 0.02, "a": -0.04, "b": 0.04}),
    "kaiming_uniform_": ((), {"a": math.sqrt(5)}),
    "kaiming_normal_": ((), {}),
    "xavier_uniform_": ((), {}),
    "xavier_normal_": ((), {}),
    "orthogonal_": ((), {}),
    "sparse_": ((0.1,), {}),
    "constant_": ((0.5,), {}),
}


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


def _gpt(vocab, d, layers):
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, d)
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.ln_f = nn.LayerNorm(d)
            self.lm_head = nn.Linear(d, vocab, bias=False)
            self.lm_head.weight = self.wte.weight

    return GPT


class ModelConstruction:
    """A ~60M-parameter GPT skeleton (vocab 50257, d=512, 8 layers), 2 threads."""

    params = (["stock", "patch", "materialize"],)
    param_names = ["mode"]
    timeout = 600

    def setup(self, mode):
        if torch is None:
            raise NotImplementedError("torch is not installed")
        torch.set_num_threads(2)
        self.GPT = _gpt(50257, 512, 8)
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
