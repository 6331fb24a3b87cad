"""Keras's error messages are prefixes of fastinit's, for every check Keras makes.

The checks are enumerated from Keras's source: every `raise` statement in
keras/src/initializers/*.py (tests excluded) must have trigger cases below, so a check Keras adds
fails this module until fastinit has it too.  Each case triggers the check in Keras and in
fastinit with the same arguments; fastinit's exception must be an instance of Keras's exception
type and its message must begin with Keras's message, character for character.
"""

import ast
import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastinit
from tests.keras_reference import ki

ROOT = pathlib.Path(__file__).resolve().parents[1]
FASTINIT_DIR = pathlib.Path(importlib.util.find_spec("fastinit").origin).parent
KERAS_INITIALIZERS = pathlib.Path(ki.__file__).resolve().parents[1] / "src" / "initializers"


def _keras_raise_sites():
    """{"module:Qual.name:k"} for the k-th raise statement of each function (in source order)."""
    sites = set()
    for path in sorted(KERAS_INITIALIZERS.glob("*.py")):
        if path.name.endswith("_test.py"):
            continue
        counts = {}

        def walk(node, qual):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    walk(child, qual + [child.name])
                    continue
                if isinstance(child, ast.Raise) and child.exc is not None:
                    name = ".".join(qual)
                    sites.add(f"{path.stem}:{name}:{counts.get(name, 0)}")
                    counts[name] = counts.get(name, 0) + 1
                walk(child, qual)

        walk(ast.parse(path.read_text()), [])
    return sites


# site -> [(label, keras thunk, fastinit thunk)]
CASES = {
    "__init__:get.initialize_fn:0": [
        ("array shape", lambda: ki.get(np.ones((2, 3)))((3, 2)),
         lambda: fastinit.get(np.ones((2, 3)))((3, 2))),
    ],
    "__init__:get:0": [
        (f"get({v!r})", (lambda v=v: ki.get(v)), (lambda v=v: fastinit.get(v)))
        for v in ["bogus", "GLOROT", "", {"class_name": "Bogus", "config": {}}, 5, 2.5]
    ],
    "constant_initializers:Identity.__call__:0": [
        (f"shape {s}", (lambda s=s: ki.Identity()(s)), (lambda s=s: fastinit.Identity()(s)))
        for s in [(2, 3, 4), (5,), ()]
    ],
    "constant_initializers:STFT.__init__:0": [
        (f"side={v!r}", (lambda v=v: ki.STFT(side=v)), (lambda v=v: fastinit.STFT(side=v)))
        for v in ["Real", "complex", 3, None]
    ],
    "constant_initializers:STFT.__init__:1": [
        (f"scaling={v!r}", (lambda v=v: ki.STFT(scaling=v)),
         (lambda v=v: fastinit.STFT(scaling=v)))
        for v in ["l2", "Density", 2]
    ],
    "constant_initializers:STFT.__call__:0": [
        ("window length", lambda: ki.STFT(window=[1.0, 2.0])((3, 1, 5)),
         lambda: fastinit.STFT(window=[1.0, 2.0])((3, 1, 5))),
        ("window rank", lambda: ki.STFT(window=[[1.0, 2.0]])((2, 1, 5)),
         lambda: fastinit.STFT(window=[[1.0, 2.0]])((2, 1, 5))),
    ],
    "initializer:Initializer.__call__:0": [
        ("base class", lambda: ki.Initializer()((2, 2)),
         lambda: fastinit.Initializer()((2, 2))),
    ],
    "random_initializers:RandomInitializer.__init__:0": [
        (f"{cls}(seed={v!r})", (lambda c=cls, v=v: getattr(ki, c)(seed=v)),
         (lambda c=cls, v=v: getattr(fastinit, c)(seed=v)))
        for cls in ["RandomNormal", "GlorotUniform", "Orthogonal", "VarianceScaling"]
        for v in [1.5, "42", [1, 2], np.bool_(True)]
    ],
    "random_initializers:VarianceScaling.__init__:0": [
        (f"scale={v!r}", (lambda v=v: ki.VarianceScaling(scale=v)),
         (lambda v=v: fastinit.VarianceScaling(scale=v)))
        for v in [-1.0, 0.0, -2, -1e-300]
    ],
    "random_initializers:VarianceScaling.__init__:1": [
        (f"mode={v!r}", (lambda v=v: ki.VarianceScaling(mode=v)),
         (lambda v=v: fastinit.VarianceScaling(mode=v)))
        for v in ["FAN_IN", "fanin", "fan_sum", 3, None]
    ],
    "random_initializers:VarianceScaling.__init__:2": [
        (f"distribution={v!r}", (lambda v=v: ki.VarianceScaling(distribution=v)),
         (lambda v=v: fastinit.VarianceScaling(distribution=v)))
        for v in ["gauss", "Gauss", "UNIFORM_", "truncated"]
    ],
    "random_initializers:Orthogonal.__call__:0": [
        (f"shape {s}", (lambda s=s: ki.Orthogonal(seed=1)(s)),
         (lambda s=s: fastinit.Orthogonal(seed=1)(s)))
        for s in [(5,), ()]
    ],
}

# Keras's message for a check whose raise is in scipy (STFT validates a window name by asking
# scipy.signal.get_window for a window of length 1).
EXTRA_CASES = [
    (f"window={v!r}", (lambda v=v: ki.STFT(window=v)), (lambda v=v: fastinit.STFT(window=v)))
    for v in ["nope", "kaiser", "Hann"]
]


def test_every_keras_check_has_cases():
    sites = _keras_raise_sites()
    assert len(sites) >= 12  # the enumeration itself works
    assert sites == set(CASES), (
        f"Keras checks without cases: {sorted(sites - set(CASES))}; "
        f"cases for no Keras check: {sorted(set(CASES) - sites)}")


def _raised(thunk):
    with pytest.raises(Exception) as info:
        thunk()
    return info.value


ALL_CASES = [(site, *case) for site, cases in CASES.items() for case in cases] + [
    ("scipy.signal.get_window", *case) for case in EXTRA_CASES]


@pytest.mark.parametrize("site,label,keras_call,fastinit_call", ALL_CASES,
                         ids=[f"{s}-{label}" for s, label, _, _ in ALL_CASES])
def test_keras_message_is_a_prefix_of_fastinit(site, label, keras_call, fastinit_call):
    k = _raised(keras_call)
    f = _raised(fastinit_call)
    assert isinstance(f, type(k)), (type(k), type(f), str(f))
    assert str(f).startswith(str(k)), f"\nkeras:    {k}\nfastinit: {f}"


@pytest.mark.parametrize("thunk,tail", [
    (lambda: fastinit.VarianceScaling(mode="FAN_IN"), "Received: mode='FAN_IN'"),
    (lambda: fastinit.VarianceScaling(distribution="Gauss"), "Received: distribution='Gauss'"),
    (lambda: fastinit.VarianceScaling(scale="-1"), "Received: scale='-1'"),
    (lambda: fastinit.STFT(side="Real"), "Received: side='Real'"),
    (lambda: fastinit.STFT(window="nope"), "Received: window='nope'"),
    (lambda: fastinit.get("bogus"), "Received: identifier='bogus'"),
])
def test_fastinit_keeps_the_received_value_after_keras_sentence(thunk, tail):
    with pytest.raises((ValueError, TypeError)) as info:
        thunk()
    assert str(info.value).endswith(tail)


def test_seed_type_error_is_both_keras_valueerror_and_typeerror():
    with pytest.raises(ValueError):
        fastinit.HeNormal(seed=1.5)
    with pytest.raises(TypeError, match=r"of type float\. fastinit initializers take an int"):
        fastinit.HeNormal(seed=1.5)


HASH_SEED_CODE = """
import fastinit
from tests.keras_reference import ki
for kwargs in ({"mode": "fan_sum"}, {"distribution": "gauss"}):
    msgs = []
    for make in (ki.VarianceScaling, fastinit.VarianceScaling):
        try:
            make(**kwargs)
        except ValueError as e:
            msgs.append(str(e))
    assert msgs[1].startswith(msgs[0]), msgs
print("ok")
"""


@pytest.mark.parametrize("hash_seed", ["0", "5", "17", "123"])
def test_choice_sets_print_as_keras_for_any_hash_seed(hash_seed):
    # Keras prints its choices as a set, whose order changes with PYTHONHASHSEED (seed 5 orders
    # Keras's modes differently from a set fastinit would build itself)
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, KERAS_BACKEND="numpy",
               PYTHONPATH=os.pathsep.join([str(FASTINIT_DIR.parent), str(ROOT)]))
    r = subprocess.run([sys.executable, "-c", HASH_SEED_CODE], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_without_keras_the_choices_print_in_keras_source_order():
    code = ("import sys, fastinit\n"
            "try:\n    fastinit.VarianceScaling(mode='x')\n"
            "except ValueError as e:\n    print(e)\n"
            "print('keras' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(FASTINIT_DIR.parent))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "Invalid `mode` argument: x. Please use one of {'fan_in', 'fan_out', 'fan_avg'} "
        "(fastinit also accepts 'fan_geo_avg'). Received: mode='x'", "False"]
