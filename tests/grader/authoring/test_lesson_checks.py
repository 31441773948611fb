"""Lessons that check themselves (issue 26, item 5): headings promise the points their test cells
give, each solution scores full marks against its own tests in the sandbox before a release,
and one command refreshes the solutions' committed outputs.

The real lessons' headings are checked here (cheap: no kernel); the commands run on the fake
two-lesson course of tests/submissions/fake_course.py.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell
from submissions import fake_course  # tests/ is on sys.path (rootdir imports)

from grader import cli
from grader._course import lessons
from grader.authoring import lesson_checks as authoring

pytestmark = pytest.mark.long(73)

ROOT = Path(__file__).resolve().parents[3]


def test_every_heading_of_the_real_lessons_promises_what_its_tests_give():
    found = {
        lesson: authoring.heading_points(
            nbformat.read(ROOT / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
        )
        for lesson in lessons(ROOT)
    }
    assert all(found.values()), "every lesson has exercises with points in their headings"
    assert authoring.points_problems(ROOT, lessons(ROOT)) == []


@pytest.fixture
def course(tmp_path):
    return fake_course.make(tmp_path / "course")


def _solution(course: Path, name: str = "intro") -> Path:
    return course / "solutions" / name / f"{name}.ipynb"


def _release(course: Path, *extra: str) -> int:
    return cli.main(["release", "--root", str(course), *extra])


def test_a_heading_with_stale_points_stops_the_release(course, capsys):
    path = _solution(course)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(2, new_markdown_cell("## Exercise 1: powers (5 points)"))  # its tests give 3
    nbformat.write(nb, path)
    assert _release(course) == 1
    printed = capsys.readouterr().out
    assert (
        "refuse solutions/intro/intro.ipynb: heading 'Exercise 1: powers (5 points)' promises "
        "5 point(s), its test cells give 3" in printed
    )
    assert not (course / "notebooks").exists()  # nothing written
    assert _release(course, "--check") == 1
    nb.cells[2].source = "## Exercise 1: powers (3 points)"
    nbformat.write(nb, path)
    assert _release(course) == 0 and (course / "notebooks" / "intro" / "intro.ipynb").exists()


@pytest.mark.slow  # grades both fake solutions in the sandbox
def test_release_verify_refuses_a_solution_that_fails_its_own_tests(course, capsys):
    path = _solution(course)
    nb = nbformat.read(path, as_version=4)
    answer = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "power_answer"
    )
    answer.source = answer.source.replace("x ** 2", "x ** 3")  # the tests still expect squares
    nbformat.write(nb, path)
    assert _release(course, "--verify") == 1
    printed = capsys.readouterr().out
    assert "refuse solutions/intro/intro.ipynb scores 1/3 (graded) against its own tests" in printed
    assert "failed: power_tests" in printed and "basics" not in printed.split("refuse", 1)[1]
    assert not (course / "notebooks").exists()
    answer.source = answer.source.replace("x ** 3", "x ** 2")
    nbformat.write(nb, path)
    assert _release(course, "--verify") == 0
    assert "verified: 2 solution(s) score full marks in the sandbox" in capsys.readouterr().out
    assert (course / "notebooks" / "basics" / "basics.ipynb").exists()


@pytest.mark.slow  # runs a kernel
def test_refresh_outputs_reruns_the_solution_and_stores_its_outputs(course, capsys):
    path = _solution(course)
    assert '"outputs": []' in path.read_text()  # no outputs yet (a test cell changed, say)
    assert _release(course, "--lesson", "intro", "--refresh-outputs") == 0
    assert "outputs refreshed: solutions/intro/intro.ipynb" in capsys.readouterr().out
    nb = nbformat.read(path, as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    assert [o.get("text") for o in setup.outputs] == ["set up\n"]
    assert "### BEGIN SOLUTION" in path.read_text()  # the source is the source still
    assert _release(course, "--lesson", "intro", "--refresh-outputs") == 0
    assert "outputs refreshed" not in capsys.readouterr().out  # same outputs: file untouched
