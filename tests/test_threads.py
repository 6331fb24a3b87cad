"""Thread control: OMP_NUM_THREADS, threadpoolctl, the setter and the context manager; and
show_config."""

import os
import subprocess
import sys

import pytest

import fastinit


def test_default_is_the_openmp_limit():
    from fastinit._openmp import openmp_max_threads

    assert fastinit.get_num_threads() == openmp_max_threads()


def test_setter_and_context_manager():
    fastinit.set_num_threads(3)
    assert fastinit.get_num_threads() == 3
    with fastinit.num_threads(1):
        assert fastinit.get_num_threads() == 1
        with fastinit.num_threads(5):
            assert fastinit.get_num_threads() == 5
        assert fastinit.get_num_threads() == 1
    assert fastinit.get_num_threads() == 3
    fastinit.set_num_threads(None)
    with fastinit.num_threads(None):
        assert fastinit.get_num_threads() >= 1


def test_threadpoolctl_limits_are_honoured():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not fastinit._openmp.openmp_enabled():
        pytest.skip("serial build")
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastinit.get_num_threads() == 1
    info = [m for m in threadpoolctl.threadpool_info() if m["user_api"] == "openmp"]
    assert info, "the OpenMP runtime fastinit links is visible to threadpoolctl"


def test_omp_num_threads_in_a_fresh_process():
    out = subprocess.run(
        [sys.executable, "-c", "import fastinit; print(fastinit.get_num_threads())"],
        env={**os.environ, "OMP_NUM_THREADS": "3"}, capture_output=True, text=True, check=True)
    expected = "3" if fastinit._openmp.openmp_enabled() else "1"
    assert out.stdout.strip() == expected


def test_show_config(capsys):
    fastinit.show_config()
    text = capsys.readouterr().out
    assert f"fastinit {fastinit.__version__}" in text
    assert "OpenMP: " in text and "threads: " in text and "CPU code path: " in text


def test_build_has_openmp():
    """The supported build (gcc on Linux) has OpenMP on; FASTINIT_NO_OPENMP builds skip this."""
    if os.environ.get("FASTINIT_NO_OPENMP"):
        pytest.skip("serial build requested")
    assert fastinit._openmp.openmp_enabled()
