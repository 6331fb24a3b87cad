"""pytest plugin loaded by .ci/sanitize (`-p sanitize_plugin`), for runs under ASan + UBSan.

- Refuses to run unless `fastinit` is imported from the sanitizer build's scratch copy
  (FASTINIT_SANITIZE_ROOT) and that build has OpenMP: otherwise the run would silently test an
  uninstrumented or serial build.
- Switches off Hypothesis's per-example deadline (instrumented code is 2-3x slower, and a deadline
  miss is no memory error).  It is loaded in pytest_configure, after the project's conftest files,
  so it overrides a profile they load; an explicit @settings(deadline=...) on a test still wins.
"""

import os

import pytest


def pytest_configure(config):
    import fastinit
    from fastinit._openmp import openmp_enabled, openmp_max_threads

    root = os.path.realpath(os.environ["FASTINIT_SANITIZE_ROOT"])
    where = os.path.realpath(fastinit.__file__)
    if not where.startswith(root + os.sep):
        raise pytest.UsageError(f"fastinit imported from {where}, not from the sanitizer build")
    if not openmp_enabled():
        raise pytest.UsageError("the sanitizer build of fastinit has no OpenMP")
    config._fastinit_sanitize = (
        f"sanitizers: {os.environ.get('FASTINIT_SANITIZE', '?')}; fastinit from "
        f"{os.path.dirname(where)}, OpenMP on, {openmp_max_threads()} threads"
    )

    try:
        from hypothesis import HealthCheck, settings
    except ImportError:
        return
    current = settings.default
    settings.register_profile(
        "fastinit-sanitize",
        parent=current,
        deadline=None,
        suppress_health_check=[*current.suppress_health_check, HealthCheck.too_slow],
    )
    settings.load_profile("fastinit-sanitize")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(session.config._fastinit_sanitize)
