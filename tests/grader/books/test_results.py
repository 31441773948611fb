"""A run's results (``grader.books.results``): ``records.jsonl`` accumulated run after run."""

from __future__ import annotations

import pytest
from submissions.powers import record_cell

from grader.books import results


def test_write_records_accumulates_and_keeps_a_different_earlier_file(tmp_path):
    from grader.books.results import Outcome

    first = [Outcome("ann", "powers", 2.0, 3.0, cells=[record_cell("a", "Ex A", True, points=2)])]
    path, backup = results.write_records(tmp_path, first)
    assert backup is None and results.write_records(tmp_path, first) == (path, None)
    first[0].score = 3.0
    path, backup = results.write_records(tmp_path, first)
    assert backup is not None and '"score": 2.0' in backup.read_text()
    assert [r["score"] for r in results.read_records(tmp_path)] == [3.0]
    # Next week, another lesson into the same folder: last week's records stay.
    week2 = [Outcome("ann", "basics", 1.0, 1.0), Outcome("bob", "basics", 0.0, 1.0)]
    results.write_records(tmp_path, week2)
    kept = {(r["student"], r["lesson"]): r["score"] for r in results.read_records(tmp_path)}
    assert kept == {("ann", "powers"): 3.0, ("ann", "basics"): 1.0, ("bob", "basics"): 0.0}
    path.write_text("not json\n")
    with pytest.raises(ValueError, match="line 1: not JSON"):
        results.read_records(tmp_path)


# --- results ----------------------------------------------------------------------


def _outcomes(score: float = 2.0) -> list[results.Outcome]:
    return [
        results.Outcome("s10", "lesson2", score, 3.0),
        results.Outcome("s2", "lesson10", 0.0, 4.0, "missing"),
        results.Outcome("s2", "lesson2", 1.5, 3.0, "flagged", ["integrity at q1: hidden"]),
    ]


def test_grades_csv_sorts_naturally_and_keeps_exact_columns():
    assert results.grades_csv(_outcomes()).splitlines() == [
        "student_id,assignment,score,max_score,status",
        "s2,lesson2,1.5,3,flagged",
        "s2,lesson10,0,4,missing",
        "s10,lesson2,2,3,graded",
    ]


def test_write_grades_keeps_the_old_file_when_scores_change(tmp_path):
    """One backup policy: the earlier file goes to OUT/history/, like the gradebook's."""
    path, backup = results.write_grades(tmp_path, _outcomes())
    assert backup is None
    assert results.write_grades(tmp_path, _outcomes()) == (path, None)  # same grades: untouched
    path, backup = results.write_grades(tmp_path, _outcomes(score=3.0))
    assert backup is not None and "s10,lesson2,2,3" in backup.read_text()
    assert backup.parent == tmp_path / "history" and backup.name.startswith("grades.")
    assert "s10,lesson2,3,3" in path.read_text()
    assert list(tmp_path.glob("grades.*.csv")) == []  # nothing beside the file any more


def test_write_grades_keeps_a_hand_edited_file(tmp_path):
    """Nothing a person made is lost: a grades.csv edited by hand is kept before it is replaced."""
    (tmp_path / "grades.csv").write_text("student_id,assignment,score\ns10,lesson2,99 (agreed)\n")
    path, backup = results.write_grades(tmp_path, _outcomes())
    assert backup is not None and "99 (agreed)" in backup.read_text()
    assert "99" not in path.read_text()
    path, again = results.write_grades(tmp_path, _outcomes(score=3.0))
    assert again is not None and again != backup and "99 (agreed)" in backup.read_text()


def test_summary_marks_missing_and_flagged_work():
    table = results.summary(_outcomes(), ["lesson2", "lesson10"])
    s2 = next(line for line in table.splitlines() if line.startswith("s2 "))
    assert s2.split() == ["s2", "1.5/3", "F", "0/4", "-", "1.5/7"]
    assert "s2 lesson2: integrity at q1: hidden" in table
