"""The misconception corpus: realistic wrong (and differently-right) answers, per lesson.

Each lesson's module here (``lesson4.py``, ...) lists ``CASES``. A case
replaces one answer cell of the student notebook (all other answers filled in
from the solution) and says what must happen:

- ``visible``: the registered misconception id the *visible* check must name
  (``"lesson4.typed_in_features"``), or ``"pass"`` for a correct answer
  written in another reasonable style;
- ``graded``: ``"fail"`` when the hidden tests must refuse it too, ``"pass"``
  when the answer is right.

``notebook(lesson, cases)`` builds one student notebook holding several
cases (at most one per answer cell), so a lesson's corpus runs in a few
kernel executions; ``visible_outcomes(nb)`` reads back, per test cell,
``"pass"`` or the misconception id its error named. The grader's class
report test reuses the same cases.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from submissions.corpus import _meta, answered  # tests/ is on sys.path (rootdir imports)

from course_utils.checks._feedback import REVIEW_LINE

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    """One answer cell, written as a student would, and what the checks must say about it."""

    name: str
    lesson: str
    cell: str  # grade_id of the answer cell it replaces
    source: str
    visible: str  # misconception id the visible check names, or "pass"
    graded: str = "fail"  # "fail" or "pass" under the hidden tests


def load(lesson: str):
    """(student notebook, solution notebook) of ``lesson``."""
    import nbformat

    released = nbformat.read(ROOT / "notebooks" / lesson / f"{lesson}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
    return released, source


def notebook(lesson: str, cases: list[Case], *, hidden: bool = False):
    """The lesson with every answer filled in and each case's cell replaced.

    ``hidden=False`` starts from the student notebook (visible checks only);
    ``hidden=True`` from the solution, so test cells keep their hidden tests.
    """
    cells = [case.cell for case in cases]
    if len(set(cells)) != len(cells):
        raise ValueError(f"at most one case per answer cell in one notebook, got {cells}")
    released, source = load(lesson)
    nb = answered(released, source) if not hidden else copy.deepcopy(source)
    by_cell = {case.cell: case for case in cases}
    found = set()
    for cell in nb.cells:
        grade_id = _meta(cell).get("grade_id")
        if grade_id in by_cell:
            cell.source = by_cell[grade_id].source
            found.add(grade_id)
    missing = set(by_cell) - found
    if missing:
        raise ValueError(f"{lesson} has no answer cell {sorted(missing)}")
    return nb


def visible_outcomes(nb) -> dict[str, str]:
    """For each graded test cell of an executed notebook: "pass", the misconception id, or "error"."""
    outcomes = {}
    for cell in nb.cells:
        meta = _meta(cell)
        if not meta.get("grade") or cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            outcomes[meta["grade_id"]] = "pass"
            continue
        match = REVIEW_LINE.search(str(errors[0].get("evalue", "")))
        outcomes[meta["grade_id"]] = (
            match.group("id") if match else f"error: {errors[0].get('ename')}"
        )
    return outcomes
