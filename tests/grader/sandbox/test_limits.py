"""A job's limits and running a process under them (``grader.sandbox.limits``)."""

from __future__ import annotations

import os
import sys
import time

import pytest
from _grade import running

from grader.sandbox import limits as sandbox

# --- limits and running a job ------------------------------------------------------


def test_detect_says_what_it_found():
    found = sandbox.detect()
    assert found.describe().startswith("isolation: ")
    assert bool(found.prefix) == (found.network or found.pids or found.filesystem)


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="memory_mb"):
        sandbox.Limits(memory_mb=0)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")
def test_run_kills_everything_a_job_started(tmp_path):
    naptime = "61.4242"  # a sleep nobody else runs
    code = (
        "import subprocess, time\n"
        f"subprocess.Popen(['sleep', '{naptime}'])\n"
        f"subprocess.Popen(['sleep', '{naptime}'], start_new_session=True)\n"
        "time.sleep(60)\n"
    )
    result = sandbox.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=dict(os.environ),
        log=tmp_path / "log",
        timeout=2,
        isolation=sandbox.Isolation(),
    )
    assert result.timed_out and result.returncode is None
    time.sleep(0.2)
    assert running(naptime) == []
