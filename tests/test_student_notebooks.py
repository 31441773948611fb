"""Every student notebook fails all its graded tests (like `nbgrader validate --invert`)
and otherwise runs top to bottom: only the unanswered stubs and the cells that grade them error."""

from pathlib import Path

import _warm
import nbformat
import pytest
from nbgrader import utils
from nbgrader.validator import Validator
from traitlets.config import Config

pytestmark = pytest.mark.long(67)

ROOT = Path(__file__).resolve().parents[1]
STUDENT = sorted((ROOT / "notebooks").glob("lesson*/lesson*.ipynb"))


def test_every_lesson_has_a_student_notebook():
    solutions = sorted(p.parent.name for p in (ROOT / "solutions").glob("lesson*/lesson*.ipynb"))
    assert len(solutions) >= 8  # lessons 1-7 and lesson 8, "Your own photos"
    assert [p.parent.name for p in STUDENT] == solutions


def _errored(cell) -> bool:
    return any(o.output_type == "error" for o in cell.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.parent.name)
def test_student_notebook_fails_only_its_exercises(path, monkeypatch):
    monkeypatch.chdir(path.parent)
    config = Config({"Execute": {"kernel_name": _warm.kernel_name(monkeypatch)}})
    validator = Validator(invert=True, config=config)
    # One execution through nbgrader's validator pipeline (the same one `validate --invert` runs).
    nb = validator._preprocess(nbformat.read(path, as_version=4))
    passed = validator._get_passed_cells(nb)
    assert passed == [], (
        f"{path.name}: graded cells pass without an answer: {[c.source[:60] for c in passed]}"
    )
    graded = [c for c in nb.cells if utils.is_grade(c) and c.cell_type == "code"]
    assert graded and all(_errored(c) for c in graded)
    stray = [
        c.source[:80]
        for c in nb.cells
        if c.cell_type == "code" and _errored(c) and not (utils.is_grade(c) or utils.is_solution(c))
    ]
    assert stray == [], f"{path.name}: cells other than stubs and their tests fail: {stray}"
