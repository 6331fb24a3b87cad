"""asv suites for fastinit.jax: jax.nn.initializers factories under jax.jit, fastinit.jax (jit and
eager) against JAX's own, and make_array against JAX's sharded init (over however many devices
this process has: set XLA_FLAGS=--xla_force_host_platform_device_count=8 before asv runs to get
8 host devices; with one device it measures the unsharded path).

Skipped (NotImplementedError in setup, asv's convention) when jax is not installed.
"""

import math

try:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    import fastinit.jax as fj
except ImportError:  # pragma: no cover - asv without the jax extra
    jax = None

FACTORIES = {
    "uniform": {"scale": 1.0},
    "normal": {"stddev": 1.0},
    "truncated_normal": {"stddev": 1.0},
    "glorot_uniform": {},
    "orthogonal": {},
}


class JaxInitializers:
    """A new array per call: jax.nn.initializers under jit against fastinit.jax under jit (its
    XLA FFI call on the CPU; orthogonal: its pure_callback) and called eagerly."""

    params = ([2**20, 2**24], ["float32", "bfloat16"], list(FACTORIES),
              ["jax", "fastinit-jit", "fastinit-eager"])
    param_names = ["size", "dtype", "factory", "library"]
    timeout = 600

    def setup(self, size, dtype, factory, library):
        if jax is None:
            raise NotImplementedError("jax is not installed")
        if factory == "orthogonal" and (size > 2**22 or (library == "jax" and
                                                          dtype == "bfloat16")):
            raise NotImplementedError("orthogonal: 2**20 only; JAX's CPU QR has no bfloat16")
        side = math.isqrt(size)
        shape, dt = (side, side), jnp.dtype(dtype)
        module = jax.nn.initializers if library == "jax" else fj
        init = getattr(module, factory)(**FACTORIES[factory])
        self.key = jax.random.key(0)
        if library == "fastinit-eager":
            self.call = lambda: init(self.key, shape, dt).block_until_ready()
        else:
            compiled = jax.jit(lambda k: init(k, shape, dt)).lower(self.key).compile()
            self.call = lambda: compiled(self.key).block_until_ready()
        self.call()

    def time_init(self, size, dtype, factory, library):
        self.call()

    def peakmem_init(self, size, dtype, factory, library):
        self.call()


class JaxSharded:
    """A row-sharded float32 normal table over every device: fastinit.jax.make_array against
    jax.jit(init, out_shardings=...)."""

    params = ([2**22, 2**26], ["jax", "fastinit"])
    param_names = ["size", "library"]
    timeout = 600

    def setup(self, size, library):
        if jax is None:
            raise NotImplementedError("jax is not installed")
        side = math.isqrt(size)
        shape = (side, side)
        sharding = NamedSharding(Mesh(np.array(jax.devices()), ("x",)),
                                 PartitionSpec("x", None))
        key = jax.random.key(0)
        if library == "jax":
            init = jax.nn.initializers.normal(0.02)
            f = jax.jit(lambda k: init(k, shape, jnp.float32),
                        out_shardings=sharding).lower(key).compile()
            self.call = lambda: f(key).block_until_ready()
        else:
            init = fj.normal(0.02)
            self.call = lambda: fj.make_array(init, shape, sharding, jnp.float32,
                                              key).block_until_ready()
        self.call()

    def time_make(self, size, library):
        self.call()

    def peakmem_make(self, size, library):
        self.call()
