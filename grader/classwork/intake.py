"""Find submissions in a folder or zip, as students and LMSs really name them.

Every file under ``--submissions`` ends in exactly one of four lists:
``found`` (graded), ``unmatched`` (a notebook, or a file named like a
lesson, that cannot be given to one student and one lesson: the run fails
until it is resolved or ``--allow-unmatched`` is passed), ``superseded``
(an older attempt of a student whose latest attempt is graded) and
``ignored`` (non-notebook files, unless named like a lesson that student has
no notebook for). LMS receipts and nbgrader timestamps are skipped.

Recognised layouts (folders and zip members alike):

==========================  =====================================================
one folder per student      ``ann/lesson6.ipynb``
nbgrader ``submitted/``     ``submitted/ann/lesson6/lesson6.ipynb``
nbgrader exchange inbound   ``inbound/ann+lesson6+2026-03-01 10:00:00 UTC+x/lesson6.ipynb``
flat                        ``ann_lesson6.ipynb`` (the student is what comes before the lesson)
Canvas                      ``leefay_12345_678_lesson6.ipynb``, ``obrienpat_LATE_12345_679_Lesson6-1.ipynb``
                            (sortable name: any letters, digits, ``-`` and ``'``; ``late`` in
                            any case; Canvas user id, attachment id, file)
Moodle                      ``Fay Lee_123_assignsubmission_file_/lesson6.ipynb`` (folders) or
                            ``Fay Lee_123_assignsubmission_file_lesson6.ipynb`` (flat)
Blackboard                  ``Lesson 6_fay.lee_attempt_2026-03-01-10-22-33_lesson6.ipynb``
==========================  =====================================================

The lesson is read from the file name without regard to case, spaces,
``_``/``-`` between word and number, leading zeros, and copy suffixes
(``-Copy1``, `` (1)``, ``-1``, `` copy``): ``Lesson 06 (1).ipynb`` is
lesson6. When the file name names no lesson, the Blackboard assignment name
or the nearest folder named like a lesson is used.

Two files for one student and lesson: when the LMS orders them (Canvas
attachment ids, Blackboard attempt times, nbgrader exchange times, also from
the ``timestamp.txt`` beside a ``submitted/`` notebook) the latest is graded
and the others are listed as superseded; otherwise both are unmatched ("pick
one"). ``Found.attempt`` carries that order to the gradebook, which compares
attempts across runs.
"""

from __future__ import annotations

import csv
import os
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from grader.books.roster import STUDENT_ID, Roster, slug

MAX_NOTEBOOK_BYTES = 100 * 2**20  # a notebook with many figures is a few MB
SKIPPED_DIRS = (".ipynb_checkpoints", "__MACOSX", "__pycache__")

COPY_SUFFIX = re.compile(r"(?:[ _-]*copy\d*|\s*\(\d+\)|-\d+)$", re.IGNORECASE)
# Canvas's sortable name is the student's name without spaces or commas: any letters (``garcíajosé``),
# digits, hyphens and apostrophes (``o'brienpat``), never ``_``; ``_LATE`` in any case.
CANVAS = re.compile(
    r"^(?P<name>(?:[^\W_]|['’-])+?)(?P<late>_late)?_(?P<uid>\d+)_(?P<aid>\d+)_(?P<file>.+)$",
    re.IGNORECASE,
)
STAMP = re.compile(r"(\d{4})\D(\d\d)\D(\d\d)\D(\d\d)\D(\d\d)\D(\d\d)(?:\.(\d{1,6}))?")
MOODLE = re.compile(
    r"^(?P<name>.+)_(?P<pid>\d+)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$"
)
BLACKBOARD = re.compile(
    r"^(?P<head>.+)_attempt_(?P<stamp>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)(?:_(?P<file>.+))?$"
)
EXCHANGE = re.compile(r"^(?P<student>[^+]+)\+(?P<assign>[^+]+)\+(?P<stamp>[^+]+)(?:\+.*)?$")


class LayoutError(ValueError):
    """The submissions cannot be read; the message says which files and what to do."""


@dataclass(frozen=True)
class Found:
    """A submission to grade."""

    student: str
    lesson: str
    path: Path
    origin: str  # as the instructor named it (folder path or zip member)
    lms: str = "folder"
    late: bool = False
    attempt: str = ""  # which attempt, comparable across runs (see ``attempt_of``); "" if unknown


@dataclass(frozen=True)
class Claim:
    """What a path says about its owner, before the roster is consulted."""

    lms: str
    lesson: str
    keys: tuple[str, ...]  # names and ids of the student, strongest first
    default_id: str  # the student id without a roster
    who: str  # one person in that LMS (Canvas user id, ...): attempts of one `who` may supersede
    order: tuple = ()  # sorts attempts, oldest first; () when the LMS gives no order
    late: bool = False


@dataclass
class Discovery:
    """Everything under ``--submissions``, each file in exactly one list."""

    found: list[Found] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (origin, why)
    superseded: list[tuple[str, str]] = field(default_factory=list)  # (origin, by which)
    ignored: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # LMS name -> student id, no roster

    @property
    def lessons_found(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.found:
            counts[f.lesson] = counts.get(f.lesson, 0) + 1
        return counts


def stamp(text: str) -> str | None:
    """A submission time as ``YYYY-MM-DDTHH:MM:SS.ffffff`` (sorts as it happened), or None.

    Reads nbgrader's ``2026-03-01 10:00:00.1 UTC`` and Blackboard's ``2026-03-01-10-22-33``.
    """
    m = STAMP.search(text)
    if not m:
        return None
    *date, fraction = m.groups()
    return "{}-{}-{}T{}:{}:{}".format(*date) + f".{(fraction or '').ljust(6, '0')}"


def attempt_of(c: Claim) -> str:
    """The attempt ``c`` is, as the gradebook records it: ``canvas:<attachment id>``,
    ``blackboard:<attempt time>``, ``nbgrader:<submission time>``; "" when the LMS gives no order.

    Two attempts of one student and lesson compare (``gradebook.newer``) only within one LMS.
    """
    if not c.order:
        return ""
    return f"{c.lms}:{c.order[0]}"


def _lesson_pattern(lesson: str) -> str:
    runs = re.findall(r"[A-Za-z]+|\d+|[^A-Za-z\d]+", lesson)
    parts = [f"0*{int(r)}" if r.isdigit() else re.escape(r) for r in runs if r.strip("_- ")]
    return r"[ _-]*".join(parts)


def split_lesson(text: str, lessons: list[str]) -> tuple[str, str] | None:
    """``(prefix, lesson)`` when ``text`` ends with a lesson name (copy suffixes allowed), else None.

    ``joe_Lesson6 (1)`` -> ``("joe", "lesson6")``; ``lesson16`` is not lesson6.
    """
    candidate = text.strip()
    for _ in range(4):  # "lesson6-Copy1 (1)": a few suffixes at most
        for lesson in sorted(lessons, key=len, reverse=True):
            m = re.search(
                rf"(?:^|(?<=[\s_.-])){_lesson_pattern(lesson)}$", candidate, re.IGNORECASE
            )
            if m:
                return candidate[: m.start()].rstrip(" _-."), lesson
        stripped = COPY_SUFFIX.sub("", candidate)
        if stripped == candidate or not stripped:
            return None
        candidate = stripped
    return None


def _is_lesson(text: str, lessons: list[str]) -> str | None:
    hit = split_lesson(text, lessons)
    return hit[1] if hit and not hit[0] else None


def _folder_lesson(parts: tuple[str, ...], lessons: list[str]) -> str | None:
    for folder in reversed(parts[:-1]):
        found = _is_lesson(folder, lessons)
        if found:
            return found
    return None


def claim(parts: tuple[str, ...], lessons: list[str]) -> Claim | str:
    """What the path ``parts`` of a ``.ipynb`` says: a ``Claim``, or why nothing can be said."""
    stem = parts[-1][: -len(".ipynb")]
    folder = parts[-2] if len(parts) >= 2 else ""
    no_lesson = f"no lesson in the name (expected one of {', '.join(lessons)})"

    m = BLACKBOARD.match(stem)
    if m:
        pieces = m["head"].split("_")
        login, assign = pieces[-1], "_".join(pieces[:-1])
        for i in range(
            1, len(pieces)
        ):  # an assignment name may hold "_": split where it names a lesson
            if _is_lesson("_".join(pieces[:i]), lessons):
                assign, login = "_".join(pieces[:i]), "_".join(pieces[i:])
                break
        hit = split_lesson(m["file"] or "", lessons)
        lesson = (
            (hit[1] if hit else None)
            or _is_lesson(assign, lessons)
            or _folder_lesson(parts, lessons)
        )
        if not lesson:
            return no_lesson
        return Claim(
            "blackboard",
            lesson,
            (login,),
            slug(login),
            f"bb:{login}",
            (stamp(m["stamp"]) or m["stamp"],),
        )

    m = CANVAS.match(stem)
    if m:
        hit = split_lesson(m["file"], lessons)
        lesson = (hit[1] if hit else None) or _folder_lesson(parts, lessons)
        if not lesson:
            return no_lesson
        return Claim(
            "canvas",
            lesson,
            (m["uid"], m["name"]),
            slug(m["name"]),
            f"canvas:{m['uid']}",
            (int(m["aid"]),),
            bool(m["late"]),
        )

    for i, part in enumerate((folder, stem)):
        m = MOODLE.match(part)
        if m:
            file = stem if i == 0 else m["file"]
            hit = split_lesson(file, lessons)
            lesson = (hit[1] if hit else None) or _folder_lesson(
                parts[:-1] if i == 0 else parts, lessons
            )
            if not lesson:
                return no_lesson
            return Claim(
                "moodle",
                lesson,
                (f"participant{m['pid']}", m["name"]),
                slug(m["name"]),
                f"moodle:{m['pid']}",
            )

    m = EXCHANGE.match(folder)
    if m:
        lesson = _is_lesson(m["assign"], lessons)
        if lesson and split_lesson(stem, lessons):
            return Claim(
                "nbgrader",
                lesson,
                (m["student"],),
                slug(m["student"]),
                f"nbgrader:{m['student']}",
                (stamp(m["stamp"]) or m["stamp"],),
            )

    hit = split_lesson(stem, lessons)
    if hit is None:
        for lesson in sorted(lessons, key=len, reverse=True):
            if re.match(rf"{_lesson_pattern(lesson)}[ _.-]", stem, re.IGNORECASE):
                return (
                    f"starts with {lesson} but does not end with it: rename it {lesson}.ipynb "
                    f"in the student's folder, or <student>_{lesson}.ipynb"
                )
        return no_lesson
    prefix, lesson = hit
    if prefix:  # flat: ann_lesson6.ipynb
        return Claim("flat", lesson, (prefix,), slug(prefix), f"name:{prefix}")
    if (
        len(parts) >= 3 and _is_lesson(folder, lessons) == lesson
    ):  # submitted/ann/lesson6/lesson6.ipynb
        student = parts[-3]
        return Claim("nbgrader", lesson, (student,), slug(student), f"name:{student}")
    if folder and folder != "submitted" and not _is_lesson(folder, lessons):
        return Claim("folder", lesson, (folder,), slug(folder), f"name:{folder}")
    return "no student in the name (expected <student>/<lesson>.ipynb or <student>_<lesson>.ipynb)"


def _visible(parts: tuple[str, ...]) -> bool:
    return not any(p.startswith(".") or p in SKIPPED_DIRS for p in parts)


def _bookkeeping(parts: tuple[str, ...]) -> bool:
    """Files an LMS adds beside the work: Blackboard attempt receipts, nbgrader timestamps and
    submission secrets, ..."""
    name = parts[-1]
    return (
        name in ("timestamp.txt", "submission_secret.txt", "Thumbs.db", "desktop.ini")
        or bool(re.search(r"_attempt_\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.txt$", name))
        or "_assignsubmission_onlinetext_" in "/".join(parts)
    )


def _owner(found: Claim | str, roster: Roster | None) -> tuple[str, str] | str:
    """``(student, lesson)`` of a claim, through the roster when there is one; or why not."""
    if isinstance(found, str):
        return found
    if roster is not None:
        student, why = roster.resolve(list(found.keys))
        return (student, found.lesson) if student else why
    student = found.default_id
    if not student or not STUDENT_ID.match(student):
        return f"no usable student id in {found.keys[0]!r}: pass --roster, or rename the file or folder"
    return student, found.lesson


def _collect(items, lessons: list[str], roster: Roster | None, read=None) -> tuple[dict, Discovery]:
    """``items``: (parts, origin, handle). Returns {(student, lesson): (origin, handle, claim)}.

    ``read(handle)``: the start of a small file, for the ``timestamp.txt`` nbgrader (and
    ``course collect``) leaves beside a submission: it orders attempts across runs.
    """
    result = Discovery()
    stamps = {}
    for parts, _, handle in items:
        if read is not None and parts and parts[-1] == "timestamp.txt" and ".." not in parts:
            when = stamp(read(handle))
            if when:
                stamps[tuple(parts[:-1])] = when
    groups: dict[tuple[str, str], list[tuple[str, object, Claim]]] = {}
    others = []  # files named like a lesson that are no notebook: judged once the notebooks are known
    for parts, origin, handle in items:
        if ".." in parts:
            result.unmatched.append((origin, "a path that leaves the archive's folder: not read"))
            continue
        if not parts or not _visible(parts):
            continue
        if not parts[-1].lower().endswith(".ipynb"):
            if _bookkeeping(parts):
                continue
            stem = parts[-1].rsplit(".", 1)[0]
            if split_lesson(stem, lessons) or split_lesson(stem.rsplit(".", 1)[0], lessons):
                others.append((origin, (*parts[:-1], stem.rsplit(".ipynb", 1)[0] + ".ipynb")))
            else:
                result.ignored.append(origin)
            continue
        found = claim((*parts[:-1], parts[-1][: -len(".ipynb")] + ".ipynb"), lessons)
        if isinstance(found, str):
            result.unmatched.append((origin, found))
            continue
        if found.lms == "nbgrader" and not found.order and tuple(parts[:-1]) in stamps:
            found = replace(found, order=(stamps[tuple(parts[:-1])],))
        owner = _owner(found, roster)
        if isinstance(owner, str):
            result.unmatched.append((origin, owner))
            continue
        if roster is None and owner[0] != found.keys[-1] and found.lms != "canvas":
            result.renamed[found.keys[-1]] = owner[0]
        groups.setdefault(owner, []).append((origin, handle, found))
    for origin, parts in others:
        # lesson6.html beside a graded lesson6.ipynb of the same student is an extra, not lost work
        owner = _owner(claim(parts, lessons), roster)
        if isinstance(owner, tuple) and owner in groups:
            result.ignored.append(origin)
        else:
            result.unmatched.append((origin, "named like a lesson but not a .ipynb notebook"))
    chosen = {}
    for key, group in groups.items():
        if len(group) == 1:
            chosen[key] = group[0]
            continue
        ordered = sorted(group, key=lambda g: g[2].order)
        orders = [g[2].order for g in ordered]
        same_person = len({g[2].who for g in group}) == 1
        if same_person and all(orders) and len(set(orders)) == len(orders):
            chosen[key] = ordered[-1]
            for origin, _, _ in ordered[:-1]:
                result.superseded.append((origin, f"older attempt; graded {ordered[-1][0]}"))
            continue
        for origin, _, _ in group:
            also = ", ".join(o for o, _, _ in group if o != origin)
            result.unmatched.append((origin, f"{key[0]} {key[1]} twice (also {also}): keep one"))
    return chosen, result


def _head(stream) -> str:
    """The first bytes of a small bookkeeping file (never all of it: it may be anything)."""
    with stream:
        return stream.read(200).decode("utf-8", errors="replace")


def _head_of_file(path: Path) -> str:
    return _head(open(path, "rb"))


def discover(
    path: Path, lessons: list[str], workdir: Path, roster: Roster | None = None
) -> Discovery:
    """Every file under ``path`` (a folder or a ``.zip``) sorted into the lists of ``Discovery``.

    Zip members are copied into ``workdir`` under names of our own (a member
    called ``../../x`` cannot write outside it); members larger than
    ``MAX_NOTEBOOK_BYTES`` are unmatched.
    """
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return _from_zip(path, lessons, workdir, roster)
    if not path.is_dir():
        raise LayoutError(f"--submissions {path} is neither a folder nor a zip file")
    items = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if _visible((d,)))
        for filename in sorted(filenames):
            full = Path(dirpath, filename)
            items.append((full.relative_to(path).parts, str(full), full))
    chosen, result = _collect(items, lessons, roster, _head_of_file)
    for (student, lesson), (origin, full, c) in sorted(chosen.items()):
        result.found.append(Found(student, lesson, full, origin, c.lms, c.late, attempt_of(c)))
    return result


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its maker wrote it: zips made on Windows may use ``\\`` and store
    UTF-8 names without flagging them (Python then reads them as cp437, mangling accents)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/")


def _from_zip(path: Path, lessons: list[str], workdir: Path, roster: Roster | None) -> Discovery:
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        items = [
            (PurePosixPath(_member_name(i)).parts, f"{path.name}:{_member_name(i)}", i)
            for i in infos
        ]
        chosen, result = _collect(
            items,
            lessons,
            roster,
            lambda i: _head(archive.open(i)),
        )
        workdir.mkdir(parents=True, exist_ok=True)
        for index, ((student, lesson), (origin, info, c)) in enumerate(sorted(chosen.items())):
            if info.file_size > MAX_NOTEBOOK_BYTES:
                result.unmatched.append(
                    (
                        origin,
                        f"{info.file_size / 2**20:.0f} MiB is more than a "
                        f"notebook should be ({MAX_NOTEBOOK_BYTES / 2**20:.0f} MiB)",
                    )
                )
                continue
            target = workdir / f"{index:05d}.ipynb"
            with archive.open(info) as src, open(target, "wb") as dst:
                dst.write(src.read(MAX_NOTEBOOK_BYTES + 1))
            result.found.append(
                Found(student, lesson, target, origin, c.lms, c.late, attempt_of(c))
            )
    return result


NOT_GRADED = "not_graded.csv"


def not_graded_rows(result: Discovery) -> list[tuple[str, str, str]]:
    """(kind, file, why) of every file that was not graded: NOT GRADED, superseded, ignored."""
    rows = [("NOT GRADED", origin, why) for origin, why in result.unmatched]
    rows += [("superseded", origin, why) for origin, why in result.superseded]
    rows += [("ignored", origin, "not a notebook") for origin in result.ignored]
    return rows


def write_not_graded(out: Path, result: Discovery) -> Path:
    """Save the run's not-graded list as ``out/not_graded.csv`` (``kind,file,why``).

    Rewritten by every run (a header only when every file was graded), so it never
    lists an earlier run's files.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / NOT_GRADED
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("kind", "file", "why"))
        writer.writerows(not_graded_rows(result))
    return path


def not_graded_table(result: Discovery) -> str:
    """The loud end-of-run list: every file that was not graded, and why."""
    rows = not_graded_rows(result)
    if not rows:
        return ""
    width = max(len(r[1]) for r in rows)
    lines = [
        f"{len(result.unmatched)} file(s) NOT GRADED, {len(result.superseded)} superseded, "
        f"{len(result.ignored)} ignored:"
    ]
    lines += [f"  {kind:<10}  {origin:<{width}}  {why}" for kind, origin, why in rows]
    return "\n".join(lines)
