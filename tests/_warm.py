"""Warm starts for the tests that run or grade whole notebooks: one zygote per test process.

Each notebook still gets a kernel of its own (a fork of ``grader.zygote`` that
has run nothing); only the imports of torch, torchvision, matplotlib and the
rest are paid once per test process instead of once per notebook, or once per
``course grade`` run (``share_with_grading``). Where a zygote cannot start, the
tests run the cold ``python3`` kernel and each grading run starts its own, as before.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

NAME = "python3-warm"


# `COURSE_TEST_COLD=1 make test`: every notebook in a fresh interpreter, as a student's kernel.
COLD = os.environ.get("COURSE_TEST_COLD", "") not in ("", "0")


@functools.cache
def zygote():
    """This test process's zygote, started on first use; ``None`` where none can (or may) start."""
    from grader.zygote import Zygote

    if COLD:
        return None
    folder = Path(tempfile.mkdtemp(prefix="course-test-zygote-"))
    started = Zygote(folder, threads=os.cpu_count() or 1)
    try:
        started.start()
    except (OSError, RuntimeError):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    atexit.register(started.close)
    return started


@functools.cache
def _kernelspecs() -> str | None:
    found = zygote()
    return None if found is None else str(found.kernelspec(NAME))


def share_with_grading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let every ``course grade`` of this test fork from this process's zygote.

    The grader then skips starting its own (seconds of imports per run); a test
    that is about the grader's own zygote removes the variable.
    """
    from grader import sandbox
    from grader.zygote import SHARED_ENV, Zygote

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
