"""Orthogonal: fastinit (Stewart + blocked WY) vs the numpy/Keras recipe, PyTorch and JAX.

Each (shape, dtype, library) runs in its own subprocess so that peak memory is that library's
alone: after a warm-up at half the size (JAX: the same shape, to compile it) the child records
VmRSS, resets its high-water mark (/proc/self/clear_refs = 5; ru_maxrss would start at the
parent's RSS) and reports (VmHWM - VmRSS before) / output bytes for the first timed call, plus
the wall time of --repeats calls.  The libraries take turns in --rounds rounds (one subprocess per
library per round), so load from other processes hits them alike; the table gives the median of
all timed calls.  JAX's peak is understated: its allocator reuses the warm-up's buffers.  Every library runs at
the same thread count (--threads, default os.cpu_count()): BLAS pools via threadpoolctl (scipy's
and numpy's OpenBLAS), fastinit's OpenMP via fastinit.set_num_threads, torch.set_num_threads,
and XLA's CPU client via XLA_FLAGS when --threads is 1.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/orthogonal_compare.py

Libraries:
  fastinit  fastinit.Orthogonal(seed=0)(shape, dtype)
  numpy     Keras's recipe on numpy: default_rng().standard_normal((max, min), dtype),
            np.linalg.qr, q *= sign(diag r), transpose for wide shapes
  torch     torch.nn.init.orthogonal_(torch.empty(shape, dtype=...))  (skipped if not installed)
  jax       jax.jit(jax.nn.initializers.orthogonal())(key, shape, dtype), compiled during the
            warm-up; float64 needs jax_enable_x64                    (skipped if not installed)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap

CASES = [((1024, 1024), "float32"), ((1024, 1024), "float64"),
         ((2048, 2048), "float32"), ((2048, 2048), "float64"),
         ((4096, 4096), "float32"), ((4096, 4096), "float64"),
         ((65536, 256), "float32"), ((65536, 256), "float64")]
LIBS = ("fastinit", "numpy", "torch", "jax")

CHILD = textwrap.dedent(r"""
    import json, os, statistics, sys, time
    lib, rows, cols, dtype, threads, repeats = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                               sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    if lib == "jax":
        os.environ["JAX_PLATFORMS"] = "cpu"
        if threads == 1:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    import numpy as np
    import scipy.linalg  # loads scipy's OpenBLAS now: threadpoolctl only limits loaded libraries
    from threadpoolctl import threadpool_info, threadpool_limits

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024

    shape = (rows, cols)
    if lib == "fastinit":
        import fastinit
        import fastinit._orthogonal  # its LAPACK/BLAS module, before threadpool_limits
        fastinit.set_num_threads(threads)
        init = fastinit.Orthogonal(seed=0)
        def run(shape):
            return init(shape, dtype=dtype)
    elif lib == "numpy":
        def run(shape):
            r, c = shape
            a = np.random.default_rng(0).standard_normal((max(r, c), min(r, c)), dtype=dtype)
            q, rr = np.linalg.qr(a)
            q *= np.sign(np.diag(rr))
            return q.T if r < c else q
    elif lib == "torch":
        import torch
        torch.set_num_threads(threads)
        tdt = getattr(torch, dtype)
        def run(shape):
            return torch.nn.init.orthogonal_(torch.empty(shape, dtype=tdt))
    elif lib == "jax":
        import jax
        if dtype == "float64":
            jax.config.update("jax_enable_x64", True)
        f = jax.jit(jax.nn.initializers.orthogonal(), static_argnums=(1, 2))
        key = jax.random.key(0)
        jdt = getattr(jax.numpy, dtype)
        def run(shape):
            return f(key, shape, jdt).block_until_ready()
    with threadpool_limits(threads, user_api="blas"):
        run(shape if lib == "jax" else (max(rows // 2, 1), max(cols // 2, 1)))
        pools = {(p["internal_api"], p["num_threads"]) for p in threadpool_info()
                 if p["user_api"] == "blas"}
        assert all(n == threads for _, n in pools), pools
        before = status("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            reset = True
        except OSError:
            reset = False
        t = time.perf_counter()
        out = run(shape)
        times = [time.perf_counter() - t]
        peak = status("VmHWM") if reset else float("nan")
        nbytes = rows * cols * np.dtype(dtype).itemsize
        del out
        for _ in range(repeats - 1):
            t = time.perf_counter()
            out = run(shape)
            times.append(time.perf_counter() - t)
            del out
    print(json.dumps({"median": statistics.median(times), "times": times,
                      "peak_over_output": (peak - before) / nbytes}))
""")


def have(mod):
    try:
        __import__(mod)
        return True
    except Exception:
        return False


def run_case(lib, shape, dtype, threads, repeats):
    res = subprocess.run([sys.executable, "-c", CHILD, lib, str(shape[0]), str(shape[1]), dtype,
                          str(threads), str(repeats)], capture_output=True, text=True)
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
    libs = [lib for lib in args.libs.split(",") if lib in ("fastinit", "numpy") or have(lib)]
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
    main()
