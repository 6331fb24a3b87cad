"""fastinit: the Keras 3 weight initializers as NumPy arrays, fast.

Counter-based (Philox4x32-10) streams: the value of each element depends only on the seed and
its index, never on the thread count, chunking or `out=`; OpenMP fills near memory speed; exact
Keras semantics (names, arguments, defaults, maths, configs).
"""

__version__ = "0.1.0"

from fastinit._registry import deserialize, get, serialize
from fastinit._stream import STREAM_VERSION, Stream, fill_stream
from fastinit._threads import get_num_threads, num_threads, set_num_threads
from fastinit._config import show_config
from fastinit._chunks import fill_chunked
from fastinit._files import WriteInterrupted
from fastinit._npy import save_npy
from fastinit._safetensors import save_safetensors
from fastinit._modelspec import ModelSpec, load_spec
from fastinit._names import seed_for_name
from fastinit.initializers import (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Identity,
    Initializer,
    LecunNormal,
    LecunUniform,
    Ones,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    STFT,
    StreamInitializer,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
    compute_fans,
)

# Snake-case names are aliases of the classes, exactly as in keras.initializers.
constant = Constant
zeros = Zeros
ones = Ones
identity = Identity
random_normal = RandomNormal
truncated_normal = TruncatedNormal
random_uniform = RandomUniform
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
lecun_uniform = LecunUniform
lecun_normal = LecunNormal
he_uniform = HeUniform
he_normal = HeNormal
orthogonal = Orthogonal
IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal
stft = STFT
STFTInitializer = STFT

__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal",
    "RandomUniform", "TruncatedNormal", "VarianceScaling", "Zeros",
    "constant", "zeros", "ones", "identity", "random_normal", "truncated_normal",
    "random_uniform", "variance_scaling", "glorot_uniform", "glorot_normal", "lecun_uniform",
    "lecun_normal", "he_uniform", "he_normal", "orthogonal", "IdentityInitializer",
    "OrthogonalInitializer", "STFT", "stft", "STFTInitializer",
    "get", "serialize", "deserialize", "compute_fans",
    "Stream", "fill_stream", "STREAM_VERSION",
    "get_num_threads", "set_num_threads", "num_threads", "show_config", "__version__",
    "save_npy", "save_safetensors", "load_spec", "ModelSpec", "fill_chunked", "WriteInterrupted",
    "StreamInitializer", "seed_for_name",
]
