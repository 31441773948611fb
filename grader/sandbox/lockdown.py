"""The lock-down of a grading kernel: a world made of an allow-list, no capabilities, and resource limits.

``lock_down`` is what the kernel launcher (``python -m grader.sandbox.launcher
SPEC -- <ipykernel arguments>``, the ``argv`` of the ``python3`` kernelspec each
grading job installs) and the zygote's kernel fork do before ipykernel runs, so
the student's code and everything it starts inherit:

- (``spec['filesystem']``) a mount namespace of its own whose root is a new,
  read-only tmpfs holding only what ``allowed_paths`` lists, bind-mounted
  read-only: the system (``/usr``, ``/lib*``, ``/bin``, ``/etc``, ``/sys``),
  the Python installation and its packages (``sys.prefix``,
  ``sys.base_prefix``, site-packages) and the ``course_utils`` package
  folder; plus a ``/dev`` of five harmless devices (``_minimal_dev``), a
  private ``/tmp`` and ``/dev/shm``, a ``/proc`` of its own PID namespace,
  and its working folder ``spec['cwd']`` (seen as ``/home/student``): the
  only writable places. Nothing else of
  the machine exists there (``pivot_root``, then the old root is detached):
  not the course repository, the grader, the submissions, the output
  folder, other jobs, the host's disks and terminals. Then all capabilities
  are dropped (bounding set, inheritable, ambient; ``no_new_privs``), so it
  cannot remount, unmount or ``chroot`` out;
- (``spec['filesystem']``) an IPC namespace of its own (``private_ipc``):
  SysV shared memory, semaphores, message queues and POSIX message queues
  that no other job and not the host sees, capped at ``spec['disk_mb']`` of
  shared memory, and destroyed with the last process of the kernel;
- (``spec['filesystem']``) an unprivileged uid in a user namespace of its
  own (``become_unprivileged``): 65534 (``nobody``), which is 65534 on the
  host when the grader is root, and the grader's uid when the grader is root
  only in a user namespace (``unshare --map-root-user``). So
  ``RLIMIT_NPROC`` holds, counted per kernel, and root's files
  (``/etc/shadow``) and devices stay closed;
- limits on memory (data segment and address space, see ``apply_limits``),
  file size and core dumps, and on the number of processes.

The writable places (working folder, ``/tmp``, ``/dev/shm``) are folders of
one tmpfs of ``spec['disk_mb']`` MiB, the job's *space* (``make_space``): the
worker makes it once per job (files survive a kernel restart), so everything
a job writes, in all three, stops at that size with ``ENOSPC``.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import resource
import shutil
import site
import sys
import tempfile
from collections.abc import Sequence

from grader._libc import (
    CLONE_NEWIPC,
    CLONE_NEWNS,
    CLONE_NEWUSER,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
)
from grader._libc import check as _call
from grader._libc import libc as _libc

# Flags a remount must repeat (inside a user namespace they are locked).
KEPT_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": 0x400,
    "nodiratime": 0x800,
    "relatime": 0x200000,
    "strictatime": 0x1000000,
}
ADDRESS_SPACE_HEADROOM_MB = 8192


def _bytes(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None, what: str
) -> None:
    _call(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)), what)


def mounts() -> list[tuple[str, int]]:
    """(mount point, flags to keep) for every mount this process sees, parents first."""
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            flags = sum(KEPT_FLAGS.get(opt, 0) for opt in fields[5].split(","))
            found.append((point, flags))
    return sorted(found, key=lambda m: m[0].count("/"))


def _under(path: str, folders) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


# The system a Python kernel needs (merged-/usr symlinks such as /bin -> usr/bin are recreated).
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}
MNT_DETACH = 2
WORKDIR = "/home/student"  # where the kernel's working folder appears once locked down
# The kernel's uid and gid once locked down (``nobody``): owns nothing on the host.
UNPRIVILEGED = 65534
# The only device nodes a kernel finds in its /dev (bind mounts of the host's).
DEVICES = ("null", "zero", "full", "random", "urandom")
DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
}


def course_package() -> str:
    """The ``course_utils`` package folder the kernel imports (a clone, or site-packages)."""
    spec = importlib.util.find_spec("course_utils")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("course_utils is not importable: install the course (pip install .)")
    return os.path.realpath(list(spec.submodule_search_locations)[0])


def allowed_paths(extra: Sequence[str] = ()) -> list[str]:
    """What the kernel may read: system, Python, installed packages, ``course_utils``, ``extra``.

    Real paths, none inside another, sorted. Symlinks among the top-level
    system entries are kept as symlinks (see ``lock_filesystem``).
    """
    wanted = [p for p in SYSTEM if os.path.lexists(p) and not os.path.islink(p)]
    wanted += [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    wanted += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    wanted += [user_site] if user_site and os.path.isdir(user_site) else []
    wanted += [course_package(), *extra]
    real = sorted({os.path.realpath(p) for p in wanted if os.path.exists(p)})
    kept: list[str] = []
    for path in real:
        if not _under(path, kept):
            kept.append(path)
    return kept


def _mount_point(root: str, path: str, is_dir: bool) -> str:
    target = root + path
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    return target


def _pivot(root: str) -> None:
    """Make ``root`` the root of this mount namespace, detach the old one, remove ``root``'s folder."""
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    old = root + "/.old-root"
    os.mkdir(old)
    if number is None or _libc.syscall(number, root.encode(), old.encode()) != 0:
        # An architecture whose syscall number we do not know: chroot, which no one without
        # CAP_SYS_CHROOT (dropped next) can leave.
        os.rmdir(old)
        os.chroot(root)
        os.chdir("/")
        return
    os.chdir("/")
    try:  # the folder the new root was mounted on, in the old tree: leave no litter behind
        os.rmdir("/.old-root" + root)
    except OSError:
        pass
    _call(_libc.umount2(b"/.old-root", MNT_DETACH), "detach the old root")
    os.rmdir("/.old-root")


def _minimal_dev(root: str) -> None:
    """``root``/dev: a small tmpfs with only ``DEVICES`` (bound from the host's) and ``DEV_LINKS``.

    No disks, terminals, ``kmsg``, ``console`` or ``pts`` of the host: a kernel
    needs none, and a bind mount works inside a user namespace, where ``mknod``
    does not.
    """
    dev = _mount_point(root, "/dev", True)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755", "/dev")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            target = _mount_point(root, f"/dev/{name}", False)
            _mount(f"/dev/{name}", target, None, MS_BIND, None, f"show /dev/{name}")
    for name, to in DEV_LINKS.items():
        os.symlink(to, f"{dev}/{name}")


def _give(folder: str, owner: int) -> None:
    """Make ``owner`` (uid and gid) the owner of ``folder`` and everything in it."""
    for where, dirs, files in os.walk(folder):
        for name in [where, *(os.path.join(where, n) for n in dirs + files)]:
            os.lchown(name, owner, owner)


def make_space(folder: str, at: str, size_mb: int, owner: int | None) -> str:
    """Put ``folder`` on a tmpfs of ``size_mb`` MiB mounted at ``at``, beside ``/tmp`` and ``/dev/shm``.

    The tmpfs holds ``home`` (a copy of ``folder``, then bind-mounted over
    ``folder``), ``tmp`` and ``shm`` (see ``lock_filesystem``'s ``space``): a
    job's writes in its working folder, ``/tmp`` and ``/dev/shm`` stop, all
    together, at ``size_mb`` (``ENOSPC``), and vanish with the mount
    namespace, which must be this process's own (private propagation).
    ``owner``: the uid (and gid) to give the files, where the kernel will run
    as another uid than this process's (see ``kernel_owner``). Returns ``at``.
    """
    os.makedirs(at, mode=0o700, exist_ok=True)
    _mount("tmpfs", at, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode=0755", "job space")
    home = os.path.join(at, "home")
    shutil.copytree(folder, home, symlinks=True)
    for name in ("tmp", "shm"):
        os.mkdir(os.path.join(at, name))
        os.chmod(os.path.join(at, name), 0o1777)
    if owner is not None:
        _give(home, owner)
    _mount(home, folder, None, MS_BIND, None, f"put {folder} in the job space")
    return at


def in_initial_user_namespace() -> bool:
    """Whether this process's user namespace is the machine's own (uid 0 is the real root)."""
    try:
        with open("/proc/self/uid_map") as fh:
            return fh.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return True


def kernel_owner() -> int | None:
    """The uid, as this process names it, that ``become_unprivileged`` will run the kernel as.

    ``None`` where nothing changes hands: inside a user namespace the kernel's
    uid maps back to this process's own.
    """
    return UNPRIVILEGED if os.geteuid() == 0 and in_initial_user_namespace() else None


def private_ipc() -> None:
    """An IPC namespace of this process's own: no other job's or the host's SysV IPC or mqueues.

    Everything made in it dies with its last process.
    """
    _call(_libc.unshare(CLONE_NEWIPC), "unshare(CLONE_NEWIPC)")


def cap_shared_memory(mb: int) -> bool:
    """Cap this IPC namespace's SysV shared memory at ``mb`` MiB in all (before dropping root).

    Memory a segment pins lies outside ``RLIMIT_DATA``. Returns ``False``
    where ``/proc/sys`` cannot be written (no ``/proc`` of its own could be
    mounted, as in some containers): the segments still die with the kernel.
    """
    page = os.sysconf("SC_PAGE_SIZE")
    try:
        for name, value in (("shmmax", mb * 2**20), ("shmall", mb * 2**20 // page)):
            with open(f"/proc/sys/kernel/{name}", "w") as fh:
                fh.write(str(value))
    except OSError:
        return False
    return True


def lock_filesystem(
    allowed: list[str],
    writable: str,
    *,
    at: str | None = None,
    hide: Sequence[str] = (),
    tmp_mb: int = 256,
    space: str | None = None,
) -> None:
    """A new root holding only ``allowed`` (read-only) and ``writable``; ``hide`` covered.

    ``writable`` appears at ``at`` (default: its own path); ``hide``: folders
    to cover with an empty mount should they lie inside an allowed one (the
    course repository inside a virtual environment, say). ``/tmp`` and
    ``/dev/shm`` are the ``tmp`` and ``shm`` folders of ``space`` (see
    ``make_space``), else private tmpfs of ``tmp_mb`` MiB each. ``/dev`` holds
    only ``DEVICES`` (see ``_minimal_dev``).
    """
    _call(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None, "make mounts private")
    writable = os.path.realpath(writable)
    root = tempfile.mkdtemp(prefix="course-kernel-root-")
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755", "new root")
    for entry in SYSTEM:
        if os.path.islink(entry):
            os.symlink(os.readlink(entry), root + entry)
    _minimal_dev(root)
    for point, folder in (("/tmp", "tmp"), ("/dev/shm", "shm")):
        target = _mount_point(root, point, True)
        if space is not None:  # a folder of the job's space: one size limit for all writes
            _mount(os.path.join(space, folder), target, None, MS_BIND, None, f"private {point}")
        else:
            _mount(
                "tmpfs",
                target,
                "tmpfs",
                MS_NOSUID | MS_NODEV,
                f"size={tmp_mb}m,mode=1777",
                f"private {point}",
            )
    for path in allowed:  # after /tmp: an allowed path may lie below it
        target = _mount_point(root, path, os.path.isdir(path))
        _mount(path, target, None, MS_BIND | MS_REC, None, f"show {path}")
    at = at or writable
    _mount(writable, _mount_point(root, at, True), None, MS_BIND, None, f"keep {writable} writable")
    covered: list[str] = []
    for path in sorted(os.path.realpath(p) for p in hide):
        if (
            os.path.isdir(root + path)
            and _under(path, allowed)
            and not _under(path, covered)
            and not _under(at, [path])
        ):
            _mount(
                "tmpfs",
                root + path,
                "tmpfs",
                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=4k,mode=0555",
                f"hide {path}",
            )
            covered.append(path)
    proc = _mount_point(root, "/proc", True)
    try:  # a /proc of our own PID namespace: no look at the grader's processes
        _mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None, "mount /proc")
    except OSError:
        pass  # never the machine's /proc: it would lead to other processes' roots
    _pivot(root)
    keep = (at, "/tmp", "/dev/shm", "/proc")
    for point, flags in mounts():
        if point not in keep and not _under(point, ["/proc"]):
            _mount(
                None,
                point,
                None,
                MS_REMOUNT | MS_BIND | MS_RDONLY | flags,
                None,
                f"make {point} read-only",
            )


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_bounding_set() -> None:
    """Empty the capability bounding and ambient sets (needs ``CAP_SETPCAP`` for the former)."""
    pr_capbset_drop, pr_cap_ambient, ambient_clear_all = 24, 47, 4
    _libc.prctl(pr_cap_ambient, ambient_clear_all, 0, 0, 0)
    for cap in range(64):
        if _libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows (or emptied already)


def _map_from_outside(uid: int, gid: int) -> None:
    """Enter a new user namespace where ``uid`` and ``gid`` are themselves (as the machine's root).

    Mapping ids other than one's own must be written from the parent
    namespace: a helper forked before the ``unshare`` writes this process's
    maps, through the ``/proc`` of this PID namespace.
    """
    unshared_r, unshared_w = os.pipe()
    helper = os.fork()
    if helper == 0:  # stays in the machine's user namespace, as root
        code = 1
        try:
            os.close(unshared_w)
            if os.read(unshared_r, 1) == b"u":
                for name, text in (
                    ("setgroups", "deny"),
                    ("uid_map", f"{uid} {uid} 1"),
                    ("gid_map", f"{gid} {gid} 1"),
                ):
                    with open(f"/proc/{os.getppid()}/{name}", "w") as fh:
                        fh.write(text)
                code = 0
        finally:
            os._exit(code)
    os.close(unshared_r)
    try:
        _call(_libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
        os.write(unshared_w, b"u")
    finally:
        os.close(unshared_w)
        _, status = os.waitpid(helper, 0)
    if status != 0:
        raise OSError(f"could not map uid {uid} into the kernel's user namespace")


def become_unprivileged(initial: bool | None = None) -> None:
    """Go on as ``UNPRIVILEGED`` in a user namespace of its own (after the mounts; then
    ``drop_capabilities``).

    As the machine's root: no supplementary groups, uid and gid 65534, mapped to
    65534 on the host. As root of a user namespace that maps only the grader's
    own uid (``unshare --map-root-user``): uid 65534, mapped to that uid. The
    mounts belong to the namespace outside, so the capabilities a new user
    namespace grants act on nothing of them (and are dropped next). A user
    namespace per kernel makes Linux count ``RLIMIT_NPROC`` per kernel, not
    per uid across the machine: a notebook at its limit cannot stop another
    job's kernel from starting processes or threads. ``initial``: whether this
    is the machine's user namespace, read before ``/proc`` changed (default:
    read it now). Does nothing for a non-root uid.
    """
    if os.geteuid() != 0:
        return
    initial = in_initial_user_namespace() if initial is None else initial
    if initial:
        os.setgroups([])
        try:
            _map_from_outside(UNPRIVILEGED, UNPRIVILEGED)
        except OSError:  # user namespaces disabled here: 65534 all the same, counted machine-wide
            pass
        # Fails unless 65534 is mapped, so that success means uid 65534 on the host too.
        os.setresgid(UNPRIVILEGED, UNPRIVILEGED, UNPRIVILEGED)
        os.setresuid(UNPRIVILEGED, UNPRIVILEGED, UNPRIVILEGED)
        # A uid change makes the process non-dumpable, which hands its own /proc/self files
        # to root; only processes of this job (its PID namespace) could ptrace it anyway.
        _libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
        return
    uid, gid = os.geteuid(), os.getegid()
    _call(_libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    for path, text in (
        ("/proc/self/setgroups", "deny"),
        ("/proc/self/uid_map", f"{UNPRIVILEGED} {uid} 1"),
        ("/proc/self/gid_map", f"{UNPRIVILEGED} {gid} 1"),
    ):
        with open(path, "w") as fh:
            fh.write(text)
    if os.geteuid() != UNPRIVILEGED:
        raise OSError(
            f"uid {os.geteuid()} after mapping {UNPRIVILEGED} to {uid}: refusing to go on"
        )


def drop_capabilities() -> None:
    """No capabilities now or after ``exec`` (uid 0 included), and no way to regain them."""
    pr_set_no_new_privs = 38
    _drop_bounding_set()
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _call(_libc.capset(ctypes.byref(header), data), "capset")
    _call(_libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0), "no_new_privs")


def _limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(which, (value, value))


def apply_limits(spec: dict) -> None:
    """Memory, largest file, processes, no core dumps.

    Memory is capped as data (``RLIMIT_DATA``: heap and private mappings, where
    arrays and tensors live) and, with ``ADDRESS_SPACE_HEADROOM_MB`` more, as
    address space (``RLIMIT_AS``): importing torch alone reserves about 4 GiB of
    address space it never touches, so an address-space cap alone would have to
    be too loose to stop anything, or would break ``import torch``.
    """
    _limit(resource.RLIMIT_DATA, spec["memory_mb"] * 2**20)
    _limit(resource.RLIMIT_AS, (spec["memory_mb"] + ADDRESS_SPACE_HEADROOM_MB) * 2**20)
    _limit(resource.RLIMIT_FSIZE, spec["file_mb"] * 2**20)
    _limit(resource.RLIMIT_NPROC, spec["processes"])
    _limit(resource.RLIMIT_CORE, 0)


def lock_down(spec_path: str, rest: list[str]) -> list[str]:
    """Lock this process down as ``spec_path`` says; the ipykernel arguments to run with.

    The connection file is copied into the working folder (its original, in
    the worker's runtime folder, is hidden from here on), the environment gets
    the spec's variables, and the process ends up in its working folder.
    """
    with open(spec_path) as fh:
        spec = json.load(fh)
    rest = list(rest)
    where = rest.index("-f") + 1
    host = spec["cwd"]
    private = os.path.join(host, ".kernel-connection.json")
    shutil.copyfile(rest[where], private)
    os.chmod(private, 0o600)
    # Locked down, the working folder is WORKDIR: its real path (in the grader's temporary
    # folder, below /tmp) would put its parents in the kernel's writable private /tmp.
    inside = WORKDIR if spec["filesystem"] else host
    if spec["filesystem"]:
        initial = in_initial_user_namespace()
        owner = kernel_owner()
        if owner is not None and spec.get("space"):
            os.chown(private, owner, owner)
        elif owner is not None:  # no job space (``make_space``): the grader's copy, handed over
            _give(host, owner)
        private_ipc()
        lock_filesystem(
            allowed_paths(spec.get("allow", [])),
            host,
            at=inside,
            hide=spec["hide"],
            tmp_mb=spec["file_mb"],
            space=spec.get("space"),
        )
        cap_shared_memory(spec.get("disk_mb", spec["file_mb"]))
        apply_limits(spec)
        become_unprivileged(initial)
        drop_capabilities()
    else:
        apply_limits(spec)
    os.chdir(inside)
    rest[where] = os.path.join(inside, ".kernel-connection.json")
    os.environ.update({k: v.replace(host, inside) for k, v in spec["env"].items()})
    # IPython runs its profile's startup files and config when the kernel starts: a restart
    # (after a crash the notebook caused) would run what an earlier cell wrote into a profile
    # under the writable working folder, before the guard's snapshot. A new, empty folder per
    # start, made here, holds nothing a cell could have written.
    os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="ipython-", dir=os.environ.get("TMPDIR"))
    return rest
