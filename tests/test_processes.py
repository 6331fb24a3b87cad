"""Worker processes and Python threads: forked, forkserver and spawned workers never hang and give
the parent's bits; Python threads filling at once give the bits of serial calls.

Each process scenario runs in its own interpreter with a timeout, so that a regression (the GNU
OpenMP pool does not survive fork) fails one test instead of hanging the suite.
"""

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastinit

TIMEOUT = 120

# Prepended to every scenario: the parent fills first (that starts the OpenMP worker pool, which
# is what used to hang forked children), and `work` is what the children run.
PRELUDE = """
import multiprocessing as mp, os, sys
import numpy as np
import fastinit

def work(seed):
    a = fastinit.GlorotUniform(seed=seed)((512, 512))
    b = fastinit.TruncatedNormal(seed=seed)((300, 301), dtype="bfloat16")
    q = fastinit.Orthogonal(seed=seed)((96, 64), dtype="float64")
    return (a.tobytes(), b.view(np.uint16).tobytes(), q.tobytes(), fastinit.get_num_threads())

def forked(fn, *args):
    # fn(*args) in a child made by a bare os.fork(); the result comes back through a pipe
    import pickle
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        with os.fdopen(w, "wb") as f:
            pickle.dump(fn(*args), f)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        result = pickle.load(f)
    os.waitpid(pid, 0)
    return result

expected = [work(s) for s in (1, 2, 3)]
"""

SCENARIOS = {
    "pool-fork": """
with mp.get_context("fork").Pool(2) as pool:
    got = pool.map(work, [1, 2, 3])
""",
    "pool-forkserver": """
with mp.get_context("forkserver").Pool(2) as pool:
    got = pool.map(work, [1, 2, 3])
""",
    "pool-spawn": """
with mp.get_context("spawn").Pool(2) as pool:
    got = pool.map(work, [1, 2, 3])
""",
    "executor-fork": """
from concurrent.futures import ProcessPoolExecutor
with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
    got = list(ex.map(work, [1, 2, 3]))
""",
    "bare-os-fork": """
got = [forked(work, s) for s in (1, 2, 3)]
""",
    # A forked child fills, then forks a grandchild that fills too.
    "fork-in-fork": """
def nested(seed):
    work(seed)
    return forked(work, seed)
got = [forked(nested, s) for s in (1, 2, 3)]
""",
}

CHECK = """
assert len(got) == len(expected)
for g, e in zip(got, expected):
    assert g[:3] == e[:3], "a worker's values differ from the parent's"
    assert g[3] == e[3], f"worker threads {g[3]} != parent threads {e[3]}"
print("ok", expected[0][3])
"""


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_workers_never_hang_and_match_the_parent(scenario, tmp_path):
    if "fork" in scenario and not hasattr(__import__("os"), "fork"):
        pytest.skip("no fork on this platform")
    # spawn/forkserver children import the main module by path: write the script to a file
    script = tmp_path / "scenario.py"
    body = SCENARIOS[scenario]
    script.write_text(
        PRELUDE.split("expected = ")[0]
        + "if __name__ == '__main__':\n"
        + textwrap.indent("expected = " + PRELUDE.split("expected = ")[1]
                          + textwrap.dedent(body) + CHECK, "    ")
    )
    try:
        r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{scenario}: the workers hung for {TIMEOUT} s")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("ok"), r.stdout


def test_forked_child_uses_the_parents_thread_count():
    if not fastinit._openmp.openmp_enabled():
        pytest.skip("serial build")
    code = textwrap.dedent("""
        import os, fastinit
        fastinit.set_num_threads(2)
        fastinit.RandomNormal(seed=0)((1000, 1000))
        pid = os.fork()
        if pid == 0:
            from fastinit import _threads
            ok = fastinit.get_num_threads() == 2 and not _threads._serial_after_fork
            fastinit.RandomNormal(seed=0)((1000, 1000))
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0"


def test_child_goes_serial_when_the_pool_cannot_be_released():
    # An OpenMP runtime older than 5.0 cannot release its pool: the child must then run its fills
    # on one thread (same bits) rather than hang.
    code = textwrap.dedent("""
        import os, numpy as np, fastinit
        from fastinit import _threads
        _threads.release_thread_pool = lambda: -1
        ref = fastinit.HeNormal(seed=4)((700, 700))
        pid = os.fork()
        if pid == 0:
            same = (fastinit.HeNormal(seed=4)((700, 700)) == ref).all()
            os._exit(0 if same and fastinit.get_num_threads() == 1 else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), fastinit.get_num_threads() >= 1)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "True"]


def test_python_threads_filling_at_once_match_serial_calls():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    jobs = [
        ("glorot", lambda: fastinit.GlorotUniform(seed=1)((1024, 768))),
        ("normal16", lambda: fastinit.RandomNormal(seed=2)((999, 257), dtype="float16")),
        ("trunc", lambda: fastinit.TruncatedNormal(seed=3)((2048, 300), dtype="float64")),
        ("bf16", lambda: fastinit.HeUniform(seed=4)((300, 2000), dtype="bfloat16")),
        ("ortho", lambda: fastinit.Orthogonal(seed=5)((256, 192), dtype="float64")),
        ("ortho32", lambda: fastinit.Orthogonal(seed=6)((128, 512))),
        ("out", lambda: fastinit.LecunNormal(seed=7)((1500, 700),
                                                    out=np.empty((1500, 700), np.float32))),
        ("stream", lambda: fastinit.fill_stream(np.empty(300_001, np.float32), "normal",
                                                seed=8, start=12345)),
    ]
    # Orthogonal's BLAS gives the same bits at a fixed BLAS thread count (see its docs): pin it.
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        serial = {name: fn().tobytes() for name, fn in jobs}
        results = {}
        errors = []
        barrier = threading.Barrier(len(jobs) * 2)

        def run(name, fn, rep):
            try:
                barrier.wait()
                for _ in range(3):
                    results[(name, rep)] = fn().tobytes()
            except BaseException as e:  # pragma: no cover - reported below
                errors.append((name, e))

        threads = [threading.Thread(target=run, args=(name, fn, rep))
                   for rep in range(2) for name, fn in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a filling thread hung"
    assert not errors, errors
    for (name, rep), got in results.items():
        assert got == serial[name], f"{name} (thread copy {rep}) differs from the serial call"
