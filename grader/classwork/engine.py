"""Grade a class: one grading loop over a runner, in a throwaway course.

``Grader`` generates every lesson once (gradebook, student version, secret
lines) into a private temporary folder. ``Grader.grade`` reads each
submission once, hands the notebooks to a runner (``runners.LocalRunner``:
``--jobs`` sandboxed jobs on this machine; ``runners.DaskRunner``: a Dask
cluster) and turns what each job left, or that it left nothing, into an
outcome and the page to hand back in one place (``Grader.conclude``). Only
the job's ``result.json`` and ``feedback.html`` are read back; the feedback
is checked again for grader-only text before it is written to the output
folder.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader._course import SOURCE_DIR, generate
from grader.books.results import Outcome
from grader.classwork.intake import MAX_NOTEBOOK_BYTES, Found
from grader.classwork.runners import Engine, Job, JobLost, JobResult, Lesson, LocalRunner, Runner
from grader.job import feedback
from grader.job.records import clean_records
from grader.sandbox import limits as sandbox

__all__ = ["Engine", "Grader", "JobLost", "JobResult", "Lesson", "Loaded", "guard_modules"]


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
class Loaded:
    """One submission through the grading loop: what was submitted, its outcome so far, and
    its notebook (``nb`` ``None``: not a notebook, and ``text`` says why; else its text)."""

    submission: Found
    outcome: Outcome
    nb: Any
    text: str


def as_submission(item: Found | tuple[str, str, Path]) -> Found:
    """A ``layout.Found``, or one made of a (student, lesson, notebook path) triple."""
    if isinstance(item, Found):
        return item
    student, lesson, path = item
    return Found(student, lesson, Path(path), origin="")


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

    # --- the grading loop ---

    def load(self, submission: Found) -> Loaded:
        """Read a submission once: its notebook and text, or why it is no notebook."""
        import nbformat

        lesson = self.lessons[submission.lesson]
        outcome = Outcome(submission.student, submission.lesson, 0.0, lesson.max_score)
        outcome.source = submission
        path = submission.path
        try:
            if path.stat().st_size > MAX_NOTEBOOK_BYTES:
                raise ValueError(
                    f"{path.stat().st_size / 2**20:.0f} MiB is too large for a notebook"
                )
            nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        except Exception as exc:  # noqa: BLE001 - any unreadable file scores 0 with a reason
            outcome.status = "unreadable"
            outcome.notes.append(f"not a readable notebook ({type(exc).__name__}: {exc})"[:300])
            why = f"Your file could not be read as a Jupyter notebook: {exc}. Nothing was graded."
            return Loaded(submission, outcome, None, why)
        return Loaded(submission, outcome, nb, nbformat.writes(nb))

    def grade(
        self,
        work: Sequence[Found | tuple[str, str, Path]],
        out: Path,
        progress: Callable[[int, int, Outcome], None] | None = None,
        *,
        runner: Runner | None = None,
        say: Callable[[str], None] = print,
    ) -> list[Outcome]:
        """Grade ``work`` (``layout.Found``, or (student, lesson, notebook path)) on ``runner``
        (default: ``LocalRunner(jobs)``); write feedback and logs under ``out``.

        Outcomes come back in the order of ``work``; ``progress`` hears of each as it is done.
        """
        out.mkdir(parents=True, exist_ok=True)  # exists from the first job on, so it is hidden
        runner = runner or LocalRunner(self.jobs)
        loaded = [self.load(as_submission(item)) for item in work]
        done: dict[int, Outcome] = {}

        def finish(index: int, got: JobResult | JobLost | None) -> None:
            item = loaded[index]
            page = self.conclude(item, got)
            self._write(out, item.submission, page, got.log if isinstance(got, JobResult) else "")
            done[index] = item.outcome
            if progress:
                progress(len(done), len(loaded), item.outcome)

        jobs = []
        for index, item in enumerate(loaded):
            if item.nb is None:
                finish(index, None)
                continue
            s = item.submission
            jobs.append(Job(index, s.student, s.lesson, item.text, (str(out.resolve()),)))
        for job, got in runner.run(self.engine, jobs, say):
            finish(job.index, got)
        return [done[i] for i in range(len(loaded))]

    @staticmethod
    def _write(out: Path, submission: Found, page: str, log: str) -> None:
        student, lesson = submission.student, submission.lesson
        for folder, text, suffix in (("feedback", page, "html"), ("logs", log, "log")):
            if text:
                target = out / folder / student / f"{lesson}.{suffix}"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)

    def _plain(self, outcome: Outcome, reason: str) -> str:
        return feedback.fallback_page(
            outcome.student, outcome.lesson, outcome.score, outcome.max_score, reason
        )

    def conclude(self, item: Loaded, got: JobResult | JobLost | None) -> str:
        """The one place a submission's end becomes its outcome and its page: a file that is
        no notebook (``got`` None), a lost job, a timed-out, failed, flagged or graded one."""
        page = self._conclude(item, got)
        if item.submission.late:
            item.outcome.notes.append("submitted late (the LMS says so)")
        return page

    def _conclude(self, item: Loaded, got: JobResult | JobLost | None) -> str:
        outcome = item.outcome
        if got is None:
            return self._plain(outcome, item.text)
        if isinstance(got, JobLost):
            outcome.status = "error"
            if got.killed:
                outcome.notes.append(
                    f"not graded: {got.detail} on each of {got.attempts} "
                    "attempts (does the notebook crash or exhaust its worker?)"
                )
                why = (
                    "The autograder could not grade this notebook: it stopped the grading "
                    "machine each time. Your instructor will look at it."
                )
            else:
                outcome.notes.append(f"not graded: {got.detail}"[:300])
                why = (
                    "The autograder could not grade this notebook. Your instructor will look at it."
                )
            return self._plain(outcome, why)
        page = self._read_back(outcome, item.nb, got)
        if got.attempts > 1:
            outcome.notes.append(
                f"retried: a Dask worker was lost while grading it; graded on attempt {got.attempts}"
            )
        return page

    def _read_back(self, outcome: Outcome, nb, job: JobResult) -> str:
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
        lesson = self.lessons[outcome.lesson]
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
