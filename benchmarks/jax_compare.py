"""fastinit.jax against jax.nn.initializers, and a sharded table on 8 host devices, in one run.

    python benchmarks/jax_compare.py              # both tables (the sharded one: 2**28 float32)
    python benchmarks/jax_compare.py --quick      # 2**20 elements, orthogonal 512², 2**22 sharded

Table 1: uniform, normal, truncated_normal and glorot_uniform at 2**26 elements (8192x8192) and
orthogonal at 4096², float32 and bfloat16, each a new array: jax.nn.initializers under jax.jit
(compiled ahead of time), fastinit.jax under jax.jit (its XLA FFI call on the CPU; orthogonal:
its pure_callback), and fastinit.jax called eagerly (its host buffer adopted by the CPU device).  Each (library, case) runs in a fresh
process on every core: peak RSS above the output during the first call (VmHWM after
/proc/self/clear_refs, minus the RSS before, minus the output's bytes), then the median time of
--repeats calls.  Between two processes the script waits --settle seconds (default 3): on this
VM the memory a process frees is handed back to the host (virtio free-page reporting) for about a
second, and a process that starts meanwhile pays host page faults on its fresh buffers (measured:
a 128 MiB bfloat16 output at 155 ms a call for about a second after JAX's process exits, 13 ms
after a 3 s pause), which would charge one library for the memory of the one run before it.

Table 2: a 2**28-element float32 table (16384 x 16384, 1 GiB) sharded by rows over 8 host CPU
devices (XLA_FLAGS=--xla_force_host_platform_device_count=8): fastinit.jax.make_array against
JAX's own sharded init, jax.jit(init, out_shardings=sharding); time and peak RSS above the
array, one call each in a fresh process.
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
MiB = 2**20

CASES = {  # name -> (factory kwargs, shape)
    "uniform": ({"scale": 1.0}, (8192, 8192)),
    "normal": ({"stddev": 1.0}, (8192, 8192)),
    "truncated_normal": ({"stddev": 1.0}, (8192, 8192)),
    "glorot_uniform": ({}, (8192, 8192)),
    "orthogonal": ({}, (4096, 4096)),
}
QUICK = {"uniform": (1024, 1024), "normal": (1024, 1024), "truncated_normal": (1024, 1024),
         "glorot_uniform": (1024, 1024), "orthogonal": (512, 512)}
LIBS = ["jax", "fastinit.jax (jit)", "fastinit.jax (eager)"]

CHILD = r"""
import json, math, os, statistics, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from benchmarks import _helpers as h
lib, name, kwargs, shape, dtype, repeats = {args!r}
threads = len(os.sched_getaffinity(0))
if lib == "jax":
    call = h.jax_init(name, kwargs, shape, dtype, threads)
else:
    call = h.fastinit_jax_init(name, kwargs, shape, dtype, threads, jit=lib.endswith("(jit)"))
import jax.numpy as jnp
out_bytes = math.prod(shape) * jnp.dtype(dtype).itemsize
seconds, grown = h.first_call(call)
times = h.timed_calls(call, repeats)
print(json.dumps({{"extra": grown - out_bytes, "median": statistics.median(times + [seconds])}}))
"""

SHARDED = r"""
import json, math, os, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from benchmarks import _helpers as h
lib, shape = {args!r}
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
assert jax.device_count() == 8
sharding = NamedSharding(Mesh(np.array(jax.devices()), ("x",)), P("x", None))
key = jax.random.key(0)
if lib == "jax":
    init = jax.nn.initializers.normal(0.02)
    f = jax.jit(lambda k: init(k, shape, jnp.float32), out_shardings=sharding).lower(key).compile()
    call = lambda: f(key).block_until_ready()
else:
    import fastinit.jax as fj
    init = fj.normal(0.02)
    call = lambda: fj.make_array(init, shape, sharding, jnp.float32, key).block_until_ready()
seconds, grown = h.first_call(call)
print(json.dumps({{"extra": grown - math.prod(shape) * 4, "seconds": seconds}}))
"""


def child(code, env=None):
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})), timeout=3600)
    if r.returncode:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--no-sharded", action="store_true")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds to wait between two processes (see the module doc)")
    args = ap.parse_args()

    print(f"{'case':<18}{'dtype':<10}" + "".join(f"{lib:>24}" for lib in LIBS)
          + f"{'jax / fi(jit)':>15}{'jax / fi(eager)':>17}")
    print(f"{'':<28}" + "".join(f"{'ms  (+MiB over out)':>24}" for _ in LIBS))
    for name in args.cases.split(","):
        kwargs, shape = CASES[name]
        if args.quick:
            shape = QUICK[name]
        for dtype in ("float32", "bfloat16"):
            res = {}
            for lib in LIBS:
                time.sleep(args.settle)
                try:
                    res[lib] = child(CHILD.format(root=ROOT, bench=HERE, args=(
                        lib, name, kwargs, shape, dtype, args.repeats)))
                except RuntimeError as e:   # e.g. JAX's CPU QR has no bfloat16
                    res[lib] = {"error": str(e).strip().splitlines()[-1][:60]}
            cells = "".join(f"{1e3 * r['median']:>12.1f}  ({r['extra'] / MiB:>+7.1f})"
                            if "median" in r else f"{'unsupported':>24}" for r in res.values())
            ratios = "".join(
                f"{res['jax']['median'] / res[lib]['median']:>{w}.1f}x"
                if "median" in res["jax"] and "median" in res[lib] else f"{'-':>{w + 1}}"
                for lib, w in (("fastinit.jax (jit)", 14), ("fastinit.jax (eager)", 16)))
            print(f"{name:<18}{dtype:<10}{cells}{ratios}", flush=True)

    if args.no_sharded:
        return
    shape = (2048, 2048) if args.quick else (16384, 16384)
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    print(f"\nsharded normal(0.02), {shape} float32 over 8 host devices, rows sharded:")
    for lib in ("jax", "fastinit.jax"):
        time.sleep(args.settle)
        r = child(SHARDED.format(root=ROOT, bench=HERE, args=(lib, shape)), env)
        print(f"  {lib:<14}{r['seconds']:>8.2f} s   peak over the array {r['extra'] / MiB:>+8.1f} "
              f"MiB", flush=True)


if __name__ == "__main__":
    main()
