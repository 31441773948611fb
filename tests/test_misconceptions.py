"""The misconception corpus (``tests/misconceptions/``): what a student is told before and after grading.

For each lesson with cases, the cases are packed into rounds (at most one per
answer cell). Each round is one execution of the lesson's *solution* notebook
with the cases' answers swapped in and every test cell split in two: its
visible part (what the student runs before submitting) and its hidden part.
Then, per case:

- the visible part of the exercise's test cells names the expected
  misconception id (or passes, for a correct answer in another style);
- the hidden part refuses a wrong answer too (or accepts a right one).
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path

import _warm
import misconceptions
import pytest
from misconceptions import Case
from submissions.corpus import _meta, exercises

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = "### BEGIN HIDDEN TESTS"


def lesson_cases() -> dict[str, list[Case]]:
    found: dict[str, list[Case]] = {}
    for path in sorted((ROOT / "tests" / "misconceptions").glob("lesson*.py")):
        module = importlib.import_module(f"misconceptions.{path.stem}")
        found[path.stem] = list(module.CASES)
    return found


CASES = lesson_cases()


def rounds(cases: list[Case]) -> list[list[Case]]:
    """Greedy packing: a round holds at most one case per answer cell."""
    packed: list[list[Case]] = []
    for case in cases:
        for group in packed:
            if all(other.cell != case.cell for other in group):
                group.append(case)
                break
        else:
            packed.append([case])
    return packed


def split_tests(nb):
    """Each graded test cell becomes (visible part, hidden part) with grade ids ``id`` / ``id:hidden``."""
    from nbformat.v4 import new_code_cell

    cells = []
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("grade") and cell.cell_type == "code" and HIDDEN in cell.source:
            visible, hidden = cell.source.split(HIDDEN, 1)
            first = copy.deepcopy(cell)
            first.source = visible
            second = new_code_cell(hidden.replace("### END HIDDEN TESTS", ""))
            second.metadata["nbgrader"] = {**meta, "grade_id": f"{meta['grade_id']}:hidden"}
            cells += [first, second]
        else:
            cells.append(cell)
    nb.cells = cells
    return nb


_RUNS: dict[tuple[str, int], dict[str, str]] = {}


def outcomes(lesson: str, index: int, kernel: str = "python3") -> dict[str, str]:
    """Run round ``index`` of ``lesson`` once (in ``kernel``); the outcome of every test cell part."""
    key = (lesson, index)
    if key not in _RUNS:
        from nbclient import NotebookClient

        nb = split_tests(misconceptions.notebook(lesson, rounds(CASES[lesson])[index], hidden=True))
        folder = ROOT / "solutions" / lesson
        client = NotebookClient(
            nb,
            timeout=300,
            kernel_name=kernel,
            allow_errors=True,
            resources={"metadata": {"path": str(folder)}},
        )
        client.execute()
        _RUNS[key] = misconceptions.visible_outcomes(nb)
    return _RUNS[key]


def _params():
    for lesson, cases in CASES.items():
        for index, group in enumerate(rounds(cases)):
            for case in group:
                yield pytest.param(lesson, index, case, id=f"{lesson}-{case.name}")


def _tests_of(lesson: str, cell: str) -> list[str]:
    released, source = misconceptions.load(lesson)
    for exercise in exercises(released, source):
        if exercise.answer_id == cell:
            return [grade_id for grade_id, _ in exercise.tests]
    raise AssertionError(f"{lesson}: {cell!r} is not an answer cell followed by tests")


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize(("lesson", "index", "case"), list(_params()))
def test_case(lesson: str, index: int, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        case.visible == "pass"
        or case.visible.startswith(f"{lesson}.")
        or case.visible.startswith("course.")
    ), f"{case.name}: visible must be 'pass' or an id"
    tests = _tests_of(lesson, case.cell)
    seen = outcomes(lesson, index, _warm.kernel_name(monkeypatch))
    visible = [seen[t] for t in tests]
    hidden = [seen.get(f"{t}:hidden", "pass") for t in tests]
    if case.visible == "pass":
        assert set(visible) == {"pass"}, f"{case.name}: a correct answer is refused: {visible}"
    else:
        assert case.visible in visible, (
            f"{case.name}: the visible check should name {case.visible}, it said {visible}"
        )
    if case.graded == "pass":
        assert set(hidden) == {"pass"} and set(visible) == {"pass"}, (
            f"{case.name}: a correct answer loses points: visible {visible}, hidden {hidden}"
        )
    else:
        assert any(o != "pass" for o in visible + hidden), f"{case.name}: wrong answer graded right"


def test_every_case_names_a_registered_misconception() -> None:
    from course_utils.checks import all_misconceptions

    known = all_misconceptions()
    for cases in CASES.values():
        for case in cases:
            assert case.visible == "pass" or case.visible in known, (
                f"{case.name}: {case.visible!r} is not registered"
            )
