"""tests/_warm.py under pytest-xdist: one zygote for the session, the cores split between workers."""

from __future__ import annotations

import os
from pathlib import Path

import _warm
import pytest


def _set_by_caller(name: str) -> bool:
    """Whether ``name`` was in the environment the controller (this worker's parent) started
    with, rather than set by the controller for its workers."""
    environ = Path(f"/proc/{os.getppid()}/environ")
    if not environ.exists():
        pytest.skip("needs Linux /proc")
    return any(item.startswith(f"{name}=".encode()) for item in environ.read_bytes().split(b"\0"))


def test_xdist_workers_fork_from_the_controllers_zygote_and_share_the_cores():
    if "PYTEST_XDIST_WORKER" not in os.environ:
        pytest.skip("a serial run: this process starts its own zygote on first use")
    found = _warm.zygote()
    if found is None:
        pytest.skip("no zygote can start here (or COURSE_TEST_COLD=1): cold kernels")
    assert found.shared, "this worker started a zygote of its own"
    assert found.socket_path == os.environ[_warm.SOCKET_ENV]
    import torch

    threads = int(os.environ["OMP_NUM_THREADS"])
    if not _set_by_caller("OMP_NUM_THREADS"):
        workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
        assert threads == max(1, (os.cpu_count() or 1) // workers)
    assert torch.get_num_threads() == threads
