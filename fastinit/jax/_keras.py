"""Keras 3 on the JAX backend: fastinit initializers whose weights are the same for any layout.

Keras's JAX variable (keras/src/backend/jax/core.py, ``JaxVariable._initialize_with_initializer``)
has one hook for this: when the variable has a layout (a ``keras.distribution`` distribution is
set) and the initializer's ``__call__`` accepts a ``layout`` argument, Keras calls
``initializer(shape, dtype=dtype, layout=NamedSharding(abstract_mesh, spec))`` eagerly, inside
``jax.set_mesh(mesh)``, and takes the returned array as the variable's value.  `KerasInitializer`
answers that call with `make_array` on the concrete mesh, so every device generates only its own
shard and the global weights do not depend on the layout.  Without a layout it returns the whole
array.  No Keras import is needed here: Keras only inspects the signature.
"""

from __future__ import annotations

from typing import Any

import jax

import fastinit
from fastinit._validation import check_shape, resolve_dtype
from fastinit.jax._arrays import aligned_empty, to_jax
from fastinit.jax._sharded import make_array

__all__ = ["KerasInitializer", "keras_initializer"]


class KerasInitializer:
    """A fastinit initializer as a Keras 3 (JAX backend) initializer that honours layouts.

    ``keras.layers.Dense(n, kernel_initializer=fastinit.jax.keras_initializer(
    fastinit.GlorotUniform(seed=0)))``: under ``keras.distribution.ModelParallel`` (any
    ``LayoutMap``) each device's shard is generated alone, and the global kernel is the same
    array, bit for bit, for every mesh and layout, equal to ``fastinit.GlorotUniform(seed=0)
    (shape)``.  The seed is the wrapped initializer's (Keras does not give an initializer the
    variable's name): give each weight its own, e.g. ``seed=fastinit.seed_for_name(s, path)``.
    """

    def __init__(self, initializer: fastinit.Initializer) -> None:
        if not isinstance(initializer, fastinit.Initializer):
            raise TypeError("Argument `initializer` must be a fastinit.Initializer. "
                            f"Received: initializer={initializer!r}")
        self.initializer = initializer

    def __call__(self, shape: Any, dtype: Any = None, layout: Any = None) -> jax.Array:
        if layout is None:
            checked = check_shape(tuple(shape))
            dt = resolve_dtype(dtype, kind=self.initializer._dtype_kind)
            out = aligned_empty(checked, dt)            # adopted by a CPU device, no copy
            return to_jax(self.initializer(checked, dt, out=out))
        return make_array(self.initializer, shape, _concrete(layout), dtype, None)

    def get_config(self) -> dict[str, Any]:
        return {"initializer": fastinit.serialize(self.initializer)}

    def __repr__(self) -> str:
        return f"KerasInitializer({self.initializer!r})"


def _concrete(layout: Any) -> jax.sharding.Sharding:
    """Keras passes a NamedSharding over an *abstract* mesh; its devices are those of the mesh
    set by ``jax.set_mesh`` around the call."""
    if not isinstance(layout, jax.sharding.NamedSharding):
        if isinstance(layout, jax.sharding.Sharding):
            return layout
        raise TypeError(f"Argument `layout` must be a jax.sharding.Sharding. "
                        f"Received: layout={layout!r}")
    if isinstance(layout.mesh, jax.sharding.Mesh):
        return layout
    get_mesh = getattr(jax.sharding, "get_mesh", None)
    mesh = get_mesh() if get_mesh is not None else None
    if not isinstance(mesh, jax.sharding.Mesh) or mesh.empty:
        raise ValueError("fastinit.jax: Keras passed a layout over an abstract mesh and no "
                         "concrete mesh is set (jax.set_mesh)")
    return jax.sharding.NamedSharding(mesh, layout.spec)


def keras_initializer(initializer: fastinit.Initializer) -> KerasInitializer:
    """`KerasInitializer(initializer)`: see its docstring."""
    return KerasInitializer(initializer)

