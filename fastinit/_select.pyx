"""Kernels that zero, in each column of a matrix piece, the rows holding the column's k smallest
keys (fastinit.torch's sparse_; the driver is fastinit/_zero_rows.py).

The keys are float32 uniforms in [0, 1) that are multiples of 2**-24, so ``key24 = key * 2**24``
is an exact 24-bit integer and ``key24 << 40 | row`` (rows < 2**40) is a uint64 unique to its
element whose order is the (key, row) order: a column's zero rows are those whose packed values
are its k smallest, ties in the key going to the lower row.

The caller feeds keys in row blocks of a column strip (``keys[i, j]`` is the key of global row
``row0 + i`` of strip column j), regenerating them for each pass instead of keeping whole
columns.  The output ``out`` is the piece: its row 0 is global row ``out_row0`` and strip column
j is its column ``out_col0 + j``; block rows outside the piece are read but never written.  A
zero is written as all-zero bytes (+0.0 in float16, bfloat16, float32 and float64).

- One pass, the band: `band_scan` zeroes keys below `lo24` (zero rows for sure, if the column's
  counts come out as expected), counts them, and keeps keys in [lo24, hi24) packed in the
  column's band; `band_finish` then zeroes each column's ``k - below`` smallest band entries and
  flags the columns whose counts fell outside the band (or overflowed it).
- Three passes, exact, for flagged columns: `radix_count` twice (a histogram of the key's high
  12 bits, then of the low 12 bits inside the chosen high bin) gives the k-th smallest key K and
  how many equal keys still belong to the zero rows; `radix_zero` zeroes keys below K and that
  many keys equal to K, in row order.

Each wrapper checks its buffers and raises before any work, then releases the GIL; the kernels
never raise.  They are serial: the driver runs disjoint column ranges on separate threads.
"""

cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

cnp.import_array()

#: Packed value = key24 << ROW_BITS | row.
ROW_BITS = 40
#: Bins of each radix_count pass (12 of the key's 24 bits).
RADIX_BINS = 4096

cdef uint64_t ROW_MASK = (<uint64_t> 1 << 40) - 1
cdef float TO_KEY24 = 16777216.0   # 2**24

cdef check_out(cnp.ndarray out, int64_t out_col0, int64_t ncols):
    """numpy's checks of the output piece, and that the strip's columns lie inside it."""
    if cnp.PyArray_NDIM(out) != 2:
        raise ValueError(f"out must be 2-D, got {cnp.PyArray_NDIM(out)} dimensions")
    if out.dtype.itemsize not in (2, 4, 8):
        raise TypeError(f"out has dtype {out.dtype}, expected a 2-, 4- or 8-byte float")
    if not cnp.PyArray_IS_C_CONTIGUOUS(out):
        raise ValueError("out must be C-contiguous")
    if not cnp.PyArray_ISALIGNED(out):
        raise ValueError("out must be aligned")
    if not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError("out is read-only")
    if out_col0 < 0 or out_col0 + ncols > out.shape[1]:
        raise ValueError(f"strip columns [{out_col0}, {out_col0 + ncols}) are outside out's "
                         f"{out.shape[1]} columns")


cdef check_rows(int64_t row0, int64_t nrows):
    if row0 < 0 or row0 + nrows > (<int64_t> 1 << 40):
        raise ValueError(f"rows [{row0}, {row0 + nrows}) are outside [0, 2**40)")


cdef check_length(str name, int64_t got, int64_t want):
    if got != want:
        raise ValueError(f"{name} has length {got}, expected {want}")


cdef struct Piece:
    char *data        # out's first byte
    int64_t row0      # global row of out's row 0
    int64_t nrows
    int64_t stride    # bytes per out row
    int64_t col0      # out column of strip column 0
    int itemsize


cdef Piece piece_of(cnp.ndarray out, int64_t out_row0, int64_t out_col0):
    cdef Piece p
    p.data = <char *> cnp.PyArray_DATA(out)
    p.row0 = out_row0
    p.nrows = out.shape[0]
    p.itemsize = <int> out.dtype.itemsize
    p.stride = out.shape[1] * p.itemsize
    p.col0 = out_col0
    return p


cdef inline void zero_at(const Piece *p, int64_t row, int64_t col) noexcept nogil:
    """Zero strip column `col` of global `row`, if the row is inside the piece."""
    cdef int64_t i = row - p.row0
    cdef char *q
    if i < 0 or i >= p.nrows:
        return
    q = p.data + i * p.stride + (p.col0 + col) * p.itemsize
    if p.itemsize == 2:
        (<uint16_t *> q)[0] = 0
    elif p.itemsize == 4:
        (<uint32_t *> q)[0] = 0
    else:
        (<uint64_t *> q)[0] = 0


cdef inline uint32_t key24(float key) noexcept nogil:
    return <uint32_t> (key * TO_KEY24)


# ---- the band ---------------------------------------------------------------------------------

cdef extern from "fi_select.h" nogil:
    uint32_t fi_lt_mask16(const float *x, float t) noexcept
    int fi_ctz32(uint32_t m) noexcept


cdef inline void scan_key(float x, int64_t c, int64_t r, uint32_t lo24, int64_t *below,
                          uint64_t *band, int64_t cap, int64_t *count, char *orow, int itemsize,
                          uint64_t *sink) noexcept nogil:
    """One key below the band's top: a sure zero row (counted, and zeroed when the row is in the
    piece) or a band entry (kept while the band has room).  Branch-free: both outcomes are as
    likely as each other to the predictor, so each store goes to `sink` when it does not
    apply."""
    cdef uint32_t u = key24(x)
    cdef bint lt = u < lo24
    cdef int64_t n = count[c]
    below[c] += lt
    count[c] = n + (not lt)
    cdef uint64_t *slot = &band[c * cap + n] if (not lt) and n < cap else sink
    slot[0] = (<uint64_t> u << 40) | <uint64_t> r
    if orow == NULL or not lt:
        sink[0] = 0
    elif itemsize == 4:        # the same itemsize all along: predicted
        (<uint32_t *> (orow + c * 4))[0] = 0
    elif itemsize == 2:
        (<uint16_t *> (orow + c * 2))[0] = 0
    else:
        (<uint64_t *> (orow + c * 8))[0] = 0


cdef void scan_columns(const float *keys, int64_t nb, int64_t ncols, int64_t row0,
                       uint32_t lo24, uint32_t hi24, int64_t *below, uint64_t *band,
                       int64_t cap, int64_t *count, const Piece *p) noexcept nogil:
    cdef float hi = hi24 / TO_KEY24   # exact: a multiple of 2**-24
    cdef int64_t i, c, r, oi
    cdef const float *row
    cdef char *orow
    cdef uint32_t m
    cdef uint64_t sink = 0
    cdef int64_t vec_end = ncols - ncols % 16
    for i in range(nb):
        r = row0 + i
        row = keys + i * ncols
        oi = r - p.row0
        orow = NULL
        if 0 <= oi < p.nrows:
            orow = p.data + oi * p.stride + p.col0 * p.itemsize
        for c in range(0, vec_end, 16):
            m = fi_lt_mask16(row + c, hi)     # the keys below the band's top, 16 at a time
            while m != 0:
                scan_key(row[c + fi_ctz32(m)], c + fi_ctz32(m), r, lo24, below, band, cap,
                         count, orow, p.itemsize, &sink)
                m &= m - 1
        for c in range(vec_end, ncols):
            if row[c] < hi:
                scan_key(row[c], c, r, lo24, below, band, cap, count, orow, p.itemsize, &sink)


def band_scan(const float[:, ::1] keys, int64_t row0, uint32_t lo24, uint32_t hi24,
              int64_t[::1] below, uint64_t[:, ::1] band, int64_t[::1] count,
              cnp.ndarray out, int64_t out_row0, int64_t out_col0):
    """One row block of the band pass over a strip of ``keys.shape[1]`` columns.

    Keys below ``lo24 / 2**24``: ``below[j] += 1`` and the element is zeroed.  Keys in
    [lo24, hi24) / 2**24: appended (packed) to ``band[j]`` while it has room; ``count[j]`` counts
    them all, so ``count[j] > band.shape[1]`` means the band overflowed.  Call it on the strip's
    row blocks in increasing row order (every block, also those outside the piece)."""
    cdef int64_t nb = keys.shape[0], ncols = keys.shape[1]
    check_length("below", below.shape[0], ncols)
    check_length("band", band.shape[0], ncols)
    check_length("count", count.shape[0], ncols)
    check_out(out, out_col0, ncols)
    check_rows(row0, nb)
    if lo24 > hi24 or hi24 > (1 << 24):
        raise ValueError(f"need 0 <= lo24 <= hi24 <= 2**24, got lo24={lo24}, hi24={hi24}")
    if nb == 0 or ncols == 0:
        return
    cdef Piece p = piece_of(out, out_row0, out_col0)
    cdef int64_t cap = band.shape[1]
    cdef uint64_t *band_p = &band[0, 0] if cap > 0 else NULL
    with nogil:
        scan_columns(&keys[0, 0], nb, ncols, row0, lo24, hi24, &below[0], band_p, cap,
                     &count[0], &p)


cdef void smallest_first(uint64_t *a, int64_t n, int64_t k) noexcept nogil:
    """Reorder the distinct values a[0:n] so that a[0:k] are the k smallest (quickselect,
    median of three pivots; 0 < k < n)."""
    cdef int64_t lo = 0, hi = n - 1, i, j, mid
    cdef uint64_t pivot, t
    while hi > lo:
        mid = lo + (hi - lo) // 2
        # median of a[lo], a[mid], a[hi] into a[mid]
        if a[mid] < a[lo]:
            t = a[mid]; a[mid] = a[lo]; a[lo] = t
        if a[hi] < a[lo]:
            t = a[hi]; a[hi] = a[lo]; a[lo] = t
        if a[hi] < a[mid]:
            t = a[hi]; a[hi] = a[mid]; a[mid] = t
        pivot = a[mid]
        i = lo
        j = hi
        while i <= j:              # Hoare partition: a[lo:i] <= pivot <= a[j+1:hi+1]
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                t = a[i]; a[i] = a[j]; a[j] = t
                i += 1
                j -= 1
        if k - 1 <= j:
            hi = j
        elif k - 1 >= i:
            lo = i
        else:
            return


cdef void finish_columns(int64_t k, const int64_t *below, uint64_t *band, int64_t cap,
                         const int64_t *count, uint8_t *failed, const Piece *p,
                         int64_t ncols) noexcept nogil:
    cdef int64_t c, j, need, n
    cdef uint64_t *b
    for c in range(ncols):
        need = k - below[c]
        n = count[c]
        if need < 0 or n > cap or need > n:
            failed[c] = 1
            continue
        failed[c] = 0
        if need == 0:
            continue
        b = band + c * cap
        if need < n:
            smallest_first(b, n, need)
        for j in range(need):
            zero_at(p, <int64_t> (b[j] & ROW_MASK), c)


def band_finish(int64_t k, const int64_t[::1] below, uint64_t[:, ::1] band,
                const int64_t[::1] count, uint8_t[::1] failed, cnp.ndarray out,
                int64_t out_row0, int64_t out_col0):
    """After the last band_scan: zero the ``k - below[j]`` smallest band entries of each strip
    column j and set ``failed[j] = 0``; or, when the column's counts fall outside its band (fewer
    than 0 or more than ``count[j]`` still to take, or an overflowed band), set ``failed[j] = 1``
    and zero nothing more (its keys below lo24 are zeroed already).  Reorders the bands."""
    cdef int64_t ncols = below.shape[0]
    check_length("band", band.shape[0], ncols)
    check_length("count", count.shape[0], ncols)
    check_length("failed", failed.shape[0], ncols)
    check_out(out, out_col0, ncols)
    if ncols == 0:
        return
    cdef Piece p = piece_of(out, out_row0, out_col0)
    cdef int64_t cap = band.shape[1]
    cdef uint64_t *band_p = &band[0, 0] if cap > 0 else NULL
    with nogil:
        finish_columns(k, &below[0], band_p, cap, &count[0], &failed[0], &p, ncols)


# ---- radix select -----------------------------------------------------------------------------

cdef void count_columns(const float *keys, int64_t nb, int64_t ncols, const int64_t *cols,
                        int64_t nsel, const uint32_t *prefix, int shift,
                        int64_t *hist) noexcept nogil:
    cdef int64_t i, j, c
    cdef uint32_t u, pre
    cdef int64_t *h
    for j in range(nsel):
        c = cols[j]
        pre = prefix[j]
        h = hist + j * 4096
        for i in range(nb):
            u = key24(keys[i * ncols + c])
            if (u >> (shift + 12)) == pre:
                h[(u >> shift) & 4095] += 1


def radix_count(const float[:, ::1] keys, const int64_t[::1] cols, const uint32_t[::1] prefix,
                int shift, int64_t[:, ::1] hist):
    """One row block of a histogram pass: for strip column ``cols[j]``, count its keys whose
    ``key24 >> (shift + 12)`` equals ``prefix[j]`` into ``hist[j, (key24 >> shift) & 4095]``.
    shift 12 with prefix 0 histograms the high 12 bits; shift 0 with prefix = a high bin, the
    low 12 bits inside that bin."""
    cdef int64_t nb = keys.shape[0], ncols = keys.shape[1], nsel = cols.shape[0], j
    check_length("prefix", prefix.shape[0], nsel)
    check_length("hist", hist.shape[0], nsel)
    check_length("hist row", hist.shape[1], 4096)
    if shift != 0 and shift != 12:
        raise ValueError(f"shift must be 0 or 12, got {shift}")
    for j in range(nsel):
        if cols[j] < 0 or cols[j] >= ncols:
            raise ValueError(f"cols[{j}]={cols[j]} is outside the strip's {ncols} columns")
    if nb == 0 or nsel == 0:
        return
    with nogil:
        count_columns(&keys[0, 0], nb, ncols, &cols[0], nsel, &prefix[0], shift, &hist[0, 0])


cdef void zero_columns(const float *keys, int64_t nb, int64_t ncols, int64_t row0,
                       const int64_t *cols, int64_t nsel, const uint32_t *limit,
                       int64_t *ties, const Piece *p) noexcept nogil:
    cdef int64_t i, j, c
    cdef uint32_t u, lim
    for j in range(nsel):
        c = cols[j]
        lim = limit[j]
        for i in range(nb):
            u = key24(keys[i * ncols + c])
            if u < lim:
                zero_at(p, row0 + i, c)
            elif u == lim and ties[j] > 0:
                zero_at(p, row0 + i, c)
                ties[j] -= 1


def radix_zero(const float[:, ::1] keys, int64_t row0, const int64_t[::1] cols,
               const uint32_t[::1] limit, int64_t[::1] ties, cnp.ndarray out,
               int64_t out_row0, int64_t out_col0):
    """One row block of the zeroing pass: in strip column ``cols[j]``, zero the keys below
    ``limit[j] / 2**24`` and the first ``ties[j]`` keys equal to it (decrementing ``ties[j]``).
    Call it on the strip's row blocks in increasing row order."""
    cdef int64_t nb = keys.shape[0], ncols = keys.shape[1], nsel = cols.shape[0], j
    check_length("limit", limit.shape[0], nsel)
    check_length("ties", ties.shape[0], nsel)
    check_out(out, out_col0, ncols)
    check_rows(row0, nb)
    for j in range(nsel):
        if cols[j] < 0 or cols[j] >= ncols:
            raise ValueError(f"cols[{j}]={cols[j]} is outside the strip's {ncols} columns")
    if nb == 0 or nsel == 0:
        return
    cdef Piece p = piece_of(out, out_row0, out_col0)
    with nogil:
        zero_columns(&keys[0, 0], nb, ncols, row0, &cols[0], nsel, &limit[0], &ties[0], &p)
