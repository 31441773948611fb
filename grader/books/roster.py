"""The class list: who should have submitted, and how each LMS names them.

``course grade --roster FILE`` and ``course grades --roster FILE`` read one
of three CSV forms, recognised by their header:

- **Canvas** gradebook export: ``Student, ID, SIS User ID, SIS Login ID,
  Section, ...`` (the ``Points Possible`` row and Canvas's test student
  are skipped). The student id is the SIS User ID, else the SIS Login ID, else
  Canvas's numeric ID.
- **Moodle** grades export (or participants list): ``First name, Last name,
  ID number, Email address, ...``. The student id is the ID number, else the
  username, else the part of the e-mail address before ``@``. A Moodle
  grading worksheet's ``Identifier`` (``Participant 123``) is understood too.
- **Simple**: ``student_id, name, email`` (``name`` and ``email`` optional).

Each student is known under several keys (student id, e-mail and its local
part, LMS ids, login, the name in either order). A submission is matched
when one of its keys names exactly one student; keys are compared without
case, accents, spaces, ``_`` or ``-``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")

CANVAS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE = ("First name", "Last name", "ID number", "Email address")
SIMPLE = ("student_id", "name", "email")


def norm(text: str) -> str:
    """A key for comparing names and ids: ASCII, lower case, only letters, digits, ``@`` and ``.``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9@.]", "", ascii_text.lower())


def slug(text: str) -> str:
    """``text`` made into a student id (letters, digits, ``. _ @ -``): ``Fay Lee`` -> ``Fay_Lee``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", ascii_text).strip("._-@")[:100]


@dataclass
class Student:
    """One roster row: the id grades are recorded under, and what the LMS knows."""

    student_id: str
    name: str = ""
    email: str = ""
    # LMS columns kept for the import files: Canvas ID, SIS User ID, First name, ...
    lms: dict[str, str] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)


class RosterError(ValueError):
    """The roster file cannot be read; the message names the file, the row and what to do."""


@dataclass
class Roster:
    """Students in roster order, and an index from every key to the ids it names."""

    students: list[Student]
    kind: str  # "canvas", "moodle" or "simple"
    columns: list[str] = field(default_factory=list)  # the header as the file had it
    points: dict[str, str] = field(default_factory=dict)  # Canvas's "Points Possible" row
    path: Path | None = None

    def __post_init__(self) -> None:
        self._index: dict[str, set[str]] = {}
        for s in self.students:
            for key in s.keys:
                if norm(key):
                    self._index.setdefault(norm(key), set()).add(s.student_id)

    @property
    def ids(self) -> list[str]:
        return [s.student_id for s in self.students]

    def get(self, student_id: str) -> Student | None:
        return next((s for s in self.students if s.student_id == student_id), None)

    def resolve(self, keys: list[str]) -> tuple[str | None, str]:
        """The student named by ``keys`` (strongest first), or ``None`` and why not."""
        ambiguous: set[str] = set()
        for key in keys:
            hits = self._index.get(norm(key), set())
            if len(hits) == 1:
                return next(iter(hits)), ""
            ambiguous |= hits
        if ambiguous:
            return None, f"matches several roster students ({', '.join(sorted(ambiguous))})"
        shown = " / ".join(repr(k) for k in keys if k)
        return None, f"{shown} is not on the roster {self.path.name if self.path else ''}".rstrip()


def _name_keys(first: str, last: str) -> list[str]:
    return [f"{first} {last}", f"{last} {first}"] if first or last else []


def _row_student(kind: str, row: dict[str, str]) -> Student | None:
    get = lambda col: (row.get(col) or "").strip()  # noqa: E731 - a short local accessor
    if kind == "canvas":
        name = get("Student")
        if not name or name == "Points Possible" or name in ("Student, Test", "Test Student"):
            return None
        sid = get("SIS User ID") or get("SIS Login ID") or get("ID")
        last, _, first = name.partition(",")  # Canvas writes "Last, First"
        keys = [
            sid,
            get("ID"),
            get("SIS User ID"),
            get("SIS Login ID"),
            name,
            *(_name_keys(first.strip(), last.strip()) if first else []),
        ]
        lms = {col: get(col) for col in CANVAS}
        return Student(sid, name if not first else f"{first.strip()} {last.strip()}", "", lms, keys)
    if kind == "moodle":
        email = get("Email address")
        sid = get("ID number") or get("Username") or email.partition("@")[0]
        name = f"{get('First name')} {get('Last name')}".strip()
        ident = get("Identifier")
        keys = [
            sid,
            get("ID number"),
            get("Username"),
            email,
            email.partition("@")[0],
            *_name_keys(get("First name"), get("Last name")),
            ident,
            ident.replace("Participant", "participant"),
        ]
        lms = {col: get(col) for col in (*MOODLE, "Username", "Identifier") if col in row}
        return Student(sid, name, email, lms, keys)
    sid = get("student_id")
    if not sid:
        return None
    name, email = get("name"), get("email")
    first, _, last = name.rpartition(" ")
    keys = [sid, email, email.partition("@")[0], name, *_name_keys(first, last)]
    return Student(sid, name, email, {}, keys)


def load(path: Path) -> Roster:
    """Read a Canvas, Moodle or simple roster (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(
            f"--roster {path}: no such file; export the class list from the LMS "
            "(Canvas: Grades > Export; Moodle: Grades > Export > Plain text file)"
        )
    text = path.read_text(encoding="utf-8-sig")  # LMS exports often start with a BOM
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    if all(col in header for col in CANVAS[:2]):
        kind = "canvas"
    elif all(col in header for col in ("First name", "Last name")):
        kind = "moodle"
    elif "student_id" in header:
        kind = "simple"
    else:
        raise RosterError(
            f"--roster {path}: header {header} is none of the known forms: Canvas "
            f"({', '.join(CANVAS)}), Moodle ({', '.join(MOODLE)}) or {','.join(SIMPLE)}"
        )
    students: list[Student] = []
    seen: dict[str, int] = {}  # student id -> the line it was first on
    points: dict[str, str] = {}
    for line, row in enumerate(reader, start=2):
        if kind == "canvas" and (row.get("Student") or "").strip() == "Points Possible":
            points = {k: (v or "").strip() for k, v in row.items() if k}
        student = _row_student(kind, row)
        if student is None:
            continue
        if not STUDENT_ID.match(student.student_id):
            raise RosterError(
                f"--roster {path} line {line}: student id {student.student_id!r} must "
                "be letters, digits and . _ @ - (at most 100); fix that row"
            )
        if student.student_id in seen:
            raise RosterError(
                f"--roster {path} lines {seen[student.student_id]} and {line}: "
                f"student id {student.student_id!r} twice; keep one row"
            )
        seen[student.student_id] = line
        students.append(student)
    if not students:
        raise RosterError(f"--roster {path}: no students in it")
    return Roster(students, kind, header, points, path)
