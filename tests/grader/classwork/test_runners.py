"""``course grade --scheduler``: the same grading on a Dask cluster (a LocalCluster of 2 workers).

On the fake two-lesson course of tests/submissions/fake_course.py: the grades
are byte-identical to a local run; a worker killed in the middle of a job
loses nothing (the job runs again, and the run says so); a notebook that
kills its worker every time costs only its own grade.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import nbformat
import pytest
from _grade import grade_args
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)

from grader import cli
from grader._course import generate
from grader.sandbox import limits as sandbox

pytestmark = [pytest.mark.long(51), pytest.mark.warm]

try:
    import distributed
except ImportError:  # no dask extra: the tests on a cluster skip (the `cluster` fixture), a
    distributed = None  # test of the runners that needs none still runs


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fake_course.make(tmp_path_factory.mktemp("fake") / "course")


@pytest.fixture(scope="module")
def intro(course, tmp_path_factory):
    """(released, solution) of the fake intro lesson."""
    scratch = generate(course, ["intro"], tmp_path_factory.mktemp("gen"))
    return (
        nbformat.read(scratch.release("intro") / "intro.ipynb", as_version=4),
        nbformat.read(course / "solutions" / "intro" / "intro.ipynb", as_version=4),
    )


def _submission(intro, folder: Path, student: str, prefix: str = "") -> None:
    nb = corpus.answered(*intro)
    if prefix:
        nb.cells[2].source = prefix + "\n" + nb.cells[2].source
    path = folder / student / "intro.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


NO_ISOLATION = "course-test-no-isolation"


def _no_isolation():
    """A worker plugin: workers grade without namespaces, so that a notebook can reach (and
    kill) its worker. Built on call: its base class is Dask's, which may not be installed."""

    class NoIsolation(distributed.WorkerPlugin):
        name = NO_ISOLATION

        def setup(self, worker) -> None:
            self.detect = sandbox.detect
            sandbox.detect.cache_clear()
            sandbox.detect = lambda: sandbox.Isolation()

        def teardown(self, worker) -> None:
            sandbox.detect = self.detect

    return NoIsolation()


@pytest.fixture(scope="module")
def _local_cluster():
    if distributed is None:
        pytest.skip("needs Dask: pip install -e '.[dask]'")
    import dask

    # One task per worker at a time, one retry: a job that kills its worker fails fast.
    with dask.config.set(
        {
            "distributed.scheduler.allowed-failures": 1,
            "distributed.scheduler.worker-saturation": 1.0,
        }
    ):
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local:
            yield local


@pytest.fixture
def cluster(_local_cluster):
    """The module's LocalCluster with both workers up (a test may have killed one: its nanny
    starts another) and no worker plugin left over from an earlier test."""
    with distributed.Client(_local_cluster.scheduler_address) as client:
        client.wait_for_workers(2, timeout=120)
    yield _local_cluster
    with distributed.Client(_local_cluster.scheduler_address) as client:
        if NO_ISOLATION in client.run_on_scheduler(_worker_plugins):
            client.unregister_worker_plugin(NO_ISOLATION)


def _worker_plugins(dask_scheduler=None) -> list[str]:
    return list(dask_scheduler.worker_plugins)


def _grade(course: Path, subs: Path, out: Path, *extra: str) -> int:
    return cli.main(grade_args(course, out, *extra, submissions=subs))


@pytest.mark.slow
def test_cluster_grades_byte_identical_to_a_local_run(course, intro, cluster, tmp_path, capsys):
    subs = tmp_path / "subs"
    _submission(intro, subs, "ann")
    _submission(intro, subs, "ben", "raise RuntimeError('a bug')")
    (subs / "cat").mkdir()
    (subs / "cat" / "intro.ipynb").write_text("{ not json")
    assert _grade(course, subs, tmp_path / "local", "--jobs", "1") == 0
    assert _grade(course, subs, tmp_path / "dask", "--scheduler", cluster.scheduler_address) == 0
    printed = capsys.readouterr().out
    assert "on the Dask cluster at" in printed and "isolation: " in printed
    local = (tmp_path / "local" / "grades.csv").read_bytes()
    assert (tmp_path / "dask" / "grades.csv").read_bytes() == local
    assert local.decode().splitlines()[1:] == [
        "ann,intro,3,3,graded",
        "ben,intro,1,3,graded",
        "cat,intro,0,3,unreadable",
    ]
    assert (tmp_path / "dask" / "feedback" / "ben" / "intro.html").is_file()


def _wait_for_start(client, student_index: int, since: float, timeout: float = 120) -> str:
    """The address of the worker that started job ``student_index`` after ``since`` (an
    earlier test's run on the same cluster logged its own jobs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for when, msg in client.get_events("course-grade"):
            if when >= since and isinstance(msg, dict) and msg.get("index") == student_index:
                return msg["worker"]
        time.sleep(0.2)
    raise TimeoutError(f"job {student_index} never started")


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_no_submission(course, intro, cluster, tmp_path, capsys):
    subs = tmp_path / "subs"
    _submission(intro, subs, "ann", "import time\ntime.sleep(8)")  # job 0: long enough to kill
    _submission(intro, subs, "ben")
    codes = []
    run = threading.Thread(
        target=lambda: codes.append(
            _grade(course, subs, tmp_path / "out", "--scheduler", cluster.scheduler_address)
        )
    )
    with distributed.Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
        since = time.time()
        run.start()
        victim = _wait_for_start(client, 0, since)
        time.sleep(3)  # in the middle of the job: its kernel is running
        os.kill(pids[victim], signal.SIGKILL)
        run.join(timeout=600)
    assert codes == [0]
    printed = capsys.readouterr().out
    assert (tmp_path / "out" / "grades.csv").read_text().splitlines()[1:] == [
        "ann,intro,3,3,graded",
        "ben,intro,3,3,graded",
    ]
    assert "ann intro: retried: a Dask worker was lost while grading it" in printed


# Kills the Dask worker that runs this notebook's grading worker (possible without namespaces).
KILL_WORKER = (
    "import os, signal\n"
    "def _parent(pid):\n"
    "    return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
    "os.kill(_parent(os.getppid()), signal.SIGKILL)"
)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")
def test_a_notebook_that_kills_its_worker_costs_only_its_grade(
    course, intro, cluster, tmp_path, capsys
):
    subs = tmp_path / "subs"
    _submission(intro, subs, "ann")
    _submission(intro, subs, "eve", KILL_WORKER)
    _submission(intro, subs, "ben")
    with distributed.Client(cluster.scheduler_address) as client:
        client.register_plugin(_no_isolation())
    assert _grade(course, subs, tmp_path / "out", "--scheduler", cluster.scheduler_address) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "out" / "grades.csv").read_text().splitlines()[1:] == [
        "ann,intro,3,3,graded",
        "ben,intro,3,3,graded",
        "eve,intro,0,3,error",
    ]
    assert "eve intro: not graded: its Dask worker died" in printed
