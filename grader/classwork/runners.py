"""Grade on a Dask distributed cluster: ``course grade --scheduler tcp://HOST:PORT``.

The client (``grade_on_cluster``) packs what every job of the run shares into
a ``Bundle`` (the instructor's nbgrader config, the gradebook, each lesson's
released notebook, files, secret lines and guard modules), sends it to the
cluster once (as a task, which each worker fetches once), and submits one
task per notebook. On the worker, ``run_job`` unpacks the bundle once per
worker process into a temporary folder and runs the very same sandboxed job
as a local run (``autograde.Engine``, with the isolation that machine
allows). Only the job's result, feedback page and log
come back; the client scores them and checks the page for grader-only text,
exactly as for a local job.

When a worker dies in the middle of a job, the scheduler runs the job again
on another worker (up to ``distributed.scheduler.allowed-failures`` times):
the outcome then carries a ``retried`` note. A notebook whose every attempt
kills its worker scores 0 with an ``error`` note; the rest of the class is
graded as usual.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import secrets
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from grader._course import CONFIG_FILE
from grader.books.results import Outcome
from grader.classwork.engine import Engine, Grader, JobResult, Lesson
from grader.job import feedback
from grader.sandbox import limits as sandbox

TOPIC = "course-grade"  # the Dask event topic on which each attempt of a job is logged


@dataclass(frozen=True)
class LessonFiles:
    name: str
    max_score: float
    released: bytes
    files: dict[str, bytes]  # the lesson's other files, by relative path
    secrets: dict[str, list[str]]  # feedback.Secrets.to_json()
    guard_modules: tuple[str, ...]


@dataclass(frozen=True)
class Bundle:
    """Everything the jobs of one run share, as bytes: sent to each worker once."""

    config: str
    db: bytes
    lessons: tuple[LessonFiles, ...]
    limits: dict
    digest: str = ""  # of the rest: names the unpacked copy on each worker


def _digest(*parts: object) -> str:
    return hashlib.sha256(pickle.dumps(parts)).hexdigest()


def make_bundle(grader: Grader) -> Bundle:
    """The bundle of an entered ``Grader``."""
    lessons = []
    for lesson in grader.lessons.values():
        files = {
            str(p.relative_to(lesson.extra_files)): p.read_bytes()
            for p in sorted(lesson.extra_files.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts
        }
        lessons.append(
            LessonFiles(
                lesson.name,
                lesson.max_score,
                lesson.released.read_bytes(),
                files,
                lesson.secrets.to_json(),
                lesson.guard_modules,
            )
        )
    parts = (
        (grader.root / CONFIG_FILE).read_text(),
        grader.engine.db.read_bytes(),
        tuple(lessons),
        asdict(grader.limits),
    )
    return Bundle(*parts, digest=_digest(*parts))


# --- on the worker ----------------------------------------------------------------------

_engines: dict[str, tuple[tempfile.TemporaryDirectory, Engine]] = {}
_engines_lock = threading.Lock()


def _worker_threads() -> int:
    """Tasks this Dask worker runs at once (1 outside a worker)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return 1
    return int(getattr(getattr(worker, "state", worker), "nthreads", 1) or 1)


def _scratch_root() -> str | None:
    """The Dask worker's own folder, which Dask purges should the worker die; None outside one.

    A worker killed with SIGKILL never runs its finalisers: its engine's folder
    must not be left in ``/tmp`` for good.
    """
    try:
        from distributed import get_worker

        return str(get_worker().local_directory)
    except (ImportError, ValueError, AttributeError):
        return None


def engine_for(bundle: Bundle) -> Engine:
    """This process's engine for ``bundle``, unpacked on first use (kept until the process ends)."""
    digest = bundle.digest
    with _engines_lock:
        if digest in _engines:
            return _engines[digest][1]
        tmp = tempfile.TemporaryDirectory(prefix="course-grade-worker-", dir=_scratch_root())
        workdir = Path(tmp.name)
        os.chmod(workdir, 0o700)
        root, master = workdir / "root", workdir / "master"
        (root / CONFIG_FILE).parent.mkdir(parents=True)
        (root / CONFIG_FILE).write_text(bundle.config)
        master.mkdir(mode=0o700)
        (master / "gradebook.db").write_bytes(bundle.db)
        lessons = {}
        for item in bundle.lessons:
            folder = master / "release" / item.name
            folder.mkdir(parents=True)
            for relative, data in item.files.items():
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                (folder / relative).write_bytes(data)
            released = folder / f"{item.name}.ipynb"
            released.write_bytes(item.released)
            lessons[item.name] = Lesson(
                item.name,
                item.max_score,
                released,
                folder,
                feedback.Secrets.from_json(item.secrets),
                item.guard_modules,
            )
        threads = (os.cpu_count() or 1) // _worker_threads()
        engine = Engine(
            workdir,
            root,
            master / "gradebook.db",
            lessons,
            limits=sandbox.Limits(**bundle.limits),
            isolation=sandbox.detect(),
            threads=threads,
        )
        _engines[digest] = (tmp, engine)
        return engine


def run_job(
    bundle: Bundle, run: str, index: int, student: str, lesson: str, text: str
) -> JobResult:
    """One job on a Dask worker (each attempt is logged on ``TOPIC``)."""
    from distributed import get_worker

    worker = get_worker()
    worker.log_event(TOPIC, {"run": run, "index": index, "worker": worker.address})
    return engine_for(bundle).run(index, student, lesson, text)


def _identity(value: object) -> object:
    return value


def describe_isolation() -> str:
    return sandbox.detect().describe()


# --- on the client ----------------------------------------------------------------------


def _attempts(client, run: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for _, msg in client.get_events(TOPIC):
        if isinstance(msg, dict) and msg.get("run") == run:
            counts[msg["index"]] = counts.get(msg["index"], 0) + 1
    return counts


def grade_on_cluster(
    grader: Grader,
    work: list[tuple[str, str, Path]],
    address: str,
    finish: Callable[[int, tuple[str, str, Path], Outcome, str | None, str], object],
    say: Callable[[str], None] = print,
) -> None:
    """Grade ``work`` on the Dask scheduler at ``address``; ``finish`` each outcome as it comes."""
    from distributed import Client, as_completed
    from distributed.scheduler import KilledWorker

    run = secrets.token_hex(6)
    with Client(address, timeout="60s") as client:
        workers = client.run(describe_isolation)
        for name, text in sorted(workers.items()):
            say(f"worker {name}: {text}")
        # A task, not scattered data: the scheduler keeps it and recomputes it when the worker
        # that held it dies, where scattered data would be lost with its worker.
        bundle = client.submit(
            _identity, make_bundle(grader), key=f"course-grade-bundle-{run}", pure=False
        )
        pending = {}
        for index, item in enumerate(work):
            student, lesson, path = item
            outcome, nb, text = grader.load(student, lesson, path)
            if nb is None:
                finish(index, item, outcome, grader._plain(outcome, text), "")
                continue
            future = client.submit(
                run_job,
                bundle,
                run,
                index,
                student,
                lesson,
                text,
                key=f"course-grade-{run}-{index:05d}",
                pure=False,
            )
            pending[future] = (index, item, outcome, nb)
        for future in as_completed(pending):
            index, item, outcome, nb = pending[future]
            graded = grader.lessons[item[1]]
            tries = _attempts(client, run).get(index, 1)
            try:
                job = future.result()
            except KilledWorker:
                outcome.status = "error"
                outcome.notes.append(
                    f"not graded: its Dask worker died on each of {tries} "
                    "attempts (does the notebook crash or exhaust its worker?)"
                )
                page = grader._plain(
                    outcome,
                    "The autograder could not grade this notebook: it "
                    "stopped the grading machine each time. Your instructor "
                    "will look at it.",
                )
                finish(index, item, outcome, page, "")
                continue
            except Exception as exc:  # noqa: BLE001 - one job's failure costs only its grade
                outcome.status = "error"
                outcome.notes.append(
                    f"not graded: the cluster failed ({type(exc).__name__}: {exc})"[:300]
                )
                finish(
                    index,
                    item,
                    outcome,
                    grader._plain(
                        outcome,
                        "The autograder could not grade this notebook. Your instructor "
                        "will look at it.",
                    ),
                    "",
                )
                continue
            page = grader.read_back(outcome, graded, nb, job)
            if tries > 1:
                outcome.notes.append(
                    f"retried: a Dask worker was lost while grading it; graded on attempt {tries}"
                )
            finish(index, item, outcome, page, job.log)
