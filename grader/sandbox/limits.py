"""Run one grading worker as an untrusted job: namespaces, limits, a deadline, and no survivors.

What the operating system allows is detected once (``detect``) and reported
by ``course grade``:

- ``network``: the worker and its kernel get a fresh network namespace with
  only loopback (``unshare --net``), so submissions cannot reach the network.
- ``pids``: a fresh PID namespace whose init is the worker; when the worker
  ends or is killed, every process the submission started dies with it, and
  the submission cannot signal anything outside it.
- ``filesystem``: a private mount namespace in which the kernel (see
  ``kernel``) sees only an allow-list, read-only: the system, the Python
  installation with its packages and the ``course_utils`` package; plus its
  own writable working folder, a private ``/tmp`` and ``/dev/shm`` (one tmpfs
  of ``Limits.disk_mb`` for the three, ``job_space``) and a ``/dev`` of five
  harmless devices. Nothing of the course repository (solutions, tests, the
  grader, git history), the submissions, the output folder or other jobs
  exists there; the kernel runs as an unprivileged uid (65534), with no
  capabilities left to undo that.
- ``ipc``: a fresh IPC namespace for the worker, and another for each of its
  kernels: no SysV shared memory, semaphore, message queue or POSIX message
  queue is shared with another job or the host, and all go with the job.

As root, ``unshare --net --pid --mount --ipc`` gives all four; otherwise
``unshare --map-root-user`` does the same where user namespaces are enabled.
Without ``unshare`` nothing is isolated beyond the limits and deadlines.
``grader/README.md`` spells out what each level protects.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from grader._libc import PR_SET_DUMPABLE, PR_SET_PDEATHSIG, libc


@dataclass(frozen=True)
class Limits:
    """Per-notebook limits (seconds, MiB, bytes)."""

    cell_timeout: int = 120
    notebook_timeout: int = 900
    memory_mb: int = 4096
    output_bytes: int = 1_000_000
    file_mb: int = 256
    processes: int = 512
    # All a job writes in its working folder, /tmp and /dev/shm together, and its SysV
    # shared memory: each a tmpfs-like store in memory, outside the kernel's --memory.
    disk_mb: int = 512

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class Isolation:
    """What the sandbox can do on this machine (see the module docstring)."""

    network: bool = False
    pids: bool = False
    filesystem: bool = False
    prefix: tuple[str, ...] = ()
    ipc: bool = False

    @property
    def user_namespace(self) -> bool:
        """Jobs get a user namespace of their own, where this user is root (not run as root)."""
        return "--map-root-user" in self.prefix

    def describe(self) -> str:
        names = ("network", "pids", "filesystem", "ipc")
        on = [name for name in names if getattr(self, name)]
        off = [name for name in names if not getattr(self, name)]
        text = f"isolation: {', '.join(on) or 'none'}"
        return text + (f" (unavailable here: {', '.join(off)})" if off else "")


def _works(prefix: list[str], code: str = "pass") -> bool:
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", code], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


# What a job does at the start, end to end: a probe that passes means grading will too.
_PROBE = """
import os
from grader.sandbox import lockdown as kernel
from grader.sandbox import limits as sandbox
sandbox.loopback_up()
initial, owner = kernel.in_initial_user_namespace(), kernel.kernel_owner()
kernel.make_space({folder!r}, {folder!r} + "-space", 1, owner)
kernel.private_ipc()
kernel.lock_filesystem(kernel.allowed_paths(), {folder!r}, space={folder!r} + "-space")
kernel.become_unprivileged(initial)
kernel.drop_capabilities()
assert os.getuid() != 0
for folder in ({folder!r}, "/tmp", "/dev/shm"):
    open(folder + "/probe", "w").close()
"""


@functools.cache
def detect() -> Isolation:
    """The strongest isolation this machine allows (probed once per process)."""
    unshare = shutil.which("unshare")
    if not sys.platform.startswith("linux") or unshare is None:
        return Isolation()
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    prefix = [unshare, *user, "--net", "--pid", "--mount", "--ipc", "--fork", "--kill-child"]
    folder = tempfile.mkdtemp(prefix="course-grade-probe-")
    try:
        locked = _works(prefix, _PROBE.format(folder=folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(folder + "-space", ignore_errors=True)
    if locked:
        return Isolation(network=True, pids=True, filesystem=True, ipc=True, prefix=tuple(prefix))
    prefix = [unshare, *user, "--net", "--pid", "--ipc", "--fork", "--kill-child"]
    if _works(prefix, "from grader.sandbox import limits; limits.loopback_up()"):
        return Isolation(network=True, pids=True, ipc=True, prefix=tuple(prefix))
    return Isolation()


# --- inside the worker ----------------------------------------------------------


def loopback_up() -> None:
    """Bring ``lo`` up in a fresh network namespace: the kernel talks to the worker over it."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def job_space(jobdir: Path) -> None:
    """In the worker, before its first kernel: the job's space (``kernel.make_space``).

    The kernel's working folder (``cwd`` of ``JOBDIR/kernel-spec.json``) moves
    onto a tmpfs of ``disk_mb`` MiB, with the kernels' ``/tmp`` and
    ``/dev/shm`` beside it, mounted in this worker's own mount namespace, so
    it lasts across kernel restarts and ends with the job; the spec then names
    it (``space``) for the kernels. Does nothing without ``filesystem`` isolation.
    """
    from grader.sandbox import lockdown as kernel

    path = jobdir / "kernel-spec.json"
    spec = json.loads(path.read_text())
    if not spec.get("filesystem"):
        return
    owner = kernel.kernel_owner()
    spec["space"] = kernel.make_space(spec["cwd"], str(jobdir / "space"), spec["disk_mb"], owner)
    path.write_text(json.dumps(spec))


def _die_with_parent() -> None:
    """In the child, before ``exec``: SIGKILL when the process that started it dies.

    A Dask worker killed in the middle of a job must not leave its job running.
    """
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def not_dumpable() -> None:
    """Keep the kernel (same uid, no capabilities) from ptracing or reading the worker's memory."""
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


# --- in the parent ------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (Linux ``/proc``; empty elsewhere)."""
    if not os.path.isdir("/proc"):
        return []
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@dataclass(frozen=True)
class RunResult:
    returncode: int | None
    timed_out: bool
    seconds: float


def run(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    timeout: float,
    isolation: Isolation,
) -> RunResult:
    """Run ``command`` under ``isolation``; kill it and everything it started after ``timeout`` s."""
    start = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*isolation.prefix, *command],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Kill the tree even after a clean exit: a submission may have left processes behind.
            kill_all(descendants(proc.pid))
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
    return RunResult(None if timed_out else proc.returncode, timed_out, time.monotonic() - start)
