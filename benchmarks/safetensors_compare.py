"""Seed checkpoints: fastinit.save_safetensors against the disk and against torch, in one run.

    python benchmarks/safetensors_compare.py                 # the 1.3B GPT spec in bfloat16
    python benchmarks/safetensors_compare.py --repeats 3 --dir /path/on/the/disk/to/test
    python benchmarks/safetensors_compare.py --quick         # a 268 MB spec (4 layers)

Three writers of the same bytes to the same directory, each in a fresh process (peak RSS is the
child's ru_maxrss, started from a small shell so that it does not inherit this process's),
interleaved repeat by repeat so that load on a shared machine hits them alike; medians:

- fastinit: ``fastinit.save_safetensors(path, fastinit.load_spec(gpt_1p3b.json), fsync=True)``,
  the spec loaded and validated inside the timing;
- dd: a plain sequential write of the same byte count from one 64 MiB buffer of random bytes
  (``os.write`` in a loop, like ``dd bs=64M``), then fsync: the disk's sequential write speed
  through the page cache;
- dd, O_DIRECT: the same with O_DIRECT (like ``dd bs=64M oflag=direct``) from a 4096-aligned
  buffer, the last write padded to 4096 bytes and the file truncated to the byte count, then
  fsync: the disk's speed without the page cache's copy and writeback (fastinit writes large
  files this way on Linux);
- dd, O_DIRECT, same bytes: the same, writing the bytes fastinit just wrote (read into memory
  before the timing; skipped without twice the file's size of free memory).  Some disks'
  speed depends on the data (a virtual disk whose host compresses, a device that detects
  zeros): this row, not the random bytes of the two others, is what no writer of this file
  can beat;
- fastinit, zeros: the same shapes and dtypes, every initializer "zeros": the writer's own
  cost (header, chunking, overlap, atomic rename) without the generation's, which on a
  machine with few cores can be slower than the disk;
- torch: the same tensors built in torch (``torch.empty`` + ``normal_`` / ``fill_``, bfloat16,
  the stock way of making a seed checkpoint without fastinit), then
  ``safetensors.torch.save_file`` and an fsync of the file.

Every writer fsyncs, so the times are the disk's, not the page cache's.  The files are removed
after each run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)     # this checkout's fastinit, also when another one is installed

SPEC = os.path.join(ROOT, "fastinit", "specs", "gpt_1p3b.json")

PRELUDE = f"import sys; sys.path.insert(0, {ROOT!r})\n"

FASTINIT = PRELUDE + textwrap.dedent("""
    import resource, time, fastinit
    spec_path, out = sys.argv[1], sys.argv[2]
    t = time.perf_counter()
    fastinit.save_safetensors(out, fastinit.load_spec(spec_path), fsync=True)
    secs = time.perf_counter() - t
    print(secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, os.path.getsize(out))
""").replace("import resource,", "import os, resource,")

DD = PRELUDE + textwrap.dedent("""
    import os, resource, time
    nbytes, out = int(sys.argv[1]), sys.argv[2]
    buf = memoryview(os.urandom(64 * 2**20))
    t = time.perf_counter()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    left = nbytes
    while left:
        left -= os.write(fd, buf[:min(left, len(buf))])
    os.fsync(fd)
    os.close(fd)
    secs = time.perf_counter() - t
    print(secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, nbytes)
""")

# Both O_DIRECT rows write page-aligned 64 MiB buffers in turn (`bufs`, cycled), the last
# write padded to 4096 and the file then cut to `nbytes`, as fastinit's direct path does.
DIRECT_WRITE = textwrap.dedent("""
    import itertools, mmap, os, resource, time
    CHUNK = 64 * 2**20
    def aligned_chunk():
        return memoryview(mmap.mmap(-1, CHUNK))   # page-aligned, as O_DIRECT needs
    def direct_write(out, bufs, nbytes):
        t = time.perf_counter()
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o666)
        left = nbytes
        for buf in itertools.cycle(bufs):
            if not left:
                break
            n = min(left, CHUNK)
            left -= min(n, os.write(fd, buf[:-(-n // 4096) * 4096]))
        os.ftruncate(fd, nbytes)
        os.fsync(fd)
        os.close(fd)
        secs = time.perf_counter() - t
        print(secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, nbytes)
""")

DD_DIRECT = PRELUDE + DIRECT_WRITE + textwrap.dedent("""
    nbytes, out = int(sys.argv[1]), sys.argv[2]
    buf = aligned_chunk()
    for i in range(0, CHUNK, 2**20):
        buf[i:i + 2**20] = os.urandom(2**20)
    direct_write(out, [buf], nbytes)
""")

DD_SAME = PRELUDE + DIRECT_WRITE + textwrap.dedent("""
    src, out = sys.argv[1], sys.argv[2]
    nbytes = os.path.getsize(src)
    bufs = []
    with open(src, "rb", buffering=0) as f:
        for _ in range(0, nbytes, CHUNK):
            bufs.append(aligned_chunk())
            f.readinto(bufs[-1])
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)   # out of the page cache
    direct_write(out, bufs, nbytes)
""")

TORCH = PRELUDE + textwrap.dedent("""
    import json, os, resource, time
    import torch
    from safetensors.torch import save_file
    spec_path, out = sys.argv[1], sys.argv[2]
    torch.set_num_threads(2)
    t = time.perf_counter()
    spec = json.load(open(spec_path))
    dtype = getattr(torch, spec.get("dtype", "float32"))
    sd = {}
    for name, e in spec["tensors"].items():
        x = torch.empty(e["shape"], dtype=getattr(torch, e.get("dtype", str(dtype)[6:])))
        init = e["initializer"]
        if isinstance(init, dict) and init.get("torch") == "normal_":
            x.normal_(0.0, init["std"])
        elif init == "ones":
            x.fill_(1)
        elif init == "zeros":
            x.zero_()
        else:
            raise SystemExit(f"benchmark: no torch equivalent for {init!r}")
        sd[name] = x
    save_file(sd, out, metadata=spec.get("metadata"))
    fd = os.open(out, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    secs = time.perf_counter() - t
    print(secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, os.path.getsize(out))
""")


def run_fresh(code, *args):
    """`code` in a Python child forked by /bin/sh (its ru_maxrss is its own, not ours)."""
    res = subprocess.run(["/bin/sh", "-c", '"$0" -c "$1" "$2" "$3"; exit $?', sys.executable,
                          code, *map(str, args)], capture_output=True, text=True, timeout=3600)
    if res.returncode:
        raise SystemExit(f"benchmark child failed:\n{res.stderr}")
    secs, peak, nbytes = res.stdout.split()[-3:]
    return float(secs), int(peak), int(nbytes)


def quick_spec(directory):
    """The GPT spec cut to 4 layers and a 8192-row vocabulary (268 MB in bfloat16)."""
    spec = json.load(open(SPEC))
    spec["tensors"] = {k: v for k, v in spec["tensors"].items()
                       if not k.startswith("h.") or int(k.split(".")[1]) < 4}
    spec["tensors"]["wte.weight"]["shape"][0] = 8192
    path = os.path.join(directory, "quick_spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def zeros_spec(spec_path, directory):
    """The same tensors, every initializer "zeros"."""
    spec = json.load(open(spec_path))
    for e in spec["tensors"].values():
        e["initializer"] = "zeros"
    path = os.path.join(directory, "zeros_spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary "
                    "directory in the current directory's filesystem)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()

    import fastinit
    from fastinit._modelspec import load_spec

    work = tempfile.mkdtemp(prefix="st-bench-", dir=args.dir or os.getcwd())
    spec_path = quick_spec(work) if args.quick else SPEC
    nbytes_data = load_spec(spec_path).nbytes
    out = os.path.join(work, "model.safetensors")
    writers = {"fastinit": (FASTINIT, spec_path), "dd": (DD, None)}
    same = os.path.join(work, "fastinit_bytes")
    if hasattr(os, "O_DIRECT"):
        writers["dd, O_DIRECT"] = (DD_DIRECT, None)
        if os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") > 2 * nbytes_data:
            writers["dd, O_DIRECT, same bytes"] = (DD_SAME, same)
    writers["fastinit, zeros"] = (FASTINIT, zeros_spec(spec_path, work))
    if not args.no_torch:
        writers["torch + save_file"] = (TORCH, spec_path)
    results = {name: [] for name in writers}
    try:
        for _ in range(args.repeats):
            file_bytes = None
            for name, (code, arg) in writers.items():
                if name in ("dd", "dd, O_DIRECT"):
                    arg = file_bytes or nbytes_data
                r = run_fresh(code, arg, out)
                if name == "fastinit":
                    file_bytes = r[2]
                    os.replace(out, same)   # the bytes "same bytes" writes
                else:
                    os.remove(out)
                results[name].append(r)
            if os.path.exists(same):
                os.remove(same)
    finally:
        for f in os.listdir(work):   # the specs, and a file left by a failed child
            os.remove(os.path.join(work, f))
        os.rmdir(work)

    print(f"fastinit {fastinit.__version__}, {os.cpu_count()} cores; spec "
          f"{os.path.basename(spec_path)}: {nbytes_data / 1e9:.3f} GB of tensors; "
          f"{args.repeats} interleaved repeats, medians; every writer fsyncs")
    # Each writer's share of each baseline: the baseline's time over the writer's.
    bases = [(col, statistics.median(r[0] for r in results[name]))
             for col, name in [("vs dd", "dd"), ("vs O_DIRECT", "dd, O_DIRECT"),
                               ("vs same bytes", "dd, O_DIRECT, same bytes")]
             if name in results]
    print(f"{'writer':<25} {'time (s)':>9} {'GB/s':>7}"
          + "".join(f" {col:>14}" for col, _ in bases) + f" {'peak RSS (MiB)':>15}")
    for name, rs in results.items():
        secs = statistics.median(r[0] for r in rs)
        peak = statistics.median(r[1] for r in rs)
        size = rs[0][2]
        print(f"{name:<25} {secs:>9.2f} {size / secs / 1e9:>7.3f}"
              + "".join(f" {b / secs:>14.0%}" for _, b in bases) + f" {peak / 2**20:>15.0f}")
    print("(vs X: the time of dd X over the writer's; 100% is the disk's sequential speed for "
          "random bytes through the page cache (dd) or without it (O_DIRECT), or for the bytes "
          "fastinit writes (same bytes))")

if __name__ == "__main__":
    main()
