"""Grades of a class: ``grades.csv`` (never silently replaced) and the printed summary."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader.course import natural_key

if TYPE_CHECKING:
    from grader.layout import Found
    from grader.misconceptions import CellRecord

# ``status`` says which grades need a person (``flagged``, ``timeout``...): see ``Outcome``.
COLUMNS = ("student_id", "assignment", "score", "max_score", "status")


@dataclass
class Outcome:
    """One student's result for one lesson.

    ``status``: ``graded``, ``missing`` (nothing submitted), ``unreadable``
    (not a notebook), ``timeout``, ``error`` (the grader failed) or
    ``flagged`` (graded, but the notebook tampered with the tests: review it).
    """

    student: str
    lesson: str
    score: float
    max_score: float
    status: str = "graded"
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Per graded cell (see grader.misconceptions.cell_records); empty when not graded.
    cells: list[CellRecord] = field(default_factory=list)
    # The file graded (name as submitted, late, attempt); None for a grade not from a file.
    source: Found | None = None

    @property
    def needs_review(self) -> bool:
        return self.status in ("error", "flagged", "timeout", "unreadable")


def _number(value: float) -> str:
    return f"{value:g}"


def grades_csv(outcomes: list[Outcome]) -> str:
    """CSV text, one row per student and lesson, sorted naturally."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for o in sorted(outcomes, key=lambda o: (natural_key(o.student), natural_key(o.lesson))):
        writer.writerow([o.student, o.lesson, _number(o.score), _number(o.max_score), o.status])
    return buffer.getvalue()


def write_grades(out: Path, outcomes: list[Outcome]) -> tuple[Path, Path | None]:
    """Write ``out/grades.csv``; an existing file with other content is kept as ``grades.<time>.csv``.

    Returns the path written and the backup (``None`` when nothing was moved).
    """
    out.mkdir(parents=True, exist_ok=True)
    target = out / "grades.csv"
    text = grades_csv(outcomes)
    backup = None
    if target.exists():
        if target.read_text() == text:
            return target, None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = out / f"grades.{stamp}.csv"
        n = 1
        while backup.exists():
            backup, n = out / f"grades.{stamp}-{n}.csv", n + 1
        target.rename(backup)
    target.write_text(text)
    return target, backup


def summary(outcomes: list[Outcome], lessons: list[str]) -> str:
    """A table: one row per student, one column per lesson (score/max), a total, then the notes."""
    students = sorted({o.student for o in outcomes}, key=natural_key)
    by_key = {(o.student, o.lesson): o for o in outcomes}
    marks = {"missing": " -", "timeout": " T", "error": " !", "flagged": " F", "unreadable": " ?"}
    header = ["student", *lessons, "total"]
    rows = []
    for student in students:
        cells, total, best = [], 0.0, 0.0
        for lesson in lessons:
            o = by_key.get((student, lesson))
            if o is None:
                cells.append("")
                continue
            total, best = total + o.score, best + o.max_score
            cells.append(f"{_number(o.score)}/{_number(o.max_score)}{marks.get(o.status, '')}")
        rows.append([student, *cells, f"{_number(total)}/{_number(best)}"])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    legend = "  ".join(f"{m.strip()} {s}" for s, m in marks.items())
    lines.append(f"({legend})")
    for o in sorted(outcomes, key=lambda o: (natural_key(o.student), natural_key(o.lesson))):
        for note in o.notes:
            lines.append(f"{o.student} {o.lesson}: {note}")
    return "\n".join(lines)
