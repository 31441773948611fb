"""What ``course grades`` writes from the gradebook: tables, LMS import files, feedback to return.

Every roster student appears in every table; work never graded counts 0
and is named in the ``missing`` column (``status`` ``missing`` in the long
table), and is left blank in the LMS import files (the LMS keeps what it
holds) unless asked for 0. Overrides apply on top of the gradebook under
their policy (``gradebook.Override``) and are shown on the feedback pages.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader._common import natural_key, number
from grader.books.gradebook import Override, Row
from grader.books.roster import Roster, norm

ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same feedback gives the same zip bytes


@dataclass
class Entry:
    """The grade that is exported: gradebook row plus overrides."""

    score: float
    max_score: float
    status: str
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Applied:
    """One override as applied: the grade before and after it, and what it says."""

    student: str
    lesson: str
    before: float
    after: float
    rule: str  # "at least 5", "fixed at 5", "+1"
    comment: str
    origin: str

    def describe(self) -> str:
        """``4 -> 3 (-1: late penalty)``."""
        why = f"{self.rule}: {self.comment}" if self.comment else self.rule
        return f"{number(self.before)} -> {number(self.after)} ({why})"


@dataclass
class Table:
    students: list[str]
    lessons: list[str]
    entries: dict[tuple[str, str], Entry]
    max_scores: dict[str, float]
    unlisted: list[str]  # in the gradebook but not on the roster
    applied: list[Applied] = field(default_factory=list)
    capped: list[str] = field(default_factory=list)  # fixed overrides below the gradebook's grade


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
    applied, capped = [], []
    for o in overrides:
        entry = entries.get((o.student_id, o.assignment))
        if entry is None:
            raise ValueError(
                f"{o.origin}: no grade for student {o.student_id!r} and lesson "
                f"{o.assignment!r} (students: {', '.join(students[:5])}...; lessons: "
                f"{', '.join(lessons)}); fix the row"
            )
        before = entry.score
        if o.score is None:
            entry.score, rule = entry.score + (o.adjust or 0.0), f"{o.adjust or 0.0:+g}"
        elif o.policy == "fixed":
            entry.score, rule = o.score, f"fixed at {number(o.score)}"
            if before > o.score:
                recorded = rows.get((o.student_id, o.assignment))
                capped.append(
                    f"{o.origin}: {o.student_id} {o.assignment} is fixed at {number(o.score)}, "
                    f"below the gradebook's {number(before)}"
                    + (f" (graded {recorded.graded_at})" if recorded and recorded.graded_at else "")
                    + "; set its policy to min (or remove the row) to let the higher grade count"
                )
        else:  # "min": a floor; a later, higher grade in the gradebook wins
            entry.score, rule = max(before, o.score), f"at least {number(o.score)}"
        a = Applied(o.student_id, o.assignment, before, entry.score, rule, o.comment, o.origin)
        applied.append(a)
        if entry.score != before or o.policy == "fixed":
            entry.status = "override"
        entry.notes.append(a.describe())
    return Table(students, lessons, entries, max_scores, unlisted, applied, capped)


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
            rows.append([s, lesson, number(e.score), number(e.max_score), e.status])
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
                *(number(e.score) for e in es),
                number(total),
                number(best),
                _pct(total, best),
                *(_pct(e.score, e.max_score) for e in es),
                " ".join(missing),
                "; ".join(notes),
            ]
        )
    return _csv(rows)


CANVAS_COLUMNS = "canvas_columns.csv"
CANVAS_ID = re.compile(r"\(\d+\)\s*$")  # Canvas heads an assignment's column "Name (id)"


def load_canvas_columns(path: Path, roster: Roster | None = None) -> dict[str, str]:
    """Read ``lesson,column`` rows: which Canvas gradebook column each lesson's grades go to.

    ``column`` as Canvas's export heads it, id included (``Week 1: Swap the head (4401)``).
    With a Canvas roster, a column it lacks is refused, naming the ones it has.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--canvas-columns {path}: no such file (write lesson,column rows)")
    mapping: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not {"lesson", "column"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: header must be lesson,column; got {reader.fieldnames}")
        for line, raw in enumerate(reader, start=2):
            lesson, column = (raw["lesson"] or "").strip(), (raw["column"] or "").strip()
            if not lesson and not column:
                continue
            if not lesson or not column:
                raise ValueError(f"{path} line {line}: give both a lesson and a column")
            if lesson in mapping:
                raise ValueError(f"{path} line {line}: {lesson} is mapped twice; keep one row")
            if roster and roster.kind == "canvas" and column not in roster.columns:
                theirs = [c for c in roster.columns if CANVAS_ID.search(c)]
                raise ValueError(
                    f"{path} line {line}: the Canvas roster has no column {column!r}; its "
                    f"assignment columns are: {', '.join(map(repr, theirs)) or 'none'}"
                )
            mapping[lesson] = column
    return mapping


def _canvas_column(
    lesson: str, roster: Roster | None, columns: dict[str, str] | None = None
) -> str:
    """The column ``columns`` maps ``lesson`` to; else the roster's own Canvas column named after
    the lesson (``Lesson 6 (98765)``); else the lesson name (a new assignment to Canvas)."""
    if columns and lesson in columns:
        return columns[lesson]
    for column in roster.columns if roster and roster.kind == "canvas" else []:
        if norm(CANVAS_ID.sub("", column)) == norm(lesson):
            return column
    return lesson


def canvas_column_warnings(
    t: Table, roster: Roster | None, columns: dict[str, str] | None = None
) -> list[str]:
    """One line per lesson whose Canvas column names no existing assignment, and per unused map row.

    Only for a Canvas course (a Canvas roster, or a column map): a Moodle class is not told.
    """
    problems: list[str] = []
    if not columns and not (roster and roster.kind == "canvas"):
        return problems
    for lesson in t.lessons:
        column = _canvas_column(lesson, roster, columns)
        if not CANVAS_ID.search(column):
            problems.append(
                f"{lesson} has no Canvas column: canvas_import.csv heads it {column!r}, which "
                "Canvas imports as a NEW assignment; map it to its column, id included, in "
                f"OUT/{CANVAS_COLUMNS} (lesson,column) or --canvas-columns"
            )
    for lesson in sorted(set(columns or ()) - set(t.lessons), key=natural_key):
        problems.append(f"{CANVAS_COLUMNS}: {lesson} is not in the gradebook (a typo?)")
    return problems


def _score(e: Entry, missing_zero: bool) -> str:
    """An import file's cell: blank for work never graded (the LMS keeps what it has) unless
    ``missing_zero``."""
    return "" if e.status == "missing" and not missing_zero else number(e.score)


def canvas_csv(
    t: Table,
    roster: Roster | None,
    columns: dict[str, str] | None = None,
    missing_zero: bool = False,
) -> str:
    """A file for Canvas: Grades > Import. Students are matched by ID, SIS User ID or SIS Login ID.

    Missing work is left blank (Canvas then keeps what it holds: excused, graded by hand)
    unless ``missing_zero``.
    """
    columns_out = [_canvas_column(lesson, roster, columns) for lesson in t.lessons]
    rows = [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns_out],
        ["Points Possible", "", "", "", "", *(number(t.max_scores[x]) for x in t.lessons)],
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
        rows.append([*ids, *(_score(t.entries[(s, lesson)], missing_zero) for lesson in t.lessons)])
    return _csv(rows)


def moodle_csv(t: Table, roster: Roster | None, missing_zero: bool = False) -> str:
    """A file for Moodle: Grades > Import > CSV file. Map ``Email address`` or ``ID number`` to users.

    Missing work is left blank unless ``missing_zero``, as for Canvas.
    """
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
                *(_score(t.entries[(s, lesson)], missing_zero) for lesson in t.lessons),
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


GRADE_START = "<!-- course grades: your grade -->"
GRADE_END = "<!-- end of your grade -->"


def set_block(page: str, start: str, end: str, block: str | None, top: bool = False) -> str:
    """``page`` with ``block`` (delimited by the comments ``start`` and ``end``) at the end of
    its body (``top``: at its start); a block added earlier is replaced, not repeated;
    ``None`` removes it."""
    at = page.find(start)
    if at != -1:
        stop = page.find(end, at)
        if stop == -1:
            raise ValueError(
                f"the feedback page has {start} but not {end}: remove the block by hand, "
                "then run the command again"
            )
        page = page[:at].rstrip("\n") + "\n" + page[stop + len(end) :].lstrip("\n")
    if block is None:
        return page
    if top:
        opened = re.search(r"<body[^>]*>", page, re.IGNORECASE)
        if opened:
            return page[: opened.end()] + "\n" + block + "\n" + page[opened.end() :]
        return block + "\n" + page
    close = page.lower().rfind("</body>")
    if close == -1:
        return page.rstrip("\n") + "\n" + block + "\n"
    return page[:close] + block + "\n" + page[close:]


def grade_block(entry: Entry, applied: list[Applied], automatic: float, late: bool) -> str:
    """What the student reads at the top of their feedback page when the grade that counts is
    not simply the automatic score: late work, and each override with its comment."""
    from html import escape

    lines = [f"<p>Automatic score (below): {number(automatic)} / {number(entry.max_score)}.</p>"]
    if late:
        lines.append("<p>Submitted late (the LMS marked it so).</p>")
    if applied:
        items = "".join(
            f"<li>{escape(a.rule)}" + (f": {escape(a.comment)}" if a.comment else "") + "</li>"
            for a in applied
        )
        lines.append(f"<p>Set by your instructor:</p>\n<ul>{items}</ul>")
    lines.append(
        f"<p><b>Final grade: {number(entry.score)} / {number(entry.max_score)}</b> "
        "(what the course gradebook records).</p>"
    )
    return (
        f'{GRADE_START}\n<section id="course-grade" style="margin:1em auto;max-width:60em;'
        "padding:1em 1.5em;border:2px solid #6a1b9a;border-radius:6px;background:#f3e5f5;"
        'font-family:sans-serif">\n<h2 style="margin-top:0">Your grade</h2>\n'
        + "\n".join(lines)
        + f"\n</section>\n{GRADE_END}"
    )


def mark_grades(out: Path, t: Table, rows: dict[tuple[str, str], Row]) -> list[Path]:
    """Put the final grade on each feedback page where it is not simply the automatic score
    (an override, late work), and take a stale block off. Returns the pages changed."""
    changed = []
    by_page: dict[tuple[str, str], list[Applied]] = {}
    for a in t.applied:
        by_page.setdefault((a.student, a.lesson), []).append(a)
    for page in sorted(Path(out, "feedback").glob("*/*.html")):
        key = (page.parent.name, page.stem)
        applied, row = by_page.get(key, []), rows.get(key)
        late = bool(row and row.late)
        block = None
        if (applied or late) and key in t.entries and row is not None:
            block = grade_block(t.entries[key], applied, row.score, late)
        text = page.read_text(encoding="utf-8")
        new = set_block(text, GRADE_START, GRADE_END, block, top=True)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed


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


def canvas_points_mismatch(
    t: Table, roster: Roster | None, columns: dict[str, str] | None = None
) -> list[str]:
    """Lessons whose Canvas column (in the roster's ``Points Possible`` row) has other points."""
    problems = []
    for lesson in t.lessons:
        column = _canvas_column(lesson, roster, columns)
        given = roster.points.get(column, "") if roster else ""
        try:
            differs = given and float(given) != t.max_scores[lesson]
        except ValueError:
            continue
        if differs:
            problems.append(
                f"Canvas column {column!r} is worth {given} points, {lesson} "
                f"{number(t.max_scores[lesson])}: set the assignment to "
                f"{number(t.max_scores[lesson])} points in Canvas before importing"
            )
    return problems
