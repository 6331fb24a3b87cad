import pytest

import fastinit
from tests.helpers import FLOAT_DTYPES, dtype_of


@pytest.fixture(params=FLOAT_DTYPES)
def float_dtype(request):
    return dtype_of(request.param)


@pytest.fixture(params=["0", "1"], ids=["buffered", "direct"])
def direct_io(request, monkeypatch):
    """Runs a test with FASTINIT_DIRECT_IO=0 (files written through the page cache) and =1
    (O_DIRECT wherever the filesystem takes it, whatever the size); child processes inherit
    it."""
    monkeypatch.setenv("FASTINIT_DIRECT_IO", request.param)
    return request.param == "1"


@pytest.fixture(autouse=True)
def _reset_threads():
    yield
    fastinit.set_num_threads(None)


# ---- hypothesis profiles (tests/test_properties.py) ------------------------------------------
# "ci" (default): bounded and derandomized, so CI is reproducible; "deep": HYPOTHESIS_PROFILE=deep.
# database=None in both: no example database.  Hypothesis still creates .hypothesis/ (a cache
# of constants, and patches/ when a test fails) with its own "*" .gitignore, so git ignores it.
try:
    import os as _os

    from hypothesis import HealthCheck as _HealthCheck
    from hypothesis import Phase as _Phase
    from hypothesis import settings as _hyp_settings
except ImportError:  # hypothesis is a test extra; the other test files do not need it
    pass
else:
    # No "explain" phase: it re-runs failing examples thousands of times (a minute per failing
    # test here) only to annotate which arguments matter.
    _common = dict(deadline=None, database=None, print_blob=True,
                   suppress_health_check=[_HealthCheck.too_slow],
                   phases=[_Phase.explicit, _Phase.reuse, _Phase.generate, _Phase.target,
                           _Phase.shrink])
    _hyp_settings.register_profile("ci", max_examples=100, derandomize=True, **_common)
    _hyp_settings.register_profile("deep", max_examples=5000, **_common)
    _hyp_settings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE", "ci"))
