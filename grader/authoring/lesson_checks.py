"""Lessons that check themselves: what ``course release`` verifies before it writes a notebook.

- ``points_problems``: a heading that promises points (``### Exercise 1 — ... (3 points)``)
  must promise what the test cells under it give (nbgrader's ``points`` metadata, which
  is what grading counts), so a heading never goes stale when a test cell changes;
- ``verify_solutions``: each solution, graded in the sandbox like a submission against
  its own visible and hidden tests, must score full marks (``course release --verify``);
- ``refresh_outputs``: run each solution notebook again and store its outputs
  (``course release --refresh-outputs``), the outputs nbval compares in ``make test``.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader._course import SOURCE_DIR

POINTS = re.compile(r"\((\d+(?:\.\d+)?) points?\)", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def _headings(cell) -> list[tuple[int, str]]:
    if cell.get("cell_type") != "markdown":
        return []
    found = []
    for line in "".join(cell.get("source", "")).splitlines():
        m = HEADING.match(line)
        if m:
            found.append((len(m.group(1)), m.group(2).strip()))
    return found


def heading_points(nb) -> list[tuple[str, float, float]]:
    """(heading, points it promises, points its test cells give) for each heading with points.

    A heading's test cells are the graded cells after it, up to the next heading of the
    same or a higher level.
    """
    cells = nb["cells"]
    found = []
    for i, cell in enumerate(cells):
        for level, title in _headings(cell):
            m = POINTS.search(title)
            if not m:
                continue
            given = 0.0
            for later in cells[i + 1 :]:
                if any(lvl <= level for lvl, _ in _headings(later)):
                    break
                meta = later.get("metadata", {}).get("nbgrader", {})
                if meta.get("grade"):
                    given += float(meta.get("points", 0) or 0)
            found.append((title, float(m.group(1)), given))
    return found


def points_problems(root: Path, lessons: list[str]) -> list[str]:
    """Every heading in ``solutions/`` whose points differ from its test cells', as a message."""
    import nbformat

    problems = []
    for lesson in lessons:
        rel = Path(SOURCE_DIR) / lesson / f"{lesson}.ipynb"
        nb = nbformat.read(Path(root) / rel, as_version=4)
        for title, promised, given in heading_points(nb):
            if promised != given:
                problems.append(
                    f"{rel.as_posix()}: heading {title!r} promises {promised:g} point(s), its "
                    f"test cells give {given:g}: change the heading or the cells' points"
                )
    return problems


def verify_solutions(root: Path, lessons: list[str], jobs: int = 1) -> list[str]:
    """Grade each lesson's solution in the sandbox, as a submission; a message for each that
    does not score full marks, naming the test cells that failed."""
    import tempfile

    from grader.classwork.engine import Grader

    work = [
        ("solution", lesson, Path(root) / SOURCE_DIR / lesson / f"{lesson}.ipynb")
        for lesson in lessons
    ]
    with tempfile.TemporaryDirectory(prefix="course-verify-") as out:
        with Grader(root, lessons, jobs=jobs) as grader:
            outcomes = grader.grade(work, Path(out))
    problems = []
    for o in sorted(outcomes, key=lambda o: lessons.index(o.lesson)):
        if o.status == "graded" and o.score >= o.max_score:
            continue
        failed = [c.get("grade_id", "?") for c in o.cells if not c.get("passed")]
        problems.append(
            f"{SOURCE_DIR}/{o.lesson}/{o.lesson}.ipynb scores {o.score:g}/{o.max_score:g} "
            f"({o.status}) against its own tests"
            + (f"; failed: {', '.join(failed)}" if failed else "")
            + (f"; {'; '.join(o.notes)}" if o.notes else "")
            + ": fix the solution or the tests before releasing"
        )
    return problems


def refresh_outputs(root: Path, lessons: list[str], timeout: int = 1800) -> list[Path]:
    """Run each solution notebook top to bottom in its folder and write it back with the new
    outputs (what nbval compares); returns the notebooks whose content changed.

    Runs the instructor's own code, unsandboxed, in this environment (``python3`` kernel).
    """
    import nbformat
    from nbclient import NotebookClient

    changed = []
    for lesson in lessons:
        path = Path(root) / SOURCE_DIR / lesson / f"{lesson}.ipynb"
        before = path.read_text(encoding="utf-8")
        nb = nbformat.reads(before, as_version=4)
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            record_timing=False,  # the same outputs make the same file
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        after = nbformat.writes(nb)
        after += "" if after.endswith("\n") else "\n"  # as nbformat.write ends a file
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed.append(path)
    return changed
