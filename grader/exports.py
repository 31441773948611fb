"""What ``course grades`` writes from the gradebook: tables, LMS import files, feedback to return.

Every roster student appears in every table; work never graded counts 0
and is named in the ``missing`` column (``status`` ``missing`` in the long
table). Overrides apply on top of the gradebook.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import natural_key
from grader.gradebook import Override, Row
from grader.roster import Roster, norm

ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same feedback gives the same zip bytes


@dataclass
class Entry:
    """The grade that is exported: gradebook row plus overrides."""

    score: float
    max_score: float
    status: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Table:
    students: list[str]
    lessons: list[str]
    entries: dict[tuple[str, str], Entry]
    max_scores: dict[str, float]
    unlisted: list[str]  # in the gradebook but not on the roster


def _fmt(value: float) -> str:
    return f"{value:g}"


def _pct(score: float, best: float) -> str:
    return f"{100 * score / best:.1f}" if best else ""


def build(
    rows: dict[tuple[str, str], Row], roster: Roster | None, overrides: list[Override]
) -> Table:
    """Combine gradebook ``rows``, the roster and ``overrides`` into one table.

    Raises ValueError for an override naming a student or lesson the table lacks.
    """
    lessons = sorted({lesson for _, lesson in rows}, key=natural_key)
    max_scores: dict[str, float] = {}
    for (_, lesson), row in rows.items():
        max_scores[lesson] = max(max_scores.get(lesson, 0.0), row.max_score)
    graded = sorted({s for s, _ in rows}, key=natural_key)
    listed = roster.ids if roster else []
    unlisted = [s for s in graded if roster and s not in listed]
    students = listed + unlisted if roster else graded
    entries = {}
    for s in students:
        for lesson in lessons:
            recorded = rows.get((s, lesson))
            if recorded is None:
                entries[(s, lesson)] = Entry(0.0, max_scores[lesson], "missing")
            else:
                entries[(s, lesson)] = Entry(
                    recorded.score,
                    recorded.max_score,
                    recorded.status,
                    ["late"] if recorded.late else [],
                )
    for o in overrides:
        entry = entries.get((o.student_id, o.assignment))
        if entry is None:
            raise ValueError(
                f"{o.origin}: no grade for student {o.student_id!r} and lesson "
                f"{o.assignment!r} (students: {', '.join(students[:5])}...; lessons: "
                f"{', '.join(lessons)}); fix the row"
            )
        before = entry.score
        entry.score = o.score if o.score is not None else entry.score + (o.adjust or 0.0)
        entry.status = "override"
        entry.notes.append(
            f"{_fmt(before)} -> {_fmt(entry.score)}" + (f" ({o.comment})" if o.comment else "")
        )
    return Table(students, lessons, entries, max_scores, unlisted)


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def long_csv(t: Table) -> str:
    """``student_id,assignment,score,max_score,status``: one row per student and lesson."""
    rows = [["student_id", "assignment", "score", "max_score", "status"]]
    for s in t.students:
        for lesson in t.lessons:
            e = t.entries[(s, lesson)]
            rows.append([s, lesson, _fmt(e.score), _fmt(e.max_score), e.status])
    return _csv(rows)


def _name(roster: Roster | None, s: str) -> str:
    student = roster.get(s) if roster else None
    return student.name if student else ""


def wide_csv(t: Table, roster: Roster | None) -> str:
    """One row per student: points per lesson, total, percentages, what is missing, notes."""
    header = [
        "student_id",
        "name",
        *t.lessons,
        "total",
        "max_total",
        "percent",
        *(f"{lesson} %" for lesson in t.lessons),
        "missing",
        "notes",
    ]
    rows = [header]
    for s in t.students:
        es = [t.entries[(s, lesson)] for lesson in t.lessons]
        total, best = sum(e.score for e in es), sum(e.max_score for e in es)
        missing = [lesson for lesson, e in zip(t.lessons, es, strict=True) if e.status == "missing"]
        notes = [f"{lesson}: {n}" for lesson, e in zip(t.lessons, es, strict=True) for n in e.notes]
        if s in t.unlisted:
            notes.insert(0, "not on the roster")
        rows.append(
            [
                s,
                _name(roster, s),
                *(_fmt(e.score) for e in es),
                _fmt(total),
                _fmt(best),
                _pct(total, best),
                *(_pct(e.score, e.max_score) for e in es),
                " ".join(missing),
                "; ".join(notes),
            ]
        )
    return _csv(rows)


def _canvas_column(lesson: str, roster: Roster | None) -> str:
    """The roster's own Canvas column for ``lesson`` (``Lesson 6 (98765)``), else the lesson name."""
    for column in roster.columns if roster and roster.kind == "canvas" else []:
        if norm(re.sub(r"\s*\(\d+\)$", "", column)) == norm(lesson):
            return column
    return lesson


def canvas_csv(t: Table, roster: Roster | None) -> str:
    """A file for Canvas: Grades > Import. Students are matched by ID, SIS User ID or SIS Login ID."""
    columns = [_canvas_column(lesson, roster) for lesson in t.lessons]
    rows = [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns],
        ["Points Possible", "", "", "", "", *(_fmt(t.max_scores[x]) for x in t.lessons)],
    ]
    for s in t.students:
        student = roster.get(s) if roster else None
        if student and roster and roster.kind == "canvas":
            ids = [
                student.lms.get(c, "")
                for c in ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
            ]
        else:  # no Canvas ids known: Canvas matches on the SIS User ID, so use the student id
            ids = [_name(roster, s) or s, "", s, "", ""]
        rows.append([*ids, *(_fmt(t.entries[(s, lesson)].score) for lesson in t.lessons)])
    return _csv(rows)


def moodle_csv(t: Table, roster: Roster | None) -> str:
    """A file for Moodle: Grades > Import > CSV file. Map ``Email address`` or ``ID number`` to users."""
    rows = [["First name", "Last name", "ID number", "Email address", *t.lessons]]
    for s in t.students:
        student = roster.get(s) if roster else None
        if student and roster and roster.kind == "moodle":
            first, last = student.lms.get("First name", ""), student.lms.get("Last name", "")
            ident = student.lms.get("ID number", "")
        else:
            first, _, last = (student.name if student else "").partition(" ")
            ident = s
        email = student.email if student else ""
        rows.append(
            [
                first,
                last,
                ident,
                email,
                *(_fmt(t.entries[(s, lesson)].score) for lesson in t.lessons),
            ]
        )
    return _csv(rows)


def _write_zip(target: Path, members: list[tuple[str, bytes]]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(members):
            zf.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    tmp.replace(target)


MOODLE_FOLDER = re.compile(r"^.+_\d+_assignsubmission_file_")


def package_feedback(out: Path, rows: dict[tuple[str, str], Row]) -> list[Path]:
    """Zip ``out/feedback/`` for return: ``out/return/<student>.zip`` with that student's pages,
    and, for lessons submitted through Moodle, ``out/return/moodle-<lesson>.zip`` laid out for
    Moodle's "Upload multiple feedback files in a zip" (the folders of its download)."""
    feedback = Path(out) / "feedback"
    written: list[Path] = []
    if not feedback.is_dir():
        return written
    moodle: dict[str, list[tuple[str, bytes]]] = {}
    for folder in sorted(p for p in feedback.iterdir() if p.is_dir()):
        pages = sorted(folder.glob("*.html"))
        if not pages:
            continue
        target = Path(out) / "return" / f"{folder.name}.zip"
        _write_zip(target, [(f"{folder.name}/{p.name}", p.read_bytes()) for p in pages])
        written.append(target)
        for page in pages:
            row = rows.get((folder.name, page.stem))
            parts = re.split(r"[/\\:]", row.source) if row else []
            found = next((m for m in map(MOODLE_FOLDER.match, parts) if m), None)
            if found:
                name = found.group()
                moodle.setdefault(page.stem, []).append((f"{name}/{page.name}", page.read_bytes()))
    for lesson, members in sorted(moodle.items()):
        target = Path(out) / "return" / f"moodle-{lesson}.zip"
        _write_zip(target, members)
        written.append(target)
    return written


def canvas_points_mismatch(t: Table, roster: Roster | None) -> list[str]:
    """Lessons whose Canvas column (in the roster's ``Points Possible`` row) has other points."""
    problems = []
    for lesson in t.lessons:
        column = _canvas_column(lesson, roster)
        given = roster.points.get(column, "") if roster else ""
        try:
            differs = given and float(given) != t.max_scores[lesson]
        except ValueError:
            continue
        if differs:
            problems.append(
                f"Canvas column {column!r} is worth {given} points, {lesson} "
                f"{_fmt(t.max_scores[lesson])}: set the assignment to "
                f"{_fmt(t.max_scores[lesson])} points in Canvas before importing"
            )
    return problems
