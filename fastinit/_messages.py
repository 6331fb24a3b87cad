"""Keras's own error sentences, for the checks Keras makes too.

Where keras/src/initializers raises for a check, fastinit's message for the same check begins
with Keras's exact text (its spacing, its str() formatting, its set of choices as Keras prints
it), so that code and tests matching Keras's message match fastinit's; fastinit then adds what
Keras leaves out, always ending with ``Received: name=repr(value)``.
tests/test_keras_messages.py enumerates Keras's raise statements and checks each prefix.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Iterable

KERAS_MODES = ("fan_in", "fan_out", "fan_avg")
KERAS_DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")


def keras_set(choices: tuple[str, ...]) -> str:
    """str() of VarianceScaling's set of `choices`, exactly as Keras prints it in this process.

    Keras's set literal is compiled to a frozenset constant and copied into a new set; its
    printed order depends on the hash seed and on the element order stored in Keras's .pyc, so
    no constant of fastinit's can reproduce it.  When Keras's module is loaded (the only time a
    Keras message exists to compare with), the same copy of Keras's own constant gives the same
    text; otherwise the choices print in Keras's source order.
    """
    module = sys.modules.get("keras.src.initializers.random_initializers")
    code = getattr(getattr(getattr(module, "VarianceScaling", None), "__init__", None),
                   "__code__", None)
    for const in getattr(code, "co_consts", ()):
        if isinstance(const, frozenset) and const == frozenset(choices):
            copy: set[str] = set()
            copy.update(const)  # what Keras's BUILD_SET + SET_UPDATE does
            return str(copy)
    return "{" + ", ".join(map(repr, choices)) + "}"


def with_received(keras_text: str, name: str, value: object) -> str:
    """`keras_text`, then `` Received: name=repr(value)`` unless it already ends with that."""
    received = f"{name}={value!r}"
    if keras_text.endswith(received):
        return keras_text
    return f"{keras_text}{' ' if keras_text.endswith('.') else '. '}Received: {received}"


def _also(choices: Iterable[str], keras_choices: tuple[str, ...]) -> str:
    extra = [c for c in choices if c not in keras_choices]
    return f" (fastinit also accepts {', '.join(map(repr, extra))})" if extra else ""


def invalid_mode(mode: object, modes: Iterable[str]) -> str:
    """VarianceScaling's `mode` check; `modes` are fastinit's (a superset of Keras's)."""
    text = f"Invalid `mode` argument: {mode}. Please use one of {keras_set(KERAS_MODES)}"
    return with_received(text + _also(modes, KERAS_MODES), "mode", mode)


def invalid_distribution(distribution: object, distributions: Iterable[str]) -> str:
    """VarianceScaling's `distribution` check.  Keras shows the lower-cased name and puts no
    space after its first full stop."""
    shown = distribution.lower() if isinstance(distribution, str) else distribution
    text = (f"Invalid `distribution` argument: {shown}."
            f"Please use one of {keras_set(KERAS_DISTRIBUTIONS)}")
    return with_received(text + _also(distributions, KERAS_DISTRIBUTIONS),
                         "distribution", distribution)


def bad_scale(scale: object) -> str:
    """VarianceScaling's `scale` check (Keras: ``scale <= 0.0``; fastinit also rejects NaN,
    inf and non-numbers)."""
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        # Keras's `scale <= 0.0` raises Python's own TypeError here: no Keras text to start with
        return f"Argument `scale` must be positive float. Received: scale={scale!r}"
    return with_received(f"Argument `scale` must be positive float. Received: scale={scale}",
                         "scale", scale)


def bad_seed_type(seed: object) -> str:
    """RandomInitializer's seed type check, for the types Keras rejects too."""
    text = ("`seed` argument should be an instance of `keras.random.SeedGenerator()` or an "
            f"integer. Received: seed={seed}")
    return (with_received(text, "seed", seed) + f" of type {type(seed).__name__}. fastinit "
            "initializers take an int >= 0, None, a numpy.random.SeedSequence or a "
            "numpy.random.Generator (they are stateless: no SeedGenerator).")


def unknown_identifier(identifier: object) -> str:
    """`get`'s message for an identifier it cannot interpret."""
    return with_received(f"Could not interpret initializer identifier: {identifier}",
                         "identifier", identifier)
