"""The one seam between Python and the fill kernels (src/fi_kernels.h, dispatched by
src/fi_simd.h).

`Kernel` holds one stream's parameters for one output dtype; `Kernel.fill` writes any range of
the stream into a buffer and `Kernel.fill_runs` writes many equal-length runs (a column block of
a matrix, say) in one call.  `fill_constant` writes a constant.  Each entry point takes the
output array and checks it itself -- its dtype against the kernel's, C-contiguity, alignment,
writability and the index range -- so no call from Python can make a kernel write outside its
buffer; the parameters' meaning (finite, consistent, in the dtype's range) is checked by the
Python layer (fastinit._stream) before a Kernel is built.  The GIL is released around each
kernel call; work is split over a static OpenMP schedule of fixed chunks, and the output does not
depend on the split: every element is a pure function of (key, global index).

The kernels have a portable scalar path and AVX2 / AVX-512 paths that give the same bits
(src/fi_simd.h).  The path is chosen once, at import: the widest one the CPU supports, or the one
named by the environment variable FASTINIT_CPU=generic|avx2|avx512 (a path the CPU lacks, or an
unknown name, falls back to the widest supported path with a warning).
"""

import os
import warnings

import ml_dtypes
import numpy as np

cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_New
from cython.parallel cimport prange
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset, strncmp

cnp.import_array()

#: The kernels' code paths, indexed by their FI_PATH_* codes.
CPU_PATHS = tuple({FI_PATH_GENERIC: "generic", FI_PATH_AVX2: "avx2",
                   FI_PATH_AVX512: "avx512"}[code] for code in range(3))

#: The kernels' dtype code of each output dtype they fill.
DTYPE_CODES = {
    np.dtype(np.float32): FI_F32,
    np.dtype(np.float64): FI_F64,
    np.dtype(np.float16): FI_F16,
    np.dtype(ml_dtypes.bfloat16): FI_BF16,
}

# Elements per OpenMP work item, and the size below which threads cost more than they save.
cdef int64_t CHUNK = 65536
cdef int64_t PARALLEL_MIN = 32768
cdef object U64_END = 2**64


def supported_cpu_paths():
    """The code paths this CPU can run, narrowest first (always starts with 'generic')."""
    return CPU_PATHS[:fi_cpu_best_path() + 1]


def cpu_path():
    """The code path the fill kernels use now: 'generic', 'avx2' or 'avx512'."""
    return CPU_PATHS[fi_get_cpu_path()]


def set_cpu_path(name):
    """Switch the fill kernels to code path `name` (tests and benchmarks); returns the old one.

    Raises ValueError for an unknown name or a path this CPU cannot run.  Not thread-safe: do not
    call it while another thread is filling."""
    if name not in CPU_PATHS:
        raise ValueError(f"unknown CPU path {name!r}; expected one of {CPU_PATHS}")
    if name not in supported_cpu_paths():
        raise ValueError(f"this CPU cannot run the {name!r} path "
                         f"(supported: {supported_cpu_paths()})")
    old = cpu_path()
    fi_set_cpu_path(CPU_PATHS.index(name))
    return old


def _select_cpu_path_at_import():
    best = CPU_PATHS[fi_cpu_best_path()]
    want = os.environ.get("FASTINIT_CPU", "").strip().lower()
    if not want:
        want = best
    elif want not in CPU_PATHS:
        warnings.warn(f"FASTINIT_CPU={want!r} is not one of {CPU_PATHS}; using {best!r}",
                      RuntimeWarning, stacklevel=2)
        want = best
    elif want not in supported_cpu_paths():
        warnings.warn(f"FASTINIT_CPU={want!r}: this CPU cannot run that path; using {best!r}",
                      RuntimeWarning, stacklevel=2)
        want = best
    fi_set_cpu_path(CPU_PATHS.index(want))


_select_cpu_path_at_import()


cdef check_output(cnp.ndarray out, object dtype):
    """numpy's checks of an output buffer, plus its dtype against the one expected."""
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, this kernel fills {dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(out):
        raise ValueError("out must be C-contiguous")
    if not cnp.PyArray_ISALIGNED(out):
        raise ValueError("out must be aligned")
    if not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError("out is read-only")


cdef int threads_for(int64_t n, int64_t items, int n_threads) noexcept nogil:
    cdef int nt = n_threads if n >= PARALLEL_MIN else 1
    if nt > items:
        nt = <int> items
    return nt if nt > 1 else 1


cdef extern from "fi_parallel.h" nogil:
    void fi_fill_chunks(const fi_fill_params *q, void *buf, int64_t n, int64_t chunk,
                        int threads) noexcept


cdef inline void fill_chunks(const fi_fill_params *q, void *buf, int64_t n,
                             int n_threads) noexcept nogil:
    """Buffer elements [0, n) over a static OpenMP schedule of CHUNK-element work items."""
    fi_fill_chunks(q, buf, n, CHUNK, threads_for(n, (n + CHUNK - 1) // CHUNK, n_threads))


cdef class Kernel:
    """One stream's kernel parameters in one output dtype.

    Args:
        dist: FI_DIST_UNIFORM (p0 = low, p1 = high - low), FI_DIST_NORMAL or
            FI_DIST_TRUNCNORM (p0 = mean, p1 = stddev).
        dtype: float32, float64, float16 or bfloat16.
        key: the two 32-bit Philox key words.
        lo, hi: clamp bounds, representable in `dtype`.
        za, zb, tn_method, tn_alpha, tn_m2, max_attempts: the truncated-normal sampler
            (fastinit._stream.truncnorm_plan).
    """

    cdef fi_fill_params p
    cdef readonly object dtype

    def __cinit__(self, int dist, dtype, key, double p0, double p1, double lo, double hi,
                  double za=0.0, double zb=0.0, int tn_method=FI_TN_NORMAL,
                  double tn_alpha=0.0, double tn_m2=0.0, uint32_t max_attempts=1):
        if dist not in (FI_DIST_UNIFORM, FI_DIST_NORMAL, FI_DIST_TRUNCNORM):
            raise ValueError(f"unknown distribution code {dist}")
        if tn_method not in (FI_TN_NORMAL, FI_TN_UNIFORM, FI_TN_EXP, FI_TN_EXP_NEG):
            raise ValueError(f"unknown truncated-normal method {tn_method}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.dtype = np.dtype(dtype)
        code = DTYPE_CODES.get(self.dtype)
        if code is None:
            raise TypeError(f"the kernels fill float16, bfloat16, float32 or float64, "
                            f"not {self.dtype}")
        k0, k1 = key
        self.p.key[0] = k0
        self.p.key[1] = k1
        self.p.start = 0
        self.p.dist = dist
        self.p.dtype = code
        self.p.p0 = p0
        self.p.p1 = p1
        self.p.lo = lo
        self.p.hi = hi
        self.p.za = za
        self.p.zb = zb
        self.p.tn_alpha = tn_alpha
        self.p.tn_m2 = tn_m2
        self.p.tn_method = tn_method
        self.p.max_attempts = max_attempts
        self.p.pattern = 0

    def fill(self, cnp.ndarray out, start, int n_threads=1):
        """Write stream elements [start, start + out.size) into `out` (flat C order)."""
        check_output(out, self.dtype)
        cdef int64_t n = cnp.PyArray_SIZE(out)
        if not 0 <= start <= U64_END - n:
            raise ValueError(f"stream range [{start}, {start} + {n}) is outside [0, 2**64)")
        cdef fi_fill_params q = self.p
        q.start = <uint64_t> start
        cdef void *data = cnp.PyArray_DATA(out)
        with nogil:
            fill_chunks(&q, data, n, n_threads)
        return out

    def xla_operands(self):
        """(key, params) for `xla_fill_handler`: the key as uint32[2], and every other
        parameter of this kernel as the float64[XLA_PARAMS_SIZE] array the handler reads (see
        there).  The key is the part that depends on the seed."""
        key = np.array([self.p.key[0], self.p.key[1]], np.uint32)
        params = np.array([XLA_PARAMS_LAYOUT, self.p.dist, self.p.dtype, self.p.p0, self.p.p1,
                           self.p.lo, self.p.hi, self.p.za, self.p.zb, self.p.tn_alpha,
                           self.p.tn_m2, self.p.tn_method, self.p.max_attempts], np.float64)
        return key, params

    def fill_runs(self, cnp.ndarray out, const int64_t[::1] starts, int64_t run_length,
                  int n_threads=1):
        """Write len(starts) runs of `run_length` stream elements back to back into `out`:
        run r is stream elements [starts[r], starts[r] + run_length).  One native call for any
        number of runs, however short."""
        check_output(out, self.dtype)
        cdef int64_t nruns = starts.shape[0]
        cdef int64_t n = cnp.PyArray_SIZE(out)
        if run_length < 0 or n != nruns * run_length:
            raise ValueError(f"out has {n} elements, not {nruns} runs of {run_length}")
        cdef int64_t r, lo_start = 0, hi_start = 0
        with nogil:
            for r in range(nruns):
                if starts[r] < lo_start:
                    lo_start = starts[r]
                if starts[r] > hi_start:
                    hi_start = starts[r]
        if lo_start < 0:
            raise ValueError(f"a run starts at {lo_start} < 0")
        if n == 0:
            return out
        cdef char *buf = <char *> cnp.PyArray_DATA(out)
        cdef int itemsize = <int> cnp.PyArray_ITEMSIZE(out)
        cdef int64_t ngroups = (nruns + RUNS_PER_ITEM - 1) // RUNS_PER_ITEM
        cdef int64_t g, r0
        cdef int nt = threads_for(n, ngroups, n_threads)
        with nogil:
            if nt == 1:
                fill_run_group(&self.p, buf, itemsize, &starts[0], 0, nruns, run_length)
            else:
                for g in prange(ngroups, num_threads=nt, schedule='static'):
                    r0 = g * RUNS_PER_ITEM
                    fill_run_group(&self.p, buf, itemsize, &starts[0], r0,
                                   min(nruns, r0 + RUNS_PER_ITEM), run_length)
        return out


# Runs per OpenMP work item of fill_runs.
cdef int64_t RUNS_PER_ITEM = 512
# Short runs separated by short gaps (a column block of a narrow matrix) are generated as one span
# of the stream into a tile and copied out: a SIMD fill of the whole span costs less than one
# fill call per run, each of which computes at least one full vector iteration (256 float32
# elements on AVX-512).  A run of SPAN_MAX_RUN or more elements, or a gap over SPAN_MAX_GAP, is
# filled directly.
cdef enum:
    TILE_BYTES = 65536
cdef int64_t SPAN_MAX_RUN = 256
cdef int64_t SPAN_MAX_GAP = 256


cdef inline void run_into(const fi_fill_params *p, char *buf, int itemsize, int64_t start,
                          int64_t off, int64_t n) noexcept nogil:
    # fi_fill_range writes buffer elements [off, off + n) as stream elements start' + off ...;
    # choose start' so that buffer element off is stream element `start` (uint64 wraps).
    cdef fi_fill_params q = p[0]
    q.start = <uint64_t> start - <uint64_t> off
    fi_fill_range(&q, buf, off, n)


cdef void fill_run_group(const fi_fill_params *p, char *buf, int itemsize,
                         const int64_t *starts, int64_t r, int64_t r_end,
                         int64_t n) noexcept nogil:
    """Runs r .. r_end - 1 (run k: stream [starts[k], starts[k] + n) into buffer element k*n)."""
    cdef char tile[TILE_BYTES]
    cdef int64_t tile_elems = TILE_BYTES // itemsize
    cdef int64_t r1, span, k
    cdef fi_fill_params q = p[0]
    while r < r_end:
        r1 = r + 1
        if n < SPAN_MAX_RUN:
            while (r1 < r_end and starts[r1] >= starts[r1 - 1] + n
                   and starts[r1] - starts[r1 - 1] - n <= SPAN_MAX_GAP
                   and starts[r1] + n - starts[r] <= tile_elems):
                r1 += 1
        if r1 - r == 1:
            run_into(p, buf, itemsize, starts[r], r * n, n)
        else:
            span = starts[r1 - 1] + n - starts[r]
            q.start = <uint64_t> starts[r]
            fi_fill_range(&q, tile, 0, span)
            for k in range(r, r1):
                memcpy(buf + k * n * itemsize, tile + (starts[k] - starts[r]) * itemsize,
                       n * itemsize)
        r = r1


_PATTERN_VIEW = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def fill_constant(cnp.ndarray out, value, int n_threads=1):
    """Fill `out` with `value` cast to its dtype (the caller checked that the cast is exact
    enough: no overflow, no wraparound).  1/2/4/8-byte items of a C-contiguous array go through
    the parallel kernel; anything else through numpy."""
    cdef fi_fill_params q
    cdef int64_t n = cnp.PyArray_SIZE(out)
    cdef int itemsize = out.dtype.itemsize
    if not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError("out is read-only")
    if n == 0:
        return out
    if itemsize not in _PATTERN_VIEW or not cnp.PyArray_IS_C_CONTIGUOUS(out) \
            or not cnp.PyArray_ISALIGNED(out):
        out[...] = np.asarray(value).astype(out.dtype)
        return out
    memset(&q, 0, sizeof(q))
    q.dist = FI_DIST_CONSTANT
    q.dtype = itemsize
    q.start = 0
    q.pattern = int(np.asarray(value).astype(out.dtype).reshape(1).view(
        _PATTERN_VIEW[itemsize])[0])
    cdef void *data = cnp.PyArray_DATA(out)
    with nogil:
        fill_chunks(&q, data, n, n_threads)
    return out


# ---- the kernels as an XLA FFI handler (fastinit.jax under jax.jit) ---------------------------
#
# XLA calls a registered FFI handler with a call frame holding its operands, results and
# attributes (the C API of xla/ffi/api/c_api.h, vendored under src/third_party: a stable C ABI
# with a struct_size in every struct).  `xla_fill_handler` fills the call's one result buffer in
# place, on fastinit's OpenMP threads, with the same fill_chunks as Kernel.fill (a C loop,
# src/fi_parallel.h): the bits are the eager ones, the buffer is XLA's own output (no copy, no
# zeroing), and nothing here touches Python or the GIL (the handler runs on XLA's threads).
#
#   operand 0: uint32[3] = (key word 0, key word 1, thread count)
#   result 0:  the output, float32 / float64 / float16 / bfloat16, any shape (C order)
#   attribute "params": float64[XLA_PARAMS_SIZE] = Kernel.xla_operands()[1], laid out as
#       (XLA_PARAMS_LAYOUT, dist, dtype code, p0, p1, lo, hi, za, zb, tn_alpha, tn_m2, tn_method,
#        max_attempts); every integer in it is exact in float64.
# A call whose operands or attributes do not have this form, whose parameters fail the checks
# fastinit._stream makes before it builds a Kernel (known codes, finite values, non-empty
# intervals), or whose result dtype is not the one the parameters were checked for, returns an
# INVALID_ARGUMENT error to XLA (which raises it in Python) and writes nothing.  A thread count
# over 1024 is clamped to 1024.

cdef extern from "fi_pages.h" nogil:
    void fi_advise_huge_pages(void *data, size_t nbytes) noexcept

cdef extern from "third_party/xla/ffi/api/c_api.h" nogil:
    ctypedef enum XLA_FFI_Extension_Type:
        XLA_FFI_Extension_Metadata
    ctypedef struct XLA_FFI_Extension_Base:
        size_t struct_size
        XLA_FFI_Extension_Type type
    ctypedef struct XLA_FFI_Api_Version:
        size_t struct_size
        XLA_FFI_Extension_Base *extension_start
        int major_version
        int minor_version
    ctypedef struct XLA_FFI_Metadata:
        size_t struct_size
        XLA_FFI_Api_Version api_version
        uint32_t traits
    ctypedef struct XLA_FFI_Metadata_Extension:
        XLA_FFI_Extension_Base extension_base
        XLA_FFI_Metadata *metadata
    ctypedef struct XLA_FFI_Error:
        pass
    ctypedef enum XLA_FFI_Error_Code:
        XLA_FFI_Error_Code_INVALID_ARGUMENT
    ctypedef struct XLA_FFI_Error_Create_Args:
        size_t struct_size
        XLA_FFI_Extension_Base *extension_start
        const char *message
        XLA_FFI_Error_Code errc
    ctypedef struct XLA_FFI_Api:
        XLA_FFI_Error *(*XLA_FFI_Error_Create)(XLA_FFI_Error_Create_Args *args) noexcept nogil
    ctypedef enum XLA_FFI_DataType:
        XLA_FFI_DataType_U32
        XLA_FFI_DataType_F16
        XLA_FFI_DataType_F32
        XLA_FFI_DataType_F64
        XLA_FFI_DataType_BF16
    ctypedef struct XLA_FFI_Buffer:
        size_t struct_size
        XLA_FFI_DataType dtype
        void *data
        int64_t rank
        int64_t *dims
    ctypedef enum XLA_FFI_ArgType:
        XLA_FFI_ArgType_BUFFER
    ctypedef enum XLA_FFI_RetType:
        XLA_FFI_RetType_BUFFER
    ctypedef enum XLA_FFI_AttrType:
        XLA_FFI_AttrType_ARRAY
    ctypedef struct XLA_FFI_ByteSpan:
        const char *ptr
        size_t len
    ctypedef struct XLA_FFI_Array:
        XLA_FFI_DataType dtype
        size_t size
        void *data
    ctypedef struct XLA_FFI_Args:
        int64_t size
        XLA_FFI_ArgType *types
        void **args
    ctypedef struct XLA_FFI_Rets:
        int64_t size
        XLA_FFI_RetType *types
        void **rets
    ctypedef struct XLA_FFI_Attrs:
        int64_t size
        XLA_FFI_AttrType *types
        XLA_FFI_ByteSpan **names
        void **attrs
    ctypedef enum XLA_FFI_ExecutionStage:
        XLA_FFI_ExecutionStage_EXECUTE
    ctypedef struct XLA_FFI_CallFrame:
        size_t struct_size
        XLA_FFI_Extension_Base *extension_start
        const XLA_FFI_Api *api
        XLA_FFI_ExecutionStage stage
        XLA_FFI_Args args
        XLA_FFI_Rets rets
        XLA_FFI_Attrs attrs
    enum:
        XLA_FFI_API_MAJOR
        XLA_FFI_API_MINOR
        XLA_FFI_Api_Version_STRUCT_SIZE
        XLA_FFI_Metadata_STRUCT_SIZE
        XLA_FFI_Metadata_Extension_STRUCT_SIZE
        XLA_FFI_CallFrame_STRUCT_SIZE
        XLA_FFI_Buffer_STRUCT_SIZE
        XLA_FFI_Error_Create_Args_STRUCT_SIZE


#: The layout tag of the "params" attribute (its first entry) and its length.
XLA_PARAMS_LAYOUT = 0x66690001
XLA_PARAMS_SIZE = 13
cdef double C_XLA_PARAMS_LAYOUT = XLA_PARAMS_LAYOUT
cdef size_t C_XLA_PARAMS_SIZE = XLA_PARAMS_SIZE


cdef XLA_FFI_Error *xla_error(const XLA_FFI_CallFrame *frame, const char *message) noexcept nogil:
    cdef XLA_FFI_Error_Create_Args args
    memset(&args, 0, sizeof(args))
    args.struct_size = XLA_FFI_Error_Create_Args_STRUCT_SIZE
    args.message = message
    args.errc = XLA_FFI_Error_Code_INVALID_ARGUMENT
    if frame.api == NULL:       # older XLA builds the metadata call frame without an API
        return NULL
    return frame.api.XLA_FFI_Error_Create(&args)


cdef int xla_dtype_code(XLA_FFI_DataType t) noexcept nogil:
    if t == XLA_FFI_DataType_F32:
        return FI_F32
    if t == XLA_FFI_DataType_F64:
        return FI_F64
    if t == XLA_FFI_DataType_F16:
        return FI_F16
    if t == XLA_FFI_DataType_BF16:
        return FI_BF16
    return -1


cdef bint is_integer_in(double x, double lo, double hi) noexcept nogil:
    return lo <= x <= hi and <double> <int64_t> x == x


cdef XLA_FFI_Error *xla_fill(XLA_FFI_CallFrame *frame) noexcept nogil:
    cdef XLA_FFI_Metadata_Extension *ext
    cdef XLA_FFI_Buffer *arg
    cdef XLA_FFI_Buffer *ret
    cdef XLA_FFI_Array *attr
    cdef const XLA_FFI_ByteSpan *name
    cdef const double *v
    cdef const uint32_t *words
    cdef fi_fill_params q
    cdef int64_t n = 1, k
    cdef int code
    # XLA first asks each handler which API version it was built against (registration).
    if frame.extension_start != NULL \
            and frame.extension_start.type == XLA_FFI_Extension_Metadata:
        ext = <XLA_FFI_Metadata_Extension *> frame.extension_start
        if ext.extension_base.struct_size < XLA_FFI_Metadata_Extension_STRUCT_SIZE \
                or ext.metadata.struct_size < XLA_FFI_Metadata_STRUCT_SIZE:
            # Nothing written: without an API to report the error with, XLA reads version 0.0
            # and refuses the handler.
            return xla_error(frame, b"fastinit: XLA's FFI metadata structs are too small")
        ext.metadata.api_version.struct_size = XLA_FFI_Api_Version_STRUCT_SIZE
        ext.metadata.api_version.extension_start = NULL
        ext.metadata.api_version.major_version = XLA_FFI_API_MAJOR
        ext.metadata.api_version.minor_version = XLA_FFI_API_MINOR
        ext.metadata.traits = 0
        return NULL
    if frame.struct_size < XLA_FFI_CallFrame_STRUCT_SIZE:
        return xla_error(frame, b"fastinit: XLA's FFI call frame is too small")
    if frame.stage != XLA_FFI_ExecutionStage_EXECUTE:
        return xla_error(frame, b"fastinit: the fill handler runs at the execute stage only")
    if frame.args.size != 1 or frame.args.types[0] != XLA_FFI_ArgType_BUFFER \
            or frame.rets.size != 1 or frame.rets.types[0] != XLA_FFI_RetType_BUFFER:
        return xla_error(frame, b"fastinit: the fill handler takes one operand and one result")
    arg = <XLA_FFI_Buffer *> frame.args.args[0]
    ret = <XLA_FFI_Buffer *> frame.rets.rets[0]
    if arg.struct_size < XLA_FFI_Buffer_STRUCT_SIZE or ret.struct_size < XLA_FFI_Buffer_STRUCT_SIZE:
        return xla_error(frame, b"fastinit: XLA's FFI buffer struct is too small")
    if arg.dtype != XLA_FFI_DataType_U32 or arg.rank != 1 or arg.dims[0] != 3:
        return xla_error(frame, b"fastinit: operand 0 must be uint32[3] (key, threads)")
    if frame.attrs.size != 1 or frame.attrs.types[0] != XLA_FFI_AttrType_ARRAY:
        return xla_error(frame, b"fastinit: the fill handler takes one array attribute")
    name = frame.attrs.names[0]
    attr = <XLA_FFI_Array *> frame.attrs.attrs[0]
    if name.len != 6 or strncmp(name.ptr, b"params", 6) != 0 \
            or attr.dtype != XLA_FFI_DataType_F64 or attr.size != C_XLA_PARAMS_SIZE:
        return xla_error(frame, b"fastinit: attribute `params` must be float64[13]")
    v = <const double *> attr.data
    if v[0] != C_XLA_PARAMS_LAYOUT:
        return xla_error(frame, b"fastinit: `params` has another layout (another version)")
    if not (is_integer_in(v[1], FI_DIST_UNIFORM, FI_DIST_UNIFORM)
            or is_integer_in(v[1], FI_DIST_NORMAL, FI_DIST_NORMAL)
            or is_integer_in(v[1], FI_DIST_TRUNCNORM, FI_DIST_TRUNCNORM)) \
            or not is_integer_in(v[2], 0, 16) \
            or not is_integer_in(v[11], FI_TN_NORMAL, FI_TN_EXP_NEG) \
            or not is_integer_in(v[12], 1, 4294967295.0):
        return xla_error(frame, b"fastinit: `params` holds an invalid code")
    # The values Kernel's callers (fastinit._stream) check before building one: a NaN bound or an
    # empty interval would give NaN output or a truncated normal that rejects ~2**32 times per
    # element.
    for k in range(3, 11):
        if not isfinite(v[k]):
            return xla_error(frame, b"fastinit: `params` holds a value that is not finite")
    if not v[5] <= v[6] or (is_integer_in(v[1], FI_DIST_TRUNCNORM, FI_DIST_TRUNCNORM)
                            and not v[7] < v[8]):
        return xla_error(frame, b"fastinit: `params` holds an empty interval")
    code = xla_dtype_code(ret.dtype)
    if code < 0 or code != <int> v[2]:
        return xla_error(frame, b"fastinit: the result dtype is not the one `params` is for")
    for k in range(ret.rank):
        if ret.dims[k] < 0:
            return xla_error(frame, b"fastinit: negative result dimension")
        n *= ret.dims[k]
    words = <const uint32_t *> arg.data
    memset(&q, 0, sizeof(q))
    q.key[0] = words[0]
    q.key[1] = words[1]
    q.start = 0
    q.dist = <int> v[1]
    q.dtype = code
    q.p0 = v[3]
    q.p1 = v[4]
    q.lo = v[5]
    q.hi = v[6]
    q.za = v[7]
    q.zb = v[8]
    q.tn_alpha = v[9]
    q.tn_m2 = v[10]
    q.tn_method = <int> v[11]
    q.max_attempts = <uint32_t> v[12]
    if n > 0:
        fi_advise_huge_pages(ret.data, <size_t> n * (8 if code == FI_F64 else 4 if code == FI_F32
                                                     else 2))
        fill_chunks(&q, ret.data, n, <int> (words[2] if words[2] <= 1024 else 1024))
    return NULL


def xla_fill_handler():
    """The XLA FFI handler that fills a stream's elements [0, n) into its result (see above), as
    the PyCapsule ``jax.ffi.register_ffi_target`` takes."""
    return PyCapsule_New(<void *> xla_fill, NULL, NULL)
