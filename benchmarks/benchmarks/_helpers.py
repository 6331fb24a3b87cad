"""Shared by the asv suite (fills.py) and the two scripts, compare.py and orthogonal_compare.py:
the benchmarked shapes and initializers, each library's initializer as a factory at a given
thread count, peak RSS and timing.

asv imports this package as `benchmarks` (it can import nothing else from benchmarks/); a script
run as `python benchmarks/compare.py` has benchmarks/ first on sys.path and imports it by the
same name; the tests import it as benchmarks.benchmarks._helpers, from the repository's root.
asv also scans every public name of every module here for benchmarks, so no name starts with
time_, mem_, peakmem_ or track_.  fastinit, torch and jax are imported only when a
factory is called: a process that measures one library loads no other.
"""

import importlib.util
import math
import os
import resource
import sys
import time
from functools import partial

import numpy as np

# One warm-up call of this shape first: large enough to take every library's parallel path
# (lazy imports, thread start-up), too small to matter to peak memory.
WARMUP_SHAPE = (256, 256)

# fastinit's fill benchmarks, as (class, arguments): seeded, since a stream's cost does not depend
# on the seed and fixed seeds keep runs comparable; stddev 1 for the bare normal families, so
# their results read as "one standard normal draw".
FILLS = {
    "glorot_uniform": ("GlorotUniform", {"seed": 0}),
    "random_normal": ("RandomNormal", {"mean": 0.0, "stddev": 1.0, "seed": 0}),
    "truncated_normal": ("TruncatedNormal", {"mean": 0.0, "stddev": 1.0, "seed": 0}),
    "he_normal": ("HeNormal", {"seed": 0}),
    # a one-sided tail, [2 sigma, 4 sigma]: the exponential-proposal sampler, not rejection
    "truncated_normal_tail": ("StreamInitializer",
                              {"distribution": "truncated_normal", "mean": 0.0, "stddev": 1.0,
                               "low": 2.0, "high": 4.0, "seed": 0}),
}

# torch.nn.init functions as name -> (positional args after the tensor, keyword args): the same
# call for fastinit.torch and torch (torch_compare.py, the asv suite torch_init.py).
TORCH_CALLS = {
    "uniform_": ((), {"a": -1.0, "b": 1.0}),
    "normal_": ((), {"std": 0.02}),
    "trunc_normal_": ((), {"std": 0.02, "a": -0.04, "b": 0.04}),
    "constant_": ((0.5,), {}),
    "ones_": ((), {}),
    "zeros_": ((), {}),
    "eye_": ((), {}),
    "dirac_": ((), {}),
    "xavier_uniform_": ((), {}),
    "xavier_normal_": ((), {}),
    "kaiming_uniform_": ((), {"a": math.sqrt(5)}),
    "kaiming_normal_": ((), {"mode": "fan_out", "nonlinearity": "relu"}),
    "orthogonal_": ((), {}),
    "sparse_": ((0.1,), {}),
}

ORTHOGONAL_SHAPES = [(1024, 1024), (2048, 2048), (4096, 4096), (65536, 256)]
ORTHOGONAL_QUICK_SHAPES = [(256, 256), (1024, 1024), (4096, 256)]


def kernel_shape(size):
    """A 2-D shape of `size` elements, as square as size's divisors allow (8192² for 2**26)."""
    cols = next(d for d in range(math.isqrt(size), 0, -1) if size % d == 0)
    return (size // cols, cols)


def installed(module):
    return importlib.util.find_spec(module) is not None


# ---- initializers as factories: factory(shape, dtype, threads) -> call, call() -> a new output --


class UnsupportedDtype(Exception):
    """A library cannot produce the requested dtype (its row says so instead of a number)."""


def require_numpy_dtype(dtype):
    if dtype not in ("float32", "float64"):
        raise UnsupportedDtype("numpy draws float32/float64 only")


def fastinit_init(name, kwargs, shape, dtype, threads):
    import fastinit

    fastinit.set_num_threads(threads)
    init = getattr(fastinit, name)(**kwargs)
    return lambda: init(shape, dtype)


def numpy_orthogonal(shape, dtype, threads):
    """Keras's recipe in numpy: QR of a (max, min) standard normal matrix, Mezzadri's sign fix,
    transposed for a wide shape.  BLAS uses its own thread count (or threadpoolctl's limit)."""
    require_numpy_dtype(dtype)
    rng = np.random.default_rng(0)
    rows, cols = shape

    def call():
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols)), dtype=dtype))
        q *= np.sign(np.diagonal(r))
        return q.T if rows < cols else q

    return call


def torch_init(name, kwargs, shape, dtype, threads):
    import torch

    torch.set_num_threads(threads)
    init = getattr(torch.nn.init, name)
    torch_dtype = getattr(torch, dtype)
    return lambda: init(torch.empty(shape, dtype=torch_dtype), **kwargs)


def limit_jax_threads(threads):
    """Call before jax is imported: XLA runs on the CPU and sizes its thread pool from the CPUs
    this process may use, so the process is pinned to `threads` of them (where the OS can;
    elsewhere jax uses every core); at one thread Eigen's own threads are turned off too."""
    os.environ["JAX_PLATFORMS"] = "cpu"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1")


def jax_init(name, kwargs, shape, dtype, threads):
    limit_jax_threads(threads)
    import jax

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    init = getattr(jax.nn.initializers, name)(**kwargs)
    key = jax.random.key(0)
    # Compiled ahead of time, so that neither compilation nor its memory is measured.
    compiled = jax.jit(lambda k: init(k, shape, jax.numpy.dtype(dtype))).lower(key).compile()
    return lambda: compiled(key).block_until_ready()


def fastinit_jax_init(name, kwargs, shape, dtype, threads, jit=True):
    """fastinit.jax's factory `name`: under jax.jit (compiled ahead of time like jax_init's: the
    XLA FFI call on the CPU, a pure_callback for orthogonal) or eagerly (the host buffer adopted
    by the CPU device)."""
    limit_jax_threads(threads)
    import jax

    import fastinit
    import fastinit.jax as fj

    fastinit.set_num_threads(threads)
    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    init = getattr(fj, name)(**kwargs)
    key = jax.random.key(0)
    dt = jax.numpy.dtype(dtype)
    if not jit:
        return lambda: init(key, shape, dt).block_until_ready()
    compiled = jax.jit(lambda k: init(k, shape, dt)).lower(key).compile()
    return lambda: compiled(key).block_until_ready()


# Orthogonal in each library, by name: fastinit, Keras's recipe in numpy, torch, jax.
ORTHOGONAL_FACTORIES = {
    "fastinit": partial(fastinit_init, "Orthogonal", {"seed": 0}),
    "numpy": numpy_orthogonal,
    "torch": partial(torch_init, "orthogonal_", {}),
    "jax": partial(jax_init, "orthogonal", {}),
}


# ---- measuring -----------------------------------------------------------------------------------
# proc_status_bytes and reset_peak_rss are also the tests' (tests/helpers.py), which paste their
# source into child scripts: they use nothing but builtins.


def proc_status_bytes(key):
    """A size in bytes from /proc/self/status: "VmRSS" (resident now), "VmHWM" (peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak_rss():
    """Sets this process's VmHWM back to its VmRSS ("5" into /proc/self/clear_refs, Linux);
    False where that cannot be done.  ru_maxrss is no substitute: a child's starts at its
    parent's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def max_rss_bytes():
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # bytes on macOS, KiB on Linux


def first_call(call):
    """Runs call() once; returns (seconds, peak-RSS growth in bytes): the high-water mark during
    the call minus the RSS before it.  Where the mark cannot be reset, ru_maxrss stands in: its
    growth misses a peak below an earlier one (a child's ru_maxrss starts at its parent's)."""
    reset = reset_peak_rss()
    before = proc_status_bytes("VmRSS") if reset else max_rss_bytes()
    start = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - start
    peak = proc_status_bytes("VmHWM") if reset else max_rss_bytes()
    del out
    return seconds, peak - before


def timed_calls(call, repeats):
    """Wall seconds of `repeats` calls; each output is dropped after its clock stops, so one is
    alive at a time and freeing it is not timed."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - start)
        del out
    return times


def gpt_class():
    """A GPT-style torch skeleton, shared by torch_compare.py, the asv suite and the tests:
    ``GPT(vocab, d, layers, context=1024, padding_idx=None, first=None)``.

    An embedding (vocab x d, tied to the lm_head) and learned positions (context x d), then
    `layers` blocks of LayerNorm, Linear qkv (d -> 3d) and proj, LayerNorm, and an MLP of 4d;
    a final LayerNorm.  `first`, when given, is a module registered before everything else (the
    tests' unrelated module).  With vocab 50257, d 2048, 24 layers and context 1024 it has 1.3B
    parameters.  torch is imported here, when the class is built.
    """
    from torch import nn

    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, 4 * d)
            self.out = nn.Linear(4 * d, d)

    class GPT(nn.Module):
        def __init__(self, vocab, d, layers, context=1024, padding_idx=None, first=None):
            super().__init__()
            if first is not None:
                self.first = first
            self.wte = nn.Embedding(vocab, d, padding_idx=padding_idx)
            self.wpe = nn.Embedding(context, d)
            self.blocks = nn.ModuleList([Block(d) for _ in range(layers)])
            self.ln_f = nn.LayerNorm(d)
            self.lm_head = nn.Linear(d, vocab, bias=False)
            self.lm_head.weight = self.wte.weight       # tied

    return GPT
