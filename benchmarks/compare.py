"""fastinit against numpy, torch, jax and the memory-write limit: one table, measured in one run.

    python benchmarks/compare.py                 # float32, 2**26 elements, threads 1 and 2
    python benchmarks/compare.py --quick         # 2**22 elements, 3 repeats: a smoke test
    python benchmarks/compare.py --orthogonal    # Orthogonal (QR) against numpy, torch, jax

Every cell is measured in a fresh spawned process, so that peak RSS belongs to that one
operation and no library's thread pool or allocator cache leaks into another's numbers: a small
warm-up call first (lazy imports, thread pools), then one call whose peak-RSS growth is
recorded, then the timed calls.  Each call makes a new output, as `init(shape)` does, so page
faults are part of every number.  torch and jax rows appear only when they are importable.

For --orthogonal (BLAS/LAPACK-bound), unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the shell
first: they make OpenBLAS use kernels and blocking for a CPU other than this one.  The script
leaves them alone (and says when they are set) so that it measures the environment it is given.
"""

import argparse
import concurrent.futures
import math
import multiprocessing
import os
import platform
import statistics
import sys
import textwrap
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

import fastinit
from benchmarks._helpers import (
    FILLS,
    ORTHOGONAL_FACTORIES,
    ORTHOGONAL_QUICK_SHAPES,
    ORTHOGONAL_SHAPES,
    WARMUP_SHAPE,
    UnsupportedDtype,
    fastinit_init,
    first_call,
    installed,
    jax_init,
    kernel_shape,
    require_numpy_dtype,
    timed_calls,
    torch_init,
)

DTYPE_SIZES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
TRUNCATION = 2.0  # Keras's truncated normal: +-2 standard deviations
TAIL = (2.0, 4.0)  # a one-sided tail: truncated to [2 sigma, 4 sigma]
NORM_SF = {2.0: 0.022750131948179195, 4.0: 3.167124183311986e-05}  # scipy.stats.norm.sf
SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Peer:
    label: str
    # factory(shape, dtype, threads) -> zero-argument callable that returns a new output.  A
    # partial of module-level functions, so it pickles into the spawned worker.
    factory: Callable
    module: str | None = None  # optional dependency: without it the row says "not installed"
    threaded: bool = True  # False: one thread whatever the column, so measured once


@dataclass
class Result:
    seconds: float | None = None  # median over the timed calls
    rss_growth: int | None = None  # bytes: peak RSS during one call minus RSS before it
    note: str = ""  # why there is no measurement


# ---- measuring ---------------------------------------------------------------------------------


def measure_in_this_process(factory, shape, dtype, threads, repeats):
    """Runs in the fresh worker: warm-up, one call for peak RSS, then `repeats` timed calls."""
    factory(WARMUP_SHAPE, dtype, threads)()
    call = factory(shape, dtype, threads)
    _, rss_growth = first_call(call)
    return Result(statistics.median(timed_calls(call, repeats)), rss_growth)


def measure(peer, shape, dtype, threads, repeats):
    """One cell, in a fresh spawned process; a failing peer gives a note, not a stopped run."""
    if peer.module and not installed(peer.module):
        return Result(note="not installed")
    try:
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=SPAWN) as pool:
            return pool.submit(
                measure_in_this_process, peer.factory, shape, dtype, threads, repeats
            ).result()
    except UnsupportedDtype as exc:
        return Result(note=str(exc))
    except Exception as exc:  # includes a crashed worker (BrokenProcessPool)
        print(f"    {peer.label}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return Result(note="error (see stderr)")


class SlicedPool:
    """Runs work(i, slice_i) on `threads` equal slices of range(n) in a thread pool, as numpy's
    "Multithreaded Generation" recipe does (numpy releases the GIL while it fills)."""

    def __init__(self, threads):
        self.threads = threads
        self.pool = concurrent.futures.ThreadPoolExecutor(threads)

    def run(self, n, work):
        step = -(-n // self.threads)
        futures = [
            self.pool.submit(work, i, slice(i * step, min(n, (i + 1) * step)))
            for i in range(self.threads)
        ]
        for future in futures:
            future.result()


# ---- the peers ---------------------------------------------------------------------------------


def numpy_glorot_uniform(rng, out, shape):
    limit = math.sqrt(6.0 / (shape[0] + shape[1]))  # fan_in + fan_out of a 2-D kernel
    rng.random(out=out, dtype=out.dtype)
    # [0, 1) -> [-limit, limit): two more passes over memory, which are part of numpy's cost.
    out *= 2.0 * limit
    out -= limit


def numpy_standard_normal(rng, out, shape):
    rng.standard_normal(out=out, dtype=out.dtype)


def numpy_truncated_normal(rng, out, shape):
    """Rejection: redraw the out-of-bounds values until none is left (4.6% at +-2 sigma)."""
    rng.standard_normal(out=out, dtype=out.dtype)
    bad = np.flatnonzero((out < -TRUNCATION) | (out > TRUNCATION))
    while bad.size:
        redraw = rng.standard_normal(bad.size, dtype=out.dtype)
        out[bad] = redraw
        bad = bad[(redraw < -TRUNCATION) | (redraw > TRUNCATION)]


def numpy_truncated_normal_tail(rng, out, shape):
    """Inverse CDF on [2, 4] (scipy's ndtri of a uniform between the two CDF values, in the upper
    tail's survival form for accuracy): rejection from standard normals would keep 2.2 %."""
    from scipy.special import ndtri

    lo, hi = TAIL  # standard normal quantiles: p in (sf(hi), sf(lo)]
    slo, shi = NORM_SF[lo], NORM_SF[hi]
    u = rng.random(out.size)
    out[...] = -ndtri(shi + u * (slo - shi))


def numpy_generator(fill, shape, dtype, threads):
    """One numpy Generator: single-threaded whatever `threads` is."""
    require_numpy_dtype(dtype)
    rng = np.random.default_rng(0)

    def call():
        out = np.empty(shape, dtype)
        fill(rng, out.reshape(-1), shape)
        return out

    return call


def numpy_multithreaded(fill, shape, dtype, threads):
    """numpy's documented recipe: one Generator per thread from SeedSequence.spawn, each
    filling its slice of the new array."""
    require_numpy_dtype(dtype)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(0).spawn(threads)]
    pool = SlicedPool(threads)

    def call():
        out = np.empty(shape, dtype)
        flat = out.reshape(-1)
        pool.run(flat.size, lambda i, part: fill(rngs[i], flat[part], shape))
        return out

    return call


def output_floats32(shape, dtype):
    """Number of float32 elements with the same bytes as the output."""
    return math.prod(shape) * DTYPE_SIZES[dtype] // 4


def memory_constant_write(shape, dtype, threads):
    n = output_floats32(shape, dtype)
    pool = SlicedPool(threads)

    def call():
        out = np.empty(n, np.float32)
        pool.run(n, lambda i, part: out[part].fill(1.0))
        return out

    return call


def memory_pattern_write(shape, dtype, threads):
    """Non-constant data, written only: a cache-resident 4 KiB pattern, tiled."""
    n = output_floats32(shape, dtype)
    pattern = np.random.default_rng(0).random(1024, dtype=np.float32)
    pool = SlicedPool(threads)

    def call():
        out = np.empty(n // 1024 * 1024, np.float32)
        pool.run(out.size // 1024,
                 lambda i, rows: np.copyto(out.reshape(-1, 1024)[rows], pattern))
        return out

    return call


def memory_copy(shape, dtype, threads):
    """Random data, read from an existing array (allocated before the RSS sample)."""
    n = output_floats32(shape, dtype)
    source = np.random.default_rng(0).random(n, dtype=np.float32)
    pool = SlicedPool(threads)

    def call():
        out = np.empty(n, np.float32)
        pool.run(n, lambda i, part: np.multiply(source[part], 1.0, out=out[part]))
        return out

    return call


def fill_peers(fastinit_fill, numpy_fill, torch_name, torch_kwargs, jax_name, jax_kwargs):
    """The rows of one fill operation; fastinit's (a key of FILLS), the reference for the ratios,
    comes first.  jax_name None: jax has no initializer for it (no row)."""
    name, kwargs = FILLS[fastinit_fill]
    peers = [
        Peer(f"fastinit.{name}", partial(fastinit_init, name, kwargs)),
        Peer("numpy Generator (1 thread)", partial(numpy_generator, numpy_fill),
             threaded=False),
        Peer("numpy multithreaded recipe", partial(numpy_multithreaded, numpy_fill)),
        Peer(f"torch.nn.init.{torch_name}", partial(torch_init, torch_name, torch_kwargs),
             module="torch"),
    ]
    if jax_name is not None:
        peers.append(Peer(f"jax.nn.initializers.{jax_name}",
                          partial(jax_init, jax_name, jax_kwargs), module="jax"))
    return peers


FILL_OPERATIONS = {
    "glorot_uniform": fill_peers(
        "glorot_uniform", numpy_glorot_uniform,
        "xavier_uniform_", {}, "glorot_uniform", {}),
    "normal(0, 1)": fill_peers(
        "random_normal", numpy_standard_normal,
        "normal_", {"mean": 0.0, "std": 1.0}, "normal", {"stddev": 1.0}),
    "truncated normal ±2σ": fill_peers(
        "truncated_normal", numpy_truncated_normal,
        "trunc_normal_", {"mean": 0.0, "std": 1.0, "a": -TRUNCATION, "b": TRUNCATION},
        "truncated_normal", {"stddev": 1.0}),
    "truncated normal [2σ, 4σ]": fill_peers(
        "truncated_normal_tail", numpy_truncated_normal_tail,
        "trunc_normal_", {"mean": 0.0, "std": 1.0, "a": TAIL[0], "b": TAIL[1]},
        None, None),
}
MEMORY_OPERATION = "memory write"
# The pure writes; the faster of the two is "the limit".
LIMIT_LABELS = ("np.empty + fill(1.0)", "np.empty + tiled 4 KiB pattern")
MEMORY_PEERS = [
    Peer(LIMIT_LABELS[0], memory_constant_write),
    Peer(LIMIT_LABELS[1], memory_pattern_write),
    Peer("copy: np.multiply(x, 1.0, out=new)", memory_copy),
]

ORTHOGONAL_PEERS = [
    Peer("fastinit.Orthogonal", ORTHOGONAL_FACTORIES["fastinit"]),
    Peer("numpy qr(standard_normal)", ORTHOGONAL_FACTORIES["numpy"]),
    Peer("torch.nn.init.orthogonal_", ORTHOGONAL_FACTORIES["torch"], module="torch"),
    Peer("jax.nn.initializers.orthogonal", ORTHOGONAL_FACTORIES["jax"], module="jax"),
]


# ---- the grid and its table --------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One group of columns: the dtype and thread count every row is measured at."""

    label: str
    dtype: str
    threads: int


def measure_grid(cases, settings, repeats):
    """cases: [(case label, shape, peers)].  Returns {(case, peer label, setting label): Result}.

    A single-threaded peer is measured once per dtype and its result shown for every thread
    count, which saves the time of re-measuring the same computation.
    """
    results, done = {}, {}
    jobs = [(c, s, p) for c in cases for p in c[2] for s in settings]
    for i, ((case, shape, _), setting, peer) in enumerate(jobs, 1):
        key = (case, peer.label, setting.dtype, setting.threads if peer.threaded else None)
        if key not in done:
            print(f"[{i}/{len(jobs)}] {case} | {peer.label} | {setting.label}", file=sys.stderr)
            done[key] = measure(peer, shape, setting.dtype, setting.threads, repeats)
        results[case, peer.label, setting.label] = done[key]
    return results


def print_grid(cases, settings, results, speed_name, speed, reference_of):
    """One row per case x peer, one group of columns per setting: speed, speed relative to the
    case's reference peer (fastinit), and peak-RSS growth over output bytes.

    speed(seconds, output bytes) gives the first column's text; reference_of(case) is the label
    of the case's reference peer, or None (its rows show "-" for the ratio).
    """
    metric_names = [speed_name, "×fastinit", "RSS/out"]
    width = 9
    group_width = len(metric_names) * width + 2 * (len(metric_names) - 1)
    case_width = max(len(c[0]) for c in cases)
    peer_width = max(len(p.label) for c in cases for p in c[2])

    def line(case, peer, groups):
        print(f"{case:<{case_width}}  {peer:<{peer_width}}  " + "   ".join(groups))

    line("", "", [s.label.center(group_width) for s in settings])
    line("", "", ["  ".join(m.rjust(width) for m in metric_names)] * len(settings))
    for case, shape, peers in cases:
        print()
        reference = reference_of(case)
        for row, peer in enumerate(peers):
            groups = []
            for s in settings:
                r = results[case, peer.label, s.label]
                if r.seconds is None:
                    groups.append(r.note[:group_width].ljust(group_width))
                    continue
                ref = results[case, reference, s.label] if reference else None
                ratio = f"{ref.seconds / r.seconds:.2f}" if ref and ref.seconds else "-"
                out_bytes = math.prod(shape) * DTYPE_SIZES[s.dtype]
                cells = [speed(r.seconds, out_bytes), ratio, f"{r.rss_growth / out_bytes:.2f}"]
                groups.append("  ".join(c.rjust(width) for c in cells))
            line(case if row == 0 else "", peer.label, groups)


def print_notes(*paragraphs):
    print()
    for paragraph in paragraphs:
        print(textwrap.fill(paragraph, width=100))


# ---- the two modes -----------------------------------------------------------------------------


def run_fills(args):
    shape = kernel_shape(args.size)
    nbytes = args.size * DTYPE_SIZES[args.dtype]
    print(f"{args.dtype}, shape {shape} ({args.size:,} elements, {nbytes / 2**20:,.0f} MiB), "
          f"a new array per call, median of {args.repeats} calls\n")
    settings = [Setting(f"{t} thread{'s' * (t > 1)}", args.dtype, t) for t in args.threads]
    cases = [(op, shape, peers) for op, peers in FILL_OPERATIONS.items()]
    cases.append((MEMORY_OPERATION, shape, MEMORY_PEERS))
    results = measure_grid(cases, settings, args.repeats)
    fastinit_label = {op: peers[0].label for op, peers in FILL_OPERATIONS.items()}
    print_grid(cases, settings, results, "GB/s",
               lambda seconds, out_bytes: f"{out_bytes / seconds / 1e9:.2f}",
               fastinit_label.get)

    print_notes(
        "GB/s: output bytes / median seconds.  ×fastinit: the row's speed / fastinit's for the "
        "same operation and thread count (above 1 = faster than fastinit).  RSS/out: peak-RSS "
        "growth during one call / output bytes (1.00 = nothing but the output).",
        "numpy Generator is single-threaded: one measurement, shown under every thread count.",
        "The memory rows write as many bytes as the output into a new float32 array, split "
        "across the threads like numpy's recipe.  The limit is the faster of the two pure "
        "writes, a constant fill(1.0) and a tiled non-constant pattern (which shows whether "
        "constant data is a shortcut on this CPU): the fastest write of every byte of a new "
        "array.  The copy also reads as many bytes as it writes, so it is a floor.",
    )
    print("fastinit as a share of the limit (limit's seconds / fastinit's):")
    op_width = max(len(op) for op in fastinit_label) + 2
    for op, label in fastinit_label.items():
        cells = []
        for setting in settings:
            own = results[op, label, setting.label].seconds
            writes = [results[MEMORY_OPERATION, w, setting.label].seconds for w in LIMIT_LABELS]
            limit = min(filter(None, writes), default=None)
            share = f"{limit / own:4.0%}" if own and limit else " n/a"
            cells.append(f"{share} ({setting.label})")
        print(f"  {op:<{op_width}}" + "   ".join(cells))


def run_orthogonal(args):
    threads = max(args.threads)
    shapes = ORTHOGONAL_QUICK_SHAPES if args.quick else ORTHOGONAL_SHAPES
    pinned = [f"{v}={os.environ[v]}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
              if v in os.environ]
    if pinned:
        print(f"note: {', '.join(pinned)} set: unset them for representative BLAS numbers")
    print(f"Orthogonal: fastinit, torch and jax at {threads} threads, numpy's BLAS at its default, "
          f"median of {args.repeats} calls\n")
    settings = [Setting(dtype, dtype, threads) for dtype in ("float32", "float64")]
    cases = [(f"{r}x{c}", (r, c), ORTHOGONAL_PEERS) for r, c in shapes]
    results = measure_grid(cases, settings, args.repeats)
    print_grid(cases, settings, results, "seconds",
               lambda seconds, out_bytes: f"{seconds:.3f}",
               lambda case: ORTHOGONAL_PEERS[0].label)
    print_notes(
        "×fastinit: fastinit's seconds / the row's (above 1 = faster than fastinit).  RSS/out: "
        "peak-RSS growth during one call / output bytes (1.00 = nothing but the output)."
    )


# ---- command line ------------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line for line in f if line.startswith("model name"))
        return model.split(":", 1)[1].strip()
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, help="elements per output (default 2**26; 2**22 --quick)")
    p.add_argument("--dtype", default="float32", choices=list(DTYPE_SIZES))
    p.add_argument("--repeats", type=int, help="timed calls per cell (default 5; 3 --quick)")
    p.add_argument("--threads", default="1,2",
                   help="comma-separated thread counts (--orthogonal uses the largest)")
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats")
    p.add_argument("--orthogonal", action="store_true",
                   help="time Orthogonal (float32 and float64; --size, --dtype unused)")
    args = p.parse_args()
    args.size = args.size or (2**22 if args.quick else 2**26)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.threads = [int(t) for t in args.threads.split(",")]
    if args.size < 1 or args.repeats < 1 or min(args.threads) < 1:
        p.error("--size, --repeats and --threads must be positive")
    return args


def main():
    args = parse_args()
    fastinit.show_config()
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {nproc} CPUs (nproc), {cpu_model()}, load average {load:.2f} at start")
    started = time.perf_counter()
    (run_orthogonal if args.orthogonal else run_fills)(args)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
