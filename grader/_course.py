"""Where the course lives, its nbgrader config, and ``generate_assignment`` in a scratch copy.

The instructor config (``grader/nbgrader_config.py``) points nbgrader at the
real repository. Every command here works on a throwaway course directory
instead (its own gradebook, its own release folder), so running them never
touches ``grader/gradebook.db`` or a file a person made.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader._common import ASSIGNMENT_ID, natural_key

CONFIG_FILE = Path("grader") / "nbgrader_config.py"
SOURCE_DIR = "solutions"
RELEASE_DIR = "notebooks"
# Copied from nbgrader's CourseDirectory.ignore: editor and cache litter is never course content.
IGNORED = (".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store")


class CourseError(ValueError):
    """The course folder is not what the command needs; the message says what to do."""


def find_root(start: Path | None = None) -> Path:
    """The course root: the nearest folder at or above ``start`` (default: cwd) with the grader config."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    package_root = Path(__file__).resolve().parents[1]
    if (package_root / CONFIG_FILE).is_file():
        return package_root
    raise CourseError(
        f"no {CONFIG_FILE} at or above {here}: run from the course repository or pass --root"
    )


def lessons(root: Path) -> list[str]:
    """Assignments in ``solutions/``: folders ``NAME`` holding ``NAME.ipynb``, naturally sorted."""
    source = root / SOURCE_DIR
    if not source.is_dir():
        return []
    found = [
        d.name
        for d in source.iterdir()
        if d.is_dir() and ASSIGNMENT_ID.match(d.name) and (d / f"{d.name}.ipynb").is_file()
    ]
    return sorted(found, key=natural_key)


def select_lessons(root: Path, wanted: list[str] | None) -> list[str]:
    """``wanted`` (names or numbers: ``3`` means ``lesson3``) checked against ``solutions/``."""
    available = lessons(root)
    if not wanted:
        return available
    chosen = []
    for item in wanted:
        name = f"lesson{item}" if str(item).isdigit() else str(item)
        if name not in available:
            raise CourseError(
                f"no assignment {name!r} in {root / SOURCE_DIR}: available are "
                f"{', '.join(available) or 'none'}"
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


def load_config(root: Path):
    """The instructor's nbgrader config as a traitlets ``Config``."""
    from traitlets.config.loader import PyFileConfigLoader

    path = root / CONFIG_FILE
    if not path.is_file():
        raise CourseError(f"missing {path}: the grader config ships with the course; restore it")
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def scratch_config(root: Path, workdir: Path):
    """The instructor config, re-rooted at ``workdir`` with its own gradebook."""
    config = load_config(root)
    cd = config.CourseDirectory
    cd.root = str(workdir)
    cd.source_directory = "source"
    cd.release_directory = "release"
    cd.submitted_directory = "submitted"
    cd.autograded_directory = "autograded"
    cd.feedback_directory = "feedback"
    cd.db_url = f"sqlite:///{workdir / 'gradebook.db'}"
    # NbGraderAPI lists the exchange when it starts: give it one, so it has nothing to complain about.
    config.Exchange.root = str(workdir / "exchange")
    return config


@dataclass
class ScratchCourse:
    """A throwaway nbgrader course made from ``solutions/``."""

    workdir: Path
    lessons: list[str]
    config: object = field(repr=False)

    @property
    def db_path(self) -> Path:
        return self.workdir / "gradebook.db"

    def source(self, lesson: str) -> Path:
        return self.workdir / "source" / lesson

    def release(self, lesson: str) -> Path:
        return self.workdir / "release" / lesson


def tools_on_path() -> None:
    """Put this interpreter's ``bin/`` first on PATH: nbgrader runs ``alembic`` from PATH."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])


@functools.cache
def alembic_head() -> str:
    """The migration revision nbgrader stamps on a new gradebook, read in this process.

    nbgrader asks for it by running ``alembic heads`` in a subprocess for every
    gradebook it creates: seconds each time, a fresh interpreter importing
    SQLAlchemy. The answer is fixed by the installed nbgrader, so it is read once.
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader import dbutil

    config = Config()
    config.set_main_option("script_location", dbutil.ALEMBIC_DIR)
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError(f"nbgrader's migrations in {dbutil.ALEMBIC_DIR} have no head revision")
    return head


def gradebooks_in_process() -> None:
    """New nbgrader gradebooks get their revision from ``alembic_head``, not a subprocess."""
    import nbgrader.api

    nbgrader.api.get_alembic_version = alembic_head


def generate(root: Path, chosen: list[str], workdir: Path) -> ScratchCourse:
    """Run nbgrader ``generate_assignment`` for ``chosen`` lessons inside ``workdir``.

    Raises ``CourseError`` quoting nbgrader's log when a source notebook is malformed
    (for example a hidden-test block outside a graded cell).
    """
    from nbgrader.apps import NbGraderAPI

    tools_on_path()
    gradebooks_in_process()
    workdir.mkdir(parents=True, exist_ok=True)
    for lesson in chosen:
        shutil.copytree(
            root / SOURCE_DIR / lesson,
            workdir / "source" / lesson,
            ignore=shutil.ignore_patterns(*IGNORED),
        )
    config = scratch_config(root, workdir)
    config.NbGraderAPI.log_level = "WARN"
    api = NbGraderAPI(config=config)
    for lesson in chosen:
        result = api.generate_assignment(lesson, force=True, create=True)
        if not result["success"]:
            detail = (result.get("log", "") + result.get("error", "")).strip()
            raise CourseError(
                f"nbgrader could not generate {lesson}: fix solutions/{lesson}.\n{detail}"
            )
    return ScratchCourse(workdir, list(chosen), config)
