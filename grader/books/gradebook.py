"""The course gradebook: every grade ``course grade`` gave, lesson after lesson, in one CSV.

``OUT/gradebook.csv`` (beside ``grades.csv``) has one row per student and
lesson: ``student_id, assignment, score, max_score, status, graded_at,
source, late, attempt``. Each ``course grade --out OUT`` run merges into it:

- a notebook graded in this run replaces that student's row for that lesson,
  unless the row grades a newer attempt (``newer``: Canvas attachment ids,
  Blackboard and nbgrader times); then the row is kept and the run says so;
- a student with nothing submitted gets a ``missing`` row (0 points) only
  where the gradebook has no row yet: a later run without their file never
  erases a grade they already have;
- every other row is left as it was.

The previous version is kept in ``OUT/history/`` whenever the file changes.
Do not edit ``gradebook.csv`` by hand: put corrections in
``OUT/overrides.csv`` (see ``load_overrides``: an ``adjust``, or a ``score``
that is a minimum or, with policy ``fixed``, the grade), which ``course grades``
applies on top and no run of ``course grade`` touches. grader/README.md,
"The course gradebook and overrides", is the instructor's account of all this.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from grader._common import natural_key, number

GRADEBOOK = "gradebook.csv"
OVERRIDES = "overrides.csv"
COLUMNS = (
    "student_id",
    "assignment",
    "score",
    "max_score",
    "status",
    "graded_at",
    "source",
    "late",
    "attempt",
)
OLD_COLUMNS = COLUMNS[:-1]  # before attempts were recorded: read as attempt ""
OVERRIDE_COLUMNS = ("student_id", "assignment", "score", "adjust", "policy", "comment")
POLICIES = ("min", "fixed")


@dataclass
class Row:
    """One student's grade for one lesson, as recorded."""

    student_id: str
    assignment: str
    score: float
    max_score: float
    status: str = "graded"
    graded_at: str = ""
    source: str = ""  # the submitted file, as the instructor named it
    late: str = ""  # "late" when the LMS marked it so
    attempt: str = ""  # which attempt was graded (``layout.attempt_of``): "" when unknown


def load(out: Path) -> dict[tuple[str, str], Row]:
    """The gradebook in ``out`` ({} when there is none yet)."""
    path = Path(out) / GRADEBOOK
    if not path.exists():
        return {}
    rows = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) not in (COLUMNS, OLD_COLUMNS):
            raise ValueError(
                f"{path}: header {reader.fieldnames} is not {','.join(COLUMNS)}; "
                "was it edited by hand? Restore it from OUT/history/ (or move it away to start anew)"
            )
        for line, raw in enumerate(reader, start=2):
            try:
                text = {k: v or "" for k, v in raw.items() if k not in ("score", "max_score")}
                row = Row(score=float(raw["score"]), max_score=float(raw["max_score"]), **text)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{path} line {line}: {exc}; restore it from OUT/history/"
                ) from exc
            rows[(row.student_id, row.assignment)] = row
    return rows


def text(rows: dict[tuple[str, str], Row]) -> str:
    """CSV text of ``rows``, sorted naturally by student then lesson."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for key in sorted(rows, key=lambda k: (natural_key(k[0]), natural_key(k[1]))):
        r = asdict(rows[key])
        writer.writerow([number(r[c]) if c in ("score", "max_score") else r[c] for c in COLUMNS])
    return buffer.getvalue()


def _write_atomic(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.replace(tmp, path)


def keep_aside(path: Path, content: str) -> Path | None:
    """Copy ``path`` into ``history/`` beside it if it exists with content other than ``content``."""
    if not path.exists() or path.read_text(encoding="utf-8") == content:
        return None
    history = path.parent / "history"
    history.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup, n = history / f"{path.stem}.{stamp}{path.suffix}", 1
    while backup.exists():
        backup, n = history / f"{path.stem}.{stamp}-{n}{path.suffix}", n + 1
    backup.write_bytes(path.read_bytes())
    return backup


def _attempt_key(attempt: str) -> tuple[str, object] | None:
    lms, sep, value = attempt.partition(":")
    if not sep or not value:
        return None
    if lms == "canvas":  # attachment ids grow with every upload; compare them as numbers
        return (lms, int(value)) if value.isdigit() else None
    return lms, value  # a time as layout.stamp writes it: sorts as it happened


def newer(recorded: str, attempt: str) -> bool:
    """Whether attempt ``recorded`` came after ``attempt`` (both as ``layout.attempt_of`` writes them).

    False when either is unknown ("") or they come from different LMSs: nothing orders them.
    """
    a, b = _attempt_key(recorded), _attempt_key(attempt)
    return a is not None and b is not None and a[0] == b[0] and a[1] > b[1]  # type: ignore[operator]


def describe_attempt(attempt: str) -> str:
    """``canvas:678950`` -> ``Canvas attachment 678950``, for messages."""
    lms, _, value = attempt.partition(":")
    return {
        "canvas": f"Canvas attachment {value}",
        "blackboard": f"Blackboard attempt of {value}",
        "nbgrader": f"exchange submission of {value}",
    }.get(lms, attempt or "an attempt of unknown time")


def newer_recorded(
    rows: dict[tuple[str, str], Row], student: str, lesson: str, attempt: str
) -> Row | None:
    """The gradebook row of ``student`` and ``lesson`` when it grades a newer attempt than ``attempt``."""
    row = rows.get((student, lesson))
    if row is None or row.status == "missing" or not newer(row.attempt, attempt):
        return None
    return row


def kept_message(row: Row, origin: str, attempt: str) -> str:
    """Why ``origin`` was not allowed to replace the newer ``row``."""
    return (
        f"{row.student_id} {row.assignment}: kept {number(row.score)}/{number(row.max_score)} of "
        f"the newer {describe_attempt(row.attempt)} (graded {row.graded_at or 'earlier'}); "
        f"{origin or 'this run'} is the older {describe_attempt(attempt)}"
    )


class Recorded(NamedTuple):
    """What ``record`` did: the file, rows replaced and added, newer grades it kept (why),
    and the (student, lesson) rows this run wrote."""

    path: Path
    replaced: int
    added: int
    kept: list[str]
    written: set[tuple[str, str]]


def record(
    out: Path,
    outcomes,
    sources: dict[tuple[str, str], tuple] | None = None,
    when: str | None = None,
) -> Recorded:
    """Merge ``outcomes`` (``results.Outcome``) into ``out/gradebook.csv``.

    ``sources``: (student, lesson) -> (file as named, late[, attempt]). A grade
    never replaces one of a newer attempt of the same student and lesson
    (``newer``): that row is kept and named in ``kept``. A regrade of the same
    attempt, or of attempts nothing orders, replaces it.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = load(out)
    when = when or time.strftime("%Y-%m-%dT%H:%M:%S")
    sources = sources or {}
    replaced = added = 0
    kept: list[str] = []
    written: set[tuple[str, str]] = set()
    for o in outcomes:
        key = (o.student, o.lesson)
        if o.status == "missing" and key in rows:
            continue  # nothing new: keep what they have (a grade, or the earlier "missing")
        origin, late, *rest = sources.get(key, ("", False))
        attempt = rest[0] if rest else ""
        newer_row = newer_recorded(rows, o.student, o.lesson, attempt)
        if newer_row is not None:
            kept.append(kept_message(newer_row, origin, attempt))
            continue
        new = Row(
            o.student,
            o.lesson,
            float(o.score),
            float(o.max_score),
            o.status,
            when if o.status != "missing" else "",
            origin,
            "late" if late else "",
            attempt if o.status != "missing" else "",
        )
        if key in rows:
            replaced += 1
        else:
            added += 1
        rows[key] = new
        written.add(key)
    path = out / GRADEBOOK
    content = text(rows)
    keep_aside(path, content)
    _write_atomic(path, content)
    return Recorded(path, replaced, added, kept, written)


@dataclass
class Override:
    """A correction: a new ``score``, or points to ``adjust`` by; with why.

    ``policy`` (for ``score``): ``min``, the default, makes it a floor (a later,
    higher grade in the gradebook wins); ``fixed`` makes it the grade whatever
    the gradebook says, and ``course grades`` warns each time it caps a higher one.
    """

    student_id: str
    assignment: str
    score: float | None
    adjust: float | None
    comment: str
    origin: str  # file and line, for messages
    policy: str = ""  # "min" or "fixed" for a score; "" for an adjustment


def load_overrides(path: Path) -> list[Override]:
    """Read ``student_id,assignment,score,adjust,policy,comment`` (one of score/adjust per row).

    ``score`` sets the grade under its ``policy`` (``min`` when empty: at least
    this score; ``fixed``: exactly this score, even above or below a later
    regrade); ``adjust`` adds to the gradebook's grade (negative to deduct).
    ``policy`` and ``comment`` are optional columns. Rows for the same student
    and lesson apply in file order.
    """
    path = Path(path)
    overrides = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"student_id", "assignment"} - set(reader.fieldnames or ())
        if missing or not {"score", "adjust"} & set(reader.fieldnames or ()):
            raise ValueError(
                f"{path}: header must be {','.join(OVERRIDE_COLUMNS)} "
                f"(score or adjust, comment optional); got {reader.fieldnames}"
            )
        for line, raw in enumerate(reader, start=2):
            row = {k: (v or "").strip() for k, v in raw.items() if k}
            get = row.get
            if not get("student_id") and not get("assignment"):
                continue
            score, adjust = get("score"), get("adjust")
            if bool(score) == bool(adjust):
                raise ValueError(
                    f"{path} line {line}: give exactly one of score ({score!r}) and "
                    f"adjust ({adjust!r})"
                )
            policy = get("policy", "").lower()
            if adjust and policy:
                raise ValueError(
                    f"{path} line {line}: policy {policy!r} is for a score; an adjust "
                    "always adds to the gradebook's grade: leave policy empty"
                )
            if score and policy not in ("", *POLICIES):
                raise ValueError(
                    f"{path} line {line}: policy {policy!r} is none of {', '.join(POLICIES)} "
                    "(empty means min)"
                )
            try:
                values = (float(score) if score else None, float(adjust) if adjust else None)
            except ValueError as exc:
                raise ValueError(
                    f"{path} line {line}: {exc}: score and adjust are numbers"
                ) from exc
            overrides.append(
                Override(
                    row["student_id"],  # the header check above made sure both columns exist
                    row["assignment"],
                    *values,
                    row.get("comment", ""),
                    f"{path.name} line {line}",
                    (policy or "min") if score else "",
                )
            )
    return overrides


def formgrader_overrides(db_path: Path, lessons: list[str]) -> list[Override]:
    """Manual grades given in the formgrader (nbgrader's gradebook) as adjustments.

    For every graded cell where a person set a manual score, the difference
    to nbgrader's automatic score is added to that student's lesson: the
    formgrader's own autograde is not trusted (it runs unsandboxed), only the
    instructor's judgement on top of it.
    """
    from nbgrader.api import Gradebook, MissingEntry

    from grader._course import gradebooks_in_process

    gradebooks_in_process()
    overrides = []
    with Gradebook(f"sqlite:///{db_path}") as gb:
        for lesson in lessons:
            try:
                assignment = gb.find_assignment(lesson)
            except MissingEntry:
                continue
            for submission in assignment.submissions:
                delta, cells = 0.0, []
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.manual_score is None:
                            continue
                        delta += grade.manual_score - (grade.auto_score or 0.0)
                        cells.append(grade.name)
                if cells:
                    overrides.append(
                        Override(
                            submission.student.id,
                            lesson,
                            None,
                            delta,
                            f"formgrader manual grade: {', '.join(cells)}",
                            f"{db_path.name}",
                        )
                    )
    return overrides
