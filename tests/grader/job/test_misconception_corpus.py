"""The misconception corpus (``tests/misconception_cases/``): what a student is told before and after grading.

For each lesson with cases, the cases are packed into rounds (at most one per
answer cell). Each round is one student notebook (the lesson with every answer
filled in and the round's cases swapped in), and all rounds of all lessons are
graded as one class by the sandboxed grader, two jobs at a time. Each test
cell's grading record says whether it passed, the misconception its error named,
and whether it failed only in its hidden tests (its visible part, what the
student runs before submitting, ran through). Then, per case:

- the visible part of the exercise's test cells names the expected
  misconception id (or passes, for a correct answer in another style);
- the hidden part refuses a wrong answer too (or accepts a right one);

and the class report built from the same grading names every case's
misconception for the right student, and shows nothing of the hidden tests.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import misconception_cases as case_corpus
import nbformat
import pytest
from misconception_cases import Case
from submissions.corpus import exercises

pytestmark = [pytest.mark.long(386), pytest.mark.warm]

ROOT = Path(__file__).resolve().parents[3]


def lesson_cases() -> dict[str, list[Case]]:
    found: dict[str, list[Case]] = {}
    for path in sorted((ROOT / "tests" / "misconception_cases").glob("lesson*.py")):
        module = importlib.import_module(f"misconception_cases.{path.stem}")
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


def _student(lesson: str, index: int) -> str:
    return f"{lesson}-round{index}"


def _lessons_to_grade(session) -> list[str]:
    """The lessons whose cases this run selected (``-k lesson8``), or all when the report runs."""
    chosen = {
        item.callspec.params["lesson"]
        for item in session.items
        if hasattr(item, "callspec") and "lesson" in item.callspec.params
    }
    whole = any(
        item.originalname == "test_report_counts_every_lesson_corpus_case" for item in session.items
    )
    return sorted(CASES) if whole or not chosen else sorted(chosen)


@pytest.fixture(scope="module")
def graded_rounds(tmp_path_factory, request):
    """Every round of the selected lessons graded as one class by ``course grade``'s engine (2 jobs)."""
    from grader.books import results
    from grader.classwork.engine import Grader
    from grader.sandbox import limits as sandbox

    tmp = tmp_path_factory.mktemp("rounds")
    work = []
    lessons = _lessons_to_grade(request.session)
    for lesson in lessons:
        for index, group in enumerate(rounds(CASES[lesson])):
            path = tmp / "subs" / _student(lesson, index) / f"{lesson}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(case_corpus.notebook(lesson, group), path)
            work.append((_student(lesson, index), lesson, path))
    limits = sandbox.Limits(cell_timeout=120, notebook_timeout=600, memory_mb=3072)
    with Grader(ROOT, lessons, limits=limits, jobs=2) as grader:
        outcomes = grader.grade(work, tmp / "out")
        secrets = {name: lesson.secrets for name, lesson in grader.lessons.items()}
    results.write_grades(tmp / "out", outcomes)
    results.write_records(tmp / "out", outcomes)
    return {"out": tmp / "out", "outcomes": {o.student: o for o in outcomes}, "secrets": secrets}


def outcomes(graded: dict, lesson: str, index: int) -> dict[str, tuple[str, str]]:
    """Per test cell of round ``index``: (its visible part's outcome, its hidden part's).

    Visible: "pass", or the misconception id its error named ("error" for none).
    Hidden: "pass", the misconception id its error named ("fail" for none), or "not run"
    (the visible part failed first).
    """
    outcome = graded["outcomes"][_student(lesson, index)]
    assert outcome.status == "graded", outcome.notes
    seen = {}
    for cell in outcome.cells:
        if cell.passed:
            seen[cell.grade_id] = ("pass", "pass")
        elif cell.hidden_only:
            seen[cell.grade_id] = ("pass", cell.misconception or "fail")
        else:
            seen[cell.grade_id] = (cell.misconception or "error", "not run")
    return seen


def _params():
    for lesson, cases in CASES.items():
        for index, group in enumerate(rounds(cases)):
            for case in group:
                yield pytest.param(lesson, index, case, id=f"{lesson}-{case.name}")


def _tests_of(lesson: str, cell: str) -> list[str]:
    released, source = case_corpus.load(lesson)
    for exercise in exercises(released, source):
        if exercise.answer_id == cell:
            return [grade_id for grade_id, _ in exercise.tests]
    raise AssertionError(f"{lesson}: {cell!r} is not an answer cell followed by tests")


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize(("lesson", "index", "case"), list(_params()))
def test_case(lesson: str, index: int, case: Case, graded_rounds) -> None:
    assert (
        case.visible == "pass"
        or case.visible.startswith(f"{lesson}.")
        or case.visible.startswith("course.")
    ), f"{case.name}: visible must be 'pass' or an id"
    tests = _tests_of(lesson, case.cell)
    seen = outcomes(graded_rounds, lesson, index)
    visible = [seen[t][0] for t in tests]
    hidden = [seen[t][1] for t in tests]
    if case.named_by == "hidden":
        # Graded multiple choice: the visible check must not tell right from wrong.
        assert set(visible) == {"pass"}, f"{case.name}: the visible check judged it: {visible}"
        assert case.visible in hidden, (
            f"{case.name}: the hidden test should name {case.visible}, it said {hidden}"
        )
    elif case.visible == "pass":
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


@pytest.mark.slow
@pytest.mark.notebooks
def test_report_counts_every_lesson_corpus_case(graded_rounds):
    """``course report`` on the graded rounds: each case's misconception, for its own student."""
    from grader.books import report
    from grader.job import feedback
    from grader.job import records as grading

    out = graded_rounds["out"]
    built = report.build(out)
    report.write(built)
    found = {(o.student, o.lesson, o.exercise, o.id) for o in built.occurrences()}
    for lesson, cases in CASES.items():
        names = grading.exercise_names(case_corpus.load(lesson)[0])
        for index, group in enumerate(rounds(cases)):
            student = _student(lesson, index)
            by_exercise = {c.grade_id: c for c in built.submissions[(student, lesson)].cells}
            for case in group:
                tests = _tests_of(lesson, case.cell)
                exercise = names[tests[0]][0]
                if case.visible != "pass":
                    assert (student, lesson, exercise, case.visible) in found, (
                        f"{case.name}: the report should name {case.visible} for {student}; "
                        f"it has {sorted(i for i in found if i[0] == student)}"
                    )
                if case.graded == "pass":
                    assert all(by_exercise[t].passed for t in tests), f"{case.name} lost points"
                else:
                    assert not all(by_exercise[t].passed for t in tests), f"{case.name} passed"
    page = (out / "report.html").read_text()
    table = (out / "misconceptions.csv").read_text()
    for secrets in graded_rounds["secrets"].values():
        assert feedback.leaks(page, secrets.hidden | secrets.solution) == []
        assert [s for s in secrets.hidden if s in table] == []
    assert (out / "feedback").is_dir()


def test_every_case_names_a_registered_misconception() -> None:
    from course_utils.checks import all_misconceptions

    known = all_misconceptions()
    for cases in CASES.values():
        for case in cases:
            assert case.visible == "pass" or case.visible in known, (
                f"{case.name}: {case.visible!r} is not registered"
            )
