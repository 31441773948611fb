"""Student notebooks from ``solutions/``: byte-stable, and never written over someone's work.

``plan`` runs nbgrader ``generate_assignment`` in a scratch course, normalises
each student notebook (no outputs, execution counts, widget state or volatile
metadata; keys sorted as nbformat writes them) and compares the result with
``notebooks/``. Each generated notebook records a digest of its cells under
``metadata.course_release``; a notebook whose cells no longer match that
digest was edited after ``course release`` wrote it, and is never overwritten.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader._course import IGNORED, RELEASE_DIR, SOURCE_DIR, generate

MARKER = "course_release"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CELL_METADATA_KEPT = ("deletable", "editable", "nbgrader", "tags")
CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# What a planned file change means, and whether it may be written.
CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"
CONFLICT, UNEXPECTED = "conflict", "unexpected"
BLOCKING = (CONFLICT, UNEXPECTED)


@dataclass(frozen=True)
class Change:
    """One file under ``notebooks/`` and what ``course release`` would do with it."""

    path: Path  # relative to the course root
    action: str
    reason: str = ""
    content: bytes | None = None


def cells_digest(cells: Iterable[dict]) -> str:
    """SHA-256 of what a person edits in a notebook: each cell's type and source."""
    parts = []
    for cell in cells:
        source = cell.get("source", "")
        parts.append(
            [cell.get("cell_type"), "".join(source) if isinstance(source, list) else source]
        )
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _stable_ids(cells: list) -> None:
    """Keep valid unique cell ids; derive the others from nbgrader ids or the position."""
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        cid = cell.get("id")
        if not (isinstance(cid, str) and CELL_ID.match(cid)) or cid in seen:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            cid = (
                grade_id
                if CELL_ID.match(grade_id or "") and grade_id not in seen
                else f"cell-{index}"
            )
        cell["id"] = cid
        seen.add(cid)


def normalize(nb, source: str) -> str:
    """The byte-stable text of a student notebook (``source``: the solution's path, for the record)."""
    import nbformat

    nb = copy.deepcopy(nb)
    nb.nbformat, nb.nbformat_minor = 4, 5
    for cell in nb.cells:
        cell.metadata = {k: cell.metadata[k] for k in CELL_METADATA_KEPT if k in cell.metadata}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    _stable_ids(nb.cells)
    nb.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        MARKER: {"cells_sha256": cells_digest(nb.cells), "source": source},
    }
    nbformat.validate(nb)
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def is_ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def _files(folder: Path) -> list[Path]:
    """Files under ``folder`` (relative), skipping editor and cache litter."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored(d))
        found += [
            Path(dirpath, f).relative_to(folder) for f in sorted(filenames) if not is_ignored(f)
        ]
    return found


def safe_to_replace(existing: bytes, new_text: str) -> tuple[bool, str]:
    """May ``course release`` overwrite this notebook? Only if nobody edited its cells."""
    try:
        old = json.loads(existing)
        old_cells = old["cells"]
    except (ValueError, KeyError, TypeError):
        return False, "is not a readable notebook"
    marker = old.get("metadata", {}).get(MARKER, {})
    if marker.get("cells_sha256") == cells_digest(old_cells):
        return True, "regenerated from the changed solution"
    if cells_digest(old_cells) == cells_digest(json.loads(new_text)["cells"]):
        return True, "same cells, metadata or outputs normalised"
    if marker:
        return False, "its cells were edited after `course release` wrote it"
    return False, "it was not written by `course release`"


def expected_files(root: Path, chosen: list[str], workdir: Path) -> dict[Path, bytes]:
    """Every file ``course release`` writes for ``chosen``, keyed by path relative to ``root``."""
    import nbformat

    scratch = generate(root, chosen, workdir)
    expected: dict[Path, bytes] = {}
    for lesson in chosen:
        folder = scratch.release(lesson)
        for rel in _files(folder):
            target = Path(RELEASE_DIR) / lesson / rel
            if rel.suffix == ".ipynb":
                source = (Path(SOURCE_DIR) / lesson / rel).as_posix()
                nb = nbformat.read(folder / rel, as_version=4)
                expected[target] = normalize(nb, source).encode()
            else:
                expected[target] = (folder / rel).read_bytes()
    return expected


def plan(root: Path, chosen: list[str], *, whole_course: bool) -> list[Change]:
    """What releasing ``chosen`` would change under ``notebooks/``, file by file.

    ``whole_course``: also report anything in ``notebooks/`` that no lesson generates.
    """
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        expected = expected_files(root, chosen, Path(tmp))
    release = root / RELEASE_DIR
    scanned = [release] if whole_course else [release / lesson for lesson in chosen]
    present = {
        folder.relative_to(root) / rel
        for folder in scanned
        if folder.is_dir()
        for rel in _files(folder)
    }
    changes = []
    for rel in sorted(present - set(expected)):
        changes.append(
            Change(
                rel,
                UNEXPECTED,
                "no lesson in solutions/ generates it: move it out "
                "of notebooks/, where every file is generated",
            )
        )
    for rel, content in sorted(expected.items()):
        target = root / rel
        if not target.exists():
            changes.append(Change(rel, CREATE, "new", content))
            continue
        existing = target.read_bytes()
        if existing == content:
            changes.append(Change(rel, UNCHANGED))
        elif rel.suffix == ".ipynb":
            ok, why = safe_to_replace(existing, content.decode())
            changes.append(
                Change(
                    rel,
                    UPDATE if ok else CONFLICT,
                    why
                    if ok
                    else (
                        f"{why}: copy your version out of notebooks/ and delete it, then release again"
                    ),
                    content,
                )
            )
        else:
            changes.append(
                Change(
                    rel,
                    CONFLICT,
                    f"differs from {SOURCE_DIR}/: delete it to let "
                    "`course release` write the new version",
                    content,
                )
            )
    return changes


def apply(root: Path, changes: list[Change]) -> list[Change]:
    """Write the creates and updates (atomically); refuse everything if any change is blocking."""
    blocking = [c for c in changes if c.action in BLOCKING]
    if blocking:
        raise ValueError(f"refusing to write: {len(blocking)} file(s) need attention first")
    written = []
    for change in changes:
        if change.action not in (CREATE, UPDATE):
            continue
        target = root / change.path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(change.content or b"")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        written.append(change)
    return written
