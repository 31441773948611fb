"""The class round trip through nbgrader's exchange: publish, collect, return feedback.

nbgrader's exchange is a shared folder (``/srv/nbgrader/exchange`` by default)
that students and instructor reach with their own Linux accounts:
``<course>/outbound/<lesson>/`` holds what students fetch, ``<course>/inbound/``
(write-only for students) what they submit, and ``<course>/feedback/`` (listed
by nobody, read by hash) what they get back. These functions run nbgrader's own
exchange classes on a throwaway course directory, so they never touch
``grader/gradebook.db``; grading itself stays ``course grade``.

Stricter than nbgrader: a submission is collected only when its folder and every
file in it belong to the student it names and nothing in it is a symbolic link
or other special file (nbgrader only warns about the folder's owner); so no
student submits in another's name, replaces a classmate's notebook inside a
0777 folder, or hands in a link to the instructor's solutions (collect runs
as the instructor and would copy what the link points at). ``publish`` puts the
sticky bit on ``inbound``: only a submission's owner (or the instructor) can
rename or remove it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader._common import ASSIGNMENT_ID

DEFAULT_EXCHANGE = Path("/srv/nbgrader/exchange")  # nbgrader's own default
SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")


class ExchangeError(ValueError):
    """The exchange cannot do what was asked; the message says what to do."""


@dataclass(frozen=True)
class Collected:
    """One student's latest submission of a lesson, copied out of the exchange."""

    student: str
    timestamp: str
    path: Path  # <out>/submitted/<student>/<lesson>


def _config(course_id: str, exchange: Path, workdir: Path, lesson: str):
    from traitlets.config import Config

    config = Config()
    cd = config.CourseDirectory
    cd.root = str(workdir)
    cd.course_id = course_id
    cd.assignment_id = lesson
    cd.db_url = f"sqlite:///{workdir / 'gradebook.db'}"
    config.Exchange.root = str(exchange)
    return config


def _run(exchange_class, config, **traits) -> None:
    """Run one nbgrader exchange step; its failure becomes an ExchangeError with its message."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeError as NbgraderExchangeError

    from grader._course import gradebooks_in_process

    gradebooks_in_process()  # collect opens the gradebook: no `alembic heads` subprocess for it
    coursedir = CourseDirectory(config=config)
    step = exchange_class(
        coursedir=coursedir, authenticator=Authenticator(config=config), config=config, **traits
    )
    try:
        step.start()
    except NbgraderExchangeError as exc:
        raise ExchangeError(str(exc) or f"nbgrader's {exchange_class.__name__} failed") from exc


def _check_lesson(lesson: str) -> None:
    if not isinstance(lesson, str):
        raise TypeError(f"lesson must be a str such as 'lesson1', got {lesson!r}")
    if not ASSIGNMENT_ID.fullmatch(lesson):
        raise ValueError(f"lesson {lesson!r} is not a lesson name such as 'lesson1'")


def publish(
    released: Path,
    lesson: str,
    *,
    course_id: str,
    exchange: Path = DEFAULT_EXCHANGE,
    force: bool = False,
) -> Path:
    """Copy the student notebook folder ``released`` (``notebooks/<lesson>``) to the exchange.

    Returns the outbound folder students fetch from. An already published
    lesson is replaced only with ``force`` (students who fetched keep their copy).
    """
    from nbgrader.exchange.default import ExchangeReleaseAssignment

    _check_lesson(lesson)
    released = Path(released)
    if not (released / f"{lesson}.ipynb").is_file():
        raise ExchangeError(f"no {released / (lesson + '.ipynb')}: run `course release` first")
    with tempfile.TemporaryDirectory(prefix="course-publish-") as tmp:
        work = Path(tmp)
        shutil.copytree(
            released,
            work / "release" / lesson,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
        _run(
            ExchangeReleaseAssignment, _config(course_id, Path(exchange), work, lesson), force=force
        )
    inbound = Path(exchange) / course_id / "inbound"
    if inbound.stat().st_uid == os.geteuid():
        # nbgrader makes inbound 2733: anyone could rename a classmate's submission away.
        inbound.chmod(stat.S_IMODE(inbound.stat().st_mode) | stat.S_ISVTX)
    return Path(exchange) / course_id / "outbound" / lesson


def _owner(st: os.stat_result) -> str:
    try:
        return pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return f"uid {st.st_uid}"


def _foreign(folder: Path, student: str, check_owner: bool) -> str | None:
    """Why ``folder`` (a submission naming ``student``) must not be collected, or None.

    Looks at the folder and everything in it without following links: each entry must be a
    plain file or folder and, with ``check_owner``, belong to ``student``."""
    inside = [
        Path(top, name) for top, dirs, files in os.walk(folder) for name in (*dirs, *files)
    ]  # os.walk never descends through a link
    for path in (folder, *sorted(inside)):
        st = path.lstat()
        rel = path.relative_to(folder.parent)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return f"{rel} is a symbolic link or special file, not a plain file"
        if check_owner and _owner(st) != student:
            what = "a submission in someone else's name" if path == folder else "replaced inside"
            return f"{rel} names {student!r} but belongs to {_owner(st)!r} ({what})"
    return None


def inbound(
    exchange: Path, course_id: str, lesson: str, check_owner: bool = True
) -> tuple[list[Path], list[str]]:
    """Submission folders of ``lesson`` that belong, with every file in them, to the student
    they name, and warnings naming the others (left in the exchange, never collected).
    ``check_owner=False`` takes the name at its word (nbgrader's behaviour), for exchanges
    where every user has one uid; links and special files are refused either way."""
    folder = Path(exchange) / course_id / "inbound"
    if not folder.is_dir():
        raise ExchangeError(f"no {folder}: publish a lesson first (`course publish`)")
    kept, warnings = [], []
    for path in sorted(folder.glob(f"*+{lesson}+*")):
        student = path.name.rsplit("+", 3)[0]
        why = _foreign(path, student, check_owner)
        if why:
            warnings.append(f"not collected: {why}")
        else:
            kept.append(path)
    return kept, warnings


def collect(
    lesson: str,
    out: Path,
    *,
    course_id: str,
    exchange: Path = DEFAULT_EXCHANGE,
    check_owner: bool = True,
) -> tuple[list[Collected], list[str]]:
    """Copy each student's latest submission of ``lesson`` to ``out/submitted/<student>/<lesson>``.

    ``out/submitted`` is the layout ``course grade --submissions`` reads. A
    student's folder there is replaced only by a newer submission. Returns what
    is now in ``out`` for this lesson, and warnings.
    """
    from nbgrader.exchange.default import ExchangeCollect

    _check_lesson(lesson)
    kept, warnings = inbound(exchange, course_id, lesson, check_owner)
    out = Path(out)
    submitted = out / "submitted"
    submitted.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-collect-") as tmp:
        # nbgrader collects from <exchange>/<course>/inbound: give it a view of the kept ones only.
        view = Path(tmp) / "exchange"
        (view / course_id / "inbound").mkdir(parents=True)
        for path in kept:
            (view / course_id / "inbound" / path.name).symlink_to(path)
        config = _config(course_id, view, Path(tmp), lesson)
        config.CourseDirectory.submitted_directory = str(submitted.resolve())
        # Ownership was checked above against the real folders (the links belong to us).
        _run(ExchangeCollect, config, update=True, check_owner=False)
    found = []
    for folder in sorted(p for p in submitted.iterdir() if (p / lesson).is_dir()):
        stamp = folder / lesson / "timestamp.txt"
        found.append(
            Collected(
                folder.name, stamp.read_text().strip() if stamp.is_file() else "", folder / lesson
            )
        )
    return found, warnings


def return_feedback(
    lesson: str, graded: Path, submitted: Path, *, course_id: str, exchange: Path = DEFAULT_EXCHANGE
) -> list[str]:
    """Put ``graded/feedback/<student>/<lesson>.html`` (from ``course grade``) in the exchange.

    ``submitted`` is the ``submitted/`` folder ``collect`` filled: each feedback
    page is filed under the secret of the submission it grades, so only that
    student's Assignments tab finds it. Returns the students whose feedback went out.
    """
    from nbgrader.exchange.default import ExchangeReleaseFeedback

    _check_lesson(lesson)
    pages = sorted(Path(graded, "feedback").glob(f"*/{lesson}.html"))
    if not pages:
        raise ExchangeError(
            f"no {graded}/feedback/<student>/{lesson}.html: run `course grade "
            f"--submissions {submitted} --out {graded}` first"
        )
    returned = []
    with tempfile.TemporaryDirectory(prefix="course-return-") as tmp:
        work = Path(tmp)
        for page in pages:
            student = page.parent.name
            source = Path(submitted) / student / lesson
            if not all((source / name).is_file() for name in SUBMISSION_FILES):
                raise ExchangeError(
                    f"feedback for {student!r} but no collected submission with "
                    f"{' and '.join(SUBMISSION_FILES)} in {source}: "
                    "pass the --submitted folder `course collect` wrote"
                )
            target = work / "feedback" / student / lesson
            target.mkdir(parents=True)
            shutil.copy(page, target / page.name)
            for name in SUBMISSION_FILES:
                shutil.copy(source / name, target / name)
            returned.append(student)
        _run(ExchangeReleaseFeedback, _config(course_id, Path(exchange), work, lesson))
    return returned
