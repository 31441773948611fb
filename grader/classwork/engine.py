"""Grade a class: one sandboxed job per submission, a few at a time, in a throwaway course.

``Grader`` generates every lesson once (gradebook, student version, secret
lines) into a private temporary folder, then grades each submission in a job
folder of its own (see ``worker``), with ``--jobs`` jobs in parallel. Only the
job's ``result.json`` and ``feedback.html`` are read back; the feedback is
checked again for grader-only text before it is written to the output folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from grader._course import SOURCE_DIR, generate
from grader.books.results import Outcome
from grader.classwork.intake import MAX_NOTEBOOK_BYTES
from grader.job import feedback
from grader.job.records import clean_records
from grader.job.zygote import SHARED_ENV, Zygote
from grader.sandbox import limits as sandbox
from grader.sandbox.lockdown import course_package

HIDE = (SOURCE_DIR, "tests", "grader", ".git")


@dataclass(frozen=True)
class Lesson:
    """What every job of one lesson shares."""

    name: str
    max_score: float
    released: Path
    extra_files: Path  # the lesson's non-notebook files (the kernel's working folder gets a copy)
    secrets: feedback.Secrets
    guard_modules: tuple[str, ...]


def guard_modules(lesson: str, released) -> list[str]:
    """The checker modules and what the read-only cells import: imported and snapshotted first."""
    from grader.job.execute import imported_modules

    names = ["course_utils.checks"]
    if importlib.util.find_spec(f"course_utils.checks.{lesson}") is not None:
        names.append(f"course_utils.checks.{lesson}")
    for cell in released.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("locked"):
            names += imported_modules(cell.source)
    return list(dict.fromkeys(names))


@dataclass
class JobResult:
    """What one sandboxed job left: the worker's ``result.json``, the feedback page, the log tail."""

    returncode: int | None
    timed_out: bool
    seconds: float
    result: dict | None
    page: str | None
    log: str


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


class Grader:
    """Grades submissions of ``lessons`` from the course at ``root``. Use as a context manager."""

    def __init__(
        self,
        root: Path,
        lessons: list[str],
        *,
        limits: sandbox.Limits | None = None,
        jobs: int = 1,
        isolation: sandbox.Isolation | None = None,
        hide: tuple[Path, ...] = (),
        keep: Path | None = None,
        warm: bool = True,
    ) -> None:
        if not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
        self.root = Path(root).resolve()
        self.lesson_names = list(lessons)
        self.limits = limits or sandbox.Limits()
        self.jobs = jobs
        self.isolation = isolation if isolation is not None else sandbox.detect()
        self.extra_hide = tuple(Path(p).resolve() for p in hide)
        self.keep = keep
        self.warm = warm
        self.lessons: dict[str, Lesson] = {}
        self._tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Grader:
        import nbformat
        from nbgrader.api import Gradebook

        self._tmp = tempfile.TemporaryDirectory(prefix="course-grade-")
        self.workdir = Path(self._tmp.name)
        os.chmod(self.workdir, 0o700)
        master = self.workdir / "master"
        master.mkdir(mode=0o700)
        scratch = generate(self.root, self.lesson_names, master)
        with Gradebook(f"sqlite:///{scratch.db_path}") as gb:
            max_scores = {name: gb.find_assignment(name).max_score for name in self.lesson_names}
        for name in self.lesson_names:
            released_path = scratch.release(name) / f"{name}.ipynb"
            released = nbformat.read(released_path, as_version=4)
            source = nbformat.read(self.root / SOURCE_DIR / name / f"{name}.ipynb", as_version=4)
            self.lessons[name] = Lesson(
                name,
                float(max_scores[name]),
                released_path,
                scratch.release(name),
                feedback.Secrets.from_notebooks(source, released),
                tuple(guard_modules(name, released)),
            )
        self._db = scratch.db_path
        self.engine = Engine(
            self.workdir,
            self.root,
            self._db,
            self.lessons,
            limits=self.limits,
            isolation=self.isolation,
            threads=(os.cpu_count() or 1) // self.jobs,
            hide=self.extra_hide,
            keep=self.keep,
            warm=self.warm,
        )
        return self

    def __exit__(self, *exc) -> None:
        if getattr(self, "engine", None) is not None:
            self.engine.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --- one job ---

    def grade_one(
        self, student: str, lesson_name: str, path: Path, out: Path, index: int
    ) -> tuple[Outcome, str | None, str]:
        """Grade one notebook; returns the outcome, the feedback page (or None) and the worker log."""
        lesson = self.lessons[lesson_name]
        outcome, nb, text = self.load(student, lesson_name, path)
        if nb is None:
            return outcome, self._plain(outcome, text), ""
        job = self.engine.run(index, student, lesson_name, text, out_hidden=[str(out.resolve())])
        page = self.read_back(outcome, lesson, nb, job)
        return outcome, page, job.log

    def load(self, student: str, lesson_name: str, path: Path):
        """(outcome, notebook, its text), or (outcome, None, why) for a file that is no notebook."""
        import nbformat

        lesson = self.lessons[lesson_name]
        outcome = Outcome(student, lesson_name, 0.0, lesson.max_score)
        try:
            if path.stat().st_size > MAX_NOTEBOOK_BYTES:
                raise ValueError(
                    f"{path.stat().st_size / 2**20:.0f} MiB is too large for a notebook"
                )
            text = path.read_text(encoding="utf-8")
            nb = nbformat.reads(text, as_version=4)
        except Exception as exc:  # noqa: BLE001 - any unreadable file scores 0 with a reason
            outcome.status = "unreadable"
            outcome.notes.append(f"not a readable notebook ({type(exc).__name__}: {exc})"[:300])
            return (
                outcome,
                None,
                (f"Your file could not be read as a Jupyter notebook: {exc}. Nothing was graded."),
            )
        return outcome, nb, nbformat.writes(nb)

    def _plain(self, outcome: Outcome, reason: str) -> str:
        return feedback.fallback_page(
            outcome.student, outcome.lesson, outcome.score, outcome.max_score, reason
        )

    def read_back(self, outcome: Outcome, lesson: Lesson, nb, job: JobResult) -> str:
        """Fill ``outcome`` from what the job left; returns the page to hand back."""
        outcome.seconds = job.seconds
        # Until the worker finishes, its result.json says which cell runs (None: no cell).
        progress = job.result if job.result and "running" in job.result else None
        if job.timed_out:
            outcome.status = "timeout"
            limit = self.limits.notebook_timeout
            running = (progress or {}).get("running")
            if running:
                outcome.notes.append(f"stopped after {limit} s in {running['label']}")
                why = (
                    f"Grading stopped after {limit} s, the limit for one notebook, while "
                    f"{running['label']} was running. Make that cell finish quickly (no "
                    "endless loops) and ask your instructor to grade it again."
                )
            else:
                outcome.notes.append(f"stopped after {limit} s, while no cell was running")
                why = (
                    f"Grading stopped after {limit} s, the limit for one notebook, while "
                    "no cell of yours was running. Your instructor will look at it."
                )
            return self._plain(outcome, why)
        result = (None if progress else job.result) or {
            "ok": False,
            "error": f"the grader exited with code {job.returncode} and no result",
        }
        if not result.get("ok"):
            outcome.status = "error"
            last = str(result.get("error", "")).strip().splitlines()[-1:] or ["unknown error"]
            outcome.notes.append(f"not graded: {last[0][:300]}")
            return self._plain(
                outcome,
                "The autograder could not grade this notebook (is it the "
                "lesson notebook, saved from Jupyter?). Your instructor will look "
                "at it.",
            )
        outcome.score = min(max(float(result["score"]), 0.0), lesson.max_score)
        outcome.cells = clean_records(result.get("cells"))
        for incident in result.get("incidents", []):
            kind, detail = incident["kind"], incident["detail"]
            where = incident.get("grade_id") or f"cell {incident['cell']}"
            if kind == "integrity":
                outcome.status = "flagged"
            outcome.notes.append(f"{kind} at {where}: {detail}"[:300])
        page = job.page
        if outcome.status == "flagged":
            # What the notebook's own cells printed may carry what it copied while the tests ran.
            outcome.notes.append("feedback withheld until review: the notebook is flagged")
            return self._plain(
                outcome,
                "Your notebook was graded; its detailed feedback is withheld until your "
                "instructor reviews it, because it changed how the grader runs its tests.",
            )
        if page is None:
            outcome.notes.append("feedback: nbgrader could not render it; a plain page was written")
            return self._plain(
                outcome, "Your notebook was graded; the detailed feedback could not be rendered."
            )
        secret = lesson.secrets.excluding(feedback.student_text(nb))
        leaked = feedback.leaks(page, secret)
        if leaked:
            outcome.status = "flagged"
            outcome.notes.append(f"feedback withheld: it quoted {len(leaked)} grader-only line(s)")
            return self._plain(
                outcome,
                "Your notebook was graded; its detailed feedback is "
                "withheld because it quoted grader-only text.",
            )
        return page

    # --- a class ---

    def grade(
        self,
        work: list[tuple[str, str, Path]],
        out: Path,
        progress: Callable[[int, int, Outcome], None] | None = None,
        *,
        scheduler: str | None = None,
        say: Callable[[str], None] = print,
    ) -> list[Outcome]:
        """Grade ``work`` (student, lesson, notebook path); write feedback and logs under ``out``.

        ``scheduler``: the address of a Dask scheduler (``tcp://HOST:PORT``) to
        send the jobs to (see ``cluster``) instead of ``jobs`` local workers.
        Outcomes come back in the order of ``work``.
        """
        out.mkdir(parents=True, exist_ok=True)  # exists from the first job on, so it is hidden
        done: dict[int, Outcome] = {}
        lock = threading.Lock()

        def finish(
            index: int, item: tuple[str, str, Path], outcome: Outcome, page: str | None, log: str
        ) -> Outcome:
            student, lesson, _ = item
            if page is not None:
                target = out / "feedback" / student / f"{lesson}.html"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(page)
            if log:
                target = out / "logs" / student / f"{lesson}.log"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(log)
            with lock:
                done[index] = outcome
                if progress:
                    progress(len(done), len(work), outcome)
            return outcome

        if scheduler:
            from grader.classwork.runners import grade_on_cluster

            grade_on_cluster(self, work, scheduler, finish, say)
            return [done[i] for i in range(len(work))]

        def one(index: int, item: tuple[str, str, Path]) -> Outcome:
            return finish(index, item, *self.grade_one(*item, out=out, index=index))

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            return list(pool.map(one, range(len(work)), work))
