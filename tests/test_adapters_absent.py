"""fastinit without its frameworks: `import fastinit` never imports torch, jax, flax or keras, and
`import fastinit.torch` / `fastinit.jax` / `fastinit.keras` without the framework fails with one
line naming the extra.  Runs whether or not the frameworks are installed (absence is simulated in
a subprocess with ``sys.modules[name] = None``)."""

import pytest

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


# adapter module -> (framework module, the one-line hint without it)
ADAPTERS = {
    "torch": ("torch", 'fastinit.torch needs PyTorch: pip install "fastinit-keras[torch]"'),
    "jax": ("jax", 'fastinit.jax needs JAX: pip install "fastinit-keras[jax]"'),
    "keras": ("keras", 'fastinit.keras needs Keras 3: pip install "fastinit-keras[keras]"'),
}


def test_import_fastinit_imports_no_framework():
    r = _run("""
        import sys, fastinit
        fastinit.GlorotUniform(seed=0)((4, 4)); fastinit.seed_for_name(0, "w")
        fastinit.VarianceScaling(mode="fan_geo_avg", seed=0)((4, 4))
        names = ['torch', 'jax', 'flax', 'keras', 'fastinit.torch', 'fastinit.jax',
                 'fastinit.keras']
        print(sorted(n for n in names if n in sys.modules), fastinit.__file__)
    """)
    assert r.returncode == 0, r.stderr
    imported, path = r.stdout.rsplit(" ", 1)
    assert imported == "[]"
    assert path.strip().startswith(str(FASTINIT_DIR))


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_import_adapter_without_its_framework_names_the_extra(adapter):
    framework, hint = ADAPTERS[adapter]
    r = _run(f"""
        import sys
        sys.modules[{framework!r}] = None            # "not installed"
        import fastinit
        fastinit.RandomNormal(seed=0)((3,))
        try:
            import fastinit.{adapter}
        except ImportError as e:
            print(str(e))
        else:
            print('imported')
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == hint
    assert len(r.stdout.strip().splitlines()) == 1


def test_a_broken_framework_is_named_with_its_cause():
    r = _run("""
        import importlib.abc, sys
        class Finder(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "jax":
                    raise ImportError("libfoo.so: cannot open shared object file", name="jaxlib")
        sys.meta_path.insert(0, Finder())
        try:
            import fastinit.jax
        except ImportError as e:
            print(str(e))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (
        'fastinit.jax needs JAX: pip install "fastinit-keras[jax]" (importing jax failed: '
        "libfoo.so: cannot open shared object file)")


def test_the_hints_come_from_one_constant():
    from fastinit._extras import DISTRIBUTION_NAME
    assert DISTRIBUTION_NAME == "fastinit-keras"
    for adapter in ADAPTERS:
        src = (FASTINIT_DIR / (f"{adapter}.py" if adapter == "keras" else f"{adapter}/__init__.py"))
        assert "from fastinit._extras import" in src.read_text()
