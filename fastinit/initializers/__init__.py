"""The Keras 3 initializers, as NumPy arrays.

Names, arguments, defaults, maths and configs follow `keras.initializers` (Keras 3.15).  The
random ones draw from fastinit's counter-based streams (fastinit._stream), so values differ from
Keras's bit for bit but follow the same distributions, and they are identical for any thread
count, chunking or `out=`.

Deliberate differences from Keras (each one fixes a Keras bug or closes a hole):
  * `Identity` keeps `gain` in its config (Keras drops it, so a clone loses the gain).
  * `get("constant")` works and gives zeros (Keras raises `KeyError: 'value'`).
  * Random initializers and Orthogonal accept only float16, bfloat16, float32 and float64 and
    raise TypeError otherwise (Keras's numpy backend silently truncates into ints).
  * Orthogonal honours float64 (Keras returns float32 on non-TF backends) and supports float16 and
    bfloat16 (computed in float32, rounded once).
  * Parameters are validated at construction: NaN/inf, stddev <= 0, minval >= maxval, gain not
    finite raise ValueError (Keras accepts them and returns garbage).
  * Seeds may also be numpy integers, a numpy.random.SeedSequence or a numpy.random.Generator;
    bools and negative ints are rejected.  Keras SeedGenerator seeds (which change the values
    on every call) are rejected: fastinit initializers are stateless, like int-seeded Keras ones.
  * STFT fills every input channel of a (T, C, F) shape (Keras returns (T, 1, F) whatever C),
    has only the DC bin when F == 1 and raises for a window of zeros (Keras returns NaN).
  * `__call__` takes a keyword-only `out=` that fills an existing array in place, and every
    initializer can produce any region of its output alone (`region`, `source`).

Layout (after Keras's keras/src/initializers): `initializer` (the base class and the region API),
`constant_initializers`, `stft` (STFT), `random_initializers`, `variance_scaling` (with `compute_fans`) and
`orthogonal`; `stream_initializer` (StreamInitializer, any fastinit stream as an initializer, for
the framework adapters) is fastinit's own and not in Keras's registry (ALL_OBJECTS).
"""

from __future__ import annotations

import re

from fastinit.initializers.constant_initializers import Constant, Identity, Ones, Zeros
from fastinit.initializers.initializer import Initializer, in_memory_source, source_of
from fastinit.initializers.orthogonal import Orthogonal
from fastinit.initializers.random_initializers import (
    RandomInitializer,
    SeedTypeError,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
)
from fastinit.initializers.stft import STFT
from fastinit.initializers.stream_initializer import StreamInitializer
from fastinit.initializers.variance_scaling import (
    TRUNCATED_NORMAL_STD,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    VarianceScaling,
    compute_fans,
)

ALL_OBJECTS: tuple[type[Initializer], ...] = (
    Initializer, Constant, Identity, Ones, Zeros, GlorotNormal, GlorotUniform, HeNormal,
    HeUniform, LecunNormal, LecunUniform, Orthogonal, RandomNormal, RandomUniform,
    TruncatedNormal, VarianceScaling, STFT,
)


def _to_snake_case(name: str) -> str:
    # Keras's keras.src.utils.naming.to_snake_case: "GlorotUniform" -> "glorot_uniform",
    # "STFT" -> "stft"
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


ALL_OBJECTS_DICT: dict[str, type[Initializer]] = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({_to_snake_case(cls.__name__): cls for cls in ALL_OBJECTS})
ALL_OBJECTS_DICT.update({
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "STFTInitializer": STFT,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "zero": Zeros,
    "one": Ones,
})

__all__ = [
    "Initializer", "RandomInitializer", "Constant", "Identity", "Ones", "Zeros",
    "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling", "GlorotNormal",
    "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal",
    "STFT", "StreamInitializer", "compute_fans", "source_of", "in_memory_source", "TRUNCATED_NORMAL_STD", "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
]
