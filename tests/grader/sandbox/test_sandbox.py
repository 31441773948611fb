"""Jobs kept apart from each other and from the host (issue 23), cold and warm.

Each attack is a cell added to lesson 1's released notebook, answered with the
solution, so every job must still score full marks. Job 1 plants things that
could outlive it or reach the next job (a SysV shared-memory segment, a POSIX
message queue, a file in ``/tmp``, a detached process); job 2, graded after it
by the same grader (forked from the same zygote when warm), looks for them, and
probes the host: its uid, ``/etc/shadow``, a loop device made for the test with
a marker on it, ``/dev/kmsg``, ``/dev/console``, ``/dev/pts``, how many
processes it can start, and how much it can write. After grading, the host is
checked for what job 1 planted (``ipcs``, ``/tmp``, ``/proc``).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import _warm
import nbformat
import pytest
from _grade import running
from submissions import corpus

from grader.job import feedback
from grader.job.zygote import Zygote
from grader.sandbox import limits as sandbox

pytestmark = [pytest.mark.long(70), pytest.mark.warm(False)]

ROOT = Path(__file__).resolve().parents[3]
ISOLATION = sandbox.detect()
needs_isolation = pytest.mark.skipif(
    not (ISOLATION.filesystem and ISOLATION.ipc), reason="needs mount and IPC namespaces"
)
# Small enough to hit quickly, large enough for lesson 1's honest cells.
PROCESSES, DISK_MB = 96, 64
TRIED_PROCESSES = 200

_LIBC = """
import ctypes, errno, json, os
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
_libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
_libc.shmat.restype = ctypes.c_void_p
_libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
"""

PLANT = (
    _LIBC
    + """
import subprocess
_id = _libc.shmget({key}, 2**20, 0o1666)
_at = _libc.shmat(_id, None, 0)
ctypes.memmove(_at, {mark!r}.encode(), len({mark!r}))
_mq = _libc.mq_open(b"/{mark}", os.O_CREAT | os.O_RDWR, 0o666, None)
with open("/tmp/{mark}", "w") as _fh:
    _fh.write({mark!r})
subprocess.Popen(["sleep", "{nap}"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("PROBE", json.dumps({{"planted": [_id >= 0, _mq >= 0]}}))
"""
)

LOOK = (
    _LIBC
    + """
import glob, subprocess
_found = {{"uid": os.getuid(), "euid": os.geteuid(), "groups": os.getgroups()}}
_id = _libc.shmget({key}, 0, 0)
_found["shm"] = _id >= 0 or ctypes.get_errno() != errno.ENOENT
_found["mq"] = _libc.mq_open(b"/{mark}", os.O_RDONLY, 0, None) >= 0
_found["tmp"] = os.path.exists("/tmp/{mark}")
_found["process"] = any(
    b"{nap}" in open(p, "rb").read() for p in glob.glob("/proc/[0-9]*/cmdline")
)
# Pinning memory in shared memory, outside the kernel's memory limit.
_big = _libc.shmget(0, {big_mb} * 2**20, 0o1600)
_found["big_shm"] = _big >= 0
if _big >= 0:
    _libc.shmctl(_big, 0, None)  # IPC_RMID: this probe pins nothing itself
_opened = {{}}
# Without blocking on a terminal, and without writing into one: opening is already too much.
_paths = ["/etc/shadow", {loop!r}, "/dev/kmsg", "/dev/console", "/dev/tty", {pts!r}]
for _path in _paths + glob.glob("/dev/pts/*"):
    for _mode, _how in ((os.O_RDONLY, "read"), (os.O_WRONLY, "write")):
        try:
            _fd = os.open(_path, _mode | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as _exc:
            _opened[f"{{_how}} {{_path}}"] = "refused " + str(_exc.errno)
            continue
        try:
            _opened[f"{{_how}} {{_path}}"] = "opened " + (
                repr(os.read(_fd, 64)) if _how == "read" else ""
            )
        except OSError as _exc:
            _opened[f"{{_how}} {{_path}}"] = "opened " + str(_exc.errno)
        finally:
            os.close(_fd)
_found["opened"] = _opened
_found["dev"] = sorted(os.listdir("/dev"))
_procs, _found["fork_error"] = [], None
for _ in range({tried}):
    try:
        _procs.append(subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    except OSError as _exc:
        _found["fork_error"] = _exc.errno
        break
_found["processes"] = len(_procs)
for _p in _procs:
    _p.kill()
    _p.wait()
_chunk, _files, _found["disk_error"] = b"x" * 2**20, [], None
try:
    for _i in range({disk_try}):
        _path = ("{home}", "/tmp", "/dev/shm")[_i % 3] + f"/_fill{{_i}}"
        _files.append(_path)
        with open(_path, "wb") as _fh:
            _fh.write(_chunk)
except OSError as _exc:
    _found["disk_error"] = _exc.errno
_found["disk_mb"] = len(_files) - (_found["disk_error"] is not None)
for _path in _files:
    try:
        os.remove(_path)
    except OSError:
        pass
print("PROBE", json.dumps(_found))
"""
)


def _ipc_keys() -> set[str]:
    """Keys of the SysV shared-memory segments the host sees."""
    done = subprocess.run(["ipcs", "-m"], capture_output=True, text=True, check=True)
    return set(re.findall(r"^(0x[0-9a-f]+)\s", done.stdout, re.M))


def _host_mq(mark: str) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
    found = libc.mq_open(f"/{mark}".encode(), os.O_RDONLY, 0, None)
    if found >= 0:
        libc.mq_close(found)
        libc.mq_unlink(f"/{mark}".encode())
    return found >= 0


def _tmp_files_named(mark: str) -> list[str]:
    found = []
    for folder, dirs, files in os.walk("/tmp", onerror=lambda _: None):
        found += [os.path.join(folder, n) for n in dirs + files if mark in n]
    return found


@pytest.fixture
def loop_device(tmp_path):
    """A loop device whose first bytes are a marker (a grading machine's disk, in small)."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("making a loop device needs root and losetup")
    image = tmp_path / "disk.img"
    mark = f"LOOP-{uuid.uuid4().hex}"
    image.write_bytes(mark.encode().ljust(2**20, b"\0"))
    made = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        pytest.skip(f"losetup could not make a loop device here: {made.stderr.strip()}")
    device = made.stdout.strip()
    try:
        yield device, mark
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)


def _notebooks(tmp_path: Path, mark: str, key: int, nap: str, loop: str, pts: str) -> list:
    released = nbformat.read(ROOT / "notebooks" / "lesson1" / "lesson1.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / "lesson1" / "lesson1.ipynb", as_version=4)
    values = {
        "key": key,
        "mark": mark,
        "nap": nap,
        "loop": loop,
        "pts": pts,
        "big_mb": 4 * DISK_MB,
        "tried": TRIED_PROCESSES,
        "disk_try": 3 * DISK_MB,
        "home": ".",
    }
    work = []
    for student, code in (("a_plants", PLANT), ("b_looks", LOOK)):
        nb = corpus.answered(released, source)
        # After the setup cell, before the answers: the answers after it must still score.
        nb = corpus._insert_after_setup(nb, code.format(**values))
        path = tmp_path / "subs" / student / "lesson1.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        work.append((student, "lesson1", path))
    return work


def _probe(out: Path, student: str) -> dict:
    page = (out / "feedback" / student / "lesson1.html").read_text()
    lines = [ln.strip() for ln in feedback.visible_text(page).splitlines()]
    line = next((ln for ln in lines if ln.startswith("PROBE {")), None)
    assert line is not None, feedback.visible_text(page)[-3000:]
    return json.loads(line.removeprefix("PROBE "))


def _grade_pair(tmp_path: Path, warm: bool, loop: str, monkeypatch) -> tuple[list, dict, str]:
    from grader.classwork.engine import Grader

    mark = f"course-sandbox-{uuid.uuid4().hex}"
    key = int(uuid.uuid4().hex[:7], 16) | 0x10000000
    nap = f"{4000 + int(uuid.uuid4().int % 1000)}.{os.getpid()}"
    # A terminal of the host's, as the grader's own would be: /dev/pts/N.
    terminal, other_end = os.openpty()
    pts = os.ttyname(other_end)
    work = _notebooks(tmp_path, mark, key, nap, loop, pts)
    if warm:
        _warm.share_with_grading(monkeypatch)
    limits = sandbox.Limits(cell_timeout=60, processes=PROCESSES, disk_mb=DISK_MB)
    before = _ipc_keys()
    try:
        with Grader(ROOT, ["lesson1"], jobs=1, limits=limits, warm=warm) as grader:
            outcomes = grader.grade(work, tmp_path / "out")
            how = grader.engine.describe()
        left = {
            "shm": f"0x{key:08x}" in _ipc_keys(),
            "new_shm": sorted(_ipc_keys() - before),
            "mq": _host_mq(mark),
            "tmp": _tmp_files_named(mark),
            "processes": running(nap),
        }
    finally:  # whatever the sandbox let through, this test leaves nothing behind itself
        os.close(terminal)
        os.close(other_end)
        subprocess.run(["ipcrm", "-M", f"0x{key:08x}"], capture_output=True, check=False)
        _host_mq(mark)
        for pid in running(nap):
            os.kill(pid, 9)
        for path in _tmp_files_named(mark):
            Path(path).unlink(missing_ok=True)
    probes = {o.student: _probe(tmp_path / "out", o.student) for o in outcomes}
    return outcomes, {"probes": probes, "left": left, "pts": pts}, how


@pytest.mark.slow
@needs_isolation
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_one_job_reaches_neither_the_next_nor_the_host(warm, tmp_path, monkeypatch, loop_device):
    if warm and not Zygote.available(ISOLATION):
        pytest.skip("warm starts need every namespace")
    loop, loop_mark = loop_device
    outcomes, found, how = _grade_pair(tmp_path, warm, loop, monkeypatch)
    assert how.startswith("warm" if warm else "cold"), how
    # Honest answers still score full marks after every probe.
    assert [(o.score, o.status) for o in outcomes] == [(o.max_score, "graded") for o in outcomes]
    planted, looked = found["probes"]["a_plants"], found["probes"]["b_looks"]
    assert planted["planted"] == [True, True]  # job 1 made them, in its own namespace
    # Job 2 sees nothing job 1 left.
    assert [looked[k] for k in ("shm", "mq", "tmp", "process")] == [False] * 4, looked
    # Nor does the host, after grading.
    assert found["left"] == {
        "shm": False,
        "new_shm": [],
        "mq": False,
        "tmp": [],
        "processes": [],
    }
    # Not root inside, even grading as root; no way to the host's devices or secrets.
    assert looked["uid"] != 0 and looked["euid"] != 0 and looked["groups"] == [], looked
    opened = {path: text for path, text in looked["opened"].items() if text.startswith("opened")}
    assert opened == {}, opened
    tried = {"read /etc/shadow", f"read {loop}", "read /dev/kmsg", f"write {found['pts']}"}
    assert tried <= set(looked["opened"]), looked["opened"]
    assert loop_mark not in json.dumps(looked)
    assert set(looked["dev"]) <= {
        "null", "zero", "full", "random", "urandom", "shm", "fd", "stdin", "stdout", "stderr",
    }, looked["dev"]  # fmt: skip
    # Processes: capped by RLIMIT_NPROC, which holds for a uid other than 0.
    assert 0 < looked["processes"] < PROCESSES and looked["fork_error"] == 11, looked
    # Disk: the working folder, /tmp and /dev/shm together hold at most DISK_MB.
    assert looked["disk_error"] == 28 and looked["disk_mb"] <= DISK_MB, looked
    # Shared memory of its own: at most DISK_MB in all, gone with the kernel.
    assert looked["big_shm"] is False


@pytest.fixture
def plain_folder():
    """A folder the plain user ``nobody`` owns and reaches (pytest's own are root's, 0700)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="course-sandbox-plain-"))
    folder.chmod(0o755)
    os.chown(folder, 65534, 65534)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


needs_runuser = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None or not ISOLATION.filesystem,
    reason="runs a plain user's job: needs root (runuser) and namespaces",
)


def _as_nobody(command: list[str], cwd: Path, env: dict[str, str], timeout: int):
    """Run ``command`` as the plain user ``nobody``.

    Where the interpreter lies under root's private home (pyenv in ``/root``),
    that folder alone is shown, in a mount namespace of this call's own.
    """
    base = os.path.realpath(sys.base_prefix)
    shown = "/root/" + base.removeprefix("/root/").split("/")[0]
    expose = (
        f"mount --bind {shown} /mnt && mount -t tmpfs -o mode=0755 none /root && "
        f"mkdir {shown} && mount --move /mnt {shown} && "
        if base.startswith("/root/")
        else ""
    )
    script = f'{expose}exec runuser -u nobody -- "$@"'
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        check=False,
    )


@needs_runuser
def test_a_plain_users_kernel_is_not_root_inside_its_user_namespace(plain_folder):
    """Grading as a plain user (``unshare --map-root-user``): the kernel still ends non-root."""
    folder = plain_folder / "work"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    code = (
        "import json, os\nfrom grader.sandbox import lockdown as kernel\n"
        "kernel.private_ipc()\n"
        f"kernel.lock_filesystem(kernel.allowed_paths(), {str(folder)!r}, tmp_mb=8)\n"
        "kernel.become_unprivileged()\nkernel.drop_capabilities()\n"
        "found = {'uid': os.getuid(), 'gid': os.getgid()}\n"
        f"open({str(folder)!r} + '/ok', 'w').write('fine')\n"
        "for path in ('/etc/shadow', '/dev/kmsg'):\n"
        "    try:\n        open(path, 'rb').read(1)\n        found[path] = 'read'\n"
        "    except OSError as exc:\n        found[path] = exc.errno\n"
        "try:\n    os.setuid(0)\n    found['setuid0'] = True\n"
        "except OSError:\n    found['setuid0'] = False\n"
        "print(json.dumps(found))\n"
    )
    prefix = ["unshare", "--map-root-user", "--net", "--pid", "--mount", "--ipc", "--fork"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = _as_nobody([*prefix, sys.executable, "-c", code], ROOT, env, 120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["uid"] != 0 and found["gid"] != 0 and found["setuid0"] is False, found
    assert found["/etc/shadow"] == 13 and found["/dev/kmsg"] == 2, found  # EACCES; not there
    assert (folder / "ok").read_text() == "fine"


# Grades the attack pair as the calling user, warm; prints each student's score and status.
_GRADE_AS_NOBODY = """
import json, sys
from pathlib import Path
from grader.sandbox import limits as sandbox
from grader.classwork.engine import Grader
folder = Path(sys.argv[1])
work = [(s, "lesson1", folder / "subs" / s / "lesson1.ipynb") for s in ("a_plants", "b_looks")]
limits = sandbox.Limits(cell_timeout=60, processes={processes}, disk_mb={disk})
with Grader(Path({root!r}), ["lesson1"], jobs=1, limits=limits, warm=True) as grader:
    outcomes = grader.grade(work, folder / "out")
    print(json.dumps([grader.engine.describe(), sandbox.detect().describe(),
                      [(o.student, o.score, o.max_score, o.status) for o in outcomes]]))
"""


@pytest.mark.slow
@needs_runuser
def test_grading_as_a_plain_user_keeps_jobs_apart_and_its_kernels_non_root(plain_folder):
    """``course grade`` run by a plain user (warm, in user namespaces): the same attacks hold."""
    mark = f"course-sandbox-{uuid.uuid4().hex}"
    key = int(uuid.uuid4().hex[:7], 16) | 0x10000000
    nap = f"{5000 + int(uuid.uuid4().int % 1000)}.{os.getpid()}"
    _notebooks(plain_folder, mark, key, nap, "", "")
    for where, dirs, files in os.walk(plain_folder):
        for name in [where, *(os.path.join(where, n) for n in dirs + files)]:
            os.chown(name, 65534, 65534)
    (plain_folder / "home").mkdir()
    os.chown(plain_folder / "home", 65534, 65534)
    code = _GRADE_AS_NOBODY.format(processes=PROCESSES, disk=DISK_MB, root=str(ROOT))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "JUPYTER", "JPY_"))}
    env.update(HOME=str(plain_folder / "home"), MPLCONFIGDIR=str(plain_folder / "home"))
    try:
        done = _as_nobody([sys.executable, "-c", code, str(plain_folder)], plain_folder, env, 600)
        left = {"shm": f"0x{key:08x}" in _ipc_keys(), "processes": running(nap)}
    finally:
        subprocess.run(["ipcrm", "-M", f"0x{key:08x}"], capture_output=True, check=False)
        for pid in running(nap):
            os.kill(pid, 9)
    assert done.returncode == 0, done.stderr[-3000:]
    how, isolation, scores = json.loads(done.stdout.strip().splitlines()[-1])
    assert isolation == "isolation: network, pids, filesystem, ipc", isolation
    assert how.startswith("warm starts"), how
    assert [s[1:] for s in scores] == [[s[2], s[2], "graded"] for s in scores], scores
    looked = _probe(plain_folder / "out", "b_looks")
    assert [looked[k] for k in ("shm", "mq", "tmp", "process")] == [False] * 4, looked
    assert left == {"shm": False, "processes": []}
    assert looked["uid"] == 65534 and looked["euid"] == 65534, looked
    assert looked["opened"]["read /etc/shadow"] == "refused 13", looked["opened"]
    assert 0 < looked["processes"] < PROCESSES and looked["fork_error"] == 11, looked
    assert looked["disk_error"] == 28 and looked["disk_mb"] <= DISK_MB, looked
    assert looked["big_shm"] is False


def test_the_sandbox_table_quotes_the_limits_in_force():
    """grader/README.md's numbers for processes, disk and shared memory are ``Limits``'s."""
    text = " ".join((ROOT / "grader" / "README.md").read_text().split())
    limits = sandbox.Limits()
    assert f"`RLIMIT_NPROC` {limits.processes} (`Limits.processes`)" in text
    assert f"one tmpfs of {limits.disk_mb} MiB per job (`Limits.disk_mb`)" in text
    assert f"caps its segments at {limits.disk_mb} MiB in all" in text
    assert f"`/dev/shm`, {limits.disk_mb} MiB in all" in text
    assert f"start up to {limits.processes} processes" in text


# A locked-down kernel that starts processes until its limit, says how many, and holds them.
_HOG = """
import subprocess, sys
from grader.sandbox import lockdown as kernel
kernel.private_ipc()
kernel.lock_filesystem(kernel.allowed_paths(), sys.argv[1], tmp_mb=8)
kernel.apply_limits({"memory_mb": 1024, "file_mb": 8, "processes": int(sys.argv[2])})
kernel.become_unprivileged()
kernel.drop_capabilities()
held = []
while len(held) < 2 * int(sys.argv[2]):
    try:
        held.append(subprocess.Popen(["sleep", "120"]))
    except OSError:
        break
print(len(held), flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not ISOLATION.filesystem, reason="two kernels locked down as root"
)
def test_a_kernel_at_its_process_limit_leaves_another_jobs_kernel_its_own(tmp_path):
    """``RLIMIT_NPROC`` counts per kernel (a user namespace each), not per uid on the machine."""
    limit, hogs, started = 40, [], []
    try:
        for name in ("first", "second"):
            folder = tmp_path / name
            folder.mkdir()
            hog = subprocess.Popen(
                [*ISOLATION.prefix, sys.executable, "-c", _HOG, str(folder), str(limit)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=tmp_path,
            )
            hogs.append(hog)
            assert hog.stdout is not None
            started.append(int(hog.stdout.readline() or 0))
        # Each got nearly its whole limit (its own threads count too), the second while the
        # first still held all of its processes.
        assert all(limit // 2 < n < limit for n in started), started
    finally:
        for hog in hogs:  # its end ends its PID namespace, and so everything it held
            hog.communicate(timeout=60)
