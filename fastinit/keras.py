"""fastinit.keras: fastinit's initializers through Keras's saving machinery, both ways.

Install with ``pip install "fastinit-keras[keras]"``.  Importing this module registers every
fastinit initializer with Keras under ``"fastinit>ClassName"`` (`register`), so that configs
and saved models that use them come back as fastinit classes through every Keras path:
`keras.saving.serialize_keras_object` / `deserialize_keras_object`,
`keras.initializers.serialize` / `deserialize` / `get`, `Layer.get_config` /
`Layer.from_config` and `keras.models.save_model` / `load_model`.

A process without fastinit (or that has not imported this module) loads the same files with
Keras's own class of the same name and config: `keras.initializers.deserialize`, `get`,
`Layer.from_config` and `load_model` find the class by its name ("GlorotUniform") among
Keras's initializers.  Only the generic `keras.saving.deserialize_keras_object` cannot: it
looks up the registered name, and raises Keras's "Could not locate class" error.

``import fastinit`` never imports Keras; this module does.
"""

from __future__ import annotations

from typing import Any

from fastinit._extras import DISTRIBUTION_NAME, install_hint, require

INSTALL_HINT = install_hint("keras", "Keras 3", "keras")
_keras = require("keras", INSTALL_HINT)

from fastinit.initializers import ALL_OBJECTS, Initializer, StreamInitializer  # noqa: E402

#: The package part of the registered names: "fastinit>GlorotUniform".
PACKAGE = "fastinit"

#: The classes `register` registers: the Keras-named initializers and StreamInitializer.
#: (The base class `Initializer` is Keras's own name too, but a config of it carries nothing.)
CLASSES: tuple[type[Initializer], ...] = tuple(
    c for c in ALL_OBJECTS if c is not Initializer) + (StreamInitializer,)

__all__ = ["register", "unregister", "is_registered", "registered_name", "CLASSES", "PACKAGE"]


def registered_name(cls: type[Initializer]) -> str:
    """The name `register` gives `cls` in Keras: ``"fastinit>" + cls.__name__``."""
    return f"{PACKAGE}>{cls.__name__}"


def register() -> None:
    """Register fastinit's initializers with Keras (idempotent; importing this module does it).

    From then on Keras serializes a fastinit initializer with ``registered_name``
    ``"fastinit>ClassName"`` and deserializes that name to the fastinit class.  A config
    written before registering carries the bare class name, which Keras's initializer paths
    resolve to Keras's own class of that name.
    """
    for cls in CLASSES:
        _keras.saving.register_keras_serializable(package=PACKAGE)(cls)


def unregister() -> None:
    """Undo `register`: Keras forgets the ``"fastinit>..."`` names (they load as Keras's own
    classes again, and fastinit initializers serialize under their bare class names)."""
    objects = _keras.saving.get_custom_objects()
    names = _custom_names()
    for cls in CLASSES:
        if objects.get(registered_name(cls)) is cls:
            del objects[registered_name(cls)]
        if names.get(cls) == registered_name(cls):
            del names[cls]


def is_registered() -> bool:
    """True when every fastinit initializer is registered with Keras under its fastinit name."""
    objects = _keras.saving.get_custom_objects()
    return all(objects.get(registered_name(c)) is c
               and _keras.saving.get_registered_name(c) == registered_name(c) for c in CLASSES)


def _custom_names() -> dict[Any, str]:
    # Keras keeps class -> name in a second dict, which has no public accessor (only
    # register_keras_serializable writes it); get_registered_name reads it.
    from keras.src.saving import object_registration

    names: dict[Any, str] = object_registration.GLOBAL_CUSTOM_NAMES
    return names


register()
