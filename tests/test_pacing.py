"""Each lesson's stated time is what bench/pacing.py measures from the lesson (issue 25).

The stated durations cannot drift: change a lesson, and its time line and docs/pacing.md
must be rewritten with ``python bench/pacing.py --write``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("pacing", ROOT / "bench" / "pacing.py")
assert _spec and _spec.loader
pacing = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("pacing", pacing)  # dataclasses look their module up there
_spec.loader.exec_module(pacing)

LESSONS = pacing.lessons()
FIX = "run python bench/pacing.py --write"


@pytest.fixture(scope="module")
def measured():
    return {row.lesson: row for row in pacing.measure_all()}


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_each_lesson_states_its_measured_time(path, measured):
    row = measured[path.stem]
    assert pacing.stated_minutes(path) == row.minutes, (
        f"{path.stem} states {pacing.stated_minutes(path)} minutes, the lesson measures "
        f"{row.minutes}: {FIX}"
    )
    first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
    assert row.line() in first, f"{path.stem}'s time line is not the measured one: {FIX}"


def test_pacing_doc_is_the_measurement(measured):
    doc = (ROOT / "docs" / "pacing.md").read_text(encoding="utf-8")
    assert doc == pacing.pacing_doc(list(measured.values())), f"docs/pacing.md is stale: {FIX}"


def test_every_lesson_has_a_measured_execution_time():
    seconds = pacing.execution_seconds()
    assert {p.stem for p in LESSONS} <= set(seconds)


def _notebook(tmp_path: Path, cells: list[dict], name: str = "lesson1") -> Path:
    path = tmp_path / "solutions" / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    return path


def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text, **nbgrader):
    return {"cell_type": "code", "metadata": {"nbgrader": nbgrader}, "source": text}


def test_measure_counts_what_the_method_says(tmp_path):
    cells = [
        _md("# Two words\n\n" + "word " * 298 + f"\n\n{pacing.TIME_MARK} about 999 minutes, x y z"),
        _code("a = 1\n\nb = 2\n"),  # 2 lines shown
        _code(
            "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", solution=True
        ),
        _code(
            "check(f)\n### BEGIN HIDDEN TESTS\nassert f() == 1\n### END HIDDEN TESTS\n",
            grade=True,
            points=3,
        ),  # 1 line shown, 3 code points
        _code(
            '### BEGIN SOLUTION\nanswer_q1 = "B"\nanswer_q2 = 4\n### END SOLUTION\n', solution=True
        ),
        _code("check_q(answer_q1, answer_q2)\n", grade=True, points=2),  # 2 questions
    ]
    row = pacing.measure(_notebook(tmp_path, cells), {"lesson1": 30.0})
    assert (row.words, row.code_lines, row.code_points, row.questions) == (300, 4, 3.0, 2)
    assert row.reading == pytest.approx(300 / pacing.READING_WPM)
    assert row.code == pytest.approx(4 / pacing.CODE_LINES_PER_MINUTE + 0.5)
    expected = 3 * pacing.MINUTES_PER_CODE_POINT + 2 * pacing.MINUTES_PER_QUESTION
    assert row.exercises == pytest.approx(expected)
    total = row.reading + row.code + row.exercises
    assert row.minutes == pacing.ROUND_TO * round(total / pacing.ROUND_TO)


def test_a_longer_lesson_measures_longer_and_the_line_is_rewritten(tmp_path):
    words = "word " * 3000
    path = _notebook(tmp_path, [_md("# Lesson 1\n\nPromise."), _md(words)])
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "RESULTS.md").write_text(
        "## Lesson execution (x)\n\n| lesson | s |\n|---|---|\n| lesson1 | 12.0 |\n"
    )
    rows = pacing.measure_all(tmp_path)
    assert rows[0].minutes == 20  # 3000 + 3 words at 150 wpm, 12 s of execution
    assert pacing.write_time_lines(rows, tmp_path) == ["solutions/lesson1/lesson1.ipynb"]
    assert pacing.stated_minutes(path) == 20
    assert pacing.write_time_lines(pacing.measure_all(tmp_path), tmp_path) == []  # stable
    cells = json.loads(path.read_text())["cells"]
    cells.append(_md(words))
    path.write_text(json.dumps({"cells": cells}))
    assert pacing.measure_all(tmp_path)[0].minutes == 40 != pacing.stated_minutes(path)


def test_missing_execution_time_says_how_to_measure_it(tmp_path):
    path = _notebook(tmp_path, [_md("# Lesson 1")])
    with pytest.raises(ValueError, match="no execution time for lesson1.*bench/run.py"):
        pacing.measure(path, {"lesson2": 1.0})
