"""Keras 3 as the reference for the test_keras_parity*.py modules: imported here, once.

fastinit draws from its own counter-based streams, so random values are compared with Keras's
statistically (two-sample KS tests, moment checks with tolerances derived from the sample size),
never bit for bit.  Everything deterministic (names, configs, defaults, fans, constant
initializers) must match exactly, except for the deliberate differences listed in
fastinit/initializers.py (Identity keeps `gain`; `get("constant")` works).

Keras runs on its numpy backend (which imports jax); a module importing this one is skipped if
keras (or the backend's dependencies) or scipy cannot be imported.
"""

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "numpy")
keras = pytest.importorskip("keras")
stats = pytest.importorskip("scipy.stats")

from keras.src.initializers import ALL_OBJECTS_DICT as K_OBJECTS  # noqa: E402
from keras.src.initializers.random_initializers import compute_fans as k_compute_fans  # noqa: E402

ki = keras.initializers

__all__ = ["K_OBJECTS", "k_compute_fans", "keras", "ki", "stats"]
