"""The `fastinit` command: create initializer arrays as .npy files of any size, and inspect them.

    fastinit create emb.npy --shape 1000000,256 --init glorot_uniform --seed 0 --dtype float32
    fastinit create w.npy --shape 4096,4096 --init variance_scaling scale=2.0 mode=fan_out
    fastinit info emb.npy
    fastinit create model.safetensors --spec spec.json [--max-shard-size 5GB]
    fastinit info model.safetensors        (or model.safetensors.index.json)

Also runs as ``python -m fastinit``.  Errors print one line on stderr and exit nonzero (2 for
usage errors, 1 for I/O errors, 130/143 when interrupted by SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn, TextIO

USAGE_ERROR = 2
IO_ERROR = 1

# More threads than cores only slows a fill down; a bound also keeps the count a C int.
MAX_THREADS = 1024
# Two buffers of this size are allocated (whatever the array size, up to the array's).
MAX_CHUNK_MIB = 4096
# An existing destination's error names the flag, not the library's force=True.
CLI_FORCE_HINT = "pass --force to overwrite it"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


def _parse_shape(text: str) -> tuple[int, ...]:
    if text.strip() in ("", "()"):
        return ()
    parts = [p.strip() for p in text.strip().strip("()").split(",")]
    if len(parts) > 1 and parts[-1] == "":  # "10," is a 1-D shape
        parts = parts[:-1]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise _UsageError(
            f"invalid --shape {text!r}: expected comma-separated non-negative ints, "
            "e.g. 1000000,256"
        ) from None
    if any(d < 0 for d in dims):
        raise _UsageError(f"invalid --shape {text!r}: dimensions must be >= 0")
    return dims


def _parse_kwargs(items: Iterable[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise _UsageError(
                f"invalid initializer argument {item!r}: expected key=value, e.g. scale=2.0"
            )
        if key in kwargs:
            raise _UsageError(f"initializer argument {key} is given twice: {item!r}")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            kwargs[key] = value
    return kwargs


def _short(value: Any, limit: int = 40) -> str:
    """repr(value), shortened in the middle (a 321-digit int stays one readable line)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond sys.get_int_max_str_digits()
        return f"<an int of {value.bit_length()} bits>"
    if len(text) <= limit:
        return text
    digits = f" ({len(text)} characters)"
    if isinstance(value, int):
        digits = f" ({len(text.lstrip('-'))} digits)"
    return f"{text[:limit // 2]}...{text[-(limit // 4):]}{digits}"


def _too_large(value: object) -> bool:
    """True when `value` holds an int no float64 (nor int64) can hold."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) >= 2**63
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_too_large(v) for v in value)
    if isinstance(value, dict):
        return any(_too_large(v) for v in value.values())
    return False


def _overflow_message(kwargs: dict[str, Any], exc: OverflowError) -> str:
    """One line for an OverflowError raised by an initializer on a huge int argument."""
    culprits = [k for k, v in kwargs.items() if k != "seed" and _too_large(v)]
    if culprits:
        k = culprits[0]
        return (f"Argument `{k}` is out of range ({exc}). "
                f"Received: {k}={_short(kwargs[k])}")
    return f"an initializer argument is out of range ({exc})"


def _build_parser() -> _Parser:
    p = _Parser(prog="fastinit", description="Keras initializers as .npy files of any size, "
                "and whole models as safetensors seed checkpoints.")
    sub = p.add_subparsers(dest="command", metavar="{create,info}")
    sub.required = True
    c = sub.add_parser("create", help="write an initializer's values to a .npy file, or a "
                       "model spec to safetensors",
                       description="Write initializer(shape, dtype) to a .npy file, or every "
                       "tensor of a JSON model spec (--spec) to a .safetensors file or shards, "
                       "chunk by chunk in bounded memory (~200 MiB whatever the size).")
    c.add_argument("path", help="output .npy file (or .safetensors with --spec)")
    c.add_argument("--shape", help="comma-separated dims, e.g. 1000000,256")
    c.add_argument("--spec", help="a JSON model spec (seed, and per tensor shape, dtype and "
                   "initializer), or the name of a shipped example (embedding_table, gpt_1p3b): "
                   "writes a .safetensors seed checkpoint")
    c.add_argument("--max-shard-size", help="with --spec: split into shards of at most this "
                   "size, e.g. 5GB (decimal units, as the Hugging Face tools)")
    c.add_argument("--init", "--initializer", dest="init", default="glorot_uniform",
                   help="Keras initializer name (default: glorot_uniform)")
    c.add_argument("--seed", type=int, default=None,
                   help="seed of a random initializer (default: a random one, printed)")
    c.add_argument("--dtype", default="float32",
                   help="float16, bfloat16, float32 (default) or float64")
    c.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    c.add_argument("--force", action="store_true", help="overwrite an existing file")
    c.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar")
    c.add_argument("--no-stats", dest="stats", action="store_false",
                   help="do not compute the values' mean/std/min/max (computed while "
                   "writing, at little cost)")
    c.add_argument("--allow-in-memory", action="store_true",
                   help="allow initializers that cannot be chunked (orthogonal) to be "
                   "computed in memory")
    c.add_argument("--chunk-mib", type=int, default=64, help="chunk size in MiB (default 64)")
    c.add_argument("kwargs", nargs="*", metavar="key=value",
                   help="initializer arguments, e.g. scale=2.0 mode=fan_out")
    i = sub.add_parser("info", help="print a .npy or .safetensors file's shapes, dtypes and "
                       "sizes (header only), or a safetensors index")
    i.add_argument("path", help=".npy, .safetensors or .safetensors.index.json file")
    return p


def _gb(n: int) -> str:
    return f"{n:,} bytes ({n / 1e9:.3f} GB, {n / 2**30:.3f} GiB)"


def _create(args: argparse.Namespace, out: TextIO) -> int:
    import fastinit
    from fastinit._files import resolve_target
    from fastinit._npy import write_npy
    from fastinit._registry import resolve_initializer
    from fastinit.initializers import source_of

    if not args.path:
        raise _UsageError("the output path is empty")
    if args.spec is not None:
        return _create_from_spec(args, out)
    if args.max_shard_size is not None:
        raise _UsageError("--max-shard-size goes with --spec")
    if args.shape is None:
        raise _UsageError("the following arguments are required: --shape (or --spec for a "
                          ".safetensors model)")
    shape = _parse_shape(args.shape)
    kwargs = _parse_kwargs(args.kwargs)
    if args.seed is not None and "seed" in kwargs:
        raise _UsageError(f"the seed is given twice: --seed {args.seed} and "
                          f"seed={_short(kwargs['seed'])}; give one")
    _check_thread_and_chunk(args)
    try:
        init = resolve_initializer({"class_name": args.init, "config": kwargs}, args.seed)
        # An in-memory source (orthogonal) computes once, on first use by the writer, after
        # the destination has been checked.
        source = source_of(init, shape, args.dtype, allow_in_memory=args.allow_in_memory)
    except (ValueError, TypeError) as e:
        raise _UsageError(str(e).replace("allow_in_memory=True", "--allow-in-memory")) from None
    except OverflowError as e:  # float(10**400) in an initializer's checks
        raise _UsageError(_overflow_message(kwargs, e)) from None
    target = resolve_target(args.path, args.force, force_hint=CLI_FORCE_HINT)
    t0 = time.perf_counter()
    # The statistics come from the chunks as they are written: reading a multi-GB file back
    # would take longer than writing it.  The thread count is set for this call only (main()
    # may run in a caller's process).
    try:
        with fastinit.num_threads(args.threads):
            stats = write_npy(target, source, chunk_bytes=args.chunk_mib * 2**20,
                              progress=args.progress, progress_min_bytes=64 * 2**20,
                              stats=args.stats)
    except OverflowError as e:  # a huge int parameter some initializer only converts here
        raise _UsageError(_overflow_message(kwargs, e)) from None
    dt = source.dtype
    nbytes = source.size * dt.itemsize
    secs = time.perf_counter() - t0
    rate = nbytes / secs / 1e9 if secs > 0 else math.inf
    drawn = getattr(init, "seed", None)  # the seed a random initializer drew or was given
    seed = f" seed={drawn}" if drawn is not None else ""
    lines = [
        f"wrote {args.path}",
        f"  initializer  {args.init}{seed} {kwargs if kwargs else ''}".rstrip(),
        f"  shape        {shape}",
        f"  dtype        {dt.name}",
        f"  size         {_gb(nbytes)}",
        f"  time         {secs:.2f} s ({rate:.2f} GB/s)",
    ]
    if stats is not None and source.size:
        mean, std, lo, hi = stats
        lines.append(f"  values       mean={mean:.6g} std={std:.6g} min={lo:.6g} max={hi:.6g}")
    print("\n".join(lines), file=out)
    return 0


def _check_thread_and_chunk(args: argparse.Namespace) -> None:
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise _UsageError(f"--threads must be between 1 and {MAX_THREADS}, "
                          f"got {_short(args.threads)}")
    if not 1 <= args.chunk_mib <= MAX_CHUNK_MIB:
        raise _UsageError(f"--chunk-mib must be between 1 and {MAX_CHUNK_MIB}, "
                          f"got {_short(args.chunk_mib)}")


def _create_from_spec(args: argparse.Namespace, out: TextIO) -> int:
    import fastinit
    from fastinit._modelspec import load_spec
    from fastinit._safetensors import parse_size

    given = [flag for flag, v in (("--shape", args.shape), ("--seed", args.seed),
                                  ("--allow-in-memory", args.allow_in_memory or None))
             if v is not None]
    if args.init != "glorot_uniform":
        given.append("--init")
    if args.kwargs:
        given.append(" ".join(args.kwargs))
    if given:
        raise _UsageError(f"{', '.join(given)} cannot be used with --spec: the spec gives the "
                          "seed and every tensor's shape, dtype and initializer")
    if not args.path.endswith(".safetensors"):
        raise _UsageError(f"with --spec the output is a .safetensors file; got {args.path!r}")
    _check_thread_and_chunk(args)
    limit = None
    if args.max_shard_size is not None:
        try:
            raw = args.max_shard_size.strip()
            limit = parse_size(int(raw) if raw.isdigit() else raw, "--max-shard-size")
        except (ValueError, TypeError) as e:
            raise _UsageError(str(e).replace("Argument `--max-shard-size`", "--max-shard-size")
                              ) from None
    try:
        spec = load_spec(args.spec)
    except (ValueError, TypeError) as e:
        raise _UsageError(str(e)) from None
    except OverflowError as e:
        raise _UsageError(f"{args.spec}: a value is out of range ({e})") from None
    stats: dict[str, tuple[float, float, float, float] | None] = {}
    t0 = time.perf_counter()
    with fastinit.num_threads(args.threads):
        files = fastinit.save_safetensors(
            args.path, spec, max_shard_size=limit, force=args.force,
            progress=args.progress and spec.nbytes >= 64 * 2**20,
            chunk_bytes=args.chunk_mib * 2**20, stats=args.stats,
            _on_stats=lambda name, st: stats.__setitem__(name, st),
            _force_hint=CLI_FORCE_HINT)
    secs = time.perf_counter() - t0
    nbytes = spec.nbytes
    rate = nbytes / secs / 1e9 if secs > 0 else math.inf
    lines = [f"wrote {f}" for f in files] + [
        f"  spec         {args.spec} (seed {spec.seed}, {len(spec.tensors)} tensors)",
        f"  size         {_gb(nbytes)}",
        f"  time         {secs:.2f} s ({rate:.2f} GB/s)",
    ]
    width = max(len(n) for n in spec.tensors)
    for name, src in spec.tensors.items():
        line = (f"  {name:<{width}}  {src.dtype.name:<8} {str(list(src.shape)):<14} "
                f"{spec.described[name]}")
        st = stats.get(name)
        if st is not None and src.size:
            mean, std, lo, hi = st
            line += f"  mean={mean:.6g} std={std:.6g} min={lo:.6g} max={hi:.6g}"
        lines.append(line)
    print("\n".join(lines), file=out)
    return 0


def _info(args: argparse.Namespace, out: TextIO) -> int:
    import stat

    from fastinit._files import file_kind
    from fastinit._npy import read_npy_header

    # Opening a FIFO would wait for a writer forever; a device has no header to read.
    mode = os.stat(args.path).st_mode
    if not stat.S_ISREG(mode):
        raise ValueError(f"{args.path} is {file_kind(mode)}, not a .npy file")
    if args.path.endswith(".safetensors"):
        return _info_safetensors(args.path, out)
    if args.path.endswith(".json"):
        return _info_index(args.path, out)
    shape, dt, fortran, offset = read_npy_header(args.path)
    n = math.prod(shape)
    data = n * dt.itemsize
    file_size = os.path.getsize(args.path)
    dtype_txt = dt.name if dt.kind != "V" else f"{dt.str} (raw {dt.itemsize}-byte values)"
    if dt.kind == "V" and dt.itemsize == 2 and dt.fields is None:
        dtype_txt += "; bfloat16 is stored this way: np.load(...).view(ml_dtypes.bfloat16)"
    lines = [
        f"{args.path}",
        f"  shape        {shape}",
        f"  dtype        {dtype_txt}",
        f"  order        {'Fortran' if fortran else 'C'}",
        f"  elements     {n:,}",
        f"  size         {_gb(data)}",
        f"  header       {offset} bytes",
    ]
    status = 0
    if file_size != offset + data:
        lines.append(f"  WARNING      file is {file_size:,} bytes, expected {offset + data:,} "
                     "(truncated or trailing data)")
        status = IO_ERROR
    print("\n".join(lines), file=out)
    return status


def _info_safetensors(path: str, out: TextIO) -> int:
    from fastinit._safetensors import read_safetensors_header

    offset, head = read_safetensors_header(path)
    meta = head.pop("__metadata__", None)
    data = os.path.getsize(path) - offset
    lines = [f"{path}", f"  format       safetensors, {len(head)} tensors",
             f"  size         {_gb(data)}", f"  header       {offset} bytes"]
    if meta:
        lines.append(f"  metadata     {meta}")
    width = max((len(n) for n in head), default=0)
    for name, info in sorted(head.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, b = info["data_offsets"]
        lines.append(f"  {name:<{width}}  {info['dtype']:<5} {str(info['shape']):<14} "
                     f"{b - a:,} bytes")
    print("\n".join(lines), file=out)
    return 0


def _info_index(path: str, out: TextIO) -> int:
    import json

    with open(path, encoding="utf-8") as f:
        try:
            index = json.load(f)
            total = index["metadata"]["total_size"]
            weight_map = dict(index["weight_map"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path} is not a safetensors index file ({e})") from None
    per_file: dict[str, int] = {}
    for f_name in weight_map.values():
        per_file[f_name] = per_file.get(f_name, 0) + 1
    lines = [f"{path}", f"  format       safetensors index, {len(weight_map)} tensors in "
             f"{len(per_file)} files", f"  total_size   {_gb(int(total))}"]
    status = 0
    here = os.path.dirname(path)
    for f_name, n in sorted(per_file.items()):
        full = os.path.join(here, f_name)
        size = f"{os.path.getsize(full):,} bytes" if os.path.isfile(full) else "MISSING"
        if size == "MISSING":
            status = IO_ERROR
        lines.append(f"  {f_name}  {n} tensors, {size}")
    print("\n".join(lines), file=out)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `fastinit` console script; returns the exit status."""
    parser = _build_parser()
    try:
        try:
            args, extra = parser.parse_known_args(argv)
        except SystemExit as e:  # --help
            return e.code if isinstance(e.code, int) else 0
        # argparse cannot interleave the key=value positionals with options: collect them here.
        bad = [a for a in extra if args.command != "create" or a.startswith("-")]
        if bad:
            parser.error(f"unrecognized arguments: {' '.join(bad)}")
        if extra:
            args.kwargs = list(args.kwargs) + extra
        if args.command == "create":
            return _create(args, sys.stdout)
        return _info(args, sys.stdout)
    except _UsageError as e:
        print(f"fastinit: error: {e}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        msg = str(e) or "interrupted"
        print(f"fastinit: {msg}", file=sys.stderr)
        return 128 + int(signum)
    except (OSError, ValueError, TypeError) as e:
        print(f"fastinit: error: {_one_line(e)}", file=sys.stderr)
        return IO_ERROR
    except MemoryError as e:  # an in-memory Orthogonal larger than RAM
        print(f"fastinit: error: out of memory: {_one_line(e)}", file=sys.stderr)
        return IO_ERROR
    except Exception as e:  # noqa: BLE001 - the promise is one line, never a traceback
        print(f"fastinit: error: {type(e).__name__}: {_one_line(e)} (this is a bug in "
              "fastinit; please report it with the command line)", file=sys.stderr)
        return IO_ERROR


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror
        if e.filename and str(e.filename) not in text:
            text = f"{e.filename}: {text}"
    else:
        text = str(e)
    return " ".join(text.split()) or type(e).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
