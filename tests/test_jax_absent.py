"""fastinit without jax: `import fastinit` never imports jax, and `import fastinit.jax` without
jax fails with one line naming the extra.  Runs whether or not jax is installed (absence is
simulated in a subprocess with ``sys.modules['jax'] = None``)."""

from tests.test_torch_absent import FASTINIT_DIR, _run


def test_import_fastinit_does_not_import_jax():
    r = _run("""
        import sys, fastinit
        fastinit.VarianceScaling(mode="fan_geo_avg", seed=0)((4, 4)); fastinit.seed_for_name(0, "w")
        print('jax' in sys.modules, 'fastinit.jax' in sys.modules, 'flax' in sys.modules)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False", "False"]


def test_import_fastinit_jax_without_jax_names_the_extra():
    r = _run("""
        import sys
        sys.modules['jax'] = None            # jax "not installed"
        import fastinit
        fastinit.RandomNormal(seed=0)((3,))
        try:
            import fastinit.jax
        except ImportError as e:
            print(str(e))
        else:
            print('imported')
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == 'fastinit.jax needs JAX: pip install "fastinit-keras[jax]"'
    assert len(r.stdout.strip().splitlines()) == 1


def test_the_hint_is_one_constant():
    src = (FASTINIT_DIR / "jax" / "__init__.py").read_text()
    assert 'DISTRIBUTION_NAME = "fastinit-keras"' in src
    assert "pip install \"{DISTRIBUTION_NAME}[jax]\"'" in src
