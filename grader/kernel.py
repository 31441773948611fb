"""Kernel launcher for grading: a world made of an allow-list, no capabilities, and resource limits.

``python -m grader.kernel SPEC -- <ipykernel arguments>`` is the
``argv`` of the ``python3`` kernelspec each grading job installs. nbclient
starts it as a child of the worker; it locks itself down, then ``exec``s
ipykernel, so the student's code and everything it starts inherit:

- (``spec['filesystem']``) a mount namespace of its own whose root is a new,
  read-only tmpfs holding only what ``allowed_paths`` lists, bind-mounted
  read-only: the system (``/usr``, ``/lib*``, ``/bin``, ``/etc``, ``/sys``),
  the Python installation and its packages (``sys.prefix``,
  ``sys.base_prefix``, site-packages) and the ``course_utils`` package
  folder; plus ``/dev`` (read-only, with a private ``/dev/shm``), a
  private ``/tmp``, a ``/proc`` of its own PID namespace, and its working
  folder ``spec['cwd']`` (seen as ``/home/student``), the only writable
  place on disk. Nothing else of
  the machine exists there (``pivot_root``, then the old root is detached):
  not the course repository, the grader, the submissions, the output
  folder, other jobs. Then all capabilities are dropped (bounding set,
  inheritable, ambient; ``no_new_privs``), so even uid 0 cannot remount,
  unmount or ``chroot`` out;
- limits on memory (data segment and address space, see ``apply_limits``),
  file size and core dumps, and on the number of processes (which Linux
  does not enforce for uid 0).
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

CLONE_NEWNS = 0x20000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
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

_libc = ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


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


def lock_filesystem(
    allowed: list[str],
    writable: str,
    *,
    at: str | None = None,
    hide: Sequence[str] = (),
    tmp_mb: int = 256,
) -> None:
    """A new root holding only ``allowed`` (read-only) and ``writable``; ``hide`` covered.

    ``writable`` appears at ``at`` (default: its own path); ``hide``: folders
    to cover with an empty mount should they lie inside an allowed one (the
    course repository inside a virtual environment, say).
    """
    _call(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None, "make mounts private")
    writable = os.path.realpath(writable)
    root = tempfile.mkdtemp(prefix="course-kernel-root-")
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755", "new root")
    for entry in SYSTEM:
        if os.path.islink(entry):
            os.symlink(os.readlink(entry), root + entry)
    target = _mount_point(root, "/dev", True)
    _mount("/dev", target, None, MS_BIND | MS_REC, None, "show /dev")
    _mount(
        "tmpfs",
        _mount_point(root, "/dev/shm", True),
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={tmp_mb}m,mode=1777",
        "private /dev/shm",
    )
    _mount(
        "tmpfs",
        _mount_point(root, "/tmp", True),
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={tmp_mb}m,mode=1777",
        "private /tmp",
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


def drop_capabilities() -> None:
    """No capabilities now or after ``exec`` (uid 0 included), and no way to regain them."""
    pr_capbset_drop, pr_cap_ambient, ambient_clear_all, pr_set_no_new_privs = 24, 47, 4, 38
    _libc.prctl(pr_cap_ambient, ambient_clear_all, 0, 0, 0)
    for cap in range(64):
        if _libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
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
        lock_filesystem(
            allowed_paths(spec.get("allow", [])),
            host,
            at=inside,
            hide=spec["hide"],
            tmp_mb=spec["file_mb"],
        )
        drop_capabilities()
    apply_limits(spec)
    os.chdir(inside)
    rest[where] = os.path.join(inside, ".kernel-connection.json")
    os.environ.update({k: v.replace(host, inside) for k, v in spec["env"].items()})
    return rest


def main(argv: list[str]) -> None:
    spec_path, rest = argv[0], list(argv[argv.index("--") + 1 :])
    with open(spec_path) as fh:
        warm = json.load(fh).get("zygote")
    if warm:  # a warm kernel, forked by the grader's zygote; this process stands in for it
        from grader import zygote

        try:
            sys.exit(zygote.stand_in(warm, spec_path, rest))
        except (FileNotFoundError, ConnectionRefusedError) as exc:  # no zygote: start cold
            print(f"grading zygote unavailable ({exc}); starting a cold kernel", file=sys.stderr)
    rest = lock_down(spec_path, rest)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
