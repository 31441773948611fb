"""Shared by the hub tests: a course clone made at test time, requests to a user's server,
code run in a user's own kernel, and the reasons a hub test skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from grader.hub import deploy as hub

ROOT = Path(__file__).resolve().parents[1]


def skip_without_accounts() -> None:
    """Skip, saying why, where real accounts or the proxy cannot be had."""
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("the hub test needs useradd/userdel (package passwd) to make real accounts")
    if os.geteuid() != 0:
        pytest.skip("the hub test creates Linux accounts and spawns servers as them: run as root")
    if shutil.which("npm") is None:
        pytest.skip("the hub test needs node >= 20 and npm for configurable-http-proxy")
    if not (ROOT / "hub" / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        done = subprocess.run(
            [str(ROOT / ".ci" / "install-hub.sh")], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f".ci/install-hub.sh failed:\n{done.stdout}{done.stderr}"


def course_clone(path: Path, mode: int) -> Path:
    """A clone of the course at ``path`` (folder mode ``mode``): the files the hub copies to
    the instructor, as in this checkout, committed to its own git history."""
    path.mkdir()
    path.chmod(mode)
    for rel in hub.COURSE_FILES:
        src, dest = ROOT / rel, path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(src, dest)
    git = ["git", "-c", "user.name=course", "-c", "user.email=course@example.org", "-C", str(path)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "course"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return path


def server_get(dep: hub.Deployment, user: str, path: str, timeout: float = 60) -> bytes:
    """GET ``/user/<user>/<path>`` on that user's server, with the service token."""
    request = urllib.request.Request(
        f"{dep.url}/user/{user}/{path.lstrip('/')}",
        headers={"Authorization": f"token {dep.api_token}"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def server_request(
    dep: hub.Deployment, user: str, method: str, path: str, data: dict | None = None
) -> dict:
    """``method /user/<user>/<path>`` on that user's server with the service token (JSON)."""
    request = urllib.request.Request(
        f"{dep.url}/user/{user}/{path.lstrip('/')}",
        method=method,
        data=None if data is None else json.dumps(data).encode(),
        headers={"Authorization": f"token {dep.api_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
    return json.loads(body) if body else {}


class UserKernel:
    """A kernel started by ``user``'s own server (REST API), driven from here as root through
    its connection file (root may open the user's private sockets; nobody else may)."""

    def __init__(self, dep: hub.Deployment, user: str) -> None:
        from jupyter_client import BlockingKernelClient

        self.dep, self.user = dep, user
        self.id = server_request(dep, user, "POST", "api/kernels", {"name": "python3"})["id"]
        home = Path(hub.pwd.getpwnam(user).pw_dir)
        self.connection_file = home / ".jupyter-runtime" / f"kernel-{self.id}.json"
        deadline = time.monotonic() + 120
        while not self.connection_file.is_file():
            assert time.monotonic() < deadline, f"no {self.connection_file}"
            time.sleep(0.2)
        self.connection = json.loads(self.connection_file.read_text())
        self.client = BlockingKernelClient(connection_file=str(self.connection_file))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 120) -> str:
        """Run ``code`` in the kernel; its stdout and stderr text, and any error."""
        out: list[str] = []

        def hook(msg: dict) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(content["text"])
            elif msg["msg_type"] == "error":
                out.append(f"{content['ename']}: {content['evalue']}")

        self.client.execute_interactive(code, timeout=timeout, output_hook=hook)
        return "".join(out)

    def pid(self) -> int:
        """The kernel's process id (its connection file is on its command line)."""
        for pid in hub._processes_of(hub.pwd.getpwnam(self.user).pw_uid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if str(self.connection_file).encode() in cmdline:
                return pid
        raise AssertionError(f"no process of {self.user} runs {self.connection_file}")

    def close(self) -> None:
        self.client.stop_channels()
        try:
            server_request(self.dep, self.user, "DELETE", f"api/kernels/{self.id}")
        except OSError:
            pass
