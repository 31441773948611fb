"""The C library, for what the ``os`` module lacks: namespaces, mounts, ``prctl``.

One handle (``errno`` kept, so a failure says why) and the constants from the
Linux headers that the sandbox, the zygote and the hub pass to it.
"""

from __future__ import annotations

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)

# <sched.h>: namespaces for unshare/setns
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x20000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
# <sys/mount.h>
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
# <sys/prctl.h>
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4


def check(result: int, what: str) -> None:
    """Raise ``OSError`` naming ``what`` and errno's text when a libc call returned non-zero."""
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def call(name: str, *args: object) -> None:
    """``libc.name(*args)``, raising ``OSError`` (with the call and errno's text) on failure."""
    check(getattr(libc, name)(*args), f"{name}{args}")
