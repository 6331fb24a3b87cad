"""fastinit without torch: `import fastinit` never imports torch, and `import fastinit.torch`
without torch fails with one line naming the extra.  Runs whether or not torch is installed
(absence is simulated in a subprocess with ``sys.modules['torch'] = None``)."""

import importlib.util
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]


# The fastinit under test: the source tree, or the installed package when the tests run outside
# it (CI's wheel stage); subprocesses must import the same one.
FASTINIT_DIR = pathlib.Path(importlib.util.find_spec("fastinit").origin).parent


def _run(code):
    env = dict(os.environ, PYTHONPATH=str(FASTINIT_DIR.parent) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def test_import_fastinit_does_not_import_torch():
    r = _run("""
        import sys, fastinit
        fastinit.GlorotUniform(seed=0)((4, 4)); fastinit.seed_for_name(0, "w")
        print('torch' in sys.modules, 'fastinit.torch' in sys.modules, fastinit.__file__)
    """)
    assert r.returncode == 0, r.stderr
    imported, adapter, path = r.stdout.split()
    assert (imported, adapter) == ("False", "False")
    assert path.startswith(str(FASTINIT_DIR))


def test_import_fastinit_torch_without_torch_names_the_extra():
    r = _run("""
        import sys
        sys.modules['torch'] = None            # torch "not installed"
        import fastinit
        fastinit.RandomNormal(seed=0)((3,))
        try:
            import fastinit.torch
        except ImportError as e:
            print(str(e))
        else:
            print('imported')
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == 'fastinit.torch needs PyTorch: pip install "fastinit-keras[torch]"'
    assert len(r.stdout.strip().splitlines()) == 1


def test_the_hint_is_one_constant():
    src = (FASTINIT_DIR / "torch" / "__init__.py").read_text()
    assert 'DISTRIBUTION_NAME = "fastinit-keras"' in src
    assert "pip install \"{DISTRIBUTION_NAME}[torch]\"'" in src
