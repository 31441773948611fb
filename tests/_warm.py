"""Warm starts for the tests that run or grade whole notebooks: one zygote per test process.

Each notebook still gets a kernel of its own (a fork of ``grader.job.zygote`` that
has run nothing); only the imports of torch, torchvision, matplotlib and the
rest are paid once per test session instead of once per notebook, or once per
``course grade`` run (``share_with_grading``). Under pytest-xdist the controller
starts the one zygote (``launch_for_workers``) while its workers start and
collect, and every worker forks from it; a serial run starts its own on first
use. Where a zygote cannot start, the tests run the cold ``python3`` kernel and
each grading run starts its own, as before.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from grader.job.zygote import Zygote

NAME = "python3-warm"


# `COURSE_TEST_COLD=1 make test`: every notebook in a fresh interpreter, as a student's kernel.
COLD = os.environ.get("COURSE_TEST_COLD", "") not in ("", "0")


# Set by the xdist controller for its workers: the socket of the zygote it started, and the
# folder holding that zygote's warm kernelspec.
SOCKET_ENV, KERNELS_ENV = "COURSE_TEST_ZYGOTE", "COURSE_TEST_KERNELS"
# The controller writes this next to the socket when its zygote could not start.
FAILED = "failed"


class Owned:
    """A zygote this process starts, in a private temporary folder beside its warm kernelspec."""

    def __init__(self, threads: int) -> None:
        from grader.job.zygote import Zygote

        self.folder = Path(tempfile.mkdtemp(prefix="course-test-zygote-"))
        self.zygote = Zygote(self.folder, threads=threads)
        self.kernels = str(self.zygote.kernelspec(NAME))
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start it and wait until it answers; ``False`` (and why, in ``FAILED``) if it cannot."""
        try:
            self.zygote.start()
        except (OSError, RuntimeError) as exc:
            (self.folder / FAILED).write_text(str(exc))
            return False
        return True

    def start_in_background(self) -> None:
        """Start it in a thread (the xdist controller meanwhile starts its workers)."""
        self._thread = threading.Thread(target=self.start, name="course-test-zygote")
        self._thread.start()

    def environ(self) -> dict[str, str]:
        """Where the workers find it: its socket and its kernelspec's folder."""
        return {SOCKET_ENV: self.zygote.socket_path, KERNELS_ENV: self.kernels}

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        self.zygote.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def launch_for_workers(threads: int) -> Owned | None:
    """Start the session's zygote in the xdist controller, its imports' thread pools sized
    ``threads``; ``None`` for cold runs."""
    if COLD:
        return None
    owned = Owned(threads)
    owned.start_in_background()
    return owned


def _attach(socket_path: str):
    """The controller's zygote, once it answers; ``None`` if it could not start."""
    from grader.job.zygote import START_TIMEOUT, Zygote

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if (Path(socket_path).parent / FAILED).exists():
            return None
        try:
            return Zygote.attach(socket_path)
        except ValueError:  # not listening yet (it binds once its imports are done)
            time.sleep(0.1)
    return None


@functools.cache
def _session() -> tuple[Zygote, str] | None:
    """This session's zygote and the folder of its warm kernelspec: the controller's under
    xdist, else started on first use; ``None`` where none can (or may) start."""
    if COLD:
        return None
    if socket_path := os.environ.get(SOCKET_ENV):
        found = _attach(socket_path)
        return None if found is None else (found, os.environ[KERNELS_ENV])
    owned = Owned(os.cpu_count() or 1)
    if not owned.start():
        owned.close()
        return None
    atexit.register(owned.close)
    return owned.zygote, owned.kernels


def zygote() -> Zygote | None:
    """This session's zygote, or ``None``."""
    return None if (session := _session()) is None else session[0]


def _kernelspecs() -> str | None:
    return None if (session := _session()) is None else session[1]


def share_with_grading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let every ``course grade`` of this test fork from this process's zygote.

    The grader then skips starting its own (seconds of imports per run); a test
    that is about the grader's own zygote removes the variable.
    """
    from grader.job.zygote import SHARED_ENV, Zygote
    from grader.sandbox import limits as sandbox

    if Zygote.available(sandbox.detect()) and (found := zygote()) is not None:
        monkeypatch.setenv(SHARED_ENV, found.socket_path)


def kernel_name(monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    """The kernel to run a notebook with: a warm fork when a zygote runs, else ``python3``.

    Puts the warm kernelspec on ``JUPYTER_PATH`` for this test (``monkeypatch``),
    or for the rest of this process (``None``: nbval's kernels, which outlive tests).
    """
    folder = _kernelspecs()
    if folder is None:
        return "python3"
    paths = [folder, *filter(None, [os.environ.get("JUPYTER_PATH")])]
    if monkeypatch is None:
        if folder not in os.environ.get("JUPYTER_PATH", "").split(os.pathsep):
            os.environ["JUPYTER_PATH"] = os.pathsep.join(paths)
    else:
        monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(paths))
    return NAME
