import numpy as np
import pytest

import fastinit

FLOAT_DTYPES = ["float32", "float64", "float16", "bfloat16"]


def dtype_of(name):
    from fastinit._validation import resolve_dtype

    return resolve_dtype(name)


@pytest.fixture(params=FLOAT_DTYPES)
def float_dtype(request):
    return dtype_of(request.param)


@pytest.fixture(autouse=True)
def _reset_threads():
    yield
    fastinit.set_num_threads(None)


def as_f64(a):
    return np.asarray(a).astype(np.float64)
