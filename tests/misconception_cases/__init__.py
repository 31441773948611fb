"""The misconception corpus: realistic wrong (and differently-right) answers, per lesson.

Each lesson's module here (``lesson4.py``, ...) lists ``CASES``. A case
replaces one answer cell of the student notebook (all other answers filled in
from the solution) and says what must happen:

- ``visible``: the registered misconception id the *visible* check must name
  (``"lesson4.typed_in_features"``), or ``"pass"`` for a correct answer
  written in another reasonable style;
- ``graded``: ``"fail"`` when the hidden tests must refuse it too, ``"pass"``
  when the answer is right;
- ``named_by``: ``"visible"`` (the default) or ``"hidden"``, for a graded
  multiple-choice answer: its visible check only records the letter (it must
  pass, saying nothing), and the hidden test names the misconception.

``notebook(lesson, cases)`` builds one student notebook holding several
cases (at most one per answer cell), so a lesson's corpus is graded in a few
notebooks (``tests/grader/job/test_misconception_corpus.py``, which also reports on them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from submissions.corpus import _meta, answered  # tests/ is on sys.path (rootdir imports)

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    """One answer cell, written as a student would, and what the checks must say about it."""

    name: str
    lesson: str
    cell: str  # grade_id of the answer cell it replaces
    source: str
    visible: str  # misconception id the check names (see named_by), or "pass"
    graded: str = "fail"  # "fail" or "pass" under the hidden tests
    named_by: str = "visible"  # "hidden": graded multiple choice, the visible check only records


def load(lesson: str):
    """(student notebook, solution notebook) of ``lesson``."""
    import nbformat

    released = nbformat.read(ROOT / "notebooks" / lesson / f"{lesson}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
    return released, source


def notebook(lesson: str, cases: list[Case]):
    """The student notebook with every answer filled in and each case's cell replaced."""
    cells = [case.cell for case in cases]
    if len(set(cells)) != len(cells):
        raise ValueError(f"at most one case per answer cell in one notebook, got {cells}")
    released, source = load(lesson)
    nb = answered(released, source)
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
