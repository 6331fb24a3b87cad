"""What save_npy and `fastinit create` may write to: regular files are replaced atomically and
keep their mode, symlinks are written through (like np.save), anything else is refused before
any work, and the temporary name fits NAME_MAX whatever the file's name."""

import errno
import os
import socket
import stat

import numpy as np
import pytest

import fastinit
from fastinit import _files
from fastinit._files import TEMP_SUFFIX
from fastinit.cli import main
from tests.helpers import leftovers, npy_bytes

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink") or not hasattr(os, "mkfifo"),
                                reason="needs POSIX symlinks and FIFOs")


ZEROS = npy_bytes(np.zeros(3, np.float32))
ONES = npy_bytes(np.ones(3, np.float32))


@pytest.fixture
def renames(monkeypatch):
    """The (src, dst) of every os.replace the writer makes."""
    calls = []
    real = os.replace

    def spy(src, dst, *a, **k):
        calls.append((os.fspath(src), os.fspath(dst)))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(_files.os, "replace", spy)
    return calls


# ---- symlinks -------------------------------------------------------------------------------


def test_symlink_is_written_through(tmp_path, renames):
    real = tmp_path / "real.npy"
    real.write_bytes(b"old")
    link = tmp_path / "link.npy"
    link.symlink_to("real.npy")  # relative
    fastinit.save_npy(link, (3,), "ones", force=True)
    assert link.is_symlink() and os.readlink(link) == "real.npy"
    assert real.read_bytes() == ONES
    # The temporary file was beside the target and renamed over it, not over the link.
    ((src, dst),) = renames
    assert dst == str(real) and os.path.dirname(src) == str(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["link.npy", "real.npy"]


def test_chain_of_relative_symlinks_across_directories(tmp_path, renames):
    (tmp_path / "data").mkdir()
    (tmp_path / "links").mkdir()
    real = tmp_path / "data" / "w.npy"
    real.write_bytes(b"old")
    (tmp_path / "links" / "a").symlink_to("../data/w.npy")
    (tmp_path / "b").symlink_to("links/a")
    (tmp_path / "c").symlink_to(tmp_path / "b")  # absolute
    fastinit.save_npy(tmp_path / "c", (3,), "zeros", force=True)
    assert real.read_bytes() == ZEROS
    for name in ("links/a", "b", "c"):
        assert (tmp_path / name).is_symlink()
    ((src, dst),) = renames
    assert dst == str(real) and os.path.dirname(src) == str(tmp_path / "data")
    assert not leftovers(tmp_path) and not leftovers(tmp_path / "data")


def test_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "d").mkdir()
    link = tmp_path / "link.npy"
    link.symlink_to("d/new.npy")
    with pytest.raises(FileExistsError, match="force=True"):  # the link is an existing entry
        fastinit.save_npy(link, (3,), "ones")
    fastinit.save_npy(link, (3,), "ones", force=True)
    assert link.is_symlink() and (tmp_path / "d" / "new.npy").read_bytes() == ONES
    # ... if its directory exists.
    bad = tmp_path / "bad.npy"
    bad.symlink_to("missing/new.npy")
    with pytest.raises(FileNotFoundError, match=r"bad\.npy \(a symlink to .*missing.*does not exist"):
        fastinit.save_npy(bad, (3,), "ones", force=True)
    assert bad.is_symlink() and not (tmp_path / "missing").exists()


def test_symlink_loop_is_refused(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="loop") as ei:
        fastinit.save_npy(tmp_path / "a", (3,), "ones", force=True)
    assert ei.value.errno == errno.ELOOP
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]
    assert (tmp_path / "a").is_symlink()


def test_failure_behind_a_symlink_leaves_both_untouched(tmp_path, monkeypatch, direct_io):
    (tmp_path / "d").mkdir()
    real = tmp_path / "d" / "real.npy"
    real.write_bytes(b"old")
    (tmp_path / "link.npy").symlink_to("d/real.npy")
    real_write = os.write

    def write(fd, data):
        if len(data) > 100:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(_files.os, "write", write)
    with pytest.raises(OSError, match="No space left on device"):
        fastinit.save_npy(tmp_path / "link.npy", (10_000,), "random_normal", seed=1,
                          force=True)
    assert real.read_bytes() == b"old" and (tmp_path / "link.npy").is_symlink()
    assert os.listdir(tmp_path / "d") == ["real.npy"]


# ---- things that are not regular files ------------------------------------------------------


def _fifo(tmp_path):
    p = tmp_path / "fifo"
    os.mkfifo(p)
    return p


def _unix_socket(tmp_path):
    p = tmp_path / "sock"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(p))
    except OSError as e:  # a path longer than sun_path
        s.close()
        pytest.skip(f"cannot bind a unix socket at {p}: {e}")
    s.close()
    return p


@pytest.mark.parametrize("make,kind", [
    (_fifo, "FIFO"),
    (_unix_socket, "socket"),
])
@pytest.mark.parametrize("through_link", [False, True], ids=["direct", "symlink"])
@pytest.mark.parametrize("force", [False, True], ids=["", "force"])
def test_special_files_are_refused_before_any_work(tmp_path, monkeypatch, make, kind,
                                                   through_link, force):
    special = make(tmp_path)
    mode = os.lstat(special).st_mode
    path = special
    if through_link:
        path = tmp_path / "link.npy"
        path.symlink_to(special.name)
    calls = []
    real_call = fastinit.Orthogonal.__call__
    monkeypatch.setattr(fastinit.Orthogonal, "__call__",
                        lambda self, *a, **k: calls.append(a) or real_call(self, *a, **k))
    with pytest.raises(OSError, match=f"Cannot write {path}.*{kind}.*not a regular file"):
        fastinit.save_npy(path, (64, 64), fastinit.Orthogonal(seed=1), allow_in_memory=True,
                          force=force)
    assert calls == []  # refused before computing anything
    assert os.lstat(special).st_mode == mode and not leftovers(tmp_path)


def test_directory_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "dl").symlink_to("d")
    for p in (tmp_path / "d", tmp_path / "dl", str(tmp_path / "new.npy") + os.sep):
        with pytest.raises(IsADirectoryError, match="directory"):
            fastinit.save_npy(p, (3,), "ones", force=True)
    assert sorted(os.listdir(tmp_path)) == ["d", "dl"] and os.listdir(tmp_path / "d") == []


def test_device_files_are_refused(tmp_path, monkeypatch):
    """A character or block device (such as /dev/null, which as root would be replaced).  Never
    tried on a real device: os.lstat reports a device for a path in tmp_path."""
    p = tmp_path / "dev"
    p.write_bytes(b"")
    real_lstat = os.lstat
    for fmt, kind in [(stat.S_IFCHR, "a character device"), (stat.S_IFBLK, "a block device")]:
        def lstat(path, *a, _fmt=fmt, **k):
            st = real_lstat(path, *a, **k)
            if os.fspath(path) == str(p):
                fields = list(st)
                fields[0] = _fmt | 0o666
                return os.stat_result(fields)
            return st

        monkeypatch.setattr(_files.os, "lstat", lstat)
        monkeypatch.setattr(_files.os, "replace", pytest.fail)
        with pytest.raises(OSError, match=f"Cannot write {p}: it is {kind}, not a regular file"):
            fastinit.save_npy(p, (3,), "ones", force=True)
        monkeypatch.undo()
    assert os.listdir(tmp_path) == ["dev"]


def test_cli_refuses_a_fifo_with_one_line(tmp_path, capsys):
    fifo = _fifo(tmp_path)
    assert main(["create", str(fifo), "--shape", "64,64", "--init", "orthogonal",
                 "--allow-in-memory", "--force"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"fastinit: error: Cannot write {fifo}: it is a FIFO")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["fifo"]


def test_cli_writes_through_a_symlink(tmp_path, capsys):
    (tmp_path / "real.npy").write_bytes(b"old")
    (tmp_path / "link.npy").symlink_to("real.npy")
    assert main(["create", str(tmp_path / "link.npy"), "--shape", "3", "--init", "ones",
                 "--force", "--no-stats"]) == 0
    assert (tmp_path / "link.npy").is_symlink()
    assert (tmp_path / "real.npy").read_bytes() == ONES


# ---- modes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444, 0o755])
def test_permission_mode_is_kept(tmp_path, mode):
    p = tmp_path / "w.npy"
    p.write_bytes(b"old")
    p.chmod(mode)
    fastinit.save_npy(p, (3,), "ones", force=True)
    assert stat.S_IMODE(os.stat(p).st_mode) == mode
    assert p.read_bytes() == ONES
    # Through a symlink, the target's mode is kept and the link stays a link.
    (tmp_path / "l").symlink_to("w.npy")
    fastinit.save_npy(tmp_path / "l", (3,), "zeros", force=True)
    assert stat.S_IMODE(os.stat(p).st_mode) == mode and p.read_bytes() == ZEROS


def test_new_file_gets_the_default_mode(tmp_path):
    old = os.umask(0o027)
    try:
        fastinit.save_npy(tmp_path / "n.npy", (3,), "ones")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "n.npy").st_mode) == 0o640


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_owner_and_group_are_kept_as_root(tmp_path):
    p = tmp_path / "o.npy"
    p.write_bytes(b"old")
    os.chown(p, 12345, 23456)
    p.chmod(0o640)
    fastinit.save_npy(p, (3,), "ones", force=True)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (12345, 23456, 0o640)


# ---- long names -----------------------------------------------------------------------------


def _name_max(directory):
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


@pytest.mark.parametrize("name", [
    "a" * 228 + ".npy",                # 232 bytes: the temp name used to overflow from 229 on
    "w" * 251 + ".npy",                # 255 bytes
    "é" * 125 + ".npy",                # 254 bytes of 2-byte characters
    "€" * 83 + "x.npy",                # 254 bytes of 3-byte characters
    "😀" * 62 + "ab.npy",              # 254 bytes of 4-byte characters
    "😀" * 63 + "abc",                 # 255 bytes
], ids=["232B", "255B", "254B-utf8x2", "254B-utf8x3", "254B-utf8x4", "255B-utf8x4"])
def test_long_and_multibyte_names(tmp_path, name):
    if len(name.encode()) > _name_max(tmp_path):
        pytest.skip("longer than this filesystem's NAME_MAX")
    for force in (False, True):
        fastinit.save_npy(tmp_path / name, (3,), "ones" if force else "zeros", force=force)
    assert (tmp_path / name).read_bytes() == ONES
    assert os.listdir(tmp_path) == [name]


def test_temp_name_fits_name_max_and_stays_utf8(tmp_path, monkeypatch):
    for name_max in (255, 143, 64, 40):  # 143: eCryptfs
        monkeypatch.setattr(_files.os, "pathconf", lambda d, n, _m=name_max: _m)
        for base in ["a" * 300, "é" * 200, "€a" * 100, "😀" * 80, "x", "a" * (name_max - 27)]:
            tmp = _files.temp_path(str(tmp_path), base)
            leaf = os.path.basename(tmp)
            raw = leaf.encode("utf-8")  # no lone surrogates: never cut inside a character
            assert len(raw) <= name_max, (name_max, base[:5])
            assert os.path.dirname(tmp) == str(tmp_path)
            assert leaf.startswith(".") and leaf.endswith(TEMP_SUFFIX)
            kept = leaf[1:-(13 + len(TEMP_SUFFIX))]  # "." + 12 hex digits + suffix
            assert base.startswith(kept)  # as much of the name as fits, whole characters
            room = name_max - 14 - len(TEMP_SUFFIX)
            assert len(kept.encode()) > min(len(base.encode()), room) - 4
        # Two temp names for one file never collide.
        assert _files.temp_path("d", "a" * 300) != _files.temp_path("d", "a" * 300)
    # pathconf unavailable: 255.
    monkeypatch.setattr(_files.os, "pathconf", lambda d, n: (_ for _ in ()).throw(OSError()))
    assert len(os.path.basename(_files.temp_path("d", "a" * 300)).encode()) == 255


def test_cli_long_name(tmp_path):
    name = "n" * 251 + ".npy"
    if len(name) > _name_max(tmp_path):
        pytest.skip("longer than this filesystem's NAME_MAX")
    assert main(["create", str(tmp_path / name), "--shape", "3", "--init", "ones"]) == 0
    assert (tmp_path / name).read_bytes() == ONES
