"""Grading records: for each graded cell, passed or not, and the misconception its checker named.

The worker reads the autograded notebook (before it is made safe to show)
and keeps, per graded cell, only what a student may see anyway: the
exercise's name and lesson section (from the released notebook), the score,
and, as the kernel's guard found them and signed them (``guard.failure``, never
read from error text): the registered misconception id the course's checker
named, and whether the cell failed only in its hidden tests, after its visible
check passed (the feedback a student saw before submitting said it was right).
Hidden-test text, tracebacks and error messages are never stored. Records are
``CellRecord`` objects, checked once where they come in (``CellRecord.from_json``).

``course grade`` writes the records of a class to ``OUT/records.jsonl``
(``grader.books.results.write_records``); ``course report`` reads them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass

from course_utils.checks import MISCONCEPTION_ID
from grader.job.cells import HIDDEN
from grader.job.cells import nbgrader_meta as _meta
from grader.job.cells import source as _source

# "### Exercise 1 (2 points): read the numbers" -> "Exercise 1: read the numbers"
_POINTS = re.compile(r"\s*\(\s*\d+(?:\.\d+)?\s+points?\s*\)\s*", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BOLD_LEAD = re.compile(r"^\s*\*\*(.+?)\*\*")  # "**Question 1 (1 point).** What happens?"
MAX_NAME = 120


def _clean(heading: str) -> str:
    text = _POINTS.sub(" ", heading).strip()
    text = re.sub(r"\s+:", ":", text)
    text = re.sub(r"\*\*|`", "", text)  # markdown bold and code marks, not part of the name
    return re.sub(r"\s+", " ", text)[:MAX_NAME]


def exercise_names(released) -> dict[str, tuple[str, str]]:
    """For each graded cell of a released notebook: (exercise name, lesson section).

    The exercise is named by the last heading before its answer cell
    ("Exercise 1 — split a model into backbone and head"), or by a bold lead
    ("**Question 1 (1 point).** ...") where no heading names this exercise; the
    section by the last level-1 or level-2 heading ("1. Backbone and head").
    Answer cells under one name become its parts ("..., part 2 of 3"); a cell
    before any heading is named by its grade id.
    """
    answers: list[tuple[str, str]] = []  # (name, section) per answer cell, in order
    graded: dict[str, int | None] = {}  # grade id -> index of its answer cell
    heading, section = "", ""
    specific = False  # the heading names one exercise (not a section, not used by an answer yet)
    for cell in released["cells"]:
        meta = _meta(cell)
        if cell.get("cell_type") == "markdown":
            text = _source(cell)
            for level, title in _HEADING.findall(text):
                heading, specific = _clean(title), len(level) > 2
                if len(level) <= 2:
                    section = heading
            lead = _BOLD_LEAD.match(text)
            if lead and not specific:
                heading, specific = _clean(lead.group(1)).rstrip(".:").strip(), True
        if meta.get("solution"):
            answers.append((heading or meta.get("grade_id", ""), section))
            specific = False
        if meta.get("grade") and meta.get("grade_id"):
            graded[meta["grade_id"]] = len(answers) - 1 if answers else None
    counts = Counter(name for name, _ in answers)
    seen: Counter = Counter()
    parts: list[str] = []
    for name, _ in answers:
        seen[name] += 1
        parts.append(name if counts[name] == 1 else f"{name}, part {seen[name]} of {counts[name]}")
    return {
        grade_id: (parts[i], answers[i][1]) if i is not None else (grade_id, section)
        for grade_id, i in graded.items()
    }


def hidden_begins(cell) -> int | None:
    """The line (1-based) of a test cell where its hidden block begins, or ``None``."""
    lines = _source(cell).splitlines()
    return next((n for n, line in enumerate(lines, start=1) if HIDDEN[0] in line), None)


def cell_records(graded, released, scores: list[dict], failures: dict) -> list[CellRecord]:
    """Per graded cell: grade id, exercise, section, score, max score, passed, misconception id,
    and ``hidden_only``: it failed in its hidden tests after its visible check passed.

    ``graded`` is the autograded notebook, ``released`` the student version,
    ``scores`` the gradebook's ``{"grade_id", "score", "max_score"}`` per cell and
    ``failures`` how each failed test cell failed, by grade id, as the guard signed it
    (``{"line", "misconception"}``, see ``guard.failure``): nothing is read from a
    cell's error text.
    """
    names = exercise_names(released)
    by_id = {_meta(c).get("grade_id"): c for c in graded["cells"] if _meta(c).get("grade")}
    order = {grade_id: i for i, grade_id in enumerate(names)}  # notebook order, not the gradebook's
    records = []
    for item in sorted(scores, key=lambda s: (order.get(s["grade_id"], len(order)), s["grade_id"])):
        grade_id = item["grade_id"]
        score, max_score = float(item["score"] or 0), float(item["max_score"] or 0)
        passed = score >= max_score
        misconception, hidden_only = None, False
        cell, failed = by_id.get(grade_id), failures.get(grade_id)
        if not passed and cell is not None and isinstance(failed, dict):
            misconception = failed.get("misconception")
            begin, line = hidden_begins(cell), failed.get("line")
            hidden_only = begin is not None and isinstance(line, int) and line > begin
        exercise, section = names.get(grade_id, (grade_id, ""))
        records.append(
            CellRecord(
                grade_id, exercise, section, score, max_score, passed, misconception, hidden_only
            )
        )
    return records


@dataclass(frozen=True)
class CellRecord:
    """One graded cell's record: only what a student may see anyway (no test text)."""

    grade_id: str
    exercise: str
    section: str
    score: float
    max_score: float
    passed: bool
    misconception: str | None = None  # a registered id (``lesson4.typed_in_features``)
    hidden_only: bool = False  # failed in its hidden tests after its visible check passed

    @classmethod
    def from_json(cls, item: object) -> CellRecord | None:
        """A record from JSON the grader does not trust (a job's result, a file), checked field
        by field; ``None`` for what is no record. The one place records are validated."""
        if not isinstance(item, dict) or not isinstance(item.get("grade_id"), str):
            return None
        named = item.get("misconception")
        passed = bool(item.get("passed"))
        try:
            score, max_score = float(item.get("score") or 0), float(item.get("max_score") or 0)
        except (TypeError, ValueError):
            return None
        return cls(
            grade_id=item["grade_id"][:MAX_NAME],
            exercise=str(item.get("exercise") or item["grade_id"])[:MAX_NAME],
            section=str(item.get("section") or "")[:MAX_NAME],
            score=score,
            max_score=max_score,
            passed=passed,
            misconception=named
            if isinstance(named, str) and MISCONCEPTION_ID.match(named)
            else None,
            hidden_only=item.get("hidden_only") is True and not passed,
        )

    def to_json(self) -> dict:
        return asdict(self)


def clean_records(cells: object) -> list[CellRecord]:
    """The records in ``cells`` (untrusted JSON), checked once; what is no record is dropped."""
    if not isinstance(cells, list):
        return []
    return [r for r in map(CellRecord.from_json, cells) if r is not None]
