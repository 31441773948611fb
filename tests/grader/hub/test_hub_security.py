"""Attacks of a dishonest student on the course's hub, each tried for real on a running hub
with real Linux accounts (grader.hub.deploy, hub/jupyterhub_config.py).

The hub serves from a course clone made at test time in /srv (a world-readable parent, as a
home folder or /opt is on most machines): start-up must refuse while students can read the
clone, name the exact command, and once that ran no student reads a solution notebook or a
git object. Then, on that hub: a classmate's kernel cannot be subscribed to, the students'
password does not log in as the instructor, and each student's server runs under memory and
process limits. Everything (accounts, homes, clone, cgroups, files) is removed afterwards,
also when a test fails. Needs root, useradd and npm; skips, saying why, without them.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from _hub import ROOT, UserKernel, course_clone, skip_without_accounts

from grader.hub import deploy as hub

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.long(50)]

MEMORY = 1 << 30  # per student on this test hub: small enough to exceed cheaply
PIDS = 256
DISK = 128 << 20
TMP = 64 << 20
EXCHANGE = 64 << 20  # per student


@pytest.fixture(scope="module")
def guarded_hub(tmp_path_factory):
    """A hub started from a world-readable clone: what a student could read before, the
    refusal, the fix it named (run here), then the running hub."""
    skip_without_accounts()
    hub.install_shared()
    prefix = f"sth{secrets.token_hex(2)}"
    clone = Path(f"/srv/{prefix}-clone")
    dep = hub.Deployment(
        students=[f"{prefix}s1", f"{prefix}s2"],
        instructors=[f"{prefix}i"],
        dir=Path(f"/srv/{prefix}-hub"),
        port=hub.free_port(),
        repo=clone,
        memory=MEMORY,
        pids=PIDS,
        disk=DISK,
        tmp=TMP,
        exchange_disk=EXCHANGE,
    )
    log = tmp_path_factory.mktemp("hub") / "jupyterhub.log"
    record: dict = {}
    try:
        course_clone(clone, 0o755)
        # What an instructor who graded in the clone has there: a gradebook and graded output.
        sqlite3.connect(clone / "grader" / "gradebook.db").close()
        graded = clone / "grader" / "autograded" / "someone" / "lesson1"
        graded.mkdir(parents=True)
        shutil.copy(clone / "solutions" / "lesson1" / "lesson1.ipynb", graded)
        hub.ensure_users(dep.users)
        hub.prepare(dep)
        # ... and in the instructor's course folder on the hub.
        teacher = hub.pwd.getpwnam(dep.instructors[0])
        grades = Path(teacher.pw_dir) / "course" / "class" / "graded" / "grades.csv"
        grades.parent.mkdir(parents=True)
        grades.write_text("student_id,score\n")
        subprocess.run(["chown", "-R", dep.instructors[0], grades.parents[1]], check=True)
        record["before"] = hub.probe(dep, dep.students[1])
        hub.save_deployment(dep)
        record["doctor"] = _doctor(dep)
        try:
            hub.check_start(dep)
            record["refusal"] = ""
        except hub.HubError as exc:
            record["refusal"] = str(exc)
        record["fixes"] = [
            line.strip()
            for line in record["refusal"].splitlines()
            if line.strip().startswith("chmod 700 ")
        ]
        for fix in record["fixes"]:
            subprocess.run(fix.split(), check=True)
        with hub.running(dep, log):
            yield dep, record
    finally:
        hub.teardown(dep)
        shutil.rmtree(clone, ignore_errors=True)
        print(f"hub log: {log}")


def _doctor(dep: hub.Deployment) -> subprocess.CompletedProcess:
    """`course doctor --hub` as the instructor would run it on the machine (as root)."""
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "course"), "doctor", "--hub", "--hub-dir", str(dep.dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _report(title: str, attempts: list[hub.Attempt]) -> None:
    print(f"{title}: {sum(a.readable for a in attempts)} of {len(attempts)} reads succeeded")
    for a in attempts:
        print(f"  {'READ  ' if a.readable else 'denied'} {a.what}: {a.target} [{a.detail}]")


@pytest.mark.timeout(600)
def test_start_refuses_until_no_student_reads_the_clone(guarded_hub):
    dep, record = guarded_hub
    thief = dep.students[1]
    before = record["before"]
    _report(f"before, as {thief}, clone {dep.repo} mode 0755 in /srv", before)
    read = {a.what for a in before if a.readable}
    # What the unchanged hub served: the clone's solutions and its whole git history.
    assert {"solution notebook", "git objects", "git history", "gradebook", "graded output"} <= read
    tried = {a.what for a in before}
    assert {"instructor's course folder", "graded output", "gradebook"} <= tried, tried
    assert f"chmod 700 {dep.repo}" in record["refusal"], record["refusal"]
    assert record["fixes"] == [f"chmod 700 {dep.repo}"], record["fixes"]

    after = hub.probe(dep, thief)  # the hub is running now
    _report(f"after, as {thief}, on the running hub", after)
    assert [a.target for a in after] == [a.target for a in before]
    assert not [a for a in after if a.readable]

    # The check an instructor runs on the live machine says the same, before and after.
    doctor, now = record["doctor"], _doctor(dep)
    print(doctor.stdout.splitlines()[-1], "->", now.stdout.splitlines()[-1])
    assert doctor.returncode == 1 and "READ " in doctor.stdout, doctor.stdout[-2000:]
    assert f"chmod 700 {dep.repo}" in doctor.stdout
    assert now.returncode == 0 and "READ " not in now.stdout, now.stdout[-2000:]
    assert f"as {dep.students[0]}: 0 of {len(after)} reads" in now.stdout  # its first student

    # From the student's own kernel on the hub, as they would try it.
    hub.spawn(dep, thief)
    kernel = UserKernel(dep, thief)
    try:
        notebook = dep.repo / "solutions" / "lesson1" / "lesson1.ipynb"
        out = kernel.run(
            "import subprocess\n"
            f"try:\n    open({str(notebook)!r}).read(10); print('notebook READ')\n"
            "except OSError as e:\n    print('notebook', type(e).__name__)\n"
            "r = subprocess.run(['git', '-c', 'safe.directory=*', '--git-dir', "
            f"{str(dep.repo / '.git')!r}, 'show', 'HEAD:solutions/lesson1/lesson1.ipynb'], "
            "capture_output=True, text=True)\n"
            "print('git', r.returncode, len(r.stdout))\n"
        )
    finally:
        kernel.close()
    print(f"from {thief}'s kernel: {out.strip()}")
    assert "notebook PermissionError" in out and "git 128 0" in out, out


_SUBSCRIBER = r"""
import json, os, subprocess, sys, time, zmq
ctx = zmq.Context()
tcp = [l.split()[3] for l in subprocess.run(["ss", "-ltnH"], capture_output=True,
       text=True).stdout.splitlines() if l.split()[3].startswith("127.0.0.1:")]
ipc = [l.split()[4] for l in subprocess.run(["ss", "-lxH"], capture_output=True,
       text=True).stdout.splitlines() if "kernel-" in l]
socks, seen = [], {}
for address in ["tcp://" + a for a in tcp] + ["ipc://" + p for p in ipc]:
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(address)
    socks.append(s)
for path in ipc:
    try:
        os.stat(path)
        seen[path] = "stat ok"
    except OSError as exc:
        seen[path] = exc.strerror
print("READY", flush=True)
received, deadline = [], time.monotonic() + float(sys.argv[1])
poller = zmq.Poller()
for s in socks:
    poller.register(s, zmq.POLLIN)
while time.monotonic() < deadline:
    for s, _ in poller.poll(200):
        received.append(b" ".join(s.recv_multipart()).decode("utf-8", "replace")[:2000])
print(json.dumps({"tcp": tcp, "ipc": seen, "received": received}))
"""


@pytest.mark.timeout(600)
def test_a_classmates_kernel_cannot_be_subscribed_to(guarded_hub):
    dep, _ = guarded_hub
    victim, thief = dep.students
    hub.spawn(dep, victim)
    kernel = UserKernel(dep, victim)
    try:
        runtime = kernel.connection_file.parent
        listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        own = [line for line in listening.splitlines() if f"pid={kernel.pid()}," in line]
        thief_cmd = [
            "runuser", "-u", thief, "--",
            str(dep.venv / "bin" / "python"), "-c", _SUBSCRIBER, "8",
        ]  # fmt: skip
        spy = subprocess.Popen(thief_cmd, stdout=subprocess.PIPE, text=True, cwd="/")
        assert spy.stdout is not None and spy.stdout.readline().strip() == "READY"
        marker = f"victim-secret-{secrets.token_hex(4)}"
        for _ in range(10):
            kernel.run(f"print({marker!r})")
            time.sleep(0.5)
        seen = json.loads(spy.communicate(timeout=60)[0].strip().splitlines()[-1])
    finally:
        kernel.close()
    got = [text for text in seen["received"] if marker in text]
    print(
        f"transport {kernel.connection['transport']}; the kernel listens on {len(own)} TCP "
        f"port(s); {thief} subscribed to {len(seen['tcp'])} TCP ports and {len(seen['ipc'])} "
        f"kernel sockets ({seen['ipc']}); received {len(seen['received'])} messages, "
        f"{len(got)} with the victim's output"
    )
    assert not got, got[:3]
    assert kernel.connection["transport"] == "ipc", kernel.connection
    assert seen["ipc"], "the victim's kernel sockets should be listed by ss -lx"
    assert runtime.stat().st_mode & 0o077 == 0, oct(runtime.stat().st_mode)
    # Shell, IOPub, stdin, control and heartbeat are Unix sockets; the one TCP listener left
    # is ipykernel's pipe for output of forked subprocesses (a PULL socket that drops every
    # message without the kernel's random 16-byte key: nothing to read from it).
    assert len(own) <= 1, own


def _login(dep: hub.Deployment, name: str, password: str) -> int:
    """The status of POST /hub/login (302: logged in; 403: refused)."""

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), Stay
    )
    page = opener.open(f"{dep.url}/hub/login", timeout=30).read().decode()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page)
    assert xsrf, page[:500]
    form = {"username": name, "password": password, "_xsrf": xsrf.group(1)}
    try:
        with opener.open(
            f"{dep.url}/hub/login", data=urllib.parse.urlencode(form).encode(), timeout=30
        ) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.timeout(300)
def test_the_students_password_does_not_log_in_as_the_instructor(guarded_hub):
    dep, _ = guarded_hub
    teacher, student = dep.instructors[0], dep.students[0]
    assert dep.instructor_password != dep.password
    seen = {
        "instructor with the students' password": _login(dep, teacher, dep.password),
        "instructor with their own": _login(dep, teacher, dep.instructor_password),
        "student with the students' password": _login(dep, student, dep.password),
        "student with the instructor's": _login(dep, student, dep.instructor_password),
    }
    print(seen)
    assert seen == {
        "instructor with the students' password": 403,
        "instructor with their own": 302,
        "student with the students' password": 302,
        "student with the instructor's": 403,
    }
    with pytest.raises(hub.HubError, match="students' password"):
        hub.instructor_password(dep, dep.password)


_ALLOCATE = (
    "import subprocess, sys\n"
    "r = subprocess.run([sys.executable, '-c', 'b = []\\n"
    "for i in range({chunks}):\\n    b.append(bytes([1]) * (64 << 20))\\n"
    "print(len(b) * 64)'], capture_output=True, text=True)\n"
    "print('memory', r.returncode, r.stdout.strip() or 0)\n"
)
_FORK = (
    "import subprocess, sys\n"
    "r = subprocess.run([sys.executable, '-c', '''\n"
    "import os, time\n"
    "kids = []\n"
    "for i in range({n}):\n"
    "    try:\n"
    "        pid = os.fork()\n"
    "    except OSError:\n"
    "        break\n"
    "    if pid == 0:\n"
    "        time.sleep(60)\n"
    "        os._exit(0)\n"
    "    kids.append(pid)\n"
    "print(len(kids))\n"
    "for k in kids:\n"
    "    os.kill(k, 9)\n"
    "    os.waitpid(k, 0)\n"
    "'''], capture_output=True, text=True)\n"
    "print('forked', r.stdout.strip())\n"
)


@pytest.mark.timeout(600)
def test_each_student_runs_under_memory_and_process_limits(guarded_hub):
    dep, _ = guarded_hub
    student = dep.students[0]
    hub.spawn(dep, student)
    kernel = UserKernel(dep, student)
    folders = hub.user_cgroups(student)
    try:
        groups = Path(f"/proc/{kernel.pid()}/cgroup").read_text()
        joined = [
            f.is_dir() and str(kernel.pid()) in (f / "cgroup.procs").read_text().split()
            for f in folders
        ]
        # 2 GiB asked for in 64 MiB pieces, each touched: killed at the 1 GiB limit.
        memory = kernel.run(_ALLOCATE.format(chunks=2 * 1024 // 64))
        forked = kernel.run(_FORK.format(n=2 * PIDS))
    finally:
        kernel.close()
    print(f"limits {MEMORY >> 20} MiB, {PIDS} tasks: {memory.strip()}; {forked.strip()}")
    print(f"kernel's cgroups: {groups.split()}")
    assert folders and all(joined), (folders, joined)
    assert groups.count(f"/{hub.CGROUP_NAME}/{student}\n") == len(folders), groups
    assert memory.split()[:2] == ["memory", "-9"], memory
    count = int(forked.split()[1])
    assert 0 < count < PIDS, forked
    hub.api(dep, "DELETE", f"/users/{student}/server")
    deadline = time.monotonic() + 60
    while any(f.exists() for f in folders) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(f.exists() for f in folders), "the student's cgroups outlived their server"


_FILL = """
import os
def fill(path, mib):
    written = 0
    try:
        with open(path, "wb") as fh:
            for _ in range(mib):
                fh.write(bytes([1]) * (1 << 20))
                fh.flush()
                written += 1
            os.fsync(fh.fileno())
    except OSError as exc:
        pass
    if os.path.exists(path):
        os.remove(path)
    return written
def allocate(path, size):
    try:
        with open(path, "wb") as fh:
            os.posix_fallocate(fh.fileno(), 0, size)
        return "allocated"
    except OSError as exc:
        return exc.strerror
    finally:
        if os.path.exists(path):
            os.remove(path)
own = "{inbound}/" + os.environ["USER"] + "+filler"
os.mkdir(own)
for name, path in (("home", os.path.expanduser("~/big")), ("tmp", "/tmp/big"),
                   ("shm", "/dev/shm/big"), ("exchange", own + "/big")):
    print(name, fill(path, {mib}), allocate(path, 1 << 30))
os.rmdir(own)
open("/tmp/{marker}", "w").close()
"""


@pytest.mark.timeout(600)
def test_each_student_writes_only_a_bounded_home_and_private_temporary_folders(guarded_hub):
    dep, _ = guarded_hub
    student = dep.students[0]
    home = Path(hub.pwd.getpwnam(student).pw_dir)
    hub.spawn(dep, student)
    kernel = UserKernel(dep, student)
    marker = f"sth-private-{secrets.token_hex(4)}"
    try:
        inbound = dep.exchange / dep.course_id / "inbound"
        out = kernel.run(_FILL.format(mib=400, marker=marker, inbound=inbound), timeout=300)
    finally:
        kernel.close()
    print(
        f"home {DISK >> 20} MiB, temporary {TMP >> 20} MiB each, exchange "
        f"{EXCHANGE * len(dep.students) >> 20} MiB; wrote (MiB), fallocate 1 GiB:"
    )
    print(out)
    seen = {line.split()[0]: line.split(None, 2)[1:] for line in out.splitlines() if line}
    assert os.path.ismount(home), f"{home} is not a file system of its own"
    exchange = EXCHANGE * len(dep.students)
    for name, limit in (("home", DISK), ("tmp", TMP), ("shm", TMP), ("exchange", exchange)):
        written, allocated = seen[name]
        assert 0 < int(written) <= limit >> 20, (name, written)
        assert allocated == "No space left on device", (name, allocated)
    assert not Path("/tmp", marker).exists(), "the student's /tmp is the machine's"
