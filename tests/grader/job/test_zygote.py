"""grader.job.zygote: warm workers and kernels, and nothing carried from one notebook to the next."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import _warm
import nbformat
import pytest
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)

from grader._course import generate
from grader.job import feedback
from grader.job.zygote import Zygote, read_replies, send_request
from grader.sandbox import limits as sandbox

pytestmark = [pytest.mark.long(67), pytest.mark.warm(False)]

WARM = Zygote.available(sandbox.detect())
needs_warm = pytest.mark.skipif(not WARM, reason="warm starts need root and every namespace")

# Everything a notebook could leave behind in a process or on disk, done in an answer cell.
MUTATE = """
import builtins, os, sys, torch
builtins.LEAKED = "builtins"
torch.LEAKED = "a module's state"
sys.modules["leaked_module"] = type(sys)("leaked_module")
os.environ["LEAKED"] = "environment"
with open("/tmp/leaked", "w") as fh:
    fh.write("tmp")
with open("leaked_here", "w") as fh:
    fh.write("working folder")
"""
PROBE = """
import builtins, os, sys, torch
_seen = [what for what, there in [
    ("builtins", hasattr(builtins, "LEAKED")),
    ("module", hasattr(torch, "LEAKED")),
    ("sys.modules", "leaked_module" in sys.modules),
    ("environment", "LEAKED" in os.environ),
    ("tmp", os.path.exists("/tmp/leaked")),
    ("folder", os.path.exists("leaked_here")),
] if there]
print("SEEN", len(_seen), _seen, "FORKED", "nbgrader" in sys.modules)
"""


def test_a_warm_start_needs_every_namespace():
    assert not Zygote.available(sandbox.Isolation())
    assert not Zygote.available(sandbox.Isolation(network=True, pids=True))
    # Without an IPC namespace a forked worker would share the host's SysV IPC.
    assert not Zygote.available(sandbox.Isolation(network=True, pids=True, filesystem=True))


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="Linux only")
def test_a_user_with_its_own_user_namespace_starts_warm_too():
    mapped = ("unshare", "--map-root-user", "--net", "--pid", "--mount", "--ipc", "--fork")
    assert Zygote.available(sandbox.Isolation(True, True, True, prefix=mapped, ipc=True))


def test_sharing_a_zygote_refuses_a_socket_that_is_missing_not_a_socket_or_not_private(
    tmp_path,
):
    with pytest.raises(ValueError, match=r"COURSE_GRADE_ZYGOTE=.*no zygote socket there"):
        Zygote.attach(str(tmp_path / "missing.sock"))
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not a socket"):
        Zygote.attach(str(tmp_path / "file"))
    path = tmp_path / "open.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        path.chmod(0o666)
        with pytest.raises(ValueError, match="mode 0600, not uid .* mode 666"):
            Zygote.attach(str(path))
        path.chmod(0o600)
        with pytest.raises(ValueError, match="the zygote does not answer"):
            Zygote.attach(str(path))  # bound, nobody listening
        listener.listen(1)
        assert Zygote.attach(str(path)).shared


@needs_warm
def test_a_grading_run_told_of_a_missing_zygote_runs_cold_and_says_why(tmp_path, monkeypatch):
    from grader.classwork.engine import Engine
    from grader.job.zygote import SHARED_ENV

    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "gone.sock"))
    engine = Engine(
        tmp_path,
        tmp_path,
        tmp_path / "db",
        {},
        limits=sandbox.Limits(),
        isolation=sandbox.detect(),
        threads=1,
    )
    assert engine._warm_zygote() is None
    assert engine.describe().startswith("warm starts failed, every job starts cold: ")
    assert "no zygote socket there" in engine.describe()


@needs_warm
def test_the_zygote_stops_when_closed_and_refuses_nothing_it_was_not_asked(tmp_path):
    zygote = Zygote(tmp_path / "z", threads=1)
    zygote.start()
    try:
        assert Path(zygote.socket_path).exists()
        assert oct(Path(zygote.socket_path).stat().st_mode & 0o777) == "0o600"
        # A request it cannot parse costs only that connection: the zygote keeps serving.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(zygote.socket_path)
            conn.sendall(b"\x00\x00\x00\x02{")
            conn.shutdown(socket.SHUT_WR)
            assert list(read_replies(conn)) == []
        # A job that fails is reported with its exit status, and costs only itself.
        request = {"kind": "worker", "argv": ["/no/job"], "cwd": "/", "env": {}, "unshare": []}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn, open(os.devnull) as null:
            conn.connect(zygote.socket_path)
            send_request(conn, request, [null.fileno()] * 3)
            replies = list(read_replies(conn))
        assert "pid" in replies[0] and replies[-1] == {"exit": 1}
        assert zygote.process is not None and zygote.process.poll() is None
        # Another grading run shares it (COURSE_GRADE_ZYGOTE) and leaves it running.
        shared = Zygote.attach(zygote.socket_path)
        assert shared.shared and shared.socket_path == zygote.socket_path
        shared.close()
        assert zygote.process.poll() is None
        process = zygote.process
    finally:
        zygote.close()
    assert process.returncode == 0


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    course = fake_course.make(tmp_path_factory.mktemp("fake") / "course")
    scratch = generate(course, ["intro"], tmp_path_factory.mktemp("gen"))
    released = nbformat.read(scratch.release("intro") / "intro.ipynb", as_version=4)
    source = nbformat.read(course / "solutions" / "intro" / "intro.ipynb", as_version=4)
    return course, released, source


def _grade(course: Path, work, out: Path, warm: bool):
    from grader.classwork.engine import Grader

    with Grader(course, ["intro"], jobs=1, warm=warm) as grader:
        outcomes = grader.grade(work, out)
        return outcomes, grader.engine.describe()


@pytest.mark.slow
@needs_warm
def test_nothing_a_notebook_changes_reaches_the_next_one_forked_from_the_same_zygote(
    fake, tmp_path, monkeypatch
):
    course, released, source = fake
    # The test process's zygote, which other tests' notebooks may have used before.
    _warm.share_with_grading(monkeypatch)
    work = []
    for student, code in (("a_mutates", MUTATE + PROBE), ("b_probes", PROBE)):
        nb = corpus._insert_after_setup(corpus.answered(released, source), code)
        path = tmp_path / "subs" / student / "intro.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        work.append((student, "intro", path))
    outcomes, how = _grade(course, work, tmp_path / "out", warm=True)
    assert how.startswith("warm starts: workers and kernels forked"), how
    assert [o.score for o in outcomes] == [o.max_score for o in outcomes], outcomes

    def seen(student: str) -> str:
        page = (tmp_path / "out" / "feedback" / student / "intro.html").read_text()
        return next(
            line for line in feedback.visible_text(page).splitlines() if line.startswith("SEEN")
        )

    # The first notebook did change all six things, in its own (forked) kernel...
    assert seen("a_mutates").startswith("SEEN 6 ") and seen("a_mutates").endswith("FORKED True")
    # ...and the next kernel, forked from the same zygote after it, sees none of them.
    assert seen("b_probes") == "SEEN 0 [] FORKED True"

    cold, how = _grade(course, work, tmp_path / "cold", warm=False)
    assert how.startswith("cold starts"), how
    assert [(o.student, o.score, o.status) for o in cold] == [
        (o.student, o.score, o.status) for o in outcomes
    ]


def test_warm_up_compiles_in_memory_and_writes_nothing(tmp_path):
    """What the zygote does before it serves: no file written, no submission read."""
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "from grader.job import worker; worker.warm_up(); print('ok')"],
        cwd=home,
        env={**os.environ, "HOME": str(home), "MPLCONFIGDIR": str(home / ".mpl")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert list(home.rglob("*")) == []
