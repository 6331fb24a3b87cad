"""`get`, `serialize` and `deserialize`, with Keras's names and config format.

Configs are Keras's: `serialize` gives `{"module": "keras.initializers", "class_name": ...,
"config": ..., "registered_name": None}`, which `keras.initializers.deserialize` reads, and
`deserialize` reads what Keras writes (including the legacy form without "module", snake_case
class names, and numpy/tensor values inside a Constant's config).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast, overload

import numpy as np
import numpy.typing as npt

from fastinit._messages import unknown_identifier
from fastinit.initializers import ALL_OBJECTS_DICT, Initializer
from fastinit._typing import SeedLike, ShapeLike
from fastinit._validation import check_shape

_I = TypeVar("_I", bound=Initializer)


class _UnknownName(ValueError):
    """No initializer has the config's class name."""


def serialize(initializer: Initializer) -> dict[str, Any]:
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


def deserialize(config: str | dict[str, Any],
                custom_objects: Mapping[str, type[Initializer]] | None = None) -> Initializer:
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
        # (keras.initializers.deserialize returns the unknown name itself; its `get` raises)
        raise _UnknownName(unknown_identifier(name))
    cfg = config.get("config") or {}
    if not isinstance(cfg, dict):
        raise ValueError(f"The 'config' of {name!r} must be a dict. Received: {cfg!r}")
    return cls.from_config(dict(cfg))


@overload
def get(identifier: None) -> None: ...
@overload
def get(identifier: str | dict[str, Any]) -> Initializer: ...
@overload
def get(identifier: type[_I]) -> _I: ...
@overload
def get(identifier: _I) -> _I: ...
@overload
def get(identifier: npt.NDArray[Any] | np.generic) -> Callable[..., npt.NDArray[Any]]: ...
@overload
def get(identifier: Callable[..., Any]) -> Callable[..., Any]: ...


def get(identifier: object) -> Callable[..., Any] | None:
    """Retrieves an initializer from an identifier.

    The identifier may be None (returns None), a name string (case-sensitive, Keras's names and
    aliases), a config dict, an initializer class (instantiated with no arguments), any other
    callable (returned as is), or a NumPy array (an initializer that returns it for its exact
    shape, cast to the requested dtype).
    """
    if identifier is None:
        return None
    obj: object
    if isinstance(identifier, (dict, str)):
        try:
            obj = deserialize(identifier if isinstance(identifier, dict)
                              else {"class_name": identifier, "config": {}})
        except _UnknownName:  # Keras's message names what `get` was given
            raise ValueError(unknown_identifier(identifier)) from None
    elif isinstance(identifier, (np.ndarray, np.generic)):
        value = np.asarray(identifier)

        def initialize_fn(shape: ShapeLike,
                          dtype: npt.DTypeLike | None = None) -> npt.NDArray[Any]:
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
    raise ValueError(unknown_identifier(identifier))


def resolve_initializer(initializer: Callable[..., Any] | str | dict[str, Any],
                        seed: SeedLike = None) -> Callable[..., Any]:
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
        initializer = dict(cast("dict[str, Any]", initializer))  # a dict, as by_name
        cfg = dict(initializer.get("config") or {})
        # (a missing or non-str name finds nothing)
        cls = ALL_OBJECTS_DICT.get(cast(str, initializer.get("class_name")))
        if isinstance(cls, type) and "seed" in inspect.signature(cls).parameters:
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
