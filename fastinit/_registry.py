"""`get`, `serialize` and `deserialize`, with Keras's names and config format.

Configs are Keras's: `serialize` gives `{"module": "keras.initializers", "class_name": ...,
"config": ..., "registered_name": None}`, which `keras.initializers.deserialize` reads, and
`deserialize` reads what Keras writes (including the legacy form without "module", snake_case
class names, and numpy/tensor values inside a Constant's config).
"""

import inspect

import numpy as np

from fastinit.initializers import ALL_OBJECTS_DICT, Initializer, RandomInitializer
from fastinit._validation import check_shape


def serialize(initializer):
    """Returns the initializer configuration as a Python dict (Keras's format)."""
    if not isinstance(initializer, Initializer):
        raise TypeError(
            "Argument `initializer` must be a fastinit initializer. "
            f"Received: initializer={initializer!r}"
        )
    return {
        "module": "keras.initializers",
        "class_name": initializer.__class__.__name__,
        "config": initializer.get_config(),
        "registered_name": None,
    }


def deserialize(config, custom_objects=None):
    """Returns an initializer from a config dict (or a name).

    Args:
        config: `{"class_name": name, "config": {...}}` (the "module" and "registered_name"
            keys are optional), or a name string.
        custom_objects: Optional dict mapping extra names to initializer classes.
    """
    if isinstance(config, str):
        config = {"class_name": config, "config": {}}
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Argument `config` must be a dict with a 'class_name' key or a name string. "
            f"Received: config={config!r}"
        )
    name = config["class_name"]
    objects = dict(ALL_OBJECTS_DICT)
    if custom_objects:
        objects.update(custom_objects)
    cls = objects.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"Could not interpret initializer identifier: {name!r}")
    cfg = config.get("config") or {}
    if not isinstance(cfg, dict):
        raise ValueError(f"The 'config' of {name!r} must be a dict. Received: {cfg!r}")
    return cls.from_config(dict(cfg))


def get(identifier):
    """Retrieves an initializer from an identifier.

    The identifier may be None (returns None), a name string (case-sensitive, Keras's names and
    aliases), a config dict, an initializer class (instantiated with no arguments), any other
    callable (returned as is), or a NumPy array (an initializer that returns it for its exact
    shape, cast to the requested dtype).
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = deserialize({"class_name": identifier, "config": {}})
    elif isinstance(identifier, (np.ndarray, np.generic)):
        value = np.asarray(identifier)

        def initialize_fn(shape, dtype=None):
            from fastinit._validation import resolve_dtype

            if check_shape(shape) != value.shape:
                raise ValueError(
                    f"Expected `shape` to be {value.shape} for direct tensor as initializer. "
                    f"Received shape={shape}"
                )
            return value.astype(resolve_dtype(dtype, kind="any"))

        obj = initialize_fn
    else:
        obj = identifier
    if callable(obj):
        if inspect.isclass(obj):
            obj = obj()
        return obj
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


def resolve_initializer(initializer, seed=None):
    """An initializer instance from an instance or anything `fastinit.get` accepts.

    `seed`, when not None, becomes the seed of a random initializer given by name or config
    (it is ignored by the non-random ones: Constant, Zeros, Ones, Identity).  Giving both an
    instance and a seed is an error: seed the instance instead.
    """
    if initializer is None:
        raise TypeError("Argument `initializer` must be an initializer or a name, not None")
    by_name = isinstance(initializer, (str, dict))
    if isinstance(initializer, str):
        initializer = {"class_name": initializer, "config": {}}
    if by_name and seed is not None:
        initializer = dict(initializer)
        cfg = dict(initializer.get("config") or {})
        cls = ALL_OBJECTS_DICT.get(initializer.get("class_name"))
        if isinstance(cls, type) and issubclass(cls, RandomInitializer):
            cfg["seed"] = seed
        initializer["config"] = cfg
    elif seed is not None:
        raise ValueError(
            "Argument `seed` only applies when `initializer` is a name or a config dict; "
            f"seed the instance instead. Received: initializer={initializer!r}, seed={seed!r}"
        )
    obj = get(initializer)
    if not callable(obj):
        raise TypeError(f"Could not interpret initializer identifier: {initializer!r}")
    if not isinstance(obj, Initializer) and by_name:
        raise TypeError(f"Could not interpret initializer identifier: {initializer!r}")
    return obj
