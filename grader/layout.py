"""Find submissions: a folder, an nbgrader ``submitted/`` tree, or an LMS zip.

A notebook is recognised by the end of its path (folder or zip member), for
known lesson names only:

- ``.../<student_id>/<lesson>.ipynb``                (one folder per student)
- ``.../<student_id>/<lesson>/<lesson>.ipynb``       (nbgrader's ``submitted/`` layout)
- ``.../<student_id>_<lesson>.ipynb``                (flat LMS export; the student id is
  everything before the last ``_<lesson>``)

Student ids are letters, digits and ``. _ @ -``. Anything else is skipped
with a warning that names it; the same student and lesson found twice is an
error (nothing is graded until the instructor picks one).
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MAX_NOTEBOOK_BYTES = 100 * 2**20  # a notebook with many figures is a few MB
SKIPPED_DIRS = (".ipynb_checkpoints", "__MACOSX", "__pycache__")


class LayoutError(ValueError):
    """The submissions cannot be read unambiguously; the message says which files and what to do."""


@dataclass(frozen=True)
class Found:
    student: str
    lesson: str
    path: Path
    origin: str  # as the instructor named it (folder path or zip member)


def classify(parts: tuple[str, ...], lessons: list[str]) -> tuple[str, str] | None:
    """``(student, lesson)`` for a path given as its parts, or ``None`` when it is no submission."""
    name = parts[-1]
    if not name.endswith(".ipynb"):
        return None
    stem = name[: -len(".ipynb")]
    if stem in lessons:
        if len(parts) >= 3 and parts[-2] == stem:
            return parts[-3], stem
        if len(parts) >= 2 and parts[-2] != "submitted":
            return parts[-2], stem
        return None
    for lesson in sorted(lessons, key=len, reverse=True):
        if stem.endswith(f"_{lesson}") and len(stem) > len(lesson) + 1:
            return stem[: -len(lesson) - 1], lesson
    return None


def _visible(parts: tuple[str, ...]) -> bool:
    return not any(p.startswith(".") or p in SKIPPED_DIRS for p in parts)


def _collect(items, lessons: list[str]) -> tuple[dict, list[str]]:
    """``items``: (parts, origin, loader). Returns {(student, lesson): (origin, loader)} and warnings."""
    chosen: dict[tuple[str, str], tuple[str, object]] = {}
    warnings, duplicates = [], []
    for parts, origin, loader in items:
        if not parts or not parts[-1].endswith(".ipynb") or not _visible(parts):
            continue
        key = classify(parts, lessons)
        if key is None:
            warnings.append(f"skipped {origin}: not <student>/<lesson>.ipynb, "
                            f"<student>/<lesson>/<lesson>.ipynb or <student>_<lesson>.ipynb "
                            f"for a lesson among {', '.join(lessons)}")
        elif not STUDENT_ID.match(key[0]):
            warnings.append(f"skipped {origin}: student id {key[0]!r} must be letters, digits "
                            "and . _ @ - (rename the file or folder)")
        elif key in chosen:
            duplicates.append(f"{key[0]} {key[1]}: {chosen[key][0]} and {origin}")
        else:
            chosen[key] = (origin, loader)
    if duplicates:
        raise LayoutError("two submissions for the same student and lesson; keep one of each:\n  "
                          + "\n  ".join(duplicates))
    return chosen, warnings


def discover(path: Path, lessons: list[str], workdir: Path) -> tuple[list[Found], list[str]]:
    """Submissions under ``path`` (a folder or a ``.zip``) for ``lessons``, and warnings.

    Zip members are copied into ``workdir`` under names of our own (a member
    called ``../../x`` cannot write outside it); members larger than
    ``MAX_NOTEBOOK_BYTES`` are skipped with a warning.
    """
    path = Path(path)
    if path.is_file() and zipfile.is_zipfile(path):
        return _from_zip(path, lessons, workdir)
    if not path.is_dir():
        raise LayoutError(f"--submissions {path} is neither a folder nor a zip file")
    items = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if _visible((d,)))
        for filename in sorted(filenames):
            full = Path(dirpath, filename)
            parts = full.relative_to(path).parts
            items.append((parts, str(full), full))
    chosen, warnings = _collect(items, lessons)
    found = []
    for (student, lesson), (origin, full) in sorted(chosen.items()):
        found.append(Found(student, lesson, full, origin))
    return found, warnings


def _from_zip(path: Path, lessons: list[str], workdir: Path) -> tuple[list[Found], list[str]]:
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        items = [(PurePosixPath(i.filename).parts, f"{path.name}:{i.filename}", i) for i in infos]
        chosen, warnings = _collect(items, lessons)
        workdir.mkdir(parents=True, exist_ok=True)
        found = []
        for index, ((student, lesson), (origin, info)) in enumerate(sorted(chosen.items())):
            if info.file_size > MAX_NOTEBOOK_BYTES:
                warnings.append(f"skipped {origin}: {info.file_size / 2**20:.0f} MiB is more than a "
                                f"notebook should be ({MAX_NOTEBOOK_BYTES / 2**20:.0f} MiB)")
                continue
            target = workdir / f"{index:05d}.ipynb"
            with archive.open(info) as src, open(target, "wb") as dst:
                dst.write(src.read(MAX_NOTEBOOK_BYTES + 1))
            found.append(Found(student, lesson, target, origin))
    return found, warnings
