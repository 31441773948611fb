"""Adding a lesson (issue 26, item 6): ``course new-lesson N`` and grader/README.md's
"Adding or changing a lesson", tried end to end in a copy of the repository.

The scaffold never overwrites; its notebook follows the house style (a read-only set-up
cell, an answer cell with a solution, a test cell with visible and hidden tests, a heading
whose points match); its checker has a misconception registry in the lessons' shape. The
slow test follows the README's steps in a temporary copy (PYTHONPATH pointing at it, so
nothing is written into this checkout): scaffold the next lesson, run its test stubs,
refresh its outputs, release it with ``--verify``, and grade its solution with ``course
grade`` (full marks) beside the untouched student notebook (0).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import cli
from grader._common import natural_key
from grader._course import CONFIG_FILE, lessons
from grader.authoring import lesson_checks as authoring

# `course grade` runs here as the README tells an instructor: with its own zygote.
pytestmark = [pytest.mark.long(86), pytest.mark.warm(False)]

ROOT = Path(__file__).resolve().parents[3]


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.fixture
def bare_course(tmp_path):
    """A folder that ``find_root`` takes for a course (its grader config), with no lessons."""
    root = tmp_path / "course"
    (root / CONFIG_FILE).parent.mkdir(parents=True)
    (root / CONFIG_FILE).write_text("c = get_config()  # noqa: F821\n")
    return root


def test_new_lesson_writes_the_house_style(bare_course, capsys):
    assert cli.main(["new-lesson", "3", "--root", str(bare_course)]) == 0
    created = [
        line.split()[1] for line in capsys.readouterr().out.splitlines() if "created" in line
    ]
    assert created == [
        "solutions/lesson3/lesson3.ipynb",
        "course_utils/checks/lesson3.py",
        "tests/test_checks_lesson3.py",
        "tests/misconception_cases/lesson3.py",
    ]
    assert lessons(bare_course) == ["lesson3"]
    nb = nbformat.read(bare_course / created[0], as_version=4)
    nbformat.validate(nb)
    setup = nb.cells[1]
    assert _meta(setup)["grade_id"] == "setup" and _meta(setup)["locked"]
    assert "from course_utils.checks import lesson3 as checks" in setup.source
    answers = [c for c in nb.cells if _meta(c).get("solution")]
    tests = [c for c in nb.cells if _meta(c).get("grade")]
    assert len(answers) == 1 and "### BEGIN SOLUTION" in answers[0].source
    assert "### END SOLUTION" in answers[0].source
    assert len(tests) == 1 and tests[0].source.index("checks.") < tests[0].source.index(
        "### BEGIN HIDDEN TESTS"
    )
    assert _meta(tests[0])["locked"] and _meta(tests[0])["points"] == 1
    assert authoring.heading_points(nb) == [("Exercise 1 — count the class scores (1 point)", 1, 1)]
    spec = importlib.util.spec_from_file_location("scaffolded", bare_course / created[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.MISCONCEPTIONS) == {"in_features_not_out", "typed_class_count"}
    assert all(m.id == f"lesson3.{k}" for k, m in module.MISCONCEPTIONS.items())


def test_new_lesson_never_overwrites(bare_course, capsys):
    checker = bare_course / "course_utils" / "checks" / "lesson4.py"
    checker.parent.mkdir(parents=True)
    checker.write_text("# the instructor's own checker\n")
    assert cli.main(["new-lesson", "4", "--root", str(bare_course)]) == 2
    printed = capsys.readouterr().out
    assert "course_utils/checks/lesson4.py already exist(s)" in printed
    assert "nothing was written" in printed
    assert checker.read_text() == "# the instructor's own checker\n"
    assert sorted(p.relative_to(bare_course).as_posix() for p in bare_course.rglob("*.*")) == [
        "course_utils/checks/lesson4.py",
        CONFIG_FILE.as_posix(),
    ]
    assert cli.main(["new-lesson", "5", "--root", str(bare_course)]) == 0
    solution = bare_course / "solutions" / "lesson5" / "lesson5.ipynb"
    solution.write_text(solution.read_text().replace("count the class scores", "my edit"))
    kept = solution.read_text()
    assert cli.main(["new-lesson", "5", "--root", str(bare_course)]) == 2
    assert solution.read_text() == kept
    assert cli.main(["new-lesson", "0", "--root", str(bare_course)]) == 2


def _copy_of_the_repository(dest: Path) -> Path:
    """The repository's tracked files, as they are in this checkout, copied to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    return dest


@pytest.mark.slow  # refreshes, verifies and grades the new lesson (about 2 minutes here)
def test_adding_a_lesson_as_the_readme_says(tmp_path):
    readme = (ROOT / "grader" / "README.md").read_text()
    section = readme.split("## Adding or changing a lesson", 1)[1].split("\n## ", 1)[0]
    for step in (
        "course new-lesson",
        "course release --lesson",
        "--verify",
        "--refresh-outputs",
        "tests/misconception_cases/",
        "tests/test_checks_lesson",
    ):
        assert step in section, f"grader/README.md's authoring section lacks {step!r}"
    copy = _copy_of_the_repository(tmp_path / "repo")
    number = int(lessons(ROOT)[-1].removeprefix("lesson")) + 1 if lessons(ROOT) else 1
    name = f"lesson{number}"
    env = {**os.environ, "PYTHONPATH": str(copy)}

    def course(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "grader.cli", *args],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, f"course {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    assert f"created solutions/{name}/{name}.ipynb" in course("new-lesson", str(number))
    stubs = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider"]
        + [f"tests/test_checks_{name}.py", "tests/grader/job/test_misconception_corpus.py"]
        + ["-k", f"test_checks_{name} or registered"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert stubs.returncode == 0, stubs.stdout[-3000:]
    assert "4 passed" in stubs.stdout
    assert f"outputs refreshed: solutions/{name}/{name}.ipynb" in course(
        "release", "--lesson", str(number), "--refresh-outputs"
    )
    verified = course("release", "--lesson", str(number), "--verify")
    assert "verified: 1 solution(s) score full marks in the sandbox" in verified
    assert (copy / "notebooks" / name / f"{name}.ipynb").is_file()
    assert sorted(lessons(copy), key=natural_key)[-1] == name
    subs = tmp_path / "subs"
    for student, source in (("sol", "solutions"), ("blank", "notebooks")):
        (subs / student).mkdir(parents=True)
        shutil.copy(copy / source / name / f"{name}.ipynb", subs / student / f"{name}.ipynb")
    course("grade", "--submissions", str(subs), "--out", str(tmp_path / "out"), "--jobs", "1")
    with open(tmp_path / "out" / "grades.csv", newline="") as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle) if r["assignment"] == name}
    assert {s: (float(r["score"]), float(r["max_score"])) for s, r in rows.items()} == {
        "sol": (1.0, 1.0),
        "blank": (0.0, 1.0),
    }
    assert not (ROOT / "course_utils" / "checks" / f"{name}.py").exists()
    assert not (ROOT / "solutions" / name).exists()
