"""What the LMS tests share: class lists as Canvas, Moodle and a person write them, and file helpers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from grader.books import gradebook
from grader.books.results import Outcome
from grader.classwork import intake

LESSONS = [f"lesson{i}" for i in range(1, 8)]


def write(path: Path, text: str = "{}") -> Path:
    """Write ``text`` at ``path``, making its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rows(text: str) -> list[list[str]]:
    """CSV text as rows."""
    return list(csv.reader(io.StringIO(text)))


def matched(result: intake.Discovery) -> list[tuple[str, str, str]]:
    """(student, lesson, file name) of each submission a discovery found."""
    return [(f.student, f.lesson, Path(f.origin.split(":")[-1]).name) for f in result.found]


def record_week(out: Path, when: str, outcomes: list[Outcome], sources=None):
    """One week's run recorded into the course gradebook at ``out`` (``gradebook.record``)."""
    return gradebook.record(out, outcomes, sources, when=when)


# --- class lists ----------------------------------------------------------------------

CANVAS_ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Lesson 6 (98765),Current Score\n"
    "    Points Possible,,,,,10,\n"
    '"Lee, Fay",12345,s001,flee,Sec A,,\n'
    '"Gray, Gus",23456,s002,ggray,Sec A,,\n'
    '"Ng, Dan",34567,s003,dng,Sec B,,\n'
    '"Student, Test",99999,,,Sec A,,\n'
)
MOODLE_ROSTER = (
    "\ufeffFirst name,Last name,ID number,Institution,Department,Email address\n"
    "Fay,Lee,s001,,,fay.lee@uni.example\n"
    "Gus,Gray,s002,,,gus.gray@uni.example\n"
    "Dan,Ng,s003,,,dan.ng@uni.example\n"
    "Zoë,Ángel,s004,,,zoe.angel@uni.example\n"
)
SIMPLE_ROSTER = (
    "student_id,name,email\n"
    "s001,Fay Lee,fay.lee@uni.example\n"
    "s002,Gus Gray,gus.gray@uni.example\n"
    "s003,Dan Ng,dan.ng@uni.example\n"
    "s004,Eve Park,eve@uni.example\n"
)
