"""Measure a class on the course's JupyterHub; writes its own section of bench/RESULTS.md.

    sudo .venv/bin/python bench/hub.py [--students 20] [--keep-install]

As root (it creates accounts ``sthXXXXsN`` and deletes them with their homes afterwards):

- the shared install (``/opt/swap-the-head/venv``: the repository's venv copied with hard
  links, the course installed non-editable), rebuilt from scratch unless ``--keep-install``;
- the round trip for N students through nbgrader's exchange: ``course publish``, N students
  fetching and submitting at once (each hands in lesson 1 with every answer right),
  ``course collect``, ``course grade --jobs 2``, ``course return``;
- the memory (RSS) of one student's server and of its kernel after running all of lesson 1
  in it (through the server's kernel API, as Lab does), of the hub and its proxy, and so how
  many students one 24 GiB machine holds at once.

bench/run.py keeps this section when it rewrites the file.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import platform
import re
import secrets
import shutil
import sys
import time
import uuid
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from submissions import corpus  # noqa: E402

from grader.hub import deploy as hub  # noqa: E402

LESSON = "lesson1"
BEGIN, END = "<!-- begin: hub -->", "<!-- end: hub -->"
GIB = 2**30


def rss_of(uid: int) -> dict[int, tuple[str, int]]:
    """pid -> (command, RSS bytes) of every process of ``uid``."""
    found = {}
    for pid in hub._processes_of(uid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if match:
            found[pid] = (cmd, int(match.group(1)) * 1024)
    return found


def tree_rss(root_pid: int) -> int:
    """RSS of ``root_pid`` and its descendants that run as the same user: the hub and its
    proxy, not the users' servers and kernels it spawned (they run as the users)."""
    owner = Path(f"/proc/{root_pid}").stat().st_uid
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(re.search(r"^PPid:\s+(\d+)", (entry / "status").read_text(), re.M)[1])
            except (OSError, TypeError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            if Path(f"/proc/{pid}").stat().st_uid != owner:
                continue
            total += (
                int(
                    re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)[
                        1
                    ]
                )
                * 1024
            )
        except (OSError, TypeError):
            pass
        todo += children.get(pid, [])
    return total


async def run_in_kernel(dep: hub.Deployment, user: str, cells: list[str]) -> list[str]:
    """Start a kernel on ``user``'s server and run ``cells`` in it; returns error names."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    kernel = json.loads(hub_request(dep, user, "api/kernels", {"name": "python3"}))
    url = f"{dep.url.replace('http', 'ws')}/user/{user}/api/kernels/{kernel['id']}/channels"
    ws = await websocket_connect(
        HTTPRequest(url, headers={"Authorization": f"token {dep.api_token}"})
    )
    errors, session = [], uuid.uuid4().hex
    for code in cells:
        msg_id = uuid.uuid4().hex
        await ws.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "session": session,
                        "username": user,
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        while True:
            msg = json.loads(await ws.read_message())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                errors.append(msg["content"]["ename"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
    ws.close()
    return errors


def hub_request(dep: hub.Deployment, user: str, path: str, data: dict) -> bytes:
    request = hub.urllib.request.Request(
        f"{dep.url}/user/{user}/{path}",
        method="POST",
        data=json.dumps(data).encode(),
        headers={"Authorization": f"token {dep.api_token}", "Content-Type": "application/json"},
    )
    with hub.urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def course(dep: hub.Deployment, *args: str) -> float:
    """``course ARGS`` as the instructor; returns its seconds."""
    name = dep.instructors[0]
    start = time.monotonic()
    done = hub.as_user(
        name,
        dep.venv / "bin" / "course",
        *args,
        cwd=Path(hub.pwd.getpwnam(name).pw_dir) / "course",
        env={
            "PATH": f"{dep.venv / 'bin'}:/usr/bin:/bin",
            "JUPYTER_CONFIG_PATH": str(dep.config("instructor")),
        },
        check=False,
        timeout=3600,
    )
    if done.returncode:
        raise RuntimeError(f"course {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.monotonic() - start


def measure(students: int, fresh_install: bool) -> list[str]:
    if fresh_install:  # the interpreter copy and the venv, both from scratch
        shutil.rmtree(hub.PREFIX / "python", ignore_errors=True)
        (hub.PREFIX / "venv" / ".swap-the-head.json").unlink(missing_ok=True)
    install = hub.install_shared()
    size = sum(
        f.stat().st_size
        for f in (hub.PREFIX / "venv").rglob("*")
        if f.is_file() and not f.is_symlink()
    )
    prefix = f"sth{secrets.token_hex(2)}"
    dep = hub.Deployment(
        students=[f"{prefix}s{i}" for i in range(1, students + 1)],
        instructors=[f"{prefix}i"],
        dir=Path(f"/srv/{prefix}-bench"),
        port=hub.free_port(),
    )
    released = nbformat.read(ROOT / "notebooks" / LESSON / f"{LESSON}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    perfect = corpus.answered(released, source)
    t: dict[str, float] = {}
    log = Path(f"/tmp/{prefix}-jupyterhub.log")
    try:
        with hub.running(dep, log) as proc:
            hand_in = dep.dir / "perfect.ipynb"
            nbformat.write(copy.deepcopy(perfect), hand_in)
            hand_in.chmod(0o644)
            t["publish"] = course(dep, "publish", "1")
            start = time.monotonic()
            status = hub.simulate_students(dep, dep.students, LESSON, hand_in)
            t["fetch_submit"] = time.monotonic() - start
            if set(status.values()) != {0}:
                raise RuntimeError(f"students could not submit (see stderr): {status}")
            t["collect"] = course(dep, "collect", "1", "--out", "bench")
            t["grade"] = course(
                dep,
                "grade",
                "--submissions",
                "bench/submitted",
                "--out",
                "bench/graded",
                "--jobs",
                "2",
                "--lessons",
                "1",
            )
            t["return"] = course(
                dep, "return", "1", "--graded", "bench/graded", "--submitted", "bench/submitted"
            )
            grades = (
                (
                    Path(hub.pwd.getpwnam(dep.instructors[0]).pw_dir)
                    / "course"
                    / "bench"
                    / "graded"
                    / "grades.csv"
                )
                .read_text()
                .splitlines()[1:]
            )
            full = sum(1 for row in grades if float(row.split(",")[2]) == float(row.split(",")[3]))

            user = dep.students[0]
            uid = hub.pwd.getpwnam(user).pw_uid
            t["spawn"] = hub.spawn(dep, user)
            time.sleep(5)
            server_rss = sum(r for _, r in rss_of(uid).values())
            cells = [c.source for c in perfect.cells if c.cell_type == "code"]
            start = time.monotonic()
            errors = asyncio.run(run_in_kernel(dep, user, cells))
            t["lesson_in_kernel"] = time.monotonic() - start
            if errors:
                raise RuntimeError(f"lesson 1 failed in the student's kernel: {errors}")
            time.sleep(2)
            processes = rss_of(uid)
            student_rss = sum(r for _, r in processes.values())
            hub_rss = tree_rss(proc.pid)
    finally:
        shutil.rmtree(dep.dir, ignore_errors=True)
    round_trip = sum(t[k] for k in ("publish", "fetch_submit", "collect", "grade", "return"))
    per_machine = int((24 * GIB - hub_rss) // student_rss)
    mib = lambda b: f"{b / 2**20:.0f}"  # noqa: E731
    return [
        BEGIN,
        "## A class on JupyterHub (bench/hub.py)",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: "
        f"{platform.machine()}, {hub.os.cpu_count()} CPU cores (shared); command: "
        f"`sudo .venv/bin/python bench/hub.py --students {students}"
        f"{'' if fresh_install else ' --keep-install'}`",
        "",
        "| shared install (/opt/swap-the-head/venv) | |",
        "|---|---|",
        f"| copy of the interpreter and the repository's venv (hard links) | {install['copied_s']} s |",
        f"| `pip install .` of the course (non-editable) | {install['installed_s']} s |",
        f"| size (apparent, shared with .venv through hard links) | {size / GIB:.1f} GiB |",
        "",
        f"| round trip, {students} students, lesson 1 (all answers right) | seconds |",
        "|---|---|",
        f"| `course publish 1` | {t['publish']:.1f} |",
        f"| {students} students fetch and submit at once | {t['fetch_submit']:.1f} |",
        f"| `course collect 1` | {t['collect']:.1f} |",
        f"| `course grade --jobs 2` ({full}/{len(grades)} full marks) | {t['grade']:.1f} |",
        f"| `course return 1` | {t['return']:.1f} |",
        f"| **total** | **{round_trip:.1f}** |",
        "",
        "| memory (RSS) | MiB |",
        "|---|---|",
        f"| one student's server, idle (started in {t['spawn']:.0f} s) | {mib(server_rss)} |",
        f"| the same with a kernel that ran all of lesson 1 ({t['lesson_in_kernel']:.0f} s) "
        f"| {mib(student_rss)} |",
        f"| JupyterHub and its proxy | {mib(hub_rss)} |",
        f"| **students at once on 24 GiB** ((24 GiB - hub) / student) | **{per_machine}** |",
        "",
        END,
    ]


def write_section(lines: list[str], out: Path) -> None:
    """Replace this script's section of ``out`` (or append it), leaving the rest alone."""
    text = out.read_text() if out.exists() else "# Benchmarks\n"
    section = "\n".join(lines)
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    out.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument(
        "--keep-install",
        action="store_true",
        help="reuse /opt/swap-the-head/venv when up to date (no install timing)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    hub.require_root()
    lines = measure(args.students, not args.keep_install)
    print("\n".join(lines))
    write_section(lines, args.out)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
