"""The package's annotations: `mypy --strict` passes on fastinit and on a user's script.

fastinit ships py.typed, so a user's `mypy --strict` checks every call into it.  This runs mypy
(installed by the `test` extra) on the package and on tests/typing/example_user.py, which uses
the public API as a user would, and runs that script too.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastinit

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "typing" / "example_user.py"

pytest.importorskip("mypy", reason="mypy is not installed (the `test` extra installs it)")
# The annotations are checked against numpy's own stubs, which change between releases: numpy
# 2.2 (the newest for Python 3.10) leaves numpy.lib.format untyped, and numpy 2.5's stubs use
# Python 3.12 syntax that mypy refuses when checking for 3.10.  CI checks them on its main
# Python, whose numpy is in the range below.
if not "2.3.0" <= np.lib.NumpyVersion(np.__version__) < "2.5.0":
    pytest.skip(f"the package's annotations are checked against numpy 2.3-2.4's stubs; this is "
                f"numpy {np.__version__}", allow_module_level=True)


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    # One cache for both runs (numpy's stubs are read once), fresh for each test session.
    return tmp_path_factory.mktemp("mypy-cache")


def _mypy(cache_dir, *args):
    # From the repository root: pyproject.toml's [tool.mypy] applies and `fastinit` is this
    # checkout's package.
    cmd = [sys.executable, "-m", "mypy", "--cache-dir", str(cache_dir), "--no-error-summary",
           "--hide-error-context", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_strict_passes_on_the_package(mypy_cache):
    # the source tree when there is one, else (CI's wheel stage) the installed package
    target = ["fastinit"] if (ROOT / "fastinit").is_dir() else ["-p", "fastinit"]
    r = _mypy(mypy_cache, "--strict", *target)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_passes_on_a_users_script(mypy_cache):
    r = _mypy(mypy_cache, "--strict", str(EXAMPLE.relative_to(ROOT)))
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_users_script_runs():
    # The fastinit this test session imports (the built checkout), whatever the cwd.
    env = dict(os.environ)
    pkg_parent = str(Path(fastinit.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    r = subprocess.run([sys.executable, str(EXAMPLE)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "example_user: ok" in r.stdout
