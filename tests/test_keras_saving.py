"""fastinit initializers through Keras's saving machinery (fastinit.keras).

With `fastinit.keras.register()`, every Keras path gives back the fastinit class with the same
config; without it (or without fastinit at all) Keras's initializer paths give Keras's own class
of that name and config, and the generic `deserialize_keras_object` cannot locate the class.
Models are also saved by one process and loaded by others: with fastinit imported, with
fastinit importable but not registered, and with fastinit unimportable.
"""

import importlib
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastinit
from tests.keras_reference import keras, ki
from tests.test_keras_parity import NON_DEFAULT_ARGS

ROOT = pathlib.Path(__file__).resolve().parents[1]
FASTINIT_DIR = pathlib.Path(importlib.util.find_spec("fastinit").origin).parent

CASES = sorted(NON_DEFAULT_ARGS.items()) + [
    ("Constant", dict(value=[1.0, 2.0, 3.0])),
    ("RandomNormal", dict()),  # unseeded: seed None in the config
    ("STFT", dict(window=[0.5, 1.0, 0.25], scaling=None)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


@pytest.fixture
def fk():
    """fastinit.keras, registered for the test and unregistered after it (other test modules
    see Keras as it was)."""
    mod = importlib.import_module("fastinit.keras")
    mod.register()
    yield mod
    mod.unregister()


@pytest.fixture
def unregistered():
    mod = importlib.import_module("fastinit.keras")
    mod.unregister()
    yield mod
    mod.unregister()


def _same_config(obj, name, kwargs):
    expected = getattr(fastinit, name)(**kwargs).get_config()
    if type(obj).__module__.startswith("keras") and name == "Identity":
        # Keras's Identity drops gain from its config (the documented difference), but the
        # instance got it from fastinit's config
        return obj.get_config() == {} and obj.gain == expected["gain"]
    return obj.get_config() == expected


def _paths(config):
    """The Keras paths that turn a serialized initializer back into an object."""
    return {
        "deserialize_keras_object": lambda: keras.saving.deserialize_keras_object(config),
        "initializers.deserialize": lambda: ki.deserialize(config),
        "initializers.get": lambda: ki.get(config),
    }


# ---- in one process ------------------------------------------------------------------------


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_registered_every_path_gives_fastinit_back(fk, name, kwargs):
    init = getattr(fastinit, name)(**kwargs)
    for serialize in (keras.saving.serialize_keras_object, ki.serialize):
        config = serialize(init)
        assert config["registered_name"] == f"fastinit>{name}"
        config = json.loads(json.dumps(config))  # as a saved file holds it
        for path, load in _paths(config).items():
            obj = load()
            assert type(obj) is type(init), path
            assert obj.get_config() == init.get_config(), path


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_unregistered_initializer_paths_fall_back_to_keras(unregistered, name, kwargs):
    init = getattr(fastinit, name)(**kwargs)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(init)))
    assert config["registered_name"] == name
    for path in ("initializers.deserialize", "initializers.get"):
        obj = _paths(config)[path]()
        assert type(obj) is getattr(ki, name), path
        assert _same_config(obj, name, kwargs), path
    with pytest.raises(TypeError, match=rf"^Could not locate class '{name}'"):
        keras.saving.deserialize_keras_object(config)


def test_stream_initializer_round_trips_when_registered(fk):
    # fastinit's own class (no Keras counterpart): only a registered Keras can load it
    init = fastinit.StreamInitializer("truncated_normal", seed=4, mean=0.0, stddev=0.02,
                                      low=-0.04, high=0.04)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(init)))
    for path, load in _paths(config).items():
        obj = load()
        assert type(obj) is fastinit.StreamInitializer, path
        assert obj.get_config() == init.get_config()
        assert obj((5, 5)).tobytes() == init((5, 5)).tobytes()


def test_registered_config_loads_as_keras_class_once_unregistered(fk):
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(
        fastinit.HeUniform(seed=3, input_axes=[0], output_axes=[1]))))
    fk.unregister()
    obj = ki.deserialize(config)
    assert type(obj) is ki.HeUniform
    assert obj.get_config() == {"seed": 3, "input_axes": [0], "output_axes": [1]}
    # and a config written unregistered stays Keras's after registering: it names no fastinit
    bare = keras.saving.serialize_keras_object(fastinit.HeUniform(seed=3))
    fk.register()
    assert type(ki.deserialize(bare)) is ki.HeUniform


def test_register_unregister_is_idempotent_and_leaves_keras_alone(fk):
    before = {k: v for k, v in keras.saving.get_custom_objects().items()
              if not k.startswith("fastinit>")}
    fk.register()
    fk.register()
    assert fk.is_registered()
    assert keras.saving.get_registered_name(fastinit.STFT) == "fastinit>STFT"
    fk.unregister()
    fk.unregister()
    assert not fk.is_registered()
    assert keras.saving.get_custom_objects() == before
    assert keras.saving.get_registered_name(fastinit.STFT) == "STFT"
    # Keras's own initializers serialize and load as before
    k = ki.GlorotUniform(seed=1)
    assert type(ki.deserialize(ki.serialize(k))) is ki.GlorotUniform


def _layer(name, kwargs):
    init = getattr(fastinit, name)(**kwargs)
    if name == "STFT":  # a Conv1D kernel is (frame_length, channels, bins)
        return keras.layers.Conv1D(5, 3, kernel_initializer=init), init
    return keras.layers.Dense(3, kernel_initializer=init), init


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_layer_from_config(fk, name, kwargs):
    layer, init = _layer(name, kwargs)
    config = json.loads(json.dumps(layer.get_config()))
    back = type(layer).from_config(config)
    assert type(back.kernel_initializer) is type(init)
    assert back.kernel_initializer.get_config() == init.get_config()
    fk.unregister()
    back = type(layer).from_config(config)
    assert type(back.kernel_initializer) is getattr(ki, name)
    assert _same_config(back.kernel_initializer, name, kwargs)


# Dense kernels are 2-D: VarianceScaling's axes of NON_DEFAULT_ARGS are for 3-D shapes
MODEL_ARGS = {**NON_DEFAULT_ARGS, "VarianceScaling": dict(scale=0.3, mode="fan_out",
                                                          distribution="untruncated_normal",
                                                          seed=10, input_axes=[1],
                                                          output_axes=[0])}


def _model(names):
    layers = [keras.Input((4, 6))]
    for name in names:
        layer, _ = _layer(name, dict(MODEL_ARGS[name]))
        if name == "STFT":
            layer = keras.layers.Conv1D(6, 3, padding="same",
                                        kernel_initializer=layer.kernel_initializer)
        else:
            layer = keras.layers.Dense(6, kernel_initializer=layer.kernel_initializer)
        layers.append(layer)
    return keras.Sequential(layers)


MODEL_NAMES = ["GlorotUniform", "Orthogonal", "Identity", "VarianceScaling", "TruncatedNormal",
               "Constant", "STFT"]


def test_load_model_in_process(fk, tmp_path):
    model = _model(MODEL_NAMES)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for layer, old, name in zip(loaded.layers, model.layers, MODEL_NAMES):
        assert type(layer.kernel_initializer) is getattr(fastinit, name)
        assert layer.kernel_initializer.get_config() == old.kernel_initializer.get_config()
        np.testing.assert_array_equal(np.asarray(layer.kernel), np.asarray(old.kernel))
    fk.unregister()
    loaded = keras.models.load_model(path)
    assert [type(layer.kernel_initializer) for layer in loaded.layers] == [
        getattr(ki, name) for name in MODEL_NAMES]


# ---- across processes ----------------------------------------------------------------------

SAVE = """
import json, sys
import numpy as np
import keras, fastinit, fastinit.keras
from tests.test_keras_saving import MODEL_NAMES, _model
model = _model(MODEL_NAMES)
model.save(sys.argv[1])
print(json.dumps([[l.kernel_initializer.get_config(), np.asarray(l.kernel).tolist()]
                  for l in model.layers]))
"""

LOAD = """
import json, sys
import numpy as np
MODE = sys.argv[2]
if MODE == "absent":
    class _NoFastinit:  # fastinit "not installed": every import of it fails
        def find_spec(self, name, path=None, target=None):
            if name == "fastinit" or name.startswith("fastinit."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, _NoFastinit())
    try:
        import fastinit
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit("fastinit imported despite the blocker")
elif MODE == "registered":
    import fastinit.keras
else:
    import fastinit
import keras
model = keras.models.load_model(sys.argv[1])
print(json.dumps({"fastinit_loaded": "fastinit" in sys.modules,
                  "layers": [[type(l.kernel_initializer).__module__,
                              type(l.kernel_initializer).__name__,
                              l.kernel_initializer.get_config(),
                              np.asarray(l.kernel).tolist()] for l in model.layers]}))
"""


def _run(code, *args):
    env = dict(os.environ, KERAS_BACKEND="numpy",
               PYTHONPATH=os.pathsep.join([str(FASTINIT_DIR.parent), str(ROOT),
                                           os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("keras") / "model.keras")
    return path, _run(SAVE, path)


@pytest.mark.parametrize("mode", ["registered", "unregistered", "absent"])
def test_model_saved_by_one_process_loaded_by_another(saved_model, mode):
    path, saved = saved_model
    loaded = _run(LOAD, path, mode)
    assert loaded["fastinit_loaded"] is (mode != "absent")
    for (module, cls, config, kernel), (saved_config, saved_kernel), name in zip(
            loaded["layers"], saved, MODEL_NAMES):
        assert cls == name
        if mode == "registered":
            assert module.startswith("fastinit.initializers")
            assert config == saved_config
        else:  # Keras's own class, with fastinit's config (Keras's Identity drops gain)
            assert module.startswith("keras.")
            if name == "Identity":
                assert config == {}
            else:
                assert config == saved_config
        assert kernel == saved_kernel  # the weights are the file's, whichever class

