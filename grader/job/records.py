"""Grading records: for each graded cell, passed or not, and the misconception its checker named.

The worker reads the autograded notebook (before it is made safe to show)
and keeps, per graded cell, only what a student may see anyway: the
exercise's name and lesson section (from the released notebook), the score
and the registered misconception id the error message ends with
(``Review: <section> [<id>]``, see ``course_utils.checks._feedback``), and
whether the cell failed only in its hidden tests, after its visible check
passed (the feedback a student saw before submitting said it was right).
Hidden-test text, tracebacks and error messages are never stored.

``course grade`` writes the records of a class to ``OUT/records.jsonl``
(``grader.books.results.write_records``); ``course report`` reads them.
"""

from __future__ import annotations

import re
from collections import Counter

from course_utils.checks._feedback import MISCONCEPTION_ID, REVIEW_LINE
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


def named_misconception(text: str) -> str | None:
    """The misconception id a failed check's message ends with, or ``None``.

    The checker appends its ``Review:`` line last; an earlier one can only be
    text the student's own code put into the message, so the last one counts.
    """
    found = [m.group("id") for m in REVIEW_LINE.finditer(text)]
    return found[-1] if found else None


def _failed_output(cell) -> str | None:
    """The error message of a graded cell, "" when it failed without one, None when it passed."""
    failed = None
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return str(output.get("evalue", ""))
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            failed = ""  # nbgrader scores a test cell that writes to stderr 0
    return failed


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Between the tracebacks of chained exceptions; the last traceback is of the error raised.
_CHAINED = re.compile(
    r"During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:"
)


def failed_in_hidden_tests(cell) -> bool:
    """Whether a test cell's visible check ran through and its hidden tests raised.

    Read from the line of this cell that IPython's traceback names ("Cell
    In[12], line 9", in the traceback of the error raised, not of an error it
    chains), against where the hidden block begins; ``False`` when the cell has
    no hidden block or its error names no line (a timeout, a restarted kernel,
    output on stderr).
    """
    lines = _source(cell).splitlines()
    begin = next((n for n, line in enumerate(lines, start=1) if HIDDEN[0] in line), None)
    if begin is None:
        return False
    count = cell.get("execution_count")
    number = str(count) if isinstance(count, int) else r"\d+"
    here = re.compile(r"^Cell In\[" + number + r"\], line (\d+)", re.MULTILINE)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = _ANSI.sub("", "\n".join(map(str, output.get("traceback", []))))
            found = here.search(_CHAINED.split(text)[-1])
            return found is not None and int(found.group(1)) > begin
    return False


def cell_records(graded, released, scores: list[dict]) -> list[dict]:
    """Per graded cell: grade id, exercise, section, score, max score, passed, misconception id,
    and ``hidden_only``: it failed in its hidden tests after its visible check passed.

    ``graded`` is the autograded notebook, ``released`` the student version,
    ``scores`` the gradebook's ``{"grade_id", "score", "max_score"}`` per cell.
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
        cell = by_id.get(grade_id)
        if not passed and cell is not None:
            message = _failed_output(cell)
            misconception = named_misconception(message) if message else None
            hidden_only = failed_in_hidden_tests(cell)
        exercise, section = names.get(grade_id, (grade_id, ""))
        records.append(
            {
                "grade_id": grade_id,
                "exercise": exercise,
                "section": section,
                "score": score,
                "max_score": max_score,
                "passed": passed,
                "misconception": misconception,
                "hidden_only": hidden_only,
            }
        )
    return records


def clean_records(cells: object) -> list[dict]:
    """The worker's records, checked field by field (the parent trusts no free text in them)."""
    if not isinstance(cells, list):
        return []
    kept = []
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("grade_id"), str):
            continue
        named = cell.get("misconception")
        kept.append(
            {
                "grade_id": cell["grade_id"][:MAX_NAME],
                "exercise": str(cell.get("exercise") or cell["grade_id"])[:MAX_NAME],
                "section": str(cell.get("section") or "")[:MAX_NAME],
                "score": float(cell.get("score") or 0),
                "max_score": float(cell.get("max_score") or 0),
                "passed": bool(cell.get("passed")),
                "misconception": named
                if isinstance(named, str) and MISCONCEPTION_ID.match(named)
                else None,
                "hidden_only": cell.get("hidden_only") is True and not cell.get("passed"),
            }
        )
    return kept
