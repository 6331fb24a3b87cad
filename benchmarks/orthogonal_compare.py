"""Orthogonal: fastinit (Stewart + blocked WY) vs the numpy/Keras recipe, PyTorch and JAX.

Each (shape, dtype, library) runs in its own subprocess (this script, with --child) so that peak
memory is that library's alone: after a warm-up at half the size (JAX compiles for the measured
shape ahead of time, outside the measurement) the child resets its high-water mark
(/proc/self/clear_refs = 5; ru_maxrss would start at the parent's RSS) and reports
(VmHWM - VmRSS before) / output bytes for the first timed call, plus the wall time of --repeats
calls.  The libraries take turns in --rounds rounds (one subprocess per library per round), so
load from other processes hits them alike; the table gives the median of all timed calls.  Every
library runs at the same thread count (--threads, default os.cpu_count()): BLAS pools via
threadpoolctl (scipy's and numpy's OpenBLAS), fastinit's OpenMP via fastinit.set_num_threads,
torch.set_num_threads, and XLA's CPU client by pinning the process to that many CPUs (and
XLA_FLAGS at one thread).  The initializers, thread limits and measurements are those of
compare.py --orthogonal (benchmarks/benchmarks/_helpers.py).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/orthogonal_compare.py

Libraries:
  fastinit  fastinit.Orthogonal(seed=0)(shape, dtype)
  numpy     Keras's recipe on numpy: default_rng().standard_normal((max, min), dtype),
            np.linalg.qr, q *= sign(diag r), transpose for wide shapes
  torch     torch.nn.init.orthogonal_(torch.empty(shape, dtype=...))  (skipped if not installed)
  jax       jax.jit(jax.nn.initializers.orthogonal())(key, shape, dtype), compiled ahead of
            time; float64 needs jax_enable_x64                       (skipped if not installed)
"""

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys

import numpy as np

from benchmarks._helpers import (
    ORTHOGONAL_FACTORIES,
    ORTHOGONAL_SHAPES,
    first_call,
    installed,
    limit_jax_threads,
    timed_calls,
)

CASES = [(shape, dtype) for shape in ORTHOGONAL_SHAPES for dtype in ("float32", "float64")]
LIBS = tuple(ORTHOGONAL_FACTORIES)
# The module that loads each library's BLAS: threadpoolctl only limits the libraries loaded.
BLAS_MODULES = {"fastinit": "fastinit._orthogonal", "numpy": "numpy", "torch": "torch",
                "jax": "jax"}


def child(lib, rows, cols, dtype, threads, repeats):
    """One (library, shape, dtype), in this fresh process: prints its times and peak as JSON."""
    rows, cols, threads, repeats = int(rows), int(cols), int(threads), int(repeats)
    if lib == "jax":
        limit_jax_threads(threads)
    import scipy.linalg  # noqa: F401  (scipy's OpenBLAS, loaded before threadpool_limits)
    from threadpoolctl import threadpool_info, threadpool_limits

    importlib.import_module(BLAS_MODULES[lib])
    factory = ORTHOGONAL_FACTORIES[lib]
    with threadpool_limits(threads, user_api="blas"):
        factory((max(rows // 2, 1), max(cols // 2, 1)), dtype, threads)()
        pools = {(p["internal_api"], p["num_threads"]) for p in threadpool_info()
                 if p["user_api"] == "blas"}
        assert all(n == threads for _, n in pools), pools
        call = factory((rows, cols), dtype, threads)
        first, growth = first_call(call)
        times = [first] + timed_calls(call, repeats - 1)
    nbytes = rows * cols * np.dtype(dtype).itemsize
    print(json.dumps({"median": statistics.median(times), "times": times,
                      "peak_over_output": growth / nbytes}))


def run_case(lib, shape, dtype, threads, repeats):
    res = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", lib,
                          str(shape[0]), str(shape[1]), dtype, str(threads), str(repeats)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per subprocess")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument("--cases", default="all",
                    help="comma-separated ROWSxCOLS:dtype, e.g. 2048x2048:float32")
    ap.add_argument("--json", help="write the raw results here")
    args = ap.parse_args(argv)
    libs = [lib for lib in args.libs.split(",") if lib in ("fastinit", "numpy") or installed(lib)]
    cases = CASES
    if args.cases != "all":
        cases = []
        for c in args.cases.split(","):
            s, dt = c.split(":")
            r, cc = s.split("x")
            cases.append(((int(r), int(cc)), dt))
    print(f"threads={args.threads} repeats={args.repeats} libs={libs} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}", flush=True)
    results = []
    head = ("| shape | dtype | " + " | ".join(f"{lib} s" for lib in libs)
            + " | " + " | ".join(f"{lib}/fastinit" for lib in libs if lib != "fastinit")
            + " | " + " | ".join(f"{lib} peak/out" for lib in libs) + " |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for shape, dtype in cases:
        row = {"shape": shape, "dtype": dtype}
        for rnd in range(args.rounds):
            for lib in libs:
                r = run_case(lib, shape, dtype, args.threads, args.repeats)
                if "error" in r:
                    row[lib] = r
                elif rnd == 0:
                    row[lib] = r
                elif "error" not in row[lib]:
                    row[lib]["times"] += r["times"]
        for lib in libs:
            if "times" in row[lib]:
                row[lib]["median"] = statistics.median(row[lib]["times"])
        results.append(row)

        def t(lib):
            r = row[lib]
            return r.get("median", float("nan"))

        cells = [f"{shape[0]}x{shape[1]}", dtype]
        cells += [f"{t(lib):.3f}" if "median" in row[lib] else row[lib]["error"][:30]
                  for lib in libs]
        cells += [f"{t(lib) / t('fastinit'):.2f}x" for lib in libs if lib != "fastinit"]
        cells += [f"{row[lib].get('peak_over_output', float('nan')):.2f}" for lib in libs]
        print("| " + " | ".join(cells) + " |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "results": results}, f, indent=1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:])
    else:
        main()
