"""The graded kernelspec's ``argv``: ``python -m grader.sandbox.launcher SPEC -- <ipykernel arguments>``.

nbclient starts it as a child of the worker. Cold, it locks itself down
(``lockdown.lock_down``) and ``exec``s ipykernel. Warm (the spec names a
zygote's socket), it asks that zygote (``grader.job.zygote``) for a kernel
forked from a process that imported everything once, and stays as the
kernel's stand-in for nbclient: it forwards signals and exits with the
kernel's status. The messages between the two (one request with file
descriptors, replies as JSON lines) are defined here, the lower of the two
sides, so the zygote imports them and nothing here imports the zygote.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys

from grader._libc import CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER
from grader.sandbox.lockdown import lock_down

# In the order a process joins them: its user namespace first, which owns the others.
NAMESPACES = (
    ("user", CLONE_NEWUSER),
    ("net", CLONE_NEWNET),
    ("ipc", CLONE_NEWIPC),
    ("mnt", CLONE_NEWNS),
    ("pid", CLONE_NEWPID),
)


# --- messages: one request (length-prefixed JSON, with file descriptors), replies as JSON lines ---


def send_request(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """Send ``request`` and pass ``fds`` (stdin, stdout, stderr, then any namespaces)."""
    body = json.dumps(request).encode()
    socket.send_fds(conn, [struct.pack("!I", len(body)) + body], fds)


def read_replies(conn: socket.socket):
    """Yield the JSON lines a nurse sends (``{"pid": n}``, then ``{"exit": code}``)."""
    buffer = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield json.loads(line)


# --- the kernel launcher's side ---


def stand_in(socket_path: str, spec_path: str | None, argv: list[str]) -> int:
    """Ask the zygote for a kernel; forward signals to it; return its exit code.

    With ``spec_path`` (grading) the kernel joins this process's namespaces and
    locks itself down as that spec says; without, it is a plain kernel in this
    process's folder and environment. Raises ``OSError`` if the zygote cannot be
    reached (the grading launcher then starts a cold kernel).
    """
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(socket_path)
    names = [name for name, _ in NAMESPACES] if spec_path else []
    spaces = [os.open(f"/proc/self/ns/{name}", os.O_RDONLY) for name in names]
    request = {
        "kind": "kernel",
        "spec": spec_path,
        "argv": argv,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "namespaces": names,
    }
    send_request(conn, request, [0, 1, 2, *spaces])
    for fd in spaces:
        os.close(fd)
    pid: int | None = None
    pending: list[int] = []

    def forward(signum: int, _frame) -> None:
        if pid is None:
            pending.append(signum)
            return
        try:
            os.killpg(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)
    code = 1
    for message in read_replies(conn):
        if "pid" in message:
            pid = message["pid"]
            for waiting in pending:
                forward(waiting, None)
        elif "exit" in message:
            code = message["exit"]
    if code < 0:  # died of a signal: so does its stand-in, for whoever waits on it
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def main(argv: list[str]) -> None:
    """``SPEC -- <ipykernel arguments>``: become the graded kernel, warm if the spec says so."""
    spec_path, rest = argv[0], list(argv[argv.index("--") + 1 :])
    with open(spec_path) as fh:
        warm = json.load(fh).get("zygote")
    if warm:  # a warm kernel, forked by the grader's zygote; this process stands in for it
        try:
            sys.exit(stand_in(warm, spec_path, rest))
        except (FileNotFoundError, ConnectionRefusedError) as exc:  # no zygote: start cold
            print(f"grading zygote unavailable ({exc}); starting a cold kernel", file=sys.stderr)
    rest = lock_down(spec_path, rest)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
