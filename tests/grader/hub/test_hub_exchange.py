"""Attacks of a dishonest student on the hub's exchange and on what a deleted account leaves,
with real Linux accounts (no running hub needed: the exchange is plain folders).

- a student who makes ``exchange/<course>`` first cannot block ``course publish``;
- a classmate cannot rename or replace a submission (sticky inbound, 0755 submission
  folders), and ``course collect`` refuses a notebook replaced inside nbgrader's own 0777
  folder and a submission that is a link to the instructor's solutions;
- ``remove-users`` (without the class size) leaves no file, IPC object or cgroup of a
  deleted uid.

Each test makes its accounts, clone and hub folder and removes them, also when it fails.
Needs root and useradd; skips, saying why, without them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from _hub import ROOT, course_clone, skip_without_accounts

from grader.hub import deploy as hub

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.long(90)]

LESSON = "lesson1"


@pytest.fixture(scope="module")
def shared_install():
    skip_without_accounts()
    return hub.install_shared()


@contextlib.contextmanager
def _class(students: int):
    """Accounts ``<prefix>s1..N`` and ``<prefix>i``, a private clone and a hub folder (not
    prepared); all removed on exit."""
    prefix = f"sth{secrets.token_hex(2)}"
    dep = hub.Deployment(
        students=[f"{prefix}s{i}" for i in range(1, students + 1)],
        instructors=[f"{prefix}i"],
        dir=Path(f"/srv/{prefix}-hub"),
        repo=Path(f"/srv/{prefix}-clone"),
    )
    try:
        course_clone(dep.repo, 0o700)
        hub.ensure_users(dep.users)
        yield dep
    finally:
        hub.teardown(dep)
        shutil.rmtree(dep.repo, ignore_errors=True)


def _home(name: str) -> Path:
    return Path(hub.pwd.getpwnam(name).pw_dir)


def instructor(dep: hub.Deployment, *args: str) -> subprocess.CompletedProcess:
    """`course ARGS` as the instructor in ~/course, with the hub's instructor config."""
    return hub.as_user(
        dep.instructors[0],
        dep.venv / "bin" / "course",
        *args,
        cwd=_home(dep.instructors[0]) / "course",
        env={
            "PATH": f"{dep.venv / 'bin'}:/usr/bin:/bin",
            "JUPYTER_CONFIG_PATH": str(dep.config("instructor")),
        },
        check=False,
    )


def student(dep: hub.Deployment, name: str, *cmd: str | Path, config: Path | None = None):
    """``cmd`` as ``name`` with the hub's student config (or ``config``)."""
    return hub.as_user(
        name,
        *cmd,
        env={
            "PATH": f"{dep.venv / 'bin'}:/usr/bin:/bin",
            "JUPYTER_CONFIG_PATH": str(config or dep.config("student")),
        },
        check=False,
    )


@pytest.mark.timeout(600)
def test_a_student_cannot_block_publish_by_making_the_course_folder(shared_install):
    with _class(1) as dep:
        thief = dep.students[0]
        course = dep.exchange / dep.course_id
        # Before: the exchange as the old set-up left it (1777, no course folder yet).
        hub.prepare(dep)
        shutil.rmtree(course)
        assert student(dep, thief, "mkdir", "-p", course / "inbound").returncode == 0
        before = instructor(dep, "publish", "1")
        print(f"before: publish exit {before.returncode}: {before.stdout.strip()[-200:]}")
        assert before.returncode != 0 and "own the directory" in before.stdout

        moved = hub.prepare(dep)  # what every `make hub` start does
        print(f"after: {moved}")
        assert len(moved) == 1 and str(course) in moved[0] and thief in moved[0]
        teacher = hub.pwd.getpwnam(dep.instructors[0]).pw_uid
        for rel, mode in hub.EXCHANGE_MODES.items():
            st = (course / rel).stat()
            assert (st.st_uid, st.st_mode & 0o7777) == (teacher, mode), (rel, oct(st.st_mode))
        (quarantine,) = dep.exchange.glob(".quarantine-*")
        assert quarantine.stat().st_mode & 0o7777 == 0o700 and quarantine.stat().st_uid == 0
        done = instructor(dep, "publish", "1")
        assert done.returncode == 0, done.stdout + done.stderr
        # The folder is there from the start, owned by the instructor: nothing to take over.
        for cmd in (
            ["mkdir", course / "outbound" / "forged"],
            ["mv", course, dep.exchange / "taken"],
            ["rm", "-rf", course / "outbound"],
        ):
            assert student(dep, thief, *cmd).returncode != 0, cmd


def _submit_folder(dep: hub.Deployment, name: str) -> Path:
    (folder,) = (dep.exchange / dep.course_id / "inbound").glob(f"{name}+{LESSON}+*")
    return folder


@pytest.mark.timeout(600)
def test_only_its_owner_changes_a_submission_and_collect_checks_every_file(shared_install):
    with _class(3) as dep:
        victim, plain, thief = dep.students
        hub.prepare(dep)
        assert instructor(dep, "publish", "1").returncode == 0
        inbound = dep.exchange / dep.course_id / "inbound"
        assert inbound.stat().st_mode & 0o1000, oct(inbound.stat().st_mode)
        # `plain` submits with nbgrader's own submit (folder 0777), as an old config would.
        bare = dep.dir / "plain-config"
        bare.mkdir()
        (bare / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.course_id = {dep.course_id!r}\n"
            f"c.Exchange.root = {str(dep.exchange)!r}\n"
        )
        for name, config in ((victim, None), (plain, bare), (thief, None)):
            for step in ("fetch_assignment", "submit"):
                done = student(dep, name, "nbgrader", step, LESSON, config=config)
                assert done.returncode == 0, done.stdout + done.stderr
        mine, theirs = _submit_folder(dep, victim), _submit_folder(dep, plain)
        assert mine.stat().st_mode & 0o777 == 0o755 and theirs.stat().st_mode & 0o777 == 0o777

        # The thief knows both folder names (leaked): rename, replace, write inside.
        forged = dep.dir / "forged.ipynb"
        nbformat.write(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("FORGED")]), forged
        )
        forged.chmod(0o644)
        tried = {}
        for label, folder in (("PrivateSubmit 0755", mine), ("nbgrader 0777", theirs)):
            notebook = folder / f"{LESSON}.ipynb"
            tried[label] = {
                "rename": student(dep, thief, "mv", folder, f"{folder}-gone").returncode == 0,
                "remove notebook": student(dep, thief, "rm", "-f", notebook).returncode == 0,
                "put own notebook": student(dep, thief, "cp", forged, notebook).returncode == 0,
            }
        print(f"as {thief}: {tried}")
        assert tried["PrivateSubmit 0755"] == dict.fromkeys(tried["PrivateSubmit 0755"], False)
        assert tried["nbgrader 0777"] == {
            "rename": False,  # sticky inbound
            "remove notebook": True,  # what nbgrader's 0777 folder allows
            "put own notebook": True,
        }
        # The thief's own submission: the notebook replaced by a link to the solutions.
        own = _submit_folder(dep, thief)
        solution = _home(dep.instructors[0]) / "course" / "solutions" / LESSON / f"{LESSON}.ipynb"
        assert student(dep, thief, "ln", "-sf", solution, own / f"{LESSON}.ipynb").returncode == 0

        done = instructor(dep, "collect", "1", "--out", "class")
        print(done.stdout)
        submitted = _home(dep.instructors[0]) / "course" / "class" / "submitted"
        collected = sorted(p.name for p in submitted.iterdir())
        assert collected == [victim], collected
        assert (
            f"{theirs.name}/{LESSON}.ipynb names {plain!r} but belongs to {thief!r}" in done.stdout
        )
        assert f"{own.name}/{LESSON}.ipynb is a symbolic link" in done.stdout
        text = (submitted / victim / LESSON / f"{LESSON}.ipynb").read_text()
        assert "FORGED" not in text and "BEGIN HIDDEN TESTS" not in text


_LEAVE_BEHIND = """
set -e
mkdir -p /tmp/torchinductor_$USER/cache && echo x > /tmp/torchinductor_$USER/cache/f
echo x > /tmp/{tag}-$USER && echo x > /var/tmp/{tag}-$USER && echo x > /dev/shm/{tag}-$USER
ipcmk -M 4096 >/dev/null
"""


def _owned(uids: set[int], roots: list[Path]) -> list[str]:
    found = []
    for root in roots:
        for top, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                with contextlib.suppress(FileNotFoundError):
                    if Path(top, name).lstat().st_uid in uids:
                        found.append(str(Path(top, name)))
    return found


def _ipc_of(uids: set[int]) -> int:
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()
    column = lines[0].split().index("uid")
    return sum(int(line.split()[column]) in uids for line in lines[1:])


@pytest.mark.timeout(600)
def test_remove_users_leaves_nothing_of_a_deleted_uid(shared_install):
    with _class(2) as dep:
        before_user, after_user = dep.students
        hub.prepare(dep)
        hub.save_deployment(dep)  # as `make hub` does when it starts
        assert instructor(dep, "publish", "1").returncode == 0
        uids = {hub.pwd.getpwnam(n).pw_uid for n in dep.users}
        tag = f"sth-left-{secrets.token_hex(3)}"
        for name in dep.students:
            for step in ("fetch_assignment", "submit"):
                assert student(dep, name, "nbgrader", step, LESSON).returncode == 0
            done = student(dep, name, "bash", "-c", _LEAVE_BEHIND.format(tag=tag))
            assert done.returncode == 0, done.stderr
        hub.limit_user(after_user, dep.memory, dep.pids)
        image = hub.ensure_disk(dep, after_user)  # a home of its own, as on a running hub
        home = Path(hub.pwd.getpwnam(after_user).pw_dir)
        assert os.path.ismount(home) and image.is_file()
        roots = [dep.dir, *hub.LEFTOVER_ROOTS]

        # Before: what `userdel -r` alone (the old remove-users) leaves of one student.
        uid = hub.pwd.getpwnam(before_user).pw_uid
        subprocess.run(["userdel", "-r", before_user], check=True, capture_output=True)
        left = _owned({uid}, roots)
        print(f"before, userdel -r {before_user}: {len(left)} files left, {_ipc_of({uid})} shm")
        print("  " + "\n  ".join(left))
        assert len(left) >= 5 and _ipc_of({uid}) == 1
        hub.remove_files_of({uid}, roots)
        hub.remove_ipc_of({uid})

        # After: the command, without the class size.
        done = subprocess.run(
            [sys.executable, "-m", "grader.hub.deploy", "remove-users", "--dir", str(dep.dir)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        print(done.stdout, done.stderr)
        assert (
            done.returncode == 0 and after_user in done.stdout and dep.instructors[0] in done.stdout
        )
        assert all(hub._account(n) is None for n in dep.users)
        left = _owned(uids, roots)
        print(f"after, remove-users: {len(left)} files left, {_ipc_of(uids)} shm")
        assert left == [] and _ipc_of(uids) == 0
        assert not any(f.exists() for f in hub.user_cgroups(after_user))
        assert not os.path.ismount(home) and not home.exists() and not image.exists()


@pytest.mark.timeout(600)
def test_the_instructors_plain_shell_uses_the_hubs_exchange(shared_install):
    """`sudo -u instructor -i` (here `runuser -l`): `course` is found and publishes to the
    class exchange, as in the instructor's Lab terminal."""
    shell = "cd ~/course && course publish 1"
    config = hub.PREFIX / "venv" / "etc" / "jupyter" / "nbgrader_config.py"
    had_link, had_config = hub.COMMAND_LINK.is_symlink(), config.exists()
    with _class(1) as dep:
        teacher = dep.instructors[0]
        hub.prepare(dep)
        outbound = dep.exchange / dep.course_id / "outbound" / LESSON
        written = []
        try:
            if not had_link:
                before = subprocess.run(
                    ["runuser", "-l", teacher, "-c", shell], capture_output=True, text=True
                )
                print(f"before: exit {before.returncode}: {before.stderr.strip()}")
                assert before.returncode == 127 and not outbound.exists()
            written = hub.install_commands(dep)
            after = subprocess.run(
                ["runuser", "-l", teacher, "-c", shell], capture_output=True, text=True
            )
            print(f"after: exit {after.returncode}: {after.stdout.strip()}")
            assert after.returncode == 0, after.stdout + after.stderr
            assert (outbound / f"{LESSON}.ipynb").is_file()
        finally:
            for path in written:
                if (path == hub.COMMAND_LINK and not had_link) or (
                    path == config and not had_config
                ):
                    path.unlink(missing_ok=True)


def test_first_login_workspace_opens_the_assignments_tab_once(tmp_path, monkeypatch):
    """The student's server config writes the Assignments-tab layout only when none is saved."""
    from jupyterlab_server.workspaces_handler import WorkspacesManager

    monkeypatch.setenv("JUPYTERLAB_WORKSPACES_DIR", str(tmp_path))
    exec(hub.FIRST_LOGIN_CONFIG, {})
    spaces = WorkspacesManager(str(tmp_path))
    first = spaces.load("default")["data"]
    assert first["layout-restorer:data"]["main"]["dock"]["widgets"] == [
        "nbgrader-assignment-list:nbgrader-assignment-list"
    ]
    saved = {"data": {"layout-restorer:data": {"main": {}}}, "metadata": {"id": "default"}}
    spaces.save("default", json.dumps(saved))  # the student's own layout, later
    exec(hub.FIRST_LOGIN_CONFIG, {})
    assert spaces.load("default")["data"] == saved["data"]
