"""Grades of a class: ``grades.csv`` (never silently replaced), ``records.jsonl`` and the printed summary.

``course grade`` writes the records of a class (``grader.job.records``: per graded
cell, passed or not and the misconception its checker named) to
``OUT/records.jsonl``, one JSON object per student and lesson; ``course report``
reads them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from grader._common import natural_key, number
from grader.books.gradebook import keep_aside
from grader.job.records import clean_records

# ``status`` says which grades need a person (``flagged``, ``timeout``...): see ``Outcome``.
COLUMNS = ("student_id", "assignment", "score", "max_score", "status")
RECORDS = "records.jsonl"


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
    # Per graded cell (see grader.job.records.cell_records); empty when not graded.
    cells: list[dict] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return self.status in ("error", "flagged", "timeout", "unreadable")


def grades_csv(outcomes: list[Outcome]) -> str:
    """CSV text, one row per student and lesson, sorted naturally."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for o in sorted(outcomes, key=lambda o: (natural_key(o.student), natural_key(o.lesson))):
        writer.writerow([o.student, o.lesson, number(o.score), number(o.max_score), o.status])
    return buffer.getvalue()


def write_grades(out: Path, outcomes: list[Outcome]) -> tuple[Path, Path | None]:
    """Write ``out/grades.csv``; an existing file with other content is first copied to
    ``out/history/grades.<time>.csv`` (``gradebook.keep_aside``, the one backup policy of
    every file ``course grade`` rewrites).

    Returns the path written and the backup (``None`` when nothing was kept aside).
    """
    out.mkdir(parents=True, exist_ok=True)
    target = out / "grades.csv"
    text = grades_csv(outcomes)
    if target.exists() and target.read_text() == text:
        return target, None
    backup = keep_aside(target, text)
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
            cells.append(f"{number(o.score)}/{number(o.max_score)}{marks.get(o.status, '')}")
        rows.append([student, *cells, f"{number(total)}/{number(best)}"])
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


def record_of(outcome) -> dict:
    """The record of one graded notebook (a ``results.Outcome``): status, score and its cells."""
    return {
        "student": outcome.student,
        "lesson": outcome.lesson,
        "status": outcome.status,
        "score": outcome.score,
        "max_score": outcome.max_score,
        "cells": clean_records(getattr(outcome, "cells", [])),
    }


def records_text(records: list[dict]) -> str:
    """``records.jsonl`` text: one line per student and lesson, in a stable order."""
    ordered = sorted(records, key=lambda r: (natural_key(r["student"]), natural_key(r["lesson"])))
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in ordered)


def write_records(out: Path, outcomes) -> tuple[Path, Path | None]:
    """Add this run's records to ``out/records.jsonl``, like the gradebook accumulates grades.

    A notebook graded again replaces its record; records of other students and
    lessons (earlier weeks) stay. The previous file, when it differs, is kept
    in ``out/history/`` first.
    """
    out.mkdir(parents=True, exist_ok=True)
    target = out / RECORDS
    fresh = {(o.student, o.lesson): record_of(o) for o in outcomes}
    try:
        earlier = read_records(out) or []
    except ValueError:
        earlier = []  # unreadable: kept aside below, replaced by this run's records
    kept = [r for r in earlier if (r["student"], r["lesson"]) not in fresh]
    text = records_text(kept + list(fresh.values()))
    backup = keep_aside(target, text)
    target.write_text(text)
    return target, backup


def read_records(out: Path) -> list[dict] | None:
    """The records of a grading output folder, or ``None`` when it has none (an older run)."""
    path = Path(out) / RECORDS
    if not path.exists():
        return None
    found = []
    for at, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ValueError(
                f"{path}, line {at}: not JSON ({exc}); grade again to rewrite it"
            ) from exc
        if not isinstance(item, dict) or not {"student", "lesson", "status"} <= item.keys():
            raise ValueError(f"{path}, line {at}: not a grading record; grade again to rewrite it")
        item["cells"] = clean_records(item.get("cells"))
        found.append(item)
    return found
