"""One grading job: ``python -m grader.job.worker JOBDIR``, run by ``sandbox.run``.

JOBDIR holds ``job.json`` (written by ``autograde``) and a one-student
nbgrader course. The worker makes itself non-dumpable (the kernel may not
ptrace it), brings loopback up (fresh network namespace), puts the kernel's
working folder on the job's size-limited tmpfs (``sandbox.job_space``), autogrades with
``SandboxedExecute`` (whose kernels lock themselves down, see ``kernel``),
reads the scores from the job's gradebook, sanitises the graded notebook and
writes the feedback HTML. It reports in ``result.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from pathlib import Path

from grader._course import scratch_config, tools_on_path
from grader.job import feedback
from grader.sandbox import limits as sandbox


def configure(job: dict, jobdir: Path):
    """The instructor config, re-rooted in this job, with the hardened executor."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from grader.job.execute import SandboxedExecute

    config = scratch_config(Path(job["root"]), jobdir / "course")
    defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [
        SandboxedExecute if pp is Execute else pp for pp in defaults
    ]
    limits = job["limits"]
    config.Execute.timeout = limits["cell_timeout"]
    config.Execute.kernel_name = "python3"
    config.Execute.interrupt_on_timeout = True
    config.SandboxedExecute.guard_modules = job["guard_modules"]
    config.SandboxedExecute.output_limit = limits["output_bytes"]
    # The executor stops at its own deadline, before the sandbox kills the job, so that what ran
    # keeps its points and the feedback names the cell that ran out of time.
    timeout = limits["notebook_timeout"]
    config.SandboxedExecute.deadline = max(1, timeout - max(10, timeout // 10))
    config.SandboxedExecute.progress_path = str(jobdir / "result.json")
    config.SandboxedExecute.report_path = str(jobdir / "incidents.json")
    config.NbGraderAPI.log_level = "WARN"
    feedback.template_config(config)
    return config


def read_scores(db_path: Path, lesson: str, student: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db_path}") as gb:
        nb = gb.find_submission_notebook(lesson, lesson, student)
        cells = [
            {"grade_id": g.name, "score": g.score, "max_score": g.max_score}
            for g in sorted(nb.grades, key=lambda g: g.name)
        ]
        return {"score": nb.score, "max_score": nb.max_score, "cells": cells}


def records(job: dict, jobdir: Path, scores: list[dict]) -> list[dict]:
    """Per graded cell: passed, and the misconception its checker named (never hidden-test text)."""
    import nbformat

    from grader.job.records import cell_records

    student, lesson = job["student"], job["lesson"]
    graded = nbformat.read(
        jobdir / "course" / "autograded" / student / lesson / f"{lesson}.ipynb", as_version=4
    )
    released = nbformat.read(jobdir / "released.ipynb", as_version=4)
    return cell_records(graded, released, scores)


def make_feedback(api, job: dict, jobdir: Path) -> dict:
    """Sanitise the graded notebook, render nbgrader's feedback HTML into ``feedback.html``."""
    import nbformat

    student, lesson = job["student"], job["lesson"]
    course = jobdir / "course"
    graded = course / "autograded" / student / lesson / f"{lesson}.ipynb"
    nb = nbformat.read(graded, as_version=4)
    released = nbformat.read(jobdir / "released.ipynb", as_version=4)
    secrets = feedback.Secrets.from_json(job["secrets"])
    submitted = nbformat.read(
        course / "submitted" / student / lesson / f"{lesson}.ipynb", as_version=4
    )
    removed = feedback.sanitize(nb, released, secrets.excluding(feedback.student_text(submitted)))
    feedback.present(nb, released)
    left_out = feedback.shrink(nb)
    os.chmod(graded, 0o644)
    nbformat.write(nb, graded)
    page = course / "feedback" / student / lesson / f"{lesson}.html"
    for attempt in range(3):
        result = api.generate_feedback(lesson, student, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_feedback failed:\n{result.get('error', '')}")
        size = page.stat().st_size
        if size <= feedback.PAGE_LIMIT:
            break
        if attempt == 2:
            raise RuntimeError(
                f"the feedback page is {size:,} bytes even with its outputs left out"
            )
        # Past the limit (HTML escaping and highlighting make a page larger than its notebook):
        # leave out the largest parts, everything on the second try, and render again.
        excess = size - feedback.PAGE_LIMIT + 100_000 if attempt == 0 else size
        left_out += feedback.shrink(nb, excess)
        nbformat.write(nb, graded)
    shutil.copyfile(page, jobdir / "feedback.html")
    return {"removed_outputs": removed, "left_out": left_out}


def grade(job: dict, jobdir: Path) -> dict:
    from nbgrader.apps import NbGraderAPI

    sandbox.not_dumpable()
    if job["network"]:
        sandbox.loopback_up()
    sandbox.job_space(jobdir)
    config = configure(job, jobdir)
    tools_on_path()
    api = NbGraderAPI(config=config)
    done = api.autograde(job["lesson"], job["student"], force=True, create=True)
    incidents_path = jobdir / "incidents.json"
    incidents = json.loads(incidents_path.read_text()) if incidents_path.exists() else []
    if not done["success"]:
        return {
            "ok": False,
            "incidents": incidents,
            "error": (done.get("log", "") + done.get("error", ""))[-4000:],
        }
    result = {
        "ok": True,
        "incidents": incidents,
        **read_scores(jobdir / "course" / "gradebook.db", job["lesson"], job["student"]),
    }
    try:
        result["cells"] = records(job, jobdir, result["cells"])
    except Exception:  # noqa: BLE001 - the score stands without per-cell records
        result["records_error"] = traceback.format_exc()[-2000:]
    try:
        result.update(make_feedback(api, job, jobdir))
    except Exception:  # noqa: BLE001 - the score stands; the parent writes a plain page instead
        result["feedback_error"] = traceback.format_exc()[-2000:]
    return result


def warm_up() -> None:
    """Do once, in the zygote that forks the workers, the first-use work of every job.

    Rendering a small notebook with nbconvert's classic template (which the course's
    feedback template extends) and validating it compiles the regular expressions, CSS
    selectors and notebook schema that each feedback page needs; with nbgrader's database
    mappings configured too, a forked worker finds them ready (about 0.12 s of CPU less
    per job).
    """
    import nbformat
    import nbgrader.api  # noqa: F401 - its models, for configure_mappers
    from nbconvert.exporters import HTMLExporter
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    from sqlalchemy.orm import configure_mappers

    error = new_output("error", ename="ValueError", evalue="x", traceback=["\x1b[31mx\x1b[0m"])
    nb = new_notebook(
        cells=[
            new_markdown_cell("# A *page*\n\n- `code` and [a link](#top)"),
            new_code_cell("print(1)", outputs=[new_output("stream", text="1\n"), error]),
        ]
    )
    nbformat.validate(nb)
    HTMLExporter(template_name="classic").from_notebook_node(nb)
    configure_mappers()


def main(argv: list[str]) -> int:
    jobdir = Path(argv[0])
    job = json.loads((jobdir / "job.json").read_text())
    try:
        result = grade(job, jobdir)
    except Exception:  # noqa: BLE001 - reported to the parent, which scores 0 and flags it
        result = {"ok": False, "error": traceback.format_exc()[-4000:]}
    (jobdir / "result.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
