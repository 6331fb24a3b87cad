"""fastinit.jax.make_array over 8 host devices: bit-identical global arrays for every mesh and
partition spec, equal to the unsharded result, each callback generating only its shard.

XLA_FLAGS=--xla_force_host_platform_device_count=8 must be set before jax initializes its
backends, and this pytest process has jax already initialized (Keras's numpy backend, the other
jax tests) with one device: the checks run in a fresh subprocess."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("jax")

from tests.test_adapters_absent import FASTINIT_DIR, ROOT  # noqa: E402

SCRIPT = r"""
import itertools, json, sys
import numpy as np
import jax, jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import fastinit, fastinit.jax as fj
from fastinit.jax import _sharded

assert jax.device_count() == 8, jax.devices()
devices = np.array(jax.devices())
MESHES = {(8,): ("x",), (2, 4): ("x", "y"), (4, 2): ("x", "y"), (1, 8): ("x", "y")}
SPECS = {1: [P(), P("x")], 2: [P(), P("x"), P("x", "y"), P("y", "x"), P(None, "y"), P(("x", "y")),
                              P(None, ("x", "y")), P(("y", "x"), None)]}
shape = (64, 48)
key = jax.random.key(42)
results = {}
INITS = {"glorot_uniform": fj.glorot_uniform(), "truncated_normal": fj.truncated_normal(0.02),
         "normal": fj.normal(1.0), "orthogonal": fj.orthogonal(), "ones": fj.ones,
         "keras_he_normal": fastinit.HeNormal(seed=3)}
for dtype in ("float32", "bfloat16"):
    for name, init in INITS.items():
        if name.startswith("keras"):
            unsharded = init(shape, dtype); k = None
        else:
            unsharded = np.asarray(init(key, shape, dtype)); k = key
        n = 0
        for mshape, axes in MESHES.items():
            mesh = Mesh(devices.reshape(mshape), axes)
            for spec in SPECS[len(mshape)]:
                if any(a not in axes for e in spec if e is not None
                       for a in (e if isinstance(e, tuple) else (e,))):
                    continue
                sharding = NamedSharding(mesh, spec)
                if name == "orthogonal" and spec != P():
                    continue        # computed whole per callback: checked replicated only
                arr = fj.make_array(init, shape, sharding, dtype, k)
                assert arr.sharding == sharding and arr.dtype == jnp.dtype(dtype)
                assert np.asarray(arr).tobytes() == unsharded.tobytes(), (name, mshape, spec)
                for s in arr.addressable_shards:       # each shard is its own piece
                    assert np.asarray(s.data).tobytes() == np.ascontiguousarray(
                        unsharded[s.index]).tobytes()
                n += 1
        results[f"{name}/{dtype}"] = n

# out_sharding= on the initializer itself goes the same way
mesh = Mesh(devices.reshape(2, 4), ("x", "y"))
s = NamedSharding(mesh, P("y", "x"))
a = fj.glorot_normal()(key, shape, jnp.bfloat16, out_sharding=s)
assert a.sharding == s and np.asarray(a).tobytes() == np.asarray(
    fj.glorot_normal()(key, shape, jnp.bfloat16)).tobytes()

# each callback allocates only its shard: record (index, nbytes) of every callback's result
calls = []
orig = jax.make_array_from_callback
def spy(shape_, sharding_, cb, dtype=None):
    def rec(index):
        out = cb(index)
        calls.append((index, out.nbytes, out.shape))
        return out
    return orig(shape_, sharding_, rec, dtype=dtype)
_sharded.jax.make_array_from_callback = spy
big = (4096, 1024)
sharding = NamedSharding(Mesh(devices.reshape(2, 4), ("x", "y")), P("x", "y"))
arr = fj.make_array(fj.normal(0.02), big, sharding, jnp.float32, 7)
_sharded.jax.make_array_from_callback = orig
assert len(calls) == 8, calls
for index, nbytes, pshape in calls:
    assert pshape == (2048, 256) and nbytes == 2048 * 256 * 4, (index, nbytes)
# the shards JAX holds are the callbacks' buffers (adopted, not copied)
ptrs = sorted(sh.data.unsafe_buffer_pointer() for sh in arr.addressable_shards)
assert all(p % 64 == 0 for p in ptrs)
print(json.dumps(results))
"""


def test_make_array_over_meshes_and_specs():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
               JAX_PLATFORMS="cpu",
               PYTHONPATH=str(FASTINIT_DIR.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    import json
    counts = json.loads(r.stdout.strip().splitlines()[-1])
    # every (mesh, spec) combination ran: 2 specs on (8,), 8 on each 2-D mesh
    assert counts["glorot_uniform/float32"] == 2 + 3 * 8
    assert counts["orthogonal/bfloat16"] == 4
    assert len(counts) == 12


KERAS_SCRIPT = r"""
import os
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, jax, keras, fastinit, fastinit.jax as fj
assert jax.device_count() == 8
devices = keras.distribution.list_devices()
ref = fastinit.GlorotUniform(seed=5)((32, 64))
n = 0
for mshape, spec in [((2, 4), (None, "model")), ((4, 2), ("model", None)),
                     ((1, 8), ("batch", "model")), ((8, 1), (None, None)),
                     ((2, 4), ("model", "batch"))]:
    mesh = keras.distribution.DeviceMesh(mshape, ["batch", "model"], devices)
    lm = keras.distribution.LayoutMap(mesh)
    lm["d.*kernel"] = spec
    keras.distribution.set_distribution(
        keras.distribution.ModelParallel(layout_map=lm, batch_dim_name="batch"))
    layer = keras.layers.Dense(
        64, kernel_initializer=fj.keras_initializer(fastinit.GlorotUniform(seed=5)), name="d")
    layer.build((None, 32))
    v = layer.kernel.value
    assert tuple(v.sharding.spec) == spec, v.sharding     # Keras's layout, not replicated
    assert np.asarray(v).tobytes() == ref.tobytes(), (mshape, spec)
    for s in v.addressable_shards:
        assert np.asarray(s.data).tobytes() == np.ascontiguousarray(ref[s.index]).tobytes()
    n += 1
keras.distribution.set_distribution(None)
init = fj.keras_initializer(fastinit.GlorotUniform(seed=5))
layer = keras.layers.Dense(64, kernel_initializer=init)
layer.build((None, 32))
assert np.asarray(layer.kernel.value).tobytes() == ref.tobytes()
print(n)
"""


def test_keras_model_parallel_layouts_get_identical_weights():
    if importlib.util.find_spec("keras") is None:    # not imported here: its backend is
        pytest.skip("keras is not installed")          # chosen at import (jax in the child)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
               JAX_PLATFORMS="cpu", KERAS_BACKEND="jax",
               PYTHONPATH=str(FASTINIT_DIR.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(KERAS_SCRIPT)], capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    assert r.stdout.strip().splitlines()[-1] == "5"
