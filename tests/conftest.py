import pytest

import fastinit
from tests.helpers import FLOAT_DTYPES, dtype_of


@pytest.fixture(params=FLOAT_DTYPES)
def float_dtype(request):
    return dtype_of(request.param)


@pytest.fixture(autouse=True)
def _reset_threads():
    yield
    fastinit.set_num_threads(None)
