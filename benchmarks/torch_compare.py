"""fastinit.torch against stock torch.nn.init, and model construction, in one run.

    python benchmarks/torch_compare.py                   # every function, both tables
    python benchmarks/torch_compare.py --quick           # small sizes and a small model
    python benchmarks/torch_compare.py --functions uniform_,trunc_normal_ --no-model

Functions: each torch.nn.init function in float32 and bfloat16 at 768x768, 4096x4096 and 2**26
elements (8192x8192; dirac_ gets a trailing axis of 1), filling an existing, already-touched
tensor in place (what the functions do).  Times are medians of interleaved calls (fastinit,
torch, fastinit, ...), so load on a shared machine hits both alike.  Peak RSS above the output is
measured in a fresh process per cell: the output is allocated and touched, a small warm-up call
runs, /proc/self/clear_refs gets "5" (VmHWM := VmRSS), one call runs, and VmHWM minus the RSS
before the call is the extra memory that call needed (ru_maxrss cannot be reset, and a child's
counts its parent's pages).

Model: a 1.3B-parameter GPT-style skeleton (Embedding 50257 x 2048 tied to the lm_head, learned
positions, 24 blocks of LayerNorm + Linear qkv / proj + MLP 4d) built with 2 threads, each
repeat in a fresh process: stock construction, construction under fastinit.torch.patch(), and
meta construction + fastinit.torch.materialize.  Also: stock torch with THP_MEM_ALLOC_ENABLE=1
(torch's own huge-page switch), materialize with FASTINIT_TORCH_HUGEPAGES=1 (fastinit's opt-in
huge-page advice), patch() with fastinit on one thread (each call a separate OpenMP team: on a
busy machine waking the second thread costs milliseconds), and the first-touch floor: meta
construction, then materialize with every tensor zeros_ (the same allocation and thread pool, no
random values), which no initializer can beat: on a VM, the page faults of fresh memory cost more
than the fills.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)     # this checkout's fastinit, also when another one is installed
from benchmarks._helpers import (  # noqa: E402  (benchmarks/benchmarks, as asv sees it)
    TORCH_CALLS,
    gpt_class,
    proc_status_bytes,
    reset_peak_rss,
)
MiB = 2**20

SIZES = {"768x768": (768, 768), "4096x4096": (4096, 4096), "2**26": (8192, 8192)}
QUICK_SIZES = {"256x256": (256, 256), "1024x1024": (1024, 1024)}
DTYPES = ["float32", "bfloat16"]

CALLS = TORCH_CALLS


def shape_for(name, shape):
    return (*shape, 1) if name == "dirac_" else shape


def function_of(lib, name):
    if lib == "fastinit":
        import fastinit.torch as ft
        return getattr(ft, name)
    import torch.nn.init as ti
    return getattr(ti, name)


def _proc_kib(field):
    return proc_status_bytes(field) // 1024


def _setup_threads(threads):
    import torch
    import fastinit
    torch.set_num_threads(threads)
    fastinit.set_num_threads(threads)


# ---- function cells -------------------------------------------------------------------------


def rss_child(lib, name, dtype, shape, threads):
    """In a fresh process: MiB of peak RSS above the touched output for one call."""
    import torch
    _setup_threads(threads)
    fn = function_of(lib, name)
    args, kwargs = CALLS[name]
    t = torch.zeros(shape, dtype=getattr(torch, dtype))
    try:
        fn(torch.zeros(shape_for(name, (64, 64)), dtype=t.dtype), *args, **kwargs)  # warm-up
    except Exception as e:  # noqa: BLE001 - reported in the table
        return {"error": type(e).__name__}
    before = _proc_kib("VmRSS")
    reset_peak_rss()
    fn(t, *args, **kwargs)
    peak = _proc_kib("VmHWM")
    return {"extra_mib": max(0, peak - before) / 1024, "output_mib": t.nbytes / MiB}


def run_child(*argv, env=None):
    cmd = [sys.executable, os.path.abspath(__file__), *argv]
    e = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.update(env or {})
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"{argv}: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def time_cell(name, dtype, shape, min_repeats, budget):
    """(fastinit median s, torch median s or error) of interleaved in-place calls."""
    import torch
    tdtype = getattr(torch, dtype)
    args, kwargs = CALLS[name]
    shape = shape_for(name, shape)
    out = {}
    tensors = {lib: torch.zeros(shape, dtype=tdtype) for lib in ("fastinit", "torch")}
    fns = {lib: function_of(lib, name) for lib in tensors}
    times = {lib: [] for lib in tensors}
    for lib in tensors:   # one warm-up call each, and the unsupported ones are found
        try:
            fns[lib](tensors[lib], *args, **kwargs)
        except Exception as e:  # noqa: BLE001
            out[lib] = type(e).__name__
    live = [lib for lib in tensors if lib not in out]
    start = time.perf_counter()
    while True:
        for lib in live:
            t0 = time.perf_counter()
            fns[lib](tensors[lib], *args, **kwargs)
            times[lib].append(time.perf_counter() - t0)
        n = min(len(times[lib]) for lib in live) if live else 0
        if not live or (n >= min_repeats and time.perf_counter() - start > budget) or n >= 25:
            break
    for lib in live:
        out[lib] = statistics.median(times[lib])
    return out


def functions_table(names, sizes, threads, min_repeats, budget, rss):
    rows = []
    for size_label, shape in sizes.items():
        for dtype in DTYPES:
            for name in names:
                cell = time_cell(name, dtype, shape, min_repeats, budget)
                mem = {}
                if rss:
                    for lib in ("fastinit", "torch"):
                        mem[lib] = run_child("--rss-child", lib, name, dtype,
                                             ",".join(map(str, shape_for(name, shape))),
                                             str(threads))
                rows.append((name, dtype, size_label, cell, mem))
                _print_row(rows[-1])
    return rows


def _fmt_time(v):
    if isinstance(v, str):
        return v
    return f"{v * 1e3:.2f}" if v < 10 else f"{v * 1e3:.0f}"


def _fmt_mem(m):
    if not m:
        return "-"
    if "error" in m:
        return m["error"]
    return f"{m['extra_mib']:.1f}"


def _print_row(row):
    name, dtype, size, cell, mem = row
    f, t = cell.get("fastinit"), cell.get("torch")
    ratio = f"{t / f:.1f}x" if isinstance(f, float) and isinstance(t, float) else "-"
    print(f"| {name} | {dtype} | {size} | {_fmt_time(f)} | {_fmt_time(t)} | {ratio} | "
          f"{_fmt_mem(mem.get('fastinit'))} | {_fmt_mem(mem.get('torch'))} |", flush=True)


# ---- the model ------------------------------------------------------------------------------


def model_child(mode, vocab, d, layers, context, threads):
    import torch
    import fastinit.torch as ft
    _setup_threads(threads)
    GPT = gpt_class()
    with torch.device("meta"):
        GPT(vocab, 64, 1, 16)                  # import-time and first-call costs, not timed
    ft.materialize(GPT(vocab // 64 + 1, 64, 1, 16), 0)
    before = _proc_kib("VmRSS")
    reset_peak_rss()
    t0 = time.perf_counter()
    if mode in ("stock", "stock-thp"):
        torch.manual_seed(0)
        model = GPT(vocab, d, layers, context)
    elif mode in ("patch", "patch-1t"):
        if mode == "patch-1t":
            import fastinit
            fastinit.set_num_threads(1)
        torch.manual_seed(0)
        with ft.patch():
            model = GPT(vocab, d, layers, context)
    elif mode in ("materialize", "materialize-thp"):
        with torch.device("meta"):
            model = GPT(vocab, d, layers, context)
        ft.materialize(model, 0)
    elif mode == "floor":          # the same allocation and thread pool, values free
        with torch.device("meta"):
            model = GPT(vocab, d, layers, context)
        ft.materialize(model, 0, rules={"*": "zeros_"})
    else:
        raise ValueError(mode)
    elapsed = time.perf_counter() - t0
    peak = _proc_kib("VmHWM")
    n = sum(p.numel() for p in model.parameters())
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return {"seconds": elapsed, "peak_mib": peak / 1024, "above_mib": (peak - before) / 1024,
            "params": n, "model_mib": nbytes / MiB}


MODES = [("stock", {}), ("stock-thp", {"THP_MEM_ALLOC_ENABLE": "1"}), ("patch", {}),
         ("patch-1t", {}),
         ("materialize", {}), ("materialize-thp", {"FASTINIT_TORCH_HUGEPAGES": "1"}),
         ("floor", {})]


def model_table(cfg, threads, repeats):
    results = {m: [] for m, _ in MODES}
    for _ in range(repeats):                  # interleaved: load hits every mode alike
        for mode, env in MODES:
            results[mode].append(run_child("--model-child", mode, *map(str, cfg), str(threads),
                                           env=env))
    first = results["stock"][0]
    print(f"\nModel: {first['params'] / 1e9:.3f}B parameters, {first['model_mib']:.0f} MiB "
          f"float32; {threads} threads; medians of {repeats} fresh processes\n")
    print("| construction | seconds | vs stock | peak RSS MiB | peak above start MiB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    stock = statistics.median(r["seconds"] for r in results["stock"])
    summary = {}
    for mode, _ in MODES:
        s = statistics.median(r["seconds"] for r in results[mode])
        peak = statistics.median(r["peak_mib"] for r in results[mode])
        above = statistics.median(r["above_mib"] for r in results[mode])
        summary[mode] = (s, peak, above)
        label = {"stock": "stock torch", "stock-thp": "stock torch, THP_MEM_ALLOC_ENABLE=1",
                 "patch": "fastinit.torch.patch()",
                 "patch-1t": "fastinit.torch.patch(), fastinit on 1 thread",
                 "materialize": "meta + fastinit.torch.materialize",
                 "materialize-thp": "meta + materialize, FASTINIT_TORCH_HUGEPAGES=1",
                 "floor": "floor: meta + materialize with every tensor zeros_"}[mode]
        print(f"| {label} | {s:.2f} | {stock / s:.1f}x | {peak:.0f} | {above:.0f} |")
    print("\nall runs (s):", {m: [round(r["seconds"], 2) for r in v] for m, v in results.items()})
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--functions", default=",".join(CALLS))
    ap.add_argument("--sizes", default=",".join(SIZES), help=f"among {list(SIZES)}")
    ap.add_argument("--no-functions", action="store_true")
    ap.add_argument("--no-model", action="store_true")
    ap.add_argument("--no-rss", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model-repeats", type=int, default=3)
    ap.add_argument("--rss-child", nargs=5)
    ap.add_argument("--model-child", nargs=6)
    a = ap.parse_args()
    if a.rss_child:
        lib, name, dtype, shape, threads = a.rss_child
        print(json.dumps(rss_child(lib, name, dtype, tuple(map(int, shape.split(","))),
                                   int(threads))))
        return
    if a.model_child:
        mode, *nums = a.model_child
        print(json.dumps(model_child(mode, *map(int, nums))))
        return
    import torch
    import fastinit
    _setup_threads(a.threads)
    print(f"torch {torch.__version__}, fastinit {fastinit.__version__}, {a.threads} threads, "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()}")
    if not a.no_functions:
        sizes = QUICK_SIZES if a.quick else {k: SIZES[k] for k in a.sizes.split(",")}
        print("\nIn-place fills of an existing tensor; ms, medians of interleaved calls; "
              "peak RSS above the output in MiB (fresh process per cell)\n")
        print("| function | dtype | size | fastinit ms | torch ms | speed-up | "
              "fastinit extra MiB | torch extra MiB |")
        print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
        functions_table(a.functions.split(","), sizes, a.threads, 3, 0.5 if a.quick else 2.0,
                        not a.no_rss)
    if not a.no_model:
        cfg = (50257, 256, 2, 128) if a.quick else (50257, 2048, 24, 2048)
        model_table(cfg, a.threads, 1 if a.quick else a.model_repeats)


if __name__ == "__main__":
    main()
