"""Fan computation with Keras 3's rules (keras/src/initializers/random_initializers.py)."""


cdef long long _prod(tuple shape, tuple axes):
    # axes were range-checked by the caller; negative ones count from the end (wraparound is
    # off module-wide, so normalize them here)
    cdef long long r = 1
    cdef Py_ssize_t ax, rank = len(shape)
    for ax in axes:
        if ax < 0:
            ax += rank
        r *= <long long> shape[ax]
    return r


def compute_fans(tuple shape, tuple input_axes=None, tuple output_axes=None):
    """(fan_in, fan_out) for a validated shape of non-negative ints.

    Both axis tuples given: the products of those dimensions.  Otherwise (Keras ignores a lone
    one): scalar -> (1, 1); 1-D -> (n, n); 2-D -> (rows, cols); rank >= 3 is a convolution kernel
    (..., in, out) whose leading dimensions form the receptive field.
    """
    cdef Py_ssize_t rank = len(shape)
    cdef long long rf = 1
    cdef Py_ssize_t i
    if input_axes is not None and output_axes is not None:
        return int(_prod(shape, input_axes)), int(_prod(shape, output_axes))
    if rank == 0:
        return 1, 1
    if rank == 1:
        return int(shape[0]), int(shape[0])
    if rank == 2:
        return int(shape[0]), int(shape[1])
    for i in range(rank - 2):
        rf *= <long long> shape[i]
    return int(shape[rank - 2] * rf), int(shape[rank - 1] * rf)
