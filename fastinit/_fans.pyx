"""Fan computation with Keras 3's rules (keras/src/initializers/random_initializers.py)."""


def _prod(tuple shape, tuple axes):
    # Python ints, as Keras computes: repeated axes can multiply past 64 bits (the shape's own
    # size was bounded by the caller, a product over chosen axes was not).  Axes were
    # range-checked by the caller; negative ones count from the end (wraparound is off
    # module-wide, so normalize them here).
    cdef Py_ssize_t rank = len(shape)
    r = 1
    for ax in axes:
        r *= shape[ax + rank if ax < 0 else ax]
    return r


def compute_fans(tuple shape, tuple input_axes=None, tuple output_axes=None):
    """(fan_in, fan_out) for a validated shape of non-negative ints.

    Both axis tuples given: the products of those dimensions.  Otherwise (Keras ignores a lone
    one): scalar -> (1, 1); 1-D -> (n, n); 2-D -> (rows, cols); rank >= 3 is a convolution kernel
    (..., in, out) whose leading dimensions form the receptive field.
    """
    cdef Py_ssize_t rank = len(shape)
    if input_axes is not None and output_axes is not None:
        return _prod(shape, input_axes), _prod(shape, output_axes)
    if rank == 0:
        return 1, 1
    if rank == 1:
        return int(shape[0]), int(shape[0])
    if rank == 2:
        return int(shape[0]), int(shape[1])
    rf = _prod(shape, tuple(range(rank - 2)))
    return int(shape[rank - 2] * rf), int(shape[rank - 1] * rf)
