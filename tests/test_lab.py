"""`make lab` really starts JupyterLab with nbgrader (checked through the server's API)."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_lab_serves_the_course(tmp_path):
    port, token = _free_port(), "course-test-token"
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
    }
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        ["make", "lab", f"PORT={port}", "LAB_ARGS=--no-browser --ip=127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        status = None
        for _ in range(120):
            time.sleep(1)
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/status",
                    headers={"Authorization": f"token {token}"},
                )
                status = json.load(urllib.request.urlopen(req, timeout=5))
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "lab.log").read_text()
        assert status is not None and "started" in status, (tmp_path / "lab.log").read_text()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/contents/notebooks",
            headers={"Authorization": f"token {token}"},
        )
        listing = json.load(urllib.request.urlopen(req, timeout=10))
        assert any(item["name"].startswith("lesson") for item in listing["content"])
        ext = urllib.request.Request(
            f"http://127.0.0.1:{port}/formgrader", headers={"Authorization": f"token {token}"}
        )
        assert urllib.request.urlopen(ext, timeout=30).status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert token not in (tmp_path / "lab.log").read_text(), "the server log leaks the token"
