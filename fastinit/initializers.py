"""The Keras 3 initializers, as NumPy arrays.

Names, arguments, defaults, maths and configs follow `keras.initializers` (Keras 3.15).  The
random ones draw from fastinit's counter-based streams (fastinit._stream), so values differ from
Keras's bit for bit but follow the same distributions, and they are identical for any thread
count, chunking or `out=`.

Deliberate differences from Keras (each one fixes a Keras bug or closes a hole):
  * `Identity` keeps `gain` in its config (Keras drops it, so a clone loses the gain).
  * `get("constant")` works and gives zeros (Keras raises `KeyError: 'value'`).
  * Random initializers and Orthogonal accept only float16, bfloat16, float32 and float64 and
    raise TypeError otherwise (Keras's numpy backend silently truncates into ints).
  * Orthogonal honours float64 (Keras returns float32 on non-TF backends) and supports float16 and
    bfloat16 (computed in float32, rounded once).
  * Parameters are validated at construction: NaN/inf, stddev <= 0, minval >= maxval, gain not
    finite raise ValueError (Keras accepts them and returns garbage).
  * Seeds may also be numpy integers, a numpy.random.SeedSequence or a numpy.random.Generator;
    bools and negative ints are rejected.  Keras SeedGenerator seeds (which change the values
    on every call) are rejected: fastinit initializers are stateless, like int-seeded Keras ones.
  * `__call__` takes a keyword-only `out=` that fills an existing array in place.
"""

import math
import numbers
import re

import numpy as np

from fastinit import _fill
from fastinit._fans import compute_fans as _compute_fans
from fastinit._seeding import draw_default_seed, normalize_seed
from fastinit._stream import ParameterRangeError, Stream
from fastinit._threads import get_num_threads
from fastinit._validation import (
    check_finite,
    check_out,
    check_positive,
    check_representable,
    check_shape,
    float_max,
    resolve_dtype,
)

# Standard deviation of a standard normal truncated to [-2, 2] (scipy.stats.truncnorm.std(-2, 2)).
TRUNCATED_NORMAL_STD = 0.87962566103423978


def _prepare(shape, dtype, out, kind="float"):
    """Validate shape, dtype and out; returns (shape tuple, numpy dtype)."""
    shape = check_shape(shape)
    if out is not None:
        check_out(out, shape, None)
        if dtype is None:
            dtype = out.dtype
    dt = resolve_dtype(dtype, kind=kind)
    if out is not None:
        check_out(out, shape, dt)
    return shape, dt


def _check_axes(name, axes):
    if axes is None:
        return None
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
        axes = [axes]
    try:
        vals = list(axes)
    except TypeError:
        raise TypeError(
            f"Argument `{name}` must be a list of ints or None. Received: {name}={axes!r}"
        ) from None
    for a in vals:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral):
            raise TypeError(
                f"Argument `{name}` must be a list of ints or None. Received: {name}={axes!r}"
            )
    return [int(a) for a in vals]


def compute_fans(shape, input_axes=None, output_axes=None):
    """Computes the number of input and output units for a weight shape (Keras's rules).

    Args:
        shape: Integer shape tuple.
        input_axes: Optional list of ints, the axes that count as inputs.
        output_axes: Optional list of ints, the axes that count as outputs.  Both axis lists
            must be given for either to count (as in Keras).

    Returns:
        A tuple of ints `(fan_in, fan_out)`.

    Examples:

    >>> compute_fans((3, 3, 4, 8))
    (36, 72)
    >>> compute_fans((3, 4, 5), input_axes=[0], output_axes=[1, 2])
    (3, 20)
    """
    shape = check_shape(shape)
    input_axes = _check_axes("input_axes", input_axes)
    output_axes = _check_axes("output_axes", output_axes)
    if input_axes is not None and output_axes is not None:
        rank = len(shape)
        for name, axes in (("input_axes", input_axes), ("output_axes", output_axes)):
            for a in axes:
                if not -rank <= a < rank:
                    raise ValueError(
                        f"Argument `{name}` has axis {a}, out of range for shape {shape} of "
                        f"rank {rank}. Received: {name}={axes}"
                    )
        return _compute_fans(shape, tuple(input_axes), tuple(output_axes))
    return _compute_fans(shape)


def check_identity_shape(shape):
    if len(shape) != 2:
        raise ValueError(
            "Identity matrix initializer can only be used for 2D matrices. "
            f"Received: shape={shape} of rank {len(shape)}."
        )


def check_orthogonal_shape(shape):
    if len(shape) < 2:
        raise ValueError(
            "The tensor to initialize must be at least two-dimensional. "
            f"Received: shape={shape} of rank {len(shape)}."
        )


class Initializer:
    """Initializer base class: all fastinit initializers inherit from this class.

    Subclasses implement `__call__(shape, dtype=None, *, out=None)`, returning a NumPy array of
    that shape and dtype (or filling `out` and returning it), and `get_config()` when they take
    arguments.
    """

    def __call__(self, shape, dtype=None, *, out=None):
        raise NotImplementedError(
            "Initializer subclasses must implement the `__call__()` method."
        )

    def get_config(self):
        """Returns the initializer's configuration as a JSON-serializable dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Instantiates an initializer from a configuration dictionary."""
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.__class__.__name__}({args})"


# ---- constant initializers -------------------------------------------------------------------


def _constant_fill(out, value):
    """Fill `out` with the scalar `value` cast to its dtype, in parallel for 1/2/4/8-byte items."""
    return _fill.fill_constant(out, value, get_num_threads())


def _check_constant_value(value):
    if isinstance(value, dict) and value.get("class_name") in ("__tensor__", "__numpy__"):
        cfg = value["config"]
        value = np.asarray(cfg["value"], dtype=cfg.get("dtype"))
    if isinstance(value, (list, tuple, np.ndarray)) or np.ndim(value) > 0:
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"Argument `value` must be a real number or an array of them. "
                f"Received: value={value!r}"
            )
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"Argument `value` must be finite. Received: value={value!r}")
        return arr
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    return check_finite("value", value)


class Constant(Initializer):
    """Initializer that generates tensors with constant values.

    A scalar fills the tensor; an array is broadcast to the requested shape (Keras accepts this
    too, though its docstring says scalars only).  The value is cast to the requested dtype, so
    `Constant(2.7)` with int32 gives 2.

    Examples:

    >>> init = Constant(10.0)
    >>> init(shape=(2, 2)).tolist()
    [[10.0, 10.0], [10.0, 10.0]]

    Args:
        value: A finite Python scalar, or an array broadcastable to the shape.
    """

    def __init__(self, value=0.0):
        self.value = _check_constant_value(value)

    def __call__(self, shape, dtype=None, *, out=None):
        shape, dt = _prepare(shape, dtype, out, kind="any")
        check_representable("value", self.value, dt)
        if isinstance(self.value, np.ndarray):
            try:
                src = np.broadcast_to(self.value.astype(dt), shape)
            except ValueError:
                raise ValueError(
                    f"Argument `value` of shape {self.value.shape} cannot be broadcast to "
                    f"shape {shape}."
                ) from None
            if out is None:
                return np.array(src, dtype=dt, order="C")
            out[...] = src
            return out
        if out is None:
            out = np.empty(shape, dtype=dt)
        return _constant_fill(out, self.value)

    def get_config(self):
        v = self.value
        return {"value": v.tolist() if isinstance(v, np.ndarray) else v}


class Zeros(Initializer):
    """Initializer that generates tensors initialized to 0.

    Examples:

    >>> Zeros()(shape=(2, 2)).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """

    def __call__(self, shape, dtype=None, *, out=None):
        shape, dt = _prepare(shape, dtype, out, kind="any")
        if out is None:
            return np.zeros(shape, dtype=dt)  # calloc: the OS hands out zero pages
        return _constant_fill(out, 0)


class Ones(Initializer):
    """Initializer that generates tensors initialized to 1.

    Examples:

    >>> Ones()(shape=(2,)).tolist()
    [1.0, 1.0]
    """

    def __call__(self, shape, dtype=None, *, out=None):
        shape, dt = _prepare(shape, dtype, out, kind="any")
        return _constant_fill(np.empty(shape, dtype=dt) if out is None else out, 1)


class Identity(Initializer):
    """Initializer that generates the identity matrix (times `gain`).

    Only 2-D shapes; non-square shapes give ones on the main diagonal.  Unlike Keras, `gain` is
    kept in the config, so `clone()` and `from_config` preserve it.

    Examples:

    >>> Identity(gain=2.0)(shape=(2, 3)).tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]

    Args:
        gain: Multiplicative factor to apply to the identity matrix.
    """

    def __init__(self, gain=1.0):
        self.gain = check_finite("gain", gain)

    def __call__(self, shape, dtype=None, *, out=None):
        shape, dt = _prepare(shape, dtype, out, kind="any")
        check_identity_shape(shape)
        check_representable("gain", self.gain, dt)
        if out is None:
            out = np.zeros(shape, dtype=dt)
        else:
            _constant_fill(out, 0)
        np.fill_diagonal(out, np.asarray(self.gain).astype(dt))
        return out

    def get_config(self):
        return {"gain": self.gain}


# ---- random initializers ---------------------------------------------------------------------


class RandomInitializer(Initializer):
    """Base of the seeded initializers.

    `seed` is an int >= 0, None, a numpy.random.SeedSequence or a numpy.random.Generator.  As in
    Keras, an instance gives the same values on every call; an unseeded instance draws its seed
    once, at construction, from Python's `random` (so `random.seed` makes it reproducible), and
    its config keeps `seed: None`, so a clone draws a new seed and differs.
    """

    #: For each stream parameter, the constructor arguments it comes from (error messages);
    #: `_derived_stream` when the stream's parameters are computed from them (VarianceScaling).
    _stream_arguments = {}
    _derived_stream = False

    def __init__(self, seed=None):
        self.seed = seed

    @property
    def seed(self):
        """The int seed of the values; assigning it re-seeds (None draws a fresh seed)."""
        return self._seed

    @seed.setter
    def seed(self, seed):
        if isinstance(seed, dict):
            raise ValueError(
                "A serialized keras SeedGenerator cannot seed a fastinit initializer: fastinit "
                "initializers are stateless (the same values on every call). Pass an int seed. "
                f"Received: seed={seed!r}"
            )
        s = normalize_seed(seed)
        # The config keeps the seed as given (None stays None, as in Keras), so a clone of an
        # unseeded instance draws a new seed.
        self._init_seed = s
        self._seed = draw_default_seed() if s is None else s

    def get_config(self):
        return {"seed": self._init_seed}

    def stream(self, shape, dtype=None):
        """The `Stream` this initializer draws `shape` from (for chunked generation)."""
        raise NotImplementedError

    def checked_stream(self, shape, dtype):
        """`stream(shape, dtype)`, checked against `dtype` before any work.

        Keras re-reads its attributes on every call, and so does this: the last stream is
        reused only while the shape, the seed and every configured parameter are unchanged
        (compared through the config's repr, so an in-place edit of a list is seen too), so no
        cache outlives `init.stddev = ...` or `init.seed = ...`.  A parameter the dtype cannot
        hold raises ValueError under this initializer's argument names.
        """
        key = (shape, self._seed, repr(self.get_config()))
        last = self.__dict__.get("_last_stream")
        if last is not None and last[0] == key:
            stream = last[1]
        else:
            stream = self.stream(shape, dtype)
            self._last_stream = (key, stream)
        try:
            stream.check_dtype(dtype)
        except ParameterRangeError as e:
            names = self._stream_arguments.get(e.param, (e.param,))
            received = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
            if len(names) > 1:
                what = f"give values outside the range of {e.range_text}"
            elif self._derived_stream:
                what = f"gives values outside the range of {e.range_text}"
            else:
                what = e.detail
            joined = " and ".join(f"`{n}`" for n in names)
            raise ValueError(
                f"Argument{'s' if len(names) > 1 else ''} {joined} {what}"
                f"{self._range_context(shape)}. Received: {received}, dtype={e.dtype.name}"
            ) from None
        return stream

    def _range_context(self, shape):
        return ""

    def __call__(self, shape, dtype=None, *, out=None):
        shape, dt = _prepare(shape, dtype, out)
        stream = self.checked_stream(shape, dt)
        if out is None:
            out = np.empty(shape, dtype=dt)
        return stream.fill(out)


class _MeanStddevInitializer(RandomInitializer):
    """Shared by RandomNormal and TruncatedNormal: `mean`, `stddev` and a stream."""

    _distribution = None
    _stream_arguments = {"mean": ("mean",), "stddev": ("stddev",), "low": ("mean", "stddev"),
                         "high": ("mean", "stddev")}

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = check_finite("mean", mean)
        self.stddev = check_positive("stddev", stddev)
        super().__init__(seed=seed)

    def stream(self, shape, dtype=None):
        return Stream(self._distribution, self.seed, mean=self.mean, stddev=self.stddev)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomNormal(_MeanStddevInitializer):
    """Random normal initializer.

    Draws samples from a normal distribution for given parameters.

    Examples:

    >>> init = RandomNormal(mean=0.0, stddev=1.0, seed=0)
    >>> init(shape=(2, 2)).shape
    (2, 2)

    Args:
        mean: Mean of the random values to generate.
        stddev: Standard deviation of the random values to generate (> 0).
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
    """

    _distribution = "normal"


class TruncatedNormal(_MeanStddevInitializer):
    """Initializer that generates a truncated normal distribution.

    Values more than two standard deviations from the mean are discarded and re-drawn (by
    rejection sampling, each element from its own sub-stream), so every value lies in
    [mean - 2 stddev, mean + 2 stddev], also after rounding to float16 or bfloat16.

    Examples:

    >>> v = TruncatedNormal(mean=0.0, stddev=1.0, seed=0)(shape=(1000,))
    >>> bool(abs(v).max() <= 2.0)
    True

    Args:
        mean: Mean of the random values to generate.
        stddev: Standard deviation of the random values before truncation (> 0).
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
    """

    _distribution = "truncated_normal"


class RandomUniform(RandomInitializer):
    """Random uniform initializer.

    Draws samples from a uniform distribution on [minval, maxval); `maxval` is never reached, in
    any dtype.

    Examples:

    >>> v = RandomUniform(minval=0.0, maxval=1.0, seed=0)(shape=(1000,))
    >>> bool(v.min() >= 0.0 and v.max() < 1.0)
    True

    Args:
        minval: Lower bound of the range (inclusive).
        maxval: Upper bound of the range (exclusive), > minval.
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
    """

    _stream_arguments = {"low": ("minval",), "high": ("maxval",)}

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = check_finite("minval", minval)
        self.maxval = check_finite("maxval", maxval)
        if not self.minval < self.maxval:
            raise ValueError(
                "Argument `minval` must be less than `maxval`. "
                f"Received: minval={minval}, maxval={maxval}"
            )
        super().__init__(seed=seed)

    def stream(self, shape, dtype=None):
        return Stream("uniform", self.seed, low=self.minval, high=self.maxval)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")


class VarianceScaling(RandomInitializer):
    """Initializer that adapts its scale to the shape of its input tensors.

    With `distribution="truncated_normal"` or `"untruncated_normal"`, samples are drawn from a
    (truncated or untruncated) normal with mean zero and standard deviation (after truncation)
    `sqrt(scale / n)`, where `n` is `max(1, fan_in)`, `max(1, fan_out)` or
    `max(1, (fan_in + fan_out) / 2)` by `mode`.  The truncated normal is cut at two standard
    deviations of the underlying normal, whose stddev is `sqrt(scale / n) / 0.87962566103423978`.
    With `distribution="uniform"`, samples come from [-limit, limit) with
    `limit = sqrt(3 * scale / n)`.  `"normal"` means `"truncated_normal"`, as in Keras.

    Examples:

    >>> init = VarianceScaling(scale=0.1, mode="fan_in", distribution="uniform", seed=0)
    >>> init(shape=(2, 2)).shape
    (2, 2)

    Args:
        scale: Scaling factor (positive float).
        mode: One of `"fan_in"`, `"fan_out"`, `"fan_avg"` (case-sensitive).
        distribution: `"truncated_normal"`, `"untruncated_normal"` or `"uniform"`
            (case-insensitive; `"normal"` means `"truncated_normal"`).
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
        input_axes: Optional list of ints, the axes counted by fan-in.
        output_axes: Optional list of ints, the axes counted by fan-out (both or neither).
    """

    _stream_arguments = {p: ("scale",) for p in ("low", "high", "mean", "stddev")}
    _derived_stream = True

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
            raise TypeError(f"Argument `scale` must be a positive float. Received: scale={scale!r}")
        try:
            positive = math.isfinite(scale) and scale > 0.0
        except OverflowError:  # an int beyond float64's range
            positive = False
        if not positive:
            raise ValueError(f"Argument `scale` must be a positive float. Received: scale={scale}")
        if not isinstance(mode, str) or mode not in _MODES:
            raise ValueError(f"Invalid `mode` argument: {mode!r}. Please use one of {_MODES}")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        if dist == "normal":
            dist = "truncated_normal"
        if dist not in _DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution!r}. "
                f"Please use one of {_DISTRIBUTIONS}"
            )
        self.scale = float(scale)
        self.mode = mode
        self.distribution = dist
        self.input_axes = _check_axes("input_axes", input_axes)
        self.output_axes = _check_axes("output_axes", output_axes)
        super().__init__(seed=seed)

    def _range_context(self, shape):
        return f" for shape {shape}"

    def _variance(self, shape):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        if self.mode == "fan_in":
            n = max(1.0, fan_in)
        elif self.mode == "fan_out":
            n = max(1.0, fan_out)
        elif self.mode == "fan_avg":
            n = max(1.0, (fan_in + fan_out) / 2.0)
        else:  # the attribute was changed after construction
            raise ValueError(f"Invalid `mode` argument: {self.mode!r}. Please use one of {_MODES}")
        return self.scale / n

    def stream(self, shape, dtype=None):
        s = self._variance(shape)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(s) / TRUNCATED_NORMAL_STD
            return Stream("truncated_normal", self.seed, mean=0.0, stddev=stddev)
        if self.distribution == "untruncated_normal":
            return Stream("normal", self.seed, mean=0.0, stddev=math.sqrt(s))
        if self.distribution != "uniform":  # the attribute was changed after construction
            raise ValueError(
                f"Invalid `distribution` argument: {self.distribution!r}. "
                f"Please use one of {_DISTRIBUTIONS}"
            )
        # sqrt(3) sqrt(s) only where 3 s overflows: the usual formula keeps the usual bits
        limit = math.sqrt(3.0 * s) if 3.0 * s < math.inf else math.sqrt(3.0) * math.sqrt(s)
        return Stream("uniform", self.seed, low=-limit, high=limit)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _VarianceScalingPreset(VarianceScaling):
    _preset = None  # (scale, mode, distribution)

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self._preset
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed,
                         input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self._init_seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_VarianceScalingPreset):
    """The Glorot uniform initializer, also called Xavier uniform initializer.

    Draws from [-limit, limit) with `limit = sqrt(6 / (fan_in + fan_out))`.

    Args:
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.
        input_axes, output_axes: Optional fan axes (see `VarianceScaling`).

    Reference:

    - [Glorot et al., 2010](http://proceedings.mlr.press/v9/glorot10a.html)
    """

    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_VarianceScalingPreset):
    """The Glorot normal initializer, also called Xavier normal initializer.

    Draws from a truncated normal centered on 0 with `stddev = sqrt(2 / (fan_in + fan_out))`
    after truncation.

    Reference:

    - [Glorot et al., 2010](http://proceedings.mlr.press/v9/glorot10a.html)
    """

    _preset = (1.0, "fan_avg", "truncated_normal")


class LecunNormal(_VarianceScalingPreset):
    """Lecun normal initializer: truncated normal with `stddev = sqrt(1 / fan_in)`.

    Reference:

    - [Klambauer et al., 2017](https://arxiv.org/abs/1706.02515)
    """

    _preset = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_VarianceScalingPreset):
    """Lecun uniform initializer: [-limit, limit) with `limit = sqrt(3 / fan_in)`.

    Reference:

    - [LeCun et al., 1998](https://link.springer.com/chapter/10.1007/3-540-49430-8_2)
    """

    _preset = (1.0, "fan_in", "uniform")


class HeNormal(_VarianceScalingPreset):
    """He normal initializer: truncated normal with `stddev = sqrt(2 / fan_in)`.

    Reference:

    - [He et al., 2015](https://arxiv.org/abs/1502.01852)
    """

    _preset = (2.0, "fan_in", "truncated_normal")


class HeUniform(_VarianceScalingPreset):
    """He uniform variance scaling initializer: [-limit, limit), `limit = sqrt(6 / fan_in)`.

    Reference:

    - [He et al., 2015](https://arxiv.org/abs/1502.01852)
    """

    _preset = (2.0, "fan_in", "uniform")


class Orthogonal(RandomInitializer):
    """Initializer that generates an orthogonal matrix (Haar-distributed).

    The shape is flattened to `(prod(shape[:-1]), shape[-1])`; a matrix with at least as many
    rows as columns gets orthonormal columns, otherwise orthonormal rows; the result is
    multiplied by `gain` and reshaped.  float64 is computed in float64; float32, float16 and
    bfloat16 in float32 (rounded once).

    Examples:

    >>> q = Orthogonal(seed=0)(shape=(4, 4), dtype="float64")
    >>> bool(abs(q.T @ q - np.eye(4)).max() < 1e-12)
    True

    Args:
        gain: Multiplicative factor to apply to the orthogonal matrix.
        seed: int, None, numpy.random.SeedSequence or numpy.random.Generator.

    Reference:

    - [Saxe et al., 2014](https://openreview.net/forum?id=_wzZwKpTDF_9C)
    - [Mezzadri, 2007](https://arxiv.org/abs/math-ph/0609050)
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = check_finite("gain", gain)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None, *, out=None):
        shape, dt = _prepare(shape, dtype, out)
        check_orthogonal_shape(shape)
        # |Q_ij| <= 1 up to rounding, so gain * Q stays finite when gain leaves that margin
        if abs(self.gain) > float_max(dt) / (1.0 + 2.0**-8):
            raise ValueError(
                f"Argument `gain` makes values outside the range of {dt.name} (largest finite "
                f"value {float_max(dt):.6g}). Received: gain={self.gain!r}, dtype={dt.name}"
            )
        from fastinit._orthogonal import orthogonal_matrix

        rows = math.prod(shape[:-1])
        cols = shape[-1]
        # Q is formed directly in `out` (a C-contiguous reshape is a view): no second matrix.
        flat_out = None if out is None else out.reshape(rows, cols)
        q = orthogonal_matrix(rows, cols, self.seed, self.gain, dt, out=flat_out)
        return q.reshape(shape) if out is None else out

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# ---- names -----------------------------------------------------------------------------------

ALL_OBJECTS = (
    Initializer, Constant, Identity, Ones, Zeros, GlorotNormal, GlorotUniform, HeNormal,
    HeUniform, LecunNormal, LecunUniform, Orthogonal, RandomNormal, RandomUniform,
    TruncatedNormal, VarianceScaling,
)


def _to_snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({_to_snake_case(cls.__name__): cls for cls in ALL_OBJECTS})
ALL_OBJECTS_DICT.update({
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "zero": Zeros,
    "one": Ones,
})
