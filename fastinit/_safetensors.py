"""safetensors files written straight from initializers: header first, then each tensor streamed.

An initializer knows every shape and dtype up front, so the whole header can be written before
any value exists, and each tensor then streams chunk by chunk through the writer machinery that
`save_npy` uses (fastinit._files: temporary file, atomic rename, signals, disk-space check;
fastinit._chunks: two buffers, generation overlapped with writing).  Peak memory is the two
buffers, whatever the model size.

The bytes follow the reference writer (the safetensors crate, ``tensor.rs`` ``prepare``):

- tensors sorted by dtype, descending in the crate's ``Dtype`` enum order (U64, I64, F64, F32,
  U32, I32, BF16, F16, U16, I16, I8, U8, BOOL), then by name (byte order of the UTF-8 names);
- the header is ``serde_json::to_string`` of ``{"__metadata__": {...}, name: {"dtype", "shape",
  "data_offsets"}, ...}`` (no spaces; only '"', '\\' and control characters escaped), padded
  with spaces to a multiple of 8 and preceded by its length as a little-endian u64;
- then the data, C order, little-endian, tensor after tensor with no gaps.

So a small file is byte-identical to ``safetensors.numpy.save_file`` of the same arrays.  (The
crate keeps ``__metadata__`` in a hash map, whose order changes from run to run when it has
several keys; fastinit sorts them, so its files are reproducible.)

Sharding follows huggingface_hub's ``split_state_dict_into_shards_factory``: tensors in the
order given, a new shard when the next tensor would take the current one over the limit, and a
tensor larger than the limit alone in its own shard (appended when it is met); files
``{stem}-00001-of-0000N.safetensors`` and ``{stem}.safetensors.index.json``.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from fastinit._chunks import DEFAULT_CHUNK_BYTES, ByteCounter, progress_bar
from fastinit._files import FORCE_HINT, check_space, resolve_target, write_atomically
from fastinit._modelspec import ModelSpec
from fastinit._regions import ArraySource, Source
from fastinit._registry import resolve_initializer
from fastinit._validation import BFLOAT16, check_positive_int
from fastinit.initializers import source_of

__all__ = ["save_safetensors", "safetensors_header", "read_safetensors_header",
           "parse_size", "plan_shards", "shard_names", "DTYPE_CODES", "MAX_HEADER_SIZE"]

#: numpy dtype -> safetensors dtype code.
DTYPE_CODES: dict[np.dtype[Any], str] = {
    np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8",
    np.dtype(np.int16): "I16", np.dtype(np.uint16): "U16", np.dtype(np.float16): "F16",
    BFLOAT16: "BF16", np.dtype(np.int32): "I32", np.dtype(np.uint32): "U32",
    np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64",
    np.dtype(np.uint64): "U64",
}
CODE_DTYPES = {code: dt for dt, code in DTYPE_CODES.items()}

# The crate's `Dtype` enum order (derive(Ord)); files list the larger ranks first.  F8 codes
# are ranked too so that `fastinit info` can read files written by others.
_RANK = {code: i for i, code in enumerate(
    ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32",
     "F32", "F64", "I64", "U64"])}

#: The reference reader refuses headers larger than this.
MAX_HEADER_SIZE = 100_000_000

# huggingface_hub's parse_size_to_int units (decimal, as the Hub writes "5GB").
_SIZE_UNITS = {"TB": 10**12, "GB": 10**9, "MB": 10**6, "KB": 10**3}

PathLike = str | os.PathLike[str]


# ---- what is written -------------------------------------------------------------------------


def _as_source(name: str, value: Any) -> Source:
    """A tensor's Source from what `save_safetensors` accepts for it."""
    if isinstance(value, Source):
        return value
    if isinstance(value, np.ndarray):
        arr = value if value.dtype.isnative else value.astype(value.dtype.newbyteorder("="))
        return ArraySource(lambda: arr, arr.shape, arr.dtype)
    if isinstance(value, tuple) and len(value) in (2, 3):
        init = resolve_initializer(value[0])
        dtype = value[2] if len(value) == 3 else "float32"
        return source_of(init, value[1], dtype)
    raise TypeError(
        f"Tensor {name!r}: expected a Source (initializer.source(shape, dtype)), a numpy array, "
        f"or an (initializer, shape[, dtype]) tuple. Received: {type(value).__name__}"
    )


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Tensor names must be str. Received: {name!r}")
    if name == "__metadata__":
        raise ValueError("A tensor cannot be called '__metadata__' (the header's metadata key)")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"Tensor name {name!r} is not valid UTF-8 text") from None
    return name


def _code(name: str, source: Source) -> str:
    code = DTYPE_CODES.get(source.dtype)
    if code is None:
        raise TypeError(
            f"Tensor {name!r}: safetensors has no dtype for {source.dtype}; use float16, "
            "bfloat16, float32, float64, bool or a fixed-size integer type"
        )
    return code


def _check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise TypeError(f"Argument `metadata` must be a dict of str to str. "
                        f"Received: metadata={metadata!r}")
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"Argument `metadata` must map str to str; {k!r}: {v!r} does not")
    return dict(sorted(metadata.items()))


def _nbytes(source: Source) -> int:
    return source.size * source.dtype.itemsize


def safetensors_header(tensors: Sequence[tuple[str, Source]],
                       metadata: Mapping[str, str] | None = None
                       ) -> tuple[bytes, list[tuple[str, Source]]]:
    """(the header bytes, the tensors in file order) of a safetensors file of `tensors`.

    The header includes its 8-byte length prefix; the data of the tensors, in the order
    returned, follows it directly.
    """
    ordered = sorted(tensors, key=lambda t: (-_RANK[_code(t[0], t[1])], t[0]))
    head: dict[str, Any] = {}
    meta = _check_metadata(metadata)
    if meta is not None:
        head["__metadata__"] = meta
    offset = 0
    for name, src in ordered:
        n = _nbytes(src)
        head[name] = {"dtype": DTYPE_CODES[src.dtype], "shape": list(src.shape),
                      "data_offsets": [offset, offset + n]}
        offset += n
    # serde_json's compact form: no spaces, non-ASCII as UTF-8, the same escapes as Python's
    body = json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    body += b" " * (-len(body) % 8)
    if len(body) > MAX_HEADER_SIZE:
        raise ValueError(f"The safetensors header would take {len(body)} bytes; readers refuse "
                         f"headers over {MAX_HEADER_SIZE} bytes (too many tensors or names)")
    return struct.pack("<Q", len(body)) + body, ordered


# ---- shards ----------------------------------------------------------------------------------


def parse_size(size: int | str, argname: str = "max_shard_size") -> int:
    """Bytes from an int or a string such as "5GB", "500MB" (huggingface_hub's
    ``parse_size_to_int``: decimal units KB, MB, GB, TB, case-insensitive, decimals allowed)."""
    if isinstance(size, bool):
        raise TypeError(f"Argument `{argname}` must be an int or a str such as '5GB'. "
                        f"Received: {argname}={size!r}")
    if isinstance(size, (int, np.integer)):
        return check_positive_int(argname, int(size))
    if not isinstance(size, str):
        raise TypeError(f"Argument `{argname}` must be an int or a str such as '5GB'. "
                        f"Received: {argname}={size!r}")
    text = size.strip()
    unit = text[-2:].upper()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"Argument `{argname}`: unit {unit!r} not supported; use KB, MB, GB "
                         f"or TB (e.g. '5GB'), or an int. Received: {argname}={size!r}")
    try:
        value = float(text[:-2].strip())
    except ValueError:
        raise ValueError(f"Argument `{argname}`: cannot parse the number in {size!r}") from None
    if not math.isfinite(value) or value * _SIZE_UNITS[unit] < 1:
        raise ValueError(f"Argument `{argname}` must be at least 1 byte. "
                         f"Received: {argname}={size!r}")
    return int(value * _SIZE_UNITS[unit])


def plan_shards(sizes: Sequence[tuple[str, int]], max_bytes: int) -> list[list[str]]:
    """The names of each shard, by huggingface_hub's rule over `sizes` ((name, bytes), in the
    order given): a tensor larger than `max_bytes` gets a shard of its own, appended when it is
    met; any other joins the current shard unless that would take it over `max_bytes`."""
    shards: list[list[str]] = []
    current: list[str] = []
    current_size = 0
    for name, size in sizes:
        if size > max_bytes:
            shards.append([name])
            continue
        if current_size + size > max_bytes:
            shards.append(current)
            current, current_size = [], 0
        current.append(name)
        current_size += size
    if current:
        shards.append(current)
    return shards


def shard_names(path: str, n: int) -> tuple[list[str], str]:
    """(the shard file names, the index file name) for `path` = ``{stem}.safetensors``."""
    if not path.endswith(".safetensors"):
        raise ValueError("With max_shard_size, `path` must end in .safetensors (the shards are "
                         f"named {{stem}}-00001-of-0000N.safetensors). Received: path={path!r}")
    stem = path[:-len(".safetensors")]
    return [f"{stem}-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)], \
        f"{path}.index.json"


def index_bytes(weight_map: Mapping[str, str], total_size: int) -> bytes:
    """The index file as transformers writes it (indent 2, sorted keys, a final newline)."""
    index = {"metadata": {"total_size": total_size}, "weight_map": dict(weight_map)}
    return (json.dumps(index, indent=2, sort_keys=True) + "\n").encode("utf-8")


# ---- the writer ------------------------------------------------------------------------------


def save_safetensors(path: PathLike, tensors: Mapping[str, Any] | ModelSpec, *,
                     metadata: Mapping[str, str] | None = None,
                     max_shard_size: int | str | None = None,
                     shards: Iterable[int] | None = None, index: bool | None = None,
                     progress: bool = False, force: bool = False,
                     chunk_bytes: int = DEFAULT_CHUNK_BYTES, fsync: bool = False,
                     stats: bool = False,
                     _on_stats: Callable[[str, tuple[float, float, float, float] | None], None]
                     | None = None,
                     _force_hint: str = FORCE_HINT) -> list[str]:
    """Write `tensors` to a safetensors file (or shards), streamed in bounded memory.

    Each tensor is generated chunk by chunk straight into the file (two chunk buffers in all,
    ~200 MiB peak with the interpreter whatever the model size).  For inputs that fit in memory
    the file is byte-identical to ``safetensors.numpy.save_file`` of the arrays (tensors
    ordered by dtype then name, header padded to 8 bytes with spaces).  Each file is written
    atomically with `save_npy`'s guarantees: a temporary file beside it, renamed when complete,
    removed on any failure, Ctrl-C or SIGTERM; disk space is checked before any work.

    Args:
        path: The file, ``model.safetensors``.  With sharding, the shards are
            ``model-00001-of-0000N.safetensors`` beside it and the index
            ``model.safetensors.index.json`` (a split into one shard writes `path` itself and no
            index, as huggingface_hub does).
        tensors: {name: value}, in the order that decides the sharding, or a `ModelSpec`
            (`fastinit.load_spec`; its metadata is the default `metadata`).  A value is a Source
            (``initializer.source(shape, dtype)``), a tuple ``(initializer, shape)`` or
            ``(initializer, shape, dtype)`` (an instance, a name or a config; dtype float32 by
            default), or a numpy array.  Dtypes: float16, bfloat16, float32, float64, and bool
            and the integer types (for constants).
        metadata: The header's ``__metadata__`` (str to str; its keys are written sorted).
            Written in every shard.
        max_shard_size: Split into shards of at most this many bytes of data: an int, or a
            string as the Hugging Face tools take it ("5GB", "500MB": decimal units).  A tensor
            larger than this gets a shard of its own.
        shards: With `max_shard_size`, write only these shard numbers (1-based).  The split
            depends only on the names, shapes and dtypes, so separate processes or machines,
            each given the same `tensors` and its own `shards`, write files identical to the
            ones a single call writes.
        index: Write the index file; default: when every shard is written (``shards=None``).
        progress: A tqdm progress bar over all the bytes written, on stderr.
        force: Overwrite existing files.
        chunk_bytes: Bytes per chunk buffer (two are allocated).
        fsync: fsync each file and its directory before returning.
        stats: Compute each tensor's (mean, std, min, max) from the chunks as they are
            written; they are passed to `_on_stats(name, stats)`.

    Returns:
        The paths written (shards in order, then the index).
    """
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"Argument `path` must be a str or os.PathLike[str]. Received: {path!r}")
    chunk_bytes = check_positive_int("chunk_bytes", chunk_bytes)
    if isinstance(tensors, ModelSpec):
        metadata = tensors.metadata if metadata is None else metadata
        tensors = tensors.tensors
    if not isinstance(tensors, Mapping):
        raise TypeError(f"Argument `tensors` must be a dict of name to tensor. "
                        f"Received: {type(tensors).__name__}")
    entries = [(_check_name(name), _as_source(name, value)) for name, value in tensors.items()]
    for name, src in entries:
        _code(name, src)
    meta = _check_metadata(metadata)

    if max_shard_size is None:
        if shards is not None or index:
            raise ValueError("`shards` and `index` need max_shard_size")
        plan = [[name for name, _ in entries]]
        files, index_path = [path], None
    else:
        limit = parse_size(max_shard_size)
        # (no tensors: one empty file, as without max_shard_size)
        plan = plan_shards([(name, _nbytes(src)) for name, src in entries], limit) or [[]]
        if len(plan) <= 1:
            files, index_path = [path], None
        else:
            files, index_path = shard_names(path, len(plan))
    wanted = list(range(1, len(plan) + 1))
    if shards is not None:
        wanted = sorted({_check_shard(k, len(plan)) for k in shards})
    write_index = index_path is not None and (shards is None if index is None else index)

    by_name = dict(entries)
    jobs = []
    for k in wanted:
        part = [(name, by_name[name]) for name in plan[k - 1]]
        header, ordered = safetensors_header(part, meta)
        jobs.append((files[k - 1], header, ordered))
    # Every destination is checked before any file is written.
    targets = [resolve_target(f, force, force_hint=_force_hint) for f, _, _ in jobs]
    index_target = (resolve_target(index_path, force, force_hint=_force_hint)
                    if write_index and index_path else None)
    total = sum(len(h) + sum(_nbytes(s) for _, s in o) for _, h, o in jobs)
    if targets:
        check_space(targets[0], total)

    written: list[str] = []
    with progress_bar(progress, total, os.path.basename(path)) as bar:
        for target, (_, header, ordered) in zip(targets, jobs):
            results = write_atomically(target, [header, *(s for _, s in ordered)],
                                       chunk_bytes=chunk_bytes, fsync=fsync, stats=stats,
                                       counter=ByteCounter(bar))
            written.append(target.path)
            if _on_stats is not None:
                for (name, _), st in zip(ordered, results[1:]):
                    _on_stats(name, st)
    if index_target is not None:
        weight_map = {name: os.path.basename(files[k])
                      for k, names in enumerate(plan) for name in names}
        total_size = sum(_nbytes(src) for _, src in entries)
        write_atomically(index_target, [index_bytes(weight_map, total_size)],
                         chunk_bytes=chunk_bytes, fsync=fsync)
        written.append(index_target.path)
    return written


def _check_shard(k: Any, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"Argument `shards` must hold shard numbers from 1 to {n}. "
                         f"Received: {k!r}")
    return int(k)


# ---- reading headers back --------------------------------------------------------------------


def read_safetensors_header(path: PathLike) -> tuple[int, dict[str, Any]]:
    """(data offset, the parsed header) of a safetensors file, checked as the reference reader
    checks it: offsets tile the data from 0 without gaps (in offset order), each tensor's byte
    count is its shape times its item size, and the data ends exactly at the end of the file.
    Raises ValueError naming the first rule broken."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError(f"{path} is not a valid safetensors file: shorter than 8 bytes")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_HEADER_SIZE or n + 8 > size:
            raise ValueError(f"{path} is not a valid safetensors file: header length {n} "
                             f"does not fit in {size} bytes")
        text = f.read(n)
    try:
        head = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a valid safetensors file: bad header ({e})") from None
    if not isinstance(head, dict):
        raise ValueError(f"{path} is not a valid safetensors file: the header is not an object")
    infos = []
    for name, info in head.items():
        if name == "__metadata__":
            continue
        try:
            code, shape, (a, b) = info["dtype"], info["shape"], info["data_offsets"]
            itemsize = _ITEMSIZE[code]
            count = math.prod(int(d) for d in shape)
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: tensor {name!r} has a malformed entry {info!r}") from None
        if count * itemsize != b - a:
            raise ValueError(f"{path}: tensor {name!r} of shape {shape} and dtype {code} needs "
                             f"{count * itemsize} bytes, its offsets give {b - a}")
        infos.append((a, b, name))
    pos = 0
    for a, b, name in sorted(infos):
        if a != pos:
            raise ValueError(f"{path}: tensor {name!r} starts at {a}, expected {pos} "
                             "(the offsets must tile the data)")
        pos = b
    if pos != size - 8 - n:
        raise ValueError(f"{path}: the data ends at {pos}, but the file holds {size - 8 - n} "
                         "bytes after the header")
    return 8 + n, head


_ITEMSIZE = {**{code: dt.itemsize for dt, code in DTYPE_CODES.items()},
             "F8_E5M2": 1, "F8_E4M3": 1}
