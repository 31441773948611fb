"""Runners: where grading jobs run, on this machine or on a Dask distributed cluster.

A job grades one notebook in a sandboxed worker (``Engine.run``, see ``worker``)
and leaves a ``JobResult``; a job that leaves none (its Dask worker died on
every attempt, the runner failed) is a ``JobLost``. The grading loop
(``engine.Grader.grade``) hands its jobs to a runner and turns whatever
comes back into an outcome and a page, in one place; this module imports
nothing from it. ``course grade`` chooses the runner:

- ``LocalRunner(jobs)``: ``jobs`` sandboxed jobs at a time on this machine;
- ``DaskRunner(address)`` (``--scheduler tcp://HOST:PORT``): packs what every
  job of the run shares into a ``Bundle`` (the instructor's nbgrader config, the
  gradebook, each lesson's released notebook, files, secret lines and guard
  modules), sends it to the cluster once (as a task, which each worker fetches
  once), and submits one task per notebook with ``client.submit``. On the
  worker, ``run_job`` unpacks the bundle once per worker process into a
  temporary folder and runs the very same sandboxed job as a local run (an
  ``Engine``, with the isolation that machine allows). Only the job's result,
  feedback page and log come back.

When a Dask worker dies in the middle of a job, the scheduler runs the job
again on another worker (up to ``distributed.scheduler.allowed-failures``
times): the result then counts its ``attempts``. A notebook whose every
attempt kills its worker is a ``JobLost``; the rest of the class is graded as
usual.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from grader._course import CONFIG_FILE, SOURCE_DIR
from grader.job import feedback
from grader.job.zygote import SHARED_ENV, Zygote
from grader.sandbox import limits as sandbox
from grader.sandbox.lockdown import course_package

HIDE = (SOURCE_DIR, "tests", "grader", ".git")
TOPIC = "course-grade"  # the Dask event topic on which each attempt of a job is logged


@dataclass(frozen=True)
class Lesson:
    """What every job of one lesson shares."""

    name: str
    max_score: float
    released: Path
    extra_files: Path  # the lesson's non-notebook files (the kernel's working folder gets a copy)
    secrets: feedback.Secrets
    guard_modules: tuple[str, ...]


@dataclass
class JobResult:
    """What one sandboxed job left: the worker's ``result.json``, the feedback page, the log tail."""

    returncode: int | None
    timed_out: bool
    seconds: float
    result: dict | None
    page: str | None
    log: str
    attempts: int = 1  # how many times it was started (a lost Dask worker's job runs again)


@dataclass(frozen=True)
class JobLost:
    """A job that left no ``JobResult``: ``killed``, its worker died on each of ``attempts``; or
    the runner failed (``detail`` says how)."""

    killed: bool
    detail: str
    attempts: int = 1


@dataclass(frozen=True)
class Job:
    """One notebook to grade: ``index`` names its job folder; ``hide``: more folders to hide
    from its kernel (meaningful on this machine only)."""

    index: int
    student: str
    lesson: str
    text: str
    hide: tuple[str, ...] = ()


class Engine:
    """Runs grading jobs on this machine: one sandboxed worker per notebook, in ``workdir``.

    ``root`` holds the instructor's nbgrader config (``grader/nbgrader_config.py``);
    ``db`` is the gradebook every job starts from. ``course grade`` uses one in
    its own process, and each Dask worker builds one from a ``Bundle``.
    """

    def __init__(
        self,
        workdir: Path,
        root: Path,
        db: Path,
        lessons: dict[str, Lesson],
        *,
        limits: sandbox.Limits,
        isolation: sandbox.Isolation,
        threads: int,
        hide: tuple[Path, ...] = (),
        keep: Path | None = None,
        warm: bool = True,
    ) -> None:
        self.workdir, self.root, self.db, self.lessons = workdir, root, db, lessons
        self.limits, self.isolation, self.threads = limits, isolation, max(1, threads)
        self.hide, self.keep = hide, keep
        self.warm = warm and Zygote.available(isolation)
        self.zygote: Zygote | None = None
        self.warm_error = ""  # why warm starts were given up, if they were
        self.warm_seconds = 0.0  # how long the zygote took to start
        self._zygote_lock = threading.Lock()

    def _warm_zygote(self) -> Zygote | None:
        """The zygote that forks this engine's workers and kernels, started on first use.

        If it cannot start, jobs run cold (a fresh worker and kernel each) and
        ``warm_error`` says why.
        """
        with self._zygote_lock:
            if self.warm and self.zygote is None and not self.warm_error:
                if os.environ.get(SHARED_ENV):
                    try:
                        self.zygote = Zygote.attach(os.environ[SHARED_ENV])
                    except ValueError as exc:
                        self.warm_error = str(exc)
                    return self.zygote
                zygote = Zygote(self.workdir / "zygote", self.threads)
                started = time.monotonic()
                try:
                    zygote.start()
                    self.zygote = zygote
                    self.warm_seconds = time.monotonic() - started
                except (OSError, RuntimeError) as exc:
                    self.warm_error = str(exc)
            return self.zygote

    def close(self) -> None:
        """Stop the zygote, if one was started."""
        with self._zygote_lock:
            if self.zygote is not None:
                self.zygote.close()
                self.zygote = None

    def describe(self) -> str:
        """How jobs start: warm (forked from one process that imported everything) or cold."""
        if self.zygote is not None and self.zygote.shared:
            return (
                "warm starts: workers and kernels forked from the running zygote "
                f"{self.zygote.socket_path} ({SHARED_ENV})"
            )
        if self.zygote is not None:
            return (
                "warm starts: workers and kernels forked from one warm process "
                f"(ready in {self.warm_seconds:.1f} s)"
            )
        if self.warm_error:
            return f"warm starts failed, every job starts cold: {self.warm_error.splitlines()[0]}"
        if not self.warm:
            return "cold starts: a fresh worker and kernel per notebook"
        return "warm starts: on first job"

    def _hidden_paths(self, jobdir: Path, out_hidden: list[str]) -> list[str]:
        """Grader-only folders, other jobs, inputs and outputs.

        The kernel sees only an allow-list (see ``kernel.allowed_paths``), so
        these exist there only if they lie inside an allowed folder (the course
        inside a virtual environment, say): then they are covered.
        """
        paths = [self.root / p for p in HIDE] + [*map(Path, out_hidden), *self.hide]
        paths += [jobdir, self.db.parent, self.workdir / "jobs"]
        # Never hide a folder holding the kernel's own folder or the course package it imports.
        keep = (self.workdir / "scratch", Path(course_package()).parent)
        return [
            str(p)
            for p in dict.fromkeys(paths)
            if p.is_dir() and not any(k.is_relative_to(p) for k in keep)
        ]

    def _prepare(
        self,
        lesson: Lesson,
        student: str,
        text: str,
        jobdir: Path,
        out_hidden: list[str],
        zygote: Zygote | None,
    ) -> dict[str, str]:
        """Write the job folder; returns the worker's environment."""
        course = jobdir / "course"
        submitted = course / "submitted" / student / lesson.name
        submitted.mkdir(parents=True)
        (submitted / f"{lesson.name}.ipynb").write_text(text, encoding="utf-8")
        (course / "source" / lesson.name).mkdir(parents=True)
        shutil.copyfile(self.db, course / "gradebook.db")
        shutil.copyfile(lesson.released, jobdir / "released.ipynb")
        # The kernel's working folder: a copy of the lesson's other files, nothing else.
        scratch = self.workdir / "scratch" / jobdir.name
        shutil.copytree(
            lesson.extra_files,
            scratch,
            ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"),
        )
        (scratch / "tmp").mkdir()
        threads = str(self.threads)
        kernel_env = {
            "HOME": str(scratch),
            "TMPDIR": str(scratch / "tmp"),
            "MPLCONFIGDIR": str(scratch / ".matplotlib"),
            "XDG_CACHE_HOME": str(scratch / ".cache"),
            "IPYTHONDIR": str(scratch / ".ipython"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }
        spec = {
            **asdict(self.limits),
            "cwd": str(scratch),
            "env": kernel_env,
            "filesystem": self.isolation.filesystem,
            "allow": [],
            "hide": self._hidden_paths(jobdir, out_hidden),
            "zygote": zygote.socket_path if zygote else None,
        }
        (jobdir / "kernel-spec.json").write_text(json.dumps(spec))
        kernels = jobdir / "jupyter" / "kernels" / "python3"
        kernels.mkdir(parents=True)
        (kernels / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [
                        sys.executable,
                        "-m",
                        "grader.sandbox.launcher",
                        str(jobdir / "kernel-spec.json"),
                        "--",
                        "-f",
                        "{connection_file}",
                    ],
                    "display_name": "Python 3 (graded)",
                    "language": "python",
                }
            )
        )
        job = {
            "student": student,
            "lesson": lesson.name,
            "root": str(self.root),
            "network": self.isolation.network,
            "guard_modules": list(lesson.guard_modules),
            "limits": asdict(self.limits),
            "secrets": lesson.secrets.to_json(),
        }
        (jobdir / "job.json").write_text(json.dumps(job))
        for folder in ("home", "runtime", "config", "data"):
            (jobdir / folder).mkdir(mode=0o700)
        return {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
            "HOME": str(jobdir / "home"),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "JUPYTER_PATH": str(jobdir / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(jobdir / "runtime"),
            "JUPYTER_CONFIG_DIR": str(jobdir / "config"),
            "JUPYTER_DATA_DIR": str(jobdir / "data"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "TMPDIR": str(jobdir / "home"),
            "OMP_NUM_THREADS": threads,
        }

    def run(
        self,
        index: int,
        student: str,
        lesson_name: str,
        text: str,
        *,
        out_hidden: Sequence[str] = (),
    ) -> JobResult:
        """Grade the notebook ``text`` of ``student`` in a sandboxed worker; ``index`` names the job."""
        lesson = self.lessons[lesson_name]
        jobdir = self.workdir / "jobs" / f"{index:05d}"
        shutil.rmtree(jobdir, ignore_errors=True)  # a retried job starts clean
        shutil.rmtree(self.workdir / "scratch" / jobdir.name, ignore_errors=True)
        jobdir.mkdir(parents=True, mode=0o700)
        try:
            zygote = self._warm_zygote()
            env = self._prepare(lesson, student, text, jobdir, list(out_hidden), zygote)
            log = jobdir / "worker.log"
            if zygote is not None:
                run = zygote.run_worker(
                    jobdir,
                    env=env,
                    log=log,
                    timeout=self.limits.notebook_timeout,
                    isolation=self.isolation,
                )
            else:
                run = sandbox.run(
                    [sys.executable, "-m", "grader.job.worker", str(jobdir)],
                    cwd=jobdir,
                    env=env,
                    log=log,
                    timeout=self.limits.notebook_timeout,
                    isolation=self.isolation,
                )
            try:
                result = json.loads((jobdir / "result.json").read_text())
            except (OSError, ValueError):
                result = None
            page_path = jobdir / "feedback.html"
            page = page_path.read_text() if page_path.exists() else None
            return JobResult(
                run.returncode,
                run.timed_out,
                run.seconds,
                result,
                page,
                log.read_text(errors="replace")[-20000:],
            )
        finally:
            if self.keep is not None:  # for debugging the grader: the whole job, as it was left
                shutil.copytree(
                    jobdir, self.keep / student / lesson_name, dirs_exist_ok=True, symlinks=True
                )
            shutil.rmtree(jobdir, ignore_errors=True)
            shutil.rmtree(self.workdir / "scratch" / jobdir.name, ignore_errors=True)


class Runner(Protocol):
    """Runs jobs for the grading loop and yields each one's result as it comes."""

    def describe(self, engine: Engine) -> str:
        """Where and how the jobs run (printed after grading)."""
        ...

    def run(
        self, engine: Engine, jobs: Sequence[Job], say: Callable[[str], None]
    ) -> Iterator[tuple[Job, JobResult | JobLost]]:
        """Each job with what it left, in the order they finish."""
        ...


class LocalRunner:
    """``jobs`` sandboxed jobs at a time on this machine, each in a thread of this process."""

    def __init__(self, jobs: int) -> None:
        if not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
        self.jobs = jobs

    def describe(self, engine: Engine) -> str:
        return engine.describe()

    def run(
        self, engine: Engine, jobs: Sequence[Job], say: Callable[[str], None]
    ) -> Iterator[tuple[Job, JobResult | JobLost]]:
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = {
                pool.submit(
                    engine.run, job.index, job.student, job.lesson, job.text, out_hidden=job.hide
                ): job
                for job in jobs
            }
            for future in as_completed(futures):
                try:
                    got: JobResult | JobLost = future.result()
                except Exception as exc:  # noqa: BLE001 - one job's failure costs only its grade
                    got = JobLost(False, f"{type(exc).__name__}: {exc}")
                yield futures[future], got


class DaskRunner:
    """Jobs as tasks on the Dask scheduler at ``address`` (see the module docstring)."""

    def __init__(self, address: str) -> None:
        if importlib.util.find_spec("distributed") is None:
            raise ValueError(
                f"--scheduler {address} needs Dask: pip install "
                "'swap-the-head[dask]' (or pip install 'dask[distributed]')"
            )
        self.address = address

    def describe(self, engine: Engine) -> str:
        return f"graded on the Dask cluster at {self.address}"

    def run(
        self, engine: Engine, jobs: Sequence[Job], say: Callable[[str], None]
    ) -> Iterator[tuple[Job, JobResult | JobLost]]:
        from distributed import Client
        from distributed import as_completed as completed
        from distributed.scheduler import KilledWorker

        run = secrets.token_hex(6)
        with Client(self.address, timeout="60s") as client:
            for name, text in sorted(client.run(describe_isolation).items()):
                say(f"worker {name}: {text}")
            # A task, not scattered data: the scheduler keeps it and recomputes it when the
            # worker that held it dies, where scattered data would be lost with its worker.
            bundle = client.submit(
                _identity, make_bundle(engine), key=f"course-grade-bundle-{run}", pure=False
            )
            pending = {
                client.submit(
                    run_job,
                    bundle,
                    run,
                    job.index,
                    job.student,
                    job.lesson,
                    job.text,
                    key=f"course-grade-{run}-{job.index:05d}",
                    pure=False,
                ): job
                for job in jobs
            }
            for future in completed(pending):
                job = pending[future]
                tries = _attempts(client, run).get(job.index, 1)
                got: JobResult | JobLost
                try:
                    result: JobResult = future.result()
                    result.attempts = tries
                    got = result
                except KilledWorker:
                    got = JobLost(True, "its Dask worker died", tries)
                except Exception as exc:  # noqa: BLE001 - one job's failure costs only its grade
                    got = JobLost(False, f"the cluster failed ({type(exc).__name__}: {exc})")
                yield job, got


# --- the Dask runner's bundle and its side on the worker ---------------------------------


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


def make_bundle(engine: Engine) -> Bundle:
    """The bundle of what the jobs of ``engine`` share."""
    lessons = []
    for lesson in engine.lessons.values():
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
        (engine.root / CONFIG_FILE).read_text(),
        engine.db.read_bytes(),
        tuple(lessons),
        asdict(engine.limits),
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


def _attempts(client, run: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for _, msg in client.get_events(TOPIC):
        if isinstance(msg, dict) and msg.get("run") == run:
            counts[msg["index"]] = counts.get(msg["index"], 0) + 1
    return counts
