"""Start the course with the README's own `make lab`, on a free port, for tests."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_lab_config(config_dir: Path, lab_settings: dict | None = None) -> None:
    # CI containers often run as root; Lab refuses that unless told, and the README's
    # command line must stay as it is, so tell it through this private config dir.
    server = config_dir / "jupyter_server_config.json"
    server.parent.mkdir(parents=True, exist_ok=True)
    server.write_text(json.dumps({"ServerApp": {"allow_root": True}}))
    for plugin, values in (lab_settings or {}).items():
        path = config_dir / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextmanager
def make_lab(
    tmp_path: Path, lab_settings: dict | None = None, make_args: tuple[str, ...] = ()
) -> Iterator[tuple[int, str]]:
    """`make lab` from the repo root on a free port; yields (port, token).

    On exit it stops the server and checks that its log never shows the token."""
    port, token = _free_port(), secrets.token_hex(16)
    config_dir = tmp_path / "jupyter-config"
    _write_lab_config(config_dir, lab_settings)
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
    }
    log_path = tmp_path / "lab.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["make", "lab", f"PORT={port}", "LAB_ARGS=--no-browser --ip=127.0.0.1", *make_args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
        )
        for _ in range(120):
            assert proc.poll() is None, f"make lab exited early:\n{log_path.read_text()}"
            try:
                urllib.request.urlopen(status, timeout=5)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"JupyterLab did not answer in 120 s:\n{log_path.read_text()}")
        yield port, token
    finally:
        with suppress(ProcessLookupError):  # make may have exited already
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert token not in log_path.read_text(), "the server log leaks the token"
