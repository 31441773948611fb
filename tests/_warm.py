"""Warm kernels for the tests that run whole notebooks: one zygote per test process.

Each notebook still gets a kernel of its own (a fork of ``grader.zygote`` that
has run nothing); only the imports of torch, torchvision, matplotlib and the
rest are paid once per test process instead of once per notebook. Where a
zygote cannot start, the tests run the cold ``python3`` kernel, as before.
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


@functools.cache
def _kernelspecs() -> str | None:
    from grader.zygote import Zygote

    folder = Path(tempfile.mkdtemp(prefix="course-test-zygote-"))
    zygote = Zygote(folder, threads=os.cpu_count() or 1)
    try:
        zygote.start()
    except (OSError, RuntimeError):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    atexit.register(zygote.close)
    return str(zygote.kernelspec(NAME))


def kernel_name(monkeypatch: pytest.MonkeyPatch) -> str:
    """The kernel to run a notebook with: a warm fork when a zygote runs, else ``python3``."""
    folder = _kernelspecs()
    if folder is None:
        return "python3"
    paths = [folder, *filter(None, [os.environ.get("JUPYTER_PATH")])]
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(paths))
    return NAME
