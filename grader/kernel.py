"""Kernel launcher for grading: a read-only world, no capabilities, and resource limits.

``python -m grader.kernel SPEC -- <ipykernel arguments>`` is the
``argv`` of the ``python3`` kernelspec each grading job installs. nbclient
starts it as a child of the worker; it locks itself down, then ``exec``s
ipykernel, so the student's code and everything it starts inherit:

- (``spec['filesystem']``) a mount namespace of its own in which the
  grader-only folders in ``spec['hide']`` are covered by empty read-only
  mounts, every other mount is read-only, and only ``spec['cwd']`` (the
  kernel's working folder) is writable; then all capabilities are dropped
  (bounding set, inheritable, ambient; ``no_new_privs``), so even uid 0
  cannot remount or unmount;
- limits on memory (data segment and address space, see ``apply_limits``),
  file size and core dumps, and on the number of processes (which Linux
  does not enforce for uid 0).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import sys

CLONE_NEWNS = 0x20000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
# Flags a remount must repeat (inside a user namespace they are locked).
KEPT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 0x400,
              "nodiratime": 0x800, "relatime": 0x200000, "strictatime": 0x1000000}
# Kernel-provided trees: left as they are (writes there need capabilities or are harmless).
SPECIAL = ("/proc", "/sys", "/dev")
ADDRESS_SPACE_HEADROOM_MB = 8192

_libc = ctypes.CDLL(None, use_errno=True)


def _call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _bytes(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None,
           what: str) -> None:
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


def lock_filesystem(hide: list[str], writable: str) -> None:
    """Private mounts; ``hide`` covered; everything read-only but ``writable``."""
    _call(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None, "make mounts private")
    covered: list[str] = []
    for path in sorted(os.path.realpath(p) for p in hide):
        if os.path.isdir(path) and not _under(path, covered):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   "size=4k,mode=0555", f"hide {path}")
            covered.append(path)
    # A bind mount of its own keeps the working folder writable when its parent turns read-only.
    writable = os.path.realpath(writable)
    _mount(writable, writable, None, MS_BIND, None, f"keep {writable} writable")
    for point, flags in mounts():
        # Hidden folders are read-only already, and what was mounted below them is out of reach.
        if not _under(point, [*SPECIAL, *covered]) and point != writable:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, None,
                   f"make {point} read-only")
    try:  # a /proc of our own PID namespace: no look at the grader's processes
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None, "mount /proc")
    except OSError:
        pass


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


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


def main(argv: list[str]) -> None:
    spec_path, rest = argv[0], list(argv[argv.index("--") + 1:])
    with open(spec_path) as fh:
        spec = json.load(fh)
    # The connection file lives in the worker's runtime folder, hidden below: take a copy.
    where = rest.index("-f") + 1
    private = os.path.join(spec["cwd"], ".kernel-connection.json")
    shutil.copyfile(rest[where], private)
    os.chmod(private, 0o600)
    rest[where] = private
    if spec["filesystem"]:
        lock_filesystem(spec["hide"], spec["cwd"])
        drop_capabilities()
    apply_limits(spec)
    os.chdir(spec["cwd"])
    os.environ.update(spec["env"])
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
